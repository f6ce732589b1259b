"""Audit events of local accounts: refused sign-in attempts, locks, unlocks and sign-outs.

Payloads hold account names (already the chain's actors), reasons and times; never a typed
unknown name, a password or a client address."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.audit.events import AuditEvent

UNKNOWN_USER = "(unknown user)"


@dataclass
class SignInRefused(AuditEvent):
    """An attempt that was not even checked: the account is locked, or the account or address must wait."""

    kind: ClassVar[str] = "sign_in_refused"
    scope: str = ""  # account | address
    reason: str = ""  # locked | backoff
    retry_at: str = ""  # ISO 8601 UTC


@dataclass
class AccountLocked(AuditEvent):
    kind: ClassVar[str] = "account_lock"
    account: str = ""
    failures: int = 0
    window_minutes: float = 0.0
    locked_until: str = ""  # ISO 8601 UTC


@dataclass
class AccountUnlocked(AuditEvent):
    """A compliance officer cleared an account's lock and failure count (actor: the officer)."""

    kind: ClassVar[str] = "account_unlock"
    account: str = ""
    was_locked: bool = False
    failures: int = 0


@dataclass
class SignedOut(AuditEvent):
    kind: ClassVar[str] = "sign_out"
    reason: str = "user"  # user | idle_timeout | absolute_timeout
    session_minutes: float = 0.0
