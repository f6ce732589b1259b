"""Executing an erasure: a journaled, resumable sequence of idempotent steps.

The journal (RAGLEDGER_HOME/journal/<request>.json, opaque ids only; probe strings sealed under the
request key) is written before the first change and after every step, so killing the process at
any point and running the purge again completes it. The LanceDB steps hold the store lock
exclusively: cleanup with delete_unverified=True would otherwise remove files of a write in progress.
"""
from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from core.audit import asked_about
from core.policy.actions import PURGE
from core.rag.chunk_store import id_predicate
from core.erasure.records import JOURNAL_HINT, Certificate, Journal, Request, parse_json
from core.erasure.requests import AlreadyErased, ConfirmationRequired, Targets, find_targets, get_request, journal_path, now, request_key_ref, subject_of
from core.erasure.events import ErasureStep
from core.erasure.impact import affected, for_certificate, measure, upload_files
from core.erasure.impact import documents as affected_documents
from core.stores.erasure_tables import ErasureRequest
from core.db import write_lock
from core.errors import RagLedgerError
from core.audit.guard import require_audited
from core.rag.ingest import remove_uploads
from core.keystore import store_for
from core.ledger import Ledger
from core.locks import store_lock
from core.policy.engine import Principal
from core.audit.sealing import destroy_keys, ensure_keys, key_ref_for_doc, load_keys, seal, unseal
from core.stores.tables import DocumentRow, utcnow

STEPS = ("plan", "lance", "registry", "uploads", "keys", "models", "sql_compact", "verify", "certificate")
CRASH_ENV = "RAGLEDGER_PURGE_CRASH_AFTER"  # test hook: SIGKILL this process right after the named step
Progress = Callable[[str, int, int], None]


def _save(ledger: Ledger, journal: Journal) -> None:
    path = journal_path(ledger, journal.request_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(journal.to_dict(), indent=1))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def pending_requests(ledger: Ledger) -> list[str]:
    folder = ledger.settings.journal_dir
    return sorted(p.stem for p in folder.glob("era_*.json")) if folder.exists() else []


def _load(path: Path) -> Journal:
    return Journal.from_dict(parse_json(path.read_text(), f"the purge journal {path}", JOURNAL_HINT))


def execute(ledger: Ledger, principal: Principal, request_id: str, progress: Progress | None = None) -> Certificate:
    """Run (or resume) a purge to its certificate; return the certificate."""
    require_audited(ledger, principal, PURGE.name, f"erasure.execute:{request_id}")
    request = get_request(ledger, request_id)
    path = journal_path(ledger, request_id)
    if not path.exists():
        _check_executable(request)
    previous = request.certificate  # a failed attempt: this run continues the erasure
    journal = _load(path) if path.exists() else Journal(
        request_id=request_id, actor=principal.name, attempt=previous.attempt + 1 if previous else 1)
    for i, step in enumerate(STEPS):
        if step in journal.done:
            continue
        if progress:
            progress(step, i, len(STEPS))
        journal.stats[step] = _STEP_FUNCS[step](ledger, principal, request, journal)
        journal.done.append(step)
        _save(ledger, journal)
        if os.environ.get(CRASH_ENV) == step:
            os.kill(os.getpid(), signal.SIGKILL)
    path.unlink(missing_ok=True)
    ledger.audit.checkpoint("purge")  # the erasure's records are sealed into a signed checkpoint at once
    if progress:
        progress("done", len(STEPS), len(STEPS))
    cert = get_request(ledger, request_id).certificate
    assert cert is not None  # the certificate step stored it
    return cert


def _check_executable(request: Request) -> None:
    rid = request.request_id
    if request.status == "certified":
        raise AlreadyErased(f"request {rid} was already executed and certified", hint="nothing was changed; download its certificate")
    if request.status in ("cancelled", "closed"):
        raise RagLedgerError(f"request {rid} was {request.status}", hint="record a new request")
    if request.kind == "subject" and request.status != "confirmed":
        raise ConfirmationRequired(f"request {rid} is {request.status}: its matches were not confirmed",
                                   hint=f"preview it and type the subject to confirm: `ragledger purge --request {rid}`")


def _targets(journal: Journal) -> Targets:
    return journal.planned_targets()


def _probes(ledger: Ledger, journal: Journal) -> list[str]:
    ref = request_key_ref(journal.request_id)
    with ledger.engine.connect() as conn:
        data = unseal(journal.sealed_probes(), [ref], load_keys(conn, [ref]))
    if data is None:
        raise RagLedgerError("the request key is gone before verification finished", hint="the erasure itself is complete; re-verify is not possible")
    return data["probes"]


def _plan(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    subject = subject_of(ledger, request.request_id)
    targets, matches, _ = find_targets(ledger, request, subject)
    rerun = request.certificate is not None  # an earlier attempt did not verify clean
    with ledger.engine.connect() as conn:  # questions may name a subject no document holds
        asked = asked_about.named(conn, [subject]) if subject else 0
    if not targets.chunk_ids and not targets.doc_ids and not targets.partial_doc_ids and not rerun and not asked:
        raise AlreadyErased("nothing matches this request: no stored chunk or document field mentions the target",
                            hint="it may have been erased already; nothing was changed")
    probes = _subject_probes(ledger, subject, matches, targets) if subject else []
    probes += _document_probes(ledger, targets)
    ref = request_key_ref(request.request_id)
    # Titles are sealed like the probes: the journal is on disk while the disk scan looks for erased strings.
    docs = for_certificate(affected_documents(ledger, principal, targets, matches))
    with ledger.engine.begin() as conn:
        keys = ensure_keys(conn, [ref])
        journal.probes = seal({"probes": probes}, [ref], keys)
        journal.documents = seal({"documents": docs}, [ref], keys)
    journal.targets = Targets(**targets.as_dict())  # a copy, as the journal file holds it
    journal.impact = measure(ledger, targets)  # what the preview showed, counted the same way
    ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=request.request_id, stage="started",
                                    counts={"documents": len(targets.doc_ids), "chunks": len(targets.chunk_ids)}))
    return {"documents": len(targets.doc_ids), "partial_documents": len(targets.partial_doc_ids), "chunks": len(targets.chunk_ids),
            "probes": len(probes), "questions_naming_subject": asked, "attempt": journal.attempt, "excluded": len(targets.excluded),
            "subject_probed_on_disk": bool(subject) and not _keeps_excluded(targets, matches)}


def _keeps_excluded(targets: Targets, matches: list) -> bool:  # type: ignore[type-arg]
    skip = set(targets.excluded)
    return any(m.match_id in skip or m.doc_id in skip for m in matches)


def _subject_probes(ledger: Ledger, subject: str, matches: list, targets: Targets) -> list[str]:  # type: ignore[type-arg]
    """The subject and every spelling found, to look for on disk afterwards. When the officer kept
    matches (another person of that name), those strings legitimately stay: the disk scan then
    cannot use them, and the normalised re-scan of every chunk and registry field checks instead."""
    if _keeps_excluded(targets, matches):
        return []
    erased = set(targets.chunk_ids)
    rows = {r["chunk_id"]: r["text"] for r in ledger.store.all_rows(["chunk_id", "text"]) if r["chunk_id"] in erased}
    found = {rows[m.chunk_id][m.start:m.end] for m in matches if m.chunk_id in rows}
    return [subject, *sorted(f for f in found if len(f.strip()) >= 3 and f != subject)]


def _document_probes(ledger: Ledger, targets: Targets, per_chunk: int = 2, width: int = 40) -> list[str]:
    """Strings that only the erased documents contain, to look for on disk afterwards."""
    if not targets.doc_ids:
        return []
    erased = set(targets.chunk_ids)
    rows = ledger.store.all_rows(["chunk_id", "text"])
    kept_text = "\n".join(r["text"] for r in rows if r["chunk_id"] not in erased)
    probes = []
    for r in rows:
        if r["chunk_id"] not in erased or len(r["text"]) < width:
            continue
        for k in range(per_chunk):
            at = (len(r["text"]) - width) * (k + 1) // (per_chunk + 1)
            probe = r["text"][at:at + width]
            if probe.strip() and probe not in kept_text:
                probes.append(probe)
    return probes


def _lance(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    from core.erasure.lance_erase import erase_rows

    with store_lock(ledger, exclusive=True):
        stats = erase_rows(ledger.settings.lance_location, _targets(journal).chunk_ids)
    ledger.store.refresh()  # our own handle still points at a version whose files are gone
    return stats


def _registry(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    targets = _targets(journal)
    ledger.store.refresh()
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    # Read before the transaction: opening sealed rows reads the key vault on a connection of its own.
    remaining = {d: ledger.store.rows_where(id_predicate("doc_id", [d]), ["chunk_id", "pii_spans"]) for d in targets.partial_doc_ids}
    with ledger.engine.begin() as conn:
        for d in targets.doc_ids:
            conn.execute(table.update().where(table.c.doc_id == d).values(
                status="erased", title="[erased]", title_spans="[]", source_key=f"erased:{d}", meta="{}", pii_summary="{}",
                source_file=None, chunk_count=0, updated_at=utcnow()))
        for d in targets.partial_doc_ids:
            rows = remaining[d]
            summary = Counter(s["type"] for r in rows for s in json.loads(r["pii_spans"]))
            values = dict(chunk_count=len(rows), pii_summary=json.dumps(dict(summary), sort_keys=True), source_file=None, updated_at=utcnow())
            values.update(_scrubbed(conn, d, targets.scrub.get(d, [])))
            conn.execute(table.update().where(table.c.doc_id == d).values(**values))
    return {"documents_erased": len(targets.doc_ids), "documents_partially_erased": len(targets.partial_doc_ids),
            "registry_fields_erased": sum(len(f) for f in targets.scrub.values())}


def _scrubbed(conn, doc_id: str, fields: list[str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Registry fields of a partly erased document that name the subject (front-matter owner and
    other values, the file name in the source key): erased in place, the document stays."""
    if not fields:
        return {}
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    meta = json.loads(conn.execute(select(table.c.meta).where(table.c.doc_id == doc_id)).scalar() or "{}")
    values: dict[str, Any] = {}
    for f in fields:
        if f == "owner":
            values["owner"] = "[erased]"
            meta.pop("owner", None)
        elif f.startswith("meta:"):
            meta.pop(f[5:], None)
        elif f == "source_key":
            values["source_key"] = f"erased:{doc_id}"
    values["meta"] = json.dumps(meta, default=str)
    return values


def _uploads(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    targets = _targets(journal)
    # A partially erased document's original still mentions the subject: it goes too.
    files = upload_files(ledger, affected(targets))  # the preview's count (core/erasure/impact.py)
    for d in affected(targets):
        remove_uploads(ledger, d)
    return {"files_removed": len(files)}


def _keys(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    """Crypto-shred the audit text of every record that cited an affected document. For a partial
    erasure this is deliberately wider than the erased chunks: keys are per document, and a record
    that quoted a remaining chunk may have quoted an erased one beside it."""
    targets = _targets(journal)
    refs = [key_ref_for_doc(d) for d in targets.doc_ids + targets.partial_doc_ids]
    # A partly erased document's remaining chunks are sealed under the key about to be destroyed:
    # re-sealed first under a staged next generation, which goes live as the old one is destroyed.
    partial = targets.partial_doc_ids if ledger.chunk_cipher is not None else []
    staged: dict[str, list] = {}
    resealed = 0
    if partial:
        from core.erasure.chunk_rekey import reseal, stage

        staged = stage(ledger, journal, partial, lambda: _save(ledger, journal))
        resealed = reseal(ledger, staged, partial)
    # A subject's own key too (questions that named them, core/audit/asked_about.py), found from the
    # subject and every spelling the plan found; under the chain's lock, so no question about them
    # is being sealed at the same moment.
    subject = subject_of(ledger, request.request_id) if request.kind == "subject" else None
    spellings = [subject, *_probes(ledger, journal)] if subject else []
    with ledger.engine.begin() as conn:
        write_lock(conn)
        vault = store_for(conn)
        live = {r for r in staged if vault.newest_live(conn, r) == staged[r][0]}  # a re-run after they went live
        destroyed = destroy_keys(conn, [r for r in refs if r not in live])
        if staged:
            from core.erasure.chunk_rekey import install

            install(conn, staged, [r for r in staged if r not in live])
        asked = asked_about.forget(conn, spellings) if subject else {}
    return {"keys_destroyed": destroyed, "audit_records_unreadable": targets.audit_records, "chunks_resealed": resealed, **asked}


def _models(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    from core.models.registry import flag_for_erasure  # part of every deployment: a broken import must fail the purge

    targets = _targets(journal)
    reason = f"trained on data erased by {request.request_id}"
    flagged = flag_for_erasure(ledger, targets.doc_ids + targets.partial_doc_ids, request.request_id, reason)
    # A flagged production embedder must stop serving at once (unless policy lets flagged models serve):
    # the corpus, already without the erased chunks, is re-embedded with a clean embedder here, before
    # verification, so the retrieval check already runs on the index that will serve.
    from core.models.registry import SYSTEM_ACTOR
    from core.models.serving import fall_back

    fell_back = fall_back(ledger, SYSTEM_ACTOR, request_id=request.request_id)
    return {"checkpoints_flagged": sorted(flagged), "embedder_fallback": fell_back}


def _sql_compact(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    """secure_delete already zeroes freed SQLite pages; VACUUM and a WAL truncate remove the rest.
    PostgreSQL: VACUUM FULL rewrites the touched tables into new files and drops the old ones."""
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request.request_id).values(status="executed", executed_at=now()))
    if ledger.engine.dialect.name == "sqlite":
        vacuum_sqlite(ledger)
        return {"sqlite": "wal truncated, vacuumed, secure_delete on"}
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("documents", "sealing_keys", "audit_records"):
            conn.execute(text(f"VACUUM FULL {name}"))
        return {"postgresql": "VACUUM FULL documents, sealing_keys, audit_records"}


def vacuum_sqlite(ledger: Ledger) -> None:
    """Outside any transaction (the engine's connections begin IMMEDIATE), on a raw connection."""
    ledger.engine.dispose()  # close pooled connections so nothing holds the WAL open
    raw = ledger.engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
            cur.execute(statement)
        cur.close()
    finally:
        raw.close()


def _verify(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    from core.erasure.proof import lance_view, remaining_matches, scan_disk, scan_indexes, verify_retrieval

    probes = _probes(ledger, journal)
    targets = _targets(journal)
    subject = subject_of(ledger, request.request_id) if request.kind == "subject" else None
    remaining, kept_chunks = remaining_matches(ledger, request, subject, targets)
    with lance_view(ledger) as view:  # on an object store: every object and old object version, read once
        disk, index = scan_disk(ledger, probes, view), scan_indexes(view.current)
    return {"retrieval": verify_retrieval(ledger, probes, targets.chunk_ids, kept=kept_chunks), "disk_scan": disk,
            "subject_scan": remaining, "index_scan": index}


def _certificate(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> dict[str, Any]:
    from core.erasure.proof import issue_certificate

    from core.erasure.requests import close_superseded

    # A crash after issuing but before the journal was saved: reuse this attempt's certificate, never issue twice.
    stored = get_request(ledger, request.request_id).certificate
    cert = stored if stored and stored.attempt == journal.attempt else issue_certificate(ledger, principal, request, journal)
    if not cert.verified_clean:  # the request stays open: the key and the subject are needed to continue
        return {"certificate_sha256": cert.certificate_sha256, "verified_clean": False}
    subject = subject_of(ledger, request.request_id) if request.kind == "subject" else None
    superseded = close_superseded(ledger, principal, request.request_id, subject) if subject else []
    with ledger.engine.begin() as conn:
        destroy_keys(conn, [request_key_ref(request.request_id)])
        table = ErasureRequest.__table__  # type: ignore[attr-defined]
        conn.execute(table.update().where(table.c.request_id == request.request_id).values(subject_sealed=None))
    return {"certificate_sha256": cert.certificate_sha256, "verified_clean": True, "superseded": superseded}


_STEP_FUNCS: dict[str, Callable[[Ledger, Principal, Request, Journal], dict[str, Any]]] = {
    "plan": _plan, "lance": _lance, "registry": _registry, "uploads": _uploads, "keys": _keys,
    "models": _models, "sql_compact": _sql_compact, "verify": _verify, "certificate": _certificate,
}
assert tuple(_STEP_FUNCS) == STEPS
