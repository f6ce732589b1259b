"""Helpers for the Merkle tree tests: a ledger that checkpoints every 5 records, a filler, and the
tools of an attacker who can write to the database (and knows our hashing): edit rows, rebuild the
whole log with every hash recomputed, snapshot and restore the audit tables."""
from __future__ import annotations

import json
import shutil
from hashlib import sha256
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from core.audit.log import GENESIS, canonical_bytes
from core.config import REPO_ROOT
from core.audit.events import Denied
from core.audit.merkle import Frontier, leaf_hash
from core.stores.tables import AuditRecord
from core.audit.tree_store import CHECKPOINTS, LEAVES, TREE
from tests.conftest import make_ledger

A = AuditRecord.__table__  # type: ignore[attr-defined]
TABLES = (A, LEAVES, TREE, CHECKPOINTS)


def policies_every(tmp: Path, n: int = 5, extra: str = "") -> Path:
    folder = tmp / "policies"
    if not folder.exists():
        shutil.copytree(REPO_ROOT / "policies", folder)
    text = (REPO_ROOT / "policies" / "policy.yaml").read_text()
    text = text.replace("checkpoint_every_records: 100", f"checkpoint_every_records: {n}")
    (folder / "policy.yaml").write_text(text.replace("  witnesses: []\n", extra or "  witnesses: []\n"))
    return folder


def tree_ledger(tmp: Path, url: str | None = None, n: int = 5, extra: str = ""):  # type: ignore[no-untyped-def]
    return make_ledger(tmp / "home", url, policies=policies_every(tmp, n, extra))


def fill(ledger, count: int, tag: str = "x") -> list[str]:  # type: ignore[no-untyped-def]
    return [ledger.audit.append(Denied(actor="carol", actor_role="employee", action="purge", target=f"{tag}{i}")) for i in range(count)]


def rows(ledger) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(A).order_by(A.c.seq)).mappings()]


def rebuild(ledger, transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    """A careful forger: rewrite the log, recompute every chain hash, leaf and the tree state, and
    drop the database's own checkpoints (they would no longer match)."""
    new = transform(rows(ledger))
    with ledger.engine.begin() as conn:
        for t in (LEAVES, A, CHECKPOINTS):
            conn.execute(t.delete())
        prev, frontier = GENESIS, Frontier()
        for i, r in enumerate(new):
            r = {**r, "seq": i + 1, "prev_hash": prev}
            c = canonical_bytes(r)
            r["hash"] = sha256(c).hexdigest()
            conn.execute(A.insert().values(**r))
            conn.execute(LEAVES.insert().values(idx=i, record_id=r["record_id"], leaf_hash=leaf_hash(c).hex()))
            frontier.append(leaf_hash(c))
            prev = r["hash"]
        conn.execute(TREE.update().values(size=frontier.size, frontier=json.dumps(frontier.to_hex()), checkpoint_size=frontier.size))


def forged(row: dict[str, Any], tag: str) -> dict[str, Any]:
    return {**row, "record_id": sha256(tag.encode()).hexdigest()[:32], "payload": json.dumps({"action": "purge", "target": tag})}


def snapshot(ledger) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(select(t)).mappings()] for t in TABLES}


def restore(ledger, snap: dict[str, list[dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    """Put an older copy of the audit tables back (a database restored from an old backup)."""
    with ledger.engine.begin() as conn:
        for t in TABLES:
            conn.execute(t.delete())
        for t in TABLES:
            if snap[t.name]:
                conn.execute(t.insert(), snap[t.name])


def checkpoint_sizes(ledger) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted({cp.size for cp in ledger.audit.checkpointer.journal()})
