"""Generate the labelled PII corpora with Faker: a tuning part and a held-out test part.

    python tests/data/make_pii_corpus.py        # writes pii_tune.jsonl and pii_test.jsonl beside this file
    python tests/data/make_pii_corpus.py --draw2  # writes pii_test_draw2.jsonl: the test templates, new values

    python tests/data/make_pii_corpus.py --draw3  # writes pii_test_draw3.jsonl: the same, another seed

The second draw was made after the first measurement on pii_test.jsonl had been seen (its aggregate
figures, never its individual errors), to confirm the figures on values no one had looked at. Its one
remaining error was then looked at and fixed, which made it tuning data; the third draw, made after
that, is the confirmation nobody has looked into.

Why two parts: a recognizer, threshold or allowlist may only be tuned on `pii_tune.jsonl` (and on the
older hand-written `redaction_samples.jsonl`); `pii_test.jsonl` is never looked at while tuning and is the
only set whose figures are reported. The two parts share no template and no seed, so a rule that only
memorises the tuning sentences' wording does not carry over to the test part.

Each line: {"text", "spans": [{"type", "start", "end"}], "locale", "template", "split"}. Gold types are
the categories a redaction profile speaks about (core/pii_types.py): PERSON, STREET_ADDRESS, POSTCODE,
LOCATION, PHONE_NUMBER, EMAIL_ADDRESS, IBAN_CODE, CREDIT_CARD, NATIONAL_ID, PASSPORT, DATE_OF_BIRTH,
IP_ADDRESS. Every personal value in a sentence is labelled; the surrounding words hold none.
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from faker import Faker

HERE = Path(__file__).parent
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE"]
CARD_TYPES = ["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro"]


def _steuer_id(rng: random.Random) -> str:
    """German tax id (11 digits, ISO 7064 MOD 11,10 check digit): Faker's de_DE has none."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(9)]
        counts = [digits.count(d) for d in set(digits)]
        if sorted(counts)[-1] in (2, 3) and counts.count(2) + counts.count(3) == 1:
            break
    product = 10
    for d in digits:
        total = (d + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return "".join(map(str, digits)) + str(0 if check == 10 else check)


class Values:
    """Personal values of one locale, in the shapes people write them."""

    def __init__(self, locale: str, rng: random.Random) -> None:
        self.locale, self.rng = locale, rng
        self.f = Faker(locale)
        self.f.seed_instance(rng.randint(0, 10**9))

    def person(self) -> str:
        return self.f.name()

    def first_name(self) -> str:
        return self.f.first_name()

    def last_name(self) -> str:
        return self.f.last_name()

    def street(self) -> str:
        return self.f.street_address().replace("\n", ", ")

    def postcode(self) -> str:
        return self.f.postcode()

    def city(self) -> str:
        return self.f.city()

    def phone(self) -> str:
        return self.f.phone_number()

    def email(self) -> str:
        return self.f.email()

    def email_obfuscated(self) -> str:
        local, domain = self.f.email().split("@")
        name, tld = domain.rsplit(".", 1)
        style = self.rng.choice(["{l} at {n} dot {t}", "{l} [at] {n} [dot] {t}", "{l}(at){n}(dot){t}", "{l} @ {n} . {t}"])
        return style.format(l=local, n=name, t=tld)

    def iban(self) -> str:
        iban = self.f.iban()
        if self.rng.random() < 0.5:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def card(self) -> str:
        number = self.f.credit_card_number(card_type=self.rng.choice(CARD_TYPES))
        style = self.rng.random()
        if style < 0.4:
            return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
        if style < 0.6:
            return "-".join(number[i:i + 4] for i in range(0, len(number), 4))
        return number

    def national_id(self) -> str:
        if self.locale == "de_DE":
            value = _steuer_id(self.rng)
        elif self.locale == "es_ES":
            value = self.rng.choice([self.f.nif, self.f.nie])()
        else:
            value = self.f.ssn()
        if self.rng.random() < 0.15 and re.fullmatch(r"[\d -]+", value):
            value = " ".join(ch for ch in value if ch.isdigit())  # obfuscated: every digit spaced
        return value

    def passport(self) -> str:
        return self.f.passport_number()

    def dob(self) -> str:
        d = self.f.date_of_birth(minimum_age=18, maximum_age=80)
        return self.rng.choice([d.isoformat(), d.strftime("%d.%m.%Y"), d.strftime("%d/%m/%Y"),
                                d.strftime("%-d %B %Y"), d.strftime("%B %-d, %Y")])

    def ip(self) -> str:
        return self.f.ipv4_public() if self.rng.random() < 0.8 else self.f.ipv6()


# Slot name -> (gold type, value method). A template names slots as {slot} or {slot2} (a second value).
SLOTS = {
    "name": ("PERSON", "person"), "first": ("PERSON", "first_name"), "last": ("PERSON", "last_name"),
    "street": ("STREET_ADDRESS", "street"), "postcode": ("POSTCODE", "postcode"), "city": ("LOCATION", "city"),
    "phone": ("PHONE_NUMBER", "phone"), "email": ("EMAIL_ADDRESS", "email"),
    "email_obf": ("EMAIL_ADDRESS", "email_obfuscated"), "iban": ("IBAN_CODE", "iban"), "card": ("CREDIT_CARD", "card"),
    "nid": ("NATIONAL_ID", "national_id"), "passport": ("PASSPORT", "passport"), "dob": ("DATE_OF_BIRTH", "dob"),
    "ip": ("IP_ADDRESS", "ip"),
}

# Held-out templates: forms, letters, e-mails, tables, lists, chat lines, free prose. Never used for tuning.
TEST_TEMPLATES = {
    "form_onboarding": "Employee record\nFull name: {name}\nDate of birth: {dob}\nHome address: {street}, {postcode} {city}\nMobile: {phone}",
    "form_payroll": "PAYROLL CHANGE FORM\nEmployee: {name}\nNew account (IBAN): {iban}\nTax / national ID: {nid}",
    "form_travel": "Traveller: {name} | Passport no.: {passport} | Date of birth: {dob} | Nationality on file",
    "form_badge": "Name: {first} {last}\nE-mail: {email}\nDesk phone: {phone}",
    "letter_address": "{name}\n{street}\n{postcode} {city}\n\nDear {first},\nplease find enclosed the signed copy of your contract.",
    "letter_bank": "Dear {name}, we confirm that your salary will from next month be paid into account {iban}. Kind regards, Payroll",
    "letter_reference": "To whom it may concern: {name} worked with us for four years and can be reached at {phone} or {email}.",
    "email_card": "From: {email}\nSubject: card replacement\n\nHi team, my replacement corporate card number is {card}, the old one was cancelled. Thanks, {first}",
    "email_obfuscated": "Subject: contact\n\nYou can write to me privately at {email_obf} (please not via the ticket system). - {first} {last}",
    "email_forward": "---------- Forwarded message ----------\nFrom: {name} <{email}>\nI moved to {street}, {city} and my new number is {phone}.",
    "table_staff": "| Name | City | Phone |\n|---|---|---|\n| {name} | {city} | {phone} |\n| {name2} | {city2} | {phone2} |",
    "table_ids": "employee;national_id;iban\n{name};{nid};{iban}",
    "table_cards": "Cardholder        Card number            Expires\n{name}    {card}    09/29",
    "list_contacts": "Emergency contacts:\n- {name}, {phone}\n- {name2}, {phone2}\n- {name3} ({email})",
    "list_attendees": "Attendees: {name}, {name2}, {first3} and {last4}.",
    "chat_phone": "[09:14] {first}: can someone call me on {phone}? my laptop died",
    "chat_address": "{first}: parcel goes to {street}, {postcode} {city} pls",
    "chat_ssn": "<{first}> HR asked for my ID number again, it's {nid}",
    "chat_ip": "{first} {last}: I'm connecting from {ip} and the VPN still drops",
    "prose_move": "After the reorganisation {name} moved from {city} to {city2}, where she now lives at {street}.",
    "prose_incident": "The failed logins came from {ip} and were traced to the account of {name}.",
    "prose_birthday": "{name}, born {dob}, joined the finance team in the spring.",
    "prose_passport": "For the visa application {first} {last} handed over passport {passport} and proof of address.",
    "prose_refund": "The refund of the duplicate charge went back to the card ending in {card}, which belongs to {name}.",
}

# Tuning templates: other wording and other layouts than the test part.
TUNE_TEMPLATES = {
    "tune_contact_block": "Contact: {name}, {phone}, {email}",
    "tune_address_line": "Ship to {name}, {street}, {postcode} {city}.",
    "tune_bank": "Bank details for {name}: IBAN {iban}.",
    "tune_card": "Card on file for {name}: {card}.",
    "tune_id": "{name} (ID {nid}) submitted the form.",
    "tune_passport": "Passport number {passport} was scanned for {name}.",
    "tune_dob": "DOB: {dob} ({first} {last})",
    "tune_ip": "Host {ip} was used by {first}.",
    "tune_obf": "Reach {first} via {email_obf}.",
    "tune_csv": "{last},{first},{city},{phone}",
    "tune_sentence_city": "{first} lives in {city} near {postcode}.",
    "tune_signature": "Best,\n{name}\n{phone}",
}


def fill(template: str, values: Values) -> dict:
    text, spans, cursor = [], [], 0
    for part in re.split(r"(\{[a-z_]+\d?\})", template):
        m = re.fullmatch(r"\{([a-z_]+?)(\d?)\}", part)
        if not m:
            text.append(part)
            cursor += len(part)
            continue
        gold, method = SLOTS[m.group(1)]
        value = getattr(values, method)()
        spans.append({"type": gold, "start": cursor, "end": cursor + len(value)})
        text.append(value)
        cursor += len(value)
    return {"text": "".join(text), "spans": spans}


def generate(templates: dict[str, str], per_locale: int, seed: int, split: str) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for locale in LOCALES:
        values = Values(locale, rng)
        names = sorted(templates)
        for i in range(per_locale):
            name = names[i % len(names)]
            sample = fill(templates[name], values)
            out.append({**sample, "locale": locale, "template": name, "split": split})
    return out


def main() -> None:
    for flag, seed in (("--draw2", 987654321), ("--draw3", 555000111)):
        if flag in sys.argv:
            name = f"pii_test_{flag[2:]}.jsonl"
            rows = generate(TEST_TEMPLATES, per_locale=120, seed=seed, split=f"test-{flag[2:]}")
            (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            print(f"{name}: {len(rows)} samples", file=sys.stderr)
            return
    test = generate(TEST_TEMPLATES, per_locale=240, seed=20261201, split="test")
    tune = generate(TUNE_TEMPLATES, per_locale=60, seed=7, split="tune")
    for name, rows in (("pii_test.jsonl", test), ("pii_tune.jsonl", tune)):
        path = HERE / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"{path}: {len(rows)} samples, {sum(len(r['spans']) for r in rows)} labelled values", file=sys.stderr)


if __name__ == "__main__":
    main()
