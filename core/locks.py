"""Process-wide file locks under RAGLEDGER_HOME.

Writers to the chunk table (ingestion) hold the store lock shared; a purge holds it exclusive,
because cleaning up old versions with delete_unverified=True would otherwise delete the files of a
write in progress (see ../shared/FACTS.md).
"""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def store_lock(home: Path, *, exclusive: bool) -> Iterator[None]:
    path = home / "store.lock"
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
