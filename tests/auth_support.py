"""Helpers for the account and sign-in tests: a private, editable copy of the policies, and a way to
lock an account through the real sign-in path (failures spaced apart, as an attacker's clock would)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from core.config import REPO_ROOT
from core.errors import AuthError
from core.ledger import Ledger
from core.identity.sign_in import sign_in


def policies_copy(dest: Path, **sign_in_rules: Any) -> Path:
    """policies/ copied to `dest`, with `sign_in:` settings overridden (comments of policy.yaml kept
    unless a rule is overridden)."""
    shutil.copytree(REPO_ROOT / "policies", dest)
    if sign_in_rules:
        data = yaml.safe_load((dest / "policy.yaml").read_text())
        data["sign_in"] = {**data.get("sign_in", {}), **sign_in_rules}
        (dest / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


def fail(ledger: Ledger, name: str, times: int, *, start: float | None = None, step: float = 100.0,
         address: str | None = None) -> tuple[float, list[AuthError]]:
    """`times` wrong passwords for `name`, `step` seconds apart (past any backoff, inside the 15-minute
    window) and ending about now; returns the time of the last attempt and the errors raised."""
    start = time.time() - step * times if start is None else start
    errors = []
    for i in range(times):
        try:
            sign_in(ledger, name, "not-the-password", address=address, now=start + i * step)
        except AuthError as exc:
            errors.append(exc)
    return start + (times - 1) * step, errors
