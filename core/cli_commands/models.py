"""`ragledger datasets ...`, `ragledger train ...`, `ragledger models ...`: the model registry."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.cli_base import cli, ledger_command


def _progress(message: str, done: int, total: int) -> None:
    click.echo(f"[{done}/{total}] {message}", err=True)


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for p in pairs:
        key, _, value = p.partition("=")
        if not key or not _:
            raise click.BadParameter(f"{p!r}: use KEY=VALUE", param_hint="--param")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _ckpt_line(c) -> str:  # type: ignore[no-untyped-def]
    m = c.metrics
    headline = (f"recall@1 {m.get('base_recall@1')}→{m.get('recall@1')}" if c.kind == "embedder" and "recall@1" in m
                else f"eval loss {m.get('eval_loss_base')}→{m.get('eval_loss')}" if "eval_loss" in m else "")
    flag = f"  FLAGGED: {c.flag_reason}" + (f" (request {c.flag_request_id})" if c.flag_request_id else "") if c.stage == "flagged" else ""
    return f"{c.checkpoint_id}  {c.kind:<9} {c.stage:<10} {c.dataset_id}  {headline}{flag}"


def _without_card(c) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A checkpoint as JSON: the model card is long Markdown, printed by `models show` alone."""
    return {k: v for k, v in c.as_dict().items() if k != "model_card"}


@cli.group()
def datasets() -> None:
    """Training datasets built from governed documents."""


@ledger_command(datasets, "build", to_json=lambda info: info.as_dict(),
                text=lambda info: f"{info.dataset_id}  {info.kind}  {info.rows} rows from {info.docs} documents  "
                                  f"{info.splits}  redaction '{info.redaction_profile}'  digest {info.digest[:16]}")
@click.argument("kind", type=click.Choice(["pairs", "qa"]))
@click.option("--name")
@click.option("--groups", help="comma-separated groups to draw from (default: all the builder may read)")
@click.option("--max-classification", type=click.Choice(["public", "internal", "confidential", "restricted"]))
@click.option("--doc", "doc_ids", multiple=True, help="only these document ids (repeatable)")
@click.option("--profile", help="redaction profile for the training text (default: the builder's own)")
@click.option("--param", "params", multiple=True, help="builder parameter KEY=VALUE (seed, queries_per_chunk, eval_per_chunk, max_chunks)")
def datasets_build(ledger, principal, kind: str, name: str | None, groups: str | None, max_classification: str | None,  # type: ignore[no-untyped-def]
                   doc_ids: tuple[str, ...], profile: str | None, params: tuple[str, ...], as_json: bool):
    """Build an immutable dataset version: 'pairs' for the embedder, 'qa' for the generator."""
    from core.models.datasets import build_dataset

    return build_dataset(ledger, principal, kind, name=name,
                         groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
                         max_classification=max_classification, doc_ids=list(doc_ids) or None, redaction_profile=profile,
                         params=_params(params), progress=None if as_json else _progress)


def _dataset_line(d) -> str:  # type: ignore[no-untyped-def]
    flag = f"  FLAGGED: {d.flag_reason}" if d.flag_reason else ""
    return f"{d.dataset_id}  {d.kind:<5} {d.rows:>5} rows {d.docs:>3} docs  {d.name}{flag}"


@ledger_command(datasets, "list", to_json=lambda items: [d.as_dict() for d in items], text=lambda items: map(_dataset_line, items))
def datasets_list(ledger, principal):  # type: ignore[no-untyped-def]
    """Dataset versions, newest first (flagged ones say why)."""
    from core.models.datasets import list_datasets

    return list_datasets(ledger, principal)


@ledger_command(cli, "train", to_json=_without_card, text=_ckpt_line)
@click.argument("kind", type=click.Choice(["embedder", "generator"]))
@click.argument("dataset_id")
@click.option("--steps", type=int, help="optimizer steps (default: embedder 30, generator 20)")
@click.option("--batch-size", type=int)
@click.option("--lr", "learning_rate", type=float)
@click.option("--param", "params", multiple=True, help="other hyperparameter KEY=VALUE (lora_r, seed, ...)")
def train_cmd(ledger, principal, kind: str, dataset_id: str, steps: int | None, batch_size: int | None,  # type: ignore[no-untyped-def]
              learning_rate: float | None, params: tuple[str, ...], as_json: bool):
    """Fine-tune the embedder or a generator LoRA on a dataset version; registers a candidate checkpoint."""
    from core.models.training.jobs import train

    hyper = _params(params)
    for key, value in (("max_steps", steps), ("batch_size", batch_size), ("learning_rate", learning_rate)):
        if value is not None:
            hyper[key] = value
    return train(ledger, principal, kind, dataset_id, hyper=hyper, progress=None if as_json else _progress)


@cli.group()
def models() -> None:
    """The model registry: checkpoints, stages, flags and lineage."""


@ledger_command(models, "list", to_json=lambda items: [_without_card(c) for c in items], text=lambda items: map(_ckpt_line, items))
@click.option("--kind", type=click.Choice(["embedder", "generator"]))
@click.option("--stage", type=click.Choice(["candidate", "approved", "production", "archived", "flagged"]))
def models_list(ledger, principal, kind: str | None, stage: str | None):  # type: ignore[no-untyped-def]
    """Checkpoints, newest first, with their stage and headline metric (flagged ones say why)."""
    from core.models.registry import list_checkpoints

    return list_checkpoints(ledger, principal, kind=kind, stage=stage)


@ledger_command(models, "show", to_json=lambda c: c.as_dict(), text=lambda c: c.model_card)
@click.argument("checkpoint_id")
def models_show(ledger, principal, checkpoint_id: str):  # type: ignore[no-untyped-def]
    """A checkpoint's model card, files and sha256."""
    from core.models.registry import show_checkpoint

    return show_checkpoint(ledger, principal, checkpoint_id)


@ledger_command(models, "verify", json_flag=False, text=lambda _, checkpoint_id: f"{checkpoint_id}: every file matches its sha256")
@click.argument("checkpoint_id")
def models_verify(ledger, principal, checkpoint_id: str) -> None:  # type: ignore[no-untyped-def]
    """Re-hash a checkpoint's files against the registry."""
    from core.errors import RagLedgerError
    from core.models.registry import verify_checkpoint

    bad = verify_checkpoint(ledger, principal, checkpoint_id)
    if bad:
        raise RagLedgerError(f"{len(bad)} file(s) differ from the registry: {', '.join(bad)}", hint="re-register from a good copy")


@ledger_command(models, "propose", json_flag=False, text=lambda c: _ckpt_line(c) + "  (proposed)")
@click.argument("checkpoint_id")
def models_propose(ledger, principal, checkpoint_id: str):  # type: ignore[no-untyped-def]
    """Propose a candidate for promotion (ML engineers)."""
    from core.models.registry import propose

    return propose(ledger, principal, checkpoint_id)


@ledger_command(models, "promote", to_json=_without_card, text=_ckpt_line)
@click.argument("checkpoint_id")
@click.option("--to", "stage", type=click.Choice(["approved", "production", "archived"]), default="production", show_default=True)
@click.option("--override", metavar="REASON", help="promote to production even though the golden-set gate finds a regression (recorded)")
def models_promote(ledger, principal, checkpoint_id: str, stage: str, override: str | None, as_json: bool):  # type: ignore[no-untyped-def]
    """Approve, promote to production or archive (compliance). Production first passes the golden-set
    gate when policy.yaml configures one (exit 6 on a regression); an embedder re-embeds the corpus."""
    from core.evaluation.lifecycle import promote

    return promote(ledger, principal, checkpoint_id, stage, progress=None if as_json else _progress, override=override)


@ledger_command(models, "flag", text=lambda out: [f"flagged {i}" for i in out["flagged"]] or "no checkpoint is downstream of those documents")
@click.argument("checkpoint_id", required=False)
@click.option("--doc", "doc_ids", multiple=True, help="flag everything downstream of these documents instead")
@click.option("--reason", required=True)
def models_flag(ledger, principal, checkpoint_id: str | None, doc_ids: tuple[str, ...], reason: str) -> dict:  # type: ignore[no-untyped-def]
    """Flag a checkpoint, or every checkpoint downstream of documents, as 'retraining required'."""
    from core.models.registry import flag, flag_documents

    if bool(checkpoint_id) == bool(doc_ids):
        raise click.UsageError("give either a CHECKPOINT_ID or --doc")
    ids = [flag(ledger, principal, checkpoint_id, reason).checkpoint_id] if checkpoint_id else flag_documents(ledger, principal, list(doc_ids), reason)
    return {"flagged": ids}


def _fallback_text(out: dict[str, Any]) -> str:
    result = out["fallback"]
    if result is None:
        why = "it is not flagged" if not out["flagged"] else "policy lets flagged models serve"
        return f"nothing to do: {out['embedder']} may serve ({why})"
    return f"serving fell back from {result['from']} to {result['to']} (index {result['table']})"


@ledger_command(models, "fallback", text=_fallback_text)
def models_fallback(ledger, principal, as_json: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Stop a flagged embedder serving: re-embed with the previous clean one or the base model (compliance)."""
    from core.models.serving import embedder_status, fall_back_now

    result = fall_back_now(ledger, principal, progress=None if as_json else _progress)
    # Nothing to fall back from: say why, with the status that decided it.
    return {"fallback": None, **embedder_status(ledger)} if result is None else {"fallback": result}


def _reembed_text(out: dict[str, Any]) -> str:
    result = out["reembed"]
    if result is None:
        return "nothing to do: the configured embedder already built the index"
    return (f"re-embedded {result['chunks']} chunks with {result['to']} "
            f"({result['dimensions_before']} -> {result['dimensions']} dimensions, index {result['table']})")


@ledger_command(models, "reembed", text=_reembed_text)
@click.option("--ray", metavar="auto|ADDRESS", help="embed on Ray: auto (local) or a head's HOST:PORT (default RAGLEDGER_RAY)")
def models_reembed(ledger, principal, as_json: bool, ray: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Re-embed every chunk with the base embedder policy.yaml `embedder:` names (compliance)."""
    from core.models.embedder_reembed import reembed_configured

    return {"reembed": reembed_configured(ledger, principal, progress=None if as_json else _progress, ray=ray)}


@ledger_command(models, "retrain", to_json=_without_card, text=lambda c: _ckpt_line(c) + f"  replaces {c.replaces}")
@click.argument("checkpoint_id")
def models_retrain(ledger, principal, checkpoint_id: str, as_json: bool):  # type: ignore[no-untyped-def]
    """Rebuild the dataset without erased documents, retrain, and link the replacement."""
    from core.evaluation.lifecycle import retrain

    return retrain(ledger, principal, checkpoint_id, progress=None if as_json else _progress)


@ledger_command(models, "register", to_json=_without_card, text=_ckpt_line)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), required=True, help="JSON: kind, base_model, files, dataset, ...")
def models_register(ledger, principal, folder: Path, manifest: Path):  # type: ignore[no-untyped-def]
    """Register a checkpoint trained elsewhere (weights folder + dataset manifest)."""
    from core.models.registry import register_external

    return register_external(ledger, principal, folder, manifest)


def _lineage_lines(data: dict[str, Any], target: str):  # type: ignore[no-untyped-def]
    if target.startswith("ckp_"):
        c, d = data["checkpoint"], data["dataset"]
        yield (f"{c['checkpoint_id']} ({c['kind']}, {c['stage']}) <- run {data['run'].get('run_id')} by {data['run'].get('run_by')} "
               f"<- dataset {d['dataset_id']} ({d['rows']} rows, redaction '{d['redaction_profile']}') <- base {data['base_model']}")
        for doc in data["documents"]:
            yield f"  {doc['doc_id']}  {doc['status']:<8} {doc['rows']:>4} rows  {doc['title'] or ''}"
        if data["replaces"]:
            yield f"  replaces: {' <- '.join(data['replaces'])}"
        yield f"  answers served: {len(data['answers'])}"
        return
    yield f"{target} ({data['document']['status']})"
    for d in data["datasets"]:
        yield f"  dataset {d['dataset_id']} ({d['rows_from_document']} rows from it){'  FLAGGED' if d['flag_reason'] else ''}"
    for c in data["checkpoints"]:
        yield f"    checkpoint {c['checkpoint_id']} {c['kind']} {c['stage']}  {c['answers_served']} answers served"


@ledger_command(models, "lineage", text=_lineage_lines)
@click.argument("target")
def models_lineage(ledger, principal, target: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Lineage of a checkpoint (ckp_...: everything upstream) or a document (doc_...: everything downstream)."""
    from core.models.lineage import checkpoint_lineage, document_lineage

    return checkpoint_lineage(ledger, principal, target) if target.startswith("ckp_") else document_lineage(ledger, principal, target)
