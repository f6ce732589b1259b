"""The legs of a governed search, run in one call on LanceDB's async API, return what LanceDB's
synchronous builders return for the same queries: the same rows in the same order (rows of equal
score in either order), the access filter still a prefilter, unindexed rows still found, and a
table without indexes searched the same way. Real LanceDB tables on disk (tests/rag/test_chunk_store.py builds the rows)."""
from __future__ import annotations

import numpy as np
import pytest

from core.rag.chunk_store import LABEL_COLUMNS, RESULT_COLUMNS, ChunkStore, access_filter
from core.policy.models import class_rank
from core.rag.search_legs import Leg, run_legs
from tests.rag.test_chunk_store import SMALL_INDEX, make_rows, unit

FILTERS = [None, access_filter(("legal",), class_rank("public")), access_filter(("hr", "finance"), class_rank("confidential"))]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ChunkStore:  # type: ignore[no-untyped-def]
    s = ChunkStore(tmp_path_factory.mktemp("legs"), index=SMALL_INDEX)
    s.add(make_rows(0, 800))
    s.ensure_indexes()
    s.add(make_rows(800, 40))  # not yet in the vector index: scanned flat, in both APIs
    assert s.has_vector_index() and s.unindexed_rows() == 40
    return s


def ids(rows: list[dict]) -> list[str]:
    return [r["chunk_id"] for r in rows]


def same_ranking(got: list[dict], want: list[dict], score: str) -> bool:
    """The same scores in the same order, and the same rows for each score above the last one: rows
    that tie (BM25 gives every short passage with the word the same score) come in no fixed order,
    and which of those tied at the cut-off make the limit is the engine's choice in both APIs."""
    scores = [round(r[score], 5) for r in got]
    if scores != [round(r[score], 5) for r in want]:
        return False
    above = lambda rows: {(round(r[score], 5), r["chunk_id"]) for r in rows if round(r[score], 5) != scores[-1]}  # noqa: E731
    return not scores or above(got) == above(want)


@pytest.mark.parametrize("where", FILTERS)
def test_each_leg_returns_what_the_synchronous_builder_returns(store, where) -> None:  # type: ignore[no-untyped-def]
    for seed in range(5):
        q = unit(np.random.default_rng(seed), 1)[0]
        words = ["budget", "leave marker", "refund backup"][seed % 3]
        vector_rows, text_rows, open_rows = run_legs(store.table, store.index, store.fts_column, [
            Leg(RESULT_COLUMNS, 15, where, vector=q), Leg(RESULT_COLUMNS, 15, where, terms=words), Leg(LABEL_COLUMNS, 5, None, vector=q)])
        assert ids(vector_rows) == ids(store.vector_query(q, where, 15).to_list())
        assert same_ranking(text_rows, store.text_query(words, where, 15).to_list(), "_score")
        assert ids(open_rows) == ids(store.vector_query(q, None, 5, LABEL_COLUMNS).to_list())
        assert all("_distance" in r for r in vector_rows) and all("_score" in r for r in text_rows)
        assert open_rows and "text" not in open_rows[0]  # the withheld count reads labels only


def test_the_filter_is_a_prefilter_in_every_filtered_leg(store) -> None:  # type: ignore[no-untyped-def]
    where = access_filter(("legal",), class_rank("public"))
    permitted = {r["chunk_id"] for r in store.all_rows(["chunk_id"], where)}
    assert 0 < len(permitted) < 100
    q = unit(np.random.default_rng(9), 1)[0]
    vector_rows, text_rows = run_legs(store.table, store.index, store.fts_column, [
        Leg(RESULT_COLUMNS, 10, where, vector=q), Leg(RESULT_COLUMNS, 10, where, terms="passage")])
    assert len(vector_rows) == 10 and set(ids(vector_rows)) <= permitted  # filled to k from the few permitted rows
    assert len(text_rows) == 10 and set(ids(text_rows)) <= permitted


def test_a_table_without_indexes_is_searched_as_the_synchronous_builders_search_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = ChunkStore(tmp_path, index=SMALL_INDEX)
    rows = make_rows(0, 30)
    fresh.add(rows)
    target = np.array(rows[7]["vector"], dtype="float32")
    vector_rows, text_rows, none = run_legs(fresh.table, None, fresh.fts_column, [
        Leg(RESULT_COLUMNS, 3, None, vector=target), Leg(RESULT_COLUMNS, 3, None, terms="budget"), None])
    assert ids(vector_rows)[0] == rows[7]["chunk_id"] and none == []
    assert same_ranking(text_rows, store_text(fresh, "budget", 3), "_score")


def store_text(store: ChunkStore, words: str, limit: int) -> list[dict]:
    try:
        return store.text_query(words, None, limit).to_list()
    except ValueError:  # a LanceDB that needs the index for full-text search: run_legs gives no rows then
        return []


def _everyone_but_a_new_group(tmp_path):  # type: ignore[no-untyped-def]
    from tests.rag.test_chunk_store import GROUPS

    store = ChunkStore(tmp_path, index=SMALL_INDEX)
    store.add(make_rows(0, 400))
    store.ensure_indexes()
    where = access_filter(tuple(GROUPS), class_rank("restricted"))  # every row written so far passes it
    hidden = make_rows(5000, 1)[0] | {"chunk_id": "chk_hidden_from_everyone", "groups": ["board-only"]}
    return store, where, hidden


def test_a_filter_that_admits_every_row_finds_what_the_filter_finds(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import core.rag.chunk_store as chunk_store

    store, where, _ = _everyone_but_a_new_group(tmp_path)
    filtered = ChunkStore(tmp_path, index=SMALL_INDEX)
    filtered._open_filters.admits_all = lambda *_: False  # type: ignore[method-assign]  (always searched with the filter)
    searched: list[list] = []

    def recorded(table, index, fts_column, legs):  # type: ignore[no-untyped-def]
        searched.append([leg.where for leg in legs[:2] if leg is not None])
        return run_legs(table, index, fts_column, legs)

    monkeypatch.setattr(chunk_store, "run_legs", recorded)
    for seed in range(5):
        q = unit(np.random.default_rng(seed), 1)[0]
        hits, withheld = store.governed_search(q, "", where, 5, unfiltered=5)
        want, want_withheld = filtered.governed_search(q, "", where, 5, unfiltered=5)
        assert [(h.chunk_id, round(h.fused, 6)) for h in hits] == [(h.chunk_id, round(h.fused, 6)) for h in want]
        assert ids(withheld) == ids(want_withheld)
        words = ["budget", "leave marker"][seed % 2]  # with the full-text leg too: the same rows, ties in any order
        hits, _ = store.governed_search(q, words, where, 15)
        want, _ = filtered.governed_search(q, words, where, 15)
        assert sorted(round(h.fused, 6) for h in hits) == sorted(round(h.fused, 6) for h in want)
    assert searched[0] == [None] and searched[1] == [where]  # left out by the first store, applied by the second
    assert searched[2] == [None, None] and searched[3] == [where, where]


def test_a_filter_counted_while_the_version_moves_is_not_cached(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.rag.search_legs import OpenFilters

    store, where, hidden = _everyone_but_a_new_group(tmp_path)
    before = store.table.version
    store.add([hidden])  # the version moved after `before` was read: its counts are not of that version
    known = OpenFilters()
    assert not known.admits_all(store.table, where, before)
    assert not known.admits_all(store.table, where, store.table.version)  # and at the new version the filter refuses a row


def test_once_a_row_outside_the_filter_is_written_the_filter_is_applied_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, where, hidden = _everyone_but_a_new_group(tmp_path)
    q = np.array(hidden["vector"], dtype="float32")
    store.governed_search(q, "budget", where, 5)  # known at this version: the filter admits every row
    store.add([hidden])  # a new version, with a row the filter refuses, nearest of all to the query
    hits, _ = store.governed_search(q, "budget", where, 5)
    assert hits and "chk_hidden_from_everyone" not in {h.chunk_id for h in hits}


def test_a_write_during_the_search_makes_it_search_again_with_the_filter(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import core.rag.chunk_store as chunk_store

    store, where, hidden = _everyone_but_a_new_group(tmp_path)
    q = np.array(hidden["vector"], dtype="float32")
    searched: list[list] = []

    def a_write_lands_first(table, index, fts_column, legs):  # type: ignore[no-untyped-def]
        if not searched:  # another thread's ingest commits while the first search runs
            store.add([hidden])
        searched.append([leg.where for leg in legs if leg is not None])
        return run_legs(table, index, fts_column, legs)

    monkeypatch.setattr(chunk_store, "run_legs", a_write_lands_first)
    hits, _ = store.governed_search(q, "budget", where, 5)
    assert searched[0][:2] == [None, None] and searched[1][:2] == [where, where]  # unfiltered, then again with the filter
    assert hits and "chk_hidden_from_everyone" not in {h.chunk_id for h in hits}


def test_more_probes_than_lancedbs_default_maximum_are_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    store = ChunkStore(tmp_path, index=replace(SMALL_INDEX, nprobes=32, max_nprobes=0))
    store.add(make_rows(0, 800))
    store.ensure_indexes()
    q = unit(np.random.default_rng(2), 1)[0]
    where = access_filter(("legal",), class_rank("public"))
    (rows,) = run_legs(store.table, store.index, store.fts_column, [Leg(RESULT_COLUMNS, 10, where, vector=q)])
    assert ids(rows) == ids(store.vector_query(q, where, 10).to_list()) and len(rows) == 10
