"""Background jobs (core/models/background.py): status on disk that a refresh or another process reads,
errors kept as the user's next step, a job whose server died reads as interrupted, and the same
work cannot be started twice."""
from __future__ import annotations

import json
import threading
import time

import pytest

from core.models import background
from core.errors import AccessDenied, RagLedgerError


def test_a_job_reports_progress_and_its_result_to_a_fresh_reader(ledger) -> None:
    ops, gate = ledger.policy.principal("ops"), threading.Event()

    def work(report):  # type: ignore[no-untyped-def]
        report("step 1/2", 1, 2)
        gate.wait(30)
        return {"message": "all done"}

    job = background.start(ledger, ops, "train", "dsv_x", "Training", work)
    try:
        seen = background.get_job(ledger, job.job_id)  # read back from RAGLEDGER_HOME/jobs, as another tab would
        assert seen.running and seen.label == "Training" and seen.actor == "ops"
        for _ in range(100):
            if background.get_job(ledger, job.job_id).done == 1:
                break
            time.sleep(0.05)
        assert background.get_job(ledger, job.job_id).message == "step 1/2" and background.get_job(ledger, job.job_id).fraction == 0.5
        with pytest.raises(background.JobAlreadyRunning):
            background.start(ledger, ops, "train", "dsv_x", "Training", work)
    finally:
        gate.set()
    done = background.wait(ledger, job.job_id)
    assert done.state == "succeeded" and done.result == {"message": "all done"} and done.ended_at
    assert [j.job_id for j in background.list_jobs(ledger, ops)] == [job.job_id]


def test_a_failing_job_keeps_the_error_and_what_to_do(ledger) -> None:
    def work(report):  # type: ignore[no-untyped-def]
        raise RagLedgerError("dataset dsv_x is flagged", hint="rebuild it")

    job = background.start(ledger, ledger.policy.principal("ops"), "train", "dsv_x", "Training", work)
    done = background.wait(ledger, job.job_id)
    assert done.state == "failed" and done.error == "dataset dsv_x is flagged (rebuild it)"


def test_a_job_whose_server_is_gone_reads_as_interrupted(ledger) -> None:
    folder = ledger.settings.home / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    stale = {"job_id": "job_dead", "kind": "train", "target": "dsv_x", "label": "Training", "actor": "dave",
             "started_at": "2026-01-01 00:00:00", "pid": 2**22 + 17}  # no such process
    (folder / "job_dead.json").write_text(json.dumps(stale))
    job = background.get_job(ledger, "job_dead")
    assert job.state == "interrupted" and "start it again" in (job.error or "")
    # ...so it does not block starting the same work again.
    again = background.start(ledger, ledger.policy.principal("ops"), "train", "dsv_x", "Training", lambda report: {})
    assert background.wait(ledger, again.job_id).state == "succeeded"


def test_roles_without_models_read_see_no_jobs(ledger) -> None:
    with pytest.raises(AccessDenied):
        background.list_jobs(ledger, ledger.policy.principal("bob"))
