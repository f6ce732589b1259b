"""Detection on the classes of misses found by trying the product on unseen data, with the real
Presidio, the real spaCy models and the policy's recognizers; then what each profile is shown."""
from __future__ import annotations

import pytest

from core.rag import pii
from core.config import REPO_ROOT
from core.policy.engine import load_policy
from core.rag.redaction import Redactor, guard
from core.rag.recognizers.checksums import luhn_ok

POLICY = load_policy(REPO_ROOT / "policies")
ENTITIES = POLICY.files.analyzed_entities
RECOGNIZERS = tuple(POLICY.redaction.recognizers)


def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    return next(body + str(d) for d in range(10) if luhn_ok(body + str(d)))


MC2 = _luhn_complete("2223003122", 16)  # a 2-series Mastercard, outside Presidio's credit-card pattern


def shown(text: str, profile: str) -> str:
    redactor = Redactor(POLICY.redaction.profiles[profile], b"k", POLICY.redaction.allowlist)
    out = redactor.redact(text, pii.analyze(text, ENTITIES, RECOGNIZERS))
    return guard(redactor, out, ENTITIES, RECOGNIZERS)[0]


@pytest.mark.parametrize("text,value,category", [
    ("His SSN is 5 1 2 3 8 4 4 7 1 according to the form.", "5 1 2 3 8 4 4 7 1", "NATIONAL_ID"),
    ("Passport X1234567 was checked at the desk.", "X1234567", "PASSPORT"),
    ("She was born on 14.03.1979 in a small town.", "14.03.1979", "DATE_OF_BIRTH"),
    ("The parcel went to 42 Baker Street last week.", "42 Baker Street", "STREET_ADDRESS"),
    ("Please post it to SW1A 2AA before Friday.", "SW1A 2AA", "POSTCODE"),
    (f"The corporate card {MC2[:4]} {MC2[4:8]} {MC2[8:12]} {MC2[12:]} was blocked.", f"{MC2[:4]} {MC2[4:8]} {MC2[8:12]} {MC2[12:]}", "CREDIT_CARD"),
    ("Sie wohnt in der Agnes-Wesack-Straße 26 seit Mai.", "Agnes-Wesack-Straße 26", "STREET_ADDRESS"),
    ("Write to jan.kowalski at example dot com for the file.", "jan.kowalski at example dot com", "EMAIL_ADDRESS"),
    ("Ring the Madrid office on +34 674 39 15 00 tomorrow.", "+34 674 39 15 00", "PHONE_NUMBER"),
])
def test_classes_of_misses_are_detected(text, value, category) -> None:  # type: ignore[no-untyped-def]
    start = text.index(value)
    spans = pii.analyze(text, ENTITIES, RECOGNIZERS)
    assert any(category in s.types and s.start <= start and s.end >= start + len(value) - 1 for s in spans), [
        (s.entity_type, text[s.start:s.end]) for s in spans]


@pytest.mark.parametrize("text,secret", [
    ("Dear Renzo, thank you for the flowers.", "Renzo"),
    ("Name: Malgorzata Wisniewska-Brandt\nDepartment: Logistics", "Wisniewska"),
    ("Grüße von Jürgen Weißmüller aus der Buchhaltung.", "Weißmüller"),
    ("Employee 204-118-337-9 asked about the bonus.", "204-118-337-9"),
    ("Ticket raised by Oyelaran Adebowale-Nwosu on Monday.", "Adebowale"),
])
def test_strict_readers_never_see_unrecognised_names_or_long_numbers(text, secret) -> None:  # type: ignore[no-untyped-def]
    assert secret not in shown(text, "strict")


def test_a_card_number_tagged_as_a_phone_number_is_hidden_from_hr() -> None:
    text = f"Call me back on {MC2} when the refund is through."
    spans = pii.analyze(text, ENTITIES, RECOGNIZERS)
    hit = next(s for s in spans if text[s.start:s.end] == MC2)
    assert "CREDIT_CARD" in hit.types
    assert MC2 not in shown(text, "hr") and MC2[-4:] not in shown(text, "hr")


def test_the_strictest_operator_wins_over_overlapping_types() -> None:
    from core.rag.pii import Span

    text = "Contact 0612345678 today."
    hr = Redactor(POLICY.redaction.profiles["hr"], b"k", POLICY.redaction.allowlist)
    span = Span("PHONE_NUMBER", 8, 18, 0.9, ("NATIONAL_ID",))
    assert hr.redact(text, [span]) == "Contact <NATIONAL_ID> today."
    assert hr.redact(text, [Span("PHONE_NUMBER", 8, 18, 0.9)]) == text  # HR may see a phone number alone


def test_organisation_vocabulary_and_harmless_numbers_stay_readable_for_strict_readers() -> None:
    text = "Since 2024 Northwind pays up to €12,500 per year under Article 17, for 16 weeks, in March."
    assert shown(text, "strict") == text
    assert "8841 2290" not in shown("The locker code is 8841 2290.", "strict")


def test_a_french_document_is_analysed_with_the_french_pipeline() -> None:
    from core.rag.pii_language import detect, installed_models

    text = ("Madame Véronique Lefèbvre-Duchamp a envoyé sa demande de congé au service du personnel. "
            "Elle habite à Lyon et souhaite reprendre le travail au mois de septembre prochain.")
    assert detect(text) == "fr" and "fr" in installed_models()
    spans = pii.analyze(text, ENTITIES, RECOGNIZERS)
    assert any(s.entity_type == "PERSON" and "Lefèbvre" in text[s.start:s.end] for s in spans)
    assert "Lefèbvre" not in shown(text, "strict") and "Lyon" not in shown(text, "strict")


def test_the_guard_hides_an_unrecognised_long_number_that_redaction_let_through() -> None:
    redactor = Redactor(POLICY.redaction.profiles["strict"], b"k", POLICY.redaction.allowlist)
    out, hidden = guard(redactor, "Account 4471 9921 0038 closed; <PERSON_1> told ***1234.", ENTITIES, RECOGNIZERS)
    assert "4471" not in out and hidden and "<PERSON_1>" in out and "***1234" in out
