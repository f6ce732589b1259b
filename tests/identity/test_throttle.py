"""Throttled sign-in (core/identity/throttle.py, core/identity/sign_in.py) on SQLite and PostgreSQL: backoff, lock after N
failures in the window, the right password refused while locked, unlock, and counters shared by two
real processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auth_support import fail, policies_copy
from conftest import make_ledger
from core.workbench.accounts import unlock
from core.config import REPO_ROOT
from core.errors import AuthError, SignInThrottled
from core.identity.sign_in import sign_in, throttle


@pytest.fixture
def led(tmp_path, db_url):  # type: ignore[no-untyped-def]
    return make_ledger(tmp_path / "home", db_url)


def kinds(ledger, *names: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["kind"] for r in reversed(ledger.audit.records(kinds=list(names)))]


def test_lock_after_n_failures_refuses_the_right_password_until_unlocked(led) -> None:  # type: ignore[no-untyped-def]
    rules = led.policy.files.sign_in
    last, errors = fail(led, "bob", rules.lock_after_failures)
    assert [type(e) for e in errors[:-1]] == [AuthError] * (rules.lock_after_failures - 1)
    assert isinstance(errors[-1], SignInThrottled) and "locked until" in str(errors[-1])
    with pytest.raises(SignInThrottled, match="locked after repeated failed sign-ins; try again after .* UTC") as refused:
        sign_in(led, "bob", "bob-demo", now=last + 60)
    assert refused.value.retry_at == pytest.approx(last + rules.lock_minutes * 60)
    assert "ragledger users unlock" in str(refused.value)
    assert kinds(led, "account_lock", "sign_in_refused") == ["account_lock", "sign_in_refused"]
    lock = led.audit.records(kinds=["account_lock"])[0]
    assert lock["actor"] == "bob" and lock["payload"]["failures"] == rules.lock_after_failures

    out = unlock(led, led.policy.principal("alice"), "bob", now=last + 61)
    assert out["was_locked"] and out["failures_cleared"] == rules.lock_after_failures
    record = led.audit.records(kinds=["account_unlock"])[0]
    assert record["actor"] == "alice" and record["payload"] == {"account": "bob", "failures": 5, "was_locked": True}
    assert sign_in(led, "bob", "bob-demo", now=last + 62).name == "bob"
    assert led.audit.verify().ok


def test_a_lock_expires_after_lock_minutes(led) -> None:  # type: ignore[no-untyped-def]
    rules = led.policy.files.sign_in
    last, _ = fail(led, "carol", rules.lock_after_failures)
    with pytest.raises(SignInThrottled):
        sign_in(led, "carol", "carol-demo", now=last + rules.lock_minutes * 60 - 1)
    assert sign_in(led, "carol", "carol-demo", now=last + rules.lock_minutes * 60 + 1).name == "carol"


def test_backoff_doubles_after_the_threshold_and_is_audited(led) -> None:  # type: ignore[no-untyped-def]
    rules = led.policy.files.sign_in
    t0 = time.time()
    for i in range(rules.backoff_after_failures):
        with pytest.raises(AuthError, match="wrong user name or password"):
            sign_in(led, "dave", "nope", now=t0 + i * 0.1)
    last = t0 + (rules.backoff_after_failures - 1) * 0.1
    with pytest.raises(SignInThrottled, match="too many failed sign-ins from this account") as first:
        sign_in(led, "dave", "dave-demo", now=last + 0.5)
    assert first.value.retry_at == pytest.approx(last + rules.backoff_base_seconds)
    with pytest.raises(AuthError, match="wrong user name or password"):  # checked again once the wait is over
        sign_in(led, "dave", "nope", now=last + rules.backoff_base_seconds + 0.1)
    with pytest.raises(SignInThrottled) as second:
        sign_in(led, "dave", "dave-demo", now=last + rules.backoff_base_seconds + 0.2)
    assert second.value.retry_at - (last + rules.backoff_base_seconds + 0.1) == pytest.approx(2 * rules.backoff_base_seconds)
    refused = led.audit.records(kinds=["sign_in_refused"])
    assert [r["payload"]["reason"] for r in refused] == ["backoff", "backoff"] and refused[0]["actor"] == "dave"


def test_unknown_names_are_throttled_like_known_ones_and_never_named(led) -> None:  # type: ignore[no-untyped-def]
    rules = led.policy.files.sign_in
    last, errors = fail(led, "mallory@example.com", rules.lock_after_failures)
    assert isinstance(errors[-1], SignInThrottled), "a lock does not tell which names exist"
    with pytest.raises(SignInThrottled, match="locked"):
        sign_in(led, "mallory@example.com", "x", now=last + 1)
    trail = json.dumps(led.audit.records(), default=str)
    assert "mallory" not in trail and "(unknown user)" in trail


def test_one_address_guessing_many_names_must_wait(led) -> None:  # type: ignore[no-untyped-def]
    rules = led.policy.files.sign_in
    t0 = time.time() - 60
    for i in range(rules.address_backoff_after_failures):
        with pytest.raises(AuthError):
            sign_in(led, f"user{i}", "guess", address="203.0.113.9", now=t0 + i)
    last = t0 + rules.address_backoff_after_failures - 1
    with pytest.raises(SignInThrottled, match="from your address"):
        sign_in(led, "alice", "alice-demo", address="203.0.113.9", now=last + 0.5)
    assert sign_in(led, "alice", "alice-demo", address="198.51.100.4", now=last + 0.6).name == "alice"
    assert "203.0.113" not in json.dumps(led.audit.records(), default=str)


WORKER = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from core.config import Settings
from core.errors import AuthError
from core.ledger import Ledger
from core.identity.sign_in import sign_in

home, policies, url, go, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
ledger = Ledger.open(Settings(home=home, policies_dir=policies, database_url=url))
ledger.audit.count()  # open (and migrate) before the race starts
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)
outcomes = []
for _ in range(n):
    try:
        sign_in(ledger, "bob", sys.argv[6] if len(sys.argv) > 6 else "wrong-password", now=time.time())
        outcomes.append("ok")
    except AuthError as exc:
        outcomes.append(type(exc).__name__)
print(json.dumps(outcomes), flush=True)
"""


def _worker(home: Path, policies: Path, url: str, go: Path, n: int, *extra: str) -> subprocess.Popen:
    script = WORKER.format(root=str(REPO_ROOT))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, str(home), str(policies), url, str(go), str(n), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_share_the_counters(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    per_process = 6
    policies = policies_copy(tmp_path / "policies", lock_after_failures=2 * per_process + 1,
                             backoff_after_failures=1000, address_backoff_after_failures=1000)
    home = tmp_path / "home"
    led = make_ledger(home, db_url, policies)
    led.audit.count()
    go = tmp_path / "go"
    procs = [_worker(home, policies, db_url, go, per_process) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    go.touch()  # both start failing at the same moment
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == ["AuthError"] * per_process
    counter = throttle(led).state(["bob"], time.time())["bob"]
    assert counter.failures == 2 * per_process and counter.locked_until is None, "no failure was lost in the race"

    with pytest.raises(SignInThrottled, match="locked until"):  # the 13th failure, from this process, locks
        sign_in(led, "bob", "wrong-password")
    go2 = tmp_path / "go2"
    third = _worker(home, policies, db_url, go2, 1, "bob-demo")
    assert third.stdout.readline().strip() == "ready"
    go2.touch()
    out, err = third.communicate(timeout=240)
    assert json.loads(out.strip().splitlines()[-1]) == ["SignInThrottled"], "another process sees the lock"
    assert len(led.audit.records(kinds=["sign_in"])) == 2 * per_process + 1 and led.audit.verify().ok
