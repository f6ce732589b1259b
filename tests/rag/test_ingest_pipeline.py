"""The ingestion pipeline stores exactly what one-document-at-a-time ingestion stored (same spans,
same chunks, same vectors), keeps each document all-or-nothing when a file in the middle of a
batch fails, and removes the appended chunks of a batch whose registration fails. Real Presidio,
spaCy, MiniLM, LanceDB and SQLite."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from core.rag import ingest as ingest_module
from core.rag import pii
from core.rag.chunking import chunk_text
from core.config import REPO_ROOT
from core.rag.documents import list_documents
from core.errors import IngestError
from core.rag.extract import extract
from core.rag.ingest import Source, expand_paths, ingest
from core.rag.pii_propagation import propagate_person_spans
from core.rag.redaction import spans_in_window
from core.rag.ingest_pipeline import run_pipeline

FILLER = "The committee reviewed the quarterly planning documents in detail. " * 12


def test_pipelined_ingest_stores_what_sequential_analysis_finds(ledger) -> None:  # type: ignore[no-untyped-def]
    paths = expand_paths([REPO_ROOT / "demo_corpus" / "hr"])[:6]
    assert len(paths) == 6
    results = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in paths], batch=2)  # three batches, overlapped
    entities = ledger.policy.files.analyzed_entities
    for path, result in zip(paths, results):
        extracted = extract(path.name, path.read_bytes())
        # The sequential reference: one full Presidio analysis of the whole document, then chunking.
        spans = propagate_person_spans(extracted.text, pii.analyze(extracted.text, entities, ledger.recognizers))
        chunks = chunk_text(extracted.text)
        rows = sorted(ledger.store.rows_where(f"doc_id = '{result.doc_id}'", columns=["ord", "text", "start", "end", "pii_spans", "title_spans", "vector"]),
                      key=lambda r: r["ord"])
        assert [(r["text"], r["start"], r["end"]) for r in rows] == [(c.text, c.start, c.end) for c in chunks]
        assert [json.loads(r["pii_spans"]) for r in rows] == [[s.as_dict() for s in spans_in_window(spans, c.start, c.end)] for c in chunks]
        title_spans = pii.analyze(result.title, entities, ledger.recognizers)
        assert json.loads(rows[0]["title_spans"]) == [s.as_dict() for s in title_spans]
        alone = ledger.embedder.embed([f"{result.title}\n{c.text}" for c in chunks])
        assert np.allclose(np.array([r["vector"] for r in rows]), alone, atol=1e-4)  # batched with other documents' chunks
        assert result.pii == dict(Counter(s.entity_type for s in spans))
    assert sum(1 for r in ledger.audit.records(kinds=["ingest"])) == 6


def test_a_broken_file_in_the_middle_of_a_batch_keeps_the_earlier_files_and_writes_nothing_of_the_later(ledger, write_doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = write_doc("first.md", "Kept sentence about the canteen. " + FILLER)
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 not a real pdf")
    last = write_doc("last.md", "Never stored sentence about parking. " + FILLER)
    with pytest.raises(IngestError, match="broken.pdf"):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(first), Source.from_path(bad), Source.from_path(last)],
               groups=["all-staff"], classification="internal", batch=4)
    titles = [d["title"] for d in list_documents(ledger, ledger.policy.principal("alice"))]
    assert titles == ["first.md"]
    texts = " ".join(r["text"] for r in ledger.store.rows_where("doc_version >= 1"))
    assert "canteen" in texts and "parking" not in texts


def test_a_failed_registration_removes_the_batch_chunks_not_yet_registered(ledger, write_doc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    docs = [write_doc(f"d{i}.md", f"Sentence number {i} about topic {i}. " + FILLER) for i in range(3)]
    real = ingest_module._register
    calls = []

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("registry down")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_register", flaky)
    with pytest.raises(RuntimeError, match="registry down"):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in docs], batch=3)
    [kept] = list_documents(ledger, ledger.policy.principal("alice"))
    assert kept["title"] == "d0.md"
    assert ledger.store.count() == kept["chunk_count"]  # the chunks of d1 and d2 were appended, then removed
    assert len(list(ledger.settings.uploads_dir.glob("*/v1.md"))) == 1  # only d0's source file is kept


def test_the_pipeline_keeps_order_and_stops_on_the_first_error() -> None:
    seen: list[int] = []

    def prepare(batch: list[int]) -> list[int]:
        if 7 in batch:
            raise ValueError("seven")
        return batch

    with pytest.raises(ValueError, match="seven"):
        run_pipeline(list(range(20)), 3, prepare, seen.extend)
    assert seen == list(range(6))
