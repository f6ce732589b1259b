"""Re-writing an existing chunk store under the other `chunk_store.encryption` setting.

A store written in the clear is refused once policy says encryption is on (core/rag/chunk_store.py
names this command); `ragledger store encrypt` re-writes every row sealed, builds the blind index,
and removes every old version, so no plaintext copy stays in the table folder. `decrypt` is the way
back. Both hold the store lock exclusively (no ingestion or purge meanwhile) and keep every row:
the new version is checked to hold the same chunk ids before the old versions are removed.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa

from core.rag.chunk_store import SCHEMA, ChunkStore
from core.errors import StoreError
from core.ledger import Ledger
from core.locks import store_lock

BATCH = 2000


def rewrite_store(ledger: Ledger, encrypt: bool) -> dict[str, Any]:
    """Re-write the active chunk table sealed (`encrypt`) or in the clear; returns counts."""
    from core.rag.chunk_crypto import ChunkCipher, is_sealed

    cipher = ledger.chunk_cipher or ChunkCipher(ledger.engine)
    name = ledger.active_index()["table"]
    with store_lock(ledger, exclusive=True):
        raw = ChunkStore(ledger.settings.lance_location, table=name, check=False)
        if name not in raw.db.table_names():
            return {"table": name, "chunks": 0, "rewritten": 0}
        rows = raw.table.to_arrow().to_pylist()
        ids = {r["chunk_id"] for r in rows}
        sealed = [is_sealed(r.get("text")) for r in rows]
        unreadable = [r["chunk_id"] for r, ok in zip(rows, cipher.open_rows(rows)) if not ok]
        if unreadable:
            raise StoreError(f"{len(unreadable)} chunks are sealed under destroyed document keys (an erasure in progress)",
                             hint="finish the pending purge first: `ragledger purge --resume`, then run this again")
        todo = sum(1 for s in sealed if s != encrypt)
        for r in rows:
            r["fts"] = None
        out = cipher.seal_rows(rows) if encrypt else rows
        table = raw.table
        first = True
        for i in range(0, len(out), BATCH) or [0]:
            part = pa.Table.from_pylist(out[i:i + BATCH], schema=SCHEMA)
            if first:
                table = raw.db.create_table(name, data=part, schema=SCHEMA, mode="overwrite")
                first = False
            else:
                table.add(part)
        if {r["chunk_id"] for r in table.to_arrow().select(["chunk_id"]).to_pylist()} != ids:
            raise StoreError("the re-written chunk table does not hold the same chunks", hint="nothing was removed: the previous version is still there; report this")
        fresh = ChunkStore(ledger.settings.lance_location, table=name, cipher=cipher if encrypt else None)
        for index in list(fresh.table.list_indices()):
            fresh.table.drop_index(index.name)
        created = fresh.ensure_indexes()
        cleanup = fresh.table.to_lance().cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
    ledger.forget_index()
    return {"table": name, "chunks": len(rows), "rewritten": todo, "indexes": created, "old_versions_removed": cleanup.old_versions}
