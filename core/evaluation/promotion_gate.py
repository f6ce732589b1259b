"""The promotion gate (issue 13): before a checkpoint becomes production, the golden set is asked with
it serving and compared, principal by principal, with the current production asked the same way now.
A candidate that lowers recall@k or citation correctness for any principal, or that leaks, is refused
unless the promoter gives a reason to override, which the gate's audit record keeps.

How a candidate embedder serves for the gate: the corpus is re-embedded into a side table, exactly
the table a promotion builds anyway, and the questions run against it through a view of the ledger
(`candidate_view`). An index of the golden-set documents alone would be cheaper to build but would
flatter the candidate: with no other documents to compete against, recall@k is near 1 for anything.
The side table costs nothing extra when the gate passes (it becomes the new index; re-embedded again
only if an ingest or purge changed the corpus meanwhile) and is dropped when it refuses.
A candidate generator serves through the `answerer` argument of the same questions.

The current production's run is an ordinary recorded evaluation (reason `gate`); the candidate's is
not (drift and freshness follow what served), its figures go into the `promotion_gate` record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.rag.chunk_store import ChunkStore
from core.evaluation.golden import TOLERANCE, EvaluationReport, evaluate, load_golden
from core.ledger import Ledger
from core.policy.engine import Principal
from core.models.registry import CheckpointError, CheckpointInfo
from core.models.registry_events import PromotionGated
from core.models.serving import build_side_index, drop_side_index

GATED = ("recall_at_k", "citation_correct")


class PromotionRefused(CheckpointError):
    """The candidate regressed against production on the golden set; nothing was promoted."""

    exit_code = 6


@dataclass
class GateResult:
    outcome: str  # passed, overridden, or not_run (no golden set, or the gate is off)
    regressions: list[str] = field(default_factory=list)
    side_table: str | None = None  # embedders: the re-embedded index to switch to
    built_from: int = 0  # the version of the active table the side index copied
    audit_id: str | None = None


def candidate_view(ledger: Ledger, table: str, path: Path, identity: str) -> Ledger:
    """The same ledger (database, audit log, policy) retrieving from `table` with the embedder at `path`."""
    from core.rag.embedder import Embedder

    view = Ledger(ledger.settings, ledger.policy)
    view.__dict__.update(engine=ledger.engine, audit=ledger.audit, store=ChunkStore(ledger.settings.lance_location, table=table, cipher=ledger.chunk_cipher),
                         embedder=Embedder(path, identity), _index_seen=ledger.active_index())
    return view


def regressions(candidate: EvaluationReport, production: EvaluationReport) -> list[str]:
    """What the candidate does worse than production: a gated metric of any principal, or any leak."""
    now = {s.principal: s for s in production.scores}
    out = []
    for s in candidate.scores:
        if s.leaks:
            out.append(f"{s.principal}: {s.leaks} question(s) retrieved or cited a document {s.principal} may not read")
        old = now.get(s.principal)
        for m in GATED:
            if old is not None and getattr(s, m) < getattr(old, m) - TOLERANCE:
                out.append(f"{s.principal}: {m} {getattr(s, m):.3f} < production {getattr(old, m):.3f}")
    return out


def run_gate(ledger: Ledger, principal: Principal, info: CheckpointInfo, *, override: str | None = None, progress=None) -> GateResult:  # type: ignore[no-untyped-def]
    """Evaluate `info` against production; raise PromotionRefused on a regression without `override`."""
    rule = ledger.policy.files.evaluation
    if ledger.policy.golden_set is None or not rule.promotion_gate:
        return GateResult("not_run")
    if override is not None and not override.strip():
        raise CheckpointError("an override needs a reason", hint="say why this checkpoint may serve despite the regression")
    questions = load_golden(ledger.policy.golden_set)
    report = progress or (lambda _m, _d, _t: None)
    report(f"gate: asking {len(questions)} golden questions with the current production", 0, 2)
    production = evaluate(ledger, principal, questions, reason="gate", trigger={"checkpoint_id": info.checkpoint_id})
    side, built_from = None, 0
    try:
        if info.kind == "embedder":
            side = f"chunks_{info.checkpoint_id[4:]}"
            built_from = build_side_index(ledger, Path(info.path), info.checkpoint_id, side, progress)
            report(f"gate: asking them with {info.checkpoint_id}", 1, 2)
            candidate = evaluate(candidate_view(ledger, side, Path(info.path), info.checkpoint_id), principal, questions, record=False)
        else:
            from core.rag.answerers.generative import register_checkpoint
            from core.models.training.bases import base_path

            name = register_checkpoint(info.checkpoint_id, base_path(ledger, info.base_model_id), Path(info.path))
            report(f"gate: asking them with {info.checkpoint_id}", 1, 2)
            candidate = evaluate(ledger, principal, questions, answerer=name, record=False)
    except BaseException:
        if side is not None:
            drop_side_index(ledger, side)
        raise
    found = regressions(candidate, production)
    outcome = "passed" if not found else ("overridden" if override else "refused")
    audit_id = ledger.audit.append(PromotionGated(
        actor=principal.name, actor_role=principal.role, checkpoint_id=info.checkpoint_id, model_kind=info.kind, outcome=outcome,
        regressions=found, override_reason=override.strip() if found and override else None, questions=len(questions), k=candidate.k,
        candidate=_figures(candidate), production=_figures(production), production_run=production.audit_id))
    if outcome == "refused":
        if side is not None:
            drop_side_index(ledger, side)
        raise PromotionRefused(f"{info.checkpoint_id} regresses on the golden set against production: " + "; ".join(found),
                               hint="nothing was promoted; improve the checkpoint, or promote with --override REASON "
                                    "(the Models page's reason box), which the audit log records")
    report("gate: " + outcome, 2, 2)
    return GateResult(outcome, found, side, built_from, audit_id)


def _figures(report: EvaluationReport) -> dict[str, Any]:
    return {s.principal: {m: getattr(s, m) for m in (*GATED, "answer_contains")} | {"leaks": s.leaks} for s in report.scores}
