"""Authenticating the command line's principal, and naming it in every record it causes.

With `cli.require_login: true` in policies/policy.yaml (the production default, docs/audit.md) a
command that acts for a principal needs `--user NAME` and that principal's password (--password,
RAGLEDGER_PASSWORD, or a prompt on a terminal) or API token (--token / RAGLEDGER_TOKEN, checked
against `token_hash` in principals.yaml): no silent `ops`. Without it the default stays `ops`, and
the records still say so, with the OS account and host that ran the command (core/audit/origin.py).
Passwords and tokens are checked with core/identity/auth.py's functions; nothing here re-implements them.
"""
from __future__ import annotations

import sys

import click

from core.identity.auth import authenticate, check_password
from core.config import Settings
from core.errors import AuthError
from core.audit.origin import set_origin
from core.policy.engine import load_policy


def authenticate_cli(user: str | None, explicit: bool, password: str | None, token: str | None) -> str | None:
    if user is None:
        return None
    policy = load_policy(Settings.from_env().policies_dir)
    required = policy.files.cli.require_login
    if required and not explicit:
        raise AuthError("this ledger's policy requires every command to name its --user and authenticate",
                        hint="pass --user NAME with RAGLEDGER_PASSWORD or RAGLEDGER_TOKEN (policy cli.require_login)")
    method = "none"
    if token:
        entry = policy.principals.principals.get(user)
        if entry is None or not entry.token_hash or not check_password(token, entry.token_hash):
            raise AuthError("wrong user name or token", hint="ask an administrator for a token (token_hash in principals.yaml)")
        method = "token"
    elif password or (required and sys.stdin.isatty()):
        authenticate(policy, user, password if password is not None else click.prompt(f"Password for {user}", hide_input=True))
        method = "password"
    elif required:
        raise AuthError(f"{user} must authenticate: no password or token was given",
                        hint="set RAGLEDGER_PASSWORD or RAGLEDGER_TOKEN, or run it on a terminal to be asked")
    else:
        policy.principal(user)  # an unknown name fails here, before anything runs
    set_origin("cli", principal=user, auth=method, user_from="option" if explicit else "default")
    return user
