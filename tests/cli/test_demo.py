"""`ragledger demo load` (core/demo.py) on the real parts: the demo it leaves shows every use case,
and loading again changes nothing and says so."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

from conftest import make_ledger
from core.config import REPO_ROOT
from core.models.datasets import list_datasets
from core.demo import ASKERS, ERASURE, STEPS, demo_questions, done_steps, load_demo
from core.rag.documents import list_documents
from core.erasure.requests import list_requests
from core.models.lineage import checkpoint_lineage
from core.models.registry import list_checkpoints, production
from ui_support import copy_home, errors, home_env, page_as, texts


def _state(ledger) -> dict:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    return {"records": ledger.audit.count(), "checkpoints": [(c.checkpoint_id, c.stage) for c in list_checkpoints(ledger, alice)],
            "requests": [(r.request_id, r.status) for r in list_requests(ledger, alice)],
            "datasets": [d.dataset_id for d in list_datasets(ledger, alice)], "active_index": ledger.active_index()}


def test_the_demo_has_a_production_embedder_with_lineage_to_the_demo_documents(demo_loaded_home) -> None:
    ledger = make_ledger(demo_loaded_home)
    alice = ledger.policy.principal("alice")
    ckpt = production(ledger, "embedder")
    assert ckpt is not None and ckpt.created_by == "dave" and ckpt.proposed_by == "dave" and ckpt.approved_by == "alice"
    assert ckpt.metrics["train_pairs"] > 0 and "recall@1" in ckpt.metrics and "base_recall@1" in ckpt.metrics
    # The corpus was re-embedded with it: retrieval now serves from its table.
    assert ledger.active_index()["embedder_id"] == ckpt.checkpoint_id
    lineage = checkpoint_lineage(ledger, alice, ckpt.checkpoint_id)
    titles = {d["title"] for d in list_documents(ledger, alice)}
    assert len(lineage["documents"]) >= 3 and all(d["title"] in titles and d["status"] == "active" for d in lineage["documents"])
    assert lineage["run"]["run_by"] == "dave" and lineage["answers"]  # the demo answers were served by it


def test_every_demo_role_answered_the_demo_questions_in_the_audit_log(demo_loaded_home) -> None:
    ledger = make_ledger(demo_loaded_home)
    questions = demo_questions()
    ckpt = production(ledger, "embedder")
    for user in ASKERS:
        answers = ledger.audit.records(kinds=["answer"], actor=user, limit=1000)
        assert len(answers) == len(questions), user
        assert {r["payload"]["embedder"] for r in answers} == {ckpt.checkpoint_id}
    carol = ledger.audit.records(kinds=["answer"], actor="carol", limit=1000)
    assert any(r["payload"]["withheld"] for r in carol)  # HR questions: the Overview's withheld chart has data
    assert ledger.audit.verify().ok


def test_the_demo_erasure_request_is_previewed_with_its_deadline_but_not_executed(demo_loaded_home) -> None:
    ledger = make_ledger(demo_loaded_home)
    alice = ledger.policy.principal("alice")
    [request] = list_requests(ledger, alice)
    assert request.status == "previewed" and request.executed_at is None and request.requested_by == ERASURE["requested_by"]
    received, due = datetime.fromisoformat(request.received_at), datetime.fromisoformat(request.due_at)
    assert due - received == timedelta(days=30) and not request.overdue
    preview = request.preview
    assert preview["chunks"] >= 1 and preview["checkpoints"] == [production(ledger, "embedder").checkpoint_id]
    assert all(d["status"] == "active" for d in list_documents(ledger, alice))  # nothing was erased


def test_loading_again_changes_nothing_and_says_so(demo_loaded_home, tmp_path) -> None:
    home = copy_home(demo_loaded_home, tmp_path / "home")
    ledger = make_ledger(home)
    before = _state(ledger)
    lines: list[str] = []
    result = load_demo(ledger, ledger.policy.principal("ops"), progress=lines.append)
    assert not result.changed and [s.step for s in result.steps] == list(STEPS)
    assert all("already done" in s.summary for s in result.steps[1:]) and result.steps[0].summary.endswith("unchanged")
    assert _state(make_ledger(home)) == before
    assert any("nothing changed" in line for line in lines)
    assert set(done_steps(ledger)) == set(STEPS) - {"documents"}

    env = {**os.environ, **home_env(home)}
    env.pop("RAGLEDGER_USER", None)
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "demo", "load"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing changed: the demo was already loaded." in proc.stdout
    assert "[2/7] embedder: already done" in proc.stderr  # progress, step by step
    assert _state(make_ledger(home)) == before


def test_demo_steps_are_kept_in_sqlite_and_postgresql(any_ledger) -> None:
    from core.demo import _record

    _record(any_ledger, "erasure", {"request_id": "era_x", "summary": "recorded"})
    assert done_steps(any_ledger)["erasure"]["request_id"] == "era_x"


def test_after_the_demo_the_models_and_erasure_pages_show_data(demo_loaded_home, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RAGLEDGER_HOME", raising=False)
    monkeypatch.delenv("RAGLEDGER_DATABASE_URL", raising=False)
    home = copy_home(demo_loaded_home, tmp_path / "home")
    ckpt = production(make_ledger(home), "embedder")
    at = page_as("pages/models.py", home, "alice").run()
    assert not errors(at), errors(at)
    assert "No checkpoints yet" not in texts(at) and ckpt.checkpoint_id in at.dataframe[0].value["checkpoint"].tolist()
    at = page_as("pages/erasure.py", home, "alice").run()
    assert not errors(at), errors(at)
    assert "No erasure requests yet" not in texts(at) and "previewed" in texts(at)
    at = next(b for b in at.button if b.label == "Preview").click().run()  # the officer opens the preview
    assert "checkpoints flagged for retraining: " + ckpt.checkpoint_id in texts(at)
