"""`ledger_command` (core/cli_base.py), the shape most `ragledger` commands share, on a real ledger:
the function gets the opened ledger and the principal --user names, and what it returns is printed
as JSON under --json or as text otherwise; errors still leave through core.cli.main with the message,
hint and exit code they had before the commands moved onto it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.cli_base import ledger_command


@pytest.fixture
def home(ledger, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    """The `ledger` fixture's home, as the commands find it: through RAGLEDGER_HOME alone."""
    for name in ("RAGLEDGER_USER", "RAGLEDGER_POLICIES", "RAGLEDGER_DATABASE_URL", "RAGLEDGER_PASSWORD", "RAGLEDGER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return ledger.settings.home


class Seen:
    """A value richer than its JSON, as most core results are (they carry `as_dict`)."""

    def __init__(self, ledger, principal, **extra) -> None:  # type: ignore[no-untyped-def]
        self.home, self.name, self.role, self.extra = str(ledger.settings.home), principal.name, principal.role, extra

    def as_dict(self) -> dict:
        return {"home": self.home, "principal": self.name, "role": self.role, **self.extra}


def _group() -> click.Group:
    group = click.Group("t")

    @ledger_command(group, "whoami", to_json=lambda seen: seen.as_dict(), text=lambda seen: [f"{seen.name} ({seen.role})", "done"])
    def whoami(ledger, principal):  # type: ignore[no-untyped-def]
        return Seen(ledger, principal)

    @ledger_command(group, "greet", user=None, text=lambda out, greeting: f"{greeting}, {out['name']}")
    @click.option("--greeting", default="hello")
    def greet(ledger, principal, greeting: str, as_json: bool):  # type: ignore[no-untyped-def]
        return Seen(ledger, principal, greeting=greeting, quiet=as_json).as_dict() | {"name": principal.name}

    @ledger_command(group, "home", principal=False, json_flag=False)
    def home_cmd(ledger) -> str:  # type: ignore[no-untyped-def]
        return str(ledger.settings.home)

    @ledger_command(group, "verdict", text=lambda out: f"ok: {out['ok']}", then=lambda out: None if out["ok"] else sys.exit(7))
    @click.option("--fail", is_flag=True)
    def verdict(ledger, principal, fail: bool) -> dict:  # type: ignore[no-untyped-def]
        return {"ok": not fail}

    return group


def invoke(*args: str, env: dict | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(_group(), list(args), env=env)


def test_text_by_default_json_with_the_flag(home) -> None:  # type: ignore[no-untyped-def]
    text = invoke("whoami")
    assert text.exit_code == 0, text.output
    assert text.stdout == "ops (compliance_officer)\ndone\n", "lines are printed one by one; --user defaults to ops"
    as_json = invoke("whoami", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"home": str(home), "principal": "ops", "role": "compliance_officer"}
    assert as_json.stdout == json.dumps(json.loads(as_json.stdout), indent=2) + "\n", "the same layout `emit` prints"


def test_the_principal_is_the_one_user_names(home) -> None:  # type: ignore[no-untyped-def]
    assert invoke("whoami", "--user", "alice").stdout.splitlines()[0] == "alice (compliance_officer)"
    assert invoke("whoami", env={"RAGLEDGER_USER": "carol"}).stdout.splitlines()[0] == "carol (employee)"
    assert json.loads(invoke("whoami", "--json", "--user", "dave").stdout)["principal"] == "dave"


def test_text_is_given_the_options_it_names_and_the_function_as_json_when_it_names_it(home) -> None:  # type: ignore[no-untyped-def]
    assert invoke("greet", "--user", "bob", "--greeting", "hi").stdout == "hi, bob\n"
    out = json.loads(invoke("greet", "--user", "bob", "--json").stdout)
    assert out["greeting"] == "hello" and out["quiet"] is True and out["name"] == "bob"
    assert "--json" not in invoke("home", "--help").stdout and "--user" not in invoke("home", "--help").stdout
    assert invoke("home").stdout == f"{home}\n", "a string value is printed as it is"


def test_a_required_user_that_is_missing_fails_as_it_did_by_hand(home) -> None:  # type: ignore[no-untyped-def]
    # click 8.5 takes the explicit default=None for a value, so a required --user left out arrives as
    # None and the policy refuses it: what `ask` without --user said before the decorator, and still says.
    missing = invoke("greet")
    assert missing.exit_code != 0 and missing.exception.message == "unknown principal None"


def test_then_runs_after_the_output_so_a_verdict_both_shows_and_exits(home) -> None:  # type: ignore[no-untyped-def]
    assert invoke("verdict").exit_code == 0
    failed = invoke("verdict", "--fail")
    assert failed.exit_code == 7 and failed.stdout == "ok: False\n"
    failed_json = invoke("verdict", "--fail", "--json")
    assert failed_json.exit_code == 7 and json.loads(failed_json.stdout) == {"ok": False}


def test_a_text_naming_an_option_the_command_lacks_fails_when_defined() -> None:
    group = click.Group("t")
    with pytest.raises(TypeError, match=r"text names \['name'\]"):
        @ledger_command(group, "broken", text=lambda out, name: name)
        def broken(ledger, principal):  # type: ignore[no-untyped-def]
            return None


def ragledger(monkeypatch, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """The real entry point, core.cli.main, as the shell runs it: its error translation included."""
    from core.audit.origin import set_origin
    from core.cli import main

    monkeypatch.setattr(sys, "argv", ["ragledger", *args])
    with CliRunner().isolation(input=stdin) as (out, err, _):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            set_origin("process")  # main names this process a CLI for the records it appends
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_converted_commands_keep_their_errors_hints_and_exit_codes(home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, err = ragledger(monkeypatch, "documents", "list", "--user", "mallory")
    assert code == 3 and out == ""
    assert err == ("Error: unknown principal 'mallory'\n"
                   "  check the name (--user or RAGLEDGER_USER); accounts are defined in policies/principals.yaml\n")
    code, out, err = ragledger(monkeypatch, "users", "unlock", "bob", "--user", "carol", "--json")
    assert code == 4 and out == "" and "may not 'policy.edit'" in err
    code, out, err = ragledger(monkeypatch, "ask", "hi")
    assert code == 3 and err.startswith("Error: unknown principal None\n"), "ask's --user is required, as before"
    code, out, err = ragledger(monkeypatch, "models", "flag", "--reason", "disputed")
    assert code == 2 and "give either a CHECKPOINT_ID or --doc" in err


def test_converted_commands_print_what_they_printed(home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = ragledger(monkeypatch, "users", "unlock", "bob")
    assert code == 0 and out.startswith("bob: was not locked; 0 recent failures cleared (audit ") and out.endswith(")\n")
    code, out, _ = ragledger(monkeypatch, "users", "unlock", "bob", "--json")
    assert code == 0 and json.loads(out)["was_locked"] is False
    code, out, _ = ragledger(monkeypatch, "documents", "list", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = ragledger(monkeypatch, "documents", "list")
    assert code == 0 and out == "", "no documents, no lines (not an empty one)"
    code, out, _ = ragledger(monkeypatch, "audit", "checkpoint", "--new")
    assert code == 0 and out.endswith("\n") and not out.endswith("\n\n"), "the signed note byte for byte"
    code, key, _ = ragledger(monkeypatch, "audit", "key")
    assert code == 0 and key.count("\n") == 1 and key.split("+")[0] == out.splitlines()[0], "the key names the log's origin"
