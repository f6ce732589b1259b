"""The chunk table in LanceDB: vectors, full text, access metadata and PII spans of every chunk.

Access control happens inside the query: every search carries a prefilter on groups and clearance,
so top-k is computed over permitted rows only and is never starved or leaked by post-filtering.
Ids are opaque; no personal data ever appears in an id or in a delete predicate (predicates are
written to Lance transaction files).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from core.embedder import DIMENSIONS
from core.errors import StoreError

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
        pa.field("vector", pa.list_(pa.float32(), DIMENSIONS)),
    ]
)
RESULT_COLUMNS = [f.name for f in SCHEMA if f.name != "vector"]


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
    def __init__(self, directory: Path, table: str = TABLE) -> None:
        import lancedb

        self.name = table
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.db = lancedb.connect(str(directory))
        self._table = None

    @property
    def table(self):  # type: ignore[no-untyped-def]
        if self._table is None:
            if self.name in self.db.table_names():
                self._table = self.db.open_table(self.name)
            else:
                self._table = self.db.create_table(self.name, schema=SCHEMA, exist_ok=True)
        return self._table

    def refresh(self) -> None:
        """See other processes' commits (ingestion from the CLI while the app runs)."""
        if self._table is not None:
            self._table.checkout_latest()

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.table.add(pa.Table.from_pylist(rows, schema=SCHEMA))

    def ensure_indexes(self) -> None:
        """Full-text and scalar indexes; rows added later are searched too (unindexed rows are
        scanned) until `optimize` folds them in."""
        names = {i.name for i in self.table.list_indices()}
        if self.table.count_rows() == 0:
            return
        if "text_idx" not in names:
            self.table.create_fts_index("text", replace=True)
        if "groups_idx" not in names:
            self.table.create_scalar_index("groups", index_type="LABEL_LIST", replace=True, name="groups_idx")
        if "doc_id_idx" not in names:
            self.table.create_scalar_index("doc_id", index_type="BTREE", replace=True, name="doc_id_idx")

    def optimize(self) -> None:
        self.table.optimize()

    def count(self, where: str | None = None) -> int:
        return self.table.count_rows(where) if where else self.table.count_rows()

    def rows_where(self, where: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
        q = self.table.search().where(where).select(columns or RESULT_COLUMNS).limit(None)
        return q.to_list()

    def delete_where(self, where: str) -> None:
        self.table.delete(where)

    # Exhaustive and full-text look-ups for erasure and the known-PII index (core/erasure_targets.py,
    # core/question_redaction.py): they need every row, never a ranked top-k.
    def version(self) -> int:
        """The table version this handle reads (changes with every commit)."""
        return int(self.table.version)

    def all_rows(self, columns: list[str], where: str | None = None) -> list[dict[str, Any]]:
        """Every row (or every row matching `where`), unranked and unlimited."""
        q = self.table.search().select(columns).limit(None)
        if where:
            q = q.where(where)
        return q.to_list()

    def has_text_index(self) -> bool:
        return any(i.name == "text_idx" for i in self.table.list_indices())

    def text_candidates(self, words: str, columns: list[str], limit: int = 10_000) -> list[dict[str, Any]]:
        """Rows whose full-text index holds every word of `words` (a match query with AND, not a
        phrase query: the index is built without positions). Candidates only: the caller confirms
        each one. Errors are raised; an empty table or one not yet indexed has no candidates."""
        from lancedb.query import FullTextOperator, MatchQuery

        if not words.strip() or self.table.count_rows() == 0 or not self.has_text_index():
            return []
        query = MatchQuery(words, "text", operator=FullTextOperator.AND)
        try:
            return self.table.search(query, query_type="fts").select([*columns, "_score"]).limit(limit).to_list()
        except (ValueError, OSError, RuntimeError) as exc:
            raise StoreError(f"the full-text index could not be queried ({exc})", hint="rebuild it: `ragledger reanalyze` or re-ingest") from exc

    def versions(self) -> list[int]:
        return [int(v["version"]) for v in self.table.list_versions()]

    def count_in_version(self, version: int, where: str) -> int:
        """Rows matching `where` in an older version of the table (erasure proof: none may survive)."""
        table = self.db.open_table(self.name)
        table.checkout(version)
        return table.count_rows(where)

    def search(self, vector: np.ndarray, text: str, where: str | None, k: int, *, fetch: int | None = None) -> list[Hit]:
        """Hybrid search: vector and full-text, each prefiltered by `where`, fused by reciprocal rank."""
        fetch = fetch or max(k * 3, 10)
        vq = self.table.search(vector, vector_column_name="vector").distance_type("cosine").select([*RESULT_COLUMNS, "_distance"]).limit(fetch)
        if where:
            vq = vq.where(where, prefilter=True)
        hits: dict[str, Hit] = {}
        for rank, row in enumerate(vq.to_list()):
            h = hits.setdefault(row["chunk_id"], Hit(row))
            h.vector_score = 1.0 - float(row.pop("_distance"))
            h.fused += 1.0 / (60 + rank)
        terms = _fts_terms(text)
        if terms:
            tq = self.table.search(terms, query_type="fts", fts_columns="text").select([*RESULT_COLUMNS, "_score"]).limit(fetch)
            if where:
                tq = tq.where(where, prefilter=True)
            try:
                text_rows = tq.to_list()
            except Exception:  # no FTS index yet (empty table): vector results stand alone
                text_rows = []
            for rank, row in enumerate(text_rows):
                h = hits.setdefault(row["chunk_id"], Hit(row))
                h.text_score = float(row.pop("_score", 0.0))
                h.fused += 1.0 / (60 + rank)
        ranked = sorted(hits.values(), key=lambda h: h.fused, reverse=True)
        return ranked[:k]


def _fts_terms(text: str) -> str:
    # The FTS parser treats some punctuation as syntax; keep words only.
    return " ".join(re.findall(r"[A-Za-z0-9]+", text))


def spans_of(row: dict[str, Any]) -> list[dict]:
    return json.loads(row.get("pii_spans") or "[]")
