"""Browser session lifetime: an idle timeout and an absolute one, both from policy (`sign_in:`).

A pure function over timestamps, so the Streamlit page hook stays thin and cookie-based sessions
(should they come) can apply the same rule to their own stored times.
"""
from __future__ import annotations

from core.policy.models import SignInPolicy

IDLE, ABSOLUTE = "idle_timeout", "absolute_timeout"


def session_expiry(started_at: float, last_activity: float, now: float, rules: SignInPolicy) -> str | None:
    """Why the session has ended ("absolute_timeout" before "idle_timeout"), or None while it is valid."""
    if now - started_at >= rules.absolute_timeout_hours * 3600:
        return ABSOLUTE
    if now - last_activity >= rules.idle_timeout_minutes * 60:
        return IDLE
    return None


def expiry_message(reason: str, rules: SignInPolicy) -> str:
    """What the sign-in page tells the user after a timeout."""
    if reason == ABSOLUTE:
        return f"Your session ended after {rules.absolute_timeout_hours:g} hours; please sign in again."
    return f"You were signed out after {rules.idle_timeout_minutes:g} minutes without activity; please sign in again."
