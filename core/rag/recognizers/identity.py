"""National identity numbers and passports: Presidio's country recognizers (re-registered for the
analysis language, since Presidio binds each to its country's language and our documents are mostly
English about European staff), checksum recognizers for the French NIR, the Dutch BSN and the German
tax id, and cued recognizers for numbers announced as an id or a passport in nine languages."""
from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer import predefined_recognizers as presidio

from core.rag.recognizers import register
from core.rag.recognizers.checksums import bsn_ok, digits_of, nir_ok, steuer_id_ok
from core.rag.recognizers.cued import CuedRecognizer

COUNTRY_RECOGNIZERS = ["UkNinoRecognizer", "NhsRecognizer", "UkPassportRecognizer", "UkPostcodeRecognizer",
                       "DeTaxIdRecognizer", "DePassportRecognizer", "DeIdCardRecognizer", "EsNifRecognizer",
                       "EsNieRecognizer", "EsPassportRecognizer", "ItFiscalCodeRecognizer", "ItIdentityCardRecognizer",
                       "ItPassportRecognizer", "PlPeselRecognizer", "SePersonnummerRecognizer", "FiPersonalIdentityCodeRecognizer"]


def _country(name: str):  # type: ignore[no-untyped-def]
    def build():  # type: ignore[no-untyped-def]
        return getattr(presidio, name)(supported_language="en")
    return build


for _name in COUNTRY_RECOGNIZERS:
    if hasattr(presidio, _name):  # a Presidio release without one simply lacks that country
        register(f"presidio:{_name}", _country(_name))


class ChecksumRecognizer(PatternRecognizer):
    def __init__(self, entity: str, name: str, regex: str, check, context: list[str]) -> None:  # type: ignore[no-untyped-def]
        self._check = check
        super().__init__(supported_entity=entity, name=name, patterns=[Pattern(name, regex, 0.5)], context=context)

    def validate_result(self, pattern_text: str) -> bool:
        return self._check(digits_of(pattern_text) if pattern_text[:1].isdigit() else pattern_text)


def _nir(text: str) -> bool:
    return nir_ok("".join(ch for ch in text if ch.isalnum()))


register("fr_nir", lambda: ChecksumRecognizer(
    "FR_NIR", "FrNirRecognizer", r"\b[12][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}\b", _nir,
    ["sécurité", "sociale", "nir", "insee", "social", "security"]))
register("nl_bsn", lambda: ChecksumRecognizer(
    "NL_BSN", "NlBsnRecognizer", r"\b\d{4}[ .]?\d{2}[ .]?\d{3}\b|\b\d{9}\b", bsn_ok, ["bsn", "burgerservicenummer", "sofinummer"]))
register("de_steuer_id", lambda: ChecksumRecognizer(
    "DE_TAX_ID", "DeSteuerIdRecognizer", r"\b\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}\b", steuer_id_ok, ["steuer", "steuer-id", "idnr", "tax"]))

_ID_CUES = (r"id|national id|national insurance|id number|identity number|identification number|id no|id card|ssn|social security|"
            r"tax id|tax number|tin|steuer-id|steuer id|steueridentifikationsnummer|idnr|personalausweis|bsn|burgerservicenummer|"
            r"pesel|personnummer|nir|insee|sécurité sociale|dni|nie|nif|codice fiscale|identity|ausweis|carte d'identité")
_ID_VALUE = r"(?=[A-Z0-9 .\-]*\d)[A-Z0-9](?:[A-Z0-9]|[ .\-](?=[A-Z0-9])){5,24}"
# Below the typed recognizers (a checksum or a known format wins the label), above the analysis threshold.
# The shape of a UK National Insurance number whatever its prefix: Presidio's recognizer drops
# prefixes HMRC never issues (ZZ, used for temporary numbers, among them), but such a number still
# identifies the person it was given to.
register("uk_nino_shape", lambda: PatternRecognizer(
    supported_entity="UK_NINO", name="UkNinoShapeRecognizer", global_regex_flags=0,
    patterns=[Pattern("nino_shape", r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", 0.5)]))
register("cued_national_id", lambda: CuedRecognizer("NATIONAL_ID", "CuedNationalIdRecognizer", _ID_CUES, _ID_VALUE, 0.45))

_PASSPORT_CUES = r"passport|pass no|reisepass|passeport|pasaporte|passaporto|paspoort|paszport|pass"
_PASSPORT_VALUE = r"(?=[A-Z0-9]*\d)[A-Z]{0,2}\d{6,9}[A-Z0-9]?|[A-Z]{1,2}[A-Z0-9]{6,8}\d"
register("cued_passport", lambda: CuedRecognizer("PASSPORT", "CuedPassportRecognizer", _PASSPORT_CUES, _PASSPORT_VALUE, 0.5))
