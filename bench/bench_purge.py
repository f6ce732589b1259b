"""Time to purge one document from a 10,000-chunk corpus, certificate (verification scan) included.

Run: make bench  (or .venv/bin/python -m bench.bench_purge)
"""
from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.bench_ask import open_ledger
from bench.synthetic import make_rows
from core.erasure import create_request
from core.purge import execute
from core.tables import DocumentRow


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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(Path(tmp) / "big")
        rows = make_rows(10_000, ledger)
        ledger.store.add(rows)
        ledger.store.ensure_indexes()
        register_documents(ledger, rows)
        alice = ledger.policy.principal("alice")
        target = rows[4321]["doc_id"]
        ledger.warm_up()
        t = time.perf_counter()
        request = create_request(ledger, alice, doc_id=target, requested_by="bench subject")
        cert = execute(ledger, alice, request["request_id"])
        elapsed = time.perf_counter() - t
        print(json.dumps({
            "corpus_chunks": len(rows), "purge_one_document_s": round(elapsed, 2), "chunks_erased": cert["erased"]["lancedb"]["chunks_deleted"],
            "files_scanned": cert["verification"]["disk_scan"]["files_scanned"], "searches": cert["verification"]["retrieval"]["searches"],
            "verified_clean": cert["verified_clean"], "remaining_chunks": ledger.store.count(),
        }))


if __name__ == "__main__":
    main()
