"""Physical erasure of rows in LanceDB.

`table.delete()` only writes a deletion vector: the row stays in the data file, old versions keep
it, and the predicate sits in transaction files (see ../shared/FACTS.md). The sequence that leaves
no trace: delete by opaque id, drop tags, compact with every deletion materialized, rebuild the
full-text and scalar indexes (so no token of a deleted row survives in index files), then remove
every old version with delete_unverified=True. The caller holds the store lock exclusively.

Compaction rewrites only the fragments that hold deleted rows (every other fragment is excluded
from the plan), so erasing one document from a million chunks rewrites one fragment, not the
table. The vector index is not retrained: compaction remaps it, writing new index files that hold
a code only for the rows that remain; core/erasure/proof.py decodes every index file and checks
that each row id in it is a live row.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from core.rag.chunk_store import id_predicate

BATCH = 500


def rebuild_indexes(table) -> list[str]:  # type: ignore[no-untyped-def]
    rebuilt = []
    if table.count_rows() == 0:
        return rebuilt
    for index in table.list_indices():
        column = index.columns[0]
        kind = str(index.index_type).upper()
        if "FTS" in kind or "INVERTED" in kind:
            table.create_fts_index(column, replace=True)
        elif "LABEL" in kind:
            table.create_scalar_index(column, index_type="LABEL_LIST", replace=True, name=index.name)
        elif "BTREE" in kind or "BITMAP" in kind:
            table.create_scalar_index(column, index_type="BITMAP" if "BITMAP" in kind else "BTREE", replace=True, name=index.name)
        else:  # vector indexes: remapped by the compaction, proven by the index scan
            continue
        rebuilt.append(index.name)
    return rebuilt


def fragments_with_deletions(dataset) -> set[int]:  # type: ignore[no-untyped-def]
    """Fragments whose data files still hold deleted rows: this erasure's, and any left by earlier
    deletes (replaced document versions), which are personal data too."""
    return {f.fragment_id for f in dataset.get_fragments() if f.metadata.deletion_file is not None}


def erase_rows(lance_dir: Path | str, chunk_ids: list[str]) -> dict[str, Any]:
    """`lance_dir`: the store's folder or object store URI. On an object store the files that the
    cleanup removed may still be kept as old object versions (a versioned bucket): those are
    deleted too, with every delete marker, so nothing of an erased row stays in the bucket."""
    from core.rag import object_store

    db = object_store.connect(lance_dir)
    stats: dict[str, Any] = {"tables": {}, "chunks_deleted": 0, "versions_removed": 0, "bytes_removed": 0}
    for name in db.table_names():
        table = db.open_table(name)
        before = table.count_rows()
        for i in range(0, len(chunk_ids), BATCH):
            table.delete(id_predicate("chunk_id", chunk_ids[i:i + BATCH]))
        dataset = table.to_lance()
        for tag in list(dataset.tags.list()):
            dataset.tags.delete(tag)
        holding = fragments_with_deletions(dataset)
        if holding:
            others = [f.fragment_id for f in dataset.get_fragments() if f.fragment_id not in holding]
            dataset.optimize.compact_files(materialize_deletions_threshold=0.0, excluded_fragment_ids=others)
        table.checkout_latest()
        rebuilt = rebuild_indexes(table)
        cleanup = table.to_lance().cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
        table.checkout_latest()
        deleted = before - table.count_rows()
        stats["tables"][name] = {"rows_deleted": deleted, "indexes_rebuilt": rebuilt, "fragments_rewritten": len(holding),
                                 "fragments_total": len(table.to_lance().get_fragments()), "old_versions_removed": cleanup.old_versions,
                                 "versions_left": len(table.list_versions())}
        stats["chunks_deleted"] += deleted
        stats["versions_removed"] += cleanup.old_versions
        stats["bytes_removed"] += cleanup.bytes_removed
    if object_store.is_remote(lance_dir):
        stats.update(object_store.delete_old_versions(object_store.Remote.parse(str(lance_dir))))
    return stats
