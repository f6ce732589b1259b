from __future__ import annotations

from core.rag.chunking import MAX_WORDS, TARGET_WORDS, chunk_text

SENT = "The quick brown fox jumps over the lazy dog near the river bank today. "


def test_chunks_map_back_to_exact_document_offsets() -> None:
    doc = "# Title\n\n" + SENT * 40 + "\n\n## Second\n\n" + SENT * 5
    for c in chunk_text(doc):
        assert doc[c.start:c.end] == c.text


def test_chunks_overlap_and_stay_near_target() -> None:
    chunks = chunk_text(SENT * 60)
    assert len(chunks) > 3
    assert all(len(c.text.split()) <= TARGET_WORDS + 20 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # the next chunk opens with the end of the previous one


def test_heading_starts_a_new_chunk() -> None:
    doc = SENT * 4 + "\n\n## Benefits\n\nBenefit sentence one is here. Another benefit sentence."
    chunks = chunk_text(doc)
    assert chunks[-1].text.startswith("## Benefits")


def test_run_on_text_without_sentence_ends_is_cut() -> None:
    chunks = chunk_text("word " * 1000)
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) >= 1000
