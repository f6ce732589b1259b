"""Moving a model through its life: promotion (which, for an embedder, re-embeds the corpus and switches
the index) and retraining (a rebuilt dataset, the same kind trained again).

Above the registry, serving and training, which it orchestrates; the registry itself only records
(so core/models/registry.py imports neither serving nor training, and no import circle runs through them).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.policy.actions import MODELS_APPROVE, MODELS_TRAIN
from core.models.datasets import active_doc_ids, build_dataset, dataset_doc_ids, get_dataset
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.models.registry import CheckpointError, CheckpointInfo, get_checkpoint, production, set_stage, verify_checkpoint
from core.models.registry_events import CheckpointStageChanged
from core.stores.registry_tables import TrainingRun
from core.evaluation.promotion_gate import run_gate
from core.models.serving import adopt_side_index, switch_embedder
from core.models.training.jobs import train


def promote(ledger: Ledger, principal: Principal, checkpoint_id: str, stage: str, progress=None,  # type: ignore[no-untyped-def]
            override: str | None = None) -> CheckpointInfo:
    """Move a checkpoint to approved, production or archived (compliance only). Promoting to production
    first passes the golden-set gate when one is configured (core/evaluation/promotion_gate.py: refused on a
    regression against the current production unless `override` gives a reason). Promoting an embedder
    re-embeds the corpus into a new index and switches to it; the previous production checkpoint of
    the same kind is archived."""
    require_audited(ledger, principal, MODELS_APPROVE.name, checkpoint_id)
    if stage not in ("approved", "production", "archived"):
        raise CheckpointError(f"cannot promote to {stage!r}", hint="use approved, production or archived; flag with `models flag`")
    info = get_checkpoint(ledger, checkpoint_id)
    if info.stage == "flagged" and stage != "archived":
        raise CheckpointError(f"{checkpoint_id} is flagged: {info.flag_reason}", hint=f"retrain it: `ragledger models retrain {checkpoint_id}`")
    if info.stage == stage:
        return info
    if stage == "production" and verify_checkpoint(ledger, principal, checkpoint_id):
        raise CheckpointError(f"{checkpoint_id}'s files no longer match their sha256", hint="re-register the checkpoint from a good copy")
    table = None
    if stage == "production":
        reembed = info.kind == "embedder" and ledger.active_index().get("embedder_id") != checkpoint_id
        # (an embedder already serving after a fallback has nothing to re-embed, nor to be compared with)
        gate = run_gate(ledger, principal, info, override=override, progress=progress) if reembed or info.kind != "embedder" else None
        if reembed:
            if gate is not None and gate.side_table is not None:
                table = adopt_side_index(ledger, Path(info.path), checkpoint_id, gate.side_table, gate.built_from, progress)
            else:
                table = switch_embedder(ledger, info, progress)
        current = production(ledger, info.kind)
        if current is not None:
            set_stage(ledger, current.checkpoint_id, stage="archived")
            ledger.audit.append(CheckpointStageChanged(actor=principal.name, actor_role=principal.role, checkpoint_id=current.checkpoint_id,
                                                       from_stage="production", to_stage="archived"))
    extra = {"approved_by": principal.name} if stage in ("approved", "production") else {}
    set_stage(ledger, checkpoint_id, stage=stage, **extra)
    ledger.audit.append(CheckpointStageChanged(actor=principal.name, actor_role=principal.role, checkpoint_id=checkpoint_id,
                                               from_stage=info.stage, to_stage=stage, index_table=table))
    return get_checkpoint(ledger, checkpoint_id)


def retrain(ledger: Ledger, principal: Principal, checkpoint_id: str, progress=None, hyper: dict[str, Any] | None = None) -> CheckpointInfo:  # type: ignore[no-untyped-def]
    """Rebuild the checkpoint's dataset without documents that are no longer active, train the same
    kind with the same hyperparameters, and register the result as its replacement."""
    require_audited(ledger, principal, MODELS_TRAIN.name, checkpoint_id)
    info = get_checkpoint(ledger, checkpoint_id)
    old = get_dataset(ledger, info.dataset_id)
    if old.source != "built":
        raise CheckpointError(f"{checkpoint_id} was trained elsewhere on dataset {old.dataset_id}",
                              hint="retrain it where it was trained, then register the new folder with `ragledger models register`")
    docs = dataset_doc_ids(ledger, old.dataset_id)
    erased = sorted(set(docs) - active_doc_ids(ledger, docs))
    filters = dict(old.filters)
    kept_ids = [d for d in filters.get("doc_ids", []) if d not in erased] or None
    if filters.get("doc_ids") and not kept_ids:
        raise CheckpointError("every document of the dataset was erased", hint="build a new dataset from other documents")
    dataset = build_dataset(ledger, principal, old.kind, name=f"{old.name}-rebuilt", groups=filters.get("groups"),
                            max_classification=filters.get("max_classification"), doc_ids=kept_ids,
                            redaction_profile=old.redaction_profile, params=old.params,
                            exclude_doc_ids=sorted(set(erased) | set(filters.get("exclude_doc_ids", []))),
                            rebuilt_from=old.dataset_id, progress=progress)
    t = TrainingRun.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        run = conn.execute(select(t.c.hyperparams).where(t.c.run_id == info.run_id)).first()
    params = {**(json.loads(run[0]) if run else {}), **(hyper or {})}
    return train(ledger, principal, info.kind, dataset.dataset_id, hyper=params, progress=progress, replaces=checkpoint_id)
