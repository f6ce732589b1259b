"""Ingestion throughput with `--ray auto` (a local Ray: the PII analysis as Ray tasks, embedding in a
MiniLM actor) against the plain threaded pipeline, on the same files.

Corpus: the demo corpus plus BENCH_RAY_DOCS generated memos (default 40, bench/bench_ingest.py's
generator). Each path runs once on a fresh home after a warm-up ingest of one file, so model loading
(spaCy and MiniLM in the driver; spaCy in the Ray worker, MiniLM in the actor) is not counted; Ray's
start-up is reported on its own. On a 2-core machine Ray cannot be faster: the cluster has the same two
cores, and every batch is pickled to the workers and back. The figure says what Ray costs here; the
gain needs more cores or more nodes (docs/deployment.md, "Ingestion on a Ray cluster").

Run: python -m bench.bench_ray_ingest  (make bench runs it too)
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from bench.bench_ask import open_ledger
from bench.bench_ingest import generated
from core.config import REPO_ROOT
from core.rag.ingest import Source, expand_paths, ingest


def main() -> None:
    figures: dict = {"cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        paths = expand_paths([REPO_ROOT / "demo_corpus"]) + generated(int(os.environ.get("BENCH_RAY_DOCS", "40")), Path(tmp) / "memos")
        sources = [Source.from_path(p) for p in paths]
        warm_file = [Source(f"warm-{s.name}", s.data, f"warm:{s.key}") for s in sources[:1]]
        figures["documents"] = len(sources)
        t = time.perf_counter()
        from core.rag.ray_ingest import connect

        connect("auto")
        figures["ray_start_s"] = round(time.perf_counter() - t, 1)
        for label, ray in (("plain", None), ("ray_auto", "auto")):
            ledger = open_ledger(Path(tmp) / label)
            ops = ledger.policy.principal("ops")
            ingest(ledger, ops, warm_file, ray=ray)  # loads the models on the side that runs them
            t = time.perf_counter()
            results = ingest(ledger, ops, sources, ray=ray)
            elapsed = time.perf_counter() - t
            chunks = sum(r.chunks for r in results)
            figures[label] = {"seconds": round(elapsed, 1), "chunks": chunks, "chunks_per_s": round(chunks / elapsed, 1),
                              "docs_per_s": round(len(sources) / elapsed, 2)}
    figures["ray_over_plain"] = round(figures["ray_auto"]["chunks_per_s"] / figures["plain"]["chunks_per_s"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
