"""`ragledger purge`: right-to-be-forgotten erasure, with preview, confirmation, resume, cancel and certificate."""
from __future__ import annotations

from typing import Any

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, open_ledger, register_flags, user_option

NOT_CLEAN_EXIT = 6  # the purge ran but its verification found traces: the request stays open
register_flags({"requested_by": "--requested-by NAME", "reason": "--reason TEXT", "target": "--doc DOC_ID or --subject TEXT",
                "scope": "--scope documents|chunks", "received_at": "--received YYYY-MM-DD"})


def _progress(step: str, i: int, n: int) -> None:
    if step != "done":
        click.echo(f"[{i + 1}/{n}] {step}", err=True)


def _preview_text(request_id: str, summary: dict[str, Any], dry_run: bool) -> str:
    matches = summary.get("matches") or []
    lines = []
    if matches:
        docs = len({m["doc_id"] for m in matches})
        lines.append(f"{request_id}: {len(matches)} match(es) in {docs} document(s); exclude any that is not the subject with --exclude ID:")
        for m in matches:
            lines.append(f"  {m['match_id']}  {m['doc_id']}  {m['where']} ({m['kind']}): {m['passage']}")
    for d in summary.get("document_list") or []:
        lines.append(f"  {d['doc_id']}  {d['title']}  [{', '.join(d['groups'])}; {d['classification']}]  erased {d['erased']}: "
                     f"{d['chunks_deleted']} of {d['chunks_total']} chunk(s)")
    if summary.get("sentence"):
        lines.append(f"{request_id}: {summary['sentence']}")
    lines.append(f"{request_id}{' (dry run)' if dry_run else ''}: would erase {summary['documents']} document(s) whole, "
                 f"{summary['chunks']} chunk(s) in all, {len(summary['partial_doc_ids'])} document(s) partially; "
                 f"{summary['audit_records']} audit record(s) would become unreadable; "
                 f"checkpoints to flag: {', '.join(summary['checkpoints']) or 'none'}")
    if dry_run:
        lines.append(f"Nothing was changed. Execute it with `ragledger purge --request {request_id}` "
                     f"or drop it with `ragledger purge --cancel {request_id} --reason TEXT`.")
    return "\n".join(lines)


@cli.command("purge")
@click.option("--doc", "doc_id", help="erase this document (its id)")
@click.option("--subject", help="erase a data subject: an e-mail, a name or an id")
@click.option("--request", "request_id", help="continue an open request (a dry run or an incomplete purge) by its id")
@click.option("--scope", type=click.Choice(["documents", "chunks"]), default="documents", show_default=True,
              help="subject requests: erase whole documents that mention the subject, or only those chunks")
@click.option("--requested-by", help="who asked for the erasure (recorded on the request)")
@click.option("--reason", default="", help="legal basis or note (for --cancel and --close: why)")
@click.option("--received", "received_on", help="the day the request arrived (YYYY-MM-DD; default today): the deadline counts from it")
@click.option("--exclude", "exclude", multiple=True, help="a match id (mat_…) or document id (doc_…) of the preview that is not the subject; repeatable")
@click.option("--yes", is_flag=True, help="confirm without the typed prompt (scripts)")
@click.option("--dry-run", is_flag=True, help="preview every match and what would be erased; change nothing")
@click.option("--resume", is_flag=True, help="complete every purge that was interrupted")
@click.option("--cancel", "cancel_id", help="cancel an open request by its id (with --reason); its sealed subject is destroyed")
@click.option("--close", "close_id", help="close an open request answered without erasure (with --reason): nothing matched, or refused")
@click.option("--list", "list_requests_", is_flag=True, help="list erasure requests with their status and deadline")
@click.option("--certificate", "certificate_of", help="print the certificate of a request id (Markdown, or JSON with --json)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def purge_cmd(doc_id: str | None, subject: str | None, request_id: str | None, scope: str, requested_by: str | None, reason: str,
              received_on: str | None, exclude: tuple[str, ...], yes: bool, dry_run: bool, resume: bool, cancel_id: str | None,
              close_id: str | None, list_requests_: bool,
              certificate_of: str | None, as_json: bool, user: str) -> None:
    """Erase a document or a data subject from every store, prove it, and certify it."""
    from core.erasure.requests import cancel, certificate, close, confirm, create_request, get_request, list_requests, preview, subject_of, subjects
    from core.erasure.proof import certificate_markdown
    from core.erasure.purge import execute, pending_requests

    ledger = open_ledger()
    principal = ledger.policy.principal(user)
    if list_requests_:
        rows = list_requests(ledger, principal)
        if as_json:
            emit([r.to_dict() for r in rows], True)
        about = {} if as_json else subjects(ledger, principal, rows)
        for r in [] if as_json else rows:
            flag = "  OVERDUE" if r.overdue else ""
            click.echo(f"{r.request_id}  {r.kind:<8} {r.status:<10} received {r.received_at[:10]} due {r.due_at[:10]}"
                       f"  {about[r.request_id]}{flag}")
        return
    if certificate_of:
        cert = certificate(ledger, principal, certificate_of)
        if cert is None:
            raise click.ClickException(f"request {certificate_of} has no certificate yet (run the purge first)")
        emit(cert.to_dict(), as_json, certificate_markdown(cert))
        return
    if resume:
        done = [execute(ledger, principal, rid, progress=None if as_json else _progress) for rid in pending_requests(ledger)]
        emit([c.request_id for c in done], as_json, f"resumed {len(done)} purge(s)" + "".join(f"\n  {c.request_id}" for c in done))
        return
    if cancel_id:
        closed = cancel(ledger, principal, cancel_id, reason)
        emit(closed.to_dict(), as_json, f"{cancel_id} cancelled; nothing was erased and its subject is no longer stored")
        return
    if close_id:
        closed = close(ledger, principal, close_id, reason)
        emit(closed.to_dict(), as_json, f"{close_id} closed without erasure; its subject is no longer stored")
        return
    if request_id:
        request = get_request(ledger, request_id)
    else:
        if not requested_by:
            raise click.UsageError("--requested-by NAME is required (who asked for the erasure)")
        request = create_request(ledger, principal, doc_id=doc_id, subject=subject, requested_by=requested_by, reason=reason, scope=scope,
                                 received_on=received_on)
        if request.duplicate:
            click.echo(f"{request.request_id} is already open for this target and requester: continuing it", err=True)
        if request.warning:
            click.echo(f"Warning: {request.warning} (`ragledger purge --close {request.request_id} --reason TEXT`)", err=True)
    rid = request.request_id
    summary = preview(ledger, principal, rid)
    if dry_run:
        emit({"request_id": rid, "dry_run": True, **summary}, as_json, _preview_text(rid, summary, True))
        return
    if not as_json:
        click.echo(_preview_text(rid, summary, False))
    target = request.doc_id if request.kind == "document" else subject_of(ledger, rid)
    typed = target if yes else click.prompt("Type the subject (or document id) exactly to confirm the erasure", default="", show_default=False, err=True)
    confirm(ledger, principal, rid, typed or "", list(exclude))
    cert = execute(ledger, principal, rid, progress=None if as_json else _progress)
    emit(cert.to_dict(), as_json, certificate_markdown(cert))
    if not cert.verified_clean:
        raise SystemExit(NOT_CLEAN_EXIT)
