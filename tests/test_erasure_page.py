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
