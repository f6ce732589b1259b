"""The personal-data categories that redaction profiles speak about, and how detectors map into them.

Presidio names what a recognizer found (UK_NINO, DE_TAX_ID, IT_PASSPORT, ...); a compliance officer
writes a profile about categories (a national id, a passport number). Detectors are mapped into a
category once, at analysis, so a profile never has to list every country's format, and a new
recognizer for one more country needs no profile change.
"""
from __future__ import annotations

# Detector entity -> category. Anything not listed keeps its own name (PERSON, EMAIL_ADDRESS, ...).
CATEGORY_OF: dict[str, str] = {
    "UK_NINO": "NATIONAL_ID", "UK_NHS": "NATIONAL_ID", "DE_TAX_ID": "NATIONAL_ID", "DE_ID_CARD": "NATIONAL_ID",
    "DE_SOCIAL_SECURITY": "NATIONAL_ID", "ES_NIF": "NATIONAL_ID", "ES_NIE": "NATIONAL_ID", "IT_FISCAL_CODE": "NATIONAL_ID",
    "IT_IDENTITY_CARD": "NATIONAL_ID", "PL_PESEL": "NATIONAL_ID", "SE_PERSONNUMMER": "NATIONAL_ID",
    "FI_PERSONAL_IDENTITY_CODE": "NATIONAL_ID", "FR_NIR": "NATIONAL_ID", "NL_BSN": "NATIONAL_ID", "US_ITIN": "NATIONAL_ID",
    "UK_PASSPORT": "PASSPORT", "DE_PASSPORT": "PASSPORT", "ES_PASSPORT": "PASSPORT", "IT_PASSPORT": "PASSPORT",
    "UK_POSTCODE": "POSTCODE", "DE_PLZ": "POSTCODE",
}

# Candidates found by the deny-by-default pass (core/rag/pii_catchall.py), not by a recognizer of a type.
PROPER_NOUN = "PROPER_NOUN"
NUMBER = "NUMBER"
CATCH_ALL = frozenset({PROPER_NOUN, NUMBER})

# Evaluation: a labelled value of the key category is found by a prediction of any of these types.
# US_SSN and US_PASSPORT keep their historic names in policy, so they count as their category here.
FAMILY: dict[str, frozenset[str]] = {
    "NATIONAL_ID": frozenset({"NATIONAL_ID", "US_SSN"}),
    "PASSPORT": frozenset({"PASSPORT", "US_PASSPORT"}),
    "STREET_ADDRESS": frozenset({"STREET_ADDRESS"}),
    "POSTCODE": frozenset({"POSTCODE"}),
    "IBAN_CODE": frozenset({"IBAN_CODE", "US_BANK_NUMBER"}),
}


def category(detector_entity: str) -> str:
    return CATEGORY_OF.get(detector_entity, detector_entity)


def detectors_for(categories: list[str], known_detectors: set[str]) -> list[str]:
    """The detector entity names to ask Presidio for, given the categories that policy analyses."""
    wanted = set(categories)
    return sorted({d for d in known_detectors if category(d) in wanted} | (wanted - CATCH_ALL))


def family(gold_type: str) -> frozenset[str]:
    return FAMILY.get(gold_type, frozenset({gold_type}))
