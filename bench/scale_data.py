"""Large chunk tables for the scale benchmark, built once into a folder outside the repository.

Search cost does not depend on what vectors mean, so the bulk gets random unit vectors (recall is
measured separately on real MiniLM embeddings, bench/real_corpus.py). Text, groups, classification
and PII spans follow bench/synthetic.py, so the full-text leg, the access prefilter and redaction
do the same work as on a real corpus. A marker file records a finished build; a rerun reuses it.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bench.synthetic import FIRST, GROUPS, LAST, TOPICS, VERBS
from core.rag.chunk_store import SCHEMA, ChunkStore, VectorIndexConfig
from core.rag.embedder import DIMENSIONS
from core.policy.models import CLASSIFICATION_LEVELS, class_rank

BATCH = 50_000


def rows_batch(start: int, n: int, rng: random.Random, nrng: np.random.Generator) -> pa.Table:
    cols: dict[str, list] = {f.name: [] for f in SCHEMA if f.name != "vector"}
    for i in range(start, start + n):
        topic, verb = rng.choice(TOPICS), rng.choice(VERBS)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{name.lower().replace(' ', '.')}@example.com"
        lead = f"Record {i}: the {topic} for team {rng.randint(1, 40)} {verb} after a meeting with "
        text = f"{lead}{name} ({email}). The amount involved was EUR {rng.randint(1, 900)},000 and follow-up is due in week {rng.randint(1, 52)}."
        spans = [{"type": "PERSON", "start": len(lead), "end": len(lead) + len(name), "score": 0.85},
                 {"type": "EMAIL_ADDRESS", "start": len(lead) + len(name) + 2, "end": len(lead) + len(name) + 2 + len(email), "score": 1.0}]
        doc = i // 8
        drng = random.Random(doc)  # labels are per document, as ingestion assigns them
        level = drng.choice(CLASSIFICATION_LEVELS)
        for key, value in (("chunk_id", f"chk_{i:020x}"), ("doc_id", f"doc_{doc:016x}"), ("doc_version", 1), ("ord", i % 8),
                           ("title", f"{topic.title()} memo {doc}"), ("title_spans", "[]"), ("text", text), ("start", 0), ("end", len(text)),
                           ("groups", sorted(set(drng.sample(GROUPS, drng.randint(1, 2))))), ("classification", level),
                           ("class_rank", class_rank(level)), ("content_hash", hashlib.sha256(text.encode()).hexdigest()),
                           ("pii_spans", json.dumps(spans)), ("pii_types", ["EMAIL_ADDRESS", "PERSON"]), ("language", "en")):
            cols[key].append(value)
    v = nrng.standard_normal((n, DIMENSIONS), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    arrays = [pa.array(cols[f.name] or [None] * n, type=f.type) for f in SCHEMA if f.name != "vector"]  # language, fts: null
    arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), DIMENSIONS))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def build(home: Path, n: int, index: VectorIndexConfig | None = None) -> dict:
    """A ledger home at `home` whose chunk table holds `n` generated chunks and all indexes."""
    marker = home / f"built-{n}.json"
    if marker.exists():
        return json.loads(marker.read_text())
    from bench.bench_ask import open_ledger

    cipher = open_ledger(home).chunk_cipher  # the shipped policy: content sealed (docs/encryption.md)
    store = ChunkStore(home / "lance", index=index or VectorIndexConfig(min_rows=0), cipher=cipher)
    if store.name in store.db.table_names():
        store.db.drop_table(store.name)
    rng, nrng = random.Random(7), np.random.default_rng(7)
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        batch = rows_batch(start, min(BATCH, n - start), rng, nrng)
        store.table.add(batch if cipher is None else pa.Table.from_pylist(cipher.seal_rows(batch.to_pylist()), schema=SCHEMA))
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    store.ensure_indexes()
    info = {"chunks": store.count(), "write_s": round(write_s, 1), "index_s": round(time.perf_counter() - t, 1), "index_kind": store.index.kind,
            "partitions": store.index.partitions(n)}
    marker.write_text(json.dumps(info))
    return info
