"""Documents in other languages (issue 13): the language is stored per document, full-text search keeps
words in any script whole (and folds accents), and a question prefers passages in its own language."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.answering.ask import ask
from core.rag.documents import get_document, list_documents
from core.errors import IngestError
from core.rag.ingest import Source, ingest
from core.rag.languages import document_language, question_language
from core.rag.retrieval import retrieve

GERMAN = ("Die Kündigungsfrist für Angestellte beträgt drei Monate zum Quartalsende. Während der Probezeit "
          "gilt eine Kündigungsfrist von zwei Wochen. Die Kündigung muss schriftlich bei der Personalabteilung "
          "eingereicht werden; Herr Jürgen Müller beantwortet Fragen dazu.")
ENGLISH = ("The notice period for employees is three months to the end of a quarter. During probation the "
           "notice period is two weeks. Notice must be given in writing to the HR department, which answers "
           "questions about it.")


@pytest.fixture
def bilingual(ledger, write_doc):  # type: ignore[no-untyped-def]
    ops = ledger.policy.principal("ops")
    de = ingest(ledger, ops, [Source.from_path(write_doc("kuendigung.md", GERMAN, title="Kündigungsfristen"))])[0]
    en = ingest(ledger, ops, [Source.from_path(write_doc("notice.md", ENGLISH, title="Notice periods"))])[0]
    return ledger, de.doc_id, en.doc_id


def test_each_document_keeps_its_detected_language(bilingual) -> None:  # type: ignore[no-untyped-def]
    ledger, de, en = bilingual
    assert get_document(ledger, de)["language"] == "de"
    assert get_document(ledger, en)["language"] == "en"
    listed = {d["doc_id"]: d["language"] for d in list_documents(ledger, ledger.policy.principal("alice"))}
    assert listed == {de: "de", en: "en"}
    assert {r["language"] for r in ledger.store.table.to_arrow().to_pylist() if r["doc_id"] == de} == {"de"}


def test_full_text_search_keeps_umlauts_and_folds_them(bilingual) -> None:  # type: ignore[no-untyped-def]
    ledger, de, _ = bilingual
    for term in ("Kündigungsfrist", "Kundigungsfrist", "Müller", "Muller"):
        found = ledger.store.text_query(term, None, 5).to_list()
        assert {r["doc_id"] for r in found} == {de}, term


def test_a_question_is_answered_from_the_documents_in_its_language(bilingual) -> None:  # type: ignore[no-untyped-def]
    ledger, de, en = bilingual
    carol, alice = ledger.policy.principal("carol"), ledger.policy.principal("alice")
    # Ranking: the passages in the question's language come first, for any reader.
    assert retrieve(ledger, carol, "Wie lang ist die Kündigungsfrist für Angestellte?").hits[0].row["doc_id"] == de
    assert retrieve(ledger, carol, "How long is the notice period for employees?").hits[0].row["doc_id"] == en
    # Answers, as the compliance profile reads them. (The strict profile hides capitalised words it does
    # not know, which in German are most nouns, so carol's German answer abstains: docs/languages.md.)
    german = ask(ledger, alice, "Wie lang ist die Kündigungsfrist für Angestellte?")
    english = ask(ledger, alice, "How long is the notice period for employees?")
    assert german.citations and german.citations[0].doc_id == de and german.abstention["abstained"] is False
    assert english.citations and english.citations[0].doc_id == en


def test_question_language_needs_confidence() -> None:
    assert question_language("Wie lang ist die Kündigungsfrist für Angestellte?") == "de"
    assert question_language("Quelle est la durée du préavis ?") == "fr"
    assert question_language("VPN setup") is None  # too short to tell
    assert question_language("Who is Helena Marchetti?") is None  # a name the classifier cannot place


def test_front_matter_language_wins_and_an_unknown_one_is_refused() -> None:
    assert document_language(ENGLISH, {"language": "DE"}) == "de"
    with pytest.raises(IngestError, match="not one RAG Ledger knows") as err:
        document_language(ENGLISH, {"language": "klingon"})
    assert "use one of" in (err.value.hint or "")


def test_a_store_made_before_the_language_column_opens_and_takes_new_rows(bilingual, write_doc) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from core.rag.chunk_store import SCHEMA, ChunkStore

    ledger, _, _ = bilingual
    old_schema = pa.schema([f for f in SCHEMA if f.name != "language"])
    old = ledger.store.db.create_table("chunks_old", schema=old_schema)
    row = {f.name: None for f in old_schema} | {"chunk_id": "chk_00000000000000000001", "doc_id": "doc_0000000000000001", "text": "x",
                                                   "groups": ["all-staff"], "pii_types": [], "vector": [0.0] * 384}
    old.add(pa.Table.from_pylist([row], schema=old_schema))
    reopened = ChunkStore(ledger.settings.lance_dir, table="chunks_old")
    assert "language" in reopened.table.schema.names
    assert reopened.table.to_arrow().to_pylist()[0]["language"] is None


def test_the_migration_adds_the_column_to_an_old_registry(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from audit_db.migrations import m1301_document_language

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, doc_id TEXT)")
        conn.execute("INSERT INTO documents (doc_id) VALUES ('doc_1')")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        m1301_document_language(conn)
        m1301_document_language(conn)  # idempotent: a fresh database already has the column
        assert conn.execute(text("SELECT doc_id, language FROM documents")).all() == [("doc_1", None)]
