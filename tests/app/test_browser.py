"""The main flow in a real browser: `streamlit run app.py` on a copy of the demo corpus home, driven
by Debian's chromium through playwright. Carol signs in, asks, and sees a cited answer whose source
passage is redacted for her role; Alice opens the audit trail and sees the chain verify.

Screenshots go to test-artifacts/ (git-ignored) for a person to look at.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import skip_or_fail
from core.config import REPO_ROOT
from ui_support import CHROMIUM, copy_home, fill_sign_in, free_port, launch_chromium, streamlit_server
from ui_support import settle as ui_settle

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "test-artifacts"
# demo_corpus/questions.yaml: answered by the travel policy, whose passage names a country (LOCATION).
TRAVEL = next(q for q in yaml.safe_load((REPO_ROOT / "demo_corpus/questions.yaml").read_text()) if "EUR 42" in q["answer_contains"])
RAW_VALUE = "Germany"  # in the cited passage of policies/travel-expenses.md; carol's profile redacts LOCATION
WAIT_MS = 90_000  # the server's first ask loads MiniLM and spaCy


def settle(page) -> None:  # type: ignore[no-untyped-def]
    ui_settle(page, WAIT_MS)


def sign_in(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    fill_sign_in(page, user, WAIT_MS)


def test_carol_asks_and_sees_a_cited_redacted_answer_then_alice_sees_the_chain_verify(demo_home, tmp_path):
    if not Path(CHROMIUM).is_file():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium; `make browser`)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    home = copy_home(demo_home, tmp_path / "home")
    with streamlit_server(home, free_port(), log=tmp_path / "streamlit.log") as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.set_default_timeout(WAIT_MS)

            sign_in(page, base, "carol")
            expect(page.get_by_role("heading", name="Ask the documents")).to_be_visible()
            page.get_by_placeholder("Ask a question about your documents").fill(TRAVEL["question"])
            page.keyboard.press("Enter")
            answer = page.get_by_test_id("stChatMessage").filter(has_text="[1]").last
            expect(answer).to_contain_text(TRAVEL["answer_contains"], timeout=WAIT_MS)

            settle(page)
            source = page.get_by_test_id("stExpander").first
            expect(source).to_contain_text("[1] Business travel and expenses policy")
            source.locator("summary").click()
            passage = source.get_by_test_id("stExpanderDetails")
            expect(passage).to_contain_text("within <LOCATION> is EUR 42")
            expect(passage.get_by_role("heading")).to_have_count(0)  # chunk headings are not page headings
            shown = passage.inner_text()
            assert RAW_VALUE not in shown, shown
            assert "<LOCATION>" in answer.inner_text() and RAW_VALUE not in answer.inner_text()
            expect(page.get_by_role("link", name=re.compile("Audit trail"))).to_have_count(0)
            page.wait_for_timeout(500)  # let the expander's opening animation finish for the screenshot
            page.screenshot(path=str(ARTIFACTS / "browser-chat-carol.png"), full_page=True)

            page.get_by_role("button", name="Sign out").click()
            sign_in(page, base, "alice")
            page.get_by_role("link", name=re.compile("Audit trail")).click()
            expect(page.get_by_text(re.compile(r"Hash chain verifies: \d+ records"))).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
            settle(page)
            page.screenshot(path=str(ARTIFACTS / "browser-audit-alice.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
            print((tmp_path / "streamlit.log").read_text()[-4000:] if (tmp_path / "streamlit.log").exists() else "")
            raise
        finally:
            browser.close()
    assert os.path.getsize(ARTIFACTS / "browser-chat-carol.png") > 10_000
