"""Markdown injection in a real browser (issue 16 point 5): a document carrying an image whose URL
would leak data, and a phishing link, is asked about by alice (her profile keeps IP addresses, so
the URL reaches the page intact; carol's would hash the 127.0.0.1 and hide the attack). The answer and the passage show, and
the browser sends no request to the image's URL; no link or image element points at it.

A tiny HTTP server on loopback records every request it gets; a control image created by script in
the same page proves the browser could reach it, so "no hit" means "not fetched", not "unreachable".
"""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from conftest import make_ledger, skip_or_fail
from core.rag.ingest import Source, ingest
from test_browser import WAIT_MS, settle, sign_in
from ui_support import CHROMIUM, free_port, launch_chromium, streamlit_server

pytestmark = pytest.mark.browser


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (the stdlib's name)
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_an_image_in_a_document_is_never_fetched_and_links_are_text(tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium; `make browser`)")
    from playwright.sync_api import expect, sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pixel_host = f"http://127.0.0.1:{server.server_address[1]}"
    pixel = f"{pixel_host}/pixel.png?d=secret"
    doc = tmp_path / "canteen.md"
    doc.write_text(
        "---\ntitle: Canteen opening hours\ngroups: [all-staff]\nclassification: internal\n---\n"
        f"The staff canteen opens at 7:30 every weekday morning. ![x]({pixel})\n\n"
        f"Breakfast is served until 10:00 and lunch from noon. <img src=\"{pixel_host}/raw-html.png\"> "
        f"Menus are on [the canteen portal]({pixel_host}/phish) every Monday.\n"
    )
    home = tmp_path / "home"
    ledger = make_ledger(home)
    ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(doc)])
    try:
        with streamlit_server(home, free_port(), log=tmp_path / "streamlit.log") as base, sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                page.set_default_timeout(WAIT_MS)
                sign_in(page, base, "alice")
                page.get_by_placeholder("Ask a question about your documents").fill("When does the staff canteen open in the morning?")
                page.keyboard.press("Enter")
                answer = page.get_by_test_id("stChatMessage").filter(has_text="[1]").last
                expect(answer).to_contain_text("7:30", timeout=WAIT_MS)
                settle(page)
                for expander in page.get_by_test_id("stExpander").all():
                    expander.locator("summary").click()
                passage = page.get_by_test_id("stExpanderDetails").first
                expect(passage).to_contain_text("pixel.png?d=secret")  # the URL is shown, as text
                page.wait_for_timeout(1500)

                assert page.locator(f'img[src^="{pixel_host}"]').count() == 0
                assert page.locator(f'a[href^="{pixel_host}"]').count() == 0
                assert page.locator(f'source[srcset*="{pixel_host}"], iframe[src^="{pixel_host}"]').count() == 0
                assert _Recorder.hits == [], f"the browser fetched {_Recorder.hits}"

                # Control: the same page can reach the recorder, so silence above means "not fetched".
                page.evaluate(f"() => {{ const i = new Image(); i.src = '{pixel_host}/control.png'; document.body.appendChild(i); }}")
                page.wait_for_timeout(1500)
                assert _Recorder.hits == ["/control.png"], _Recorder.hits
            finally:
                browser.close()
    finally:
        server.shutdown()
