"""Audit exports with a manifest verify offline, and every kind of tampering is caught; the CLI
(`ragledger audit export-bundle`, `ragledger audit verify --export`) is run as a real subprocess."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import AccessDenied, AuditIntegrityError, RagLedgerError
from core.audit.events import AnswerServed, Denied, SignIn
from core.workbench.exports import export_bundle, manifest_path, verify_export
from core.workbench.retention import run as retention_run


def _fill(ledger) -> None:  # type: ignore[no-untyped-def]
    for i in range(8):
        ledger.audit.append(SignIn(actor="bob", actor_role="hr_manager"))
        ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question=f"question {i}", answer="an answer, with commas",
                                         redactions={"PERSON": i}))
        ledger.audit.append(Denied(actor="carol", actor_role="employee", action="purge", target="x"))


def _reseal(path) -> None:  # type: ignore[no-untyped-def]
    """A careful forger also fixes the file's SHA-256 in the manifest."""
    m = json.loads(manifest_path(path).read_text())
    m["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path(path).write_text(json.dumps(m))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_offline_and_tampering_is_caught(any_ledger, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    _fill(any_ledger)
    alice = any_ledger.policy.principal("alice")
    out = tmp_path / f"audit.{fmt}"
    manifest = export_bundle(any_ledger, alice, fmt, out)
    live = any_ledger.audit.verify()
    assert manifest["records"] == 24 and manifest["anchor_hash"] == "0" * 64
    # the export's head is the live chain's head just before the export recorded itself
    assert any_ledger.audit.records(kinds=["audit_export"], limit=1)[0]["payload"]["head_hash"] == manifest["head_hash"]
    assert live.ok and live.records == 25
    verified = verify_export(out)
    assert {k: verified[k] for k in ("ok", "records", "head_hash", "anchor_hash", "format")} == {
        "ok": True, "records": 24, "head_hash": manifest["head_hash"], "anchor_hash": "0" * 64, "format": fmt}
    assert verified["merkle"]["tree_size"] == 24 and manifest["merkle"]["tree_size"] == 24

    original = out.read_bytes()
    out.write_bytes(original.replace(b"hr_manager", b"hr_managar", 1))
    with pytest.raises(AuditIntegrityError, match="SHA-256"):
        verify_export(out)
    _reseal(out)
    with pytest.raises(AuditIntegrityError, match="does not match its hash"):
        verify_export(out)

    lines = original.decode().splitlines(keepends=True)
    drop = 3 if fmt == "jsonl" else 4  # CSV has a header line
    out.write_bytes("".join(lines[:drop] + lines[drop + 1:]).encode())
    _reseal(out)
    with pytest.raises(AuditIntegrityError, match="does not link"):
        verify_export(out)

    out.write_bytes("".join(lines[:-1]).encode())
    _reseal(out)
    with pytest.raises(AuditIntegrityError, match="records, the manifest says"):
        verify_export(out)


def test_export_after_retention_starts_from_the_anchor(ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _fill(ledger)
    ops = ledger.policy.principal("ops")
    removed = retention_run(ledger, ops, now=datetime.now(timezone.utc) + timedelta(days=3000))
    out = tmp_path / "audit.jsonl"
    manifest = export_bundle(ledger, ops, "jsonl", out)
    assert manifest["anchor_hash"] == removed.anchor_hash and verify_export(out)["ok"]


def test_only_auditors_export(ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied):
        export_bundle(ledger, ledger.policy.principal("bob"), "jsonl", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_cli_export_bundle_and_verify(ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _fill(ledger)
    env = {**os.environ, "RAGLEDGER_HOME": str(ledger.settings.home), "RAGLEDGER_DATABASE_URL": ledger.settings.database_url}
    env.pop("RAGLEDGER_USER", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    out = tmp_path / "trail.csv"
    made = cli("audit", "export-bundle", "--format", "csv", "--output", str(out))
    assert made.returncode == 0, made.stderr
    ok = cli("audit", "verify", "--export", str(out), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["records"] == 24
    out.write_text(out.read_text().replace("hr_manager", "employee", 1))
    bad = cli("audit", "verify", "--export", str(out))
    assert bad.returncode == 5 and "SHA-256" in bad.stderr


def _named(ledger, name: str, actor: str = "bob") -> str:  # type: ignore[no-untyped-def]
    from core.audit.asked_about import keys_for

    return ledger.audit.append(AnswerServed(actor=actor, actor_role="hr_manager", question="What is the phone of <PERSON>?", answer="-",
                                            asked_about=[{"type": "PERSON", "as_written": name, "keys": keys_for(name)}]))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_filtered_export_holds_what_the_filters_list_and_says_so(any_ledger, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    from core.workbench.audit_views import list_trail

    _fill(any_ledger)
    alice = any_ledger.policy.principal("alice")
    kept = any_ledger.audit.checkpoint("auditor visit")  # an auditor's checkpoint, shorter than the export's tree
    out = tmp_path / f"answers.{fmt}"
    manifest = export_bundle(any_ledger, alice, fmt, out, {"kinds": ["answer"], "actor": "bob"})
    listed = list_trail(any_ledger, alice, kinds=["answer"], actor="bob")
    assert manifest["records"] == len(listed) == 8 and manifest["complete"] is False
    assert manifest["filters"] == {"kinds": ["answer"], "actor": "bob"}
    assert any_ledger.audit.records(kinds=["audit_export"])[0]["payload"]["filters"] == {"kinds": ["answer"], "actor": "bob"}
    verified = verify_export(out, [kept])
    assert verified["ok"] and verified["complete"] is False and verified["records"] == 8
    assert verified["merkle"]["checked_against"] == [kept.label()]

    original = out.read_bytes()
    out.write_bytes(original.replace(b"hr_manager", b"hr_managar", 1))
    _reseal(out)
    with pytest.raises(AuditIntegrityError, match="does not match its hash"):
        verify_export(out)
    # A forger who also recomputes the record's hash is caught by the tree: it is not that leaf any more.
    from core.audit.log import record_hash
    from core.workbench.exports import parse_export

    rows = parse_export(original.decode(), fmt)
    if fmt == "jsonl":
        rows[0]["actor_role"] = "employee"
        rows[0]["hash"] = record_hash(rows[0])
        out.write_bytes("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())
        _reseal(out)
        with pytest.raises(AuditIntegrityError, match="is not the leaf"):
            verify_export(out)


def test_an_export_about_a_subject_never_names_them(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _fill(any_ledger)
    about = {_named(any_ledger, "Helena Marchetti"), _named(any_ledger, "Dr. Helena Marchetti", actor="carol")}
    _named(any_ledger, "Tobias Hallberg")
    alice = any_ledger.policy.principal("alice")
    out = tmp_path / "helena.jsonl"
    manifest = export_bundle(any_ledger, alice, "jsonl", out, {"about": "helena marchetti", "kinds": ["answer"]})
    exported = {json.loads(line)["record_id"] for line in out.read_text().splitlines()}
    assert exported == about and manifest["records"] == 2 and verify_export(out)["ok"]
    assert "marchetti" not in manifest_path(out).read_text().lower()
    record = any_ledger.audit.records(record_id=manifest["filters"]["about"]["audit_record_id"])[0]
    assert record["kind"] == "audit_export" and record["text"] == {"about": "helena marchetti"}
    assert record["payload"]["filters"] == {"kinds": ["answer"], "about": "sealed"}
    with pytest.raises(RagLedgerError, match="unknown export filter"):
        export_bundle(any_ledger, alice, "jsonl", tmp_path / "x.jsonl", {"subject": "x"})
    assert not (tmp_path / "x.jsonl").exists()
