"""Answerers turn redacted passages into an answer with [n] citations.

A plain registry: built-ins register through the same `register()` that a deployment's own
answerer (a generative checkpoint, an HTTP endpoint) uses.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Passage:
    n: int
    title: str
    text: str  # already redacted for the asker
    score: float  # fused retrieval score
    similarity: float  # cosine similarity of the question and the chunk


@dataclass
class Answer:
    text: str
    used: list[int] = field(default_factory=list)  # passage numbers cited in the text
    knows: bool = True


class Answerer(Protocol):
    identity: str

    def answer(self, question: str, passages: list[Passage]) -> Answer: ...


ANSWERERS: dict[str, Callable[..., Answerer]] = {}


def register(name: str, factory: Callable[..., Answerer]) -> None:
    ANSWERERS[name] = factory


def get_answerer(name: str = "extractive", **options: object) -> Answerer:
    from core.errors import ConfigError

    if name not in ANSWERERS:
        raise ConfigError(f"unknown answerer {name!r}", hint=f"known: {', '.join(sorted(ANSWERERS))}")
    return ANSWERERS[name](**options)


from core.rag.answerers import extractive, generative  # noqa: E402,F401  (built-ins register on import: extractive, openai-http)
