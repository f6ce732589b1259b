"""Erasure requests as an informed decision (issue 15.3), on SQLite and PostgreSQL with the real stores:
the preview's counts are the certificate's, requests take a receipt date, a double submit records one,
a request that matches nothing warns and can be closed with a reason, and input errors name a field."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from core.cli_base import cli_hint, register_flags
from core.erasure.requests import close, confirm, create_request, get_request, preview, subject_of, subjects
from core.erasure.impact import SUBJECT_IN_TITLE
from core.erasure.proof import certificate_markdown
from core.errors import InvalidInput
from core.rag.ingest import Source, ingest
from core.erasure.purge import execute
from tests.erasure.test_purge import SUBJECT, corpus


@pytest.fixture
def populated(any_ledger, write_doc):  # type: ignore[no-untyped-def]
    from core.answering.ask import ask

    paths = corpus(write_doc)
    titled = write_doc("profile.md", f"## Profile\n\nA short profile of {SUBJECT} for the staff directory.", title=f"Profile of {SUBJECT}")
    ops = any_ledger.policy.principal("ops")
    ids = {k: ingest(any_ledger, ops, [Source.from_path(p)])[0].doc_id for k, p in {**paths, "titled": titled}.items()}
    alice = any_ledger.policy.principal("alice")
    ask(any_ledger, alice, "What grievance did the employee file about the night shift?")  # seals a record under the hr document's key
    return any_ledger, ids, alice


def test_preview_counts_are_the_certificates(populated) -> None:  # type: ignore[no-untyped-def]
    """Partly erased documents each keep an original (the old preview counted 0 of them) and only the
    documents an audit record was sealed under have a key (the old preview implied one per document)."""
    ledger, ids, alice = populated
    request = create_request(ledger, alice, subject=SUBJECT, scope="chunks", requested_by="DSR-301")
    shown = preview(ledger, alice, request.request_id)
    impact = shown["impact"]
    assert impact["documents_partially_erased"] == 2 and impact["documents_erased"] == 1  # hr + team news partly; the profile whole
    assert impact["uploaded_files"] == 3  # one original per document, whole or partly erased
    listed = {d["doc_id"]: d for d in shown["document_list"]}
    assert set(listed) == {ids["hr"], ids["mixed"], ids["titled"]}
    assert listed[ids["hr"]]["title"] == "Grievance case file" and listed[ids["hr"]]["groups"] == ["hr"]
    assert listed[ids["mixed"]]["chunks_deleted"] == 1 and listed[ids["mixed"]]["chunks_total"] >= 2
    assert any("welcomed" in p["passage"] for p in listed[ids["mixed"]]["passages"])
    confirm(ledger, alice, request.request_id, SUBJECT)
    cert = execute(ledger, alice, request.request_id)
    assert cert.verified_clean
    assert {k: cert.planned[k] for k in cert.performed} == cert.performed
    assert cert.performed["uploaded_files"] == impact["uploaded_files"] == cert.erased["uploaded_files"]["files_removed"]
    assert cert.performed["keys_destroyed"] == impact["keys_destroyed"] == cert.erased["audit_log"]["keys_destroyed"]
    named = {d["doc_id"]: d["title"] for d in cert.documents}
    assert named == {ids["hr"]: "Grievance case file", ids["mixed"]: "Team news", ids["titled"]: SUBJECT_IN_TITLE}
    assert SUBJECT not in json.dumps(cert.to_dict())  # the certificate is kept: a title that names the subject is not
    assert "Grievance case file" in certificate_markdown(cert) and "Previewed:" in certificate_markdown(cert)


def test_receipt_date_sets_the_deadline_and_is_validated(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, alice = populated
    arrived = date.today() - timedelta(days=40)
    request = create_request(ledger, alice, doc_id=ids["other"], requested_by="DSR-302 (letter)", received_on=arrived)
    assert request.received_at.startswith(arrived.isoformat())
    assert request.due_at.startswith((arrived + timedelta(days=30)).isoformat()) and request.overdue
    for bad, says in ((date.today() + timedelta(days=1), "in the future"), ("30/11/2026", "not a date")):
        with pytest.raises(InvalidInput, match=says) as caught:
            create_request(ledger, alice, doc_id=ids["hr"], requested_by="DSR-303", received_on=bad)
        assert caught.value.field == "received_at"
    assert all(r.requested_by != "DSR-303" for r in _requests(ledger))  # nothing recorded


def test_a_double_submit_records_one_request(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, alice = populated
    first = create_request(ledger, alice, subject=SUBJECT, requested_by="DSR-304")
    again = create_request(ledger, alice, subject=f"  {SUBJECT.upper()} ", requested_by="DSR-304 ")
    assert again.duplicate and again.request_id == first.request_id and not first.duplicate
    other_scope = create_request(ledger, alice, subject=SUBJECT, requested_by="DSR-304", scope="chunks")
    assert other_scope.request_id != first.request_id
    close(ledger, alice, first.request_id, "recorded twice by mistake")
    assert create_request(ledger, alice, subject=SUBJECT, requested_by="DSR-304").request_id != first.request_id  # closed: a new one


def test_a_request_matching_nothing_warns_and_is_closed_with_a_reason(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, alice = populated
    request = create_request(ledger, alice, subject="Wilhelmina Quarrington", requested_by="DSR-305")
    assert request.matches == 0 and "nothing stored mentions this subject" in request.warning
    assert "warning" not in create_request(ledger, alice, subject=SUBJECT, requested_by="DSR-306").to_dict()
    with pytest.raises(InvalidInput) as caught:
        close(ledger, alice, request.request_id, "  ")
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInput, match="must not contain"):
        close(ledger, alice, request.request_id, "no data held on Wilhelmina Quarrington")
    done = close(ledger, alice, request.request_id, "no personal data held; answered DSR-305 by letter")
    assert done.status == "closed" and not done.overdue and subject_of(ledger, request.request_id) is None
    steps = [r["payload"] for r in ledger.audit.records(kinds=["purge"]) if r["payload"].get("request_id") == request.request_id]
    assert sorted((s["stage"], s.get("reason", "")) for s in steps) == [("closed", "no personal data held; answered DSR-305 by letter"), ("recorded", "")]
    assert subjects(ledger, alice, [get_request(ledger, request.request_id)]) == {request.request_id: "not kept"}


def test_subjects_show_until_certification_then_read_erased(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, alice = populated
    subject_req = create_request(ledger, alice, subject=SUBJECT, requested_by="DSR-307")
    doc_req = create_request(ledger, alice, doc_id=ids["other"], requested_by="DSR-308")
    about = subjects(ledger, alice, [subject_req, doc_req])
    assert about == {subject_req.request_id: SUBJECT, doc_req.request_id: f"{ids['other']}: Laptop security rules"}
    preview(ledger, alice, subject_req.request_id)
    confirm(ledger, alice, subject_req.request_id, SUBJECT)
    execute(ledger, alice, subject_req.request_id)
    assert subjects(ledger, alice, [get_request(ledger, subject_req.request_id)]) == {subject_req.request_id: "erased"}


def test_input_errors_name_a_field_that_each_edge_phrases(populated) -> None:  # type: ignore[no-untyped-def]
    ledger, ids, alice = populated
    with pytest.raises(InvalidInput) as caught:
        create_request(ledger, alice, subject=SUBJECT, requested_by=" ")
    assert caught.value.field == "requested_by" and "--" not in str(caught.value)  # core speaks no edge's language
    register_flags({"requested_by": "--requested-by NAME"})
    assert cli_hint(caught.value).startswith("pass --requested-by NAME")


def _requests(ledger):  # type: ignore[no-untyped-def]
    from core.erasure.requests import list_requests

    return list_requests(ledger, ledger.policy.principal("alice"))
