"""Ingestion fanned out on a real Ray cluster: a head started on loopback for this module (`ray start
--head --block`, its own process group, ended by its id), joined with `--ray 127.0.0.1:PORT`. Real
Presidio/spaCy in the Ray workers, real MiniLM in the embed actor, LanceDB and SQLite in the driver."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.answering.ask import ask
from core.errors import IngestError
from core.rag.ingest import Source, ingest
from tests.conftest import make_ledger
from tests.ray_support import free_port, ray_head

pytestmark = pytest.mark.ray

PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter in detail. " * 6
DOCS = {
    "laptops.md": ("Laptop security rules", "all-staff", "internal",
                   f"## Laptops\n\nAll laptops lock after 5 minutes of inactivity. Questions go to Johanna Brightwater "
                   f"(johanna.brightwater@example.com). {PAD}\n\n## Travel\n\nLaptops stay in the hotel safe. {PAD}"),
    "grievance.md": ("Grievance case file", "hr", "confidential",
                     f"## Case\n\nQuentin Marlowe-Spade (quentin.ms@example.com) filed grievance ZXQ-ALPHA-7781 about the night shift. {PAD}"),
    "canteen.md": ("Canteen news", "all-staff", "internal", f"## Canteen\n\nThe canteen serves a vegan lunch on Thursdays. {PAD}"),
}


ray_address = pytest.fixture(scope="module")(ray_head)


def _write(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        title, groups, level, body = DOCS[name]
        (folder / name).write_text(f"---\ntitle: {title}\ngroups: [{groups}]\nclassification: {level}\n---\n{body}\n")
        out.append(folder / name)
    return out


def _consistent(ledger) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Per active document, its chunk count in LanceDB equals the ledger's; no chunk without a document."""
    with ledger.engine.connect() as conn:
        from sqlalchemy import text

        docs = dict(conn.execute(text("SELECT doc_id, chunk_count FROM documents WHERE status = 'active'")).all())
    for doc_id, count in docs.items():
        assert ledger.store.count(f"doc_id = '{doc_id}'") == count, doc_id
    assert ledger.store.count() == sum(docs.values())
    return docs


@pytest.fixture(scope="module")
def ray_ledger(ray_address, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("ray-ingest")
    ledger = make_ledger(root / "home")
    files = _write(root / "docs", list(DOCS))
    results = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in files], ray=ray_address)
    return ledger, {r.title: r for r in results}, files


def test_ray_ingest_stores_whole_documents_and_answers_redacted(ray_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger, results, _ = ray_ledger
    assert {r.status for r in results.values()} == {"new"}
    assert results["Laptop security rules"].pii.get("EMAIL_ADDRESS") == 1
    assert _consistent(ledger) == {r.doc_id: r.chunks for r in results.values()}
    carol = ledger.policy.principal("carol")
    answer = ask(ledger, carol, "After how many minutes do laptops lock?")
    assert "5 minutes" in answer.answer and answer.citations[0].doc_id == results["Laptop security rules"].doc_id
    assert "johanna.brightwater@example.com" not in answer.answer
    shown = ask(ledger, carol, "Who do questions about laptops go to?")
    assert shown.citations and "johanna.brightwater@example.com" not in shown.answer + "".join(c.text for c in shown.citations)
    assert shown.redactions
    assert not ask(ledger, carol, "What grievance was filed about the night shift?").citations  # hr, confidential: not carol's


def test_ray_chunks_and_vectors_equal_the_plain_ingest(ray_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger, results, files = ray_ledger
    plain = make_ledger(tmp_path / "plain")
    by_title = {r.title: r for r in ingest(plain, plain.policy.principal("ops"), [Source.from_path(p) for p in files])}
    keys = ("ord", "title", "title_spans", "text", "start", "end", "groups", "classification", "content_hash", "pii_spans", "pii_types", "language")
    for title, r in results.items():
        got = sorted(ledger.store.rows_where(f"doc_id = '{r.doc_id}'", ["chunk_id", *keys, "vector"]), key=lambda row: row["ord"])
        want = sorted(plain.store.rows_where(f"doc_id = '{by_title[title].doc_id}'", ["chunk_id", *keys, "vector"]), key=lambda row: row["ord"])
        assert [{k: row[k] for k in keys} for row in got] == [{k: row[k] for k in keys} for row in want]
        assert all(row["chunk_id"].startswith("chk_") for row in got)  # chunk ids are random in both paths, by design
        assert got and np.allclose(np.array([row["vector"] for row in got]), np.array([row["vector"] for row in want]), atol=1e-5)


def test_purge_certificate_and_audit_verify_after_a_ray_ingest(ray_ledger) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.purge import execute
    from core.erasure.requests import create_request

    ledger, results, _ = ray_ledger
    alice = ledger.policy.principal("alice")
    doc = results["Grievance case file"]
    request = create_request(ledger, alice, doc_id=doc.doc_id, requested_by="the data subject", reason="Art. 17")
    cert = execute(ledger, alice, request.request_id)
    assert cert.verified_clean and cert.erased["lancedb"]["chunks_deleted"] == doc.chunks
    assert ledger.store.count(f"doc_id = '{doc.doc_id}'") == 0
    _consistent(ledger)
    env = {**os.environ, "RAGLEDGER_HOME": str(ledger.settings.home)}
    env.pop("RAGLEDGER_USER", None)
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("stage", ["prepare", "embed"])
def test_a_worker_killed_mid_ingest_is_retried_to_whole_documents(ray_address, tmp_path, monkeypatch, stage) -> None:  # type: ignore[no-untyped-def]
    """prepare: the analysis task's worker dies once (Ray re-runs the task); embed: the embed actor's
    process dies once (Ray restarts it, reloading MiniLM, and retries the call)."""
    ledger = make_ledger(tmp_path / "home")
    marker = tmp_path / "killed"
    monkeypatch.setenv("RAGLEDGER_RAY_FAULT", f"kill-once:{stage}:{marker}")
    files = _write(tmp_path / "docs", ["laptops.md", "canteen.md"])
    results = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in files], ray=ray_address)
    assert marker.exists(), "the fault fired: a Ray worker process was killed"
    assert [r.status for r in results] == ["new", "new"]
    assert _consistent(ledger) == {r.doc_id: r.chunks for r in results}


def test_a_worker_that_keeps_dying_fails_the_ingest_whole(ray_address, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path / "home")
    monkeypatch.setenv("RAGLEDGER_RAY_FAULT", "kill-always:prepare:grievance.md")
    files = _write(tmp_path / "docs", ["laptops.md", "grievance.md", "canteen.md"])
    with pytest.raises(IngestError, match=r"grievance\.md: the Ray task analysing it failed after 2 retries"):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in files], ray=ray_address)
    docs = _consistent(ledger)  # the file before it is stored whole, it and the file after it not at all
    with ledger.engine.connect() as conn:
        from sqlalchemy import text

        titles = [t for (t,) in conn.execute(text("SELECT title FROM documents"))]
    assert titles == ["Laptop security rules"] and len(docs) == 1
    assert len(ledger.audit.records(kinds=["ingest"])) == 1


def test_an_unreachable_ray_address_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = _write(tmp_path / "docs", ["canteen.md"])[0]
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "RAGLEDGER_HOME": str(tmp_path / "home")}
    env.pop("RAGLEDGER_USER", None)
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "ingest", str(doc), "--ray", address], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"the Ray cluster at {address} cannot be reached" in proc.stderr and "ray start --head" in proc.stderr
    assert "Traceback" not in proc.stderr
