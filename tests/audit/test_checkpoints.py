"""Checkpoints are written after N records or T seconds and on retention runs and exports, and
leave the database's reach: the journal, a directory witness (read back by verify), a syslog
witness (a real UDP syslog datagram). A witness that fails is named and retried, never silent."""
from __future__ import annotations

import json
import socket
import stat
import time

import pytest

from core.audit.checkpoint_views import latest_checkpoint
from core.errors import PolicyError
from core.audit.verify import verify_ledger
from core.audit.signed_note import parse_checkpoint
from core.audit.tree_store import CHECKPOINTS
from tests.tree_support import checkpoint_sizes, fill, restore, snapshot, tree_ledger


def test_every_n_records_and_the_journal_is_outside_the_database(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, db_url, n=5)
    fill(ledger, 12)
    assert checkpoint_sizes(ledger) == [1, 6, 11]
    journal = ledger.audit.checkpointer.journal_path
    assert journal.is_relative_to(ledger.settings.home) and stat.S_IMODE(journal.stat().st_mode) == 0o600
    key = ledger.settings.home / "keys" / "checkpoint.ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with ledger.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(CHECKPOINTS.select()) for v in row)
    assert "PRIVATE KEY" not in stored and key.read_text().split("\n")[1] not in stored, "the signing key never enters the database"


def test_every_t_seconds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "p"
    ledger = tree_ledger(folder, n=1000)
    policy = (ledger.policy.directory / "policy.yaml").read_text().replace("checkpoint_every_seconds: 300", "checkpoint_every_seconds: 1")
    (ledger.policy.directory / "policy.yaml").write_text(policy)
    from tests.conftest import make_ledger

    ledger = make_ledger(folder / "home", policies=ledger.policy.directory)
    fill(ledger, 3)
    assert checkpoint_sizes(ledger) == [1]
    time.sleep(1.1)
    fill(ledger, 1)
    assert checkpoint_sizes(ledger) == [1, 4]


def test_retention_and_export_write_checkpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.workbench.exports import export_bundle
    from core.workbench.retention import run

    ledger = tree_ledger(tmp_path, n=1000)
    fill(ledger, 3)
    ops = ledger.policy.principal("ops")
    run(ledger, ops, dry_run=True)
    export_bundle(ledger, ops, "jsonl", tmp_path / "e.jsonl")
    with ledger.engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(CHECKPOINTS.select().with_only_columns(CHECKPOINTS.c.reason).order_by(CHECKPOINTS.c.id))]
    assert reasons == ["every_n_or_t", "retention", "export"]


def test_a_directory_witness_survives_the_loss_of_the_journal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    witness = tmp_path / "other-volume" / "witness"
    ledger = tree_ledger(tmp_path, n=5, extra=f"  witnesses:\n    - kind: directory\n      path: {witness}\n")
    fill(ledger, 10)
    old = snapshot(ledger)
    fill(ledger, 6, tag="later")
    files = sorted(witness.glob("checkpoint-*.txt"))
    assert [parse_checkpoint(f.read_text()).size for f in files] == [1, 6, 11, 16]
    restore(ledger, old)
    ledger.audit.checkpointer.journal_path.unlink()  # the attacker also removed the journal
    verdict = verify_ledger(ledger)
    assert not verdict.ok and "shorter than" in verdict.first().message and "witness" in verdict.first().message


def test_a_syslog_witness_sends_each_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(10)
    port = collector.getsockname()[1]
    try:
        ledger = tree_ledger(tmp_path, n=5, extra=f"  witnesses:\n    - kind: syslog\n      address: 127.0.0.1:{port}\n")
        fill(ledger, 6)
        got = [collector.recv(65536).decode() for _ in range(2)]
    finally:
        collector.close()
    assert all(g.startswith("<37>ragledger: ragledger-checkpoint {") for g in got)
    notes = [parse_checkpoint(json.loads(g.split(" ", 2)[2])["note"]) for g in got]
    assert [n.size for n in notes] == [1, 6] and all(n.signed_by(ledger.audit.checkpointer.verifier) for n in notes)


def test_a_failing_witness_is_named_and_retried(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the witness folder should be")
    ledger = tree_ledger(tmp_path, n=5, extra=f"  witnesses:\n    - kind: directory\n      path: {blocker}\n")
    fill(ledger, 1)
    assert "not delivered to directory" in caplog.text
    with ledger.engine.connect() as conn:
        assert [p for (p,) in conn.execute(CHECKPOINTS.select().with_only_columns(CHECKPOINTS.c.published))] == [False]
    blocker.unlink()
    assert latest_checkpoint(ledger).size == 1
    with ledger.engine.connect() as conn:
        assert [p for (p,) in conn.execute(CHECKPOINTS.select().with_only_columns(CHECKPOINTS.c.published))] == [True]
    assert len(list(blocker.glob("checkpoint-*.txt"))) == 1


@pytest.mark.parametrize("extra,field", [
    ("  witnesses:\n    - kind: directory\n", "audit_log.witnesses.0"),
    ("  witnesses:\n    - kind: ftp\n      path: x\n", "audit_log.witnesses.0.kind"),
])
def test_bad_witnesses_are_refused_at_load(tmp_path, extra, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as err:
        tree_ledger(tmp_path, extra=extra)
    assert err.value.field == field
