"""Streaming a generated answer to the chat, word by word, without showing anything unguarded.

A generative model's raw tokens must not reach the screen: the output guard (core.rag.redaction.guard)
and the audit append run on the complete text in core.answering.ask, and an answer is never shown without its
audit record. So the stream is of the answer as `ask` returned it, already guarded and already in
the audit log, cut into word pieces: the asker watches the answer arrive (st.write_stream), and what
is on the screen is exactly what the audit record holds. The generation itself is not shortened.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

from core.rag.answerers.extractive import IDENTITY as EXTRACTIVE
from core.answering.ask import AskResult

_PIECE = re.compile(r"\s*\S+\s*")
WORD_DELAY_S = 0.03  # about 30 words a second: readable, and a 60-word answer takes two seconds


def streams(result: AskResult) -> bool:
    """Only generated answers stream; extractive ones are quoted sentences, shown at once."""
    return result.knows and result.answerer != EXTRACTIVE


def answer_pieces(result: AskResult, delay_s: float = WORD_DELAY_S) -> Iterator[str]:
    """The guarded, audited answer in word pieces whose concatenation is exactly `result.answer`."""
    for piece in _PIECE.findall(result.answer) or [result.answer]:
        yield piece
        if delay_s:
            time.sleep(delay_s)
