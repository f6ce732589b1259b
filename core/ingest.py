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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core import pii
from core.actions import DOCUMENTS_INGEST
from core.chunk_store import id_predicate
from core.chunking import chunk_text
from core.errors import AccessDenied, IngestError
from core.events import Denied, DocumentIngested
from core.extract import SUPPORTED, extract
from core.guard import require_audited
from core.ledger import Ledger
from core.locks import store_lock
from core.pii_propagation import propagate_person_spans
from core.policy import Principal
from core.policy_models import CLASSIFICATION_LEVELS, class_rank
from core.redaction import spans_in_window
from core.tables import DocumentRow, utcnow

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
) -> list[IngestResult]:
    """Ingest each source; an error on one file is raised at once, after the earlier files are stored."""
    require_audited(ledger, principal, DOCUMENTS_INGEST.name, "ingest")
    results = []
    for i, source in enumerate(sources):
        if progress:
            progress(source.name, i, len(sources))
        results.append(_ingest_one(ledger, principal, source, groups, classification, title if len(sources) == 1 else None))
    with store_lock(ledger.settings.home, exclusive=False):
        ledger.store.ensure_indexes()
    if progress:
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


def _ingest_one(ledger: Ledger, principal: Principal, source: Source, groups: list[str] | None, classification: str | None, title: str | None) -> IngestResult:
    extracted = extract(source.name, source.data)
    chosen_groups, level = _labels(ledger, principal, source, extracted.meta, groups, classification)
    sha = hashlib.sha256(source.data).hexdigest()
    existing = _existing(ledger, source.key)
    if existing is not None and not principal.can_see(json.loads(existing.groups), existing.classification):
        # Same file name as a document this principal may not read: never a new version of it.
        source = Source(source.name, source.data, f"{source.key}#{principal.name}")
        existing = _existing(ledger, source.key)
    doc_title = str(title or extracted.meta.get("title") or Path(source.name).stem)
    if existing is not None:
        check_new_version(ledger, principal, source.name, existing, chosen_groups, level)
    if existing is not None and existing.content_sha256 == sha and existing.status == "active":
        return IngestResult(existing.doc_id, existing.title, existing.chunk_count, json.loads(existing.pii_summary), "unchanged", existing.version, json.loads(existing.groups), existing.classification)

    text = extracted.text
    spans = propagate_person_spans(text, pii.analyze(text, ledger.policy.files.analyzed_entities, ledger.recognizers))
    title_spans = json.dumps([s.as_dict() for s in pii.analyze(doc_title, ledger.policy.files.analyzed_entities, ledger.recognizers)])
    chunks = chunk_text(text)
    if not chunks:
        raise IngestError(f"{source.name}: no text to index", hint="the document has no sentences")
    vectors = ledger.embedder.embed([f"{doc_title}\n{c.text}" for c in chunks])
    doc_id = existing.doc_id if existing is not None else f"doc_{uuid.uuid4().hex[:16]}"
    version = existing.version + 1 if existing is not None else 1
    rows = []
    for chunk, vector in zip(chunks, vectors):
        chunk_spans = spans_in_window(spans, chunk.start, chunk.end)
        rows.append(
            {
                "chunk_id": f"chk_{uuid.uuid4().hex[:20]}",
                "doc_id": doc_id,
                "doc_version": version,
                "ord": chunk.ord,
                "title": doc_title,
                "title_spans": title_spans,
                "text": chunk.text,
                "start": chunk.start,
                "end": chunk.end,
                "groups": chosen_groups,
                "classification": level,
                "class_rank": class_rank(level),
                "content_hash": hashlib.sha256(chunk.text.encode()).hexdigest(),
                "pii_spans": json.dumps([s.as_dict() for s in chunk_spans]),
                "pii_types": sorted({s.entity_type for s in chunk_spans}),
                "vector": vector.tolist(),
            }
        )
    summary = dict(Counter(s.entity_type for s in spans))
    new_ids = [r["chunk_id"] for r in rows]
    stored_file = _keep_source(ledger, doc_id, version, source)
    with store_lock(ledger.settings.home, exclusive=False):
        ledger.store.add(rows)
        try:
            _register(ledger, principal, existing, doc_id, source, doc_title, title_spans, chosen_groups, level, version, sha, len(rows), summary, extracted.meta, stored_file)
        except Exception:
            ledger.store.delete_where(id_predicate("chunk_id", new_ids))
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
            content_sha256=sha, classification=level, groups=chosen_groups, pii=summary, replaced_chunks=replaced,
        )
    )
    status = "new_version" if existing is not None else "new"
    return IngestResult(doc_id, doc_title, len(rows), summary, status, version, chosen_groups, level)


def may_write(principal: Principal, groups: list[str], level: str) -> bool:
    """The rule for filing into a label set: every group one's own, the level within one's clearance."""
    return set(groups) <= set(principal.groups) and class_rank(level) <= principal.clearance_rank


def check_new_version(ledger: Ledger, principal: Principal, name: str, existing: DocumentRow, groups: list[str], level: str) -> None:
    """A new version only by someone who may write every group of the current one, and never a
    relabel in disguise: changing groups or classification is `documents relabel` (core/relabel.py)."""
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
              groups: list[str], level: str, version: int, sha: str, chunks: int, summary: dict, meta: dict, stored: Path) -> None:
    values = dict(
        doc_id=doc_id, source_key=source.key, title=title, title_spans=title_spans, owner=str(meta.get("owner") or principal.name),
        ingested_by=principal.name, groups=json.dumps(groups), classification=level, version=version,
        content_sha256=sha, chunk_count=chunks, pii_summary=json.dumps(summary, sort_keys=True),
        meta=json.dumps({k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list))}, default=str),
        source_file=str(stored), status="active", updated_at=utcnow(),
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
