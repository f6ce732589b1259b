"""Ingestion with the real stores: Presidio+spaCy, MiniLM, LanceDB on disk, the SQL registry."""
from __future__ import annotations

import json

import pytest

from core.answering.ask import ask
from core.rag.documents import list_documents
from core.errors import AccessDenied, IngestError
from core.rag.ingest import Source, ingest

FILLER = "The committee reviewed the quarterly planning documents in detail. " * 20


def test_ingest_records_chunks_pii_and_registry(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    path = write_doc("review.md", f"## Review\n\nJohanna Brightwater (johanna.b@example.com) met the panel. {FILLER}\n\nHer SSN 512-38-4471 is on file.", groups="hr", classification="confidential")
    [result] = ingest(ledger, ledger.policy.principal("bob"), [Source.from_path(path)])
    assert result.status == "new" and result.chunks >= 2
    assert result.pii.get("PERSON", 0) >= 1 and result.pii["EMAIL_ADDRESS"] == 1 and result.pii["US_SSN"] == 1
    rows = ledger.store.rows_where(f"doc_id = '{result.doc_id}'")
    assert len(rows) == result.chunks
    assert all(r["groups"] == ["hr"] and r["classification"] == "confidential" for r in rows)
    assert all(r["chunk_id"].startswith("chk_") and "johanna" not in r["chunk_id"].lower() for r in rows)
    [doc] = [d for d in list_documents(ledger, ledger.policy.principal("bob")) if d["doc_id"] == result.doc_id]
    assert doc["pii_summary"]["US_SSN"] == 1 and doc["chunk_count"] == result.chunks
    assert ledger.audit.records(kinds=["ingest"])[0]["payload"]["doc_id"] == result.doc_id


def test_reingest_unchanged_is_noop_and_changed_is_new_version(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    ops = ledger.policy.principal("ops")
    path = write_doc("policy.md", "Employees receive 12 weeks of leave. " + FILLER)
    first = ingest(ledger, ops, [Source.from_path(path)])[0]
    again = ingest(ledger, ops, [Source.from_path(path)])[0]
    assert again.status == "unchanged" and again.doc_id == first.doc_id
    assert ledger.store.count() == first.chunks
    path.write_text(path.read_text().replace("12 weeks", "20 weeks"))
    second = ingest(ledger, ops, [Source.from_path(path)])[0]
    assert (second.status, second.version, second.doc_id) == ("new_version", 2, first.doc_id)
    texts = " ".join(r["text"] for r in ledger.store.rows_where(f"doc_id = '{first.doc_id}'"))
    assert "20 weeks" in texts and "12 weeks" not in texts
    assert ledger.store.count() == second.chunks


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"groups": ["moon"]}, IngestError, "unknown group"),
        ({"classification": "secret"}, IngestError, "unknown classification"),
        ({"groups": ["finance"]}, AccessDenied, "may not file"),
        ({"classification": "restricted"}, AccessDenied, "may not file"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_written(ledger, write_doc, kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    good = write_doc("good.md", "A stored sentence about onboarding. " + FILLER, groups="hr", classification="internal")
    ingest(ledger, ledger.policy.principal("bob"), [Source.from_path(good)])
    before = (ledger.store.count(), len(list_documents(ledger, ledger.policy.principal("alice"))))
    bad = write_doc("bad.md", "Another sentence. " + FILLER, groups="hr", classification="internal")
    with pytest.raises(error, match=message):
        ingest(ledger, ledger.policy.principal("bob"), [Source.from_path(bad)], **kwargs)
    assert (ledger.store.count(), len(list_documents(ledger, ledger.policy.principal("alice")))) == before


def test_document_without_groups_is_refused(ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "plain.txt"
    path.write_text("No labels at all in this file.")
    with pytest.raises(IngestError, match="no groups given"):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(path)])
    assert ledger.store.count() == 0


def test_corrupt_file_loses_nothing_already_stored(ledger, write_doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = write_doc("good.md", "Kept sentence about security training. " + FILLER)
    ops = ledger.policy.principal("ops")
    ingest(ledger, ops, [Source.from_path(good)])
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 not a real pdf")
    with pytest.raises(IngestError, match="broken.pdf"):
        ingest(ledger, ops, [Source.from_path(bad)], groups=["all-staff"], classification="internal")
    assert ask(ledger, ops, "What about security training?").citations


def test_pii_straddling_a_chunk_boundary_is_redacted_in_both_chunks(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    """The name sits where chunk 1 ends and chunk 2 (its overlap) begins: analysed once over the whole
    document, so both chunks carry the span and carol sees neither half of it."""
    body = FILLER + "The onboarding buddy assigned was Rosalind Featherstonehaugh from Hamburg. " + FILLER
    path = write_doc("onboarding.md", body, groups="all-staff", classification="internal")
    [result] = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(path)])
    rows = ledger.store.rows_where(f"doc_id = '{result.doc_id}'")
    containing = [r for r in rows if "Featherstonehaugh" in r["text"] or "Rosalind" in r["text"]]
    assert containing
    for r in containing:
        types = {s["type"] for s in json.loads(r["pii_spans"])}
        assert "PERSON" in types
    answer = ask(ledger, ledger.policy.principal("carol"), "Who was assigned as onboarding buddy?")
    shown = answer.answer + " ".join(c.text for c in answer.citations)
    assert "Rosalind" not in shown and "Featherstonehaugh" not in shown
    assert "<PERSON_1>" in shown


def test_an_upload_never_becomes_a_version_of_a_document_the_uploader_cannot_read(ledger) -> None:  # type: ignore[no-untyped-def]
    body = b"---\ntitle: Notes\n---\nSettlement talks with the supplier continue next week. " + FILLER.encode()
    legal = ingest(ledger, ledger.policy.principal("alice"), [Source("notes.md", body, "upload:notes.md")], groups=["legal"], classification="restricted")[0]
    bobs = ingest(ledger, ledger.policy.principal("bob"), [Source("notes.md", body, "upload:notes.md")], groups=["hr"], classification="internal")[0]
    assert bobs.doc_id != legal.doc_id and bobs.status == "new" and bobs.groups == ["hr"]
    assert ledger.store.count(f"doc_id = '{legal.doc_id}'") == legal.chunks


def test_relabelling_through_a_reingest_is_refused_naming_the_relabel_command(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    ops = ledger.policy.principal("ops")
    path = write_doc("memo.md", "The canteen opens at eight. " + FILLER)
    first = ingest(ledger, ops, [Source.from_path(path)])[0]
    with pytest.raises(IngestError, match=rf"memo\.md: this would relabel {first.doc_id} .*documents relabel {first.doc_id} --groups hr --classification confidential"):
        ingest(ledger, ops, [Source.from_path(path)], groups=["hr"], classification="confidential")
    rows = ledger.store.rows_where(f"doc_id = '{first.doc_id}'")
    assert {tuple(r["groups"]) for r in rows} == {("all-staff",)}, "nothing changed"
