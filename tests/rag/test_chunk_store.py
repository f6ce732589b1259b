"""The chunk table with a vector index: created past its threshold, kept current by optimize, and
never a way around the access prefilter. Real LanceDB on disk; vectors are random unit vectors
(what is tested is the filter and the index bookkeeping, not semantic ranking)."""
from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.rag.chunk_store import VECTOR_INDEX, ChunkStore, VectorIndexConfig, access_filter
from core.errors import StoreError
from core.policy.engine import Principal
from core.policy.models import CLASSIFICATION_LEVELS, class_rank

GROUPS = ["all-staff", "hr", "finance", "engineering", "support", "legal"]
SMALL_INDEX = VectorIndexConfig(min_rows=300, rows_per_partition=64, nprobes=2, refine_factor=2)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 384)).astype("float32")
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_rows(start: int, n: int, seed: int = 1) -> list[dict]:
    rng, nrng = random.Random(seed + start), np.random.default_rng(seed + start)
    rows = []
    for i, vector in zip(range(start, start + n), unit(nrng, n)):
        level = rng.choice(CLASSIFICATION_LEVELS)
        text = f"Passage {i} about {rng.choice(['leave', 'budget', 'backup', 'refund'])} with marker M{i:05d}."
        rows.append({
            "chunk_id": f"chk_{i:020x}", "doc_id": f"doc_{i // 4:016x}", "doc_version": 1, "ord": i % 4, "title": f"Doc {i // 4}",
            "title_spans": "[]", "text": text, "start": 0, "end": len(text), "groups": sorted(set(rng.sample(GROUPS, rng.randint(1, 2)))),
            "classification": level, "class_rank": class_rank(level), "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            "pii_spans": "[]", "pii_types": [], "vector": vector.tolist(),
        })
    return rows


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[ChunkStore, list[dict]]:  # type: ignore[no-untyped-def]
    store = ChunkStore(tmp_path_factory.mktemp("indexed"), index=SMALL_INDEX)
    rows = make_rows(0, 800)
    store.add(rows)
    assert VECTOR_INDEX in store.ensure_indexes()
    return store, rows


def test_vector_index_is_created_only_past_the_threshold(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ChunkStore(tmp_path, index=SMALL_INDEX)
    store.add(make_rows(0, 200))
    assert VECTOR_INDEX not in store.ensure_indexes() and not store.has_vector_index()
    store.add(make_rows(200, 200))
    assert VECTOR_INDEX in store.ensure_indexes()
    assert store.has_vector_index() and store.unindexed_rows() == 0
    assert {i.name for i in store.table.list_indices()} >= {VECTOR_INDEX, "text_idx", "groups_idx", "doc_id_idx", "class_rank_idx"}
    assert store.ensure_indexes() == []  # present: not rebuilt on every ingest


def test_rows_added_after_the_index_are_found_at_once_and_folded_in_by_optimize(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ChunkStore(tmp_path, index=SMALL_INDEX)
    store.add(make_rows(0, 400))
    store.ensure_indexes()
    late = make_rows(400, 10, seed=9)
    store.add(late)
    assert store.unindexed_rows() == 10
    target = np.array(late[3]["vector"], dtype="float32")
    assert store.search(target, "", None, 1)[0].chunk_id == late[3]["chunk_id"]  # flat-scanned, not missed
    store.optimize_indexes()
    assert store.unindexed_rows() == 0
    assert store.search(target, "", None, 1)[0].chunk_id == late[3]["chunk_id"]


def test_an_exact_neighbour_is_found_through_the_index(indexed) -> None:  # type: ignore[no-untyped-def]
    store, rows = indexed
    for row in rows[::97]:
        hit = store.vector_query(np.array(row["vector"], dtype="float32"), None, 1).to_list()[0]
        assert hit["chunk_id"] == row["chunk_id"]


principal_spec = st.tuples(st.sets(st.sampled_from(GROUPS), min_size=1, max_size=3), st.sampled_from(CLASSIFICATION_LEVELS),
                           st.integers(0, 2**31), st.sampled_from(["leave", "budget", "backup refund", "marker"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=principal_spec)
def test_a_principal_never_gets_a_chunk_outside_its_filter_through_the_index(indexed, spec) -> None:  # type: ignore[no-untyped-def]
    store, rows = indexed
    groups, clearance, seed, words = spec
    who = Principal("p", "P", "employee", tuple(sorted(groups)), clearance, frozenset({"ask"}), "strict")
    allowed = {r["chunk_id"] for r in rows if who.can_see(r["groups"], r["classification"])}
    query = unit(np.random.default_rng(seed), 1)[0]
    hits, unfiltered = store.governed_search(query, words, access_filter(who.groups, who.clearance_rank), 5, unfiltered=5)
    assert {h.chunk_id for h in hits} <= allowed
    # Prefilter, not post-filter: a selective filter still fills top-k while permitted rows exist.
    assert len(hits) == min(5, len(allowed))
    # The unfiltered leg is the exact neighbourhood by vector, labels only.
    assert len(unfiltered) == 5 and "text" not in unfiltered[0]


def test_the_filtered_vector_leg_matches_exact_search_under_a_selective_filter(indexed) -> None:  # type: ignore[no-untyped-def]
    store, rows = indexed
    where = access_filter(("legal",), class_rank("public"))
    permitted = [r for r in rows if "legal" in r["groups"] and r["classification"] == "public"]
    assert 0 < len(permitted) < 80
    q = unit(np.random.default_rng(3), 1)[0]
    found = [r["chunk_id"] for r in store.vector_query(q, where, 10).to_list()]
    exact = [r["chunk_id"] for r in store.vector_query(q, where, 10, exact=True).to_list()]
    assert len(found) == 10 and set(found) <= {r["chunk_id"] for r in permitted}
    assert len(set(found) & set(exact)) >= 8  # PQ codes with a refine step: near-exact even when the filter is narrow


def test_bad_index_settings_fail_with_the_variable_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAGLEDGER_VECTOR_INDEX", "annoy")
    with pytest.raises(StoreError, match="RAGLEDGER_VECTOR_INDEX"):
        VectorIndexConfig.from_env()
    monkeypatch.setenv("RAGLEDGER_VECTOR_INDEX", "ivf_pq")
    monkeypatch.setenv("RAGLEDGER_NPROBES", "many")
    with pytest.raises(StoreError, match="whole number"):
        VectorIndexConfig.from_env()
