"""Splitting a document into overlapping chunks on heading and sentence boundaries.

Chunks keep their character offsets into the document text, so PII spans found once over the whole
document can be mapped onto every chunk (an entity cut by a boundary is still redacted).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_WORDS = 160
OVERLAP_WORDS = 30
MAX_WORDS = 260
_HEADING = re.compile(r"(?m)^(?=#{1,6}\s)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")


@dataclass(frozen=True)
class Chunk:
    ord: int
    start: int
    end: int
    text: str


def _sentences(text: str, base: int) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > cursor:
            spans.append((base + cursor, base + m.start()))
        cursor = m.end()
    if cursor < len(text) and text[cursor:].strip():
        spans.append((base + cursor, base + len(text)))
    return spans


def _words(text: str) -> int:
    return len(text.split())


def chunk_text(text: str) -> list[Chunk]:
    """Greedy packing of sentences into ~TARGET_WORDS chunks; a new heading starts a new chunk;
    the last sentences of a chunk (up to OVERLAP_WORDS) open the next one."""
    sentences: list[tuple[int, int, bool]] = []  # start, end, starts_section
    section_starts = [m.start() for m in _HEADING.finditer(text)] or [0]
    if section_starts[0] != 0:
        section_starts.insert(0, 0)
    for i, start in enumerate(section_starts):
        end = section_starts[i + 1] if i + 1 < len(section_starts) else len(text)
        for j, (s, e) in enumerate(_sentences(text[start:end], start)):
            sentences.append((s, e, j == 0))
    chunks: list[Chunk] = []
    current: list[tuple[int, int, bool]] = []

    def flush() -> None:
        if current:
            add(current[0][0], current[-1][1])

    def add(s: int, e: int) -> None:
        # Trim whitespace by moving the offsets, so text == document[start:end] always holds.
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            chunks.append(Chunk(len(chunks), s, e, text[s:e]))

    for sent in sentences:
        size = sum(_words(text[s:e]) for s, e, _ in current)
        new_section = sent[2] and size >= OVERLAP_WORDS
        if current and (size + _words(text[sent[0]:sent[1]]) > TARGET_WORDS or new_section):
            flush()
            overlap: list[tuple[int, int, bool]] = []
            if not new_section:
                for prev in reversed(current):
                    if sum(_words(text[s:e]) for s, e, _ in overlap) + _words(text[prev[0]:prev[1]]) > OVERLAP_WORDS:
                        break
                    overlap.insert(0, prev)
            current = overlap
        current.append(sent)
        # A single run-on "sentence" longer than MAX_WORDS is cut hard so no chunk grows unbounded.
        while sum(_words(text[s:e]) for s, e, _ in current) > MAX_WORDS and len(current) == 1:
            s, e, sec = current[0]
            cut = _cut_at_word(text, s, MAX_WORDS)
            add(s, cut)
            current = [(cut, e, False)]
    flush()
    return chunks


def _cut_at_word(text: str, start: int, words: int) -> int:
    count, i = 0, start
    for m in re.finditer(r"\S+", text[start:]):
        count += 1
        if count == words:
            return start + m.end()
    return len(text)
