"""Subject matching: a person found however written, and never inside another word."""
from __future__ import annotations

import pytest

from core.subject_match import SubjectMatcher, normalise, normalise_with_offsets

FOUND = [
    ("Helena Marchetti", "The officer is Helena\nMarchetti, reachable by phone.", "Helena\nMarchetti"),
    ("Helena Marchetti", "file: helena-marchetti_onboarding.md", "helena-marchetti"),
    ("Helena Marchetti", "owner: Helena Marchetti", "Helena Marchetti"),
    ("Helena Marchetti", "The award went to Dr. Helena Marchetti.", "Helena Marchetti"),
    ("Helena Marchetti", "Minutes taken by H. Marchetti.", "H. Marchetti"),
    ("Helena Marchetti", "Signed: MARCHETTI, Helena", "MARCHETTI, Helena"),
    ("Helena Marchetti", "Write to helenamarchetti@example.org", "helenamarchetti"),
    ("Helena Marchetti", "Write to h.marchetti@example.org", "h.marchetti"),
    ("Helena Marchetti", "HÉLENA  MARCHETTI joined", "HÉLENA  MARCHETTI"),
    ("Helena Marchetti", "Helena M. Marchetti signed", "Helena M. Marchetti"),
    ("Helena Marchetti", "Ask Ms Marchetti first", "Ms Marchetti"),
    ("Helena Marchetti", "Helena Marchetti's report", "Helena Marchetti"),
    ("Dr. Helena Marchetti", "Helena Marchetti wrote", "Helena Marchetti"),
    ("Héléna Marchetti", "Helena Marchetti wrote", "Helena Marchetti"),
    ("helena.marchetti@example.org", "Mail HELENA.MARCHETTI@EXAMPLE.ORG now", "HELENA.MARCHETTI@EXAMPLE.ORG"),
    ("helena.marchetti@example.org", "Helena Marchetti is the officer", "Helena Marchetti"),
    ("Quentin Marlowe-Spade", "Quentin Marlowe Spade and Q. Marlowe-Spade", "Quentin Marlowe Spade"),
    ("NW-10482", "badge nw_10482 issued", "nw_10482"),
    ("Ana", "Ana's laptop was replaced", "Ana"),
    ("Ana", "ANA.", "ANA"),
]

NOT_FOUND = [
    ("Ana", "Anabel did the analysis of bananas in Tirana"),
    ("Helena Marchetti", "Helenas Marchettis"),
    ("Helena Marchetti", "Helena Marchettino"),
    ("Helena Marchetti", "Helena met Giulia Marchetti"),
    ("NW-10482", "NW-104821"),
    ("Jo Smith", "Joseph Smithson"),
]


@pytest.mark.parametrize(("subject", "text", "expected"), FOUND)
def test_a_subject_is_found_however_written(subject: str, text: str, expected: str) -> None:
    mentions = SubjectMatcher(subject).find(text)
    assert expected in [text[m.start:m.end] for m in mentions], [(text[m.start:m.end], m.kind) for m in mentions]


@pytest.mark.parametrize(("subject", "text"), NOT_FOUND)
def test_a_subject_never_matches_inside_another_word_or_person(subject: str, text: str) -> None:
    assert SubjectMatcher(subject).find(text) == []


def test_each_match_says_which_variant_it_is() -> None:
    kinds = {m.kind for m in SubjectMatcher("Helena Marchetti").find("H. Marchetti, Marchetti, Helena and Dr Marchetti")}
    assert kinds == {"initial", "reversed", "title + surname"}


def test_normalised_offsets_point_into_the_original() -> None:
    text = "Ünïcode\n\u00a0ﬁne_dash-case"
    norm, offsets = normalise_with_offsets(text)
    assert norm == normalise(text) == "unicode fine dash case"
    assert len(offsets) == len(norm) and text[offsets[norm.index("fine")]] == "ﬁ"


def test_full_text_search_terms_leave_out_initials_and_titles() -> None:
    assert SubjectMatcher("Dr. H. Marchetti").search_terms() == ["marchetti"]


def test_surname_particles_stay_with_the_surname() -> None:
    found = SubjectMatcher("Jörg van Dijk").find("J. van Dijk met Van Dijk, Jorg and Dr van Dijk")
    assert [m.kind for m in found] == ["initial", "reversed", "title + surname"]


def test_fast_folding_gives_what_the_plain_unicode_steps_give() -> None:
    """`_fold` lower-cases pure ASCII directly and drops marks with one `str.translate` (the erasure
    proof folds every string of the store): any text must fold exactly as NFKC, casefold, NFKD and
    removing each character `unicodedata.combining` flags would, one character at a time."""
    import random
    import unicodedata

    from core.subject_match import _fold

    def by_unicode(text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))

    rng = random.Random(11)
    samples = ["".join(chr(rng.randint(0, 127)) for _ in range(rng.randint(0, 60))) for _ in range(2000)]
    planes = [(0, 0x7F), (0x80, 0x2FFF), (0x300, 0x36F), (0x1100, 0x11FF), (0xAC00, 0xD7A3), (0x1E00, 0x1EFF), (0xE000, 0x10FFFF)]
    for _ in range(2000):  # Latin with marks, Hangul jamo and syllables, anything else outside the surrogates
        picks = [rng.choice(planes) for _ in range(rng.randint(0, 40))]
        samples.append("".join(chr(rng.randint(lo, hi)) for lo, hi in picks))
    for text in [*samples, "".join(map(chr, range(128))), "Helena MARCHETTI\n\tx_y", "Jörg Müller", "ﬁle Ⅻ"]:
        assert _fold(text) == by_unicode(text), repr(text)
