"""Copying the active chunk table into a new one with new vectors: the work of every re-embed
(a promoted embedder, a fallback, `ragledger models reembed`, the promotion gate's side index).

The embedding runs here or on a Ray cluster (`ray`: auto, or a head's HOST:PORT; default
RAGLEDGER_RAY), in the same embed actors that ingestion uses (core/rag/ray_ingest.py), each holding
the new model loaded once. Only chunk texts travel to the cluster and only vectors come back: the
rows are copied here, still sealed, and every LanceDB write stays in this process, under the
exclusive store lock the caller holds. A batch whose actor dies is retried by Ray; one that still
fails fails the whole copy: the new table is dropped and the active index stays as it was.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from core.errors import RagLedgerError, StoreError
from core.rag.chunk_store import ChunkStore, schema_for

if TYPE_CHECKING:
    from core.ledger import Ledger

log = logging.getLogger(__name__)
BATCH = 256  # chunks per encode call (and per Ray call: large enough to pay for the round trip)


def copy_with_new_vectors(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str, progress=None,  # type: ignore[no-untyped-def]
                          ray: str | None = None) -> int:
    """Under the exclusive store lock: copy the active table into `new_name` with vectors from the
    embedder at `path` (None: the base model). Returns the version of the active table it copied."""
    report = progress or (lambda _m, _d, _t: None)
    old = ChunkStore(ledger.settings.lance_location, table=ledger.active_index()["table"], cipher=ledger.chunk_cipher)
    if old.name == new_name:
        raise StoreError(f"the active index {new_name} was already built by {identity}", hint="nothing was changed")
    exists = old.name in old.db.table_names()
    version = old.version() if exists else 0
    source = old.table.to_arrow() if exists else None
    if new_name in old.db.table_names():
        old.db.drop_table(new_name)
    address = ray or ledger.settings.ray_address
    embed, close = _embedding(path, identity, address)
    total = source.num_rows if source is not None else 0
    report(f"re-embedding {total} chunks with {identity or 'the base model'}" + (f" on Ray ({address})" if address else ""), 0, total)
    target: ChunkStore | None = None
    try:
        for start in range(0, total, BATCH):
            part = source.slice(start, BATCH).to_pylist()  # type: ignore[union-attr]
            content = [dict(r) for r in part]
            if old.cipher is not None:  # the embedder reads the content; the rows are copied still sealed
                old.cipher.open_rows(content)
            vectors = _batch_vectors(embed, [f"{r['title']}\n{r['text']}" for r in content], start, total, address)
            if len(vectors) != len(part):  # never keep a chunk's old vector beside the new model's
                raise StoreError(f"re-embedding got {len(vectors)} vectors for {len(part)} chunks", hint="the index was not switched; try again")
            # The new table takes the new model's dimension (a re-embed is how a dimension changes).
            target = target or ChunkStore(ledger.settings.lance_location, table=new_name, dimensions=int(vectors.shape[1]), cipher=ledger.chunk_cipher)
            for r, v in zip(part, vectors):
                r["vector"] = v.tolist()
            target.table.add(pa.Table.from_pylist(part, schema=schema_for(target.dimensions)))
            report(f"re-embedded {min(start + BATCH, total)}/{total} chunks", min(start + BATCH, total), total)
        if target is None:  # an empty corpus still gets its table, of the model's dimension
            from core.rag.embedder import Embedder

            target = ChunkStore(ledger.settings.lance_location, table=new_name, dimensions=Embedder(path, identity).dimensions,
                                cipher=ledger.chunk_cipher)
            target.table  # noqa: B018
        target.ensure_indexes()
        if target.count() != total:
            raise StoreError(f"re-embedding copied {target.count()} of {total} chunks", hint="the index was not switched; try again")
    except BaseException:
        if new_name in old.db.table_names():  # no half copy of the corpus is left behind
            old.db.drop_table(new_name)
        raise
    finally:
        try:
            close()
        except Exception:  # noqa: BLE001  (ending the actors must not hide what the copy did or raised)
            log.warning("could not end the re-embed's Ray actors", exc_info=True)
    return version


def _embedding(path: Path | None, identity: str | None, address: str | None) -> tuple[Callable[[list[str], list[str]], np.ndarray], Callable[[], None]]:
    """embed(texts, names) and a close() that releases what it holds (the Ray actors of this model)."""
    if not address:
        from core.rag.embedder import Embedder

        embedder = Embedder(path, identity)
        return (lambda texts, _names: embedder.embed(texts)), (lambda: None)
    from core.rag.ray_ingest import RayFanout

    fanout = RayFanout(address, str(path) if path else None, identity)
    # The actors of this model are released at the end: a later ingest must find its CPUs free.
    return (lambda texts, names: fanout.embedder(names)(texts)), fanout.release


def _batch_vectors(embed, texts: list[str], start: int, total: int, address: str | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    name = f"re-embed chunks {start + 1}-{min(start + len(texts), total)} of {total}"
    try:
        return np.asarray(embed(texts, [name]))
    except RagLedgerError as e:  # on Ray: the ingest's wording names the batch; its hint is about documents
        if not address:
            raise
        raise StoreError(e.message, hint="the active index was not changed and no copy was kept; check the cluster "
                                         "(`ray status`) and run the re-embed again") from None
