"""Throttling of local sign-ins, with its state in the ledger database.

Every failed sign-in counts against the typed account name and, when the app knows it, the client
address. Past a threshold each further attempt waits (exponential backoff), and an account with
`lock_after_failures` failures inside the window is locked for `lock_minutes`. Keys are HMACs under a
key kept in the database's key vault, so every process of a deployment computes the same key while the
table never holds a typed name (it may be a mistyped password) or an address. Counting unknown names
like known ones keeps locks from telling which names exist.

Updates run in one write transaction each, serialized by BEGIN IMMEDIATE on SQLite and by an advisory
lock on PostgreSQL, so failures from several processes at once are all counted.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select, text

from core.stores.auth_tables import SignInThrottle
from core.policy.models import SignInPolicy
from core.audit.sealing import ensure_keys

THROTTLE_LOCK_ID = 720_401  # advisory lock id of the throttle's read-modify-write (PostgreSQL)
KEY_REF = "_sign_in_throttle"
ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not even checked, and when the next one may come."""

    scope: str  # account | address
    reason: str  # locked | backoff
    retry_at: float


@dataclass(frozen=True)
class Counter:
    failures: int
    locked_until: float | None
    last_failure: float


def _rows(conn: Connection, keys: list[str]) -> list[SignInThrottle]:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    return [SignInThrottle(**m) for m in conn.execute(select(table).where(table.c.key.in_(keys))).mappings()]


class Throttle:
    def __init__(self, engine: Engine, rules: SignInPolicy) -> None:
        self.engine = engine
        self.rules = rules

    # -- keys ------------------------------------------------------------------------------------
    def _lock(self, conn: Connection) -> bytes:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": THROTTLE_LOCK_ID})
        # Read inside the transaction (not cached): a key created by a transaction that then rolled
        # back must never be used, or two processes would key the same name differently.
        return ensure_keys(conn, [KEY_REF])[KEY_REF].key  # generation 1 of the throttle key; never destroyed

    @staticmethod
    def _key(secret: bytes, scope: str, value: str) -> str:
        return f"{scope}:" + hmac.new(secret, f"{scope}\0{value}".encode(), hashlib.sha256).hexdigest()

    def _keys(self, secret: bytes, name: str, address: str | None) -> list[tuple[str, str]]:
        keys = [(ACCOUNT, self._key(secret, ACCOUNT, name))]
        if address:
            keys.append((ADDRESS, self._key(secret, ADDRESS, address)))
        return keys

    # -- policy arithmetic -----------------------------------------------------------------------
    def _window_open(self, row: SignInThrottle, now: float) -> bool:
        return now - row.window_start <= self.rules.failure_window_minutes * 60

    def _delay(self, scope: str, failures: int) -> float:
        threshold = self.rules.backoff_after_failures if scope == ACCOUNT else self.rules.address_backoff_after_failures
        if failures < threshold:
            return 0.0
        return min(self.rules.backoff_base_seconds * 2 ** min(failures - threshold, 32), self.rules.backoff_max_seconds)

    def _refusal(self, row: SignInThrottle, now: float) -> Refusal | None:
        if row.locked_until is not None and now < row.locked_until:
            return Refusal(row.scope, "locked", row.locked_until)
        if not self._window_open(row, now):
            return None
        retry_at = row.last_failure + self._delay(row.scope, row.failures)
        return Refusal(row.scope, "backoff", retry_at) if now < retry_at else None

    # -- the operations sign-in uses -------------------------------------------------------------
    def refusal(self, name: str, address: str | None, now: float) -> Refusal | None:
        """The refusal that applies to this attempt (a lock first, else the latest backoff), or None."""
        with self.engine.begin() as conn:
            keys = self._keys(self._lock(conn), name, address)
            rows = _rows(conn, [k for _, k in keys])
        found = [r for r in (self._refusal(row, now) for row in rows) if r is not None]
        locked = [r for r in found if r.reason == "locked"]
        return max(locked or found, key=lambda r: r.retry_at) if found else None

    def record_failure(self, name: str, address: str | None, now: float) -> Counter:
        """Count one failure against the name and the address; lock the account when it reaches the
        limit. Returns the account's counter (`locked_until` is set if this failure locked it)."""
        account = Counter(0, None, now)
        with self.engine.begin() as conn:
            for scope, key in self._keys(self._lock(conn), name, address):
                row = next(iter(_rows(conn, [key])), None)
                locked_now = row is not None and row.locked_until is not None and now < row.locked_until
                if row is None or not self._window_open(row, now):
                    failures, window_start = 1, now
                else:
                    failures, window_start = row.failures + 1, row.window_start
                locked_until = row.locked_until if row is not None and locked_now else None
                new_lock = None
                if scope == ACCOUNT and not locked_now and failures >= self.rules.lock_after_failures:
                    locked_until = new_lock = now + self.rules.lock_minutes * 60
                values = {"scope": scope, "failures": failures, "window_start": window_start, "last_failure": now, "locked_until": locked_until}
                table = SignInThrottle.__table__  # type: ignore[attr-defined]
                if row is None:
                    conn.execute(table.insert().values(key=key, **values))
                else:
                    conn.execute(table.update().where(table.c.key == key).values(**values))
                if scope == ACCOUNT:
                    account = Counter(failures, new_lock, now)
        return account

    def record_success(self, name: str) -> None:
        """A right password clears the account's counter (the address's counter runs out with its window,
        so one good account cannot launder guesses against others from the same address)."""
        self.clear(name)

    def clear(self, name: str) -> Counter | None:
        """Forget the account's failures and lock (an unlock); returns what was there."""
        with self.engine.begin() as conn:
            key = self._key(self._lock(conn), ACCOUNT, name)
            row = next(iter(_rows(conn, [key])), None)
            if row is None:
                return None
            conn.execute(delete(SignInThrottle).where(SignInThrottle.key == key))  # type: ignore[arg-type]
            return Counter(row.failures, row.locked_until, row.last_failure)

    def state(self, names: list[str], now: float) -> dict[str, Counter]:
        """The current counters of these account names (expired windows and locks count as clear)."""
        with self.engine.begin() as conn:
            secret = self._lock(conn)
            by_key = {self._key(secret, ACCOUNT, n): n for n in names}
            rows = _rows(conn, list(by_key))
        out = {}
        for row in rows:
            locked = row.locked_until if row.locked_until is not None and now < row.locked_until else None
            failures = row.failures if self._window_open(row, now) else 0
            if failures or locked:
                out[by_key[row.key]] = Counter(failures, locked, row.last_failure)
        return out
