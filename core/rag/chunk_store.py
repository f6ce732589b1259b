"""The chunk table in LanceDB: vectors, full text, access metadata and PII spans of every chunk.

Access control happens inside the query: every search carries a prefilter on groups and clearance,
so top-k is computed over permitted rows only and is never starved or leaked by post-filtering.
Ids are opaque; no personal data ever appears in an id or in a delete predicate (predicates are
written to Lance transaction files).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from core.rag.embedder import DIMENSIONS
from core.errors import StoreError
from core.rag.search_legs import Leg, OpenFilters, run_legs

TABLE = "chunks"
ID_PATTERN = re.compile(r"^[a-z]{3}_[0-9a-f]{8,40}$")
SCHEMA = pa.schema(
    [
        pa.field("chunk_id", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("doc_version", pa.int32()),
        pa.field("ord", pa.int32()),
        pa.field("title", pa.string()),
        pa.field("title_spans", pa.string()),
        pa.field("text", pa.string()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
        pa.field("groups", pa.list_(pa.string())),
        pa.field("classification", pa.string()),
        pa.field("class_rank", pa.int32()),
        pa.field("content_hash", pa.string()),
        pa.field("pii_spans", pa.string()),
        pa.field("pii_types", pa.list_(pa.string())),
        pa.field("language", pa.string()),  # the document's (core/rag/languages.py); null in tables made before it
        pa.field("fts", pa.string()),  # encrypted stores: the blind index terms (core/rag/chunk_crypto.py); else null
        pa.field("vector", pa.list_(pa.float32(), DIMENSIONS)),
    ]
)


def schema_for(dimensions: int) -> pa.Schema:
    """The chunk schema with vectors of `dimensions` (an embedder other than MiniLM, docs/languages.md)."""
    if dimensions == DIMENSIONS:
        return SCHEMA
    return SCHEMA.set(SCHEMA.get_field_index("vector"), pa.field("vector", pa.list_(pa.float32(), dimensions)))


RESULT_COLUMNS = [f.name for f in SCHEMA if f.name not in ("vector", "fts")]
VECTOR_INDEX = "vector_idx"
# What the withheld accounting needs of a row it never shows.
LABEL_COLUMNS = ["chunk_id", "doc_id", "content_hash", "groups", "classification"]


@dataclass(frozen=True)
class VectorIndexConfig:
    """When the table gets an ANN index, which kind, and how queries use it.

    Below `min_rows` a flat scan is exact and about as fast as an index (see docs/deployment.md for
    the measurement); past it the index pays. `nprobes` partitions are always searched; a selective
    access prefilter may leave fewer than `fetch` rows in them, and then LanceDB widens the search up
    to `max_nprobes` partitions instead of returning short (prefilter, never post-filter starvation).
    `refine_factor` re-ranks that many times `fetch` candidates with the exact vectors, which is what
    brings recall@10 of the quantized codes above 0.95 (bench/bench_scale.py measures it).
    """

    kind: str = "IVF_PQ"
    min_rows: int = 20_000
    nprobes: int = 20
    max_nprobes: int = 0  # 0: no limit, every partition if the filter needs it
    refine_factor: int = 10
    rows_per_partition: int = 4096

    @classmethod
    def from_env(cls) -> "VectorIndexConfig":
        """Deployment overrides: RAGLEDGER_VECTOR_INDEX (kind or "none"), RAGLEDGER_VECTOR_INDEX_MIN_ROWS,
        RAGLEDGER_NPROBES, RAGLEDGER_REFINE_FACTOR."""
        base = cls()
        kind = os.environ.get("RAGLEDGER_VECTOR_INDEX", base.kind).upper()
        if kind not in {"IVF_PQ", "IVF_HNSW_SQ", "IVF_SQ", "NONE"}:
            raise StoreError(f"RAGLEDGER_VECTOR_INDEX={kind!r} is not a supported index", hint="use IVF_PQ, IVF_HNSW_SQ, IVF_SQ or none")
        try:
            return cls(kind=kind, min_rows=int(os.environ.get("RAGLEDGER_VECTOR_INDEX_MIN_ROWS", base.min_rows)),
                       nprobes=int(os.environ.get("RAGLEDGER_NPROBES", base.nprobes)),
                       refine_factor=int(os.environ.get("RAGLEDGER_REFINE_FACTOR", base.refine_factor)))
        except ValueError as e:
            raise StoreError(f"a RAGLEDGER_* index setting is not a whole number: {e}", hint="unset it or give an integer") from e

    def partitions(self, rows: int) -> int:
        return max(1, min(4096, rows // self.rows_per_partition))


@dataclass
class Hit:
    row: dict[str, Any]
    vector_score: float = 0.0  # cosine similarity, 0 when only the full-text search found it
    text_score: float = 0.0
    fused: float = 0.0

    @property
    def chunk_id(self) -> str:
        return self.row["chunk_id"]


def access_filter(groups: tuple[str, ...] | list[str], clearance_rank: int) -> str | None:
    """The SQL prefilter of a principal; None means the principal can see nothing (default deny)."""
    if not groups:
        return None
    # Group names are validated against NAME_PATTERN at policy load, so quoting is safe.
    quoted = ", ".join(f"'{g}'" for g in groups)
    return f"array_has_any(groups, [{quoted}]) AND class_rank <= {int(clearance_rank)}"


def id_predicate(column: str, ids: list[str]) -> str:
    for i in ids:
        if not ID_PATTERN.match(i):
            raise StoreError(f"refusing a non-opaque id in a predicate: {i[:4]}…")
    return f"{column} IN ({', '.join(repr(i) for i in ids)})"


class ChunkStore:
    """`cipher` (core/chunk_crypto.ChunkCipher, from the Ledger when policy says
    `chunk_store.encryption: on`) seals what is written and opens what is returned; without it the
    content is stored in the clear. `check` refuses a table whose rows do not match the setting.
    `directory`: a local folder, or an object store URI (s3://bucket/prefix, core/rag/object_store.py);
    an unreachable store or refused credentials raise ObjectStoreError naming the URI."""

    def __init__(self, directory: Path | str, table: str = TABLE, index: VectorIndexConfig | None = None,
                 dimensions: int | None = None, cipher: Any = None, check: bool = True) -> None:
        from core.rag import object_store

        self.cipher = cipher
        self.check = check
        self.fts_column = "fts" if cipher is not None else "text"
        self.name = table
        self._dimensions = dimensions  # of a table this creates; an existing table's own are read from it
        self.directory = directory
        self.remote = object_store.is_remote(directory)
        self.index = index or VectorIndexConfig.from_env()
        self.db = object_store.connect(directory)
        self._table = None
        self._vector_indexed: bool | None = None
        self._open_filters = OpenFilters()

    @property
    def table(self):  # type: ignore[no-untyped-def]
        if self._table is None:
            with self._errors():
                if self.name in self.db.table_names():
                    self._table = self.db.open_table(self.name)
                    _add_missing_columns(self._table)
                    if self.check:
                        _check_sealing(self._table, self.cipher is not None)
                else:
                    self._table = self.db.create_table(self.name, schema=schema_for(self._dimensions or DIMENSIONS), exist_ok=True)
        return self._table

    def _errors(self):  # type: ignore[no-untyped-def]
        """Object store failures as ObjectStoreError naming the URI; local errors unchanged."""
        from contextlib import nullcontext

        from core.rag import object_store

        return object_store.translated(str(self.directory)) if self.remote else nullcontext()

    @property
    def dimensions(self) -> int:
        """The length of this table's vectors (384 for MiniLM)."""
        return int(self.table.schema.field("vector").type.list_size)

    def refresh(self) -> None:
        """See other processes' commits (ingestion from the CLI while the app runs)."""
        if self._table is not None:
            seen = self._table.version
            self._table.checkout_latest()
            if self._table.version != seen:
                self._vector_indexed = None

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:  # one commit: on an object store the data files are written first, the manifest last
            # (a conditional put), so a failed append leaves no row visible, only unreferenced files
            # that the next purge's cleanup removes
            if self.cipher is not None:
                rows = self.cipher.seal_rows(rows)
            with self._errors():
                self.table.add(pa.Table.from_pylist(rows, schema=schema_for(self.dimensions)))

    def ensure_indexes(self) -> list[str]:
        """Create the indexes that are missing: full-text and scalar ones at once, the vector index
        when the table has passed `index.min_rows`. Returns the names created. Rows added later are
        searched too (unindexed rows are scanned) until `optimize_indexes` folds them in."""
        names = {i.name for i in self.table.list_indices()}
        rows = self.table.count_rows()
        created: list[str] = []
        if rows == 0:
            return created
        if self.text_index not in names:
            if self.cipher is not None:  # hex hashes: nothing to stem, fold or stop (done before hashing)
                self.table.create_fts_index("fts", replace=True, stem=False, remove_stop_words=False, ascii_folding=False)
            else:
                self.table.create_fts_index("text", replace=True)
            created.append(self.text_index)
        if "groups_idx" not in names:
            self.table.create_scalar_index("groups", index_type="LABEL_LIST", replace=True, name="groups_idx")
            created.append("groups_idx")
        if "doc_id_idx" not in names:
            self.table.create_scalar_index("doc_id", index_type="BTREE", replace=True, name="doc_id_idx")
            created.append("doc_id_idx")
        if "class_rank_idx" not in names:
            # The other half of the access prefilter (class_rank <= clearance): a bitmap over its four
            # values, so the filter never scans the column (at 1M chunks: filtered vector leg 56 -> 47 ms,
            # filtered full-text leg 16 -> 7 ms).
            self.table.create_scalar_index("class_rank", index_type="BITMAP", replace=True, name="class_rank_idx")
            created.append("class_rank_idx")
        if VECTOR_INDEX not in names and self.index.kind != "NONE" and rows >= self.index.min_rows:
            self.create_vector_index()
            created.append(VECTOR_INDEX)
        self._vector_indexed = None
        return created

    def create_vector_index(self) -> None:
        """(Re)train the ANN index over the rows the table holds now."""
        rows = self.table.count_rows()
        kwargs: dict[str, Any] = {"metric": "cosine", "vector_column_name": "vector", "replace": True, "index_type": self.index.kind,
                                  "num_partitions": self.index.partitions(rows), "name": VECTOR_INDEX}
        if self.index.kind == "IVF_PQ":
            kwargs["num_sub_vectors"] = self.dimensions // 8  # 8 dimensions per 8-bit code: 48 bytes a vector
        self.table.create_index(**kwargs)
        self._vector_indexed = True

    def has_vector_index(self) -> bool:
        if self._vector_indexed is None:
            self._vector_indexed = any(i.name == VECTOR_INDEX for i in self.table.list_indices())
        return self._vector_indexed

    def unindexed_rows(self) -> int:
        """Rows the vector index does not cover yet (scanned flat by every search until optimized)."""
        if not self.has_vector_index():
            return self.table.count_rows()
        return int(self.table.index_stats(VECTOR_INDEX).num_unindexed_rows)

    def optimize_indexes(self) -> None:
        """Fold newly added rows into every index (vector, full-text, scalar) without retraining,
        and merge the small fragments that many small ingests leave. Old versions are kept (readers
        may still be on them); a purge removes them."""
        self.table.optimize(cleanup_older_than=None)
        self._vector_indexed = None

    def optimize(self) -> None:
        self.optimize_indexes()

    def count(self, where: str | None = None) -> int:
        return self.table.count_rows(where) if where else self.table.count_rows()

    @property
    def text_index(self) -> str:
        return f"{self.fts_column}_idx"

    def rows_where(self, where: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
        return self.all_rows(columns or RESULT_COLUMNS, where)

    def update_fields(self, updates: list[dict[str, Any]]) -> None:
        """Change some columns of existing rows, matched by chunk_id. In an encrypted store a sealed
        content column is changed by re-sealing the whole row (its columns are sealed together)."""
        if not updates:
            return
        if self.cipher is None:
            data = pa.Table.from_pylist(updates, schema=pa.schema([SCHEMA.field(c) for c in updates[0]]))
            self.table.merge_insert("chunk_id").when_matched_update_all().execute(data)
            return
        by_id = {u["chunk_id"]: u for u in updates}
        ids = list(by_id)
        rows: list[dict[str, Any]] = []
        for i in range(0, len(ids), 500):
            raw = self.table.search().where(id_predicate("chunk_id", ids[i:i + 500])).select([f.name for f in SCHEMA]).limit(None).to_list()
            readable = self.cipher.open_rows(raw)
            rows += [{**r, **by_id[r["chunk_id"]]} for r, ok in zip(raw, readable) if ok]  # an erased key stays erased
        if rows:
            sealed = pa.Table.from_pylist(self.cipher.seal_rows(rows), schema=SCHEMA)
            self.table.merge_insert("chunk_id").when_matched_update_all().execute(sealed)

    def delete_where(self, where: str) -> None:
        with self._errors():
            self.table.delete(where)

    # Exhaustive and full-text look-ups for erasure and the known-PII index (core/erasure/targets.py,
    # core/rag/question_redaction.py): they need every row, never a ranked top-k.
    def version(self) -> int:
        """The table version this handle reads (changes with every commit)."""
        return int(self.table.version)

    def all_rows(self, columns: list[str], where: str | None = None) -> list[dict[str, Any]]:
        """Every row (or every row matching `where`), unranked and unlimited."""
        q = self.table.search().select(self._reading(columns)).limit(None)
        if where:
            q = q.where(where)
        return self._opened(q.to_list(), columns)

    def _reading(self, columns: list[str]) -> list[str]:
        """The columns to fetch: a sealed content column needs the sealed text and its ids."""
        if self.cipher is None or not set(columns) & set(SEALED):
            return columns
        return list(dict.fromkeys([*columns, "chunk_id", "doc_id", "text"]))

    def _opened(self, rows: list[dict[str, Any]], columns: list[str], drop_unreadable: bool = False) -> list[dict[str, Any]]:
        """Open the sealed rows (only these: a search opens what it returns, never its candidates)."""
        if self.cipher is None or not set(columns) & set(SEALED):
            return rows
        readable = self.cipher.open_rows(rows)
        keep = [*columns, *(c for c in ("_score", "_distance") if c not in columns)]
        return [{c: r[c] for c in keep if c in r} for r, ok in zip(rows, readable) if ok or not drop_unreadable]

    def has_text_index(self) -> bool:
        return any(i.name == self.text_index for i in self.table.list_indices())

    def text_candidates(self, words: str, columns: list[str], limit: int = 10_000) -> list[dict[str, Any]]:
        """Rows whose full-text index holds every word of `words` (a match query with AND, not a
        phrase query: the index is built without positions). Candidates only: the caller confirms
        each one. Errors are raised; an empty table or one not yet indexed has no candidates."""
        from lancedb.query import FullTextOperator, MatchQuery

        if not words.strip() or self.table.count_rows() == 0 or not self.has_text_index():
            return []
        if self.cipher is not None:
            words = self.cipher.blind_terms(words)
            if not words:
                return []
        query = MatchQuery(words, self.fts_column, operator=FullTextOperator.AND)
        try:
            rows = self.table.search(query, query_type="fts").select([*self._reading(columns), "_score"]).limit(limit).to_list()
            return self._opened(rows, [*columns, "_score"])
        except (ValueError, OSError, RuntimeError) as exc:
            raise StoreError(f"the full-text index could not be queried ({exc})", hint="rebuild it: `ragledger reanalyze` or re-ingest") from exc

    def versions(self) -> list[int]:
        return [int(v["version"]) for v in self.table.list_versions()]

    def count_in_version(self, version: int, where: str) -> int:
        """Rows matching `where` in an older version of the table (erasure proof: none may survive)."""
        table = self.db.open_table(self.name)
        table.checkout(version)
        return table.count_rows(where)

    def vector_query(self, vector: np.ndarray, where: str | None, limit: int, columns: list[str] | None = None, *, exact: bool = False):  # type: ignore[no-untyped-def]
        """The vector leg: nearest rows by cosine, `where` applied as a prefilter inside the query.

        Through the ANN index when there is one (`exact` bypasses it, for recall measurements);
        rows not yet in the index are scanned flat and merged, so a fresh ingest is found at once."""
        q = self.table.search(vector, vector_column_name="vector").distance_type("cosine").select([*(columns or RESULT_COLUMNS), "_distance"]).limit(limit)
        if exact:
            q = q.bypass_vector_index()
        elif self.has_vector_index():
            q = q.minimum_nprobes(self.index.nprobes).maximum_nprobes(self.index.max_nprobes)
            if self.index.refine_factor:
                q = q.refine_factor(self.index.refine_factor)
        if where:
            q = q.where(where, prefilter=True)
        return q

    def text_query(self, text: str, where: str | None, limit: int, columns: list[str] | None = None):  # type: ignore[no-untyped-def]
        """The full-text leg (BM25 over the native FTS index), prefiltered the same way; None without terms."""
        terms = self._terms(text)
        if not terms:
            return None
        q = self.table.search(terms, query_type="fts", fts_columns=self.fts_column).select([*(columns or RESULT_COLUMNS), "_score"]).limit(limit)
        if where:
            q = q.where(where, prefilter=True)
        return q

    def _terms(self, text: str) -> str:
        """The full-text query's terms: the words of `text`, blinded like the index when content is sealed."""
        return self.cipher.blind_terms(text) if self.cipher is not None else _fts_terms(text)

    def search(self, vector: np.ndarray, text: str, where: str | None, k: int, *, fetch: int | None = None) -> list[Hit]:
        """Hybrid search: vector and full-text, each prefiltered by `where`, run concurrently and
        fused by reciprocal rank."""
        return self.governed_search(vector, text, where, k, fetch=fetch)[0]

    def governed_search(self, vector: np.ndarray, text: str, where: str | None, k: int, *, fetch: int | None = None,
                        unfiltered: int = 0, language: str | None = None) -> tuple[list[Hit], list[dict[str, Any]]]:
        """The hybrid search of `search`, plus (with `unfiltered` > 0) the `unfiltered` nearest rows by
        vector alone with no access filter, labels only (no text), for counting what access control
        withheld. The three legs run concurrently, in one call into LanceDB (core/rag/search_legs.py):
        one pass over the data per leg, not a second hybrid search. With `language`, candidates in that
        language rank before the others (a question in German is answered from the German policy when
        both versions match)."""
        fetch = fetch or max(k * 3, 10)
        terms = self._terms(text)

        def legs(filtered: str | None) -> list[list[dict[str, Any]]]:
            return run_legs(self.table, self.index if self.has_vector_index() else None, self.fts_column, [
                Leg(RESULT_COLUMNS, fetch, filtered, vector=vector),
                Leg(RESULT_COLUMNS, fetch, filtered, terms=terms) if terms else None,
                Leg(LABEL_COLUMNS, unfiltered, None, vector=vector) if unfiltered else None,
            ])

        # A filter that every row of this version passes excludes nothing: searched without it, unless
        # a write moved the version meanwhile (then the count may not hold for what was searched).
        version = self.table.version
        admits_all = where is not None and self._open_filters.admits_all(self.table, where, version)
        vector_rows, text_rows, open_rows = legs(None if admits_all else where)
        if admits_all and self.table.version != version:
            vector_rows, text_rows, open_rows = legs(where)
        hits: dict[str, Hit] = {}
        for rank, row in enumerate(vector_rows):
            h = hits.setdefault(row["chunk_id"], Hit(row))
            h.vector_score = 1.0 - float(row.pop("_distance"))
            h.fused += 1.0 / (60 + rank)
        for rank, row in enumerate(text_rows):
            h = hits.setdefault(row["chunk_id"], Hit(row))
            h.text_score = float(row.pop("_score", 0.0))
            h.fused += 1.0 / (60 + rank)
        ranked = sorted(hits.values(), key=lambda h: (language is not None and h.row.get("language") == language, h.fused), reverse=True)
        if self.cipher is None:
            return ranked[:k], open_rows
        # Open only the k returned (already past the access prefilter); a row whose document key was
        # destroyed (a purge before its compaction) is skipped, and the next candidate takes its place.
        shown: list[Hit] = []
        for start in range(0, len(ranked), k):
            batch = ranked[start:start + k]
            readable = self.cipher.open_rows([h.row for h in batch])
            shown += [h for h, ok in zip(batch, readable) if ok]
            if len(shown) >= k:
                break
        return shown[:k], open_rows


def _fts_terms(text: str) -> str:
    # The FTS parser treats some punctuation as syntax; keep words only, in any script ("Kündigungsfrist",
    # "Müller", "łódź" stay whole; the index folds them to ASCII, so "Muller" finds "Müller" too).
    return " ".join(re.findall(r"[^\W_]+", text))


SEALED = ("title", "title_spans", "text", "pii_spans")  # core/chunk_crypto.SEALED_COLUMNS


def _check_sealing(table, encrypted: bool) -> None:  # type: ignore[no-untyped-def]
    """Refuse a table written under the other `chunk_store.encryption` setting (never mix the two)."""
    if table.count_rows() == 0:
        return
    plain = table.count_rows("fts IS NULL")
    if encrypted and plain:
        raise StoreError(f"the chunk store holds {plain} chunks in the clear, and policy says chunk_store.encryption: on",
                         hint="re-write it encrypted: `ragledger store encrypt` (or set chunk_store.encryption: off in policies/policy.yaml)")
    if not encrypted and plain < table.count_rows():
        raise StoreError("the chunk store is encrypted, and policy says chunk_store.encryption: off",
                         hint="set chunk_store.encryption: on in policies/policy.yaml, or re-write it in the clear: `ragledger store decrypt`")


def _add_missing_columns(table) -> None:  # type: ignore[no-untyped-def]
    """A table made by an older release lacks the columns added since (`language`): add them as nulls,
    so new rows can be written with the current schema and old rows read as "unknown"."""
    have = set(table.schema.names)
    missing = [f for f in SCHEMA if f.name not in have]
    if missing:
        table.add_columns(missing)


def spans_of(row: dict[str, Any]) -> list[dict]:
    return json.loads(row.get("pii_spans") or "[]")
