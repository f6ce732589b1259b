"""The demo home's own policies: `ragledger demo load` copies policies/ into RAGLEDGER_HOME/policies
with `demo_mode: true`, so the demo accounts work there and nowhere else by default.

A later `demo load` refreshes the copy from the checkout only while it is still exactly what the last
copy wrote (its digest is kept beside it); a copy someone edited (a new password, a policy edit) is kept.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from core.config import REPO_ROOT
from core.policy.engine import POLICY_FILES

ORIGIN = ".demo-copy.sha256"


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in POLICY_FILES:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return h.hexdigest()


def prepare_demo_policies(home: Path, source: Path | None = None) -> tuple[Path, str]:
    """Write (or refresh) the home's policies copy in demo mode; returns (folder, "created" | "refreshed"
    | "kept")."""
    source = source or REPO_ROOT / "policies"
    folder = home / "policies"
    origin = folder / ORIGIN
    if (folder / "policy.yaml").is_file():
        if not origin.is_file() or origin.read_text().strip() != _digest(folder):
            return folder, "kept"
        status = "refreshed"
    else:
        status = "created"
    folder.mkdir(parents=True, exist_ok=True)
    for name in POLICY_FILES:
        text = (source / name).read_text()
        if name == "policy.yaml":
            text, n = re.subn(r"(?m)^demo_mode:\s*\S+", "demo_mode: true", text)
            if n == 0:
                text += "\ndemo_mode: true\n"
        tmp = folder / f"{name}.tmp"
        tmp.write_text(text)
        tmp.replace(folder / name)
    origin.write_text(_digest(folder) + "\n")
    return folder, status

