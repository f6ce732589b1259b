"""Abstention on the demo corpus: does the chat answer only when a readable passage supports it?

Two question sets (bench/data/abstention_*.jsonl): answerable questions, each with the document that
answers it and the role asking; unanswerable ones (nothing in the corpus answers them, they name
people who are not in it, or the answer is only in a document the asker may not read, asked as that
asker). Each set is split by a fixed hash of the question text (`part`) into a tuning part and a
test part; the split was fixed before any score was seen, and identical question texts (asked by
two roles) always fall into the same part.

1. Every question is asked once with abstention switched off (a copy of the policies), to record the
   chosen passage's scores and what would be cited. The thresholds are chosen on the TUNING part
   only: the grid point that maximises (correct answers / answerable) + ("I don't know" /
   unanswerable), ties to the smaller thresholds.
2. The TEST part is then asked through the real policy (policies/policy.yaml `abstention:`), and its
   figures are the ones reported. The tuning part's figures under the same policy are printed too,
   labelled as such; so is the policy's distance from the tuned point (it should be none).

Run: .venv/bin/python -m bench.bench_abstention   (prints one JSON line last)
     .venv/bin/python -m bench.bench_abstention --tune   (calibration: asks the tuning part only)
"""
from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from core.answering.ask import ask
from core.config import REPO_ROOT, Settings
from core.rag.documents import list_documents
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger

DATA = Path(__file__).parent / "data"
SIMILARITY = [round(0.025 * i, 3) for i in range(29)]  # 0 .. 0.70
OVERLAP = [round(0.05 * i, 2) for i in range(21)]  # 0 .. 1
FUSED = [0.0, 0.015, 0.016, 0.0165, 0.02, 0.025, 0.03]  # one leg at rank 0 scores 1/60; both legs near the top about 0.033


def part(question: str) -> str:
    """The fixed split: even sha256 of the question text tunes, odd tests."""
    return "tune" if int(hashlib.sha256(question.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def open_ledger(home: Path, policies: Path) -> Ledger:
    return Ledger.open(Settings(home=home, policies_dir=policies, database_url=f"sqlite:///{home / 'ledger.db'}"))


def observe(ledger: Ledger, q: dict[str, Any], doc_ids: dict[str, str]) -> dict[str, Any]:
    """One ask: whether it answered, whether a used citation is the expected document, the scores."""
    result = ask(ledger, ledger.policy.principal(q["user"]), q["question"])
    expected = doc_ids.get(q.get("source", ""))
    scores = result.abstention.get("scores") or {}
    return {**q, "part": part(q["question"]), "answered": result.knows,
            "correct": result.knows and any(c.used and c.doc_id == expected for c in result.citations),
            "similarity": scores.get("similarity", -1.0), "fused": scores.get("fused", 0.0), "overlap": scores.get("overlap", 0.0),
            "see_also": len(result.see_also), "reason": result.abstention.get("reason", "")}


def figures(rows: list[dict[str, Any]], answers=lambda r: r["answered"]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answerable = [r for r in rows if "source" in r]
    unanswerable = [r for r in rows if "source" not in r]
    answered = [r for r in rows if answers(r)]
    correct = [r for r in answered if "source" in r and r["correct"]]
    return {"answerable": len(answerable), "unanswerable": len(unanswerable), "answered": len(answered),
            "precision_of_answering": round(len(correct) / len(answered), 3) if answered else None,
            "recall_of_answering": round(len(correct) / len(answerable), 3) if answerable else None,
            "i_dont_know_rate_on_unanswerable": round(sum(not answers(r) for r in unanswerable) / len(unanswerable), 3) if unanswerable else None}


def by_role(rows: list[dict[str, Any]]) -> dict[str, Any]:
    roles: dict[str, list] = defaultdict(list)
    for r in rows:
        roles[r["user"]].append(r)
    return {"all": figures(rows), **{u: figures(rs) for u, rs in sorted(roles.items())},
            "unanswerable_by_kind": {k: figures([r for r in rows if r.get("kind") == k])["i_dont_know_rate_on_unanswerable"]
                                     for k in ("not_in_corpus", "unknown_person", "not_readable")}}


def mistakes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answerable questions not answered from their document, unanswerable ones answered."""
    return [{"user": r["user"], "question": r["question"], "kind": r.get("kind", "answerable"), "answered": r["answered"],
             "similarity": r["similarity"], "fused": r["fused"], "overlap": r["overlap"]}
            for r in rows if ("source" in r) != bool(r["answered"] and r.get("correct", True)) or (r["answered"] and "source" not in r)]


def tune(rows: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
    """The grid point with the best (recall of answering + "I don't know" rate) on `rows`, which holds
    the answers the answerer would give with abstention off."""
    best: tuple[float, tuple[float, float, float]] | None = None
    for fused, sim, ov in itertools.product(FUSED, SIMILARITY, OVERLAP):
        rule = lambda r: r["answered"] and r["similarity"] >= sim and r["fused"] >= fused and r["overlap"] >= ov  # noqa: E731
        f = figures(rows, rule)
        score = f["recall_of_answering"] + f["i_dont_know_rate_on_unanswerable"]
        if best is None or score > best[0] + 1e-9:  # strict: ties keep the earlier, smaller thresholds
            best = (score, (sim, fused, ov))
    assert best is not None
    sim, fused, ov = best[1]
    return {"min_similarity": sim, "min_fused": fused, "min_overlap": ov}, round(best[0], 3)


def main(tune_only: bool = False) -> None:
    questions = load("abstention_answerable.jsonl") + load("abstention_unanswerable.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        live = open_ledger(home, REPO_ROOT / "policies")
        ops = live.policy.principal("ops")
        ingest(live, ops, [Source.from_path(p) for p in expand_paths([REPO_ROOT / "demo_corpus"])])
        titles = {d["title"]: d["doc_id"] for d in list_documents(live, ops)}
        doc_ids = {}
        for path in (REPO_ROOT / "demo_corpus").rglob("*.md"):
            text = path.read_text()
            if text.startswith("---"):
                doc_ids[str(path.relative_to(REPO_ROOT / "demo_corpus"))] = titles[yaml.safe_load(text.split("---")[1])["title"]]

        off = Path(tmp) / "policies-off"
        shutil.copytree(REPO_ROOT / "policies", off)
        policy = yaml.safe_load((off / "policy.yaml").read_text())
        policy["abstention"] = {**policy.get("abstention", {}), "enabled": False}
        (off / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
        unguarded = open_ledger(home, off)
        raw = [observe(unguarded, q, doc_ids) for q in questions if not tune_only or part(q["question"]) == "tune"]
        tuned, objective = tune([r for r in raw if r["part"] == "tune"])
        if tune_only:  # calibration: nothing of the test part is asked, so nothing of it can be looked at
            rows = [r for r in raw if r["part"] == "tune"]
            keep = lambda r: (r["answered"] and r["similarity"] >= tuned["min_similarity"]  # noqa: E731
                              and r["fused"] >= tuned["min_fused"] and r["overlap"] >= tuned["min_overlap"])
            print(json.dumps({"tuned_on_tuning_part": {**tuned, "objective": objective},
                              "tuning_part_without_abstention": figures(rows), "tuning_part_tuned": figures(rows, keep),
                              "tuning_part_mistakes": mistakes([{**r, "answered": keep(r)} for r in rows])}))
            return

        served = [observe(live, q, doc_ids) for q in questions]
        rule = live.policy.files.abstention
        policy_thresholds = {"min_similarity": rule.min_similarity, "min_fused": rule.min_fused, "min_overlap": rule.min_overlap}
        test = [r for r in served if r["part"] == "test"]
        tuning = [r for r in served if r["part"] == "tune"]
    print(json.dumps({
        "questions": {"answerable": sum("source" in q for q in questions), "unanswerable": sum("source" not in q for q in questions),
                      "test_part": len(test), "tuning_part": len(tuning)},
        "tuned_on_tuning_part": {**tuned, "objective": objective},
        "policy_thresholds": policy_thresholds, "policy_matches_tuned": policy_thresholds == tuned,
        "test_part": by_role(test),
        "tuning_part_for_reference": by_role(tuning),
        "without_abstention_test_part": figures([r for r in raw if r["part"] == "test"]),
        "test_part_mistakes": mistakes(test),
    }))


if __name__ == "__main__":
    import sys

    main(tune_only="--tune" in sys.argv[1:])
