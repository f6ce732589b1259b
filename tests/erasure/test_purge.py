"""Right-to-be-forgotten with the real stores: LanceDB on disk, SQLite/PostgreSQL, MiniLM, Presidio."""
from __future__ import annotations

import json
import shutil

import pytest

from core.answering.ask import ask
from core.rag.documents import get_document
from core.erasure.requests import AlreadyErased, confirm, create_request, get_request, list_requests, preview
from core.erasure.proof import certificate_hash, certificate_markdown, scan_disk
from core.errors import AccessDenied
from core.rag.ingest import Source, ingest
from core.erasure.purge import execute
from core.rag.retrieval import retrieve

SUBJECT = "Quentin Marlowe-Spade"
EMAIL = "quentin.marlowe-spade@example.com"
PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter in detail. " * 7


def corpus(write_doc) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "hr": write_doc("hr-case.md", f"## Case\n\n{SUBJECT} ({EMAIL}) filed grievance ZXQ-ALPHA-7781 about the night shift. {PAD}\n\n"
                                      f"## Outcome\n\n{SUBJECT} was moved to the day shift. {PAD}", groups="hr", classification="confidential", title="Grievance case file"),
        "mixed": write_doc("team-news.md", f"## Welcome\n\nThe team welcomed {SUBJECT} who joined from Leeds, ticket ZXQ-BETA-5512. {PAD}\n\n"
                                           f"## Canteen\n\nThe canteen now serves a vegan lunch on Thursdays, reference ZXQ-GAMMA-9034. {PAD}", title="Team news"),
        "other": write_doc("security.md", f"## Laptops\n\nAll laptops lock after 5 minutes of inactivity under rule ZXQ-DELTA-4420. {PAD}", title="Laptop security rules"),
    }


@pytest.fixture
def populated(any_ledger, write_doc):  # type: ignore[no-untyped-def]
    paths = corpus(write_doc)
    ops = any_ledger.policy.principal("ops")
    ids = {k: ingest(any_ledger, ops, [Source.from_path(p)])[0].doc_id for k, p in paths.items()}
    alice = any_ledger.policy.principal("alice")
    answers = {
        "hr": ask(any_ledger, alice, "What grievance did the employee file about the night shift?"),
        "mixed": ask(any_ledger, alice, "Who joined the team from Leeds?"),
        "other": ask(any_ledger, alice, "After how many minutes do laptops lock?", k=1),
    }
    return any_ledger, ids, answers


def _assert_no_trace(ledger, strings: list[str], erased_chunks: set[str]) -> None:  # type: ignore[no-untyped-def]
    for name in ledger.policy.principal_names():
        principal = ledger.policy.principal(name)
        for s in strings:
            hits = retrieve(ledger, principal, s, k=20).hits
            assert not any(h.chunk_id in erased_chunks or s.lower() in h.row["text"].lower() for h in hits), (name, s)
    for s in strings:
        vector = ledger.embedder.embed_query(s)
        for h in ledger.store.search(vector, s, None, 50):
            assert s.lower() not in h.row["text"].lower()
    report = scan_disk(ledger, strings)
    assert report["hit_count"] == 0, report["hits"]
    assert report["lance_files_decoded"] > 0


def test_document_purge_erases_everywhere_and_certifies(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, answers = populated
    alice = ledger.policy.principal("alice")
    erased_chunks = {r["chunk_id"] for r in ledger.store.rows_where(f"doc_id = '{ids['hr']}'")}
    request = create_request(ledger, alice, doc_id=ids["hr"], requested_by="the data subject", reason="Art. 17")
    summary = preview(ledger, alice, request.request_id)
    assert (summary["documents"], summary["chunks"]) == (1, len(erased_chunks)) and summary["audit_records"] >= 1  # the answer citing it (ingestion records seal no text)
    cert = execute(ledger, alice, request.request_id)

    assert cert.verified_clean and cert.erased["lancedb"]["chunks_deleted"] == len(erased_chunks)
    assert cert.certificate_sha256 == certificate_hash({k: v for k, v in cert.to_dict().items() if k != "audit_record_id"})
    assert SUBJECT not in json.dumps(cert.to_dict()) and EMAIL not in json.dumps(cert.to_dict())
    _assert_no_trace(ledger, ["ZXQ-ALPHA-7781", "moved to the day shift", "grievance"], erased_chunks)
    assert get_document(ledger, ids["hr"])["status"] == "erased" and get_document(ledger, ids["hr"])["title"] == "[erased]"
    assert not (ledger.settings.uploads_dir / ids["hr"]).exists()
    # The audit chain still verifies; texts citing the document are unreadable, the others intact.
    assert ledger.audit.verify().ok
    # ... and so does the Merkle tree, against the checkpoint the purge signed on completion.
    from core.audit.verify import verify_ledger
    from core.audit.tree_store import CHECKPOINTS

    assert verify_ledger(ledger).ok
    with ledger.engine.connect() as conn:
        assert "purge" in {r for (r,) in conn.execute(CHECKPOINTS.select().with_only_columns(CHECKPOINTS.c.reason))}
    for answer in answers.values():
        [record] = ledger.audit.records(record_id=answer.audit_id)
        cited_docs = {c["doc_id"] for c in record["payload"]["cited"]}
        assert record["erased"] == (ids["hr"] in cited_docs)
        assert record["erased"] or record["text"]["answer"] == answer.answer
    assert ledger.audit.records(record_id=answers["hr"].audit_id)[0]["erased"]
    purge_records = ledger.audit.records(kinds=["purge"])
    assert {r["payload"]["stage"] for r in purge_records} >= {"started", "certified"}
    assert any(r["payload"].get("certificate_sha256") == cert.certificate_sha256 for r in purge_records)
    # Indexes still answer other queries.
    result = ask(ledger, alice, "After how many minutes do laptops lock?")
    assert "5 minutes" in result.answer
    assert get_request(ledger, request.request_id).status == "certified"
    assert "Verified clean: yes" in certificate_markdown(cert)


def test_subject_purge_of_chunks_keeps_the_rest_of_a_document(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, _ = populated
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, subject=EMAIL.upper(), requested_by="data subject", scope="chunks")
    # The e-mail appears only in the HR file; a search by the name finds the team-news chunk too.
    by_name = create_request(ledger, alice, subject=SUBJECT, requested_by="data subject", scope="chunks")
    summary = preview(ledger, alice, by_name.request_id)
    assert ids["mixed"] in summary["partial_doc_ids"] and ids["other"] not in summary["partial_doc_ids"] + summary["doc_ids"]
    confirm(ledger, alice, by_name.request_id, SUBJECT)
    execute(ledger, alice, by_name.request_id)
    _assert_no_trace(ledger, [SUBJECT, "Leeds"], set(summary["chunk_ids"]))
    canteen = ask(ledger, alice, "Which day does the canteen serve a vegan lunch?")
    assert "Thursdays" in canteen.answer
    assert get_document(ledger, ids["mixed"])["status"] == "active"
    # Its remaining chunks were re-sealed under the next generation of its key before the old one
    # was destroyed (core/erasure/chunk_rekey.py): the canteen answer above was read through it.
    from core.rag.chunk_crypto import generation_of

    raw = ledger.store.table.to_arrow().to_pylist()
    assert {generation_of(r["text"]) for r in raw if r["doc_id"] == ids["mixed"]} == {2}
    # The e-mail request names the same person: certification closed it as superseded, and neither
    # request keeps the subject's identifier once the certificate is issued.
    from core.erasure.requests import subject_of

    superseded = get_request(ledger, request.request_id)
    assert (superseded.status, superseded.cancel_reason) == ("cancelled", f"superseded by {by_name.request_id}")
    assert subject_of(ledger, by_name.request_id) is None and subject_of(ledger, request.request_id) is None
    # A request for an identifier no longer stored anywhere is a no-op that says so.
    again = create_request(ledger, alice, subject=EMAIL, requested_by="data subject", scope="chunks")
    preview(ledger, alice, again.request_id)
    confirm(ledger, alice, again.request_id, EMAIL)
    with pytest.raises(AlreadyErased, match="nothing matches"):
        execute(ledger, alice, again.request_id)


def test_purging_an_erased_document_again_is_a_noop_that_says_so(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, _ = populated
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["other"], requested_by="x")
    execute(ledger, alice, request.request_id)
    with pytest.raises(AlreadyErased, match="already erased"):
        create_request(ledger, alice, doc_id=ids["other"], requested_by="x")
    with pytest.raises(AlreadyErased, match="already executed"):
        execute(ledger, alice, request.request_id)


def test_only_compliance_may_purge_and_the_denial_is_audited(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, _ = populated
    with pytest.raises(AccessDenied):
        create_request(ledger, ledger.policy.principal("bob"), doc_id=ids["hr"], requested_by="x")
    assert ledger.audit.records(kinds=["denial"])[0]["payload"]["action"] == "purge"


def test_requests_show_deadline_and_overdue(populated) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    ledger, ids, _ = populated
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["other"], requested_by="x")
    assert request.due_at[:10] > request.received_at[:10] and not request.overdue
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE erasure_requests SET due_at = '2020-01-01T00:00:00+00:00' WHERE request_id = :r"), {"r": request.request_id})
    assert [r.overdue for r in list_requests(ledger, alice) if r.request_id == request.request_id] == [True]


def test_bad_requests_are_refused_with_what_to_do(populated) -> None:  # type: ignore[no-untyped-def]
    from core.errors import NotFound, RagLedgerError

    ledger, ids, _ = populated
    alice = ledger.policy.principal("alice")
    with pytest.raises(RagLedgerError, match="exactly one target"):
        create_request(ledger, alice, requested_by="x")
    with pytest.raises(RagLedgerError, match="too short"):
        create_request(ledger, alice, subject="Al", requested_by="x")
    with pytest.raises(NotFound):
        create_request(ledger, alice, doc_id="doc_0000000000000000", requested_by="x")
    with pytest.raises(RagLedgerError, match="must not contain the subject"):
        create_request(ledger, alice, subject=SUBJECT, requested_by=f"{SUBJECT} by e-mail")
    with pytest.raises(RagLedgerError, match="requested the erasure"):
        create_request(ledger, alice, doc_id=ids["hr"], requested_by=" ")
    shutil.rmtree(ledger.settings.journal_dir, ignore_errors=True)


def test_certificates_are_read_only_with_the_purge_permission(populated) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.requests import certificate

    ledger, ids, _ = populated
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["other"], requested_by="DSR-9")
    execute(ledger, alice, request.request_id)
    assert certificate(ledger, alice, request.request_id).verified_clean
    with pytest.raises(AccessDenied):
        certificate(ledger, ledger.policy.principal("carol"), request.request_id)
