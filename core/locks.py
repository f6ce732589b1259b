"""The store lock: readers and writers of the chunk table shared, a purge exclusive.

Asks and ingestion hold it shared; a purge (and anything else that rewrites or cleans up the table)
holds it exclusive, because cleaning up old versions with delete_unverified=True would otherwise
delete the files of a write in progress (see ../shared/FACTS.md), and a purge must not destroy a
document's key between an ask's retrieval and its audit record.

Two locks, both taken, in this order:
- a flock on RAGLEDGER_HOME/store.lock, which serialises the processes of one machine;
- on PostgreSQL, an advisory lock of the ledger database (`pg_advisory_lock_shared` /
  `pg_advisory_lock`), keyed by where the chunk table lives, which serialises every app replica,
  worker and CLI on any host that shares the ledger: the multi-host lock docs/deployment.md
  describes. It is held on a connection of its own for the lock's whole duration and released
  with it, and PostgreSQL drops it if the holder's connection dies, so a killed process never
  leaves the store locked. SQLite is one machine's database: the flock is the whole lock there.
Re-entrant within a thread: an ask holds it across retrieval, which takes it again; a second
advisory lock from the same thread would queue behind a purge waiting for the first and never be
granted (PostgreSQL sees no cycle, since the one holding the first waits in Python). Asking for it
exclusive while holding it shared is a programming error and raises: it could never be granted.
"""
from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

# The advisory lock's first key: this application's store locks, apart from any other user of the database.
ADVISORY_CLASS = 0x52474C  # "RGL"
_held = threading.local()  # .modes: {lock file: exclusive?} that this thread holds


def advisory_key(location: object) -> int:
    """The second key: the chunk table's location, so two deployments sharing one database but not
    one chunk store never wait on each other. A signed 32-bit int, as PostgreSQL's int4 takes."""
    key = zlib.crc32(str(location).encode())
    return key - (1 << 32) if key >= 1 << 31 else key


@contextmanager
def store_lock(ledger: Any, *, exclusive: bool) -> Iterator[None]:
    path = ledger.settings.home / "store.lock"
    modes = _held.__dict__.setdefault("modes", {})
    if path in modes:
        if exclusive and not modes[path]:
            raise RuntimeError("the store lock is held shared by this thread and cannot be upgraded to exclusive")
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        modes[path] = exclusive
        try:
            if ledger.settings.database_url.startswith("postgresql"):
                with _advisory(ledger.engine, advisory_key(ledger.settings.lance_location), exclusive):
                    yield
            else:
                yield
        finally:
            del modes[path]
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory(engine: Any, key: int, exclusive: bool) -> Iterator[None]:
    suffix = "" if exclusive else "_shared"
    # AUTOCOMMIT: a session-level lock outside any transaction, so holding it for a long purge keeps
    # no transaction open (no snapshot held back from vacuum, no idle-in-transaction timeout).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"SELECT pg_advisory_lock{suffix}(:c, :k)"), {"c": ADVISORY_CLASS, "k": key})
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock{suffix}(:c, :k)"), {"c": ADVISORY_CLASS, "k": key})
