"""Policy edits land in the home, never in the checkout.

A fresh install reads the checkout's `policies/` (there is nothing else yet). The first edit from the
policy page or `ragledger users` copies that folder into `RAGLEDGER_HOME/policies` and writes there:
the checkout stays what git says it is (an upgrade does not trample an organisation's policy, and
`git status` never shows a compliance officer's edit), and `Settings.from_env` reads the home's copy
from then on. A folder named by `RAGLEDGER_POLICIES` is the operator's own and is edited in place.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import REPO_ROOT
from core.policy.engine import POLICY_FILES

if TYPE_CHECKING:
    from core.ledger import Ledger


def is_checkout_policies(folder: Path) -> bool:
    return folder.resolve() == (REPO_ROOT / "policies").resolve() and not os.environ.get("RAGLEDGER_POLICIES")


def editable_policies(ledger: "Ledger") -> Path:
    """The folder a policy edit writes to: the home's copy, made now from the loaded files if needed."""
    current = ledger.settings.policies_dir
    if not is_checkout_policies(current):
        return current
    folder = ledger.settings.home / "policies"
    folder.mkdir(mode=0o700, exist_ok=True)
    for name in POLICY_FILES:
        target = folder / name
        if not target.is_file():
            tmp = folder / f"{name}.tmp"
            tmp.write_bytes((current / name).read_bytes())
            tmp.replace(target)
    ledger.settings = dataclasses.replace(ledger.settings, policies_dir=folder.resolve())
    return folder
