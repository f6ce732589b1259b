"""The Erasure page for every role, and a compliance officer's whole request lifecycle in AppTest."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from conftest import make_ledger
from ui_support import errors, texts, widget

PAGE = "pages/erasure.py"


@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
def test_only_compliance_reaches_the_erasure_page(ui, user) -> None:  # type: ignore[no-untyped-def]
    at = ui.page(PAGE, user)
    assert "Erasure requests" not in texts(at)
    assert any(e.startswith("Access denied") for e in errors(at))
    denials = make_ledger(ui.home).audit.records(kinds=["denial"], actor=user)
    assert any(d["payload"]["target"] == "page:erasure" for d in denials)


def test_alice_records_previews_executes_and_gets_a_certificate(ui) -> None:  # type: ignore[no-untyped-def]
    from core.rag.documents import list_documents

    ledger = make_ledger(ui.home)
    doc = next(d for d in list_documents(ledger, ledger.policy.principal("ops")) if d["title"].startswith("Ticket 4471"))
    at = ui.page(PAGE, "alice")
    assert "Erasure requests" in texts(at) and "No erasure requests yet." in texts(at)
    widget(at.radio, "Target").set_value("A document")
    widget(at.text_input, "Subject's e-mail, name or id — or the document id (doc_…)").input(doc["doc_id"])
    widget(at.text_input, "Requested by").input("DSR-2026-101 (data subject)")
    at.button[0].click().run()  # the form's submit button
    assert not errors(at), errors(at)
    assert any("Recorded era_" in s.value for s in at.success)
    widget(at.button, "Preview").click().run()
    page = texts(at)
    assert "**Will erase:** 1 document(s) erased whole, 0 partially" in page and doc["title"] in page
    confirm_label = "Type the subject (or the document id) exactly to confirm"
    widget(at.button, "Execute erasure").click().run()  # nothing typed: refused, nothing erased
    assert any("confirmation does not match" in e for e in errors(at))
    assert make_ledger(ui.home).store.count(f"doc_id = '{doc['doc_id']}'") > 0
    widget(at.text_input, confirm_label).input(doc["doc_id"])
    widget(at.button, "Execute erasure").click().run()
    assert not errors(at), errors(at)
    page = texts(at)
    assert "Erasure certificate" in page and "Verified clean: yes" in page
    assert {b.label for b in at.get("download_button")} >= {"Download certificate (JSON)", "Download certificate (Markdown)"}
    ledger = make_ledger(ui.home)
    assert ledger.store.count(f"doc_id = '{doc['doc_id']}'") == 0
    assert ledger.audit.verify().ok


def test_overdue_requests_are_highlighted(ui) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.requests import create_request

    ledger = make_ledger(ui.home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="nobody-at-all@example.net", requested_by="DSR-7")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE erasure_requests SET due_at = '2020-01-01T00:00:00+00:00' WHERE request_id = :r"), {"r": request.request_id})
    at = ui.page(PAGE, "alice")
    assert any(request.request_id in e and e.startswith("Overdue") for e in errors(at))


def test_alice_excludes_a_match_and_confirms_by_typing_the_subject(ui) -> None:  # type: ignore[no-untyped-def]
    """A subject request on the page: every match is listed with its passage; an unticked match stays."""
    from core.erasure.requests import create_request, get_request

    ledger = make_ledger(ui.home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="Helena Marchetti", requested_by="DSR-2026-202", scope="chunks")
    at = ui.page(PAGE, "alice")
    widget(at.button, "Preview").click().run()
    boxes = [c for c in at.checkbox if c.label.startswith("Erase mat_")]
    assert boxes and all(c.value for c in boxes)
    assert any("[[Helena Marchetti]]" in c.value for c in at.code)
    whistle_box = boxes[0]
    excluded_id = whistle_box.label.split()[1].rstrip(":")
    whistle_box.uncheck().run()
    widget(at.text_input, "Type the subject (or the document id) exactly to confirm").input("Helena Marchetti")
    widget(at.button, "Execute erasure").click().run()
    assert not errors(at), errors(at)
    done = get_request(make_ledger(ui.home), request.request_id)
    assert excluded_id in done.excluded and done.status == "certified"
    assert "Verified clean: yes" in texts(at)


def test_alice_cancels_an_open_request_and_its_subject_is_gone(ui) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.requests import create_request, get_request, subject_of

    ledger = make_ledger(ui.home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="Tobias Wren", requested_by="DSR-2026-203")
    at = ui.page(PAGE, "alice")
    widget(at.text_input, "Reason").input("withdrawn by the requester (DSR-2026-203)")
    widget(at.button, "Cancel request").click().run()
    assert not errors(at), errors(at)
    assert any("cancelled: nothing was erased" in s.value for s in at.success)  # the flash outlived the rerun
    ledger = make_ledger(ui.home)
    assert get_request(ledger, request.request_id).status == "cancelled" and subject_of(ledger, request.request_id) is None


RECEIVED = "Received on"


def _record(at, target: str, requested_by: str, *, document: bool = False, received=None):  # type: ignore[no-untyped-def]
    if document:
        widget(at.radio, "Target").set_value("A document")
    widget(at.text_input, "Subject's e-mail, name or id — or the document id (doc_…)").input(target)
    widget(at.text_input, "Requested by").input(requested_by)
    if received is not None:
        widget(at.date_input, RECEIVED).set_value(received)
    return widget(at.button, "Record request").click().run()


def _requests(home):  # type: ignore[no-untyped-def]
    from core.erasure.requests import list_requests

    ledger = make_ledger(home)
    return list_requests(ledger, ledger.policy.principal("alice"))


def test_the_preview_lists_documents_passages_and_the_certificates_numbers(ui) -> None:  # type: ignore[no-untyped-def]
    """Titles, groups, chunk counts and redacted passages before the decision; the same counts after."""
    at = _record(ui.page(PAGE, "alice"), "Helena Marchetti", "DSR-2026-401")
    scope = widget(at.selectbox, "For a subject, erase")
    assert scope.value == "documents"
    widget(at.button, "Preview").click().run()
    page = texts(at)
    shown = at.session_state[f"preview_{_requests(ui.home)[0].request_id}"]
    assert shown["document_list"] and all(d["title"] in page for d in shown["document_list"])
    assert all(", ".join(d["groups"]) in page for d in shown["document_list"])
    assert any(e.label.startswith("Passages to be removed from") for e in at.expander)
    assert any(e.label.startswith("Audit records whose text becomes unreadable") for e in at.expander) or not shown["audit_record_list"]
    widget(at.text_input, "Type the subject (or the document id) exactly to confirm").input("Helena Marchetti")
    widget(at.button, "Execute erasure").click().run()
    assert not errors(at), errors(at)
    cert = _requests(ui.home)[0].certificate
    assert cert.verified_clean and {k: shown["impact"][k] for k in cert.performed} == cert.performed
    assert f"**Will erase:** {shown['sentence']}" not in texts(at) and f"Previewed: {shown['sentence']}" in texts(at)
    assert {d["doc_id"] for d in cert.documents} == {d["doc_id"] for d in shown["document_list"]}


def test_the_table_shows_the_subject_until_certification(ui) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.requests import create_request

    ledger = make_ledger(ui.home)
    create_request(ledger, ledger.policy.principal("alice"), subject="Tobias Wren", requested_by="DSR-2026-402")
    at = ui.page(PAGE, "alice")
    assert list(at.dataframe[0].value["about"]) == ["Tobias Wren"]


def test_a_request_that_matches_nothing_warns_and_is_closed_with_a_reason(ui) -> None:  # type: ignore[no-untyped-def]
    at = _record(ui.page(PAGE, "alice"), "Wilhelmina Quarrington", "DSR-2026-403")
    assert any("Recorded era_" in s.value for s in at.success)
    assert any("nothing stored mentions this subject" in w.value for w in at.warning)
    widget(at.button, "Close request").click().run()  # no reason: refused, in the page's words
    assert any("a reason is required to close" in e and "“Reason”" in e for e in errors(at)), errors(at)
    widget(at.text_input, "Reason").input("no personal data held; answered by letter (DSR-2026-403)")
    widget(at.button, "Close request").click().run()
    assert not errors(at), errors(at)
    [request] = _requests(ui.home)
    assert request.status == "closed" and "Closed" in texts(at)
    steps = make_ledger(ui.home).audit.records(kinds=["purge"], actor="alice")
    assert any(s["payload"]["stage"] == "closed" and s["payload"]["reason"].startswith("no personal data") for s in steps)
    assert list(at.dataframe[0].value["about"]) == ["not kept"]


def test_record_twice_records_one_request(ui) -> None:  # type: ignore[no-untyped-def]
    at = _record(ui.page(PAGE, "alice"), "Helena Marchetti", "DSR-2026-404")
    at = widget(at.button, "Record request").click().run()  # the double click: the form keeps its values
    assert [r.requested_by for r in _requests(ui.home)] == ["DSR-2026-404"]
    assert any("already open for this target and requester" in i.value for i in at.info)


def test_a_receipt_date_sets_the_deadline_and_a_future_one_is_refused(ui) -> None:  # type: ignore[no-untyped-def]
    from datetime import date, timedelta

    at = _record(ui.page(PAGE, "alice"), "Helena Marchetti", "DSR-2026-405", received=date.today() + timedelta(days=3))
    assert any("in the future" in e and "“Received on”" in e for e in errors(at)), errors(at)
    assert not _requests(ui.home)
    arrived = date.today() - timedelta(days=10)
    _record(at, "Helena Marchetti", "DSR-2026-405", received=arrived)
    [request] = _requests(ui.home)
    assert request.received_at.startswith(arrived.isoformat()) and request.due_at.startswith((arrived + timedelta(days=30)).isoformat())


def test_errors_name_the_widget_not_a_cli_flag(ui) -> None:  # type: ignore[no-untyped-def]
    at = _record(ui.page(PAGE, "alice"), "Helena Marchetti", "  ")
    [message] = errors(at)
    assert "who requested the erasure is required" in message and "“Requested by”" in message and "--" not in message


def test_the_success_message_survives_the_rerun_once(ui) -> None:  # type: ignore[no-untyped-def]
    at = _record(ui.page(PAGE, "alice"), "Helena Marchetti", "DSR-2026-406")
    assert any("Recorded era_" in s.value for s in at.success)  # shown on the run after st.rerun()
    assert not any("Recorded era_" in s.value for s in at.run().success)  # and only once
