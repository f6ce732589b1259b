"""Drift between golden-set evaluations (issue 13): each run compared, question by question and
principal by principal, with the latest earlier run that asked the same question, so a partial run
(`--changed`, freshness after an ingest) is compared over what it asked.

A question drifts when the documents its answer cites changed, or when its document's best passage
lost more cosine similarity than policy.yaml's `evaluation.drift_score_drop` (dropping out of the k
retrieved passages counts as a drop). Ranks are reported beside them; they move with every new
document, so they alone do not make a question drift. Figures only: the records hold question keys,
and the text comes from the configured golden set when there is one.
"""
from __future__ import annotations

from typing import Any

from core.evaluation.golden import load_golden, question_key
from core.evaluation.golden_events import EvaluationRun
from core.ledger import Ledger

HISTORY = 50  # evaluation records read for the drift and the recall chart
SUBSET_REASONS = ("changed", "new_version")  # runs over part of the set: their recall is not the set's


def history(ledger: Ledger, limit: int = HISTORY) -> list[dict[str, Any]]:
    """The newest evaluation records (newest first), time and figures."""
    return [{"at": r["at"], "record_id": r["record_id"], **r["payload"]}
            for r in ledger.audit.records(kinds=[EvaluationRun.kind], limit=limit)]


def question_texts(ledger: Ledger) -> dict[str, str]:
    path = ledger.policy.golden_set
    if path is None or not path.is_file():
        return {}
    return {question_key(q.question): q.question for q in load_golden(path)}


def drift(runs: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The questions of the newest run (runs[0]) that drifted against their latest earlier answer."""
    if not runs:
        return []
    newest, earlier = runs[0], runs[1:]
    out = []
    for principal, questions in sorted((newest.get("details") or {}).items()):
        for key, now in sorted(questions.items()):
            before = next((r["details"][principal][key] for r in earlier if key in (r.get("details") or {}).get(principal, {})), None)
            if before is None:
                continue
            cited_changed = sorted(now.get("cited") or []) != sorted(before.get("cited") or [])
            was, sim = before.get("similarity"), now.get("similarity")
            drop = None if was is None else round(was - (sim if sim is not None else -1.0), 4)  # out of the k: from was to -1
            if cited_changed or (drop is not None and drop > threshold):
                out.append({"principal": principal, "question": key, "cited_before": before.get("cited") or [], "cited_now": now.get("cited") or [],
                            "rank_before": before.get("rank"), "rank_now": now.get("rank"), "similarity_before": was, "similarity_now": sim,
                            "dropped_by": drop, "citations_changed": cited_changed})
    return out


def recall_series(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """recall@k per principal per whole-set run, oldest first (the Overview's chart)."""
    return [{"at": r["at"], "principal": p, "recall_at_k": s.get("recall_at_k"), "reason": r.get("reason", "manual"), "k": r.get("k")}
            for r in reversed(runs) if r.get("reason") not in SUBSET_REASONS for p, s in sorted((r.get("scores") or {}).items())]


def evaluation_summary(ledger: Ledger) -> dict[str, Any]:
    """The last evaluation, its failures, the drift against earlier runs and the recall series."""
    runs = history(ledger)
    threshold = ledger.policy.files.evaluation.drift_score_drop
    texts = question_texts(ledger)
    drifted = [d | {"text": texts.get(d["question"], d["question"])} for d in drift(runs, threshold)]
    last = runs[0] if runs else None
    return {"last": last, "failures": (last or {}).get("failures", []), "drift": drifted, "threshold": threshold,
            "recall": recall_series(runs), "runs": len(runs)}
