"""Phone numbers in the national formats of the locales we serve: Presidio's phone recognizer
validates with libphonenumber but only for eight regions by default (US, GB, DE, FR, IL, IN, CA, BR),
so a Spanish, Italian, Dutch, Polish or Swedish number in national format is missed."""
from __future__ import annotations

from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from core.rag.recognizers import register

REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "IE", "AT", "CH", "BE", "DK", "NO", "FI", "PT", "CA", "IN", "AU")

register("phone_regions", lambda: PhoneRecognizer(supported_regions=REGIONS))
