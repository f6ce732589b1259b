"""Serving from the registry: which answerer the chat uses, and switching the index to a newly
promoted embedder.

The production embedder is always the one the active index was built with: promoting an embedder
re-embeds every chunk (all columns copied, new vectors) into a NEW LanceDB table, builds its
indexes, then switches RAGLEDGER_HOME/active_index.json atomically (temp file + os.replace). The
previous table is dropped afterwards, so an erasure never has to chase rows in a retired index.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from core.chunk_store import SCHEMA, ChunkStore
from core.errors import StoreError
from core.locks import store_lock

if TYPE_CHECKING:
    from core.ledger import Ledger
    from core.registry import CheckpointInfo

BATCH = 256


def production_answerer(ledger: "Ledger") -> str:
    """The production generator checkpoint's answerer name, or "extractive". A flagged production
    checkpoint keeps serving only if policy.yaml says `flagged_models_may_serve: true`."""
    from core.registry import production
    from core.training.bases import base_path

    ckpt = production(ledger, "generator", may_serve_flagged=ledger.policy.files.flagged_models_may_serve)
    if ckpt is None:
        return "extractive"
    from core.answerers.generative import register_checkpoint

    return register_checkpoint(ckpt.checkpoint_id, base_path(ledger, ckpt.base_model_id), Path(ckpt.path))


def write_active_index(home: Path, table: str, embedder_path: str | None, embedder_id: str | None) -> None:
    path = home / "active_index.json"
    tmp = path.with_name(f".active_index.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"table": table, "embedder_path": embedder_path, "embedder_id": embedder_id}, indent=2))
    os.replace(tmp, path)


def switch_embedder(ledger: "Ledger", ckpt: "CheckpointInfo", progress=None) -> str:  # type: ignore[no-untyped-def]
    """Re-embed the corpus with `ckpt` into a new table and make it the active index; returns its name."""
    from core.embedder import Embedder

    report = progress or (lambda _m, _d, _t: None)
    embedder = Embedder(Path(ckpt.path), ckpt.checkpoint_id)
    new_name = f"chunks_{ckpt.checkpoint_id[4:]}"
    with store_lock(ledger.settings.home, exclusive=True):  # no ingestion or purge while the corpus is copied
        old = ChunkStore(ledger.settings.lance_dir, table=ledger.active_index()["table"])
        source = old.table.to_arrow() if old.name in old.db.table_names() else SCHEMA.empty_table()
        if new_name in old.db.table_names():
            old.db.drop_table(new_name)
        target = ChunkStore(ledger.settings.lance_dir, table=new_name)
        total = source.num_rows
        for start in range(0, total, BATCH):
            part = source.slice(start, BATCH).to_pylist()
            vectors = embedder.embed([f"{r['title']}\n{r['text']}" for r in part])
            for r, v in zip(part, vectors):
                r["vector"] = v.tolist()
            target.table.add(pa.Table.from_pylist(part, schema=SCHEMA))
            report(f"re-embedded {min(start + BATCH, total)}/{total} chunks", min(start + BATCH, total), total)
        target.table  # noqa: B018  (an empty corpus still gets its table)
        target.ensure_indexes()
        if target.count() != total:
            old.db.drop_table(new_name)
            raise StoreError(f"re-embedding copied {target.count()} of {total} chunks", hint="the index was not switched; try again")
        write_active_index(ledger.settings.home, new_name, str(ckpt.path), ckpt.checkpoint_id)
        if old.name != new_name and old.name in old.db.table_names():
            old.db.drop_table(old.name)
    for cached in ("store", "embedder"):
        ledger.__dict__.pop(cached, None)
    return new_name
