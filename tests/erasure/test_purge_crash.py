"""Crash safety and races: SIGKILL the purge after each journal step, resume, and compare with an
uninterrupted purge; run a purge while other threads ingest and ask."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from core.answering.ask import ask
from core.erasure.requests import create_request
from core.erasure.proof import scan_disk
from core.rag.ingest import Source, ingest
from core.erasure.purge import CRASH_ENV, STEPS, execute, pending_requests
from tests.conftest import make_ledger
from tests.erasure.test_purge import corpus

RUN_PURGE = "import sys; from core.ledger import Ledger; from core.erasure.purge import execute; L = Ledger.open(); execute(L, L.policy.principal('alice'), sys.argv[1])"


@pytest.fixture(scope="module")
def template(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("crash")
    docs = root / "docs"
    docs.mkdir()

    def write_doc(name, body, *, groups="all-staff", classification="internal", title=None):  # type: ignore[no-untyped-def]
        path = docs / name
        path.write_text(f"---\ntitle: {title or name}\ngroups: [{groups}]\nclassification: {classification}\n---\n{body}\n")
        return path

    ledger = make_ledger(root / "home")
    ops = ledger.policy.principal("ops")
    ids = {k: ingest(ledger, ops, [Source.from_path(p)])[0].doc_id for k, p in corpus(write_doc).items()}
    ask(ledger, ledger.policy.principal("alice"), "What grievance was filed about the night shift?")
    return root / "home", ids


def _state(ledger) -> dict:  # type: ignore[no-untyped-def]
    ledger.store.refresh()
    with ledger.engine.connect() as conn:
        docs = sorted(tuple(r) for r in conn.execute(text("SELECT doc_id, status, title, chunk_count FROM documents")))
        keys = sorted(r[0] for r in conn.execute(text("SELECT ref FROM sealing_keys WHERE wrapped IS NOT NULL AND ref <> '_kms_check'")))
        requests = sorted(tuple(r) for r in conn.execute(text("SELECT status, subject_sealed IS NULL FROM erasure_requests")))
    cert = ledger.audit.records(kinds=["purge"])[0]["payload"]
    return {
        "chunks": sorted(r["chunk_id"] for r in ledger.store.rows_where("doc_version >= 1", ["chunk_id"])),
        "docs": docs, "keys": keys, "requests": requests, "certified": cert["stage"],
        "chain_ok": ledger.audit.verify().ok, "journal": pending_requests(ledger),
        "uploads": sorted(p.name for p in ledger.settings.uploads_dir.iterdir()),
    }


def _copy(template_home: Path, dest: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(template_home, dest)
    return make_ledger(dest)


@pytest.fixture(scope="module")
def reference(template, tmp_path_factory):  # type: ignore[no-untyped-def]
    home, ids = template
    ledger = _copy(home, tmp_path_factory.mktemp("ref") / "home")
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["hr"], requested_by="subject")
    cert = execute(ledger, alice, request.request_id)
    assert cert.verified_clean
    return _state(ledger)


@pytest.mark.parametrize("step", STEPS)
def test_killed_purge_resumes_to_the_same_final_state(template, reference, tmp_path, step) -> None:  # type: ignore[no-untyped-def]
    home, ids = template
    ledger = _copy(home, tmp_path / "home")
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["hr"], requested_by="subject")
    env = {**os.environ, "RAGLEDGER_HOME": str(tmp_path / "home"), CRASH_ENV: step}
    proc = subprocess.run([sys.executable, "-c", RUN_PURGE, request.request_id], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert pending_requests(ledger) == [request.request_id]
    for rid in pending_requests(ledger):  # what `ragledger purge --resume` does
        execute(ledger, alice, rid)
    assert _state(ledger) == reference
    assert scan_disk(ledger, ["ZXQ-ALPHA-7781", "moved to the day shift"])["hit_count"] == 0


def test_purge_racing_with_ingestion_and_asks_loses_nothing_unrelated(template, tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    home, ids = template
    ledger = _copy(home, tmp_path / "home")
    alice, ops = ledger.policy.principal("alice"), ledger.policy.principal("ops")
    new_docs = [write_doc(f"news-{i}.md", f"Bulletin {i}: the parking garage code RACE-{i:03d}-OK changes on Monday. " * 30, title=f"Bulletin {i}") for i in range(5)]
    errors: list[BaseException] = []
    ingested: list[str] = []

    def ingest_loop() -> None:
        try:
            writer = make_ledger(tmp_path / "home")
            for path in new_docs:
                ingested.append(ingest(writer, ops, [Source.from_path(path)])[0].doc_id)
        except BaseException as exc:  # surfaced to the test thread below
            errors.append(exc)

    def ask_loop() -> None:
        try:
            reader = make_ledger(tmp_path / "home")
            for _ in range(6):
                ask(reader, alice, "What changes about the parking garage code?")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest_loop), threading.Thread(target=ask_loop)]
    for t in threads:
        t.start()
    request = create_request(ledger, alice, doc_id=ids["hr"], requested_by="subject")
    cert = execute(ledger, alice, request.request_id)
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert cert.verified_clean
    ledger.store.refresh()
    with ledger.engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT doc_id, chunk_count FROM documents WHERE status = 'active'")).all())
    for doc_id in ingested + [ids["mixed"], ids["other"]]:
        assert ledger.store.count(f"doc_id = '{doc_id}'") == counts[doc_id] > 0
    assert ledger.store.count(f"doc_id = '{ids['hr']}'") == 0
    assert scan_disk(ledger, ["ZXQ-ALPHA-7781", "moved to the day shift"])["hit_count"] == 0
    assert ledger.audit.verify().ok
    after = ask(ledger, alice, "What changes about the parking garage code on Monday?")
    assert len(ingested) == 5 and any(c.doc_id in ingested for c in after.citations)
