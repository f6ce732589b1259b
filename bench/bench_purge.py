"""Time to purge one document, certificate (verification scan and index scan) included: from a
10,000-chunk corpus with real embeddings, and from the scale tables of bench/scale_data.py with
their vector index (BENCH_PURGE_SIZES, default "100000"; add 1000000 when that table is built).
The scale table is copied first, so the reusable one under BENCH_SCALE_DIR is not purged.

Run: make bench  (or .venv/bin/python -m bench.bench_purge)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.bench_ask import open_ledger
from bench.synthetic import make_rows
from core.erasure.requests import create_request
from core.erasure.purge import execute
from core.stores.tables import DocumentRow


def register_documents(ledger, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_doc[r["doc_id"]].append(r)
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.insert(), [
            {"doc_id": d, "source_key": f"bench:{d}", "title": rs[0]["title"], "owner": "bench", "ingested_by": "ops",
             "groups": json.dumps(rs[0]["groups"]), "classification": rs[0]["classification"], "version": 1,
             "content_sha256": "0" * 64, "chunk_count": len(rs), "pii_summary": "{}", "meta": "{}", "status": "active"}
            for d, rs in by_doc.items()
        ])


def purge_one(ledger, target: str) -> dict:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    ledger.warm_up()
    t = time.perf_counter()
    request = create_request(ledger, alice, doc_id=target, requested_by="bench subject")
    cert = execute(ledger, alice, request.request_id)
    elapsed = time.perf_counter() - t
    lance = cert.erased["lancedb"]["tables"]
    return {"purge_one_document_s": round(elapsed, 2), "chunks_erased": cert.erased["lancedb"]["chunks_deleted"],
            "fragments_rewritten": sum(t.get("fragments_rewritten", 0) for t in lance.values()),
            "fragments_total": sum(t.get("fragments_total", 0) for t in lance.values()),
            "files_scanned": cert.verification["disk_scan"]["files_scanned"], "searches": cert.verification["retrieval"]["searches"],
            "index_row_ids_checked": cert.verification["index_scan"]["row_ids_checked"],
            "verified_clean": cert.verified_clean, "remaining_chunks": ledger.store.count()}


def at_scale(n: int) -> dict:
    from bench.scale_data import build

    base = Path(os.environ.get("BENCH_SCALE_DIR", "/tmp/rl-scale"))
    source = base / f"scale-{n}"
    build(source, n)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(source / "lance", home / "lance")
        ledger = open_ledger(home)
        rows = ledger.store.rows_where("doc_version = 1", columns=["doc_id", "title", "groups", "classification"])
        register_documents(ledger, rows)
        return {"corpus_chunks": ledger.store.count(), "vector_index": ledger.store.has_vector_index(),
                **purge_one(ledger, rows[len(rows) // 2]["doc_id"])}


def main() -> None:
    figures: dict = {}
    for n in [int(x) for x in os.environ.get("BENCH_PURGE_SIZES", "100000").split(",") if x.strip()]:
        figures[f"{n // 1000}k"] = at_scale(n)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(Path(tmp) / "big")
        rows = make_rows(10_000, ledger)
        ledger.store.add(rows)
        ledger.store.ensure_indexes()
        register_documents(ledger, rows)
        figures["10k"] = {"corpus_chunks": len(rows), **purge_one(ledger, rows[4321]["doc_id"])}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
