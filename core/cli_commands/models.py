"""`ragledger datasets ...`, `ragledger train ...`, `ragledger models ...`: the model registry."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, open_ledger, user_option


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


@cli.group()
def datasets() -> None:
    """Training datasets built from governed documents."""


@datasets.command("build")
@click.argument("kind", type=click.Choice(["pairs", "qa"]))
@click.option("--name")
@click.option("--groups", help="comma-separated groups to draw from (default: all the builder may read)")
@click.option("--max-classification", type=click.Choice(["public", "internal", "confidential", "restricted"]))
@click.option("--doc", "doc_ids", multiple=True, help="only these document ids (repeatable)")
@click.option("--profile", help="redaction profile for the training text (default: the builder's own)")
@click.option("--param", "params", multiple=True, help="builder parameter KEY=VALUE (seed, queries_per_chunk, eval_per_chunk, max_chunks)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def datasets_build(kind: str, name: str | None, groups: str | None, max_classification: str | None, doc_ids: tuple[str, ...],
                   profile: str | None, params: tuple[str, ...], as_json: bool, user: str) -> None:
    """Build an immutable dataset version: 'pairs' for the embedder, 'qa' for the generator."""
    from core.models.datasets import build_dataset

    ledger = open_ledger()
    info = build_dataset(ledger, ledger.policy.principal(user), kind, name=name,
                         groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
                         max_classification=max_classification, doc_ids=list(doc_ids) or None, redaction_profile=profile,
                         params=_params(params), progress=None if as_json else _progress)
    emit(info.as_dict(), as_json, f"{info.dataset_id}  {info.kind}  {info.rows} rows from {info.docs} documents  "
                                  f"{info.splits}  redaction '{info.redaction_profile}'  digest {info.digest[:16]}")


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def datasets_list(as_json: bool, user: str) -> None:
    """Dataset versions, newest first (flagged ones say why)."""
    from core.models.datasets import list_datasets

    ledger = open_ledger()
    items = list_datasets(ledger, ledger.policy.principal(user))
    if as_json:
        emit([d.as_dict() for d in items], True)
        return
    for d in items:
        flag = f"  FLAGGED: {d.flag_reason}" if d.flag_reason else ""
        click.echo(f"{d.dataset_id}  {d.kind:<5} {d.rows:>5} rows {d.docs:>3} docs  {d.name}{flag}")


@cli.command("train")
@click.argument("kind", type=click.Choice(["embedder", "generator"]))
@click.argument("dataset_id")
@click.option("--steps", type=int, help="optimizer steps (default: embedder 30, generator 20)")
@click.option("--batch-size", type=int)
@click.option("--lr", "learning_rate", type=float)
@click.option("--param", "params", multiple=True, help="other hyperparameter KEY=VALUE (lora_r, seed, ...)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def train_cmd(kind: str, dataset_id: str, steps: int | None, batch_size: int | None, learning_rate: float | None,
              params: tuple[str, ...], as_json: bool, user: str) -> None:
    """Fine-tune the embedder or a generator LoRA on a dataset version; registers a candidate checkpoint."""
    from core.models.training.jobs import train

    hyper = _params(params)
    for key, value in (("max_steps", steps), ("batch_size", batch_size), ("learning_rate", learning_rate)):
        if value is not None:
            hyper[key] = value
    ledger = open_ledger()
    c = train(ledger, ledger.policy.principal(user), kind, dataset_id, hyper=hyper, progress=None if as_json else _progress)
    emit({k: v for k, v in c.as_dict().items() if k != "model_card"}, as_json, _ckpt_line(c))


@cli.group()
def models() -> None:
    """The model registry: checkpoints, stages, flags and lineage."""


@models.command("list")
@click.option("--kind", type=click.Choice(["embedder", "generator"]))
@click.option("--stage", type=click.Choice(["candidate", "approved", "production", "archived", "flagged"]))
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_list(kind: str | None, stage: str | None, as_json: bool, user: str) -> None:
    """Checkpoints, newest first, with their stage and headline metric (flagged ones say why)."""
    from core.models.registry import list_checkpoints

    ledger = open_ledger()
    items = list_checkpoints(ledger, ledger.policy.principal(user), kind=kind, stage=stage)
    if as_json:
        emit([{k: v for k, v in c.as_dict().items() if k != "model_card"} for c in items], True)
        return
    for c in items:
        click.echo(_ckpt_line(c))


@models.command("show")
@click.argument("checkpoint_id")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_show(checkpoint_id: str, as_json: bool, user: str) -> None:
    """A checkpoint's model card, files and sha256."""
    from core.models.registry import show_checkpoint

    ledger = open_ledger()
    c = show_checkpoint(ledger, ledger.policy.principal(user), checkpoint_id)
    emit(c.as_dict(), as_json, c.model_card)


@models.command("verify")
@click.argument("checkpoint_id")
@user_option(DEFAULT_CLI_USER)
def models_verify(checkpoint_id: str, user: str) -> None:
    """Re-hash a checkpoint's files against the registry."""
    from core.errors import RagLedgerError
    from core.models.registry import verify_checkpoint

    ledger = open_ledger()
    bad = verify_checkpoint(ledger, ledger.policy.principal(user), checkpoint_id)
    if bad:
        raise RagLedgerError(f"{len(bad)} file(s) differ from the registry: {', '.join(bad)}", hint="re-register from a good copy")
    click.echo(f"{checkpoint_id}: every file matches its sha256")


@models.command("propose")
@click.argument("checkpoint_id")
@user_option(DEFAULT_CLI_USER)
def models_propose(checkpoint_id: str, user: str) -> None:
    """Propose a candidate for promotion (ML engineers)."""
    from core.models.registry import propose

    ledger = open_ledger()
    click.echo(_ckpt_line(propose(ledger, ledger.policy.principal(user), checkpoint_id)) + "  (proposed)")


@models.command("promote")
@click.argument("checkpoint_id")
@click.option("--to", "stage", type=click.Choice(["approved", "production", "archived"]), default="production", show_default=True)
@click.option("--override", metavar="REASON", help="promote to production even though the golden-set gate finds a regression (recorded)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_promote(checkpoint_id: str, stage: str, override: str | None, as_json: bool, user: str) -> None:
    """Approve, promote to production or archive (compliance). Production first passes the golden-set
    gate when policy.yaml configures one (exit 6 on a regression); an embedder re-embeds the corpus."""
    from core.evaluation.lifecycle import promote

    ledger = open_ledger()
    c = promote(ledger, ledger.policy.principal(user), checkpoint_id, stage, progress=None if as_json else _progress, override=override)
    emit({k: v for k, v in c.as_dict().items() if k != "model_card"}, as_json, _ckpt_line(c))


@models.command("flag")
@click.argument("checkpoint_id", required=False)
@click.option("--doc", "doc_ids", multiple=True, help="flag everything downstream of these documents instead")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_flag(checkpoint_id: str | None, doc_ids: tuple[str, ...], reason: str, as_json: bool, user: str) -> None:
    """Flag a checkpoint, or every checkpoint downstream of documents, as 'retraining required'."""
    from core.models.registry import flag, flag_documents

    ledger = open_ledger()
    principal = ledger.policy.principal(user)
    if bool(checkpoint_id) == bool(doc_ids):
        raise click.UsageError("give either a CHECKPOINT_ID or --doc")
    ids = [flag(ledger, principal, checkpoint_id, reason).checkpoint_id] if checkpoint_id else flag_documents(ledger, principal, list(doc_ids), reason)
    emit({"flagged": ids}, as_json, "\n".join(f"flagged {i}" for i in ids) or "no checkpoint is downstream of those documents")


@models.command("fallback")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_fallback(as_json: bool, user: str) -> None:
    """Stop a flagged embedder serving: re-embed with the previous clean one or the base model (compliance)."""
    from core.models.serving import embedder_status, fall_back_now

    ledger = open_ledger()
    result = fall_back_now(ledger, ledger.policy.principal(user), progress=None if as_json else _progress)
    if result is None:
        status = embedder_status(ledger)
        why = "it is not flagged" if not status["flagged"] else "policy lets flagged models serve"
        emit({"fallback": None, **status}, as_json, f"nothing to do: {status['embedder']} may serve ({why})")
        return
    emit({"fallback": result}, as_json, f"serving fell back from {result['from']} to {result['to']} (index {result['table']})")


@models.command("reembed")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_reembed(as_json: bool, user: str) -> None:
    """Re-embed every chunk with the base embedder policy.yaml `embedder:` names (compliance)."""
    from core.models.embedder_reembed import reembed_configured

    ledger = open_ledger()
    result = reembed_configured(ledger, ledger.policy.principal(user), progress=None if as_json else _progress)
    if result is None:
        emit({"reembed": None}, as_json, "nothing to do: the configured embedder already built the index")
        return
    emit({"reembed": result}, as_json, f"re-embedded {result['chunks']} chunks with {result['to']} "
         f"({result['dimensions_before']} -> {result['dimensions']} dimensions, index {result['table']})")


@models.command("retrain")
@click.argument("checkpoint_id")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_retrain(checkpoint_id: str, as_json: bool, user: str) -> None:
    """Rebuild the dataset without erased documents, retrain, and link the replacement."""
    from core.evaluation.lifecycle import retrain

    ledger = open_ledger()
    c = retrain(ledger, ledger.policy.principal(user), checkpoint_id, progress=None if as_json else _progress)
    emit({k: v for k, v in c.as_dict().items() if k != "model_card"}, as_json, _ckpt_line(c) + f"  replaces {c.replaces}")


@models.command("register")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), required=True, help="JSON: kind, base_model, files, dataset, ...")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_register(folder: Path, manifest: Path, as_json: bool, user: str) -> None:
    """Register a checkpoint trained elsewhere (weights folder + dataset manifest)."""
    from core.models.registry import register_external

    ledger = open_ledger()
    c = register_external(ledger, ledger.policy.principal(user), folder, manifest)
    emit({k: v for k, v in c.as_dict().items() if k != "model_card"}, as_json, _ckpt_line(c))


@models.command("lineage")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def models_lineage(target: str, as_json: bool, user: str) -> None:
    """Lineage of a checkpoint (ckp_...: everything upstream) or a document (doc_...: everything downstream)."""
    from core.models.lineage import checkpoint_lineage, document_lineage

    ledger = open_ledger()
    principal = ledger.policy.principal(user)
    data = checkpoint_lineage(ledger, principal, target) if target.startswith("ckp_") else document_lineage(ledger, principal, target)
    if as_json:
        emit(data, True)
        return
    if target.startswith("ckp_"):
        c, d = data["checkpoint"], data["dataset"]
        click.echo(f"{c['checkpoint_id']} ({c['kind']}, {c['stage']}) <- run {data['run'].get('run_id')} by {data['run'].get('run_by')} "
                   f"<- dataset {d['dataset_id']} ({d['rows']} rows, redaction '{d['redaction_profile']}') <- base {data['base_model']}")
        for doc in data["documents"]:
            click.echo(f"  {doc['doc_id']}  {doc['status']:<8} {doc['rows']:>4} rows  {doc['title'] or ''}")
        if data["replaces"]:
            click.echo(f"  replaces: {' <- '.join(data['replaces'])}")
        click.echo(f"  answers served: {len(data['answers'])}")
        return
    click.echo(f"{target} ({data['document']['status']})")
    for d in data["datasets"]:
        click.echo(f"  dataset {d['dataset_id']} ({d['rows_from_document']} rows from it){'  FLAGGED' if d['flag_reason'] else ''}")
    for c in data["checkpoints"]:
        click.echo(f"    checkpoint {c['checkpoint_id']} {c['kind']} {c['stage']}  {c['answers_served']} answers served")
