"""Stored questions: redacted with every PII value the corpus knows, sealed under the people they name."""
from __future__ import annotations

import pytest

from core.answering.ask import ask
from core.erasure.requests import confirm, create_request, preview
from core.rag.ingest import Source, ingest
from core.erasure.purge import execute
from core.rag.question_redaction import build_index, known_pii, redact_question

PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter in detail. " * 6


@pytest.fixture
def corpus(any_ledger, write_doc):  # type: ignore[no-untyped-def]
    ops = any_ledger.policy.principal("ops")
    docs = {
        "person": write_doc("officer.md", f"The whistleblowing officer is Helena Marchetti (helena.marchetti@example.org), badge NW-10482. {PAD}", title="Speak-up contacts"),
        "laptops": write_doc("laptops.md", f"All laptops lock after 5 minutes of inactivity under rule ZXQ-DELTA-4420. {PAD}", title="Laptop rules"),
    }
    ids = {k: ingest(any_ledger, ops, [Source.from_path(p)])[0].doc_id for k, p in docs.items()}
    return any_ledger, ids


@pytest.mark.parametrize("question", [
    "After how many minutes do laptops lock for H. Marchetti?",
    "Does Marchetti know after how many minutes laptops lock?",
    "after how many minutes do laptops lock, asks helena marchetti",
    "Laptop lock time for helenamarchetti@example.org?",
    "Laptop lock minutes for badge nw 10482?",
])
def test_names_the_analyzer_misses_are_redacted_and_sealed_under_their_documents(corpus, question) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = corpus
    stored = redact_question(ledger, question)
    assert "marchetti" not in stored.text.lower() and "10482" not in stored.text, stored.text
    assert ids["person"] in stored.subject_docs and ids["laptops"] not in stored.subject_docs


def test_a_question_naming_nobody_is_kept_as_asked(corpus) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = corpus
    stored = redact_question(ledger, "Will the laptops lock after 5 minutes?")
    assert stored.text == "Will the laptops lock after 5 minutes?" and stored.subject_docs == []


def test_erasing_the_person_makes_their_stored_questions_unreadable(corpus) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = corpus
    carol, alice = ledger.policy.principal("carol"), ledger.policy.principal("alice")
    naming = ask(ledger, carol, "After how many minutes do laptops lock for H. Marchetti?", k=1)
    plain = ask(ledger, carol, "After how many minutes do laptops lock?", k=1)
    assert {c.doc_id for c in naming.citations} == {ids["laptops"]}  # cited only the laptop rules
    [record] = ledger.audit.records(record_id=naming.audit_id)
    assert f'"doc:{ids["person"]}"' in record["key_refs"] and "Marchetti" not in record["text"]["question"]
    request = create_request(ledger, alice, subject="Helena Marchetti", requested_by="DSR-2026-031", scope="chunks")
    preview(ledger, alice, request.request_id)
    confirm(ledger, alice, request.request_id, "Helena Marchetti")
    assert execute(ledger, alice, request.request_id).verified_clean
    assert ledger.audit.records(record_id=naming.audit_id)[0]["erased"]
    kept = ledger.audit.records(record_id=plain.audit_id)[0]
    assert not kept["erased"] and kept["text"]["question"] == "After how many minutes do laptops lock?"
    assert ledger.audit.verify().ok


def test_the_index_follows_the_table_version(corpus, write_doc) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = corpus
    first = known_pii(ledger)
    assert known_pii(ledger) is first and first.size > 0 and first.find("Is Priya Raman here?")[1] == set()
    new = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("new.md", f"Contact Priya Raman for travel. {PAD}"))])[0]
    ledger.store.refresh()
    extended = known_pii(ledger)  # an ingestion extends the index with the new chunks only
    assert extended is first and extended.find("Is Priya Raman here?")[1] == {new.doc_id}
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["person"], requested_by="DSR-2026-032")
    execute(ledger, alice, request.request_id)
    rebuilt = known_pii(ledger)  # a version that removed chunks rebuilds: the erased person is not looked for
    assert rebuilt is not first and rebuilt.find("Is H. Marchetti here?") == ([], set())


def test_single_name_words_count_only_when_capitalised_and_not_stop_words() -> None:
    rows = [{"chunk_id": "chk_1", "doc_id": "doc_1", "text": "Will Long met Ana Wren.", "title": "", "title_spans": "[]",
             "pii_spans": '[{"type": "PERSON", "start": 0, "end": 9}, {"type": "PERSON", "start": 14, "end": 22}]'}]
    index = build_index(rows)
    assert [s.entity_type for s in index.find("Did Wren reply?")[0]] == ["PERSON"]
    assert index.find("the wren sang")[0] == [] and index.find("Will it rain?")[0] == []
    spans, docs = index.find("Is A. Wren here?")
    assert len(spans) == 1 and docs == {"doc_1"}
