"""Helpers for the UI tests: Streamlit's AppTest on the real app, and the real server for a browser.

Every helper points the app at an explicit RAGLEDGER_HOME. Tests that write (sign-ins, asks,
uploads) give it a copy of the session demo corpus (`copy_home`), never the shared `demo_home`.
The page tests take the `ui` fixture (tests/conftest.py): an AppPages on such a copy, with the
environment put back after the test:

    at = ui.sign_in("alice")                        # signed in, on the first page of the navigation
    assert navigation(at) == expected_pages("alice")
    at = ui.sign_in("alice", "pages/audit_trail.py")  # signed in, then on that page
    at = ui.page("pages/documents.py", "bob")       # the page file alone, run: its own guard decides
    widget(at.button, "Ingest").click().run()
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.policy.engine import Principal, load_policy

# `pages.common` must import when AppTest runs a page file directly (its folder becomes the script dir).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pages.common import PAGES  # noqa: E402

DEMO_USERS = ("alice", "bob", "carol", "dave")
APP_TIMEOUT_S = 90.0  # the first ask of a process loads MiniLM and spaCy (~10 s on 2 cores)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def principal(name: str) -> Principal:
    return load_policy(REPO_ROOT / "policies").principal(name)


def demo_password(name: str) -> str:
    return f"{name}-demo"


def copy_home(demo_home: Path, dest: Path) -> Path:
    """A private, writable copy of a home (the session demo corpus stays unchanged)."""
    shutil.copytree(demo_home, dest)
    return dest


def _clear_streamlit_state() -> None:
    # Cached resources are keyed by home (pages/common.get_ledger); clearing them between apps keeps
    # memory flat and guarantees no handle outlives its temporary home.
    import streamlit as st

    st.cache_resource.clear()


def home_env(home: Path) -> dict[str, str]:
    """RAGLEDGER_HOME and, where the home keeps its database at home/ledger.db (the layout that
    tests/conftest.make_ledger writes, unlike the app's default home/audit_db/ledger.db), the URL of
    that database, so the app reads the same registry and audit chain as the test's ledger."""
    env = {"RAGLEDGER_HOME": str(home)}
    if (home / "ledger.db").is_file():
        env["RAGLEDGER_DATABASE_URL"] = f"sqlite:///{home / 'ledger.db'}"
    return env


def _point_at(home: Path) -> None:
    os.environ.pop("RAGLEDGER_DATABASE_URL", None)
    os.environ.update(home_env(home))
    _clear_streamlit_state()


def app_test(home: Path, *, timeout: float = APP_TIMEOUT_S) -> AppTest:
    """The whole app (app.py, with its navigation) on `home`. Sets RAGLEDGER_HOME (and the database
    URL, see home_env) in this process: callers restore them (the app_env fixture, tests/conftest.py)."""
    _point_at(home)
    return AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=timeout)


def page_as(page: str, home: Path, user: str, *, timeout: float = APP_TIMEOUT_S) -> AppTest:
    """One page file run on its own, as `user` (a principal put in session state as sign-in does),
    so the page's own guard is what decides: this is a page reached by URL without the menu."""
    _point_at(home)
    at = AppTest.from_file(str(REPO_ROOT / page), default_timeout=timeout)
    at.session_state["principal"] = principal(user)
    return at


def widget(widgets: Any, label: str) -> Any:
    """The widget labelled `label` among `widgets` (at.button, at.text_input, at.sidebar.button, ...)."""
    for w in widgets:
        if w.label == label:
            return w
    raise LookupError(f"no widget labelled {label!r}; have {[w.label for w in widgets]}")


def sign_in(at: AppTest, user: str, password: str | None = None) -> AppTest:
    """Fill the sign-in form and submit it (the demo password "<name>-demo" unless given)."""
    if not any(w.label == "User name" for w in at.text_input):  # not run yet
        at.run()
    widget(at.text_input, "User name").input(user)
    widget(at.text_input, "Password").input(demo_password(user) if password is None else password)
    widget(at.button, "Sign in").click()
    return at.run()


class AppPages:
    """The app's pages in AppTest on one home, with the suite's timeout (APP_TIMEOUT_S). Every AppTest
    it makes points this process at the home (app_test): take it from the `ui` fixture, or build it in
    a test that requests `app_env` (tests/conftest.py), which puts the environment back afterwards."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def app(self) -> AppTest:
        """The whole app (app.py) before anyone signed in; not run yet."""
        return app_test(self.home)

    def sign_in(self, user: str, page: str | None = None, *, password: str | None = None) -> AppTest:
        """The whole app after `user` submitted the sign-in form (the demo password unless given):
        on the first page of the menu, or on `page` (switched to and run) when one is named."""
        at = sign_in(self.app(), user, password)
        return at.switch_page(page).run() if page is not None else at

    def page(self, page: str, user: str, *, run: bool = True) -> AppTest:
        """The page file alone as `user` (page_as: its own guard decides), run unless run=False."""
        at = page_as(page, self.home, user)
        return at.run() if run else at


def signed_in_as(at: AppTest) -> str | None:
    p = at.session_state["principal"] if "principal" in at.session_state else None
    return p.name if p is not None else None


def expected_pages(user: str) -> list[str]:
    """The page files a principal's permissions give, in menu order."""
    p = principal(user)
    return [spec.path for spec in PAGES if p.may(spec.action)]


def navigation(at: AppTest) -> list[str]:
    """The page files the sidebar menu lists (app.py keeps them in session state as it builds the
    navigation). Every other page is registered too, hidden, so that its URL reaches its own guard.

    Leaves the app pointed at the first page offered; call `run()` to render it."""
    offered = list(at.session_state["menu"]) if "menu" in at.session_state else []
    if offered:
        at.switch_page(offered[0])
    return offered


def plain(markdown: str) -> str:
    """Markdown source as a reader sees it: pages escape stored text (core/safe_text.py)."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def texts(at: AppTest) -> str:
    """Everything a user reads on the page (markdown, captions, alerts, titles), one string."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning", "error", "text", "code"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    parts.extend(e.label for e in at.expander)
    return plain("\n".join(parts))


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [str(e.value) for e in at.exception]


# --- the real server, for a browser -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def streamlit_server(home: Path, port: int, *, log: Path | None = None, timeout: float = 90.0) -> Iterator[str]:
    """`streamlit run serve.py` (app.py, as `make run` serves it) on 127.0.0.1:port with RAGLEDGER_HOME=home; yields the base URL once
    /_stcore/health answers, and stops the server afterwards (its output goes to `log`)."""
    log = log or home / "streamlit.log"
    env = {k: v for k, v in os.environ.items() if k != "RAGLEDGER_DATABASE_URL"}
    env.update(home_env(home), PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200 and r.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium through playwright (its own browser download cannot work here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


ARTIFACTS = REPO_ROOT / "test-artifacts"  # screenshots of the browser tests


@contextlib.contextmanager
def browser_against(template: Path, tmp_path: Path) -> Iterator[tuple[str, Any, Path]]:
    """Chromium and the app served over a private copy of the home `template`: yields (base URL,
    browser, home). Skips without chromium outside CI and fails in CI (conftest.skip_or_fail)."""
    from conftest import skip_or_fail

    if not Path(CHROMIUM).is_file():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium; `make browser`)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    home = copy_home(template, tmp_path / "home")
    with streamlit_server(home, free_port(), log=tmp_path / "streamlit.log") as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            yield base, browser, home
        finally:
            browser.close()


def settle(page: Any, wait_ms: int = 180_000) -> None:
    """Wait until the script run is over (Streamlit shows a "Stop" button while it runs)."""
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Stop")).to_have_count(0, timeout=wait_ms)


def fill_sign_in(page: Any, user: str, wait_ms: int = 180_000) -> None:
    """Sign in through the form on the page shown now, with the demo password."""
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(demo_password(user))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Sign out").wait_for(timeout=wait_ms)
