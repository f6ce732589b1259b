"""The audit database: its default file location and its schema migrations.

The same database holds the audit chain, the document registry, the key vault used for
crypto-shredding, and (later) the model registry. SQLite under RAGLEDGER_HOME is the embedded
default; set RAGLEDGER_DATABASE_URL=postgresql+psycopg://... for a multi-user deployment.
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_FILENAME = "ledger.db"


def default_database_url(home: Path) -> str:
    folder = home / "audit_db"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DEFAULT_FILENAME}"
