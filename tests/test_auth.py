from __future__ import annotations

import pytest

from core.auth import authenticate, check_password, hash_password
from core.config import REPO_ROOT
from core.errors import AuthError
from core.policy import load_policy


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
