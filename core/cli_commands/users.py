"""`ragledger users list|add|passwd|disable|enable|unlock`: local accounts in policies/principals.yaml.

Passwords come from a hidden prompt or, with --password-stdin, from the first line of standard input;
never from the command line, where other users and the shell history would see them.
"""
from __future__ import annotations

import sys

import click

from core.cli_base import cli, ledger_command
from core.errors import RagLedgerError

password_stdin = click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise RagLedgerError("no password on standard input", hint="pipe it in: printf '%s\\n' \"$PASSWORD\" | ragledger users ...")
        return line.rstrip("\r\n")
    return click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)


def _policy_change(out: dict, what: str) -> str:
    return f"{what}; {out['file']} is now policy version {out['version']} (audit {out['audit_id']})"


def _account_lines(rows: list[dict]):  # type: ignore[no-untyped-def]
    for r in rows:
        state = "disabled" if r["disabled"] else f"locked until {r['locked_until']}" if r["locked_until"] else "active"
        notes = [n for n, on in (("no password", not r["password"]), ("DEMO PASSWORD", r["demo_password"]),
                                 (f"{r['recent_failures']} recent failures", r["recent_failures"])) if on]
        yield f"{r['name']:<14} {r['role']:<20} {r['clearance']:<13} {state:<34} {', '.join(notes)}"


@cli.group()
def users() -> None:
    """Local accounts (the fallback sign-in; OIDC is recommended in production, see docs/accounts.md)."""


@ledger_command(users, "list", text=_account_lines)
def users_list(ledger, actor) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every account with its role, state, and whether it still has its demo password."""
    from core.workbench.accounts import list_accounts

    return list_accounts(ledger, actor)


@ledger_command(users, "add", text=lambda out, name, role: _policy_change(out, f"added {name} ({role})"))
@click.argument("name")
@click.option("--role", required=True, help="a role in roles.yaml")
@click.option("--display-name", help="shown in the app (default: the name)")
@click.option("--groups", default="", help="comma-separated groups of policy.yaml")
@click.option("--clearance", type=click.Choice(["public", "internal", "confidential", "restricted"]), default="public", show_default=True)
@click.option("--no-password", is_flag=True, help="an account that cannot sign in to the app (a CLI actor, like ops)")
@password_stdin
def users_add(ledger, actor, name: str, role: str, display_name: str | None, groups: str, clearance: str, no_password: bool,  # type: ignore[no-untyped-def]
              password_stdin: bool) -> dict:
    """Add an account (validated and audited as a policy change)."""
    from core.workbench.accounts import add_account

    password = None if no_password else _read_password(password_stdin)
    return add_account(ledger, actor, name, role=role, password=password, display_name=display_name,
                       groups=[g.strip() for g in groups.split(",") if g.strip()], clearance=clearance)  # type: ignore[arg-type]


@ledger_command(users, "passwd", text=lambda out, name: _policy_change(out, f"new password for {name}"))
@click.argument("name")
@password_stdin
def users_passwd(ledger, actor, name: str, password_stdin: bool) -> dict:  # type: ignore[no-untyped-def]
    """Set a new password (at least the policy's minimum length; never a demo password)."""
    from core.workbench.accounts import set_password

    return set_password(ledger, actor, name, _read_password(password_stdin))


@ledger_command(users, "disable", text=lambda out, name: _policy_change(out, f"disabled {name}"))
@click.argument("name")
def users_disable(ledger, actor, name: str) -> dict:  # type: ignore[no-untyped-def]
    """Stop an account from signing in (its history stays in the audit trail)."""
    from core.workbench.accounts import set_disabled

    return set_disabled(ledger, actor, name, True)


@ledger_command(users, "enable", text=lambda out, name: _policy_change(out, f"enabled {name}"))
@click.argument("name")
def users_enable(ledger, actor, name: str) -> dict:  # type: ignore[no-untyped-def]
    """Let a disabled account sign in again."""
    from core.workbench.accounts import set_disabled

    return set_disabled(ledger, actor, name, False)


@ledger_command(users, "unlock", text=lambda out, name: f"{name}: {'unlocked' if out['was_locked'] else 'was not locked'}; "
                                                        f"{out['failures_cleared']} recent failures cleared (audit {out['audit_id']})")
@click.argument("name")
def users_unlock(ledger, actor, name: str) -> dict:  # type: ignore[no-untyped-def]
    """Clear an account's sign-in lock and failure count now (audited)."""
    from core.workbench.accounts import unlock

    return unlock(ledger, actor, name)
