"""What every `ragledger` command shares: the click group, --user, output and the ledger handle.

The commands (core/cli_commands/<area>.py) import this module and attach themselves to `cli`;
core/cli.py imports the commands and runs the group. Keeping the shared helpers here, below both,
is what keeps the command line free of an import circle (tests/test_architecture.py).
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from core.errors import InvalidInput, RagLedgerError

DEFAULT_CLI_USER = "ops"
# Commands that must run while the start-up check fails: they are how it is fixed.
START_CHECK_EXEMPT = {"users", "demo"}
# How the CLI names the field of an InvalidInput (core/errors.py); a page names its widget instead.
INPUT_FLAGS: dict[str, str] = {}


def register_flags(flags: dict[str, str]) -> None:
    """Each command module registers the flags that carry core's input fields."""
    INPUT_FLAGS.update(flags)


def cli_hint(exc: RagLedgerError) -> str | None:
    if isinstance(exc, InvalidInput) and exc.field in INPUT_FLAGS:
        flag = f"pass {INPUT_FLAGS[exc.field]}"
        return f"{flag}; {exc.hint}" if exc.hint else flag
    return exc.hint


@click.group()
@click.version_option(package_name="ragledger")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """RAG Ledger: governed retrieval, audit, erasure and model lineage."""
    if ctx.invoked_subcommand not in START_CHECK_EXEMPT and "--help" not in sys.argv[1:]:
        from core.workbench.accounts import check_start_at
        from core.config import Settings

        check_start_at(Settings.from_env().policies_dir)  # demo passwords outside demo mode stop here


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif human is not None:
        click.echo(human)


def open_ledger():  # type: ignore[no-untyped-def]
    from core.ledger import Ledger

    return Ledger.open()


def _authenticate(ctx: click.Context, param: click.Parameter, user: str | None) -> str | None:
    """Who runs this command: with policy `cli.require_login`, a --user with a password or token
    (never a silent default); either way every record names the OS account and host (core/audit/origin.py)."""
    from core.cli_auth import authenticate_cli

    source = ctx.get_parameter_source("user")
    explicit = source is not None and source.name != "DEFAULT"
    # Secrets come from the environment (or a prompt), never from argv, where `ps` and shell history see them.
    return authenticate_cli(user, explicit, os.environ.get("RAGLEDGER_PASSWORD"), os.environ.get("RAGLEDGER_TOKEN"))


def user_option(default: str | None = None):  # type: ignore[no-untyped-def]
    def decorate(f):  # type: ignore[no-untyped-def]
        return click.option("--user", "user", envvar="RAGLEDGER_USER", default=default, show_default=True, required=default is None,
                            callback=_authenticate,
                            help="principal to act as (a name in policies/principals.yaml); its password or token from "
                                 "RAGLEDGER_PASSWORD / RAGLEDGER_TOKEN, or a prompt, when policy requires a login")(f)

    return decorate

