"""The legs of a governed hybrid search, run together in one call into LanceDB's engine.

LanceDB's synchronous query builders cost one round trip to its background event loop per query
and more per builder (each `table.search` reads the table schema, and each vector query reads it
again to decide on row ids): at 100,000 chunks that was a third of the search time of an ask. Here the
three legs are built on LanceDB's async API and awaited together with `asyncio.gather`, in a single
`LOOP.run`: the engine runs them concurrently on its own threads, and no Python thread pool is needed.

An access filter that every row of the searched table version passes is not applied (`OpenFilters`):
LanceDB's prefilter first lists every row id the filter admits, so a filter admitting all of a million
rows made the vector leg 2.7 times slower than no filter, for the same rows. Whether it admits all is
two counts served by the scalar indexes, cached per table version; the caller checks that the version
did not move during the search, and searches again with the filter if it did.

Semantics are those of the synchronous builders (tests/rag/test_search_legs.py compares them): the
access filter is a prefilter inside each filtered leg (LanceDB's async queries prefilter by default),
rows not yet in the vector index are scanned flat and merged, and where LanceDB refuses a full-text
query for want of an index, the leg gives no rows rather than an error.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Leg:
    """One query: by vector (`vector` set) or by full-text terms (`terms` set), prefiltered by `where`."""

    columns: list[str]
    limit: int
    where: str | None = None
    vector: np.ndarray | None = None
    terms: str | None = None


def run_legs(table, index, fts_column: str, legs: list[Leg | None]) -> list[list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The rows of each leg, in order (an empty list for a None leg). `table` is a LanceDB table;
    `index` its VectorIndexConfig (nprobes, refine factor) when it has a vector index, else None."""
    from lancedb.background_loop import LOOP

    inner = table._table  # the AsyncTable behind the synchronous LanceTable (local folder or object store)

    async def rows(leg: Leg | None) -> list[dict[str, Any]]:
        if leg is None:
            return []
        if leg.vector is not None:
            q = inner.query().nearest_to(leg.vector).column("vector").distance_type("cosine")
            if index is not None:  # nprobes first: it sets the minimum and the maximum, so a minimum above
                # LanceDB's default maximum (20) is not refused; then the maximum (0: as many as the filter needs)
                q = q.nprobes(index.nprobes).maximum_nprobes(index.max_nprobes)
                if index.refine_factor:
                    q = q.refine_factor(index.refine_factor)
            q = q.select([*leg.columns, "_distance"])
        else:
            q = inner.query().nearest_to_text(leg.terms, columns=[fts_column]).select([*leg.columns, "_score"])
        if leg.where:
            q = q.where(leg.where)
        try:
            return (await q.limit(leg.limit).to_arrow()).to_pylist()
        except ValueError as e:  # no FTS index yet (an empty or just-created table): vector results stand alone
            if leg.terms is None or "index" not in str(e).lower():
                raise
            return []

    async def together() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(rows(leg) for leg in legs)))

    return LOOP.run(together())


class OpenFilters:
    """Per table version, which filters every row passes (then the filter excludes nothing, and a
    search without it returns exactly the same rows). A new version forgets what was known.

    Searches of one store run in several threads (the app's sessions, an ingest beside them): an
    answer is kept only when the table's version was the same before and after its two counts, and
    only under the version it was counted at; otherwise the filter is applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._known: dict[str, bool] = {}

    def admits_all(self, table, where: str, version: int) -> bool:  # type: ignore[no-untyped-def]
        with self._lock:
            if version == self._version and where in self._known:
                return self._known[where]
        admits = table.count_rows(where) == table.count_rows()
        if table.version != version:  # a write between the counts, or since `version` was read
            return False
        with self._lock:
            if version != self._version:
                if self._version is not None and version < self._version:
                    return admits  # an older version's answer: used once, never cached over a newer one
                self._version, self._known = version, {}
            self._known[where] = admits
        return admits
