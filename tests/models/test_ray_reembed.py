"""Re-embedding on a real Ray cluster (`ragledger models reembed --ray ADDRESS`): a head on loopback
for this module (tests/ray_support.py), the new model loaded in Ray embed actors, every LanceDB
write and ledger row in the driver. The configured model is a copy of MiniLM under another identity,
so the vectors a Ray re-embed writes can be compared with the ones the local ingest wrote."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from core.answering.ask import ask
from core.errors import StoreError
from core.models import reembed_copy
from core.models.embedder_reembed import reembed_configured
from core.rag import ray_ingest
from core.rag.embedder import base_model_path
from core.rag.ingest import Source, ingest
from tests.conftest import make_ledger
from tests.models.test_embedder_setting import QUESTION, policies_with
from tests.ray_support import ray_head

pytestmark = pytest.mark.ray
ray_address = pytest.fixture(scope="module")(ray_head)
COPIED = ("doc_id", "ord", "title", "text", "groups", "classification", "content_hash", "pii_spans", "language")


@pytest.fixture
def configured(tmp_path, write_doc):  # type: ignore[no-untyped-def]
    """A home ingested with the packaged MiniLM, and a ledger whose policy names a copy of it."""
    home = tmp_path / "home"
    plain = make_ledger(home)
    ops = plain.policy.principal("ops")
    ingest(plain, ops, [Source.from_path(write_doc("leave.md", "# Annual leave\n\nEmployees get 28 days of annual leave per year. "
                                                  "Requests go to Marit Solberg (marit.solberg@example.com).")),
                        Source.from_path(write_doc("vpn.md", "# VPN\n\nThe VPN disconnects after 12 hours. " * 30))])
    copy = shutil.copytree(base_model_path(), tmp_path / "minilm-copy")
    ledger = make_ledger(home, policies=policies_with(tmp_path, {"model": str(copy), "identity": "minilm-copy"}))
    rows = {r["chunk_id"]: r for r in plain.store.all_rows(["chunk_id", *COPIED, "vector"])}
    return ledger, rows


def test_a_reembed_on_ray_switches_to_the_vectors_a_local_encode_gives(configured, ray_address) -> None:  # type: ignore[no-untyped-def]
    ledger, before = configured
    alice = ledger.policy.principal("alice")
    result = reembed_configured(ledger, alice, ray=ray_address)
    assert result is not None and result["to"] == "minilm-copy" and result["chunks"] == len(before) > 1
    after = {r["chunk_id"]: r for r in ledger.store.all_rows(["chunk_id", *COPIED, "vector"])}
    assert after.keys() == before.keys()
    for chunk_id, row in after.items():
        assert {k: row[k] for k in COPIED} == {k: before[chunk_id][k] for k in COPIED}  # every column copied as it was
        assert np.allclose(row["vector"], before[chunk_id]["vector"], atol=1e-5)  # the same weights, encoded in the actor
    assert ledger.active_index()["embedder_id"] == "minilm-copy"
    answer = ask(ledger, ledger.policy.principal("carol"), QUESTION)
    assert "28 days" in answer.answer and "marit.solberg@example.com" not in answer.answer + "".join(c.text for c in answer.shown)
    assert not any(key[2] == "minilm-copy" for key in ray_ingest._ACTORS)  # the new model's actors were released
    import ray

    deadline = time.monotonic() + 30  # their CPUs come back to the cluster (Ray frees them asynchronously)
    while ray.available_resources().get("CPU", 0) < ray.cluster_resources()["CPU"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == ray.cluster_resources()["CPU"]


def test_an_actor_killed_mid_reembed_is_restarted_and_the_copy_completes(configured, ray_address, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ledger, before = configured
    marker = tmp_path / "killed"
    monkeypatch.setenv(ray_ingest.FAULT_ENV, f"kill-once:embed:{marker}")
    result = reembed_configured(ledger, ledger.policy.principal("alice"), ray=ray_address)
    assert marker.exists(), "the fault fired: the embed actor's process was killed"
    assert result is not None and result["chunks"] == len(before) == ledger.store.count()


def test_an_actor_that_keeps_dying_leaves_the_active_index_as_it_was(configured, ray_address, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ledger, before = configured
    active = ledger.active_index()
    monkeypatch.setattr(reembed_copy, "BATCH", 1)  # the first chunk is copied into the new table, the second fails
    batch = f"re-embed chunks 2-2 of {len(before)}"
    monkeypatch.setenv(ray_ingest.FAULT_ENV, f"kill-always:embed:{batch}")
    with pytest.raises(StoreError, match=rf"{batch}: embedding on the Ray cluster failed after 2 restarts") as err:
        reembed_configured(ledger, ledger.policy.principal("alice"), ray=ray_address)
    assert "the active index was not changed" in err.value.hint
    assert ledger.active_index() == active
    assert ledger.store.db.table_names() == [active["table"]]  # no half copy kept
    assert not ledger.audit.records(kinds=["embedder_reembed"])
    plain = make_ledger(ledger.settings.home)  # the packaged MiniLM still serves the index it built
    assert "28 days" in ask(plain, plain.policy.principal("carol"), QUESTION).answer


def test_reembed_takes_ray_from_the_command_line_and_names_an_unreachable_head(configured) -> None:  # type: ignore[no-untyped-def]
    from tests.ray_support import free_port

    ledger, _ = configured
    active = ledger.active_index()
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "RAGLEDGER_HOME": str(ledger.settings.home), "RAGLEDGER_POLICIES": str(ledger.settings.policies_dir)}
    env.pop("RAGLEDGER_USER", None)
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "models", "reembed", "--user", "alice", "--ray", address],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"the Ray cluster at {address} cannot be reached" in proc.stderr
    assert ledger.active_index() == active and ledger.store.db.table_names() == [active["table"]]
