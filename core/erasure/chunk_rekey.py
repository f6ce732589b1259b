"""Re-keying a partly erased document's remaining chunks during a purge.

A purge destroys the key of every document it touches (the audit texts that quoted it are
crypto-shredded). A partly erased document lives on, and its remaining chunks are sealed under that
same key, so before the key is destroyed they are re-sealed under a staged next generation. Crash-safe
in this order: the staged key (wrapped by the master key, never in the clear) is saved in the purge
journal first; re-sealing skips rows already under it; the compaction that follows leaves no row under
the old key (and the old key is destroyed anyway); `install` makes it live in the same transaction
that destroys the old generations.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from core.rag.chunk_crypto import generation_of, is_sealed
from core.rag.chunk_store import SCHEMA, id_predicate
from core.keystore import SealKey, store_for
from core.ledger import Ledger
from core.locks import store_lock
from core.audit.sealing import key_ref_for_doc

if TYPE_CHECKING:
    from core.erasure.records import Journal


def stage(ledger: Ledger, journal: Journal, doc_ids: list[str], save: Callable[[], None]) -> dict[str, list]:
    """The staged key of each document (ref -> [generation, wrapped base64]), created once per purge."""
    if journal.rekey is None:
        journal.rekey = {}
    staged: dict[str, list] = journal.rekey
    todo = [d for d in doc_ids if key_ref_for_doc(d) not in staged]
    if todo:
        with ledger.engine.begin() as conn:
            vault = store_for(conn)
            for d in todo:
                generation, _key, wrapped = vault.stage(conn, key_ref_for_doc(d))
                staged[key_ref_for_doc(d)] = [generation, base64.b64encode(wrapped).decode()]
        save()  # before any row is sealed under it
    return staged


def reseal(ledger: Ledger, staged: dict[str, list], doc_ids: list[str]) -> int:
    """Re-seal the remaining chunks of `doc_ids` under their staged keys; returns the rows re-written."""
    from core.erasure.lance_erase import erase_rows

    cipher = ledger.chunk_cipher
    if cipher is None or not doc_ids:
        return 0
    with ledger.engine.connect() as conn:
        vault = store_for(conn)
    keys: dict[str, SealKey] = {}
    for d in doc_ids:
        generation, wrapped = staged[key_ref_for_doc(d)]
        keys[key_ref_for_doc(d)] = SealKey(generation, vault.unwrap_staged(key_ref_for_doc(d), generation, base64.b64decode(wrapped)))
    store = ledger.store
    store.refresh()
    rewritten = 0
    with store_lock(ledger, exclusive=True):
        for d in doc_ids:
            target = keys[key_ref_for_doc(d)].generation
            rows = store.table.search().where(id_predicate("doc_id", [d])).select([f.name for f in SCHEMA]).limit(None).to_list()
            rows = [r for r in rows if is_sealed(r["text"]) and generation_of(r["text"]) != target]
            if not rows:
                continue
            readable = cipher.open_rows(rows)
            rows = [r for r, ok in zip(rows, readable) if ok]
            if rows:
                sealed = cipher.seal_rows(rows, keys)
                store.table.merge_insert("chunk_id").when_matched_update_all().execute(pa.Table.from_pylist(sealed, schema=SCHEMA))
                rewritten += len(rows)
        if rewritten:  # no row under the old key stays behind in a data file, an index or an old version
            erase_rows(ledger.settings.lance_location, [])
    store.refresh()
    return rewritten


def install(conn, staged: dict[str, list], refs: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Make the staged keys live (inside the transaction that destroyed the old ones)."""
    vault = store_for(conn)
    for ref in refs:
        generation, wrapped = staged[ref]
        vault.install(conn, ref, generation, base64.b64decode(wrapped))
    return refs
