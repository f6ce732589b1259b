"""`ragledger users ...` as an operator runs it (real subprocesses) on a COPY of the policies: changes
are validated, written atomically, audited as policy changes; bad input leaves the file untouched; the
start-up refusal of demo passwords outside demo mode names the command that fixes it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auth_support import fail, policies_copy
from conftest import make_ledger
from core.identity.auth import authenticate
from core.config import Settings
from core.policy.engine import load_policy

STRONG = "correct horse battery staple"


def ragledger(home: Path, policies: Path | None, *args: str, stdin: str | None = None, demo: str = "1") -> subprocess.CompletedProcess:
    env = {**os.environ, "RAGLEDGER_HOME": str(home), "RAGLEDGER_DEMO_MODE": demo}
    env.pop("RAGLEDGER_USER", None)
    env.pop("RAGLEDGER_POLICIES", None)
    if policies is not None:
        env["RAGLEDGER_POLICIES"] = str(policies)
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    return tmp_path / "home", policies_copy(tmp_path / "policies")


def ledger_of(home: Path, policies: Path):  # type: ignore[no-untyped-def]
    return make_ledger(home, Settings.from_env(home).database_url, policies)


def test_add_passwd_disable_enable_are_validated_atomic_and_audited(setup) -> None:  # type: ignore[no-untyped-def]
    home, policies = setup
    version0 = load_policy(policies).version
    out = ragledger(home, policies, "users", "add", "erin", "--role", "employee", "--groups", "all-staff",
                    "--clearance", "internal", "--display-name", "Erin (Support)", "--password-stdin", "--json", stdin=STRONG + "\n")
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout)
    text = (policies / "principals.yaml").read_text()
    assert "# The CLI's default actor" in text, "the file's comments are kept"
    assert STRONG not in text and not list(policies.glob("*.tmp")), "a hash, written through a renamed temp file"
    policy = load_policy(policies)
    assert added["version"] == policy.version != version0
    assert authenticate(policy, "erin", STRONG).display_name == "Erin (Support)"

    assert ragledger(home, policies, "users", "passwd", "bob", "--password-stdin", stdin=STRONG + "!\n").returncode == 0
    policy = load_policy(policies)
    assert authenticate(policy, "bob", STRONG + "!").name == "bob"
    with pytest.raises(Exception, match="wrong user name or password"):
        authenticate(policy, "bob", "bob-demo")
    listed = {r["name"]: r for r in json.loads(ragledger(home, policies, "users", "list", "--json").stdout)}
    assert not listed["bob"]["demo_password"] and listed["alice"]["demo_password"] and not listed["ops"]["password"]

    assert ragledger(home, policies, "users", "disable", "bob").returncode == 0
    with pytest.raises(Exception, match="wrong user name or password"):
        authenticate(load_policy(policies), "bob", STRONG + "!")
    assert "disabled" in ragledger(home, policies, "users", "list").stdout
    assert ragledger(home, policies, "users", "enable", "bob").returncode == 0
    assert authenticate(load_policy(policies), "bob", STRONG + "!").name == "bob"

    changes = ledger_of(home, policies).audit.records(kinds=["policy_change"])
    assert [c["payload"]["filename"] for c in changes] == ["principals.yaml"] * 4 and all(c["actor"] == "ops" for c in changes)
    assert changes[0]["payload"]["version_after"] == load_policy(policies).version
    assert all(c["payload"]["version_before"] != c["payload"]["version_after"] for c in changes)


BAD = [
    (["add", "alice", "--role", "employee", "--password-stdin"], STRONG, "already exists"),
    (["add", "erin", "--role", "superuser", "--password-stdin"], STRONG, "unknown role 'superuser'"),
    (["add", "erin", "--role", "employee", "--groups", "nope", "--password-stdin"], STRONG, "unknown group"),
    (["add", "Erin!", "--role", "employee", "--password-stdin"], STRONG, "must be lowercase"),
    (["add", "erin", "--role", "employee", "--password-stdin"], "short", "too short (5 characters; at least 12)"),
    (["add", "maximilian", "--role", "employee", "--password-stdin"], "maximilian-demo", "published demo password"),
    (["passwd", "bob", "--password-stdin"], "bob-demo", "too short"),
    (["passwd", "alice", "--password-stdin"], "Maximilian-Demo", None),  # allowed: not an account's demo password
    (["passwd", "mallory", "--password-stdin"], STRONG, "no account named 'mallory'"),
    (["passwd", "bob", "--password-stdin"], "", "no password on standard input"),
    (["disable", "mallory"], None, "no account named 'mallory'"),
    (["enable", "bob"], None, "already enabled"),
    (["unlock", "mallory"], None, "no account named 'mallory'"),
    (["passwd", "bob", "--password", STRONG], None, "No such option"),  # never on the command line
    (["--user", "carol", "add", "erin", "--role", "employee", "--password-stdin"], STRONG, "may not 'policy.edit'"),
]


@pytest.mark.parametrize("args, stdin, message", BAD, ids=[" ".join(a[:2]) + f" {m}" for a, _, m in BAD])
def test_bad_input_is_a_clear_error_and_the_file_is_untouched(setup, args, stdin, message) -> None:  # type: ignore[no-untyped-def]
    home, policies = setup
    before = (policies / "principals.yaml").read_bytes()
    if args[0] == "--user":
        args = [args[2], *args[:2], *args[3:]]
    out = ragledger(home, policies, "users", *args, stdin=None if stdin is None else (stdin + "\n" if stdin else ""))
    if message is None:
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode != 0 and message in out.stderr, out.stderr
    assert (policies / "principals.yaml").read_bytes() == before


def test_unlock_clears_a_lock_made_by_failed_sign_ins(setup) -> None:  # type: ignore[no-untyped-def]
    home, policies = setup
    led = ledger_of(home, policies)
    fail(led, "bob", led.policy.files.sign_in.lock_after_failures)
    assert "locked until" in ragledger(home, policies, "users", "list").stdout
    out = ragledger(home, policies, "users", "unlock", "bob")
    assert out.returncode == 0 and "bob: unlocked; 5 recent failures cleared" in out.stdout, out.stderr
    assert led.audit.records(kinds=["account_unlock"])[0]["actor"] == "ops"
    assert "locked" not in ragledger(home, policies, "users", "list").stdout


def test_demo_passwords_outside_demo_mode_stop_the_cli_naming_the_fix(setup) -> None:  # type: ignore[no-untyped-def]
    home, policies = setup
    refused = ragledger(home, policies, "documents", "list", demo="0")
    assert refused.returncode == 1
    assert "still have their demo password: alice, bob, carol, dave" in refused.stderr
    assert "ragledger users passwd alice" in refused.stderr
    assert ragledger(home, policies, "documents", "list", demo="1").returncode == 0, "demo mode lets it start"
    for name in ("alice", "bob", "carol"):
        assert ragledger(home, policies, "users", "passwd", name, "--password-stdin", stdin=f"{STRONG} {name}\n", demo="0").returncode == 0
    still = ragledger(home, policies, "documents", "list", demo="0")
    assert still.returncode == 1 and "demo password: dave" in still.stderr and "ragledger users passwd dave" in still.stderr
    assert ragledger(home, policies, "users", "disable", "dave", demo="0").returncode == 0
    assert ragledger(home, policies, "documents", "list", demo="0").returncode == 0


def test_the_demo_home_holds_its_own_policies_in_demo_mode(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.workbench.accounts import check_start
    from core.config import REPO_ROOT
    from core.demo_home import prepare_demo_policies

    monkeypatch.delenv("RAGLEDGER_DEMO_MODE")
    monkeypatch.delenv("RAGLEDGER_POLICIES", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    assert Settings.from_env(home).policies_dir == (REPO_ROOT / "policies").resolve()
    with pytest.raises(Exception, match="ragledger users passwd alice"):
        check_start(load_policy(Settings.from_env(home).policies_dir))
    folder, status = prepare_demo_policies(home)
    assert status == "created" and Settings.from_env(home).policies_dir == folder.resolve()
    policy = load_policy(folder)
    assert policy.files.demo_mode and "# Demo mode" in (folder / "policy.yaml").read_text()
    check_start(policy)  # no refusal in the demo home
    assert prepare_demo_policies(home)[1] == "refreshed", "an unedited copy follows the checkout"
    out = ragledger(home, None, "users", "passwd", "bob", "--password-stdin", stdin=STRONG + "\n", demo="")
    assert out.returncode == 0 and str(folder) in out.stdout, "the CLI edits the home's copy, not the checkout"
    assert prepare_demo_policies(home)[1] == "kept", "an edited copy is never overwritten"
    assert authenticate(load_policy(folder), "bob", STRONG).name == "bob"
