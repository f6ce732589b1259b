"""Payment cards of every brand: Presidio's credit-card pattern misses the 2-series Mastercard
(2221-2720) and numbers written with uneven separators, so this one matches any 12-19 digit run with
spaces or dashes and keeps it only when the issuer prefix fits and the Luhn check passes."""
from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from core.recognizers import register
from core.recognizers.checksums import card_prefix_ok, digits_of, luhn_ok


class AnyCardRecognizer(PatternRecognizer):
    PATTERNS = [Pattern("card_any_brand", r"(?<![\d\w])\d(?:[ -]?\d){11,18}(?![\d\w])", 0.4)]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "karte", "carte", "tarjeta", "carta", "kaart", "karta", "kort"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entity="CREDIT_CARD", name="AnyCardRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool:
        number = digits_of(pattern_text)
        return 12 <= len(number) <= 19 and card_prefix_ok(number) and luhn_ok(number)


register("any_card", AnyCardRecognizer)
