"""Erasure with a vector index present: only the fragments holding erased rows are rewritten, the
IVF_PQ index is remapped (not retrained) to codes of the remaining rows only, and the index scan
of the proof decodes every index file. The negative control shows the scan finds a stale code.
Real LanceDB on disk; the purge test runs the whole journaled purge on SQLite."""
from __future__ import annotations

import numpy as np

from bench.bench_purge import register_documents
from core.rag.chunk_store import VECTOR_INDEX, ChunkStore, id_predicate
from core.erasure.requests import create_request
from core.erasure.proof import scan_indexes
from core.erasure.lance_erase import erase_rows
from core.erasure.purge import execute
from tests.rag.test_chunk_store import SMALL_INDEX, make_rows


def indexed_store(directory, fragments: int = 4, rows: int = 150) -> tuple[ChunkStore, list[dict]]:  # type: ignore[no-untyped-def]
    store = ChunkStore(directory, index=SMALL_INDEX)
    all_rows = []
    for f in range(fragments):  # one append, one fragment
        batch = make_rows(f * rows, rows)
        store.add(batch)
        all_rows.extend(batch)
    store.ensure_indexes()
    assert store.has_vector_index()
    return store, all_rows


def test_erasure_rewrites_only_the_fragment_holding_the_rows_and_leaves_no_code_in_the_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, rows = indexed_store(tmp_path)
    before = {f.fragment_id: f.metadata.files[0].path for f in store.table.to_lance().get_fragments()}
    victims = rows[160:164]  # all in the second fragment
    stats = erase_rows(tmp_path, [r["chunk_id"] for r in victims])
    table = stats["tables"]["chunks"]
    assert table["rows_deleted"] == 4 and table["fragments_rewritten"] == 1
    assert VECTOR_INDEX not in table["indexes_rebuilt"]  # remapped by compaction, not retrained
    after = {f.fragment_id: f.metadata.files[0].path for f in ChunkStore(tmp_path, index=SMALL_INDEX).table.to_lance().get_fragments()}
    untouched = {fid: path for fid, path in before.items() if fid != 1}
    assert all(after.get(fid) == path for fid, path in untouched.items()), "the other fragments' data files are the same files"
    report = scan_indexes(tmp_path)
    assert report["clean"] and report["row_ids_checked"] >= 3 * (len(rows) - 4)  # vector codes, full-text docs, B-tree pages and report["index_files_decoded"] > 0
    fresh = ChunkStore(tmp_path, index=SMALL_INDEX)
    assert fresh.has_vector_index() and fresh.unindexed_rows() == 0
    for r in victims:  # its own vector no longer finds it; the nearest row is another one
        hit = fresh.vector_query(np.array(r["vector"], dtype="float32"), None, 1).to_list()[0]
        assert hit["chunk_id"] != r["chunk_id"]
    assert fresh.count(id_predicate("chunk_id", [r["chunk_id"] for r in victims])) == 0


def test_the_index_scan_finds_the_code_of_a_row_that_was_only_soft_deleted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, rows = indexed_store(tmp_path, fragments=2)
    store.delete_where(id_predicate("chunk_id", [rows[3]["chunk_id"]]))  # a deletion vector, no compaction
    report = scan_indexes(tmp_path)
    assert not report["clean"] and report["row_ids_not_live"] >= 1


def test_a_purge_with_a_vector_index_is_certified_with_the_index_scan(ledger) -> None:  # type: ignore[no-untyped-def]
    ledger.__dict__["store"] = ChunkStore(ledger.settings.lance_dir, index=SMALL_INDEX, cipher=ledger.chunk_cipher)
    rows = make_rows(0, 600)
    for i in range(0, 600, 200):
        ledger.store.add(rows[i:i + 200])
    ledger.store.ensure_indexes()
    register_documents(ledger, rows)
    alice = ledger.policy.principal("alice")
    target = rows[250]["doc_id"]
    cert = execute(ledger, alice, create_request(ledger, alice, doc_id=target, requested_by="a data subject").request_id)
    scan = cert.verification["index_scan"]
    assert cert.verified_clean and scan["clean"] and scan["row_ids_checked"] > 0 and "vector_idx" in scan["indexes"]
    assert cert.erased["lancedb"]["tables"]["chunks"]["fragments_rewritten"] == 1
    assert ledger.store.count(f"doc_id = '{target}'") == 0 and ledger.store.count() == 596


def test_the_disk_scan_reads_every_string_of_a_lance_file_however_it_is_stored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The proof decodes a file's strings inside Arrow: nested in lists and structs, dictionary
    encoded, in binary columns as UTF-8 or UTF-16; the vectors beside them are skipped, not lost."""
    import pyarrow as pa
    from lance.file import LanceFileWriter

    from core.erasure.proof import _decode_lance

    table = pa.table({
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(np.ones(8, dtype=np.float32)), 4),
        "text": pa.array(["plain Helena", None]),
        "nested": pa.array([[{"who": "Marchetti in a struct"}], []], type=pa.list_(pa.struct([("who", pa.string())]))),
        "coded": pa.array(["dictionary Ana", "dictionary Ana"]).dictionary_encode(),
        "blob16": pa.array(["utf16 Jörg".encode("utf-16-le"), b"utf8 bytes"], type=pa.binary()),
    })
    path = tmp_path / "sample.lance"
    with LanceFileWriter(str(path)) as writer:
        writer.write_batch(table)
    text, why = _decode_lance(path)
    assert why is None
    for needle in ("plain Helena", "Marchetti in a struct", "dictionary Ana", "utf16 Jörg", "utf8 bytes"):
        assert needle in text, needle


def test_the_disk_scan_reads_the_text_a_lance_file_keeps_in_its_schema_metadata(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file's footer may carry key/value metadata on the schema and on each field (nested ones too);
    the proof reads it beside the rows, so a writer that put a name there could not hide it."""
    import pyarrow as pa
    from lance.file import LanceFileWriter

    from core.erasure.proof import _decode_lance

    inner = pa.field("who", pa.string(), metadata={"note": "field of Helena Marchetti"})
    schema = pa.schema([pa.field("text", pa.string(), metadata={"owner": "Jörg Ana"}),
                        pa.field("nested", pa.struct([inner]))], metadata={"source": "schema of Ana Ruiz"})
    table = pa.table({"text": ["row"], "nested": [{"who": "x"}]}, schema=schema)
    path = tmp_path / "meta.lance"
    with LanceFileWriter(str(path), schema=schema) as writer:
        writer.write_batch(table)
    text, why = _decode_lance(path)
    assert why is None
    for needle in ("schema of Ana Ruiz", "Jörg Ana", "field of Helena Marchetti"):
        assert needle in text, needle
