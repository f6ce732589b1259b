"""The answering router on the demo corpus's golden set (demo_corpus/questions.yaml, core/evaluation/golden.py):
accuracy (answer contains the expected fact; a used citation is the expected document) and latency
p50/p95 of each route forced on every question, and of the router as policy.yaml configures it.

Set-up, all real: the demo corpus ingested (Presidio, MiniLM, LanceDB); dave (ml_engineer) builds a
qa dataset of what he may read and trains a LoRA generator on SmolLM2-135M (BENCH_GENERATOR_STEPS,
default 10, batch 2, 512 tokens); alice promotes it to production. The questions are asked as alice
(she may read every source, and the generator's lineage is within her access). The router is also
run as carol, for whom both generator routes must be refused (the dataset holds engineering-only
documents): `carol_generator_routes` must be 0.

No threshold is set from these questions: the routing thresholds are a priori (docs/routing.md), and
the generator-alone route is measured under a copy of the policy that lets it serve unsupported
answers. The questions are still split by bench_abstention's fixed hash (`part`); the figures of
the TEST part are the reported ones, the tuning part's and all questions' are printed beside them.
Latency is the whole governed ask (retrieval, redaction, answer, guard, audit append), in ms.

Run: .venv/bin/python -m bench.bench_routing   (prints one JSON line last)
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.bench_abstention import part
from core.answering.ask import ask
from core.config import REPO_ROOT, Settings
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger
from core.answering.router import ALONE, EXTRACTIVE, WITH_RETRIEVAL

GOLDEN = REPO_ROOT / "demo_corpus" / "questions.yaml"


def open_ledger(home: Path, policies: Path) -> Ledger:
    return Ledger.open(Settings(home=home, policies_dir=policies, database_url=f"sqlite:///{home / 'ledger.db'}"))


def observe(ledger: Ledger, who: str, q: Any, doc_id: str, route: str | None) -> dict[str, Any]:
    result = ask(ledger, ledger.policy.principal(who), q.question, route=route)
    cited = [c.doc_id for c in result.citations if c.used] or [c.doc_id for c in result.citations]
    return {"part": part(q.question), "route": result.route.get("route"), "knows": result.knows,
            "contains": q.answer_contains.casefold() in result.answer.casefold(),
            "cited_right": result.knows and doc_id in cited, "latency_ms": result.latency_ms}


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"questions": 0}
    lat = np.array([r["latency_ms"] for r in rows])
    return {"questions": len(rows), "answer_contains": round(sum(r["contains"] for r in rows) / len(rows), 3),
            "citation_correct": round(sum(r["cited_right"] for r in rows) / len(rows), 3),
            "abstained": sum(not r["knows"] for r in rows),
            "latency_p50_ms": round(float(np.percentile(lat, 50)), 1), "latency_p95_ms": round(float(np.percentile(lat, 95)), 1),
            "routes": dict(Counter(r["route"] for r in rows))}


def by_part(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"test": figures([r for r in rows if r["part"] == "test"]), "tune": figures([r for r in rows if r["part"] == "tune"]),
            "all": figures(rows)}


def main() -> None:
    from core.models.datasets import build_dataset
    from core.evaluation.golden import load_golden, resolve_sources
    from core.evaluation.lifecycle import promote
    from core.models.training.jobs import train

    steps = int(os.environ.get("BENCH_GENERATOR_STEPS", 10))
    root = Path(tempfile.mkdtemp(prefix="ragledger-bench-routing-"))
    out: dict[str, Any] = {"bench": "routing", "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                           "generator_steps": steps}
    try:
        home = root / "home"
        home.mkdir()
        ledger = open_ledger(home, REPO_ROOT / "policies")
        ops, dave, alice = (ledger.policy.principal(n) for n in ("ops", "dave", "alice"))
        t = time.perf_counter()
        ingest(ledger, ops, [Source.from_path(p) for p in expand_paths([REPO_ROOT / "demo_corpus"])])
        out["ingest_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        qa = build_dataset(ledger, dave, "qa", name="demo-qa")
        gen = train(ledger, dave, "generator", qa.dataset_id, hyper={"max_steps": steps, "batch_size": 2, "max_length": 512})
        promote(ledger, alice, gen.checkpoint_id, "production")
        out.update(train_generator_s=round(time.perf_counter() - t, 1), qa_rows=qa.rows, qa_docs=qa.docs)

        open_policy = shutil.copytree(REPO_ROOT / "policies", root / "policies-alone")
        data = yaml.safe_load((open_policy / "policy.yaml").read_text())
        data["routing"]["generator_alone_serves_unsupported"] = True
        (open_policy / "policy.yaml").write_text(yaml.safe_dump(data))
        alone = open_ledger(home, open_policy)

        questions = load_golden(GOLDEN)
        sources = resolve_sources(ledger, questions)
        ask(ledger, alice, questions[0].question, route=WITH_RETRIEVAL)  # load the generator once, outside the figures
        rows: dict[str, list[dict[str, Any]]] = {EXTRACTIVE: [], WITH_RETRIEVAL: [], ALONE: [], "router": []}
        carol_routes: Counter[str] = Counter()
        for q in questions:
            doc_id = sources[q.source].doc_id
            rows[EXTRACTIVE].append(observe(ledger, "alice", q, doc_id, EXTRACTIVE))
            rows[WITH_RETRIEVAL].append(observe(ledger, "alice", q, doc_id, WITH_RETRIEVAL))
            rows[ALONE].append(observe(alone, "alice", q, doc_id, ALONE))
            rows["router"].append(observe(ledger, "alice", q, doc_id, None))
            carol_routes[ask(ledger, ledger.policy.principal("carol"), q.question).route["route"]] += 1
        out["reported_part"] = "test"
        out["routes"] = {name: by_part(r) for name, r in rows.items()}
        out["carol_router_routes"] = dict(carol_routes)
        out["carol_generator_routes"] = carol_routes[WITH_RETRIEVAL] + carol_routes[ALONE]
        out["routing_policy"] = ledger.policy.files.routing.model_dump()
        out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        from core.db import dispose_engines

        dispose_engines()
        shutil.rmtree(root, ignore_errors=True)
    import json

    print(json.dumps(out))


if __name__ == "__main__":
    main()
