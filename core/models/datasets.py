"""Immutable training datasets built from governed chunks.

Every row points to the document and chunk it came from (with the chunk's content hash), so the
registry can answer "which datasets contain this document?" in one query. Training text goes
through the same redaction profiles as answers (core.rag.redaction.Redactor over the PII spans found at
ingestion); the profile, the builder, its parameters, the filters and the policy version are stored
with the version. Only chunks the builder may read (its groups and clearance), of documents whose
registry status is "active", are used.

Two builders, both deterministic for a seed:
- "ict-pairs/1" (embedder): inverse-cloze pairs. A few sentences of each chunk become queries; the
  passage is the chunk with ALL its query sentences removed, so no query text ever appears in any
  passage. Per chunk, one query goes to the held-out "eval" split (new questions over a known corpus).
- "grounded-qa/1" (generator): a question built from one sentence's key terms, two numbered passages
  (the source chunk and a distractor chunk that is itself another row's source), and the sentence
  with its [n] citation as the target answer.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from core.policy.actions import MODELS_READ, MODELS_TRAIN
from core.rag.chunk_store import access_filter, id_predicate, spans_of
from core.errors import NotFound, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.rag.pii import Span
from core.policy.engine import Principal
from core.policy.models import CLASSIFICATION_LEVELS, class_rank
from core.rag.redaction import Redactor, redact_stored
from core.models.registry_events import DatasetBuilt
from core.stores.registry_tables import DatasetRow, DatasetVersion
from core.stores.tables import DocumentRow

BUILDERS = {"pairs": "ict-pairs/1", "qa": "grounded-qa/1"}
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
_STOP = set(
    """a an and are as at be by can did do does for from has have how i in is it its of on or our should that the their
    there this to was we were what when where which who whom why will with you your must may not no each every per
    after before about into than then them they these those any all also only more most other such been being""".split()
)


class DatasetError(RagLedgerError):
    """A dataset cannot be built or referenced as asked. Nothing was written."""


@dataclass
class DatasetInfo:
    dataset_id: str
    name: str
    kind: str
    builder: str
    rows: int
    docs: int
    digest: str
    redaction_profile: str
    policy_version: str
    params: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""
    created_at: str = ""
    rebuilt_from: str | None = None
    source: str = "built"
    flag_reason: str | None = None
    flag_request_id: str | None = None
    splits: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sentences(text: str) -> list[str]:
    parts = [s.strip(" #*-\t") for s in _SENT.split(text)]
    return [s for s in parts if len(s.split()) >= 5]


def key_terms(sentence: str, df: Counter, n_docs: int, k: int = 3) -> list[str]:
    """The sentence's rarest content words (by chunk frequency): what a question about it would name."""
    words = [w for w in _WORD.findall(sentence) if w.lower() not in _STOP and not w.startswith("<")]
    seen, scored = set(), []
    for order, w in enumerate(words):
        lw = w.lower()
        if lw in seen:
            continue
        seen.add(lw)
        scored.append((-math.log((1 + n_docs) / (1 + df[lw])), order, w))
    scored.sort()
    return [w for _, _, w in sorted(scored[:k], key=lambda x: x[1])]


def _canonical_digest(rows: list[dict[str, Any]]) -> str:
    keys = ("ord", "split", "doc_id", "chunk_id", "content_hash", "context_chunk_id", "input", "target", "context")
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps({k: r.get(k) for k in keys}, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def active_doc_ids(ledger: Ledger, doc_ids: list[str] | None = None) -> set[str]:
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    q = select(table.c.doc_id).where(table.c.status == "active")
    if doc_ids is not None:
        q = q.where(table.c.doc_id.in_(doc_ids))
    with ledger.engine.connect() as conn:
        return {r[0] for r in conn.execute(q)}


def _readable(ledger: Ledger, principal: Principal, doc_ids: list[str]) -> set[str]:
    table = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.doc_id, table.c.groups, table.c.classification).where(table.c.doc_id.in_(doc_ids))).all()
    return {r[0] for r in rows if principal.can_see(json.loads(r[1]), r[2])}


def _chunk_order(row: dict[str, Any]) -> tuple:
    """By content, not by random ids: the same corpus gives the same dataset in every home."""
    return (row["title"], row["ord"], row["content_hash"])


def _governed_chunks(ledger: Ledger, principal: Principal, filters: dict[str, Any], exclude: set[str]) -> list[dict[str, Any]]:
    where = access_filter(principal.groups, principal.clearance_rank)
    if where is None:
        raise DatasetError(f"{principal.name} can read no documents", hint="a dataset is built only from chunks its builder may read")
    if filters.get("groups"):
        unknown = [g for g in filters["groups"] if g not in ledger.policy.groups]
        if unknown:
            raise DatasetError(f"unknown group(s) {', '.join(unknown)}", hint=f"known groups: {', '.join(ledger.policy.groups)}")
        where += " AND array_has_any(groups, [" + ", ".join(f"'{g}'" for g in filters["groups"]) + "])"
    if filters.get("max_classification"):
        level = filters["max_classification"]
        if level not in CLASSIFICATION_LEVELS:
            raise DatasetError(f"unknown classification {level!r}", hint=f"one of {', '.join(CLASSIFICATION_LEVELS)}")
        where += f" AND class_rank <= {class_rank(level)}"
    wanted = filters.get("doc_ids")
    if wanted:
        where += " AND " + id_predicate("doc_id", list(wanted))
    active = active_doc_ids(ledger, list(wanted) if wanted else None)
    if wanted:
        # Unknown, erased and unreadable ids get one answer: existence outside one's access is not told.
        gone = sorted(set(wanted) - (active & _readable(ledger, principal, list(wanted))))
        if gone:
            raise DatasetError(f"document(s) {', '.join(gone)} are not active documents you may read",
                               hint="leave them out; erased documents can never enter a dataset")
    ledger.store.refresh()
    rows = [r for r in ledger.store.rows_where(where) if r["doc_id"] in active and r["doc_id"] not in exclude]
    rows.sort(key=_chunk_order)
    return rows


def _pairs(chunks: list[dict[str, Any]], texts: dict[str, tuple[str, str]], params: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    per_chunk = int(params.get("queries_per_chunk", 3))
    picks: dict[str, list[str]] = {}
    taken: set[str] = set()  # chunks overlap: a sentence is a query once, and then in no passage at all
    for c in chunks:
        sents = [s for s in sentences(texts[c["chunk_id"]][1]) if s not in taken]
        if len(sents) < 3:
            continue
        chosen = [sents[i] for i in sorted(rng.sample(range(len(sents)), min(per_chunk, len(sents) - 2)))]
        picks[c["chunk_id"]] = chosen
        taken.update(chosen)
    out = []
    for c in chunks:
        chosen = picks.get(c["chunk_id"])
        if not chosen:
            continue
        title, text = texts[c["chunk_id"]]
        passage = title + "\n" + " ".join(s for s in sentences(text) if s not in taken)
        held = set(rng.sample(chosen, min(int(params.get("eval_per_chunk", 1)), len(chosen) - 1))) if len(chosen) >= 2 else set()
        for q in chosen:
            out.append({"doc_id": c["doc_id"], "chunk_id": c["chunk_id"], "content_hash": c["content_hash"],
                        "split": "eval" if q in held else "train", "input": q, "target": passage, "context": ""})
    return out


def _qa(chunks: list[dict[str, Any]], texts: dict[str, tuple[str, str]], params: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    per_chunk = int(params.get("questions_per_chunk", 1))
    eval_fraction = float(params.get("eval_fraction", 0.2))
    df = Counter(w.lower() for cid in texts for w in set(_WORD.findall(texts[cid][1])))
    usable = [c for c in chunks if sentences(texts[c["chunk_id"]][1])]
    out = []
    for c in usable:
        title, text = texts[c["chunk_id"]]
        others = [o for o in usable if o["doc_id"] != c["doc_id"]]
        if not others:
            continue
        for sent in rng.sample(sentences(text), min(per_chunk, len(sentences(text)))):
            terms = key_terms(sent, df, len(texts))
            if not terms:
                continue
            distractor = rng.choice(others)
            d_title, d_text = texts[distractor["chunk_id"]]
            passages = [f"{title}\n{text}", f"{d_title}\n{d_text}"]
            n = 1
            if rng.random() < 0.5:
                passages.reverse()
                n = 2
            question = f"What does {title} say about {', '.join(terms[:-1]) + ' and ' + terms[-1] if len(terms) > 1 else terms[0]}?"
            out.append({"doc_id": c["doc_id"], "chunk_id": c["chunk_id"], "content_hash": c["content_hash"],
                        "context_chunk_id": distractor["chunk_id"], "split": "train",
                        "input": question, "target": f"{sent} [{n}]", "context": json.dumps(passages)})
    if len(out) >= 4:  # a fixed share held out (at least one), so the eval loss is always measured
        for i in rng.sample(range(len(out)), max(1, round(len(out) * eval_fraction))):
            out[i]["split"] = "eval"
    return out


def _require_at_least_as_strict(ledger: Ledger, principal: Principal, profile_name: str) -> None:
    """Training text is redacted at least as strictly as what the builder may read themselves: the
    chosen profile may keep in clear only entity types the builder's own profile keeps."""
    from core.errors import AccessDenied

    profiles = ledger.policy.redaction.profiles
    if profile_name not in profiles:
        return  # reported as an unknown profile below
    kept = lambda p: {e for e in ledger.policy.files.analyzed_entities if p.rule_for(e).operator == "keep"}  # noqa: E731
    wider = kept(profiles[profile_name]) - kept(ledger.policy.profile_for(principal))
    if wider:
        raise AccessDenied(f"profile {profile_name!r} would keep {', '.join(sorted(wider))} that {principal.name} may not see",
                           hint="choose your own profile or a stricter one")


def build_dataset(
    ledger: Ledger,
    principal: Principal,
    kind: str,
    *,
    name: str | None = None,
    groups: list[str] | None = None,
    max_classification: str | None = None,
    doc_ids: list[str] | None = None,
    redaction_profile: str | None = None,
    params: dict[str, Any] | None = None,
    exclude_doc_ids: list[str] | None = None,
    rebuilt_from: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DatasetInfo:
    """Build and store one immutable dataset version from the chunks `principal` may read."""
    require_audited(ledger, principal, MODELS_TRAIN.name, "datasets")
    if kind not in BUILDERS:
        raise DatasetError(f"unknown dataset kind {kind!r}", hint="use 'pairs' (embedder) or 'qa' (generator)")
    profile_name = redaction_profile or principal.redaction_profile
    _require_at_least_as_strict(ledger, principal, profile_name)
    if profile_name not in ledger.policy.redaction.profiles:
        raise DatasetError(f"unknown redaction profile {profile_name!r}", hint=f"one of {', '.join(ledger.policy.redaction.profiles)}")
    params = {"seed": 0, "max_chunks": 400, **(params or {})}
    filters = {k: v for k, v in {"groups": groups, "max_classification": max_classification, "doc_ids": doc_ids}.items() if v}
    if exclude_doc_ids:
        filters["exclude_doc_ids"] = sorted(exclude_doc_ids)
    if progress:
        progress("reading governed chunks", 0, 3)
    chunks = _governed_chunks(ledger, principal, filters, set(exclude_doc_ids or []))
    rng = random.Random(int(params["seed"]))
    if len(chunks) > int(params["max_chunks"]):
        chunks = sorted(rng.sample(chunks, int(params["max_chunks"])), key=_chunk_order)
    profile = ledger.policy.redaction.profiles[profile_name]
    texts = {}
    for c in chunks:
        redactor = Redactor(profile, ledger.redaction_secret, ledger.policy.redaction.allowlist)  # one per chunk: pseudonyms never link people across chunks
        title = redact_stored(redactor, c["title"], c.get("title_spans"))
        texts[c["chunk_id"]] = (title, redactor.redact(c["text"], [Span.from_dict(s) for s in spans_of(c)]))
    if progress:
        progress("building examples", 1, 3)
    rows = (_pairs if kind == "pairs" else _qa)(chunks, texts, params, rng)
    if not rows:
        raise DatasetError("no training examples could be built from the matching chunks",
                           hint="widen the filters, or ingest documents with a few sentences per section")
    return store_dataset(ledger, principal, kind, BUILDERS[kind], rows, name=name, params=params, filters=filters,
                         profile_name=profile_name, rebuilt_from=rebuilt_from, progress=progress)


def store_dataset(ledger: Ledger, principal: Principal, kind: str, builder: str, rows: list[dict[str, Any]], *, name: str | None,
                  params: dict[str, Any], filters: dict[str, Any], profile_name: str, rebuilt_from: str | None = None,
                  source: str = "built", progress: Callable[[str, int, int], None] | None = None) -> DatasetInfo:
    """Write a version and its rows in one transaction (all or nothing), then audit it."""
    for i, r in enumerate(rows):
        r["ord"] = i
        r.setdefault("context_chunk_id", None)
        r.setdefault("context", "")
    dataset_id = f"dsv_{uuid.uuid4().hex[:16]}"
    digest = _canonical_digest(rows)
    docs = sorted({r["doc_id"] for r in rows})
    version = dict(dataset_id=dataset_id, name=name or f"{kind}-{dataset_id[4:12]}", kind=kind, builder=builder,
                   params=json.dumps(params, sort_keys=True), filters=json.dumps(filters, sort_keys=True),
                   redaction_profile=profile_name, policy_version=ledger.policy.version, row_count=len(rows),
                   doc_count=len(docs), digest=digest, created_by=principal.name, rebuilt_from=rebuilt_from, source=source)
    with ledger.engine.begin() as conn:
        conn.execute(DatasetVersion.__table__.insert().values(**version))  # type: ignore[attr-defined]
        conn.execute(DatasetRow.__table__.insert(), [{"dataset_id": dataset_id, **{k: r[k] for k in (  # type: ignore[attr-defined]
            "ord", "split", "doc_id", "chunk_id", "content_hash", "context_chunk_id", "input", "target", "context")}} for r in rows])
    ledger.audit.append(DatasetBuilt(actor=principal.name, actor_role=principal.role, dataset_id=dataset_id, rows=len(rows),
                                     docs=len(docs), digest=digest, redaction_profile=profile_name, rebuilt_from=rebuilt_from))
    if progress:
        progress("stored", 3, 3)
    return get_dataset(ledger, dataset_id)


def _info(row: dict[str, Any], splits: dict[str, int]) -> DatasetInfo:
    return DatasetInfo(
        dataset_id=row["dataset_id"], name=row["name"], kind=row["kind"], builder=row["builder"], rows=row["row_count"],
        docs=row["doc_count"], digest=row["digest"], redaction_profile=row["redaction_profile"], policy_version=row["policy_version"],
        params=json.loads(row["params"]), filters=json.loads(row["filters"]), created_by=row["created_by"],
        created_at=str(row["created_at"]), rebuilt_from=row["rebuilt_from"], source=row["source"],
        flag_reason=row["flag_reason"], flag_request_id=row["flag_request_id"], splits=splits,
    )


def get_dataset(ledger: Ledger, dataset_id: str) -> DatasetInfo:
    """Internal lookup (no permission check)."""
    t, rt = DatasetVersion.__table__, DatasetRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.dataset_id == dataset_id)).mappings().first()
        if row is None:
            raise NotFound(f"no dataset version {dataset_id!r}", hint="list them with `ragledger datasets list`")
        splits = Counter(r[0] for r in conn.execute(select(rt.c.split).where(rt.c.dataset_id == dataset_id)))
    return _info(dict(row), dict(splits))


def list_datasets(ledger: Ledger, principal: Principal) -> list[DatasetInfo]:
    require_audited(ledger, principal, MODELS_READ.name, "datasets")
    t = DatasetVersion.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(t).order_by(t.c.created_at.desc())).mappings()]
    return [_info(r, {}) for r in rows]


def dataset_rows(ledger: Ledger, dataset_id: str, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a version in order (internal: training reads them)."""
    t = DatasetRow.__table__  # type: ignore[attr-defined]
    q = select(t).where(t.c.dataset_id == dataset_id).order_by(t.c.ord)
    if split:
        q = q.where(t.c.split == split)
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def dataset_doc_ids(ledger: Ledger, dataset_id: str) -> list[str]:
    t = DatasetRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        return sorted({r[0] for r in conn.execute(select(t.c.doc_id).where(t.c.dataset_id == dataset_id))})


def rows_from_manifest(ledger: Ledger, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate an external dataset manifest's rows: every document must exist and be active."""
    rows = manifest.get("rows")
    if not isinstance(rows, list) or not rows:
        raise DatasetError("the dataset manifest has no 'rows' list", hint="give each row doc_id, chunk_id and content_hash")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) and r.get(k) for k in ("doc_id", "chunk_id", "content_hash")):
            raise DatasetError(f"dataset manifest row {i} lacks doc_id, chunk_id or content_hash", hint="fix the manifest")
        out.append({"doc_id": r["doc_id"], "chunk_id": r["chunk_id"], "content_hash": r["content_hash"],
                    "split": r.get("split", "train"), "input": "", "target": "", "context": ""})
    wanted = sorted({r["doc_id"] for r in out})
    gone = sorted(set(wanted) - active_doc_ids(ledger, wanted))
    if gone:
        raise DatasetError(f"the dataset references deleted or unknown document(s): {', '.join(gone)}",
                           hint="retrain without them; erased documents can never enter the registry")
    return out
