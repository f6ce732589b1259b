"""`ragledger purge`: right-to-be-forgotten erasure, with preview, resume and certificate."""
from __future__ import annotations

import click

from core.cli import DEFAULT_CLI_USER, cli, emit, open_ledger, user_option


def _progress(step: str, i: int, n: int) -> None:
    if step != "done":
        click.echo(f"[{i + 1}/{n}] {step}", err=True)


@cli.command("purge")
@click.option("--doc", "doc_id", help="erase this document (its id)")
@click.option("--subject", help="erase a data subject: an e-mail, a name or an id")
@click.option("--scope", type=click.Choice(["documents", "chunks"]), default="documents", show_default=True,
              help="subject requests: erase whole documents that mention the subject, or only those chunks")
@click.option("--requested-by", help="who asked for the erasure (recorded on the request)")
@click.option("--reason", default="", help="legal basis or note")
@click.option("--dry-run", is_flag=True, help="preview what would be erased; change nothing")
@click.option("--resume", is_flag=True, help="complete every purge that was interrupted")
@click.option("--list", "list_requests_", is_flag=True, help="list erasure requests with their status and deadline")
@click.option("--certificate", "certificate_of", help="print the certificate of a request id (Markdown, or JSON with --json)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def purge_cmd(doc_id: str | None, subject: str | None, scope: str, requested_by: str | None, reason: str, dry_run: bool,
              resume: bool, list_requests_: bool, certificate_of: str | None, as_json: bool, user: str) -> None:
    """Erase a document or a data subject from every store, prove it, and certify it."""
    from core.erasure import certificate, create_request, list_requests, preview
    from core.erasure_proof import certificate_markdown
    from core.purge import execute, pending_requests

    ledger = open_ledger()
    principal = ledger.policy.principal(user)
    if list_requests_:
        rows = list_requests(ledger, principal)
        if as_json:
            emit(rows, True)
        for r in [] if as_json else rows:
            flag = "  OVERDUE" if r["overdue"] else ""
            click.echo(f"{r['request_id']}  {r['kind']:<8} {r['status']:<10} received {r['received_at'][:10]} due {r['due_at'][:10]}{flag}")
        return
    if certificate_of:
        cert = certificate(ledger, principal, certificate_of)
        if cert is None:
            raise click.ClickException(f"request {certificate_of} has no certificate yet (run the purge first)")
        emit(cert, as_json, certificate_markdown(cert))
        return
    if resume:
        done = [execute(ledger, principal, rid, progress=None if as_json else _progress) for rid in pending_requests(ledger)]
        emit([c["request_id"] for c in done], as_json, f"resumed {len(done)} purge(s)" + "".join(f"\n  {c['request_id']}" for c in done))
        return
    if not requested_by:
        raise click.UsageError("--requested-by NAME is required (who asked for the erasure)")
    request = create_request(ledger, principal, doc_id=doc_id, subject=subject, requested_by=requested_by, reason=reason, scope=scope)
    summary = preview(ledger, principal, request["request_id"])
    if dry_run:
        emit({"request_id": request["request_id"], "dry_run": True, **summary}, as_json,
             f"{request['request_id']} (dry run): would erase {summary['documents']} document(s), {summary['chunks']} chunk(s); "
             f"{summary['audit_records']} audit record(s) would become unreadable; checkpoints to flag: {', '.join(summary['checkpoints']) or 'none'}")
        return
    cert = execute(ledger, principal, request["request_id"], progress=None if as_json else _progress)
    emit(cert, as_json, certificate_markdown(cert))
