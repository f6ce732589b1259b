"""The cost of encryption at rest (docs/encryption.md): the same corpus ingested into two homes, one
with `chunk_store.encryption: on` and one with `off`, then

- ingest throughput (chunks/s, models loaded first; the two runs alternate file batches' order: off first),
- ask p50/p95 over the demo questions and generated ones, asked alternately of both homes,
- full-text recall of the blind index against plaintext FTS: for every demo question (questions.yaml)
  and generated question, the top-10 of the full-text leg alone (no access filter), compared by
  content (chunks are matched by content hash and position, ids differ between homes).

Nothing here is tuned on these figures: the normalisation of terms follows LanceDB's default
tokenizer (core/rag/chunk_crypto.py), written before this was measured.

Run: .venv/bin/python -m bench.bench_encryption   (BENCH_INGEST_DOCS, default 60 generated memos)
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_ask import WHO, pct
from bench.bench_ingest import generated
from bench.synthetic import questions
from core.answering.ask import ask
from core.config import REPO_ROOT, Settings
from core.demo import demo_questions
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "120"))
K = 10


def open_ledger(home: Path, policies: Path) -> Ledger:
    home.mkdir(parents=True, exist_ok=True)
    return Ledger.open(Settings(home=home, policies_dir=policies, database_url=f"sqlite:///{home / 'ledger.db'}"))


def policies_with(tmp: Path, setting: str) -> Path:
    folder = tmp / f"policies-{setting}"
    shutil.copytree(REPO_ROOT / "policies", folder)
    path = folder / "policy.yaml"
    text = path.read_text()
    assert 'encryption: "on"' in text
    path.write_text(text.replace('encryption: "on"', f'encryption: "{setting}"'))
    return folder


def fts_top(ledger: Ledger, question: str) -> list[tuple[str, int]]:
    q = ledger.store.text_query(question, None, K, ["content_hash", "ord"])
    return [] if q is None else [(r["content_hash"], r["ord"]) for r in q.to_list()]


def main() -> None:
    figures: dict = {"rounds": ROUNDS}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        paths = expand_paths([REPO_ROOT / "demo_corpus"]) + generated(int(os.environ.get("BENCH_INGEST_DOCS", "60")), base / "memos")
        ledgers: dict[str, Ledger] = {}
        for setting in ("off", "on"):
            ledger = open_ledger(base / setting, policies_with(base, setting))
            ledger.warm_up()
            sources = [Source.from_path(p) for p in paths]
            t = time.perf_counter()
            ingest(ledger, ledger.policy.principal("ops"), sources)
            seconds = time.perf_counter() - t
            chunks = ledger.store.count()
            figures[f"ingest_{setting}"] = {"documents": len(paths), "chunks": chunks, "seconds": round(seconds, 2), "chunks_per_s": round(chunks / seconds, 1)}
            ledgers[setting] = ledger
        assert ledgers["on"].chunk_cipher is not None and ledgers["off"].chunk_cipher is None
        figures["ingest_throughput_ratio_on_to_off"] = round(figures["ingest_on"]["chunks_per_s"] / figures["ingest_off"]["chunks_per_s"], 3)

        demo_qs = demo_questions()
        asked = (demo_qs * (ROUNDS // len(demo_qs) + 1))[:ROUNDS // 2] + questions(ROUNDS - ROUNDS // 2)
        for ledger in ledgers.values():  # warm: caches, analyzers
            for q in asked[:8]:
                ask(ledger, ledger.policy.principal("alice"), q)
        lat: dict[str, list[float]] = {"on": [], "off": []}
        for i, q in enumerate(asked):  # alternate, so load on the shared machine hits both alike
            for setting in (("on", "off") if i % 2 else ("off", "on")):
                ledger = ledgers[setting]
                t = time.perf_counter()
                ask(ledger, ledger.policy.principal(WHO[i % len(WHO)]), q)
                lat[setting].append((time.perf_counter() - t) * 1000)
        for setting, values in lat.items():
            figures[f"ask_{setting}"] = {"p50_ms": pct(values, 50), "p95_ms": pct(values, 95), "mean_ms": round(statistics.mean(values), 2)}
        figures["ask_p50_overhead_ms"] = round(figures["ask_on"]["p50_ms"] - figures["ask_off"]["p50_ms"], 2)
        figures["ask_p95_overhead_ms"] = round(figures["ask_on"]["p95_ms"] - figures["ask_off"]["p95_ms"], 2)

        for name, qs in (("demo_questions", demo_qs), ("generated_questions", questions(100, seed=5))):
            found = relevant = exact = 0
            for q in qs:
                plain, blind = fts_top(ledgers["off"], q), fts_top(ledgers["on"], q)
                relevant += len(plain)
                found += len(set(plain) & set(blind))
                exact += plain == blind
            figures[f"fts_recall_at_{K}_{name}"] = {"questions": len(qs), "recall": round(found / relevant, 4) if relevant else None,
                                                    "identical_ranking_share": round(exact / len(qs), 4)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
