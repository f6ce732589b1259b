"""The `ragledger` command as a script would use it (a real subprocess, real stores)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

FILLER = "The finance team reviewed the travel and expense guidelines for the new fiscal year. " * 6


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAGLEDGER_HOME": str(home)}
    env.pop("RAGLEDGER_USER", None)
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("cli")
    doc = home.parent / "travel.md"
    doc.write_text(f"---\ntitle: Travel memo\ngroups: [finance]\nclassification: confidential\n---\n"
                   f"The Q3 travel budget was cut to EUR 240,000 by Priya Raman (priya.raman@example.com). {FILLER}")
    out = run(home, "ingest", str(doc), "--json")
    return home, json.loads(out.stdout), doc


def test_ingest_json_reports_document(cli_home) -> None:  # type: ignore[no-untyped-def]
    _, doc, _ = cli_home
    assert set(doc) >= {"doc_id", "title", "chunks", "pii"}
    assert doc["title"] == "Travel memo" and doc["chunks"] >= 1 and doc["pii"]["EMAIL_ADDRESS"] == 1


def test_reingest_is_reported_unchanged(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, doc, path = cli_home
    again = json.loads(run(home, "ingest", str(path), "--json").stdout)
    assert again["doc_id"] == doc["doc_id"] and again["status"] == "unchanged"


def test_ask_json_has_answer_citations_redactions_audit_id(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, doc, _ = cli_home
    out = json.loads(run(home, "ask", "What was the Q3 travel budget cut to?", "--user", "alice", "--json").stdout)
    assert "EUR 240,000" in out["answer"] and "[1]" in out["answer"]
    assert out["citations"][0]["doc_id"] == doc["doc_id"]
    assert set(out["citations"][0]) == {"n", "doc_id", "chunk_id", "title", "score"}
    assert len(out["audit_id"]) == 32 and isinstance(out["redactions"], dict)


def test_ask_as_someone_without_access_gets_nothing_from_the_memo(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = cli_home
    out = json.loads(run(home, "ask", "What was the Q3 travel budget cut to?", "--user", "carol", "--json").stdout)
    assert "240,000" not in out["answer"] and out["citations"] == [] and "withheld" not in out
    from tests.conftest import make_ledger

    record = make_ledger(home).audit.records(record_id=out["audit_id"])[0]
    assert record["payload"]["withheld"], "the withheld matches are in the audit record, never shown"


def test_ask_that_no_passage_supports_abstains_with_see_also(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, doc, _ = cli_home
    out = json.loads(run(home, "ask", "How many weeks of paid parental leave do employees receive?", "--user", "alice", "--json").stdout)
    assert out["answer"].startswith("I don't know") and out["citations"] == [] and out["abstained"] is True
    assert [s["doc_id"] for s in out["see_also"]] == [doc["doc_id"]]
    assert out["abstention"]["reason"] and out["abstention"]["scores"]["overlap"] < out["abstention"]["thresholds"]["min_overlap"]
    text = run(home, "ask", "How many weeks of paid parental leave do employees receive?", "--user", "alice").stdout
    assert "see also: Travel memo" in text and "[1]" not in text


def test_unknown_user_is_a_clear_error(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = cli_home
    proc = run(home, "ask", "hi", "--user", "mallory", check=False)
    assert proc.returncode == 3 and "unknown principal 'mallory'" in proc.stderr and "principals.yaml" in proc.stderr
    assert not any(name in proc.stderr for name in ("alice", "bob", "carol", "dave", "ops")), "no account is listed"


def test_bad_file_is_a_clear_error(cli_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = cli_home
    bad = tmp_path / "x.exe"
    bad.write_bytes(b"MZ")
    proc = run(home, "ingest", str(bad), check=False)
    assert proc.returncode == 1 and "unsupported file type" in proc.stderr and "supported:" in proc.stderr


def test_export_formats(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = cli_home
    jsonl = run(home, "audit", "export", "--format", "jsonl").stdout.splitlines()
    assert all("hash" in json.loads(line) for line in jsonl)
    csv_lines = run(home, "audit", "export", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("seq,hash") and len(csv_lines) == len(jsonl) + 1


def test_verify_passes_then_fails_naming_the_edited_record(cli_home) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = cli_home
    ok = json.loads(run(home, "audit", "verify", "--json").stdout)
    assert ok["ok"] and ok["records"] >= 3
    db = sqlite3.connect(home / "audit_db" / "ledger.db")
    record_id = db.execute("SELECT record_id FROM audit_records WHERE seq = 2").fetchone()[0]
    db.execute("UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    db.commit()
    db.close()
    proc = run(home, "audit", "verify", check=False)
    assert proc.returncode == 5 and record_id in proc.stdout and "seq=2" in proc.stdout
