"""Ingestion: extract, analyse PII once over the whole document, chunk, embed, store.

All expensive and fallible work happens before anything is written; then LanceDB, then the
registry. If the registry write fails the new chunks are removed again, so a failed ingest leaves
nothing half-written. Re-ingesting an unchanged file is a no-op; a changed one becomes a new version.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.rag import pii
from core.policy.actions import DOCUMENTS_INGEST
from core.rag.chunk_store import id_predicate
from core.rag.chunking import chunk_text
from core.errors import AccessDenied, IngestError
from core.audit.events import Denied, DocumentIngested
from core.rag.extract import SUPPORTED, extract
from core.audit.guard import require_audited
from core.rag.ingest_pipeline import BATCH, run_pipeline
from core.rag.languages import document_language
from core.ledger import Ledger
from core.locks import store_lock
from core.rag.pii_propagation import propagate_person_spans
from core.policy.engine import Principal
from core.policy.models import CLASSIFICATION_LEVELS, class_rank
from core.rag.redaction import spans_in_window
from core.stores.tables import DocumentRow, utcnow

Progress = Callable[[str, int, int], None]
DEFAULT_CLASSIFICATION = "restricted"  # default deny: unlabelled documents are the most protected


@dataclass
class IngestResult:
    doc_id: str
    title: str
    chunks: int
    pii: dict[str, int]
    status: str  # "new", "new_version", "unchanged"
    version: int = 1
    groups: list[str] = field(default_factory=list)
    classification: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Source:
    """One file to ingest: its bytes, its name, and the key that identifies it across versions."""

    name: str
    data: bytes
    key: str

    @classmethod
    def from_path(cls, path: Path) -> "Source":
        return cls(path.name, path.read_bytes(), f"file:{path.resolve()}")


# Work that follows every ingest but stands above rag, so rag cannot import it: the golden set's
# freshness re-run (core/evaluation/freshness.py appends itself when imported; the CLI, the app and
# the first run import it). Each gets (ledger, principal, doc_ids that just got a new version) and
# returns a progress line or None.
AFTER_INGEST: list[Callable[[Ledger, Principal, list[str]], str | None]] = []

def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and every supported file below a given folder (sorted, so runs are repeatable)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED and f.name != "README.md"))
        elif p.is_file():
            out.append(p)
        else:
            raise IngestError(f"{p}: no such file or folder", hint="check the path")
    return out


def ingest(
    ledger: Ledger,
    principal: Principal,
    sources: list[Source],
    *,
    groups: list[str] | None = None,
    classification: str | None = None,
    title: str | None = None,
    progress: Progress | None = None,
    batch: int = BATCH,
    ray: str | None = None,
) -> list[IngestResult]:
    """Ingest each source; an error on one file is raised at once, after the earlier files are stored.

    A pipeline (core/rag/ingest_pipeline.py): a worker thread extracts and analyses batch i+1 (PII with
    spaCy's nlp.pipe over the whole batch) while this thread embeds batch i in one encode call and
    writes its chunks in one LanceDB append. Each document is still all-or-nothing.

    `ray` (auto, or a cluster's HOST:PORT; default RAGLEDGER_RAY): the PII analysis and the embedding
    run on Ray (core/rag/ray_ingest.py); storing, the ledger and the audit stay here."""
    require_audited(ledger, principal, DOCUMENTS_INGEST.name, "ingest")
    ledger.follow_active_index()  # never write into a table another process's embedder switch dropped
    ledger.store.table  # an unreachable object store or refused credentials fail here, before any work

    from core.rag.embedder_setting import check_embedder_setting

    check_embedder_setting(ledger)  # never mix two models' vectors in one index
    fanout = None
    if ray or ledger.settings.ray_address:
        from core.rag.ray_ingest import RayFanout

        fanout = RayFanout(ray or ledger.settings.ray_address, ledger.embedder.path, ledger.embedder.identity)
    one_title = title if len(sources) == 1 else None
    results: list[IngestResult] = []

    def prepare(chunk: list[Source]) -> list[Prepared | IngestResult | BaseException]:
        return _prepare_batch(ledger, principal, chunk, groups, classification, one_title, fanout)

    def consume(items: list[Prepared | IngestResult | BaseException]) -> None:
        for item in _store_batch(ledger, principal, items, done=len(results), total=len(sources), progress=progress, fanout=fanout):
            results.append(item)

    run_pipeline(sources, batch, prepare, consume)
    with store_lock(ledger, exclusive=False):
        ledger.store.ensure_indexes()
        if ledger.store.has_vector_index() and ledger.store.unindexed_rows():
            ledger.store.optimize_indexes()  # fold this ingest's rows into the vector and full-text indexes
    # What stands above rag and follows each ingest (the golden set's freshness re-run): once per
    # ingest, after the whole batch is stored.
    new_versions = [r.doc_id for r in results if r.status == "new_version"]
    notes = [note for hook in AFTER_INGEST if (note := hook(ledger, principal, new_versions))]
    if progress:
        for note in notes:
            progress(note, len(sources) - 1, len(sources))
        progress("done", len(sources), len(sources))
    return results


def _labels(ledger: Ledger, principal: Principal, source: Source, meta: dict, groups: list[str] | None, classification: str | None) -> tuple[list[str], str]:
    chosen_groups = groups or meta.get("groups") or []
    if isinstance(chosen_groups, str):
        chosen_groups = [g.strip() for g in chosen_groups.split(",") if g.strip()]
    if not isinstance(chosen_groups, list) or not all(isinstance(g, str) and g.strip() for g in chosen_groups):
        raise IngestError(f"{source.name}: front matter 'groups' must be a list of group names, got {meta.get('groups')!r}",
                          hint="write e.g. 'groups: [hr, finance]'")
    for key, types in (("classification", (str,)), ("title", (str, int, float)), ("owner", (str, int, float))):
        if meta.get(key) is not None and (not isinstance(meta[key], types) or isinstance(meta[key], bool)):
            raise IngestError(f"{source.name}: front matter '{key}' must be text, got {meta[key]!r}", hint=f"write e.g. '{key}: ...' with a plain value")
    if not chosen_groups:
        raise IngestError(f"{source.name}: no groups given", hint="pass --groups a,b or add 'groups: [...]' to the front matter")
    unknown = [g for g in chosen_groups if g not in ledger.policy.groups]
    if unknown:
        raise IngestError(f"{source.name}: unknown group(s) {', '.join(unknown)}", hint=f"known groups: {', '.join(ledger.policy.groups)}")
    level = classification or meta.get("classification") or DEFAULT_CLASSIFICATION
    if level not in CLASSIFICATION_LEVELS:
        raise IngestError(f"{source.name}: unknown classification {level!r}", hint=f"one of {', '.join(CLASSIFICATION_LEVELS)}")
    # Nobody files a document where they could not read it back.
    if not principal.can_see(chosen_groups, level) or not set(chosen_groups) <= set(principal.groups):
        raise AccessDenied(f"{principal.name} may not file documents into {', '.join(chosen_groups)} at {level}", hint="choose groups you belong to and a level within your clearance")
    return list(chosen_groups), level


@dataclass
class Prepared:
    """A document ready to store: labels chosen, PII analysed, chunked; not yet embedded."""

    source: Source
    meta: dict
    groups: list[str]
    level: str
    sha: str
    title: str
    text: str
    chunks: list
    spans: list = field(default_factory=list)
    title_spans: str = "[]"
    language: str = "en"


def _prepare(ledger: Ledger, principal: Principal, source: Source, groups: list[str] | None, classification: str | None,
             title: str | None) -> Prepared | IngestResult:
    extracted = extract(source.name, source.data)
    chosen_groups, level = _labels(ledger, principal, source, extracted.meta, groups, classification)
    sha = hashlib.sha256(source.data).hexdigest()
    doc_title = str(title or extracted.meta.get("title") or Path(source.name).stem)
    source, existing = _resolve_existing(ledger, principal, source)
    unchanged = _unchanged(ledger, principal, source.name, existing, sha, chosen_groups, level)
    if unchanged is not None:
        return unchanged
    chunks = chunk_text(extracted.text)
    if not chunks:
        raise IngestError(f"{source.name}: no text to index", hint="the document has no sentences")
    language = document_language(extracted.text, extracted.meta)
    return Prepared(source, extracted.meta, chosen_groups, level, sha, doc_title, extracted.text, chunks, language=language)


def _resolve_existing(ledger: Ledger, principal: Principal, source: Source) -> tuple[Source, DocumentRow | None]:
    existing = _existing(ledger, source.key)
    if existing is not None and not principal.can_see(json.loads(existing.groups), existing.classification):
        # Same file name as a document this principal may not read: never a new version of it.
        source = Source(source.name, source.data, f"{source.key}#{principal.name}")
        existing = _existing(ledger, source.key)
    return source, existing


def _unchanged(ledger: Ledger, principal: Principal, name: str, existing: DocumentRow | None, sha: str, groups: list[str],
               level: str) -> IngestResult | None:
    """None for a new document or a new version (after checking the principal may file one with these
    labels: a relabel is its own action), the stored result for an unchanged one."""
    if existing is None:
        return None
    check_new_version(ledger, principal, name, existing, groups, level)
    if existing.content_sha256 == sha and existing.status == "active":
        return IngestResult(existing.doc_id, existing.title, existing.chunk_count, json.loads(existing.pii_summary), "unchanged", existing.version, json.loads(existing.groups), existing.classification)
    return None


def _prepare_batch(ledger: Ledger, principal: Principal, sources: list[Source], groups: list[str] | None, classification: str | None,
                   title: str | None, fanout: Any = None) -> list[Prepared | IngestResult | BaseException]:
    """Extract and label each source (an error stays with its source), then one batched PII
    analysis of every new document and title. A failing batch is analysed again one document at a
    time, so the error is raised for the file that caused it, after the files before it are stored."""
    items: list[Prepared | IngestResult | BaseException] = []
    for source in sources:
        try:
            items.append(_prepare(ledger, principal, source, groups, classification, title))
        except Exception as e:  # kept, re-raised in order by the storing thread
            items.append(e)
    todo = [(n, p) for n, p in enumerate(items) if isinstance(p, Prepared)]
    entities = ledger.policy.files.analyzed_entities
    if fanout is not None:  # on Ray: one task per document, so an error stays with its document
        for (n, p), got in zip(todo, fanout.analyze([(p.source.name, p.text, p.title) for _, p in todo], entities, ledger.recognizers)):
            if isinstance(got, BaseException):
                items[n] = got
            else:
                p.spans, p.title_spans = got
        return items
    try:
        found = pii.analyze_many([p.text for _, p in todo] + [p.title for _, p in todo], entities, ledger.recognizers)
    except Exception:  # find which document fails: each one alone
        found = None
    for i, (n, p) in enumerate(todo):
        try:
            text_spans = found[i] if found is not None else pii.analyze(p.text, entities, ledger.recognizers)
            title_spans = found[len(todo) + i] if found is not None else pii.analyze(p.title, entities, ledger.recognizers)
        except Exception as e:
            items[n] = e
            continue
        p.spans = propagate_person_spans(p.text, text_spans)
        p.title_spans = json.dumps([s.as_dict() for s in title_spans])
    return items


def _store_batch(ledger: Ledger, principal: Principal, items: list[Prepared | IngestResult | BaseException], *, done: int, total: int,
                 progress: Progress | None, fanout: Any = None) -> Iterator[IngestResult]:
    """Embed the batch's new documents in one encode call, append their chunks in one LanceDB
    write, then register and audit them one by one. If a registration fails, the chunks of that
    document and of the later ones in the batch are removed again before the error is raised."""
    ready: list[Prepared] = []
    for item in items:
        if isinstance(item, BaseException):
            break
        if isinstance(item, Prepared):
            ready.append(item)
    texts = [f"{p.title}\n{c.text}" for p in ready for c in p.chunks]
    embed = fanout.embedder([p.source.name for p in ready]) if fanout is not None else ledger.embedder.embed
    vectors = iter(embed(texts)) if texts else iter(())
    planned = []
    for p in ready:
        own = [next(vectors) for _ in p.chunks]
        source, existing = _resolve_existing(ledger, principal, p.source)  # again: an earlier file of this call may have changed it
        unchanged = _unchanged(ledger, principal, source.name, existing, p.sha, p.groups, p.level)
        rows = _rows(p, existing, own) if unchanged is None else []
        planned.append((p, source, existing, unchanged, rows))
    with store_lock(ledger, exclusive=False):
        ledger.store.add([r for plan in planned for r in plan[4]])
        stored = 0
        try:
            for n, item in enumerate(items):
                if progress:
                    progress(item.source.name if isinstance(item, Prepared) else getattr(item, "title", ""), done + n, total)
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, IngestResult):
                    yield item
                    continue
                p, source, existing, unchanged, rows = planned[stored]
                result = unchanged if unchanged is not None else _register_one(ledger, principal, p, source, existing, rows)
                stored += 1
                yield result
        finally:
            left = [r["chunk_id"] for plan in planned[stored:] for r in plan[4]]
            for i in range(0, len(left), 500):
                ledger.store.delete_where(id_predicate("chunk_id", left[i:i + 500]))


def _rows(p: Prepared, existing: DocumentRow | None, vectors: list) -> list[dict[str, Any]]:
    doc_id = existing.doc_id if existing is not None else f"doc_{uuid.uuid4().hex[:16]}"
    version = existing.version + 1 if existing is not None else 1
    rows = []
    for chunk, vector in zip(p.chunks, vectors):
        chunk_spans = spans_in_window(p.spans, chunk.start, chunk.end)
        rows.append(
            {
                "chunk_id": f"chk_{uuid.uuid4().hex[:20]}",
                "doc_id": doc_id,
                "doc_version": version,
                "ord": chunk.ord,
                "title": p.title,
                "title_spans": p.title_spans,
                "text": chunk.text,
                "start": chunk.start,
                "end": chunk.end,
                "groups": p.groups,
                "classification": p.level,
                "class_rank": class_rank(p.level),
                "content_hash": hashlib.sha256(chunk.text.encode()).hexdigest(),
                "pii_spans": json.dumps([s.as_dict() for s in chunk_spans]),
                "pii_types": sorted({s.entity_type for s in chunk_spans}),
                "language": p.language,
                "vector": vector.tolist(),
            }
        )
    return rows


def _register_one(ledger: Ledger, principal: Principal, p: Prepared, source: Source, existing: DocumentRow | None, rows: list[dict[str, Any]]) -> IngestResult:
    """Registry, old-version removal and audit of one document whose chunks are already appended.
    Called under the store lock; on failure its chunks are removed by the caller."""
    doc_id, version = rows[0]["doc_id"], rows[0]["doc_version"]
    summary = dict(Counter(s.entity_type for s in p.spans))
    stored_file = _keep_source(ledger, doc_id, version, source)
    try:
        _register(ledger, principal, existing, doc_id, source, p.title, p.title_spans, p.groups, p.level, version, p.sha, len(rows), summary, p.meta, stored_file,
                  p.language)
    except Exception:
        stored_file.unlink(missing_ok=True)
        raise
    _drop_older_sources(ledger, doc_id, stored_file)
    replaced = 0
    if existing is not None:
        old = f"{id_predicate('doc_id', [doc_id])} AND doc_version < {int(version)}"
        replaced = ledger.store.count(old)
        ledger.store.delete_where(old)
    ledger.audit.append(
        DocumentIngested(
            actor=principal.name, actor_role=principal.role, doc_id=doc_id, version=version, chunks=len(rows),
            content_sha256=p.sha, classification=p.level, groups=p.groups, pii=summary, replaced_chunks=replaced,
        )
    )
    status = "new_version" if existing is not None else "new"
    return IngestResult(doc_id, p.title, len(rows), summary, status, version, p.groups, p.level)


def may_write(principal: Principal, groups: list[str], level: str) -> bool:
    """The rule for filing into a label set: every group one's own, the level within one's clearance."""
    return set(groups) <= set(principal.groups) and class_rank(level) <= principal.clearance_rank


def check_new_version(ledger: Ledger, principal: Principal, name: str, existing: DocumentRow, groups: list[str], level: str) -> None:
    """A new version only by someone who may write every group of the current one, and never a
    relabel in disguise: changing groups or classification is `documents relabel` (core/rag/relabel.py)."""
    old_groups = json.loads(existing.groups)
    if not may_write(principal, old_groups, existing.classification):
        ledger.audit.append(Denied(actor=principal.name, actor_role=principal.role, action=DOCUMENTS_INGEST.name,
                                   target=existing.doc_id, reason="new version of a document outside the principal's groups"))
        raise AccessDenied(f"{principal.name} may not file a new version of {existing.doc_id}: it is filed in {', '.join(old_groups)} "
                           f"at {existing.classification}", hint="a principal who may write all of its groups must file it")
    if sorted(old_groups) != sorted(groups) or existing.classification != level:
        raise IngestError(
            f"{name}: this would relabel {existing.doc_id} from [{', '.join(old_groups)}] {existing.classification} to [{', '.join(groups)}] {level}",
            hint=f"relabelling is a separate, audited action: `ragledger documents relabel {existing.doc_id} --groups {','.join(groups)} "
                 f"--classification {level}`, then ingest the file again")


def _existing(ledger: Ledger, key: str) -> DocumentRow | None:
    with ledger.engine.connect() as conn:
        r = conn.execute(select(DocumentRow.__table__).where(DocumentRow.source_key == key, DocumentRow.status == "active")).mappings().first()  # type: ignore[attr-defined]
    return DocumentRow.model_validate(dict(r)) if r else None


def _keep_source(ledger: Ledger, doc_id: str, version: int, source: Source) -> Path:
    """Keep the original bytes (for re-analysis when recognizers change); erased by a purge."""
    folder = ledger.settings.uploads_dir / doc_id
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(source.name).suffix.lower()
    path = folder / f"v{version}{suffix}"
    path.write_bytes(source.data)
    return path


def _drop_older_sources(ledger: Ledger, doc_id: str, keep: Path) -> None:
    for old in (ledger.settings.uploads_dir / doc_id).iterdir():
        if old != keep:
            old.unlink()


def _register(ledger: Ledger, principal: Principal, existing: DocumentRow | None, doc_id: str, source: Source, title: str, title_spans: str,
              groups: list[str], level: str, version: int, sha: str, chunks: int, summary: dict, meta: dict, stored: Path,
              language: str) -> None:
    values = dict(
        doc_id=doc_id, source_key=source.key, title=title, title_spans=title_spans, owner=str(meta.get("owner") or principal.name),
        ingested_by=principal.name, groups=json.dumps(groups), classification=level, version=version,
        content_sha256=sha, chunk_count=chunks, pii_summary=json.dumps(summary, sort_keys=True),
        meta=json.dumps({k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list))}, default=str),
        source_file=str(stored), status="active", updated_at=utcnow(), language=language,
    )
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        if existing is None:
            conn.execute(table.insert().values(**values))
        else:
            conn.execute(table.update().where(table.c.doc_id == doc_id).values(**values))


def remove_uploads(ledger: Ledger, doc_id: str) -> int:
    folder = ledger.settings.uploads_dir / doc_id
    if not folder.exists():
        return 0
    n = sum(1 for _ in folder.iterdir())
    shutil.rmtree(folder)
    return n
