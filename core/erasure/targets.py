"""What an erasure request touches: every match of the subject, and the targets they make.

A subject is found by an exhaustive, normalised, whole-word scan (core/subject_match.py) of every
chunk text, every title, and the registry fields that never reach a chunk (front-matter owner and
other front-matter values, the file name in the source key). Identifiers stored as PII spans right
beside a mention (the subject's e-mail, phone or SSN) are then looked for everywhere too. The
full-text index is queried as an independent second path (a match query, confirmed by the same
scan), never through ranking alone. Each match has an opaque, stable id, so an officer can exclude
it; matches are shown with the passage as the officer may see it and are never stored as text.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, or_, select

from core.rag.chunk_store import id_predicate, spans_of
from core.ledger import Ledger
from core.rag.pii import Span
from core.policy.engine import Principal
from core.rag.redaction import Redactor, spans_in_window
from core.subject_match import Mention, SubjectMatcher, linked_variant
from core.stores.tables import AuditRecord, DocumentRow

# PII types that identify one person: found beside a mention, they are that person's too.
# NATIONAL_ID and PASSPORT gather every country's formats (core/rag/pii_types.py).
IDENTIFIER_TYPES = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "NATIONAL_ID", "PASSPORT", "CREDIT_CARD", "IBAN_CODE",
                              "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "EMPLOYEE_ID"})
LINK_WINDOW = 160  # characters between a mention and an identifier, within one paragraph
CONTEXT = 80  # characters of passage shown on each side of a match
_CHUNK_COLUMNS = ["chunk_id", "doc_id", "ord", "text", "title", "pii_spans"]
_SKIPPED_META = ("title", "groups", "classification", "owner")  # title is matched as the title; owner as the owner


@dataclass
class Targets:
    """What a request touches, by opaque id only."""

    doc_ids: list[str] = field(default_factory=list)  # documents erased whole
    chunk_ids: list[str] = field(default_factory=list)  # every chunk to delete (of whole documents too)
    partial_doc_ids: list[str] = field(default_factory=list)  # documents that lose only some chunks or registry fields
    audit_records: int = 0
    checkpoints: list[str] = field(default_factory=list)
    scrub: dict[str, list[str]] = field(default_factory=dict)  # partial documents: registry fields to erase
    excluded: list[str] = field(default_factory=list)  # match or document ids the officer excluded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Match:
    match_id: str
    doc_id: str
    chunk_id: str | None
    field: str  # "text", "title", "owner", "meta:KEY", "source_key"
    where: str  # for people: "chunk 3", "title", "front matter 'owner'", "file name"
    kind: str  # the variant that matched ("initial", "linked US_SSN", ...)
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _match_id(doc_id: str, place: str, m: Mention) -> str:
    return "mat_" + hashlib.sha256(f"{doc_id}|{place}|{m.start}|{m.end}|{m.kind}".encode()).hexdigest()[:12]


def _linked(row: dict[str, Any], mentions: list[Mention]) -> dict[str, str]:
    """Identifier values stored as spans within LINK_WINDOW of a mention, in the same paragraph."""
    text = row["text"]
    out = {}
    for s in spans_of(row):
        if not {s["type"], *s.get("alt", ())} & IDENTIFIER_TYPES:  # a candidate type counts (core/rag/pii.py)
            continue
        for m in mentions:
            lo, hi = sorted((m.start, s["start"]))
            if abs(s["start"] - m.start) <= LINK_WINDOW and "\n\n" not in text[lo:hi]:
                out[text[s["start"]:s["end"]]] = s["type"]
                break
    return out


def find_matches(ledger: Ledger, subject: str) -> tuple[list[Match], dict[str, Any]]:
    """Every place the subject is mentioned, and how the search went (counts only)."""
    store = ledger.store
    store.refresh()
    matcher = SubjectMatcher(subject)
    rows = store.all_rows(_CHUNK_COLUMNS)
    by_id = {r["chunk_id"]: r for r in rows}
    found: dict[str, Match] = {}

    def add(doc_id: str, chunk_id: str | None, fld: str, where: str, mentions: list[Mention]) -> None:
        for m in mentions:
            mid = _match_id(doc_id, chunk_id or fld, m)
            found.setdefault(mid, Match(mid, doc_id, chunk_id, fld, where, m.kind, m.start, m.end))

    linked: dict[str, str] = {}
    for r in rows:
        mentions = matcher.find(r["text"])
        add(r["doc_id"], r["chunk_id"], "text", f"chunk {r['ord'] + 1}", mentions)
        if mentions:
            linked.update(_linked(r, mentions))
    variants = [v for value, kind in linked.items() if (v := linked_variant(f"linked {kind}", value)) is not None]
    if variants:
        second = SubjectMatcher("", extra=variants)
        for r in rows:
            add(r["doc_id"], r["chunk_id"], "text", f"chunk {r['ord'] + 1}", second.find(r["text"]))
    titles = {r["doc_id"]: r["title"] for r in rows}
    for doc_id, title in titles.items():
        add(doc_id, None, "title", "title", matcher.find(title))
    fts = {"candidates": 0, "confirmed": 0, "only_in_index": 0}
    for words in matcher.search_terms():
        for r in store.text_candidates(words, _CHUNK_COLUMNS):
            fts["candidates"] += 1
            mentions = matcher.find(r["text"])
            fts["confirmed"] += bool(mentions)
            before = len(found)
            add(r["doc_id"], r["chunk_id"], "text", f"chunk {r['ord'] + 1}", mentions)
            fts["only_in_index"] += len(found) - before
            by_id.setdefault(r["chunk_id"], r)
    registry, scanned = _registry_matches(ledger, matcher)
    for doc_id, fld, where, mentions in registry:
        add(doc_id, None, fld, where, mentions)
    matches = sorted(found.values(), key=lambda m: (m.doc_id, m.chunk_id or "", m.start, m.match_id))
    stats = {"chunks_scanned": len(rows), "registry_documents_scanned": scanned, "full_text_index": fts,
             "linked_identifiers": len(variants)}
    return matches, stats


def _registry_matches(ledger: Ledger, matcher: SubjectMatcher) -> tuple[list[tuple[str, str, str, list[Mention]]], int]:
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.doc_id, table.c.title, table.c.owner, table.c.meta, table.c.source_key)
                            .where(table.c.status == "active")).mappings().all()
    out = []
    for r in rows:
        meta = json.loads(r["meta"] or "{}")
        fields = [("title", "title", r["title"]), ("owner", "front matter 'owner'" if "owner" in meta else "owner", r["owner"]),
                  ("source_key", "file name", r["source_key"])]
        for key, value in meta.items():
            if key in _SKIPPED_META:
                continue
            values = value if isinstance(value, list) else [value]
            fields += [(f"meta:{key}", f"front matter '{key}'", str(v)) for v in values if isinstance(v, str)]
        for fld, where, value in fields:
            mentions = matcher.find(value or "")
            if mentions:
                out.append((r["doc_id"], fld, where, mentions))
    return out, len(rows)


def passages(ledger: Ledger, officer: Principal, matches: list[Match]) -> dict[str, str]:
    """Each match's passage as the officer may see it (their redaction profile), the match in [[ ]]."""
    redactor = Redactor(ledger.policy.profile_for(officer), ledger.redaction_secret)
    chunk_ids = sorted({m.chunk_id for m in matches if m.chunk_id})
    rows = {r["chunk_id"]: r for i in range(0, len(chunk_ids), 500)
            for r in ledger.store.rows_where(id_predicate("chunk_id", chunk_ids[i:i + 500]), _CHUNK_COLUMNS)}
    registry = {}
    docs = sorted({m.doc_id for m in matches if not m.chunk_id})
    if docs:
        table = DocumentRow.__table__  # type: ignore[attr-defined]
        with ledger.engine.connect() as conn:
            registry = {r["doc_id"]: dict(r) for r in conn.execute(select(table).where(table.c.doc_id.in_(docs))).mappings()}
    out = {}
    for m in matches:
        if m.chunk_id:
            row = rows.get(m.chunk_id)
            if row is None:
                continue
            text, spans = row["text"], [Span.from_dict(s) for s in spans_of(row)]
            a, b = max(0, m.start - CONTEXT), min(len(text), m.end + CONTEXT)
            part = [redactor.redact(text[x:y], spans_in_window(spans, x, y)) for x, y in ((a, m.start), (m.start, m.end), (m.end, b))]
            shown = f"{'…' if a else ''}{part[0]}[[{part[1]}]]{part[2]}{'…' if b < len(text) else ''}"
        else:
            doc = registry.get(m.doc_id, {})
            value = _field_value(doc, m.field)
            hidden = "<SUBJECT>" if redactor.must_hide("PERSON") else value[m.start:m.end]
            shown = f"{value[:m.start]}[[{hidden}]]{value[m.end:]}"
        out[m.match_id] = shown.replace("\n", " ⏎ ")
    return out


def _field_value(doc: dict[str, Any], fld: str) -> str:
    if fld.startswith("meta:"):
        value = json.loads(doc.get("meta") or "{}").get(fld[5:], "")
        return next((v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)), "")
    return str(doc.get(fld) or "")


def targets_from_matches(ledger: Ledger, scope: str, matches: list[Match], excluded: list[str]) -> Targets:
    skip = set(excluded)
    kept = [m for m in matches if m.match_id not in skip and m.doc_id not in skip]
    if scope == "documents":
        docs = sorted({m.doc_id for m in kept})
        return _with_downstream(ledger, Targets(doc_ids=docs, chunk_ids=_chunks_of(ledger, docs), excluded=sorted(skip)))
    whole = sorted({m.doc_id for m in kept if m.field == "title"})  # a name in the title: every chunk carries it
    chunk_ids = sorted({m.chunk_id for m in kept if m.chunk_id and m.doc_id not in whole})
    scrub: dict[str, list[str]] = {}
    for m in kept:
        if m.chunk_id is None and m.field != "title" and m.doc_id not in whole:
            scrub.setdefault(m.doc_id, [])
            if m.field not in scrub[m.doc_id]:
                scrub[m.doc_id].append(m.field)
    partial = sorted({m.doc_id for m in kept if m.doc_id not in whole})
    return _with_downstream(ledger, Targets(doc_ids=whole, chunk_ids=_chunks_of(ledger, whole) + chunk_ids,
                                            partial_doc_ids=partial, scrub=scrub, excluded=sorted(skip)))


def _chunks_of(ledger: Ledger, doc_ids: list[str]) -> list[str]:
    out = []
    for i in range(0, len(doc_ids), 500):
        out += [r["chunk_id"] for r in ledger.store.all_rows(["chunk_id"], id_predicate("doc_id", doc_ids[i:i + 500]))]
    return out


def document_targets(ledger: Ledger, doc_id: str) -> Targets:
    ledger.store.refresh()
    return _with_downstream(ledger, Targets(doc_ids=[doc_id], chunk_ids=_chunks_of(ledger, [doc_id])))


def _with_downstream(ledger: Ledger, targets: Targets) -> Targets:
    docs = sorted(set(targets.doc_ids) | set(targets.partial_doc_ids))
    if docs:
        with ledger.engine.connect() as conn:
            # Only records with sealed text become unreadable: an ingestion record names the document's key but seals nothing.
            like = [AuditRecord.key_refs.contains(f'"doc:{d}"') for d in docs]  # type: ignore[attr-defined]
            targets.audit_records = conn.execute(select(func.count()).select_from(AuditRecord).where(
                or_(*like), AuditRecord.sealed.is_not(None))).scalar() or 0  # type: ignore[union-attr]
        targets.checkpoints = checkpoints_trained_on(ledger, docs)
    return targets


def checkpoints_trained_on(ledger: Ledger, doc_ids: list[str]) -> list[str]:
    """Checkpoints downstream of these documents in the model registry (none if it holds nothing),
    through the registry's own query, never a lineage report under a made-up principal. The registry
    is part of every deployment: a failing import is an error, not "no checkpoints"."""
    from core.models.registry import checkpoints_trained_on as trained_on

    return trained_on(ledger, doc_ids)
