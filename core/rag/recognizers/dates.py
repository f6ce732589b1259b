"""Dates of birth: a date announced by a birth cue. Other dates (deadlines, meetings) are not personal
data and stay visible; DATE_TIME is deliberately not an analysed type (policies/policy.yaml)."""
from __future__ import annotations

from core.rag.recognizers import register
from core.rag.recognizers.cued import CuedRecognizer

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
           r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|"
           r"avril|juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
           r"septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre")
DATE = (rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{1,2}}\.?\s+(?i:{_MONTHS})\.?\s+\d{{4}}|"
        rf"(?i:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}")
_CUES = (r"born|born on|date of birth|birth date|birthdate|dob|d\.o\.b\.?|birthday|geboren|geb\.|geburtsdatum|né|née|né le|née le|"
         r"date de naissance|fecha de nacimiento|nacido|nacida|nato|nata|data di nascita|geboortedatum|urodzony|urodzona|"
         r"data urodzenia|född|födelsedatum")
register("date_of_birth", lambda: CuedRecognizer("DATE_OF_BIRTH", "DateOfBirthRecognizer", _CUES, DATE, 0.85))
