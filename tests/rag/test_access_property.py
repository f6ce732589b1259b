"""Property: over random corpora, principals and questions, nobody receives a chunk outside their
groups or clearance, in the answer or the citations. Real MiniLM, real LanceDB on disk."""
from __future__ import annotations

import hashlib
import itertools
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.answering.ask import ask
from core.rag.retrieval import retrieve
from core.rag.chunk_store import SCHEMA
from core.policy.engine import Principal
from core.policy.models import CLASSIFICATION_LEVELS, class_rank
from tests.conftest import make_ledger

GROUPS = ["all-staff", "hr", "finance", "engineering", "support", "legal"]
TOPICS = [
    "travel budget for the sales team", "parental leave entitlement", "database backup schedule",
    "customer refund for a duplicate charge", "settlement with a supplier", "salary review outcome",
    "laptop encryption requirement", "incident postmortem timeline", "vendor payment run", "API rate limits",
]


@pytest.fixture(scope="module")
def topic_vectors():  # type: ignore[no-untyped-def]
    from core.rag.embedder import Embedder

    texts = [f"Reference note about the {t}." for t in TOPICS]
    return dict(zip(TOPICS, Embedder().embed(texts)))


chunk_spec = st.tuples(st.sampled_from(TOPICS), st.sets(st.sampled_from(GROUPS), min_size=1, max_size=3), st.sampled_from(CLASSIFICATION_LEVELS))
principal_spec = st.tuples(st.sets(st.sampled_from(GROUPS), max_size=4), st.sampled_from(CLASSIFICATION_LEVELS))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chunks=st.lists(chunk_spec, min_size=1, max_size=30), principal=principal_spec, question=st.sampled_from(TOPICS))
def test_no_chunk_outside_groups_or_clearance_is_ever_returned(tmp_path_factory, topic_vectors, chunks, principal, question) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("prop")
    ledger = make_ledger(home)
    rows, allowed = [], set()
    groups, clearance = principal
    who = Principal("prop", "Prop", "employee", tuple(sorted(groups)), clearance, frozenset({"ask"}), "strict")
    for i, (topic, chunk_groups, level) in enumerate(chunks):
        marker = f"MARK{i:04d}"
        text = f"Reference note about the {topic}. The code {marker} identifies this passage for the audit."
        chunk_id = "chk_" + hashlib.sha256(f"{home}{i}".encode()).hexdigest()[:20]
        rows.append({
            "chunk_id": chunk_id, "doc_id": f"doc_{i:016x}", "doc_version": 1, "ord": 0, "title": f"Doc {i}", "title_spans": "[]",
            "text": text, "start": 0, "end": len(text), "groups": sorted(chunk_groups), "classification": level,
            "class_rank": class_rank(level), "content_hash": hashlib.sha256(text.encode()).hexdigest(), "pii_spans": "[]",
            "pii_types": [], "vector": topic_vectors[topic].tolist(),
        })
        if who.can_see(sorted(chunk_groups), level):
            allowed.add(chunk_id)
    ledger.store.add(rows)
    ledger.store.ensure_indexes()
    result = ask(ledger, who, f"What is the {question}?")
    assert {c.chunk_id for c in result.citations} <= allowed
    forbidden = [f"MARK{i:04d}" for i, r in enumerate(rows) if r["chunk_id"] not in allowed]
    shown = result.answer + " ".join(c.text for c in result.citations)
    assert not any(m in shown for m in forbidden)
    # Top-k is never starved by post-filtering: retrieval itself (not the answerer, which may decline)
    # returns min(k, allowed) hits, all of them allowed.
    hits = retrieve(ledger, who, f"What is the {question}?").hits
    assert {h.chunk_id for h in hits} <= allowed
    assert len(hits) == min(5, len(allowed))
    shutil.rmtree(home, ignore_errors=True)
