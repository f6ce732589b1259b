"""The first run in a real browser (Debian's chromium via playwright): after `ragledger demo load`,
alice visits every page of the navigation and each shows data, not an empty state. A screenshot of
each page goes to test-artifacts/ (git-ignored) for a person to look at."""
from __future__ import annotations

import re

import pytest

from ui_support import ARTIFACTS, PAGES, browser_against, expected_pages, fill_sign_in, settle

pytestmark = pytest.mark.browser
WAIT_MS = 120_000
EMPTY_STATES = ["No checkpoints yet", "No erasure requests yet", "No questions in this period", "No models registered",
                "No erasure requests.", "No documents stored", "Nothing was withheld in this period"]
# What each page must show once the demo is loaded.
SHOWS = {
    "pages/chat.py": "Ask the documents",
    "pages/audit_trail.py": r"Hash chain verifies: \d+ records",
    "pages/documents.py": "Documents",
    "pages/overview.py": "Questions over time by role",
    "pages/policy.py": "Policy version",
    "pages/models.py": "source documents",  # the lineage caption (stage cells are canvas-drawn)
    "pages/erasure.py": "previewed",  # the demo request and its status (the grid cells are canvas-drawn)
    "pages/accounts.py": "Local accounts",  # its caption above the table of accounts
}


def test_alice_sees_data_on_every_page_after_the_demo_load(demo_loaded_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    specs = {p.path: p for p in PAGES}
    with browser_against(demo_loaded_home, tmp_path) as (base, browser, _home):
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(WAIT_MS)
        try:
            page.goto(base)
            fill_sign_in(page, "alice", WAIT_MS)
            expect(page.get_by_test_id("stToolbar").get_by_text("Deploy")).to_have_count(0)  # toolbarMode = "viewer"
            for path in expected_pages("alice"):
                spec = specs[path]
                page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile(spec.title)).click()
                settle(page)
                # visible=true: the data grid also keeps a hidden accessible copy of its cells
                expect(page.get_by_text(re.compile(SHOWS[path])).locator("visible=true").first).to_be_visible(timeout=WAIT_MS)
                body = page.inner_text("body")
                for empty in EMPTY_STATES:
                    assert empty not in body, f"{spec.title} shows the empty state {empty!r}"
                if path == "pages/chat.py":
                    page.get_by_placeholder("Ask a question about your documents").fill("How many weeks of paid parental leave do employees receive?")
                    page.keyboard.press("Enter")
                    expect(page.get_by_test_id("stChatMessage").filter(has_text="[1]").last).to_contain_text("16 weeks", timeout=WAIT_MS)
                    settle(page)
                if path in ("pages/audit_trail.py", "pages/documents.py", "pages/models.py", "pages/erasure.py"):
                    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
                if path == "pages/audit_trail.py":  # a click on a row opens its drill-down
                    grid = page.get_by_test_id("stDataFrame").first
                    box = grid.bounding_box()
                    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the first row's selection cell
                    settle(page)
                    expect(page.get_by_role("heading", name=re.compile(r"Record \d+: "))).to_be_visible(timeout=WAIT_MS)
                if path == "pages/overview.py":
                    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=WAIT_MS)
                    assert page.locator(".js-plotly-plot").count() >= 5
                    ticks = page.locator(".js-plotly-plot").first.locator(".xtick text").all_text_contents()
                    assert ticks and all(re.fullmatch(r"\d{2} [A-Z][a-z]{2}", t) for t in ticks), ticks  # "01 Dec", no ms
                    counts = page.locator(".js-plotly-plot").first.locator(".ytick text").all_text_contents()
                    assert counts and all(re.fullmatch(r"[\d,]+", t) for t in counts), counts  # whole numbers: no "0.5"
                page.wait_for_timeout(800)
                page.screenshot(path=str(ARTIFACTS / f"first-run-{spec.url_path}-alice.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "first-run-failure.png"), full_page=True)
            print((tmp_path / "streamlit.log").read_text()[-4000:] if (tmp_path / "streamlit.log").exists() else "")
            raise
    for path in expected_pages("alice"):
        assert (ARTIFACTS / f"first-run-{specs[path].url_path}-alice.png").stat().st_size > 10_000
