"""Helpers for the model-registry tests: the tidal-energy domain corpus (tests/data/tidal), a
document erasure as the purge leaves the registry (status "erased", chunks gone), and external
checkpoint folders with their manifests.

The corpus is ingested for real (Presidio, MiniLM, LanceDB); `tidal_template()` does it once per
process and tests copy the resulting home, so each test still gets its own RAGLEDGER_HOME.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from conftest import make_ledger
from shared_build import built_once
from core.rag.chunk_store import id_predicate
from core.db import dispose_engines
from core.rag.embedder import base_model_path
from core.ledger import Ledger
from core.models.registry import hash_folder
from core.stores.tables import DocumentRow

TIDAL = Path(__file__).parent / "data" / "tidal"
REGISTRY_TABLES = ("base_models", "dataset_versions", "dataset_rows", "training_runs", "checkpoints", "checkpoint_files")


def ingest_tidal(ledger: Ledger, names: list[str] | None = None) -> dict[str, str]:
    """Ingest the tidal corpus (or some of its files) as ops; returns {file stem: doc_id}."""
    from core.rag.ingest import Source, ingest

    files = sorted(p for p in TIDAL.glob("*.md") if p.name != "README.md" and (names is None or p.stem in names))
    results = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in files])
    return {p.stem: r.doc_id for p, r in zip(files, results)}


@lru_cache(maxsize=1)
def tidal_template() -> tuple[Path, dict[str, str]]:
    """Once per process, and under xdist once per run (tests/shared_build.py)."""
    home = Path(tempfile.mkdtemp(prefix="ragledger-tidal-")) / "home"
    built_once("tidal-home", home, lambda h: ingest_tidal(make_ledger(h)))
    ledger = make_ledger(home)
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:  # {file stem: doc_id}, as ingest_tidal returns it (source keys are "file:<path>")
        docs = {Path(key.removeprefix("file:")).stem: doc_id for key, doc_id in conn.execute(select(t.c.source_key, t.c.doc_id))}
    dispose_engines()  # the copy must see a checkpointed SQLite file
    return home, docs


def tidal_home(dest: Path) -> tuple[Ledger, dict[str, str]]:
    """A private copy of the ingested tidal corpus home, opened."""
    template, docs = tidal_template()
    shutil.copytree(template, dest)
    return make_ledger(dest), dict(docs)


def erase_document(ledger: Ledger, doc_id: str) -> None:
    """What an erasure leaves behind for the registry: the document row erased, its chunks deleted."""
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(update(t).where(t.c.doc_id == doc_id).values(status="erased"))
    ledger.store.delete_where(id_predicate("doc_id", [doc_id]))


def chunk_refs(ledger: Ledger, doc_id: str) -> list[dict[str, str]]:
    rows = ledger.store.rows_where(id_predicate("doc_id", [doc_id]), ["doc_id", "chunk_id", "content_hash"])
    return [{"doc_id": r["doc_id"], "chunk_id": r["chunk_id"], "content_hash": r["content_hash"]} for r in rows]


def embedder_folder(dest: Path) -> Path:
    """A real sentence-transformers folder (a copy of the shipped MiniLM) as a cluster would hand it over."""
    shutil.copytree(base_model_path(), dest)
    return dest


def write_manifest(path: Path, folder: Path, *, kind: str = "embedder", base_model: str = "sentence-transformers/all-MiniLM-L6-v2",
                   rows: list[dict[str, str]] | None = None, dataset_id: str | None = None, **extra: Any) -> Path:
    manifest: dict[str, Any] = {"kind": kind, "base_model": base_model,
                                "files": {f["path"]: f["sha256"] for f in hash_folder(folder)},
                                "hyperparams": {"epochs": 1, "lr": 2e-5}, "metrics": {"recall@1": 0.9}, "code_version": "cluster@abc123"}
    manifest["dataset"] = {"dataset_id": dataset_id} if dataset_id else {"name": "cluster-pairs", "rows": rows or []}
    manifest.update(extra)
    path.write_text(json.dumps(manifest))
    return path


def registry_counts(ledger: Ledger) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import SQLModel

    import core.stores.registry_tables  # noqa: F401

    with ledger.engine.connect() as conn:
        return {t: conn.execute(select(func.count()).select_from(SQLModel.metadata.tables[t])).scalar() or 0 for t in REGISTRY_TABLES if t != "base_models"}
