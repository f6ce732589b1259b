"""Freshness at ingestion (issue 13): when an ingest gives a golden set's source document a new version,
the golden questions citing it are re-asked as every principal and the run is recorded, once per ingest
call after its whole batch (never per document or chunk), so a bulk ingest pays one small evaluation.

The run is the ledger's own check, required by policy.yaml (`evaluation.on_new_version: run` with a
`golden_set`), not a person's question: it asks through "see as" under the system actor below, which
holds only `policy.simulate`, and its record names who ingested what. A failure (a stale fact still
shown, a leak) never undoes the ingest: the documents are stored; the failure is recorded in the
evaluation record and shown on the Overview.
"""
from __future__ import annotations

import logging

from core.evaluation.golden import EvaluationReport, evaluate, load_golden, resolvable
from core.ledger import Ledger
from core.rag.ingest import AFTER_INGEST
from core.policy.engine import Principal

log = logging.getLogger(__name__)

FRESHNESS_ACTOR = Principal(name="freshness", display_name="automatic freshness check", role="system", groups=(),
                            clearance="public", permissions=frozenset({"policy.simulate"}), redaction_profile="strict")


def enabled(ledger: Ledger) -> bool:
    return ledger.policy.golden_set is not None and ledger.policy.files.evaluation.on_new_version == "run"


def after_ingest(ledger: Ledger, by: Principal, new_versions: list[str]) -> EvaluationReport | None:
    """Re-ask the golden questions whose source is one of `new_versions` (doc_ids that just got a new
    version); None when the policy switch is off, no golden set is configured or no question cites them."""
    if not new_versions or not enabled(ledger):
        return None
    questions = load_golden(ledger.policy.golden_set)  # type: ignore[arg-type]
    # Only the questions about these documents; a question whose source does not resolve (not ingested
    # here) is not about them, and must not fail the check of those that are.
    sources = resolvable(ledger, questions)
    citing = [q for q in questions if q.source in sources and sources[q.source].doc_id in set(new_versions)]
    if not citing:
        return None
    report = evaluate(ledger, FRESHNESS_ACTOR, citing, reason="new_version",
                      trigger={"by": by.name, "doc_ids": sorted(new_versions)})
    if report.regressions:
        log.warning("freshness check after ingest: %d failure(s): %s", len(report.regressions), "; ".join(report.regressions))
    return report


def _progress_line(ledger: Ledger, by: Principal, new_versions: list[str]) -> str | None:
    checked = after_ingest(ledger, by, new_versions)
    if checked is None:
        return None
    failed = f", {len(checked.regressions)} failure(s): " + "; ".join(checked.regressions) if checked.regressions else ", no failure"
    return f"freshness: {checked.questions} golden question(s) re-asked{failed}"


AFTER_INGEST.append(_progress_line)
