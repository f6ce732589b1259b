"""What every page shares: the ledger handle, the signed-in principal, the permission check at the
top of each page, and the one place where core errors become messages."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from core.errors import RagLedgerError
from core.ledger import Ledger
from core.policy import Principal

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
]


def get_ledger() -> Ledger:
    """The process-wide ledger of the current RAGLEDGER_HOME (one per home, so tests that point
    the app at different homes in one process never share a stale handle)."""
    return _open_ledger(os.environ.get("RAGLEDGER_HOME", ""), os.environ.get("RAGLEDGER_DATABASE_URL", ""))


@st.cache_resource(show_spinner="Opening the ledger…")
def _open_ledger(home: str, database_url: str) -> Ledger:
    ledger = Ledger.open()
    ledger.warm_up()
    return ledger


def current_principal() -> Principal | None:
    """The principal of this browser session: a local sign-in, or OIDC claims mapped by policy."""
    if "principal" in st.session_state:
        return st.session_state["principal"]
    try:
        user = st.user
        if getattr(user, "is_logged_in", False):
            principal = get_ledger().policy.principal_from_claims(dict(user))
            st.session_state["principal"] = principal
            return principal
    except (AttributeError, KeyError, RagLedgerError):
        return None
    return None


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def sign_in_form() -> None:
    from core.auth import authenticate
    from core.events import SignIn

    st.title(":material/menu_book: RAG Ledger")
    st.caption("Governed retrieval, audit and erasure for enterprise RAG.")
    if oidc_configured():
        st.button("Sign in with your identity provider", on_click=st.login)
        st.divider()
    with st.form("sign-in"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        ledger = get_ledger()
        try:
            principal = authenticate(ledger.policy, name.strip(), password)
        except RagLedgerError as exc:
            known = name.strip() in ledger.policy.principal_names()
            # What was typed may be an e-mail or a password: only known names enter the chain.
            ledger.audit.append(SignIn(actor=name.strip() if known else "(unknown user)", actor_role="unknown", ok=False))
            st.error(str(exc))
            return
        ledger.audit.append(SignIn(actor=principal.name, actor_role=principal.role, ok=True))
        st.session_state["principal"] = principal
        st.rerun()


def sign_out() -> None:
    st.session_state.clear()
    if getattr(st.user, "is_logged_in", False):
        st.logout()


def page_guard(action: str, target: str) -> tuple[Ledger, Principal]:
    """The first line of every page: signed in, and holding the page's action (denials are audited)."""
    from core.guard import require_audited

    principal = current_principal()
    if principal is None:
        st.warning("Please sign in first.")
        st.stop()
    ledger = get_ledger()
    try:
        require_audited(ledger, principal, action, f"page:{target}")
    except RagLedgerError as exc:
        st.error(f"Access denied: {exc}")
        st.stop()
    return ledger, principal


def run_core(fn: Callable[[], T]) -> T | None:
    """Call core and translate its errors once, into a message that says what to do."""
    try:
        return fn()
    except RagLedgerError as exc:
        st.error(str(exc))
        return None
