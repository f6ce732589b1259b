"""Stored-question redaction (core/rag/question_redaction.py): the known-PII index build per table
version, and the per-question cost (index lookup alone, and with the full analyzer) at 10,000 and
100,000 chunks. Rows carry generated names and e-mails at known offsets (bench/synthetic.py's
vocabulary) and random vectors: the index reads only texts and spans, so no embedding is needed.

Run: .venv/bin/python -m bench.bench_question_redaction
"""
from __future__ import annotations

import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bench.bench_ask import open_ledger, pct
from bench.synthetic import FIRST, LAST, TOPICS
from core.rag import question_redaction
from core.rag.question_redaction import known_pii, redact_question

QUESTIONS = 200


def rows(n: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    vec = np.zeros(384, dtype="float32").tolist()
    out = []
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}{i % 500}"  # 5,000 distinct people
        email = f"{name.lower().replace(' ', '.')}@example.com"
        lead = f"Record {i}: the {rng.choice(TOPICS)} was reviewed with "
        text = f"{lead}{name} ({email}) and closed."
        spans = [{"type": "PERSON", "start": len(lead), "end": len(lead) + len(name), "score": 0.85},
                 {"type": "EMAIL_ADDRESS", "start": len(lead) + len(name) + 2, "end": len(lead) + len(name) + 2 + len(email), "score": 1.0}]
        out.append({"chunk_id": f"chk_{uuid.uuid4().hex[:20]}", "doc_id": f"doc_{i // 10:016x}", "doc_version": 1, "ord": i % 10,
                    "title": "Record", "title_spans": "[]", "text": text, "start": 0, "end": len(text), "groups": ["all-staff"],
                    "classification": "internal", "class_rank": 1, "content_hash": "x", "pii_spans": json.dumps(spans),
                    "pii_types": ["EMAIL_ADDRESS", "PERSON"], "vector": vec})
    return out


def measure(ledger, n: int) -> dict:  # type: ignore[no-untyped-def]
    ledger.store.add(rows(n))
    ledger.store.refresh()
    question_redaction._CACHE.clear()
    t = time.perf_counter()
    known_pii(ledger)
    build_s = time.perf_counter() - t
    ledger.store.add(rows(100, seed=n))  # an ingestion of ten documents: the index is extended
    ledger.store.refresh()
    t = time.perf_counter()
    index = known_pii(ledger)
    extend_s = time.perf_counter() - t
    rng = random.Random(5)
    qs = [f"What did {rng.choice(FIRST)} {rng.choice(LAST)}{rng.randint(0, 499)} say about the {rng.choice(TOPICS)}?" for _ in range(QUESTIONS)]
    lookup, full = [], []
    for q in qs:
        t = time.perf_counter()
        index.find(q)
        lookup.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        redact_question(ledger, q)
        full.append((time.perf_counter() - t) * 1000)
    return {"chunks": ledger.store.count(), "index_entries": index.size, "index_full_build_s": round(build_s, 2),
            "index_extend_by_100_chunks_s": round(extend_s, 3),
            "lookup_p50_ms": pct(lookup, 50), "lookup_p95_ms": pct(lookup, 95),
            "redact_question_p50_ms": pct(full, 50), "redact_question_p95_ms": pct(full, 95)}


def main() -> None:
    figures: dict = {"questions": QUESTIONS}
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(Path(tmp) / "q")
        redact_question(ledger, "warm up the analyzer")
        figures["10k"] = measure(ledger, 10_000)
        figures["100k"] = measure(ledger, 89_900)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
