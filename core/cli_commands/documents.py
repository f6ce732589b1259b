"""`ragledger ingest`, `ragledger documents list`, `ragledger demo load` (core/demo.py)."""
from __future__ import annotations

from pathlib import Path

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, ledger_command, open_ledger, user_option
from core.config import REPO_ROOT


def _progress(name: str, i: int, n: int) -> None:
    if name != "done":
        click.echo(f"[{i + 1}/{n}] {name}", err=True)


def _run_ingest(paths: list[Path], user: str, groups: str | None, classification: str | None, title: str | None, as_json: bool,
                ray: str | None = None) -> None:
    from core.rag.ingest import Source, expand_paths, ingest
    import core.evaluation.freshness  # noqa: F401  (re-asks the golden set after an ingest, policy evaluation.on_new_version)

    ledger = open_ledger()
    principal = ledger.policy.principal(user)
    files = expand_paths(paths)
    results = ingest(
        ledger, principal, [Source.from_path(p) for p in files],
        groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
        classification=classification, title=title, progress=None if as_json else _progress, ray=ray,
    )
    if as_json:
        for r in results:
            emit({k: v for k, v in r.as_dict().items() if k in ("doc_id", "title", "chunks", "pii", "status", "version")}, True)
        return
    for r in results:
        pii = ", ".join(f"{k}={v}" for k, v in sorted(r.pii.items())) or "none"
        click.echo(f"{r.doc_id}  {r.status:<11} v{r.version}  {r.chunks:>3} chunks  {r.title}  (PII: {pii})")


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--groups", help="comma-separated groups (overrides front matter)")
@click.option("--classification", type=click.Choice(["public", "internal", "confidential", "restricted"]))
@click.option("--title", help="title (single file only; overrides front matter)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per document")
@click.option("--ray", metavar="auto|ADDRESS", help="PII analysis and embedding on Ray: auto (local) or a head's HOST:PORT (default RAGLEDGER_RAY)")
@user_option(DEFAULT_CLI_USER)
def ingest_cmd(paths: tuple[Path, ...], groups: str | None, classification: str | None, title: str | None, as_json: bool, user: str,
               ray: str | None = None) -> None:
    """Ingest files or folders (.txt .md .pdf .docx .html)."""
    _run_ingest(list(paths), user, groups, classification, title, as_json, ray)


@cli.group()
def documents() -> None:
    """The document registry."""


@ledger_command(documents, "list", text=lambda docs: (f"{d['doc_id']}  {d['classification']:<12} {','.join(d['groups']):<20} "
                                                        f"{d['chunk_count']:>3}  {d['title']}" for d in docs))
def documents_list(ledger, principal) -> list[dict]:  # type: ignore[no-untyped-def]
    """Documents visible to --user."""
    from core.rag.documents import list_documents

    return list_documents(ledger, principal)


@ledger_command(documents, "relabel",
                text=lambda out, doc_id: f"{doc_id}: [{', '.join(out['old']['groups'])}] {out['old']['classification']} -> "
                                         f"[{', '.join(out['new']['groups'])}] {out['new']['classification']} ({out['chunks']} chunks)")
@click.argument("doc_id")
@click.option("--groups", help="comma-separated new groups (default: unchanged)")
@click.option("--classification", type=click.Choice(["public", "internal", "confidential", "restricted"]), help="new level (default: unchanged)")
def documents_relabel(ledger, principal, doc_id: str, groups: str | None, classification: str | None) -> dict:  # type: ignore[no-untyped-def]
    """Change a document's groups or classification (audited; needs documents.ingest on both label sets)."""
    from core.rag.relabel import relabel

    return relabel(ledger, principal, doc_id,
                   groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None, classification=classification)


@cli.group()
def demo() -> None:
    """The bundled demo corpus."""


@demo.command("load")
@click.option("--json", "as_json", is_flag=True, help="the steps and what each did, as JSON")
@user_option(DEFAULT_CLI_USER)
def demo_load(as_json: bool, user: str) -> None:
    """Ingest demo_corpus/, fine-tune and promote the embedder, ask the demo questions as every role and
    record (not execute) an erasure request, in a home whose own copy of the policies has demo mode on
    (so the demo accounts' passwords work there, docs/accounts.md). Finished steps are skipped, so this
    is safe to repeat."""
    import os
    import time

    from core.config import Settings
    from core.demo import load_demo
    from core.demo_home import prepare_demo_policies

    folder, status = prepare_demo_policies(Settings.from_env().home)
    click.echo(f"demo policies ({status}, demo_mode on): {folder}", err=True)
    if os.environ.get("RAGLEDGER_POLICIES"):
        click.echo(f"note: RAGLEDGER_POLICIES is set, so {os.environ['RAGLEDGER_POLICIES']} is used instead of that copy", err=True)
    ledger = open_ledger()
    started = time.perf_counter()
    result = load_demo(ledger, ledger.policy.principal(user), progress=None if as_json else lambda m: click.echo(m, err=True))
    if as_json:
        emit({**result.as_dict(), "seconds": round(time.perf_counter() - started, 1)}, True)
        return
    for s in result.steps:
        click.echo(f"{s.step:<14} {'done' if s.changed else 'unchanged':<9} {s.summary}")
    click.echo(f"Demo loaded in {time.perf_counter() - started:.1f} s." if result.changed
               else "Nothing changed: the demo was already loaded.")


@cli.group("store")
def store_group() -> None:
    """The chunk store (encryption at rest: docs/encryption.md)."""


def _rewrite(ledger, principal, encrypt: bool) -> dict:  # type: ignore[no-untyped-def]
    from core.rag.chunk_migrate import rewrite_store
    from core.audit.guard import require_audited

    require_audited(ledger, principal, "documents.ingest", f"store.{'encrypt' if encrypt else 'decrypt'}")
    return rewrite_store(ledger, encrypt)


def _rewritten(how: str):  # type: ignore[no-untyped-def]
    return lambda result: f"{result['table']}: {result['chunks']} chunks, {result['rewritten']} re-written {how}"


@ledger_command(store_group, "encrypt", text=_rewritten("encrypted"))
def store_encrypt(ledger, principal) -> dict:  # type: ignore[no-untyped-def]
    """Re-write a plaintext chunk store encrypted (needed once chunk_store.encryption is on)."""
    return _rewrite(ledger, principal, True)


@ledger_command(store_group, "decrypt", text=_rewritten("in the clear"))
def store_decrypt(ledger, principal) -> dict:  # type: ignore[no-untyped-def]
    """Re-write an encrypted chunk store in the clear (after setting chunk_store.encryption: off)."""
    return _rewrite(ledger, principal, False)
