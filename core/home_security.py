"""RAGLEDGER_HOME is private to its owner: the folder 0700, every file created in it 0600.

Why a process umask: LanceDB (Rust), SQLite and our own writers all create files, and a umask is
the one setting every one of them honours. Only the owner's account can then read the originals,
the key file or the database; see docs/security.md for what that does and does not protect.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
SUBDIRS = ("lance", "audit_db", "uploads", "journal", "models")


def secure_home(home: Path) -> None:
    """Set the owner-only umask and tighten the home and its top-level folders (idempotent)."""
    os.umask(PRIVATE_UMASK)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in [home, *(home / d for d in SUBDIRS)]:
        if path.is_dir() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o700)
    # Files an older version left group/world-readable at the top of the home (keys, database).
    for path in [*home.glob("*.key"), *(home / "audit_db").glob("ledger.db*")]:
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
