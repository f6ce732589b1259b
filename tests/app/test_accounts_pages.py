"""AppTests of sign-in rules in the app: idle and absolute timeouts sign the session out (audited), a
locked account sees when it may retry even with the right password, demo passwords outside demo mode
stop the start naming the fix, and the demo home (`ragledger demo load`'s policies) lets alice in."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from auth_support import fail
from conftest import make_ledger
from core.workbench.accounts import unlock
from core.demo_home import prepare_demo_policies
from ui_support import errors, sign_in, signed_in_as, texts, widget

ACCOUNTS = "pages/accounts.py"


def sign_outs(home: Path) -> list[dict]:
    return make_ledger(home).audit.records(kinds=["sign_out"])


@pytest.mark.parametrize("key, age, reason, message", [
    ("last_activity", 31 * 60, "idle_timeout", "signed out after 30 minutes without activity"),
    ("started_at", 13 * 3600, "absolute_timeout", "session ended after 12 hours"),
])
def test_a_timed_out_session_must_sign_in_again(ui, key, age, reason, message) -> None:  # type: ignore[no-untyped-def]
    at = ui.sign_in("alice")
    assert signed_in_as(at) == "alice"
    at.run()  # activity: still signed in
    assert signed_in_as(at) == "alice" and not sign_outs(ui.home)
    # The session's row (core/identity/browser_sessions.py) is what a run checks: age it as time would.
    with make_ledger(ui.home).engine.begin() as conn:
        conn.execute(text(f"UPDATE browser_sessions SET {key} = :t WHERE principal = 'alice'"), {"t": time.time() - age})
    at.run()
    assert signed_in_as(at) is None and message in texts(at)
    assert "Ask the documents" not in texts(at), "the page is gone with the session"
    [record] = sign_outs(ui.home)
    assert record["actor"] == "alice" and record["payload"]["reason"] == reason
    again = ui.sign_in("alice")  # the browser's next load: the sign-in form
    assert signed_in_as(again) == "alice", "signing in again works"


def test_sign_out_button_is_audited(ui) -> None:  # type: ignore[no-untyped-def]
    at = ui.sign_in("bob")
    widget(at.sidebar.button, "Sign out").click().run()
    assert signed_in_as(at) is None
    assert [r["payload"]["reason"] for r in sign_outs(ui.home)] == ["user"]


def test_a_locked_account_is_told_when_to_retry_even_with_the_right_password(ui) -> None:  # type: ignore[no-untyped-def]
    led = make_ledger(ui.home)
    fail(led, "bob", led.policy.files.sign_in.lock_after_failures)
    at = ui.sign_in("bob")  # the right password
    assert signed_in_as(at) is None
    [error] = errors(at)
    assert "this account is locked after repeated failed sign-ins; try again after" in error and " UTC (in " in error
    assert "ragledger users unlock" in error
    assert make_ledger(ui.home).audit.records(kinds=["sign_in_refused"])[0]["actor"] == "bob"
    unlock(led, led.policy.principal("alice"), "bob")
    sign_in(at, "bob")
    assert signed_in_as(at) == "bob"


def test_demo_passwords_outside_demo_mode_stop_the_app_naming_the_fix(ui, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAGLEDGER_DEMO_MODE", "0")
    at = ui.app().run()
    [error] = errors(at)
    assert error.startswith("RAG Ledger cannot start: demo mode is off") and "ragledger users passwd alice" in error
    assert not at.text_input, "no sign-in form"


def test_the_demo_home_of_make_run_lets_alice_sign_in(ui, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RAGLEDGER_DEMO_MODE")  # as `make run` starts it: demo mode from the home's policies only
    at = ui.app().run()
    assert "RAG Ledger cannot start" in " ".join(errors(at)), "the checkout's policies are not in demo mode"
    prepare_demo_policies(ui.home)  # what `ragledger demo load` does to its home
    at = ui.sign_in("alice")
    assert signed_in_as(at) == "alice" and not errors(at)


def test_a_compliance_officer_unlocks_from_the_accounts_page(ui) -> None:  # type: ignore[no-untyped-def]
    led = make_ledger(ui.home)
    fail(led, "carol", led.policy.files.sign_in.lock_after_failures)
    at = ui.page(ACCOUNTS, "alice")
    frame = at.dataframe[0].value
    state = dict(zip(frame["account"], frame["state"]))
    assert state["carol"].startswith("locked until") and state["bob"] == "active"
    assert at.selectbox[0].value == "carol"
    at.button[0].click().run()
    assert "carol: unlocked (audited)." in [s.value for s in at.success]
    assert dict(zip(at.dataframe[0].value["account"], at.dataframe[0].value["state"]))["carol"] == "active"
    [record] = make_ledger(ui.home).audit.records(kinds=["account_unlock"])
    assert record["actor"] == "alice" and record["payload"]["account"] == "carol"


@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
def test_the_accounts_page_is_refused_to_other_roles(ui, user) -> None:  # type: ignore[no-untyped-def]
    at = ui.page(ACCOUNTS, user)
    assert any("Access denied" in e for e in errors(at)) and not at.dataframe
