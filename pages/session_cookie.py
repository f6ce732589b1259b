"""The session cookie in the browser: Streamlit reads cookies (`st.context.cookies`, as sent with the
page's connection) but has no call that sets one, so a tiny script component writes it.

The cookie holds only an opaque token; what it means lives server-side (core/identity/browser_sessions.py).
Written from JavaScript it cannot be HttpOnly: docs/accounts.md says what guards it instead.
"""
from __future__ import annotations

import streamlit as st
from streamlit.components.v2 import component

from core.identity.browser_sessions import COOKIE

# Trusted, constant code: the only data it receives is the token (URL-safe base64) and a number.
_JS = """
export default function (component) {
  const { data } = component;
  if (!data) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const value = data.token ? data.token : "";
  const age = data.token ? data.max_age : 0;
  document.cookie = `${data.name}=${value}; Path=/; Max-Age=${age}; SameSite=Strict${secure}`;
}
"""
_writer = component("ragledger_session_cookie", js=_JS)


def presented_token() -> str | None:
    """The token the browser sent when this tab connected (a refresh or a new tab sends it again)."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser connection: no cookie
        return None
    return value if isinstance(value, str) and value else None  # AppTest's context is a stand-in object


def write_cookie(token: str | None, max_age: int) -> None:
    """Keep the browser's cookie in line with this session: the token while signed in, none after."""
    _writer(data={"name": COOKIE, "token": token or "", "max_age": max_age}, key="session_cookie")
