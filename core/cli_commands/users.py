"""`ragledger users list|add|passwd|disable|enable|unlock`: local accounts in policies/principals.yaml.

Passwords come from a hidden prompt or, with --password-stdin, from the first line of standard input;
never from the command line, where other users and the shell history would see them.
"""
from __future__ import annotations

import sys

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, open_ledger, user_option
from core.errors import RagLedgerError

password_stdin = click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise RagLedgerError("no password on standard input", hint="pipe it in: printf '%s\\n' \"$PASSWORD\" | ragledger users ...")
        return line.rstrip("\r\n")
    return click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)


def _acting(user: str):  # type: ignore[no-untyped-def]
    ledger = open_ledger()
    return ledger, ledger.policy.principal(user)


def _done(out: dict, what: str, as_json: bool) -> None:
    emit(out, as_json, f"{what}; {out['file']} is now policy version {out['version']} (audit {out['audit_id']})")


@cli.group()
def users() -> None:
    """Local accounts (the fallback sign-in; OIDC is recommended in production, see docs/accounts.md)."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_list(as_json: bool, user: str) -> None:
    """Every account with its role, state, and whether it still has its demo password."""
    from core.workbench.accounts import list_accounts

    ledger, actor = _acting(user)
    rows = list_accounts(ledger, actor)
    if as_json:
        emit(rows, True)
        return
    for r in rows:
        state = "disabled" if r["disabled"] else f"locked until {r['locked_until']}" if r["locked_until"] else "active"
        notes = [n for n, on in (("no password", not r["password"]), ("DEMO PASSWORD", r["demo_password"]),
                                 (f"{r['recent_failures']} recent failures", r["recent_failures"])) if on]
        click.echo(f"{r['name']:<14} {r['role']:<20} {r['clearance']:<13} {state:<34} {', '.join(notes)}")


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, help="a role in roles.yaml")
@click.option("--display-name", help="shown in the app (default: the name)")
@click.option("--groups", default="", help="comma-separated groups of policy.yaml")
@click.option("--clearance", type=click.Choice(["public", "internal", "confidential", "restricted"]), default="public", show_default=True)
@click.option("--no-password", is_flag=True, help="an account that cannot sign in to the app (a CLI actor, like ops)")
@password_stdin
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_add(name: str, role: str, display_name: str | None, groups: str, clearance: str, no_password: bool,
              password_stdin: bool, as_json: bool, user: str) -> None:
    """Add an account (validated and audited as a policy change)."""
    from core.workbench.accounts import add_account

    ledger, actor = _acting(user)
    password = None if no_password else _read_password(password_stdin)
    out = add_account(ledger, actor, name, role=role, password=password, display_name=display_name,
                      groups=[g.strip() for g in groups.split(",") if g.strip()], clearance=clearance)  # type: ignore[arg-type]
    _done(out, f"added {name} ({role})", as_json)


@users.command("passwd")
@click.argument("name")
@password_stdin
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_passwd(name: str, password_stdin: bool, as_json: bool, user: str) -> None:
    """Set a new password (at least the policy's minimum length; never a demo password)."""
    from core.workbench.accounts import set_password

    ledger, actor = _acting(user)
    out = set_password(ledger, actor, name, _read_password(password_stdin))
    _done(out, f"new password for {name}", as_json)


@users.command("disable")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_disable(name: str, as_json: bool, user: str) -> None:
    """Stop an account from signing in (its history stays in the audit trail)."""
    from core.workbench.accounts import set_disabled

    ledger, actor = _acting(user)
    _done(set_disabled(ledger, actor, name, True), f"disabled {name}", as_json)


@users.command("enable")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_enable(name: str, as_json: bool, user: str) -> None:
    """Let a disabled account sign in again."""
    from core.workbench.accounts import set_disabled

    ledger, actor = _acting(user)
    _done(set_disabled(ledger, actor, name, False), f"enabled {name}", as_json)


@users.command("unlock")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def users_unlock(name: str, as_json: bool, user: str) -> None:
    """Clear an account's sign-in lock and failure count now (audited)."""
    from core.workbench.accounts import unlock

    ledger, actor = _acting(user)
    out = unlock(ledger, actor, name)
    emit(out, as_json, f"{name}: {'unlocked' if out['was_locked'] else 'was not locked'}; "
                       f"{out['failures_cleared']} recent failures cleared (audit {out['audit_id']})")
