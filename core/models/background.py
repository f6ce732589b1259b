"""Background jobs: long model-registry work (training, retraining, promoting an embedder, which
re-embeds the corpus) runs in a thread of the serving process, so a browser tab is never blocked
for minutes and a refresh or another tab still sees how far it got.

Each job's status is a small JSON file under RAGLEDGER_HOME/jobs/ (written atomically: temp file +
os.replace) with its progress message, counts, result or error; pages poll it. A job whose process
or thread is gone (the server restarted) reads as "interrupted": nothing claims it still runs.
"""
from __future__ import annotations

import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.policy.actions import MODELS_READ
from core.errors import NotFound, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.stores.tables import utcnow

Progress = Callable[[str, int, int], None]
_THREADS: dict[str, threading.Thread] = {}  # job id -> thread, this process only
_LOCK = threading.Lock()
KEEP = 50  # finished jobs kept on disk, newest first


class JobAlreadyRunning(RagLedgerError):
    """The same work is already running (a double click, or another tab); nothing was started."""


@dataclass
class Job:
    job_id: str
    kind: str  # train, retrain, promote
    target: str  # what it works on: a dataset or checkpoint id
    label: str  # for people: "Training an embedder on dsv_…"
    actor: str
    state: str = "running"  # running, succeeded, failed, interrupted
    message: str = "starting…"
    done: int = 0
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: str = ""
    ended_at: str | None = None
    pid: int = 0

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0


def _folder(ledger: Ledger) -> Path:
    folder = ledger.settings.home / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write(ledger: Ledger, job: Job) -> None:
    path = _folder(ledger) / f"{job.job_id}.json"
    tmp = path.with_name(f".{job.job_id}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(job)))
    os.replace(tmp, path)


def _alive(job: Job) -> bool:
    if job.pid == os.getpid():
        thread = _THREADS.get(job.job_id)
        return thread is not None and thread.is_alive()
    try:
        os.kill(job.pid, 0)  # another process (a second server): alive if it still exists
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True


def _read(path: Path) -> Job | None:
    try:
        job = Job(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # a half-written or foreign file is not a job
    if job.running and not _alive(job):
        job.state, job.error = "interrupted", job.error or "the server stopped while this job ran; start it again"
    return job


def start(ledger: Ledger, principal: Principal, kind: str, target: str, label: str,
          work: Callable[[Progress], dict[str, Any]]) -> Job:
    """Run `work(progress)` in a thread; its returned dict becomes the job's result. The caller checks
    the principal's permission first (the work checks it again, as every core function does)."""
    with _LOCK:
        for other in list_jobs(ledger, principal):
            if other.running and other.kind == kind and other.target == target:
                raise JobAlreadyRunning(f"{other.label} is already running (started {other.started_at[:19]})",
                                        hint="wait for it to finish; its progress shows on the Models page")
        job = Job(job_id=f"job_{uuid.uuid4().hex[:12]}", kind=kind, target=target, label=label, actor=principal.name,
                  started_at=str(utcnow()), pid=os.getpid())
        _write(ledger, job)
        thread = threading.Thread(target=_run, args=(ledger, job, work), name=job.job_id, daemon=True)
        _THREADS[job.job_id] = thread
        thread.start()
    return job


def _run(ledger: Ledger, job: Job, work: Callable[[Progress], dict[str, Any]]) -> None:
    def progress(message: str, done: int, total: int) -> None:
        job.message, job.done, job.total = message, done, total
        _write(ledger, job)

    try:
        job.result = work(progress) or {}
        job.state, job.message = "succeeded", "done"
    except RagLedgerError as exc:  # the user's next step, as the page would have shown it
        job.state, job.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001  (a job thread has no caller to raise to; the status says what broke)
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    job.ended_at = str(utcnow())
    _write(ledger, job)
    _THREADS.pop(job.job_id, None)
    _prune(ledger)


def _prune(ledger: Ledger) -> None:
    finished = sorted((p for p in _folder(ledger).glob("job_*.json")), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in finished[KEEP:]:
        job = _read(path)
        if job is not None and not job.running:
            path.unlink(missing_ok=True)


def list_jobs(ledger: Ledger, principal: Principal) -> list[Job]:
    """Jobs, newest first (running ones first of all)."""
    require_audited(ledger, principal, MODELS_READ.name, "models.jobs")
    jobs = [j for j in (_read(p) for p in _folder(ledger).glob("job_*.json")) if j is not None]
    return sorted(jobs, key=lambda j: (j.running, j.started_at), reverse=True)


def get_job(ledger: Ledger, job_id: str) -> Job:
    job = _read(_folder(ledger) / f"{job_id}.json")
    if job is None:
        raise NotFound(f"no job {job_id!r}", hint="the Models page lists the recent jobs")
    return job


def wait(ledger: Ledger, job_id: str, timeout: float = 600.0) -> Job:
    """Block until the job ends (tests and the CLI); returns its final status."""
    thread = _THREADS.get(job_id)
    if thread is not None:
        thread.join(timeout)
    return get_job(ledger, job_id)
