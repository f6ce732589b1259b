"""Payment cards of every brand: Presidio's credit-card pattern misses the 2-series Mastercard
(2221-2720), 12-digit Maestro numbers and numbers printed in groups, so this one matches the printed
groupings and unbroken 12-19 digit runs and keeps a match only when the issuer prefix fits and the Luhn check passes."""
from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from core.rag.recognizers import register
from core.rag.recognizers.checksums import card_prefix_ok, digits_of, luhn_ok


class AnyCardRecognizer(PatternRecognizer):
    # The groupings cards are printed in (4-4-4-4[-3], 4-6-5, 4-6-4, 4-4-4-1..3) and unbroken runs: a
    # greedy "any digits with separators" pattern would swallow a following expiry date and fail Luhn.
    PATTERNS = [
        # Each length its own pattern: a match that fails Luhn is not retried shorter.
        Pattern("card_grouped_4_short", r"(?<![\d\w])\d{4}([ -])\d{4}\1\d{4}(?![\d\w])", 0.4),  # 12-digit Maestro
        Pattern("card_grouped_4", r"(?<![\d\w])\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?![\d\w])", 0.4),
        Pattern("card_grouped_4_long", r"(?<![\d\w])\d{4}([ -])\d{4}\1\d{4}\1\d{4}\1\d{1,3}(?![\d\w])", 0.4),
        Pattern("card_grouped_4_6", r"(?<![\d\w])\d{4}([ -])\d{6}\1\d{4,5}(?![\d\w])", 0.4),
        Pattern("card_unbroken", r"(?<![\d\w])\d{12,19}(?![\d\w])", 0.4),
    ]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "karte", "carte", "tarjeta", "carta", "kaart", "karta", "kort"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_entity="CREDIT_CARD", name="AnyCardRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, supported_language=supported_language)

    def validate_result(self, pattern_text: str) -> bool:
        number = digits_of(pattern_text)
        return 12 <= len(number) <= 19 and card_prefix_ok(number) and luhn_ok(number)


register("any_card", AnyCardRecognizer)
