"""`ragledger audit verify|export|list`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli import DEFAULT_CLI_USER, cli, emit, open_ledger, user_option


@cli.group()
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.option("--export", "export_file", type=click.Path(path_type=Path, dir_okay=False),
              help="verify an exported file offline against its .manifest.json instead of the database")
def audit_verify(as_json: bool, export_file: Path | None) -> None:
    """Re-walk the hash chain; exit 5 and name the first bad record if it does not verify."""
    if export_file is not None:
        from core.exports import verify_export

        out = verify_export(export_file)  # raises AuditIntegrityError (exit 5) naming what failed
        emit(out, True) if as_json else click.echo(f"OK: export {export_file.name}: {out['records']} records, head {out['head_hash']}")
        return
    result = open_ledger().audit.verify()
    if as_json:
        emit(result.as_dict(), True)
    elif result.ok:
        click.echo(f"OK: {result.records} records, head {result.head_hash}")
    else:
        click.echo(f"BROKEN at record seq={result.first_bad_seq} id={result.first_bad_record}: {result.reason}")
    if not result.ok:
        sys.exit(5)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="file to write (default: standard output)")
@user_option(DEFAULT_CLI_USER)
def audit_export(fmt: str, output: Path | None, user: str) -> None:
    """Export the whole trail with every hashed field, so it can be verified offline."""
    from core.audit_views import export_trail

    ledger = open_ledger()
    text = export_trail(ledger, ledger.policy.principal(user), fmt)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@audit.command("list")
@click.option("--kind", "kinds", multiple=True, help="answer, denial, ingest, ...")
@click.option("--actor")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def audit_list(kinds: tuple[str, ...], actor: str | None, limit: int, as_json: bool, user: str) -> None:
    """Newest records first, with sealed text opened where it has not been erased."""
    from core.audit_views import list_trail

    ledger = open_ledger()
    rows = list_trail(ledger, ledger.policy.principal(user), kinds=list(kinds) or None, actor=actor, limit=limit)
    if as_json:
        emit(rows, True)
        return
    for r in rows:
        text = "[erased]" if r["erased"] else (r["text"].get("question") or "")
        click.echo(f"{r['seq']:>6} {r['at'][:19]} {r['kind']:<8} {r['actor']:<8} {text[:80]}")
