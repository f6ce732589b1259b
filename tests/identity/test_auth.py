from __future__ import annotations

import pytest

from core.identity.auth import authenticate, check_password, hash_password
from core.config import REPO_ROOT
from core.errors import AuthError
from core.policy.engine import load_policy


def test_hashes_are_salted_and_verify() -> None:
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b and check_password("s3cret", a) and check_password("s3cret", b)
    assert not check_password("wrong", a)
    assert not check_password("s3cret", "plain-text")


@pytest.mark.parametrize("name", ["alice", "bob", "carol", "dave"])
def test_demo_accounts_sign_in_with_documented_password(name: str) -> None:
    policy = load_policy(REPO_ROOT / "policies")
    assert authenticate(policy, name, f"{name}-demo").name == name


@pytest.mark.parametrize("name,password", [("alice", "bob-demo"), ("nobody", "x"), ("ops", ""), ("ops", "ops-demo")])
def test_wrong_or_passwordless_accounts_are_refused_with_one_message(name: str, password: str) -> None:
    policy = load_policy(REPO_ROOT / "policies")
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(policy, name, password)


def _timings(fn, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    import time

    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def test_an_unknown_name_costs_as_much_as_a_wrong_password() -> None:
    """Median over many interleaved attempts (not one timed call): before the dummy hash an unknown name
    answered in 0.002 ms against 37 ms, a ratio near 0; now both run one scrypt, a ratio near 1."""
    import statistics

    policy = load_policy(REPO_ROOT / "policies")

    def attempt(name: str) -> None:
        with pytest.raises(AuthError, match="wrong user name or password"):
            authenticate(policy, name, "not-the-password")

    authenticate(policy, "alice", "alice-demo")  # warm up the dummy hash and scrypt's memory
    known, unknown, passwordless = [], [], []
    for _ in range(15):  # interleaved, so a burst of load on the shared machine hits all three alike
        known += _timings(lambda: attempt("bob"), 1)
        unknown += _timings(lambda: attempt("nobody-at-all"), 1)
        passwordless += _timings(lambda: attempt("ops"), 1)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, f"unknown/known median ratio {ratio:.2f}"
    assert 0.6 < statistics.median(passwordless) / statistics.median(known) < 1.6


def test_a_disabled_account_is_refused_with_the_same_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    folder = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", folder)
    text = (folder / "principals.yaml").read_text().replace("    role: hr_manager\n", "    role: hr_manager\n    disabled: true\n")
    (folder / "principals.yaml").write_text(text)
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate(load_policy(folder), "bob", "bob-demo")


@pytest.mark.parametrize("env, expected", [("1", True), ("true", True), ("0", False), ("no", False), ("", False)])
def test_demo_mode_comes_from_policy_unless_the_environment_forces_it(monkeypatch, env: str, expected: bool) -> None:  # type: ignore[no-untyped-def]
    from core.identity.auth import demo_mode

    monkeypatch.setenv("RAGLEDGER_DEMO_MODE", env)
    assert demo_mode(load_policy(REPO_ROOT / "policies")) is expected  # the checkout's policy.yaml: demo_mode false
