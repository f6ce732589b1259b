"""`ragledger audit verify|checkpoint|key|prove|export|list`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, ledger_command, open_ledger, user_option


@cli.group()
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.option("--export", "export_file", type=click.Path(path_type=Path, dir_okay=False),
              help="verify an exported file offline against its .manifest.json instead of the database")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="a checkpoint you kept (as `audit checkpoint` printed it, or a journal); repeatable")
@click.option("--key", help="the log's verifier key you kept (`audit key`); default: this ledger's, or the export's")
@click.option("--proof", "proof_file", type=click.Path(path_type=Path, dir_okay=False), help="verify an inclusion proof from `audit prove`")
def audit_verify(as_json: bool, export_file: Path | None, checkpoints: tuple[Path, ...], key: str | None, proof_file: Path | None) -> None:
    """Check the log against every checkpoint found (journal, witnesses, --checkpoint); exit 5 naming
    the first bad record or checkpoint if it does not verify."""
    from core.audit.verify import read_checkpoint_file

    if proof_file is not None:
        import json

        from core.audit.proofs import verify_bundle

        kept = [cp for path in checkpoints for cp in read_checkpoint_file(path)]
        out = verify_bundle(json.loads(proof_file.read_text()), key, kept[-1] if kept else None)  # raises AuditIntegrityError (exit 5)
        emit(out, True) if as_json else click.echo(f"OK: record {out['record_id']} is leaf {out['leaf_index']} of the log at size {out['tree_size']} "
                                                   f"({out['checkpoint_time']}, signed by {out['signed_by']}{', key from the proof' if out['key_from_bundle'] else ''})")
        return
    if export_file is not None:
        from core.workbench.exports import verify_export

        kept = [cp for path in checkpoints for cp in read_checkpoint_file(path)]
        out = verify_export(export_file, kept, key)  # raises AuditIntegrityError (exit 5) naming what failed
        if as_json:
            emit(out, True)
        else:
            click.echo(f"OK: export {export_file.name}: {out['records']} records, head {out['head_hash']}")
            for label in out.get("merkle", {}).get("checked_against", []):
                click.echo(f"  consistent with {label}")
        return
    from core.audit.verify import verify_ledger

    result = verify_ledger(open_ledger(), checkpoints, key)
    if as_json:
        emit(result.as_dict(), True)
    elif result.ok:
        click.echo(f"OK: {result.records} records, tree size {result.tree_size}, root {result.root}, head {result.head_hash}")
        click.echo(f"  consistent with {result.checkpoints_checked} checkpoint(s); latest: {result.latest_checkpoint or 'none yet'}")
    else:
        first = result.first()
        assert first is not None
        click.echo(f"BROKEN at index {first.index}" + (f" record seq={first.seq} id={first.record_id}" if first.seq else "") + f": {first.message}")
        for f in result.findings:
            if f is not first:
                click.echo(f"  also: {f.message}")
    if not result.ok:
        sys.exit(5)


# A signed note ends in its own newline and an auditor keeps it byte for byte: print it as it is.
@ledger_command(audit, "checkpoint", principal=False, text=lambda cp: click.echo(cp.note, nl=False),
                to_json=lambda cp: {"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "time": cp.time, "note": cp.note})
@click.option("--new", "fresh", is_flag=True, help="sign a checkpoint of the log as it is now first")
def audit_checkpoint(ledger, fresh: bool):  # type: ignore[no-untyped-def]
    """Print the latest signed checkpoint (C2SP format) for an auditor to keep elsewhere."""
    from core.audit.checkpoint_views import latest_checkpoint

    return latest_checkpoint(ledger, fresh)


@ledger_command(audit, "key", principal=False, json_flag=False)
def audit_key(ledger) -> str:  # type: ignore[no-untyped-def]
    """Print the log's verifier key (the note-format public key that checks its checkpoints)."""
    return ledger.audit.checkpointer.vkey()


@audit.command("prove")
@click.argument("record_id")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="file to write (default: standard output)")
@click.option("--new", "fresh", is_flag=True, help="prove at a checkpoint signed now, not the latest that covers the record")
@user_option(DEFAULT_CLI_USER)
def audit_prove(record_id: str, output: Path | None, fresh: bool, user: str) -> None:
    """An inclusion proof (JSON) that RECORD_ID is in the log at a signed checkpoint."""
    import json

    from core.workbench.audit_views import inclusion_proof

    ledger = open_ledger()
    bundle = inclusion_proof(ledger, ledger.policy.principal(user), record_id, fresh=fresh)
    text = json.dumps(bundle, indent=2)
    if output:
        output.write_text(text + "\n")
        click.echo(f"wrote {output} (leaf {bundle['leaf_index']} of {bundle['tree_size']})", err=True)
    else:
        click.echo(text)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="file to write (default: standard output)")
@user_option(DEFAULT_CLI_USER)
def audit_export(fmt: str, output: Path | None, user: str) -> None:
    """Export the whole trail with every hashed field, so it can be verified offline."""
    from core.workbench.audit_views import export_trail

    ledger = open_ledger()
    text = export_trail(ledger, ledger.policy.principal(user), fmt)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def _trail_lines(rows: list[dict]):  # type: ignore[no-untyped-def]
    for r in rows:
        text = "[erased]" if r["erased"] else (r["text"].get("question") or "")
        yield f"{r['seq']:>6} {r['at'][:19]} {r['kind']:<8} {r['actor']:<8} {text[:80]}"


@ledger_command(audit, "list", text=_trail_lines)
@click.option("--kind", "kinds", multiple=True, help="answer, denial, ingest, ...")
@click.option("--actor")
@click.option("--about", help="only the questions that named this data subject (a name, an e-mail or an id); the search is audited")
@click.option("--limit", default=20, show_default=True)
def audit_list(ledger, principal, kinds: tuple[str, ...], actor: str | None, about: str | None, limit: int,  # type: ignore[no-untyped-def]
               as_json: bool) -> list[dict]:
    """Newest records first, with sealed text opened where it has not been erased."""
    from core.workbench.audit_views import list_trail

    rows = list_trail(ledger, principal, about=about, kinds=list(kinds) or None, actor=actor, limit=limit)
    if about and not rows and not as_json:
        click.echo("no record names that subject (or it was erased)", err=True)
    return rows
