"""Session cookies (core/identity/browser_sessions.py) on the real ledger database: a token resumes its session
until sign-out, a timeout or a disabled account refuses it, and each end is audited once."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text

from conftest import make_ledger
from core.identity.browser_sessions import close_session, open_session, resume
from core.config import REPO_ROOT
from core.errors import AuthError, SessionEnded

T0 = 1_800_000_000.0


def sign_outs(ledger, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        rows = conn.execute(text("SELECT payload FROM audit_records WHERE kind = 'sign_out' AND actor = :a ORDER BY seq"), {"a": user})
        import json

        return [json.loads(p)["reason"] for (p,) in rows]


def test_a_token_resumes_its_session_with_the_original_start(ledger) -> None:  # type: ignore[no-untyped-def]
    token = open_session(ledger, ledger.policy.principal("carol"), now=T0)
    later = resume(ledger, token, now=T0 + 600)
    assert later.principal.name == "carol" and later.started_at == T0
    assert resume(ledger, token, now=T0 + 1200).principal.role == ledger.policy.principal("carol").role


def test_the_database_holds_no_usable_token(ledger) -> None:  # type: ignore[no-untyped-def]
    token = open_session(ledger, ledger.policy.principal("carol"), now=T0)
    with ledger.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(text("SELECT * FROM browser_sessions")) for v in row]
    assert not any(token in v for v in stored)


def test_a_cookie_is_refused_after_sign_out(ledger) -> None:  # type: ignore[no-untyped-def]
    token = open_session(ledger, ledger.policy.principal("carol"), now=T0)
    assert close_session(ledger, token, now=T0 + 60)
    with pytest.raises(SessionEnded) as exc:
        resume(ledger, token, now=T0 + 61)
    assert exc.value.reason == "user" and isinstance(exc.value, AuthError)


@pytest.mark.parametrize("after, reason", [("idle", "idle_timeout"), ("absolute", "absolute_timeout")])
def test_a_cookie_is_refused_after_expiry_and_the_end_is_audited_once(ledger, after, reason) -> None:  # type: ignore[no-untyped-def]
    rules = ledger.policy.files.sign_in
    token = open_session(ledger, ledger.policy.principal("carol"), now=T0)
    now = T0
    if after == "absolute":  # active all along: only the absolute limit ends it
        step = rules.idle_timeout_minutes * 60 / 2
        while now + step < T0 + rules.absolute_timeout_hours * 3600:
            now += step
            resume(ledger, token, now=now)
        now = T0 + rules.absolute_timeout_hours * 3600
    else:
        now = T0 + rules.idle_timeout_minutes * 60
    with pytest.raises(SessionEnded) as exc:
        resume(ledger, token, now=now)
    assert exc.value.reason == reason and "sign in again" in str(exc.value)
    with pytest.raises(SessionEnded):  # refused for good, even if the clock were turned back
        resume(ledger, token, now=T0 + 1)
    assert sign_outs(ledger, "carol") == [reason]


def test_an_unknown_token_is_refused(ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SessionEnded):
        resume(ledger, "made-up", now=T0)


def test_disabling_the_account_ends_its_sessions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.workbench.accounts import set_disabled

    policies = shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    ledger = make_ledger(tmp_path / "home", policies=policies)
    token = open_session(ledger, ledger.policy.principal("carol"))
    set_disabled(ledger, ledger.policy.principal("alice"), "carol", True)
    with pytest.raises(SessionEnded) as exc:
        resume(ledger, token)
    assert exc.value.reason == "account_disabled"
