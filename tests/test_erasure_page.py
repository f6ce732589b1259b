"""The Erasure page for every role, and a compliance officer's whole request lifecycle in AppTest."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import make_ledger
from tests.ui_support import copy_home, errors, page_as, texts

PAGE = "pages/erasure.py"


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RAGLEDGER_HOME", raising=False)
    monkeypatch.delenv("RAGLEDGER_DATABASE_URL", raising=False)


@pytest.fixture
def home(demo_home, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    return copy_home(demo_home, tmp_path / "home")


@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
def test_only_compliance_reaches_the_erasure_page(home, user) -> None:  # type: ignore[no-untyped-def]
    at = page_as(PAGE, home, user).run()
    assert "Erasure requests" not in texts(at)
    assert any(e.startswith("Access denied") for e in errors(at))
    denials = make_ledger(home).audit.records(kinds=["denial"], actor=user)
    assert any(d["payload"]["target"] == "page:erasure" for d in denials)


def _widget(widgets, label):  # type: ignore[no-untyped-def]
    return next(w for w in widgets if w.label == label)


def test_alice_records_previews_executes_and_gets_a_certificate(home) -> None:  # type: ignore[no-untyped-def]
    from core.documents import list_documents

    ledger = make_ledger(home)
    doc = next(d for d in list_documents(ledger, ledger.policy.principal("ops")) if d["title"].startswith("Ticket 4471"))
    at = page_as(PAGE, home, "alice").run()
    assert "Erasure requests" in texts(at) and "No erasure requests yet." in texts(at)
    _widget(at.radio, "Target").set_value("A document")
    _widget(at.text_input, "Subject's e-mail, name or id — or the document id (doc_…)").input(doc["doc_id"])
    _widget(at.text_input, "Requested by").input("DSR-2026-101 (data subject)")
    at.button[0].click().run()  # the form's submit button
    assert not errors(at), errors(at)
    assert any("Recorded era_" in s.value for s in at.success)
    _widget(at.button, "Preview").click().run()
    assert "Will erase **1** document(s)" in texts(at)
    confirm_label = "Type the subject (or the document id) exactly to confirm"
    _widget(at.button, "Execute erasure").click().run()  # nothing typed: refused, nothing erased
    assert any("confirmation does not match" in e for e in errors(at))
    assert make_ledger(home).store.count(f"doc_id = '{doc['doc_id']}'") > 0
    _widget(at.text_input, confirm_label).input(doc["doc_id"])
    _widget(at.button, "Execute erasure").click().run()
    assert not errors(at), errors(at)
    page = texts(at)
    assert "Erasure certificate" in page and "Verified clean: yes" in page
    assert {b.label for b in at.get("download_button")} >= {"Download certificate (JSON)", "Download certificate (Markdown)"}
    ledger = make_ledger(home)
    assert ledger.store.count(f"doc_id = '{doc['doc_id']}'") == 0
    assert ledger.audit.verify().ok


def test_overdue_requests_are_highlighted(home) -> None:  # type: ignore[no-untyped-def]
    from core.erasure import create_request

    ledger = make_ledger(home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="nobody-at-all@example.net", requested_by="DSR-7")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE erasure_requests SET due_at = '2020-01-01T00:00:00+00:00' WHERE request_id = :r"), {"r": request["request_id"]})
    at = page_as(PAGE, home, "alice").run()
    assert any(request["request_id"] in e and e.startswith("Overdue") for e in errors(at))


def test_alice_excludes_a_match_and_confirms_by_typing_the_subject(home) -> None:  # type: ignore[no-untyped-def]
    """A subject request on the page: every match is listed with its passage; an unticked match stays."""
    from core.erasure import create_request, get_request

    ledger = make_ledger(home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="Helena Marchetti", requested_by="DSR-2026-202", scope="chunks")
    at = page_as(PAGE, home, "alice").run()
    _widget(at.button, "Preview").click().run()
    boxes = [c for c in at.checkbox if c.label.startswith("Erase mat_")]
    assert boxes and all(c.value for c in boxes)
    assert any("[[Helena Marchetti]]" in c.value for c in at.code)
    whistle_box = boxes[0]
    excluded_id = whistle_box.label.split()[1].rstrip(":")
    whistle_box.uncheck().run()
    _widget(at.text_input, "Type the subject (or the document id) exactly to confirm").input("Helena Marchetti")
    _widget(at.button, "Execute erasure").click().run()
    assert not errors(at), errors(at)
    done = get_request(make_ledger(home), request["request_id"])
    assert excluded_id in done["excluded"] and done["status"] == "certified"
    assert "Verified clean: yes" in texts(at)


def test_alice_cancels_an_open_request_and_its_subject_is_gone(home) -> None:  # type: ignore[no-untyped-def]
    from core.erasure import create_request, get_request, subject_of

    ledger = make_ledger(home)
    request = create_request(ledger, ledger.policy.principal("alice"), subject="Tobias Wren", requested_by="DSR-2026-203")
    at = page_as(PAGE, home, "alice").run()
    _widget(at.text_input, "Reason for cancelling").input("withdrawn by the requester (DSR-2026-203)")
    _widget(at.button, "Cancel request").click().run()
    assert not errors(at), errors(at)
    ledger = make_ledger(home)
    assert get_request(ledger, request["request_id"])["status"] == "cancelled" and subject_of(ledger, request["request_id"]) is None
