"""Running a fine-tuning job end to end: check the dataset's lineage is still lawful, train in a
scratch folder, register the checkpoint with its run, metrics and files."""
from __future__ import annotations

from typing import Any

from core.policy.actions import MODELS_TRAIN
from core.models.datasets import DatasetError, active_doc_ids, dataset_doc_ids, dataset_rows, get_dataset
from core.rag.embedder import BASE_MODEL_ID as EMBEDDER_BASE_ID
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.models.registry import DATASET_KIND, CheckpointError, CheckpointInfo, new_run, register_folder
from core.stores.tables import utcnow
from core.models.training import Progress, code_version, quiet, scratch_dir
from core.models.training.bases import GENERATOR_BASE_ID, base_path

BASES = {"embedder": EMBEDDER_BASE_ID, "generator": GENERATOR_BASE_ID}


def train(ledger: Ledger, principal: Principal, kind: str, dataset_id: str, *, hyper: dict[str, Any] | None = None,
          progress: Progress | None = None, replaces: str | None = None) -> CheckpointInfo:
    """Fine-tune `kind` ("embedder" or "generator") on a dataset version and register the checkpoint."""
    require_audited(ledger, principal, MODELS_TRAIN.name, dataset_id)
    if kind not in BASES:
        raise CheckpointError(f"unknown model kind {kind!r}", hint="train 'embedder' or 'generator'")
    dataset = get_dataset(ledger, dataset_id)
    if dataset.kind != DATASET_KIND[kind]:
        raise DatasetError(f"dataset {dataset_id} holds {dataset.kind} examples; a {kind} trains on {DATASET_KIND[kind]}",
                           hint=f"build one with `ragledger datasets build {DATASET_KIND[kind]}`")
    if dataset.flag_reason:
        raise DatasetError(f"dataset {dataset_id} is flagged: {dataset.flag_reason}", hint="rebuild it (`ragledger models retrain` does so)")
    docs = dataset_doc_ids(ledger, dataset_id)
    gone = sorted(set(docs) - active_doc_ids(ledger, docs))
    if gone:
        raise DatasetError(f"dataset {dataset_id} references deleted document(s): {', '.join(gone)}", hint="build a new dataset version")
    _require_readable(ledger, principal, docs)
    rows = dataset_rows(ledger, dataset_id)
    report = quiet(progress)
    report("preparing the base model", 0, 1)
    base_id = BASES[kind]
    base = base_path(ledger, base_id)
    started = utcnow()
    with scratch_dir(ledger, kind) as scratch:
        try:
            if kind == "embedder":
                from core.models.training import embedder as job

                metrics = job.train(base, rows, scratch, hyper or {}, progress)
                folder, used = scratch / "model", {**job.DEFAULTS, **(hyper or {})}
            else:
                from core.models.training import generator as job  # type: ignore[no-redef]

                metrics = job.train(base, rows, scratch, hyper or {}, progress)
                folder, used = scratch / "adapter", {**job.DEFAULTS, **(hyper or {})}
        except ValueError as exc:
            raise DatasetError(f"dataset {dataset_id} cannot train a {kind}: {exc}", hint="build a larger dataset") from exc
        run = new_run(kind, dataset_id, base_id, code_version(), used, principal, started, utcnow())
        report("registering the checkpoint", 1, 1)
        return register_folder(ledger, principal, kind, folder, dataset=dataset, base_id=base_id, run=run, metrics=metrics,
                               replaces=replaces, move=True)


def _require_readable(ledger: Ledger, principal: Principal, doc_ids: list[str]) -> None:
    """Nobody trains on text they could not read themselves (a dataset built by someone else)."""
    from core.rag.documents import get_document
    from core.errors import AccessDenied

    hidden = [d for d in doc_ids if not principal.can_see(get_document(ledger, d)["groups"], get_document(ledger, d)["classification"])]
    if hidden:
        raise AccessDenied(f"{principal.name} may not read {len(hidden)} document(s) in this dataset",
                           hint="build a dataset from documents you may read (`ragledger datasets build`)")


def train_embedder(ledger: Ledger, principal: Principal, dataset_id: str, **kw: Any) -> CheckpointInfo:
    return train(ledger, principal, "embedder", dataset_id, **kw)


def train_generator(ledger: Ledger, principal: Principal, dataset_id: str, **kw: Any) -> CheckpointInfo:
    return train(ledger, principal, "generator", dataset_id, **kw)
