"""The `ragledger` command line: a second face on the same core as the app.

Errors from core are translated here, once: a message, the next thing to try, an exit code.
Each area's commands live in core/cli_commands/<area>.py and attach themselves to `cli`
(core/cli_base.py), which this module imports whole.
"""
from __future__ import annotations

import sys

import click

from core.cli_base import cli, cli_hint
from core.cli_commands import audit, compliance, documents, evaluation, models, purge, query, users  # noqa: F401  (attach their commands)
from core.errors import RagLedgerError

__all__ = ["cli", "main"]


def main() -> None:
    from core.audit.origin import set_origin

    set_origin("cli", auth="none")  # until a --user is authenticated (core/cli_auth.py)

    try:
        cli.main(standalone_mode=False)
    except RagLedgerError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        hint = cli_hint(exc)
        if hint:
            click.echo(f"  {hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
