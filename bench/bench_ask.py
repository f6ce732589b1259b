"""Ask latency (model loaded, extractive answerer): p50/p95 on the demo corpus and on a generated
10,000-chunk corpus, and the ratio of a governed ask to a bare LanceDB vector search on the same index.

Run: make bench  (or .venv/bin/python -m bench.bench_ask)
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.synthetic import make_rows, questions
from core.answering.ask import ask
from core.config import REPO_ROOT, Settings
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger

ROUNDS = 200
WHO = ["alice", "bob", "carol", "dave"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))], 2)


def timed_asks(ledger: Ledger, qs: list[str]) -> list[float]:
    out = []
    for i, q in enumerate(qs):
        principal = ledger.policy.principal(WHO[i % len(WHO)])
        t = time.perf_counter()
        ask(ledger, principal, q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bare_search(ledger: Ledger, qs: list[str]) -> tuple[list[float], list[float]]:
    with_embed, search_only = [], []
    table = ledger.store.table
    for q in qs:
        t0 = time.perf_counter()
        v = ledger.embedder.embed_query(q)
        t1 = time.perf_counter()
        table.search(v).limit(5).select(["chunk_id", "text", "_distance"]).to_list()
        t2 = time.perf_counter()
        with_embed.append((t2 - t0) * 1000)
        search_only.append((t2 - t1) * 1000)
    return with_embed, search_only


def open_ledger(home: Path) -> Ledger:
    return Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=f"sqlite:///{home / 'ledger.db'}"))


def main() -> None:
    figures: dict = {"rounds": ROUNDS}
    with tempfile.TemporaryDirectory() as tmp:
        demo = open_ledger(Path(tmp) / "demo")
        ingest(demo, demo.policy.principal("ops"), [Source.from_path(p) for p in expand_paths([REPO_ROOT / "demo_corpus"])])
        timed_asks(demo, questions(10))  # warm: model, analyzers, caches
        lat = timed_asks(demo, questions(ROUNDS))
        figures["demo"] = {"chunks": demo.store.count(), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "mean_ms": round(statistics.mean(lat), 2)}

        big = open_ledger(Path(tmp) / "big")
        t = time.perf_counter()
        rows = make_rows(10_000, big)
        big.store.add(rows)
        big.store.ensure_indexes()
        figures["generated_corpus_build_s"] = round(time.perf_counter() - t, 1)
        timed_asks(big, questions(10, seed=3))
        lat = timed_asks(big, questions(ROUNDS))
        bare, bare_only = bare_search(big, questions(ROUNDS))
        figures["10k"] = {
            "chunks": big.store.count(), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "mean_ms": round(statistics.mean(lat), 2),
            "bare_vector_search_with_embedding_p50_ms": pct(bare, 50), "bare_vector_search_with_embedding_p95_ms": pct(bare, 95),
            "bare_vector_search_only_p50_ms": pct(bare_only, 50),
            "ratio_governed_to_bare_p50": round(pct(lat, 50) / pct(bare, 50), 2),
            "target_p95_under_100ms": pct(lat, 95) < 100,
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
