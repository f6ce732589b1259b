"""What every page shares: the ledger handle, the signed-in principal, the permission check at the
top of each page, and the one place where core errors become messages."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from core.errors import InvalidInput, RagLedgerError
from core.ledger import Ledger
from core.policy.engine import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    action: str
    url_path: str


# Navigation per role: a page is offered to principals holding its action.
PAGES: list[PageSpec] = [
    PageSpec("pages/chat.py", "Chat", ":material/chat:", "ask", "chat"),
    PageSpec("pages/audit_trail.py", "Audit trail", ":material/receipt_long:", "audit.read", "audit"),
    PageSpec("pages/documents.py", "Documents", ":material/description:", "documents.read", "documents"),
    PageSpec("pages/overview.py", "Overview", ":material/monitoring:", "overview.read", "overview"),
    PageSpec("pages/policy.py", "Policy", ":material/policy:", "policy.simulate", "policy"),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "models.read", "models"),
    PageSpec("pages/erasure.py", "Erasure", ":material/delete_sweep:", "purge", "erasure"),
    PageSpec("pages/accounts.py", "Accounts", ":material/manage_accounts:", "policy.edit", "accounts"),
]


def get_ledger() -> Ledger:
    """The process-wide ledger of the current RAGLEDGER_HOME (one per home, so tests that point
    the app at different homes in one process never share a stale handle)."""
    return _open_ledger(os.environ.get("RAGLEDGER_HOME", ""), os.environ.get("RAGLEDGER_DATABASE_URL", ""))


@st.cache_resource(show_spinner="Opening the ledger…")
def _open_ledger(home: str, database_url: str) -> Ledger:
    from core.workbench.accounts import check_start

    ledger = Ledger.open()
    check_start(ledger.policy)  # demo passwords outside demo mode: raise before anything loads (not cached)
    ledger.warm_up()
    return ledger


def start_problem() -> str | None:
    """Why the app must not start (a demo password outside demo mode, a broken policy), or None.
    Checked on every run against the policies on disk (without loading the models, so the sign-in
    form still appears at once), so a change that ends demo mode takes effect at once."""
    from core.workbench.accounts import check_start_at
    from core.config import Settings

    try:
        check_start_at(Settings.from_env().policies_dir)
    except RagLedgerError as exc:
        return str(exc)
    return None


def menu(principal: Principal) -> list[PageSpec]:
    """The pages the menu lists for a principal (the others stay reachable by URL, to be refused)."""
    return [p for p in PAGES if principal.may(p.action)]


def _begin_session(principal: Principal, token: str | None = None) -> None:
    now = time.time()
    st.session_state.update(principal=principal, session_started_at=now, session_last_activity=now)
    if token:
        st.session_state["session_token"] = token


def _session_ended(principal: Principal) -> bool:
    """The page hook of core.identity.sessions for a session without a cookie row (OIDC): end (and audit) it
    past its idle or absolute timeout."""
    from core.identity.sessions import expiry_message, session_expiry
    from core.identity.sign_in import record_sign_out

    now = time.time()
    started = st.session_state.setdefault("session_started_at", now)
    last = st.session_state.get("session_last_activity", now)
    ledger = get_ledger()
    rules = ledger.policy.files.sign_in
    reason = session_expiry(started, last, now, rules)
    if reason is None:
        st.session_state["session_last_activity"] = now
        return False
    record_sign_out(ledger, principal, reason, started_at=started, now=now)
    _end_session()
    st.session_state["sign_in_notice"] = expiry_message(reason, rules)
    return True


def _end_session() -> None:
    st.session_state.clear()
    if getattr(st.user, "is_logged_in", False):
        st.logout()


def _resumed(token: str) -> Principal | None:
    """The principal of a session token (this tab's, or the cookie a refresh sent), checked against
    its row on every run, so a sign-out in another tab or a timeout ends it here too."""
    from core.identity.browser_sessions import resume
    from core.errors import SessionEnded

    try:
        session = resume(get_ledger(), token)
    except SessionEnded as exc:
        _end_session()
        st.session_state["ended_token"] = token  # the stale cookie this tab still sends: not asked again
        if exc.reason not in ("user", "unknown"):  # a timeout or a disabled account: say so once
            st.session_state["sign_in_notice"] = str(exc)
        return None
    st.session_state.update(principal=session.principal, session_token=token, session_started_at=session.started_at,
                            session_last_activity=session.last_activity)
    return session.principal


def current_principal() -> Principal | None:
    """The principal of this browser session: a local sign-in (this tab's, or resumed from the session
    cookie after a refresh, a bookmark or a new tab), or OIDC claims mapped by policy."""
    from pages.session_cookie import presented_token

    token = st.session_state.get("session_token")
    if token is None and "principal" not in st.session_state:
        cookie = presented_token()
        token = cookie if cookie != st.session_state.get("ended_token") else None
    if token:
        return _resumed(token)
    if "principal" in st.session_state:
        principal = st.session_state["principal"]
        return None if _session_ended(principal) else principal
    try:
        user = st.user
        if getattr(user, "is_logged_in", False):
            principal = get_ledger().policy.principal_from_claims(dict(user))
            _begin_session(principal)
            return principal
    except (AttributeError, KeyError, RagLedgerError):
        return None
    return None


def sync_cookie() -> None:
    """Write (or clear) the browser's session cookie to match this run; app.py calls it once per run."""
    from core.identity.browser_sessions import cookie_max_age
    from pages.session_cookie import write_cookie

    token = st.session_state.get("session_token")
    write_cookie(token, cookie_max_age(get_ledger()) if token else 0)


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def sign_in_form() -> None:
    from core.identity.sign_in import sign_in

    st.title(":material/menu_book: RAG Ledger")
    st.caption("Governed retrieval, audit and erasure for enterprise RAG.")
    notice = st.session_state.pop("sign_in_notice", None)
    if notice:
        st.info(notice)
    if oidc_configured():
        st.button("Sign in with your identity provider", on_click=st.login)
        st.divider()
    with st.form("sign-in"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        from core.identity.browser_sessions import open_session

        ledger = get_ledger()
        try:  # throttled and audited in core (core/identity/sign_in.py)
            principal = sign_in(ledger, name.strip(), password, address=getattr(st.context, "ip_address", None))
        except RagLedgerError as exc:
            st.error(str(exc))
            return
        _begin_session(principal, open_session(ledger, principal))
        st.rerun()  # the same URL again: a deep link lands on the page it named


def sign_out() -> None:
    from core.identity.sign_in import record_sign_out

    from core.identity.browser_sessions import close_session

    principal = st.session_state.get("principal")
    token = st.session_state.get("session_token")
    if token:
        close_session(get_ledger(), token)  # the cookie stops working at once, in every tab
    if principal is not None:
        record_sign_out(get_ledger(), principal, "user", started_at=st.session_state.get("session_started_at"))
    _end_session()
    if token:
        st.session_state["ended_token"] = token


def page_guard(action: str, target: str) -> tuple[Ledger, Principal]:
    """The first line of every page: signed in, and holding the page's action (denials are audited)."""
    from core.audit.guard import require_audited

    principal = current_principal()
    if principal is None:  # a deep link or bookmark before sign-in: sign in here, then this page runs
        st.warning("Please sign in first.")
        sign_in_form()
        st.stop()
    ledger = get_ledger()
    try:
        require_audited(ledger, principal, action, f"page:{target}")
    except RagLedgerError as exc:
        st.error(f"Access denied: {exc}")
        offered = menu(principal)
        if offered:  # reached by URL: a way back (a role with one page has no menu to go back with)
            st.page_link(offered[0].path, label=f"Go to {offered[0].title}", icon=offered[0].icon)
        st.stop()
    return ledger, principal


def run_core(fn: Callable[[], T], fields: dict[str, str] | None = None) -> T | None:
    """Call core and translate its errors once, into a message that says what to do. `fields` maps
    core's input fields to this page's widget labels, so the hint names the widget, not a CLI flag."""
    try:
        return fn()
    except RagLedgerError as exc:
        st.error(error_text(exc, fields or {}))
        return None


def error_text(exc: RagLedgerError, fields: dict[str, str]) -> str:
    if isinstance(exc, InvalidInput) and exc.field in fields:
        hint = f"see “{fields[exc.field]}”" + (f": {exc.hint}" if exc.hint else "")
        return f"{exc.message} ({hint})"
    return str(exc)


FLASH_KEY = "flash_messages"


def flash(message: str, kind: str = "success") -> None:
    """A message for the next run: an action that ends in st.rerun() would otherwise lose it."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        getattr(st, kind)(message)
