"""Right-to-be-forgotten requests: record, preview, confirm, cancel.

A request names a document (by id) or a data subject (an e-mail, a name or an id). A subject is
found however it is written (core/erasure/targets.py, core/subject_match.py); the preview lists
every match for the officer, who excludes what is not the subject and types the subject to
confirm; only then can a subject purge run. Execution and proof live in core/erasure/purge.py and
core/erasure/proof.py. The subject's identifier is sealed under a per-request key that is destroyed
when the request is certified, cancelled or superseded by a certified request for the same person.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.audit import asked_about
from core.policy.actions import PURGE
from core.erasure.events import ErasureStep
from core.erasure.impact import audit_record_ids, describe, measure
from core.erasure.impact import documents as affected_documents
from core.erasure.records import STATUSES, Certificate, Recorded, Request
from core.stores.erasure_tables import ErasureRequest
from core.erasure.targets import Match, Targets, document_targets, find_matches, passages, targets_from_matches
from core.errors import InvalidInput, NotFound, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.audit.sealing import destroy_keys, ensure_keys, load_keys, seal, unseal
from core.subject_match import SubjectMatcher

DEADLINE_DAYS = 30  # GDPR Art. 12(3): one month
OPEN = ("received", "previewed", "confirmed", "incomplete")
__all__ = ["STATUSES", "Certificate", "Recorded", "Request", "Targets", "find_targets"]


class AlreadyErased(RagLedgerError):
    """The target was erased by an earlier request: nothing to do, and we say so."""


class ConfirmationRequired(RagLedgerError):
    """A subject purge runs only after its matches were previewed and the subject typed to confirm."""



def journal_path(ledger: Ledger, request_id: str) -> Path:
    """Where a purge in progress keeps its journal (core/erasure/purge.py writes it; requests check for it)."""
    return ledger.settings.journal_dir / f"{request_id}.json"

def request_key_ref(request_id: str) -> str:
    return f"req:{request_id}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create_request(ledger: Ledger, principal: Principal, *, doc_id: str | None = None, subject: str | None = None,
                   requested_by: str, reason: str = "", scope: str = "documents",
                   received_on: str | date | None = None) -> Recorded:
    """Record a request. `received_on` is the day it arrived (a letter typed in later): the deadline
    counts from it. Submitting the same request again while it is open returns the open one
    (`duplicate` true), so a double click records one. `matches` says how many places the subject
    was found now; with none, `warning` says so (the request is still recorded: the requester is
    owed an answer, and the officer closes it with a reason)."""
    require_audited(ledger, principal, PURGE.name, "erasure.create")
    if bool(doc_id) == bool(subject):
        raise InvalidInput("name exactly one target: a data subject or a document", field="target")
    if scope not in ("documents", "chunks"):
        raise InvalidInput(f"unknown scope {scope!r}", field="scope", hint="use 'documents' or 'chunks'")
    if not requested_by.strip():
        raise InvalidInput("who requested the erasure is required", field="requested_by",
                           hint="a case or ticket reference, e.g. 'DSR-2026-014 (data subject)'")
    if subject is not None and len(subject.strip()) < 3:
        raise InvalidInput("the subject is too short to search for safely", field="target", hint="give a full e-mail, name or id")
    if subject is not None and _mentions(subject, requested_by + "\n" + reason):
        # The request register and the certificate are kept; they must not hold what is being erased.
        raise InvalidInput("who requested it and the reason must not contain the subject's identifier", field="requested_by",
                           hint="name the requester by a case or ticket reference, e.g. 'DSR-2026-014 (data subject)'")
    received = received_at(received_on)
    if doc_id is not None:
        _check_document(ledger, doc_id)
    scope = scope if subject else "documents"
    same = _open_duplicate(ledger, doc_id=doc_id, subject=subject, scope=scope, requested_by=requested_by.strip())
    if same is not None:
        return Recorded.of(get_request(ledger, same), duplicate=True)
    request_id = f"era_{uuid.uuid4().hex[:16]}"
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        sealed = None
        if subject is not None:
            ref = request_key_ref(request_id)
            sealed = seal({"subject": subject.strip()}, [ref], ensure_keys(conn, [ref]))
        conn.execute(table.insert().values(
            request_id=request_id, kind="document" if doc_id else "subject", scope=scope,
            doc_id=doc_id, subject_sealed=sealed,
            requested_by=requested_by.strip(), recorded_by=principal.name, reason=reason, status="received",
            received_at=received.isoformat(timespec="seconds"),
            due_at=(received + timedelta(days=DEADLINE_DAYS)).isoformat(timespec="seconds"),
        ))
    found = len(find_matches(ledger, subject)[0]) if subject is not None else None
    ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=request_id, stage="recorded",
                                    counts={} if found is None else {"matches": found}))
    warning = None
    if found == 0:
        warning = ("nothing stored mentions this subject (no chunk, title or registry field): there may be nothing to erase; "
                   "check the spelling, or answer the requester and close the request with a reason")
    return Recorded.of(get_request(ledger, request_id), duplicate=False, matches=found, warning=warning)


def received_at(received_on: str | date | None) -> datetime:
    """The moment the deadline counts from: now, or the start (UTC) of the day the request arrived."""
    current = datetime.now(timezone.utc)
    if received_on is None or received_on == "":
        return current
    if isinstance(received_on, datetime):
        received_on = received_on.date()
    if not isinstance(received_on, date):
        try:
            received_on = date.fromisoformat(str(received_on).strip())
        except ValueError:
            raise InvalidInput(f"the receipt date {received_on!r} is not a date", field="received_at",
                               hint="write it as YYYY-MM-DD, e.g. 2026-11-30") from None
    if received_on > current.date():
        raise InvalidInput(f"the receipt date {received_on.isoformat()} is in the future", field="received_at",
                           hint="give the day the request arrived: today or earlier")
    if received_on == current.date():
        return current
    return datetime(received_on.year, received_on.month, received_on.day, tzinfo=timezone.utc)


def _open_duplicate(ledger: Ledger, *, doc_id: str | None, subject: str | None, scope: str, requested_by: str) -> str | None:
    """An open request for the same target, scope and requester (a double submit), or None."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.request_id).where(
            table.c.status.in_(OPEN), table.c.kind == ("document" if doc_id else "subject"), table.c.scope == scope,
            table.c.requested_by == requested_by, *([table.c.doc_id == doc_id] if doc_id else []))
            .order_by(table.c.id)).all()
    for (rid,) in rows:
        if doc_id or (subject_of(ledger, rid) or "").strip().casefold() == (subject or "").strip().casefold():
            return rid
    return None


def _check_document(ledger: Ledger, doc_id: str) -> None:
    from core.rag.documents import get_document

    doc = get_document(ledger, doc_id)
    if doc["status"] != "active":
        raise AlreadyErased(f"document {doc_id} was already erased", hint="nothing to do; see its erasure certificate")


def get_request(ledger: Ledger, request_id: str) -> Request:
    """The request as the register holds it (its subject stays sealed); MalformedRecord if the row was damaged."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.request_id == request_id)).mappings().first()
    if row is None:
        raise NotFound(f"no erasure request {request_id!r}", hint="list them with `ragledger purge --list`")
    return Request.from_row(dict(row), now())


def list_requests(ledger: Ledger, principal: Principal) -> list[Request]:
    require_audited(ledger, principal, PURGE.name, "erasure.list")
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(table.c.request_id).order_by(table.c.id.desc()))]
    return [get_request(ledger, i) for i in ids]


ERASED = "erased"
NOT_KEPT = "not kept"


def subjects(ledger: Ledger, principal: Principal, requests: list[Request]) -> dict[str, str]:
    """Whom (or which document) each request is about, for the officer's request table. A subject
    is readable only while its request key exists: after certification it reads "erased", after a
    cancel or close "not kept". A document reads as its title for this officer."""
    require_audited(ledger, principal, PURGE.name, "erasure.subjects")
    from core.rag.documents import titles_for

    titles = titles_for(ledger, principal, [r.doc_id for r in requests if r.kind == "document" and r.doc_id])
    out = {}
    for r in requests:
        if r.kind == "document":
            title = titles.get(r.doc_id or "", "")
            out[r.request_id] = f"{r.doc_id} ({ERASED})" if r.status == "certified" or title == "[erased]" else f"{r.doc_id}: {title}"
            continue
        shown = subject_of(ledger, r.request_id)
        out[r.request_id] = shown if shown is not None else (ERASED if r.status == "certified" else NOT_KEPT)
    return out


def certificate(ledger: Ledger, principal: Principal, request_id: str) -> Certificate | None:
    require_audited(ledger, principal, PURGE.name, f"erasure.certificate:{request_id}")
    return get_request(ledger, request_id).certificate


def subject_of(ledger: Ledger, request_id: str) -> str | None:
    """The subject's identifier, while the request key exists (None after certification)."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    ref = request_key_ref(request_id)
    with ledger.engine.connect() as conn:
        sealed = conn.execute(select(table.c.subject_sealed).where(table.c.request_id == request_id)).scalar()
        keys = load_keys(conn, [ref])
    if not sealed:
        return None
    data = unseal(sealed, [ref], keys)
    return data["subject"] if data else None


def _mentions(subject: str, text: str) -> bool:
    return subject.strip().lower() in text.lower() or bool(SubjectMatcher(subject).find(text))


def find_targets(ledger: Ledger, request: Request, subject: str | None) -> tuple[Targets, list[Match], dict[str, Any]]:
    """The targets of a request (after the officer's exclusions), the matches and the search stats."""
    if request.kind == "document":
        return document_targets(ledger, request.doc_id or ""), [], {}
    if subject is None:
        raise RagLedgerError(f"the subject of {request.request_id} is no longer stored", hint="the request was closed; record a new one")
    matches, stats = find_matches(ledger, subject)
    return targets_from_matches(ledger, request.scope, matches, request.excluded or []), matches, stats


def preview(ledger: Ledger, principal: Principal, request_id: str) -> dict[str, Any]:
    """Everything the request will touch, with every match and its passage as this officer may see
    it. Only counts and opaque ids are recorded on the request; passages are returned, never stored."""
    require_audited(ledger, principal, PURGE.name, f"erasure.preview:{request_id}")
    request = get_request(ledger, request_id)
    if request.status in ("executed", "certified"):
        raise AlreadyErased(f"request {request_id} was already executed", hint="download its certificate instead")
    if request.status in ENDINGS:
        raise RagLedgerError(f"request {request_id} was {request.status}", hint="record a new request")
    request = replace(request, excluded=[])  # the preview shows everything; exclusions are chosen again at confirmation
    subject = subject_of(ledger, request_id)
    targets, matches, stats = find_targets(ledger, request, subject)
    with ledger.engine.connect() as conn:  # records whose question named the subject (core/audit/asked_about.py)
        asked = asked_about.named(conn, [subject]) if request.kind == "subject" and subject else 0
    impact = measure(ledger, targets)  # the same count the purge plans with and the certificate shows
    summary = {**targets.as_dict(), "documents": len(targets.doc_ids), "chunks": len(targets.chunk_ids),
               "questions_naming_subject": asked,
               "uploaded_files": impact["uploaded_files"], "keys": impact["keys_destroyed"], "impact": impact,
               "cached_results": 0, "search": stats,
               "matches": [{k: v for k, v in m.as_dict().items() if k not in ("start", "end")} for m in matches]}
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request_id).values(
            status="previewed", previewed_at=now(), preview_json=json.dumps(summary)))
    # Titles and passages are returned to the officer, never stored on the request.
    shown = passages(ledger, principal, matches)
    summary["matches"] = [{**m, "passage": shown.get(m["match_id"], "")} for m in summary["matches"]]
    summary["document_list"] = affected_documents(ledger, principal, targets, matches)
    summary["audit_record_list"] = audit_record_ids(ledger, targets)
    summary["sentence"] = describe(impact)
    return summary


def confirm(ledger: Ledger, principal: Principal, request_id: str, typed: str, exclude: list[str] | tuple[str, ...] = ()) -> Request:
    """Record the officer's confirmation of the previewed matches: `typed` must equal the subject
    (or the document id), `exclude` names matches (mat_…) or documents (doc_…) that are not the
    subject. A subject purge executes only a confirmed request."""
    require_audited(ledger, principal, PURGE.name, f"erasure.confirm:{request_id}")
    request = get_request(ledger, request_id)
    if request.status != "previewed":
        raise ConfirmationRequired(f"request {request_id} is {request.status}, not previewed",
                                   hint=f"preview it first: `ragledger purge --request {request_id} --dry-run`")
    target = request.doc_id if request.kind == "document" else subject_of(ledger, request_id)
    if target is None or typed.strip() != target.strip():
        raise ConfirmationRequired("the confirmation does not match the request's target",
                                   hint="type the subject (or document id) exactly as it was recorded")
    matches = (request.preview or {})["matches"]
    known = {m["match_id"] for m in matches} | {m["doc_id"] for m in matches}
    unknown = [x for x in exclude if x not in known]
    if unknown:
        raise RagLedgerError(f"not in the preview: {', '.join(unknown)}", hint="exclude match ids (mat_…) or document ids (doc_…) the preview listed")
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request_id).values(
            status="confirmed", confirmed_at=now(), confirmed_by=principal.name, excluded_json=json.dumps(sorted(set(exclude)))))
    ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=request_id, stage="confirmed",
                                    counts={"excluded": len(set(exclude))}))
    return get_request(ledger, request_id)


# How an open request ends without an erasure; both destroy its sealed subject.
ENDINGS = {"cancelled": "cancel", "closed": "close"}


def cancel(ledger: Ledger, principal: Principal, request_id: str, reason: str) -> Request:
    """Withdraw an open request (the requester withdrew it, it was recorded by mistake): nothing is erased."""
    return end_request(ledger, principal, request_id, reason, "cancelled")


def close(ledger: Ledger, principal: Principal, request_id: str, reason: str) -> Request:
    """Answer an open request without erasing (nothing matched, or refused on a legal ground), so it
    does not stay "previewed" forever."""
    return end_request(ledger, principal, request_id, reason, "closed")


def end_request(ledger: Ledger, principal: Principal, request_id: str, reason: str, status: str) -> Request:
    verb = ENDINGS[status]
    require_audited(ledger, principal, PURGE.name, f"erasure.{verb}:{request_id}")
    if not reason.strip():
        raise InvalidInput(f"a reason is required to {verb} a request", field="reason", hint="e.g. 'withdrawn by the requester (DSR-2026-014)'")
    request = get_request(ledger, request_id)
    subject = subject_of(ledger, request_id)
    if subject is not None and _mentions(subject, reason):
        raise InvalidInput("the reason must not contain the subject's identifier", field="reason", hint="give a case or ticket reference")
    _close(ledger, principal, request, reason.strip(), status)
    return get_request(ledger, request_id)


def _close(ledger: Ledger, principal: Principal, request: Request, reason: str, status: str = "cancelled") -> None:
    rid = request.request_id
    if request.status not in OPEN:
        raise RagLedgerError(f"request {rid} is {request.status}", hint=f"only open requests can be {status}")
    if journal_path(ledger, rid).exists():
        raise RagLedgerError(f"request {rid} is being executed", hint="complete the erasure first (`ragledger purge --resume`)")
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        destroy_keys(conn, [request_key_ref(rid)])
        # cancelled_at / cancel_reason hold the end of a closed request too (one column pair, no migration).
        conn.execute(table.update().where(table.c.request_id == rid).values(
            status=status, cancelled_at=now(), cancel_reason=reason, subject_sealed=None))
    ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=rid, stage=status, reason=reason))


def close_superseded(ledger: Ledger, principal: Principal, certified_id: str, subject: str) -> list[str]:
    """After a certified subject erasure, no other open request (a dry run, say) may keep the same
    person's identifier decryptable: those naming the same person are cancelled as superseded."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(table.c.request_id).where(
            table.c.kind == "subject", table.c.status.in_(OPEN), table.c.request_id != certified_id))]
    closed = []
    for rid in ids:
        other = subject_of(ledger, rid)
        if other is None or not (_mentions(subject, other) or _mentions(other, subject)):
            continue

        if journal_path(ledger, rid).exists():
            continue  # being executed: it certifies (and destroys its key) itself
        _close(ledger, principal, get_request(ledger, rid), f"superseded by {certified_id}")
        closed.append(rid)
    return closed
