"""A value announced by a cue word: "Passport no.: X1234567", "born 02.07.1953", "ID number ... 123 45 6789".

Such values have no checksum and look like many harmless numbers; what makes them personal is the
word before them. A cue may be followed by a few filler words ("number", "no.", "again, it's").
"""
from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult

# Words allowed between a cue and its value, in the languages of the locales we cover.
_FILLER = (r"(?:no|nr|n°|nº|num|number|numéro|nummer|número|numero|numer|is|it's|its|was|of|again|the|my|his|her|their|"
           r"on|file|card|code|id|ist|est|es|è|är|jest|de|du|la|le|el|il|van|der|die)")
_GAP = rf"(?:[\s:;#.,()\[\]\-–=/]+|\b{_FILLER}\b){{0,10}}?"


class CuedRecognizer(EntityRecognizer):
    def __init__(self, entity: str, name: str, cue: str, value: str, score: float = 0.75,
                 supported_language: str = "en") -> None:
        self._regex = re.compile(rf"(?i:\b(?:{cue}))\b{_GAP}(?P<value>{value})")
        self._score = score
        super().__init__(supported_entities=[entity], name=name, supported_language=supported_language)

    def load(self) -> None:  # nothing to load: a compiled regex
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:  # type: ignore[no-untyped-def]
        entity = self.supported_entities[0]
        if entity not in entities:
            return []
        return [RecognizerResult(entity, m.start("value"), m.end("value"), self._score) for m in self._regex.finditer(text)]
