"""Operators on stored spans, per profile: a table of entity types x operators."""
from __future__ import annotations

import pytest

from core.rag.pii import Span
from core.policy.models import RedactionProfile, RedactionRule
from core.rag.redaction import Redactor, spans_in_window

TEXT = "Ana Diaz (ana@example.com) paid with 4111 1111 1111 1111 from 192.0.2.7; Ana Diaz confirmed."
SPANS = [Span("PERSON", 0, 8, 0.9), Span("EMAIL_ADDRESS", 10, 25, 1.0), Span("CREDIT_CARD", 37, 56, 1.0),
         Span("IP_ADDRESS", 62, 71, 0.9), Span("PERSON", 73, 81, 0.9)]


def profile(**rules: str) -> RedactionProfile:
    return RedactionProfile(entities={k: RedactionRule(operator=v) for k, v in rules.items()})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rules,expect_in,expect_out",
    [
        ({"PERSON": "keep", "EMAIL_ADDRESS": "keep", "CREDIT_CARD": "keep", "IP_ADDRESS": "keep"}, ["Ana Diaz", "4111 1111 1111 1111"], ["<"]),
        ({}, ["<PERSON>", "<EMAIL_ADDRESS>", "<CREDIT_CARD>", "<IP_ADDRESS>"], ["Ana", "4111", "192.0.2.7"]),
        ({"CREDIT_CARD": "mask"}, ["***************1111"], ["4111 1111"]),
        ({"PERSON": "pseudonym"}, ["<PERSON_1> (", "; <PERSON_1> confirmed"], ["Ana"]),
        ({"IP_ADDRESS": "hash"}, ["<IP_ADDRESS#"], ["192.0.2.7"]),
    ],
)
def test_operators(rules, expect_in, expect_out) -> None:  # type: ignore[no-untyped-def]
    out = Redactor(profile(**rules), b"k").redact(TEXT, SPANS)
    assert all(s in out for s in expect_in), out
    assert not any(s in out for s in expect_out), out


def test_hash_is_stable_within_a_home_and_differs_between_homes() -> None:
    span = [Span("IP_ADDRESS", 62, 71, 0.9)]
    a1 = Redactor(profile(IP_ADDRESS="hash"), b"home-a").redact(TEXT, span)
    a2 = Redactor(profile(IP_ADDRESS="hash"), b"home-a").redact(TEXT, span)
    b = Redactor(profile(IP_ADDRESS="hash"), b"home-b").redact(TEXT, span)
    assert a1 == a2 and a1 != b


def test_pseudonyms_are_consistent_within_one_answer_and_counted() -> None:
    r = Redactor(profile(PERSON="pseudonym"))
    first = r.redact("Ana Diaz met Bo Li.", [Span("PERSON", 0, 8, 0.9), Span("PERSON", 13, 18, 0.9)])
    second = r.redact("Later Bo Li left.", [Span("PERSON", 6, 11, 0.9)])
    assert first == "<PERSON_1> met <PERSON_2>." and second == "Later <PERSON_2> left."
    assert r.counts["PERSON"] == 3


def test_spans_cut_by_a_chunk_window_are_clipped_not_dropped() -> None:
    spans = spans_in_window([Span("PERSON", 95, 110, 0.9)], 100, 200)
    assert spans == [Span("PERSON", 0, 10, 0.9)]


def test_redaction_counts_read_as_words_not_a_dict() -> None:
    from core.rag.redaction import redaction_counts

    assert redaction_counts({"EMAIL_ADDRESS": 1, "PERSON": 3}) == "PERSON ×3, EMAIL_ADDRESS ×1"
    assert redaction_counts({}) == redaction_counts(None) == "none"
