"""RAGLEDGER_HOME/active_index.json: which chunk table serves and which embedder built it.

The ledger reads it (core/ledger.py: active_index); re-embedding writes it after the new table is
complete (core/models/serving.py), and an empty corpus takes a newly configured base embedder by
writing it at once (core/rag/embedder_setting.py). Written to a temp file and os.replace'd, so a
reader sees the old index or the new one, never half of either."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_active_index(home: Path, table: str, embedder_path: str | None, embedder_id: str | None,
                       served_before: list[str] | None = None, dimensions: int | None = None) -> None:
    path = home / "active_index.json"
    tmp = path.with_name(f".active_index.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"table": table, "embedder_path": embedder_path, "embedder_id": embedder_id,
                               "served_before": served_before or [], "dimensions": dimensions}, indent=2))
    os.replace(tmp, path)
