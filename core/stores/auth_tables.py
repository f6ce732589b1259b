"""The sign-in throttle's table: failure counters kept in the ledger database, so they survive restarts
and are shared by every app and CLI process of a deployment (SQLite or PostgreSQL)."""
from __future__ import annotations

from sqlmodel import Field, SQLModel


class SignInThrottle(SQLModel, table=True):
    """One counter per account name or client address, both keyed by an HMAC (never the typed text:
    a user name field sometimes receives a password, and addresses are personal data).

    Times are seconds since the epoch (UTC)."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True, max_length=80)
    scope: str = Field(max_length=16)  # "account" or "address"
    failures: int = 0  # within the window that started at window_start
    window_start: float = 0.0
    last_failure: float = 0.0
    locked_until: float | None = None  # accounts only


class BrowserSession(SQLModel, table=True):
    """A signed-in browser session (core/identity/browser_sessions.py). `digest` is the HMAC of the cookie's
    token, never the token itself. Times are seconds since the epoch (UTC)."""

    __tablename__ = "browser_sessions"

    digest: str = Field(primary_key=True, max_length=64)
    principal: str = Field(index=True, max_length=200)
    started_at: float
    last_activity: float
    ended_at: float | None = None
    end_reason: str | None = Field(default=None, max_length=32)  # user | idle_timeout | absolute_timeout | account_disabled
