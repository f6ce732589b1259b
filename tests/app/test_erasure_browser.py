"""Erasure in a real browser (Debian's chromium via playwright): alice records a subject request, the
preview lists the affected documents by title, and the certificate then names the same documents."""
from __future__ import annotations

import json
import re

import pytest

from conftest import make_ledger
from core.erasure.impact import SUBJECT_IN_TITLE, TITLE_ERASED
from ui_support import ARTIFACTS, browser_against, fill_sign_in, settle

pytestmark = pytest.mark.browser
WAIT_MS = 180_000
SUBJECT = "Helena Marchetti"


def test_the_preview_lists_the_titles_the_certificate_names(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    with browser_against(demo_home, tmp_path) as (base, browser, home):
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(WAIT_MS)
        try:
            page.goto(base)
            fill_sign_in(page, "alice", WAIT_MS)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Erasure")).click()
            settle(page)
            page.get_by_role("textbox", name=re.compile("Subject's e-mail")).fill(SUBJECT)
            # Only the chunks that mention her: the documents stay, so the certificate may name their titles.
            page.get_by_test_id("stSelectbox").filter(has_text="For a subject, erase").click()
            page.get_by_role("option", name="only the chunks that mention them").click()
            page.get_by_role("textbox", name="Requested by").fill("DSR-2026-501 (by letter)")
            page.get_by_role("button", name="Record request").click()
            settle(page)
            expect(page.get_by_text(re.compile(r"Recorded era_")).first).to_be_visible()  # the flash, after the rerun
            page.get_by_role("button", name="Preview").click()
            settle(page)
            # The match list renders after the document list: once it shows, the preview is complete.
            expect(page.get_by_text(re.compile(r"match\(es\): untick what is not the subject")).first).to_be_visible()
            settle(page)
            preview_text = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "erasure-preview-alice.png"), full_page=True)
            confirm = page.get_by_role("textbox", name="Type the subject (or the document id) exactly to confirm")
            confirm.fill(SUBJECT)
            confirm.press("Enter")
            settle(page)
            page.get_by_role("button", name="Execute erasure").click()
            settle(page)
            certificate = page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"Erasure certificate era_"))
            expect(certificate.first).to_be_visible(timeout=WAIT_MS)
            certificate_text = certificate.first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "erasure-certificate-alice.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "erasure-failure.png"), full_page=True)
            print((tmp_path / "streamlit.log").read_text()[-4000:] if (tmp_path / "streamlit.log").exists() else "")
            raise
    ledger = make_ledger(home)
    from core.erasure.requests import list_requests

    [request] = list_requests(ledger, ledger.policy.principal("alice"))
    cert = request.certificate
    assert cert.verified_clean and cert.documents, json.dumps(cert.to_dict())[:2000]
    assert "Verified clean: yes" in certificate_text
    for doc in cert.documents:
        assert doc["doc_id"] in preview_text and doc["doc_id"] in certificate_text
        if doc["title"] not in (SUBJECT_IN_TITLE, TITLE_ERASED):  # the preview shows those; the kept certificate does not
            assert doc["title"] in preview_text and doc["title"] in certificate_text, doc["title"]
    assert sum(d["title"] not in (SUBJECT_IN_TITLE, TITLE_ERASED) for d in cert.documents) >= 1
    assert f"{cert.performed['uploaded_files']} uploaded file(s) removed" in preview_text
