"""What every `ragledger` command shares: the click group, --user, output and the ledger handle, and
`ledger_command`, which puts them together in the shape most commands take.

The commands (core/cli_commands/<area>.py) import this module and attach themselves to `cli`;
core/cli.py imports the commands and runs the group. Keeping the shared helpers here, below both,
is what keeps the command line free of an import circle (tests/test_architecture.py).
"""
from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable
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


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json_text(data))
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


def _user_settings(default: str | None) -> dict[str, Any]:
    return dict(envvar="RAGLEDGER_USER", default=default, show_default=True, required=default is None, callback=_authenticate,
                help="principal to act as (a name in policies/principals.yaml); its password or token from "
                     "RAGLEDGER_PASSWORD / RAGLEDGER_TOKEN, or a prompt, when policy requires a login")


def user_option(default: str | None = None):  # type: ignore[no-untyped-def]
    return click.option("--user", "user", **_user_settings(default))


def _show(shown: str | Iterable[str] | None) -> None:
    if shown is None:
        return
    for line in [shown] if isinstance(shown, str) else shown:
        click.echo(line)


def _named_params(fn: Callable[..., Any], skip: int) -> list[str]:
    return list(inspect.signature(fn).parameters)[skip:]


def ledger_command(group: click.Group, name: str, *, text: Callable[..., str | Iterable[str] | None] | None = None,
                   to_json: Callable[[Any], Any] | None = None, then: Callable[[Any], None] | None = None,
                   principal: bool = True, user: str | None = DEFAULT_CLI_USER, json_flag: bool = True):  # type: ignore[no-untyped-def]
    """Register `name` on `group` as a command that works on the ledger and returns what it found.

    Most commands did the same five things around one call into core: take --json, take --user, open
    the ledger, resolve the principal, then print JSON or text. Written out by hand each time, the
    copies differed only by accident (some printed through `emit`, some with an if/else of their
    own) and buried the one line that mattered. This keeps the shape in one place, so a command body
    is only its call into core:

        @ledger_command(documents, "list", text=_document_lines)
        def documents_list(ledger, principal):
            return list_documents(ledger, principal)

    The function is called as `fn(ledger, principal, **its own options)` (no principal with
    `principal=False`). Whatever it returns is printed as JSON under --json (`to_json(value)` first,
    when the JSON is a view of a richer value), otherwise as `text(value)`: a string, lines to print
    one by one, or None for nothing; without `text` the value itself is printed that way. `text` may
    name any of the command's options after the value (`lambda out, name: ...`) to be given them:
    the human sentence often repeats what was asked. `then(value)` runs after printing, for a verdict
    that must both show and exit non-zero (a failed verification, a regression).

    --json and --user are added after the command's own options, as they were written by hand.
    The function sees `as_json` only if it names it (to keep progress quiet under --json, where a
    script reads the output) and `user` only if it names it: the principal is what it acts as.
    `user=None` makes --user required; `json_flag=False` is for a command that only ever prints text.
    Errors are not caught here: core.cli.main turns them into the message, hint and exit code.
    """
    def decorate(fn: Callable[..., Any]) -> click.Command:
        fn_params = set(_named_params(fn, 2 if principal else 1))
        text_params = _named_params(text, 1) if text is not None else []

        def run(**options: Any) -> None:
            as_json = bool(options.get("as_json"))
            given = {k: v for k, v in options.items() if k not in ("as_json", "user") or k in fn_params}
            ledger = open_ledger()
            acting = (ledger.policy.principal(options["user"]),) if principal else ()
            value = fn(ledger, *acting, **given)
            if as_json:
                click.echo(json_text(to_json(value) if to_json is not None else value))
            else:
                _show(text(value, **{k: options[k] for k in text_params}) if text is not None else value)
            if then is not None:
                then(value)

        run.__doc__ = fn.__doc__
        run.__click_params__ = getattr(fn, "__click_params__", [])  # type: ignore[attr-defined]
        command = group.command(name)(run)
        if json_flag:
            command.params.append(click.Option(["--json", "as_json"], is_flag=True))
        if principal:
            command.params.append(click.Option(["--user", "user"], **_user_settings(user)))
        unknown = set(text_params) - {p.name for p in command.params}
        if unknown:
            raise TypeError(f"{name}: text names {sorted(unknown)}, which are not options of the command")
        return command

    return decorate
