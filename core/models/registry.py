"""The model registry: checkpoints with their files' sha256, metrics, stage and model card, the run
and the dataset version they came from, and the flags that erasure puts on them.

Registration validates everything first (folder, weights, digests, base model, dataset lineage),
then copies the folder under settings.models_dir/checkpoints/<id> and writes the run, checkpoint
and file rows in one transaction; if the write fails the folder is removed again, so a bad input
leaves nothing half-registered. Stage changes: ML engineers propose, compliance approves and
promotes to production; flagged checkpoints can only be replaced (see `retrain`).
"""
from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from core.policy.actions import MODELS_APPROVE, MODELS_READ, MODELS_TRAIN
from core.models.datasets import DatasetError, DatasetInfo, active_doc_ids, dataset_doc_ids, get_dataset, rows_from_manifest, store_dataset
from core.errors import NotFound, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.models.registry_events import CheckpointRegistered, CheckpointsFlagged, CheckpointStageChanged
from core.stores.registry_tables import KINDS, Checkpoint, CheckpointFile, DatasetRow, DatasetVersion, TrainingRun
from core.stores.tables import utcnow
from core.models.training.bases import base_model, sha256_file

REQUIRED_FILES = {"embedder": ("config.json", "model.safetensors"), "generator": ("adapter_config.json", "adapter_model.safetensors")}
DATASET_KIND = {"embedder": "pairs", "generator": "qa"}
SYSTEM_ACTOR = ("registry", "system")


class CheckpointError(RagLedgerError):
    """A checkpoint cannot be registered or changed as asked. Nothing was written."""


@dataclass
class CheckpointInfo:
    checkpoint_id: str
    kind: str
    stage: str
    run_id: str
    dataset_id: str
    base_model_id: str
    path: str
    metrics: dict[str, Any]
    size_bytes: int
    created_by: str
    created_at: str
    model_card: str = ""
    prior_stage: str | None = None
    flag_reason: str | None = None
    flag_request_id: str | None = None
    replaces: str | None = None
    proposed_by: str | None = None
    approved_by: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hash_folder(folder: Path) -> list[dict[str, Any]]:
    return [{"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "size": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file()]


def validate_folder(kind: str, folder: Path) -> None:
    """A checkpoint folder must hold its kind's files, parseable config and readable safetensors."""
    from safetensors import SafetensorError, safe_open

    if kind not in KINDS:
        raise CheckpointError(f"unknown checkpoint kind {kind!r}", hint="use 'embedder' or 'generator'")
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist", hint="pass the folder that holds the weights")
    config_name, weights_name = REQUIRED_FILES[kind]
    for name in (config_name, weights_name):
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint folder {folder} has no {name}", hint=f"a {kind} checkpoint needs {' and '.join(REQUIRED_FILES[kind])}")
    try:
        config = json.loads((folder / config_name).read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{folder / config_name} is not valid JSON ({exc})", hint="the checkpoint folder is corrupt; copy it again") from exc
    if kind == "generator" and "peft_type" not in config:
        raise CheckpointError(f"{folder / config_name} is not a peft adapter config", hint="save the adapter with peft's save_pretrained")
    try:
        with safe_open(str(folder / weights_name), "pt") as f:
            if not list(f.keys()):
                raise CheckpointError(f"{folder / weights_name} holds no tensors", hint="the checkpoint folder is corrupt")
    except SafetensorError as exc:
        raise CheckpointError(f"{folder / weights_name} is corrupt ({exc})", hint="copy the checkpoint folder again") from exc


def _model_card(ckpt_id: str, kind: str, base_id: str, ds: DatasetInfo, run: dict[str, Any], metrics: dict[str, Any],
                files: list[dict[str, Any]], replaces: str | None) -> str:
    lines = [f"# Model card: {ckpt_id}", "", f"- kind: {kind}", f"- base model: {base_id}",
             f"- training run: {run['run_id']} ({run['status']}) by {run['run_by']}, code {run['code_version']}",
             f"- dataset: {ds.dataset_id} ({ds.name}), builder {ds.builder}, {ds.rows} rows from {ds.docs} documents, "
             f"digest {ds.digest[:16]}…", f"- training text redacted with profile '{ds.redaction_profile}' under policy {ds.policy_version}"]
    if replaces:
        lines.append(f"- replaces {replaces} (retrained without erased documents)")
    lines += ["", "## Hyperparameters", "", "```json", json.dumps(json.loads(run["hyperparams"]), indent=2, sort_keys=True), "```",
              "", "## Metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(metrics.items())]
    lines += ["", "## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {f['path']} | {f['size']} | `{f['sha256']}` |" for f in files]
    use = ("Retrieval embeddings for this ledger's corpus; serves after a compliance officer promotes it (the corpus is re-embedded)."
           if kind == "embedder" else
           "A LoRA adapter for grounded, cited answers. SmolLM2-135M is a small demo model: check every answer against its citations.")
    lines += ["", "## Intended use and limits", "", use,
              "Lineage to every source document is in the registry (`ragledger models lineage`); an erasure of any of them flags this checkpoint."]
    return "\n".join(lines) + "\n"


def register_folder(ledger: Ledger, principal: Principal, kind: str, folder: Path, *, dataset: DatasetInfo, base_id: str,
                    run: dict[str, Any], metrics: dict[str, Any], replaces: str | None = None, move: bool = False,
                    expected: dict[str, str] | None = None, external: bool = False) -> CheckpointInfo:
    """Validate, hash and store one checkpoint folder with its run (all or nothing)."""
    try:
        base = base_model(ledger, base_id)
    except NotFound as exc:
        raise CheckpointError(exc.message, hint=exc.hint) from exc
    if base["kind"] != kind:
        raise CheckpointError(f"base model {base_id} is a {base['kind']}, not a {kind}", hint="pick a base model of the same kind")
    validate_folder(kind, folder)
    files = hash_folder(folder)
    if expected is not None:
        _check_digests(files, expected)
    ckpt_id = f"ckp_{uuid.uuid4().hex[:16]}"
    dest = ledger.settings.models_dir / "checkpoints" / ckpt_id
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(ckpt_id + ".partial")
    shutil.move(str(folder), str(partial)) if move else shutil.copytree(folder, partial)
    partial.replace(dest)
    size = sum(f["size"] for f in files)
    card = _model_card(ckpt_id, kind, base_id, dataset, run, metrics, files, replaces)
    try:
        with ledger.engine.begin() as conn:
            conn.execute(TrainingRun.__table__.insert().values(**run, metrics=json.dumps(metrics, sort_keys=True)))  # type: ignore[attr-defined]
            conn.execute(Checkpoint.__table__.insert().values(  # type: ignore[attr-defined]
                checkpoint_id=ckpt_id, kind=kind, stage="candidate", run_id=run["run_id"], dataset_id=dataset.dataset_id,
                base_model_id=base_id, path=str(dest), metrics=json.dumps(metrics, sort_keys=True), model_card=card,
                size_bytes=size, replaces=replaces, created_by=principal.name))
            conn.execute(CheckpointFile.__table__.insert(), [{"checkpoint_id": ckpt_id, **f} for f in files])  # type: ignore[attr-defined]
    except Exception:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    ledger.audit.append(CheckpointRegistered(
        actor=principal.name, actor_role=principal.role, checkpoint_id=ckpt_id, model_kind=kind, run_id=run["run_id"],
        dataset_id=dataset.dataset_id, base_model_id=base_id, files=len(files), size_bytes=size,
        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))}, replaces=replaces, external=external))
    return get_checkpoint(ledger, ckpt_id)


def _check_digests(files: list[dict[str, Any]], expected: dict[str, str]) -> None:
    actual = {f["path"]: f["sha256"] for f in files}
    for path, digest in expected.items():
        if path not in actual:
            raise CheckpointError(f"the manifest lists {path}, which the folder lacks", hint="copy the complete checkpoint folder")
        if actual[path] != str(digest).lower():
            raise CheckpointError(f"sha256 mismatch for {path}: manifest {str(digest)[:12]}…, file {actual[path][:12]}…",
                                  hint="the file changed or was corrupted in transit; copy it again")


def new_run(kind: str, dataset_id: str, base_id: str, code_version: str, hyper: dict[str, Any], principal: Principal,
            started: datetime, ended: datetime, status: str = "succeeded") -> dict[str, Any]:
    return {"run_id": f"run_{uuid.uuid4().hex[:16]}", "kind": kind, "dataset_id": dataset_id, "base_model_id": base_id,
            "code_version": code_version, "hyperparams": json.dumps(hyper, sort_keys=True), "status": status,
            "run_by": principal.name, "started_at": started, "ended_at": ended}


def register_external(ledger: Ledger, principal: Principal, folder: Path, manifest_path: Path) -> CheckpointInfo:
    """Register a checkpoint trained elsewhere (a GPU cluster): a weights folder plus a JSON manifest
    {"kind", "base_model", "files": {path: sha256}, "dataset": {"dataset_id"} | {"name", "rows": [...]},
     "hyperparams", "metrics", "code_version", "trained_by"}."""
    require_audited(ledger, principal, MODELS_TRAIN.name, "models")
    try:
        manifest = json.loads(Path(manifest_path).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read the manifest {manifest_path}: {exc}", hint="give a JSON dataset manifest") from exc
    kind, base_id = manifest.get("kind"), manifest.get("base_model")
    if kind not in KINDS or not isinstance(base_id, str):
        raise CheckpointError("the manifest needs 'kind' (embedder|generator) and 'base_model'", hint="fix the manifest")
    try:
        base_model(ledger, base_id)
    except NotFound as exc:
        raise CheckpointError(exc.message, hint=exc.hint) from exc
    validate_folder(kind, Path(folder))
    spec = manifest.get("dataset") or {}
    rows: list[dict[str, Any]] | None = None
    if spec.get("dataset_id"):
        try:
            dataset = get_dataset(ledger, spec["dataset_id"])
        except NotFound as exc:
            raise CheckpointError(exc.message, hint=exc.hint) from exc
        if dataset.kind != DATASET_KIND[kind]:
            raise CheckpointError(f"dataset {dataset.dataset_id} is a {dataset.kind} dataset", hint=f"a {kind} trains on {DATASET_KIND[kind]}")
        docs = dataset_doc_ids(ledger, dataset.dataset_id)
        gone = sorted(set(docs) - active_doc_ids(ledger, docs))
        if gone:
            raise DatasetError(f"dataset {dataset.dataset_id} references deleted document(s): {', '.join(gone)}", hint="retrain without them")
    else:
        rows = rows_from_manifest(ledger, spec)
    expected = manifest.get("files")
    if expected is not None:
        if not isinstance(expected, dict):
            raise CheckpointError("the manifest's 'files' must map relative paths to sha256", hint="fix the manifest")
        _check_digests(hash_folder(Path(folder)), expected)
    created: DatasetInfo | None = None
    if rows is not None:
        created = dataset = store_dataset(
            ledger, principal, DATASET_KIND[kind], str(spec.get("builder") or "external"), rows, name=spec.get("name"),
            params=spec.get("params") or {}, filters=spec.get("filters") or {},
            profile_name=str(spec.get("redaction_profile") or "unknown"), source="manifest")
    now = utcnow()
    run = new_run(kind, dataset.dataset_id, base_id, str(manifest.get("code_version") or "external"), manifest.get("hyperparams") or {},
                  principal, now, now, status="external")
    try:
        return register_folder(ledger, principal, kind, Path(folder), dataset=dataset, base_id=base_id, run=run,
                               metrics=manifest.get("metrics") or {}, expected=expected, external=True)
    except Exception:
        if created is not None:  # nothing half-registered: drop the dataset stored for this checkpoint
            with ledger.engine.begin() as conn:
                conn.execute(DatasetRow.__table__.delete().where(DatasetRow.dataset_id == created.dataset_id))  # type: ignore[attr-defined]
                conn.execute(DatasetVersion.__table__.delete().where(DatasetVersion.dataset_id == created.dataset_id))  # type: ignore[attr-defined]
        raise


def _info(row: dict[str, Any], files: list[dict[str, Any]] | None = None) -> CheckpointInfo:
    return CheckpointInfo(
        checkpoint_id=row["checkpoint_id"], kind=row["kind"], stage=row["stage"], run_id=row["run_id"], dataset_id=row["dataset_id"],
        base_model_id=row["base_model_id"], path=row["path"], metrics=json.loads(row["metrics"]), size_bytes=row["size_bytes"],
        created_by=row["created_by"], created_at=str(row["created_at"]), model_card=row["model_card"], prior_stage=row["prior_stage"],
        flag_reason=row["flag_reason"], flag_request_id=row["flag_request_id"], replaces=row["replaces"],
        proposed_by=row["proposed_by"], approved_by=row["approved_by"], files=files or [])


def get_checkpoint(ledger: Ledger, checkpoint_id: str) -> CheckpointInfo:
    """Internal lookup (no permission check)."""
    t, ft = Checkpoint.__table__, CheckpointFile.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.checkpoint_id == checkpoint_id)).mappings().first()
        if row is None:
            raise NotFound(f"no checkpoint {checkpoint_id!r}", hint="list them with `ragledger models list`")
        files = [{"path": f["path"], "sha256": f["sha256"], "size": f["size"]}
                 for f in conn.execute(select(ft).where(ft.c.checkpoint_id == checkpoint_id).order_by(ft.c.path)).mappings()]
    return _info(dict(row), files)


def list_checkpoints(ledger: Ledger, principal: Principal, *, kind: str | None = None, stage: str | None = None) -> list[CheckpointInfo]:
    require_audited(ledger, principal, MODELS_READ.name, "models")
    t = Checkpoint.__table__  # type: ignore[attr-defined]
    q = select(t).order_by(t.c.created_at.desc())
    if kind:
        q = q.where(t.c.kind == kind)
    if stage:
        q = q.where(t.c.stage == stage)
    with ledger.engine.connect() as conn:
        return [_info(dict(r)) for r in conn.execute(q).mappings()]


def show_checkpoint(ledger: Ledger, principal: Principal, checkpoint_id: str) -> CheckpointInfo:
    require_audited(ledger, principal, MODELS_READ.name, checkpoint_id)
    return get_checkpoint(ledger, checkpoint_id)


def verify_checkpoint(ledger: Ledger, principal: Principal, checkpoint_id: str) -> list[str]:
    """Re-hash the stored files; return the paths that are missing or differ (empty: intact)."""
    info = show_checkpoint(ledger, principal, checkpoint_id)
    folder, bad = Path(info.path), []
    for f in info.files:
        p = folder / f["path"]
        if not p.is_file() or sha256_file(p) != f["sha256"]:
            bad.append(f["path"])
    return bad


def production(ledger: Ledger, kind: str, *, may_serve_flagged: bool = False) -> CheckpointInfo | None:
    """The checkpoint of `kind` in production (or flagged while in production, when policy allows it to serve)."""
    t = Checkpoint.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.kind == kind, t.c.stage == "production")).mappings().first()
        if row is None and may_serve_flagged:
            row = conn.execute(select(t).where(t.c.kind == kind, t.c.stage == "flagged", t.c.prior_stage == "production")
                               .order_by(t.c.updated_at.desc())).mappings().first()
    return _info(dict(row)) if row else None


def set_stage(ledger: Ledger, checkpoint_id: str, **values: Any) -> None:
    t = Checkpoint.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(update(t).where(t.c.checkpoint_id == checkpoint_id).values(**values, updated_at=utcnow()))


def propose(ledger: Ledger, principal: Principal, checkpoint_id: str) -> CheckpointInfo:
    """An ML engineer proposes a candidate for promotion; a compliance officer decides."""
    require_audited(ledger, principal, MODELS_TRAIN.name, checkpoint_id)
    info = get_checkpoint(ledger, checkpoint_id)
    if info.stage != "candidate":
        raise CheckpointError(f"{checkpoint_id} is {info.stage}; only candidates can be proposed", hint="retrain flagged checkpoints")
    set_stage(ledger, checkpoint_id, proposed_by=principal.name)
    ledger.audit.append(CheckpointStageChanged(actor=principal.name, actor_role=principal.role, checkpoint_id=checkpoint_id,
                                               from_stage="candidate", to_stage="candidate (proposed)"))
    return get_checkpoint(ledger, checkpoint_id)


def restore_production(ledger: Ledger, actor: tuple[str, str], info: CheckpointInfo, table: str) -> None:
    """An embedder fallback (core/models/serving.py) serves `info` again: it served in production before,
    approved by compliance, so it is the production checkpoint again and the registry says what
    serves (a later promotion archives it as usual)."""
    set_stage(ledger, info.checkpoint_id, stage="production")
    ledger.audit.append(CheckpointStageChanged(actor=actor[0], actor_role=actor[1], checkpoint_id=info.checkpoint_id,
                                               from_stage=info.stage, to_stage="production", index_table=table))


def _may_flag(ledger: Ledger, principal: Principal, target: str) -> None:
    action = MODELS_APPROVE.name if principal.may(MODELS_APPROVE.name) else MODELS_TRAIN.name
    require_audited(ledger, principal, action, target)


def flag(ledger: Ledger, principal: Principal, checkpoint_id: str, reason: str) -> CheckpointInfo:
    """Flag one checkpoint by hand ("retraining required"), e.g. after a bad evaluation."""
    _may_flag(ledger, principal, checkpoint_id)
    if not reason.strip():
        raise CheckpointError("a flag needs a reason", hint="say why retraining is required")
    info = get_checkpoint(ledger, checkpoint_id)
    if info.stage != "flagged":
        set_stage(ledger, checkpoint_id, stage="flagged", prior_stage=info.stage, flag_reason=reason.strip())
        ledger.audit.append(CheckpointsFlagged(actor=principal.name, actor_role=principal.role, checkpoint_ids=[checkpoint_id], reason=reason.strip()))
    return get_checkpoint(ledger, checkpoint_id)


def flag_documents(ledger: Ledger, principal: Principal, doc_ids: list[str], reason: str) -> list[str]:
    """A manual flag of documents: every dataset holding them and every checkpoint downstream."""
    _may_flag(ledger, principal, "documents")
    return _flag_docs(ledger, doc_ids, None, reason, (principal.name, principal.role), erase_text=False)


def checkpoints_trained_on(ledger: Ledger, doc_ids: list[str]) -> list[str]:
    """Checkpoints trained on a dataset version that holds any of `doc_ids` (what `flag_for_erasure`
    would flag), read-only: an erasure preview names them before anything is erased."""
    if not doc_ids:
        return []
    rt, ct = DatasetRow.__table__, Checkpoint.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        datasets = select(rt.c.dataset_id).where(rt.c.doc_id.in_(doc_ids)).distinct()
        rows = conn.execute(select(ct.c.checkpoint_id).where(ct.c.dataset_id.in_(datasets)).order_by(ct.c.checkpoint_id)).all()
    return [r[0] for r in rows]


def flag_for_erasure(ledger: Ledger, doc_ids: list[str], request_id: str, reason: str) -> list[str]:
    """Called by the erasure purge: flag every dataset version containing any of `doc_ids` and every
    checkpoint trained on one, blank the erased rows' training text, return the checkpoint ids.
    Idempotent; touches nothing that does not contain those documents."""
    return _flag_docs(ledger, doc_ids, request_id, reason, SYSTEM_ACTOR, erase_text=True)


def _flag_docs(ledger: Ledger, doc_ids: list[str], request_id: str | None, reason: str, actor: tuple[str, str], *, erase_text: bool) -> list[str]:
    if not doc_ids:
        return []
    rt, dt, ct = DatasetRow.__table__, DatasetVersion.__table__, Checkpoint.__table__  # type: ignore[attr-defined]
    changed: list[str] = []
    with ledger.engine.begin() as conn:
        hit_rows = conn.execute(select(rt.c.dataset_id, rt.c.chunk_id).where(rt.c.doc_id.in_(doc_ids))).all()
        datasets = sorted({r[0] for r in hit_rows})
        if not datasets:
            return []
        conn.execute(update(dt).where(dt.c.dataset_id.in_(datasets), dt.c.flag_reason.is_(None)).values(flag_reason=reason, flag_request_id=request_id))
        if erase_text:
            conn.execute(update(rt).where(rt.c.doc_id.in_(doc_ids)).values(input="", target="", context="", erased=True))
            chunks = sorted({r[1] for r in hit_rows})
            for i in range(0, len(chunks), 500):  # distractor passages quoted in other rows' prompts
                conn.execute(update(rt).where(rt.c.dataset_id.in_(datasets), rt.c.context_chunk_id.in_(chunks[i:i + 500])).values(context=""))
        ckpts = conn.execute(select(ct.c.checkpoint_id, ct.c.stage).where(ct.c.dataset_id.in_(datasets)).order_by(ct.c.checkpoint_id)).all()
        for ckpt_id, stage in ckpts:
            if stage != "flagged":
                conn.execute(update(ct).where(ct.c.checkpoint_id == ckpt_id).values(
                    stage="flagged", prior_stage=stage, flag_reason=reason, flag_request_id=request_id, updated_at=utcnow()))
                changed.append(ckpt_id)
    if changed:
        ledger.audit.append(CheckpointsFlagged(actor=actor[0], actor_role=actor[1], checkpoint_ids=changed, dataset_ids=datasets,
                                               request_id=request_id, reason=reason))
    return [c[0] for c in ckpts]
