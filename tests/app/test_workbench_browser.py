"""The Overview and the "see as" simulation in a real browser (Debian's chromium via playwright) on a
copy of the demo corpus home; screenshots go to test-artifacts/ (git-ignored) for a person to look at."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import make_ledger, skip_or_fail
from core.answering.ask import ask
from core.config import REPO_ROOT
from ui_support import CHROMIUM, copy_home, free_port, launch_chromium, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "test-artifacts"
WAIT_MS = 120_000  # the server's first ask loads MiniLM and spaCy
HR_QUESTION = "Under which SSN will the final W-2 form of Tobias Hallberg be issued?"


def test_alice_opens_the_overview_and_sees_as_carol(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).is_file():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium; `make browser`)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    home = copy_home(demo_home, tmp_path / "home")
    ledger = make_ledger(home)
    ask(ledger, ledger.policy.principal("carol"), HR_QUESTION)  # something for the charts to show
    with streamlit_server(home, free_port(), log=tmp_path / "streamlit.log") as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(WAIT_MS)
            page.goto(base)
            page.get_by_role("textbox", name="User name").fill("alice")
            page.get_by_role("textbox", name="Password").fill("alice-demo")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Sign out").wait_for(timeout=WAIT_MS)

            page.get_by_role("link", name=re.compile("Overview")).click()
            expect(page.get_by_role("heading", name=re.compile("Compliance overview"))).to_be_visible()
            expect(page.get_by_role("heading", name="Questions over time by role")).to_be_visible()
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=WAIT_MS)
            assert page.locator(".js-plotly-plot").count() >= 3  # questions, withheld, documents (carol had no redactions)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "browser-overview-alice.png"), full_page=True)

            page.get_by_role("link", name=re.compile("Policy")).click()
            expect(page.get_by_role("heading", name=re.compile("Policy"))).to_be_visible()
            page.get_by_role("textbox", name="Question").fill(HR_QUESTION)
            page.keyboard.press("Tab")
            page.get_by_role("button", name="Simulate").click()
            expect(page.get_by_text("Your view (alice)")).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text(re.compile(r"What carol \(employee"))).to_be_visible()
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "browser-see-as-carol.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "browser-overview-alice.png").stat().st_size > 10_000
    sims = ledger.audit.records(kinds=["answer"], actor="alice", limit=2)
    assert {r["payload"]["simulated_for"] for r in sims} == {"carol", "alice"}
