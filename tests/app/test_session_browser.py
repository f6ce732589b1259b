"""Sessions and deep links in a real browser (Debian's chromium via playwright, `streamlit run app.py`
on a copy of the demo corpus home): a link to the audit trail before sign-in lands there after it, a
refresh keeps the session, sign-out ends it for good, and a page the role lacks answers "Access
denied" with a denial record in the audit log."""
from __future__ import annotations

import re

import pytest

from conftest import make_ledger
from core.identity.browser_sessions import COOKIE
from ui_support import ARTIFACTS, browser_against, settle
from ui_support import fill_sign_in as _fill

pytestmark = pytest.mark.browser
WAIT_MS = 90_000
VERIFIES = re.compile(r"Hash chain verifies: \d+ records")


def fill_sign_in(page, user: str) -> None:  # type: ignore[no-untyped-def]
    _fill(page, user, WAIT_MS)


def session_cookie(context) -> str | None:  # type: ignore[no-untyped-def]
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)


def test_deep_link_refresh_sign_out_and_a_denied_page(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    with browser_against(demo_home, tmp_path) as (base, browser, home):
        context = browser.new_context(viewport={"width": 1280, "height": 1200})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            # A bookmark to the audit trail, before sign-in: the form there, then that page.
            page.goto(f"{base}/audit")
            expect(page.get_by_text("Please sign in first.")).to_be_visible()
            expect(page.get_by_text("does not seem to exist")).to_have_count(0)
            fill_sign_in(page, "alice")
            expect(page.get_by_text(VERIFIES)).to_be_visible()
            assert page.url.rstrip("/").endswith("/audit")
            settle(page)
            token = session_cookie(context)
            assert token, "the session cookie was written"

            page.reload()  # a refresh opens a new Streamlit session: the cookie resumes the sign-in
            expect(page.get_by_text(VERIFIES)).to_be_visible()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("textbox", name="User name")).to_be_visible()
            settle(page)
            page.reload()
            expect(page.get_by_role("textbox", name="User name")).to_be_visible()
            expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
            # The old token, presented again (a copied cookie), is refused: it was revoked at sign-out.
            context.add_cookies([{"name": COOKIE, "value": token, "url": base}])
            page.goto(f"{base}/audit")
            expect(page.get_by_text("Please sign in first.")).to_be_visible()
            expect(page.get_by_text(VERIFIES)).to_have_count(0)

            # carol lacks audit.read: the menu does not list the page, its URL says so and is audited.
            fill_sign_in(page, "carol")
            expect(page.get_by_text(re.compile("Access denied"))).to_be_visible()
            expect(page.get_by_text(VERIFIES)).to_have_count(0)
            expect(page.get_by_role("link", name=re.compile("Audit trail"))).to_have_count(0)
            # carol's menu is the chat alone, which Streamlit shows as no menu: the page links back to it
            settle(page)
            page.screenshot(path=str(ARTIFACTS / "browser-access-denied-carol.png"), full_page=True)
            page.get_by_role("link", name=re.compile("Go to Chat")).click()
            expect(page.get_by_role("heading", name="Ask the documents")).to_be_visible()
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-session-failure.png"), full_page=True)
            print((tmp_path / "streamlit.log").read_text()[-4000:] if (tmp_path / "streamlit.log").exists() else "")
            raise
    denials = make_ledger(home).audit.records(kinds=["denial"], actor="carol")
    assert any(d["payload"]["target"] == "page:audit" for d in denials), denials
