"""Check digits of the formats the recognizers validate: a match that fails its checksum is dropped."""
from __future__ import annotations


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total, parity = 0, len(number) % 2
    for i, ch in enumerate(number):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616 mod 97 (letters become 10..35 after moving the first four characters to the end)."""
    s = "".join(ch for ch in text.upper() if ch.isalnum())
    if not (15 <= len(s) <= 34 and s[:2].isalpha() and s[2:4].isdigit()):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def bsn_ok(number: str) -> bool:
    """Dutch BSN: the 'elfproef', 9 digits weighted 9..2 and -1, sum divisible by 11."""
    if len(number) != 9 or number == "0" * 9:
        return False
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return sum(int(d) * w for d, w in zip(number, weights)) % 11 == 0


def nir_ok(number: str) -> bool:
    """French NIR (numéro de sécurité sociale): 13 digits and a key of 97 - (number mod 97).
    Corsica's 2A/2B departments are written with letters; they count as 19 and 18."""
    if len(number) != 15:
        return False
    body = number[:13].upper().replace("2A", "19").replace("2B", "18")
    return body.isdigit() and 97 - int(body) % 97 == int(number[13:])


def steuer_id_ok(number: str) -> bool:
    """German tax id: 11 digits, ISO 7064 MOD 11,10 check digit."""
    if len(number) != 11 or number[0] == "0":
        return False
    product = 10
    for d in number[:10]:
        total = (int(d) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(number[10])


# Issuer prefixes of the card brands (Visa, Mastercard incl. the 2221-2720 series, Amex, Discover,
# Diners incl. Carte Blanche and enRoute, JCB incl. its older 15-digit 1800/2131 numbers, Maestro,
# Maestro 0604, UnionPay, Mir): a Luhn-valid number elsewhere is more likely an account number.
def card_prefix_ok(number: str) -> bool:
    two, four, six = int(number[:2]), int(number[:4]), int(number[:6])
    return (number[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37, 36, 38, 30, 35, 62, 50)
            or 56 <= two <= 69 or four in (1800, 2131, 2014, 2149) or 2200 <= four <= 2204 or 622126 <= six <= 622925
            or 644 <= int(number[:3]) <= 649 or number.startswith(("6011", "0604")))
