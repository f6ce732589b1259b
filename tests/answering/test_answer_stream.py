"""Streaming a generated answer (core/answering/answer_stream.py): the pieces are exactly the guarded, audited text."""
from __future__ import annotations

import pytest

from core.answering.answer_stream import answer_pieces, streams
from core.answering.ask import AskResult


def _result(answer: str, answerer: str = "ckp_0123456789abcdef", knows: bool = True) -> AskResult:
    return AskResult(answer, [], {}, "rec_1", 0, 1.0, answerer, knows)


@pytest.mark.parametrize("text", ["Employees receive 16 weeks of paid leave [1].", "  two\nlines  [2] ", "<PERSON_1> is reachable [1].", ""])
def test_the_pieces_join_to_exactly_the_answer_that_was_audited(text: str) -> None:
    pieces = list(answer_pieces(_result(text), delay_s=0))
    assert "".join(pieces) == text
    assert len(pieces) == max(1, len(text.split()))


def test_only_generated_answers_stream() -> None:
    assert streams(_result("x [1]"))
    assert not streams(_result("x [1]", answerer="extractive-v1"))
    assert not streams(_result("I don't know", knows=False))
