"""Browser sessions that survive a refresh: an opaque token in a cookie, a row in the ledger database.

Why a row and not only a signed cookie: a row can be revoked (sign-out, a disabled account) and keeps
the session's start and last activity server-side, so the idle and absolute timeouts of
core/identity/sessions.py apply to a resumed session exactly as to one that never left the tab. The cookie
carries 32 random bytes; the table keeps only their keyed hash (HMAC under a key of the database's key
vault, shared by every process of a deployment as the sign-in throttle's is), so someone who reads the
sessions table (a backup, a replica) cannot turn a row back into a usable cookie.
See docs/accounts.md.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select, update

from core.stores.auth_tables import BrowserSession
from core.db import write_lock
from core.errors import SessionEnded
from core.ledger import Ledger
from core.policy.engine import Principal
from core.audit.sealing import ensure_keys
from core.identity.sessions import expiry_message, session_expiry
from core.identity.sign_in import record_sign_out

COOKIE = "ragledger_session"
KEY_REF = "_browser_sessions"
TOUCH_EVERY_S = 30.0  # last activity is kept to the half-minute: the idle timeout counts minutes
T = BrowserSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Resumed:
    principal: Principal
    started_at: float
    last_activity: float


_keys: dict[str, bytes] = {}  # per database URL; cached only once committed (a rolled-back key is never used)
_keys_lock = threading.Lock()


def _key(ledger: Ledger) -> bytes:
    """The session key (generation 1, never destroyed: destroying it would end every open session).
    Read once per process, under the write lock so two processes never create two keys."""
    url = str(ledger.engine.url)
    with _keys_lock:
        if url not in _keys:
            with ledger.engine.begin() as conn:
                write_lock(conn)
                key = ensure_keys(conn, [KEY_REF])[KEY_REF].key
            _keys[url] = key
        return _keys[url]


def _digest(ledger: Ledger, token: str) -> str:
    return hmac.new(_key(ledger), token.encode(), hashlib.sha256).hexdigest()


def open_session(ledger: Ledger, principal: Principal, *, now: float | None = None) -> str:
    """Start a session for a principal that has just signed in; return the cookie's value."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    digest = _digest(ledger, token)  # before the insert's transaction: the key may need one of its own
    with ledger.engine.begin() as conn:
        conn.execute(T.insert().values(digest=digest, principal=principal.name, started_at=now, last_activity=now))
    return token


def _end(ledger: Ledger, digest: str, reason: str, now: float) -> bool:
    """Mark the row ended; True only for the caller that ended it (a sign-out is audited once)."""
    with ledger.engine.begin() as conn:
        done = conn.execute(update(T).where(T.c.digest == digest, T.c.ended_at.is_(None)).values(ended_at=now, end_reason=reason))
    return bool(done.rowcount)


def resume(ledger: Ledger, token: str, *, now: float | None = None) -> Resumed:
    """The session a cookie names, with its activity refreshed; SessionEnded when it no longer holds.

    A session past its timeout is ended and audited here (once), so a cookie presented after expiry
    is refused for good, whichever tab presents it."""
    now = time.time() if now is None else now
    digest = _digest(ledger, token)
    with ledger.engine.connect() as conn:
        row = conn.execute(select(T).where(T.c.digest == digest)).mappings().first()
    if row is None or row["ended_at"] is not None:
        raise SessionEnded("this session has ended; please sign in", reason=row["end_reason"] if row else "unknown")
    entry = ledger.policy.principals.principals.get(row["principal"])
    if entry is None or entry.disabled:
        _end(ledger, digest, "account_disabled", now)
        raise SessionEnded("this account is no longer enabled", reason="account_disabled",
                           hint="ask a compliance officer (Accounts page, or `ragledger users enable NAME`)")
    principal = ledger.policy.principal(row["principal"])
    rules = ledger.policy.files.sign_in
    reason = session_expiry(row["started_at"], row["last_activity"], now, rules)
    if reason is not None:
        if _end(ledger, digest, reason, now):
            record_sign_out(ledger, principal, reason, started_at=row["started_at"], now=now)
        raise SessionEnded(expiry_message(reason, rules), reason=reason)
    if now - row["last_activity"] >= TOUCH_EVERY_S:
        with ledger.engine.begin() as conn:
            conn.execute(update(T).where(T.c.digest == digest).values(last_activity=now))
    return Resumed(principal, row["started_at"], now)


def close_session(ledger: Ledger, token: str, *, now: float | None = None) -> bool:
    """Sign-out: the cookie stops working at once (also in other tabs that hold it)."""
    return _end(ledger, _digest(ledger, token), "user", time.time() if now is None else now)


def cookie_max_age(ledger: Ledger) -> int:
    """Seconds the browser keeps the cookie: the absolute timeout (the server refuses it sooner when idle)."""
    return int(ledger.policy.files.sign_in.absolute_timeout_hours * 3600)
