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
