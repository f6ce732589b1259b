"""The tamper table: every attack on the audit log is detected and named, on SQLite and PostgreSQL.

Each case fills 20 records (a checkpoint every 5 records, and one at the end as a purge or export
would write), attacks the database as someone with write access to it would, and runs the same
verification as `ragledger audit verify`."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text

from core.db import dispose_engines as _dispose_all
from core.audit import verify
from core.audit.verify import verify_ledger
from core.audit.signed_note import FileSigner, sign_checkpoint
from tests.tree_support import checkpoint_sizes, fill, forged, rebuild, restore, rows, snapshot, tree_ledger


@pytest.fixture(params=["sqlite", "sqlite, two processes", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The table runs on SQLite, on SQLite with the records split between two processes (the way a log
    of a million is checked; a clean split must agree with one process, a damaged log must be reported
    exactly as one process reports it), and on PostgreSQL."""
    if request.param == "postgres":
        yield request.getfixturevalue("pg_url")
        return
    if request.param == "sqlite, two processes":
        monkeypatch.setattr(verify, "SPLIT_FROM", 2)
    yield f"sqlite:///{tmp_path / 'ledger.db'}"
    _dispose_all()


@pytest.fixture
def log20(tmp_path, db_url):  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, db_url)
    ids = fill(ledger, 20)
    ledger.audit.checkpoint("test")
    assert verify_ledger(ledger).ok
    return ledger, ids


def _first(ledger):  # type: ignore[no-untyped-def]
    verdict = verify_ledger(ledger)
    assert not verdict.ok, "the attack went unnoticed"
    return verdict.first(), verdict


def _last_good(ledger, index: int) -> int:  # type: ignore[no-untyped-def]
    """The largest checkpoint size that still covers only untouched records (<= index)."""
    return max(s for s in checkpoint_sizes(ledger) if s <= index)


def test_a_large_log_is_checked_in_two_processes_that_agree_with_one(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    fill(ledger, 21)
    ledger.audit.checkpoint("test")
    alone = verify_ledger(ledger)
    monkeypatch.setattr(verify, "SPLIT_FROM", 2)
    split = verify_ledger(ledger)
    assert alone.ok and split.ok and (alone.processes, split.processes) == (1, 2)
    assert (split.records, split.tree_size, split.root, split.head_hash, split.checkpoints_checked) == \
        (alone.records, alone.tree_size, alone.root, alone.head_hash, alone.checkpoints_checked)


def test_an_edit_is_named_by_index_and_seq(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = log20
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET actor = 'mallory' WHERE seq = 5"))
    first, _ = _first(ledger)
    assert (first.index, first.seq, first.record_id) == (4, 5, ids[4]) and "edited" in first.message


def test_a_deletion_in_the_middle_is_named(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = log20
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 8"))
    first, _ = _first(ledger)
    assert (first.index, first.record_id) == (7, ids[7]) and "missing" in first.message


def test_truncating_the_tail_is_named(log20) -> None:  # type: ignore[no-untyped-def]
    """The issue's own case: the two newest rows deleted (the last questions asked)."""
    ledger, ids = log20
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq > 18"))
    first, verdict = _first(ledger)
    assert (first.index, first.record_id) == (18, ids[18]) and "truncated" in first.message
    assert any(f.record_id == ids[19] for f in verdict.findings)


def test_a_careful_truncation_is_shorter_than_a_checkpoint(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = log20
    rebuild(ledger, lambda rs: rs[:17])  # records, leaves and tree state all consistent at 17
    first, _ = _first(ledger)
    assert first.index == 17 and first.message.startswith("the log is shorter than checkpoint")
    assert "(size 20" in first.message


def test_reordering_is_named(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = log20
    with ledger.engine.begin() as conn:
        for a, b in ((6, -1), (7, 6), (-1, 7)):
            conn.execute(text(f"UPDATE audit_records SET seq = {b} WHERE seq = {a}"))
    first, _ = _first(ledger)
    assert first.index == 6 and "reordered" in first.message


def test_reordering_with_every_hash_recomputed_breaks_the_checkpoints(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = log20
    rebuild(ledger, lambda rs: rs[:12] + [rs[13], rs[12]] + rs[14:])
    first, _ = _first(ledger)
    good = _last_good(ledger, 12)
    assert first.index == good and "does not match checkpoint" in first.message and f"index {good} to" in first.message


def test_a_forged_record_inserted_with_recomputed_hashes_is_caught(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = log20
    rebuild(ledger, lambda rs: rs[:12] + [forged(rs[12], "forged")] + rs[12:])
    first, verdict = _first(ledger)
    good = _last_good(ledger, 12)
    assert first.index == good and f"still matches checkpoint of" in first.message
    assert verdict.records == 21


def test_a_record_inserted_behind_the_logs_back_is_named(log20) -> None:  # type: ignore[no-untyped-def]
    from hashlib import sha256

    from core.audit.log import canonical_bytes
    from tests.tree_support import A

    ledger, _ = log20
    last = rows(ledger)[-1]
    row = {**forged(last, "sneaked"), "seq": last["seq"] + 1, "prev_hash": last["hash"]}
    row["hash"] = sha256(canonical_bytes(row)).hexdigest()
    with ledger.engine.begin() as conn:
        conn.execute(A.insert().values(**row))
    first, _ = _first(ledger)
    assert first.seq == row["seq"] and first.record_id == row["record_id"] and "not in the Merkle tree" in first.message


def test_a_fork_is_caught(log20) -> None:  # type: ignore[no-untyped-def]
    """Same size, other history: the last five records replaced by others."""
    ledger, _ = log20
    rebuild(ledger, lambda rs: rs[:15] + [forged(r, f"fork{i}") for i, r in enumerate(rs[15:])])
    first, verdict = _first(ledger)
    assert first.index == _last_good(ledger, 15) and "forked" in first.message and verdict.tree_size == 20


def test_rolling_back_to_an_older_copy_is_shorter_than_a_checkpoint(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = log20
    old = snapshot(ledger)
    fill(ledger, 7, tag="later")
    newest = ledger.audit.checkpoint("test")
    restore(ledger, old)
    first, verdict = _first(ledger)
    assert first.index == 20 and first.message.startswith("the log is shorter than checkpoint")
    assert any(newest.time in f.message and "size 27" in f.message for f in verdict.findings)


def test_an_edited_leaf_is_named(log20) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = log20
    with ledger.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_leaves SET leaf_hash = '{'ab' * 32}' WHERE idx = 3"))
    first, _ = _first(ledger)
    assert (first.index, first.record_id) == (3, ids[3]) and "Merkle leaf" in first.message


def test_a_checkpoint_signed_by_another_key_is_named(log20, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = log20
    other = FileSigner(tmp_path / "other.pem")
    cp = sign_checkpoint(ledger.audit.checkpointer.origin, 20, b"\0" * 32, "2026-01-01T00:00:00Z", other)
    kept = tmp_path / "kept.txt"
    kept.write_text(cp.note)
    verdict = verify_ledger(ledger, [kept])
    assert not verdict.ok and "not signed by this log's key" in verdict.first().message


def test_crypto_shredding_keeps_the_tree_valid(log20) -> None:  # type: ignore[no-untyped-def]
    from core.audit.events import AnswerServed
    from core.audit.sealing import destroy_keys, key_ref_for_doc

    ledger, _ = log20
    doc = "doc_eeeeeeeeeeeeeeee"
    rid = ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="q", answer="a",
                                           cited=[{"n": 1, "doc_id": doc, "chunk_id": "chk_1", "score": 0.5, "content_hash": "h"}]))
    ledger.audit.checkpoint("test")
    with ledger.engine.begin() as conn:
        assert destroy_keys(conn, [key_ref_for_doc(doc)]) == 1
    assert ledger.audit.records(record_id=rid)[0]["erased"]
    assert verify_ledger(ledger).ok


# --- the literal attacks on the SQLite file ---------------------------------------------------------

def dispose_engines(ledger=None) -> None:  # type: ignore[no-untyped-def]
    """Close every connection, the ledger's cached engine's too, so the file can be copied whole."""
    if ledger is not None:
        ledger.engine.dispose()
    _dispose_all()


def test_sqlite_file_restored_from_an_old_copy_is_caught(tmp_path) -> None:
    ledger = tree_ledger(tmp_path)
    fill(ledger, 12)
    ledger.audit.checkpoint("backup")
    db = ledger.settings.home / "audit_db" / "ledger.db"
    dispose_engines()
    shutil.copy(db, tmp_path / "old.db")
    fill(ledger, 9, tag="after")
    ledger.audit.checkpoint("test")
    dispose_engines(ledger)
    for suffix in ("-wal", "-shm"):
        (db.parent / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", db)
    verdict = verify_ledger(tree_ledger(tmp_path))
    assert verdict.records == 12 and verdict.first().message.startswith("the log is shorter than checkpoint")
    dispose_engines()


def test_sqlite_fork_of_two_copies_is_caught(tmp_path) -> None:
    """Copy B of the database grows its own history; the journal holds A's checkpoint at that size."""
    ledger = tree_ledger(tmp_path)
    fill(ledger, 10)
    db = ledger.settings.home / "audit_db" / "ledger.db"
    dispose_engines()
    shutil.copy(db, tmp_path / "copy.db")
    fill(ledger, 5, tag="a")
    ledger.audit.checkpoint("test")
    dispose_engines(ledger)
    for suffix in ("-wal", "-shm"):
        (db.parent / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "copy.db", db)
    b = tree_ledger(tmp_path)
    # same home, same journal: B's own checkpoints land beside A's
    fill(b, 5, tag="b")
    verdict = verify_ledger(b)
    assert not verdict.ok and "forked" in verdict.first().message and verdict.first().index == _last_good(b, 10)
    dispose_engines()


def test_a_log_from_before_the_tree_is_backfilled_by_the_migration(tmp_path) -> None:
    """An existing ledger: records without `origin`, no tree tables; opening it runs m301, which makes
    the stored records the tree's first leaves, and the old records still verify unchanged."""
    import sqlite3

    from core.audit.log import AuditLog
    from core.db import open_engine

    ledger = tree_ledger(tmp_path)
    fill(ledger, 6)
    db = ledger.settings.home / "audit_db" / "ledger.db"
    dispose_engines(ledger)
    with sqlite3.connect(db) as conn:  # back to the shape of a database from before migration m301
        for t in ("audit_leaves", "audit_tree", "audit_checkpoints"):
            conn.execute(f"DROP TABLE {t}")
        conn.execute("UPDATE audit_records SET origin = NULL")
        conn.execute("DELETE FROM _migrations WHERE name = 'm301_merkle_tree'")
    ledger.audit.checkpointer.journal_path.unlink()  # an old ledger had no checkpoints either
    # re-chain the six records as the old code hashed them (no origin)
    from hashlib import sha256

    from core.audit.log import GENESIS, canonical_bytes

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        prev = GENESIS
        for r in [dict(x) for x in conn.execute("SELECT * FROM audit_records ORDER BY seq")]:
            r["prev_hash"] = prev
            r["hash"] = prev = sha256(canonical_bytes(r)).hexdigest()
            conn.execute("UPDATE audit_records SET prev_hash = ?, hash = ? WHERE seq = ?", (r["prev_hash"], r["hash"], r["seq"]))
        conn.execute("ALTER TABLE audit_records DROP COLUMN origin")
    _dispose_all()
    assert AuditLog(open_engine(f"sqlite:///{db}"), "p").verify().ok, "the old chain verifies before the tree exists"
    reopened = tree_ledger(tmp_path)
    fill(reopened, 2, tag="new")
    verdict = verify_ledger(reopened)
    assert verdict.ok and verdict.tree_size == 8 and verdict.checkpoints_checked >= 1
    dispose_engines(reopened)
