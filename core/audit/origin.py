"""Where an audit record came from: the channel (cli, app, process), how its principal was
authenticated, and the operating-system account, host and process that ran it.

It is process-wide because one CLI invocation is one process acting for one principal; the CLI
sets it once after authenticating `--user` (core/cli.py), the app sets its channel at start. The
record stores it as JSON in `audit_records.origin`, covered by the record's hash and Merkle leaf.
"""
from __future__ import annotations

import json
import os
import pwd
import socket
from typing import Any

_context: dict[str, Any] = {"channel": "process"}
_cache: tuple[int, str] | None = None


def os_account() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a container user without a passwd entry: the number is still the account
        return str(os.getuid())


def set_origin(channel: str, **facts: Any) -> None:
    """Name the channel and facts (auth method, principal) for every record this process appends."""
    global _cache
    _context.clear()
    _context.update({"channel": channel, **facts})
    _cache = None


def current_origin() -> str:
    global _cache
    pid = os.getpid()
    if _cache is None or _cache[0] != pid:  # recomputed after a fork
        data = {**_context, "os_user": os_account(), "host": socket.gethostname(), "pid": pid}
        _cache = (pid, json.dumps(data, sort_keys=True))
    return _cache[1]
