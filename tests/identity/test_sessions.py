"""Session lifetime (core/identity/sessions.py): idle and absolute timeouts from the policy's `sign_in:`."""
from __future__ import annotations

import pytest

from core.policy.models import SignInPolicy
from core.identity.sessions import ABSOLUTE, IDLE, expiry_message, session_expiry

RULES = SignInPolicy(idle_timeout_minutes=30, absolute_timeout_hours=12)
H, M = 3600.0, 60.0


@pytest.mark.parametrize("started, last, now, expected", [
    (0, 0, 29 * M, None),
    (0, 0, 30 * M, IDLE),
    (0, 11 * H + 50 * M, 11 * H + 59 * M, None),  # active all day: still valid just before 12 h
    (0, 11 * H + 59 * M, 12 * H, ABSOLUTE),  # active, but the absolute limit wins
    (0, 0, 13 * H, ABSOLUTE),  # both passed: reported as absolute
])
def test_session_expiry(started: float, last: float, now: float, expected: str | None) -> None:
    assert session_expiry(started, last, now, RULES) == expected


def test_messages_name_the_limit() -> None:
    assert "30 minutes without activity" in expiry_message(IDLE, RULES)
    assert "12 hours" in expiry_message(ABSOLUTE, RULES)
