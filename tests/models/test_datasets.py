"""Dataset versions built from governed chunks: lineage refs, redaction, access, immutability, errors.

Real ingestion of tests/data/tidal (Presidio + MiniLM + LanceDB) and a real SQLite ledger."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.rag.chunk_store import id_predicate
from core.models.datasets import DatasetError, build_dataset, dataset_rows, get_dataset, rows_from_manifest, sentences
from core.errors import AccessDenied
from core.stores.registry_tables import DatasetVersion
from registry_support import erase_document, registry_counts, tidal_home


@pytest.fixture
def tidal(tmp_path):  # type: ignore[no-untyped-def]
    ledger, docs = tidal_home(tmp_path / "home")
    yield ledger, docs
    from core.db import dispose_engines

    dispose_engines()


def test_pairs_point_to_governed_chunks_and_record_how_they_were_built(tidal) -> None:
    ledger, docs = tidal
    dave = ledger.policy.principal("dave")  # engineering, clearance internal
    info = build_dataset(ledger, dave, "pairs", name="tidal-pairs", params={"queries_per_chunk": 3})
    rows = dataset_rows(ledger, info.dataset_id)
    assert info.rows == len(rows) > 20 and info.builder == "ict-pairs/1"
    assert info.redaction_profile == "engineering" and info.policy_version == ledger.policy.version
    assert info.created_by == "dave" and info.splits["eval"] > 0 and info.splits["train"] > info.splits["eval"]
    # The confidential performance report is beyond dave's clearance: it never enters his dataset.
    assert docs["array-performance"] not in {r["doc_id"] for r in rows}
    assert {r["doc_id"] for r in rows} == {docs[n] for n in ("turbine-maintenance", "grid-connection", "marine-operations",
                                                             "environmental-monitoring", "safety-rules")}
    # Every row names a real chunk of its document, with that chunk's content hash.
    stored = {r["chunk_id"]: r for r in ledger.store.rows_where(id_predicate("doc_id", sorted({r["doc_id"] for r in rows})))}
    for r in rows:
        assert stored[r["chunk_id"]]["doc_id"] == r["doc_id"]
        assert stored[r["chunk_id"]]["content_hash"] == r["content_hash"]
    # Inverse cloze: no query sentence appears in any passage.
    for r in rows:
        assert all(r["input"] not in other["target"] for other in rows)


def test_training_text_is_redacted_with_the_recorded_profile(tidal) -> None:
    ledger, docs = tidal
    dave = ledger.policy.principal("dave")
    strict = build_dataset(ledger, dave, "qa", doc_ids=[docs["turbine-maintenance"], docs["safety-rules"]], redaction_profile="strict")
    text = json.dumps([dict(r) for r in dataset_rows(ledger, strict.dataset_id)], default=str)
    assert strict.redaction_profile == "strict"
    assert "Ingrid Solberg" not in text and "ingrid.solberg@halvorsen-tidal.no" not in text
    assert "<PERSON_1>" in text and "<EMAIL_ADDRESS>" in text  # strict: people become pseudonyms, e-mails placeholders
    own = build_dataset(ledger, dave, "pairs", doc_ids=[docs["turbine-maintenance"]])  # dave's own profile
    own_text = json.dumps([r["input"] + r["target"] for r in dataset_rows(ledger, own.dataset_id)])
    assert own.redaction_profile == "engineering" and "Ingrid Solberg" not in own_text and "<PERSON_1>" in own_text


def test_qa_rows_are_grounded_and_cite_the_source_passage(tidal) -> None:
    ledger, docs = tidal
    info = build_dataset(ledger, ledger.policy.principal("dave"), "qa", params={"questions_per_chunk": 1})
    rows = dataset_rows(ledger, info.dataset_id)
    sources = {r["chunk_id"] for r in rows}
    for r in rows:
        passages = json.loads(r["context"])
        n = int(r["target"].rsplit("[", 1)[1].rstrip("]"))
        sentence = r["target"].rsplit(" [", 1)[0]
        assert len(passages) == 2 and sentence in passages[n - 1] and sentence not in passages[2 - n]
        assert r["context_chunk_id"] in sources  # the distractor is itself a row's source: lineage covers it
        assert r["input"].startswith("What does ") and r["input"].endswith("?")


def test_same_corpus_and_seed_give_the_same_digest(tidal, tmp_path) -> None:
    ledger, _ = tidal
    dave = ledger.policy.principal("dave")
    a = build_dataset(ledger, dave, "pairs", params={"seed": 3})
    b = build_dataset(ledger, dave, "pairs", params={"seed": 3})
    c = build_dataset(ledger, dave, "pairs", params={"seed": 4})
    assert a.dataset_id != b.dataset_id and a.digest == b.digest != c.digest
    assert get_dataset(ledger, a.dataset_id).params == {"seed": 3, "max_chunks": 400}


def test_bad_requests_write_nothing(tidal) -> None:
    ledger, docs = tidal
    dave, carol = ledger.policy.principal("dave"), ledger.policy.principal("carol")
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        build_dataset(ledger, dave, "triples")
    with pytest.raises(DatasetError, match="unknown redaction profile"):
        build_dataset(ledger, dave, "pairs", redaction_profile="nobody")
    with pytest.raises(DatasetError, match="unknown group"):
        build_dataset(ledger, dave, "pairs", groups=["marketing"])
    erase_document(ledger, docs["grid-connection"])
    with pytest.raises(DatasetError, match="not active"):
        build_dataset(ledger, dave, "pairs", doc_ids=[docs["grid-connection"], docs["turbine-maintenance"]])
    with pytest.raises(AccessDenied):
        build_dataset(ledger, carol, "pairs")  # employees may not build training sets
    assert registry_counts(ledger)["dataset_versions"] == 0
    denials = [r for r in ledger.audit.records(kinds=["denial"]) if r["actor"] == "carol"]
    assert denials and denials[0]["payload"]["action"] == "models.train"


def test_erased_documents_never_enter_a_dataset(tidal) -> None:
    ledger, docs = tidal
    erase_document(ledger, docs["marine-operations"])
    info = build_dataset(ledger, ledger.policy.principal("dave"), "pairs")
    assert docs["marine-operations"] not in {r["doc_id"] for r in dataset_rows(ledger, info.dataset_id)}
    with pytest.raises(DatasetError, match="deleted or unknown document"):
        rows_from_manifest(ledger, {"rows": [{"doc_id": docs["marine-operations"], "chunk_id": "chk_0123456789", "content_hash": "ab"}]})
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DatasetVersion.__table__)).scalar() == 1  # type: ignore[attr-defined]


def test_sentences_keep_only_real_sentences() -> None:
    assert sentences("# Title\n\nShort one. This sentence has enough words in it. Ok.") == ["This sentence has enough words in it."]


def test_nobody_builds_training_text_under_a_profile_that_shows_more_than_their_own(tidal) -> None:
    from core.errors import AccessDenied

    ledger, docs = tidal
    dave = ledger.policy.principal("dave")
    with pytest.raises(AccessDenied, match="would keep"):
        build_dataset(ledger, dave, "qa", doc_ids=[docs["turbine-maintenance"]], redaction_profile="compliance")
