"""The local sign-in as the app performs it: throttle check, password check, counters, audit.

Pages call `sign_in` and show the error's message; everything that decides lives here, so a second
front end (or cookie-based sessions) gets the same rules. See docs/accounts.md.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from core.identity.auth import authenticate
from core.identity.auth_events import UNKNOWN_USER, AccountLocked, SignInRefused, SignedOut
from core.errors import AuthError, SignInThrottled
from core.audit.events import SignIn
from core.ledger import Ledger
from core.policy.engine import Principal
from core.identity.throttle import Refusal, Throttle


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def when(ts: float, now: float) -> str:
    """'22:47:05 UTC (in 14 min)': the wall-clock time a user can act on, and how far away it is."""
    left = max(0.0, ts - now)
    wait = f"{int(left) + 1} s" if left < 90 else f"{round(left / 60)} min"
    return f"{datetime.fromtimestamp(ts, timezone.utc):%Y-%m-%d %H:%M:%S} UTC (in {wait})"


def throttle(ledger: Ledger) -> Throttle:
    return Throttle(ledger.engine, ledger.policy.files.sign_in)


def _refused(refusal: Refusal, now: float) -> SignInThrottled:
    if refusal.reason == "locked":
        return SignInThrottled(
            f"this account is locked after repeated failed sign-ins; try again after {when(refusal.retry_at, now)}",
            retry_at=refusal.retry_at, reason="locked",
            hint="a compliance officer can unlock it now with `ragledger users unlock NAME`")
    who = "this account" if refusal.scope == "account" else "your address"
    return SignInThrottled(f"too many failed sign-ins from {who}; try again after {when(refusal.retry_at, now)}",
                           retry_at=refusal.retry_at, reason="backoff")


def sign_in(ledger: Ledger, name: str, password: str, *, address: str | None = None, now: float | None = None) -> Principal:
    """Sign a local account in, or raise AuthError (SignInThrottled when the attempt was not checked).

    Every outcome is audited: the sign-in, a refused attempt, a lock. Only names of existing accounts
    enter the chain; what was typed otherwise may be an e-mail or a password."""
    now = time.time() if now is None else now
    policy = ledger.policy
    known = name in policy.principal_names()
    actor = name if known else UNKNOWN_USER
    role = policy.principals.principals[name].role if known else "unknown"
    counters = throttle(ledger)
    refusal = counters.refusal(name, address, now)
    if refusal is not None:
        ledger.audit.append(SignInRefused(actor=actor, actor_role=role, scope=refusal.scope, reason=refusal.reason, retry_at=iso(refusal.retry_at)))
        raise _refused(refusal, now)
    try:
        principal = authenticate(policy, name, password)
    except AuthError:
        account = counters.record_failure(name, address, now)
        ledger.audit.append(SignIn(actor=actor, actor_role="unknown", ok=False))
        if account.locked_until is not None:
            rules = policy.files.sign_in
            ledger.audit.append(AccountLocked(actor=actor, actor_role=role, account=actor, failures=account.failures,
                                              window_minutes=rules.failure_window_minutes, locked_until=iso(account.locked_until)))
            raise SignInThrottled(
                f"wrong user name or password; after {account.failures} failed sign-ins this account is locked "
                f"until {when(account.locked_until, now)}", retry_at=account.locked_until, reason="locked",
                hint="a compliance officer can unlock it now with `ragledger users unlock NAME`") from None
        raise
    counters.record_success(name)
    ledger.audit.append(SignIn(actor=principal.name, actor_role=principal.role, ok=True))
    return principal


def record_sign_out(ledger: Ledger, principal: Principal, reason: str, *, started_at: float | None, now: float | None = None) -> str:
    """Audit the end of a browser session (by the user, or by a timeout)."""
    now = time.time() if now is None else now
    minutes = round((now - started_at) / 60, 1) if started_at else 0.0
    return ledger.audit.append(SignedOut(actor=principal.name, actor_role=principal.role, reason=reason, session_minutes=minutes))
