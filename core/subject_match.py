"""Finding a data subject however they are written.

An erasure that matches the subject as typed misses the person in "Helena\\nMarchetti", in
"H. Marchetti", in a file named helena-marchetti_notes.md or in `owner: Helena Marchetti`. Both the
subject and every text are therefore normalised the same way (Unicode NFKC, case folding,
diacritics stripped, every run of punctuation, underscores, whitespace and line breaks turned into
one space) and matched on whole words only, so "Ana" never matches "Anabel" or "analysis". A name
also yields its known variants: initials, a title before the surname, "Surname, Given", the name
run together (e-mail local parts such as helenamarchetti@), a middle initial. An e-mail yields the
name of its local part. Every match keeps its variant kind, so the officer confirms or excludes it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Honorifics that may stand before a surname ("Dr. Marchetti", "Ms Marchetti").
TITLES = ("dr", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sir", "dame", "herr", "frau", "mme", "mlle", "madame", "monsieur")
# Surname particles: "Jörg van Dijk" has the surname "van Dijk" ("J. van Dijk", "van Dijk, Jörg").
PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "della", "du", "des", "la", "le", "dos", "das", "ter", "ten", "bin", "al", "el"})
_NON_WORD = re.compile(r"[\W_]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _fold(text: str) -> str:
    """NFKC, casefold, then drop combining marks (é -> e, ß -> ss)."""
    if text.isascii():  # both normal forms leave ASCII as it is, and it has no combining marks
        return text.lower()  # the same result, in C: an erasure proof folds every string of the chunk store
    text = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKD", text).translate(_marks())


_MARKS: dict[int, None] = {}


def _marks() -> dict[int, None]:
    """Every code point with a nonzero canonical combining class, mapped to nothing: `str.translate`
    with it drops what `unicodedata.combining` flags, six times faster than a loop over the text."""
    if not _MARKS:
        _MARKS.update({cp: None for cp in range(0x110000) if unicodedata.combining(chr(cp))})
    return _MARKS


def normalise(text: str) -> str:
    """The comparable form of a text: folded words separated by single spaces."""
    return _NON_WORD.sub(" ", _fold(text)).strip()


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` plus, for each of its characters, the index of the original character it
    came from, so a match in the normalised text can be shown where it is in the original."""
    out: list[str] = []
    offsets: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        for c in _fold(ch):
            if c.isalnum():
                if pending_space and out:
                    out.append(" ")
                    offsets.append(i)
                pending_space = False
                out.append(c)
                offsets.append(i)
            else:
                pending_space = True
    return "".join(out), offsets


@dataclass(frozen=True)
class Variant:
    kind: str  # "as given", "name", "initial", "title + surname", "reversed", "joined", "name from e-mail", ...
    pattern: str  # a regex over normalised text (words separated by single spaces)


@dataclass(frozen=True)
class Mention:
    start: int  # offsets in the original text
    end: int
    kind: str


def _name_variants(given: list[str], surname: list[str], kind_prefix: str = "") -> list[Variant]:
    """`given` and `surname` are normalised token lists ("marlowe-spade" -> ["marlowe", "spade"])."""
    g = " ".join(given)
    s = " ".join(surname)
    first = given[0]
    initials = " ".join(t[0] for t in given)
    esc = re.escape
    out = [
        Variant(f"{kind_prefix}name", rf"{esc(first)}(?: [a-z])?(?: {esc(' '.join(given[1:]))})? {esc(s)}" if len(given) > 1
                else rf"{esc(first)}(?: [a-z])? {esc(s)}"),
        Variant(f"{kind_prefix}initial", rf"{esc(initials)} {esc(s)}"),
        Variant(f"{kind_prefix}reversed", rf"{esc(s)} {esc(g)}|{esc(s)} {esc(initials)}(?= |$)"),
        Variant(f"{kind_prefix}joined", esc(g.replace(" ", "") + s.replace(" ", "")) + "|" + esc(initials.replace(" ", "") + s.replace(" ", ""))),
        Variant(f"{kind_prefix}title + surname", rf"(?:{'|'.join(TITLES)}) {esc(s)}"),
    ]
    if len(given) > 1:  # "Mary Ann Smith" is also "Mary Smith"
        out.append(Variant(f"{kind_prefix}name", rf"{esc(first)} {esc(s)}"))
    if initials != first[0]:
        out.append(Variant(f"{kind_prefix}initial", rf"{esc(first[0])} {esc(s)}"))
    return out


def variants_of(subject: str) -> list[Variant]:
    """The spellings under which `subject` (a name, an e-mail address or an id) is looked for."""
    subject = subject.strip()
    norm = normalise(subject)
    if not norm:
        return []
    out = [Variant("as given", re.escape(norm))]
    if _EMAIL.match(subject):
        local = [t for t in tokens(subject.split("@")[0]) if t.isalpha()]
        if len(local) >= 2 and all(len(t) >= 2 for t in local):
            out += _name_variants(local[:-1], local[-1:], "name from e-mail: ")
        return out
    parts = [tokens(p) for p in subject.split() if tokens(p)]
    parts = [p for p in parts if " ".join(p) not in TITLES]  # "Dr. Helena Marchetti" is Helena Marchetti
    if len(parts) >= 2 and all(t.isalpha() for p in parts for t in p):
        surname = list(parts[-1])
        rest = parts[:-1]
        while len(rest) > 1 and " ".join(rest[-1]) in PARTICLES:
            surname = list(rest.pop()) + surname
        out += _name_variants([t for p in rest for t in p], surname)
    return out


class SubjectMatcher:
    """Whole-word matching of one subject's variants in any text."""

    def __init__(self, subject: str, extra: list[Variant] | None = None) -> None:
        self.subject = subject
        self.variants = variants_of(subject) + list(extra or [])
        if not self.variants:
            self._regex = None
            return
        alternatives = "|".join(f"(?P<v{i}>{v.pattern})" for i, v in enumerate(self.variants))
        self._regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def matches_normalised(self, norm: str) -> bool:
        return self._regex is not None and self._regex.search(norm) is not None

    def find(self, text: str) -> list[Mention]:
        """Every mention in `text`, with offsets in the original text."""
        if not text or self._regex is None or not self.matches_normalised(normalise(text)):
            return []  # the cheap check first: most texts do not mention the subject at all
        norm, offsets = normalise_with_offsets(text)
        out = []
        for m in self._regex.finditer(norm):
            kind = self.variants[int(next(k for k, v in m.groupdict().items() if v is not None)[1:])].kind
            out.append(Mention(offsets[m.start()], offsets[m.end() - 1] + 1, kind))
        return out

    def search_terms(self) -> list[str]:
        """Words for full-text candidate queries (confirmed by `find` afterwards): the subject's own
        words of two letters or more; initials alone are not searchable."""
        words = [t for t in tokens(self.subject) if len(t) >= 2 and t not in TITLES]
        return [" ".join(words)] if words else []


def linked_variant(kind: str, value: str) -> Variant | None:
    """A variant for an identifier found beside a mention of the subject (their e-mail, phone, SSN)."""
    norm = normalise(value)
    if len(norm.replace(" ", "")) < 5:
        return None
    return Variant(kind, re.escape(norm))
