"""`ragledger audit checkpoint|key|prove|verify` as an auditor uses them (real subprocesses): keep a
checkpoint and the key elsewhere, then catch a rollback with them; prove a record; verify an export
offline with only the export and the kept checkpoint; and the CLI login policy with the record's origin."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.identity.auth import hash_password
from tests.tree_support import fill, policies_every, restore, snapshot, tree_ledger


def cli(home: Path, policies: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "RAGLEDGER_HOME": str(home), "RAGLEDGER_POLICIES": str(policies), **(env or {})}
    for name in ("RAGLEDGER_USER", "RAGLEDGER_PASSWORD", "RAGLEDGER_TOKEN", "RAGLEDGER_DATABASE_URL"):
        if name not in (env or {}):
            full.pop(name, None)
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=full, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)


def test_an_auditor_keeps_a_checkpoint_and_catches_a_rollback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, n=1000)
    home, policies = ledger.settings.home, ledger.policy.directory
    fill(ledger, 8)
    old = snapshot(ledger)
    fill(ledger, 4, tag="later")
    printed = cli(home, policies, "audit", "checkpoint", "--new")
    assert printed.returncode == 0 and printed.stdout.splitlines()[1] == "12"
    key = cli(home, policies, "audit", "key").stdout.strip()
    kept, vkey = tmp_path / "auditor" / "checkpoint.txt", key
    kept.parent.mkdir()
    kept.write_text(printed.stdout)
    ok = cli(home, policies, "audit", "verify", "--checkpoint", str(kept), "--key", vkey)
    assert ok.returncode == 0 and "OK: 12 records" in ok.stdout

    restore(ledger, old)  # the database goes back to an old copy ...
    ledger.audit.checkpointer.journal_path.unlink()  # ... and the journal beside it is removed
    bad = cli(home, policies, "audit", "verify", "--checkpoint", str(kept), "--key", vkey, "--json")
    assert bad.returncode == 5
    verdict = json.loads(bad.stdout)
    assert verdict["reason"].startswith("the log is shorter than checkpoint") and "checkpoint.txt" in verdict["reason"]
    assert verdict["first_bad_index"] == 8


def test_prove_and_verify_a_record_offline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, n=4)
    home, policies = ledger.settings.home, ledger.policy.directory
    ids = fill(ledger, 11)
    proof = tmp_path / "proof.json"
    made = cli(home, policies, "audit", "prove", ids[6], "--output", str(proof))
    assert made.returncode == 0, made.stderr
    bundle = json.loads(proof.read_text())
    assert bundle["leaf_index"] == 6 and bundle["tree_size"] == 9 and bundle["record"]["record_id"] == ids[6]
    key = cli(home, policies, "audit", "key").stdout.strip()
    ok = cli(home, policies, "audit", "verify", "--proof", str(proof), "--key", key)
    assert ok.returncode == 0 and f"record {ids[6]} is leaf 6 of the log at size 9" in ok.stdout
    bundle["record"]["actor"] = "mallory"
    proof.write_text(json.dumps(bundle))
    bad = cli(home, policies, "audit", "verify", "--proof", str(proof), "--key", key)
    assert bad.returncode == 5 and "does not hash to the proof's leaf" in bad.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_verifies_offline_with_only_a_kept_checkpoint(tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, n=5)
    home, policies = ledger.settings.home, ledger.policy.directory
    fill(ledger, 9)
    kept = tmp_path / "kept.txt"
    kept.write_text(cli(home, policies, "audit", "checkpoint", "--new").stdout)
    key = cli(home, policies, "audit", "key").stdout.strip()
    fill(ledger, 6, tag="more")
    out = tmp_path / f"audit.{fmt}"
    assert cli(home, policies, "audit", "export-bundle", "--format", fmt, "--output", str(out)).returncode == 0
    offline = tmp_path / "offline"  # nothing of the ledger: only the export, its manifest and the kept checkpoint
    offline.mkdir()
    for f in (out, out.with_name(out.name + ".manifest.json"), kept):
        shutil.copy(f, offline / f.name)
    empty = tmp_path / "empty-home"
    ok = cli(empty, policies, "audit", "verify", "--export", str(offline / out.name), "--checkpoint", str(offline / "kept.txt"), "--key", key, "--json")
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["records"] == 15 and result["merkle"]["tree_size"] == 15 and len(result["merkle"]["checked_against"]) == 1
    assert result["merkle"]["consistency_proofs"] >= 2

    # A careful forger re-chains the export (and its manifest's digest) after changing a record: the kept checkpoint catches it.
    from tests.workbench.test_exports import _reseal

    lines = (offline / out.name).read_text().splitlines(keepends=True)
    victim = 3 if fmt == "jsonl" else 4
    lines[victim] = lines[victim].replace("x3", "x9")
    (offline / out.name).write_text("".join(lines))
    _reseal(offline / out.name)
    bad = cli(empty, policies, "audit", "verify", "--export", str(offline / out.name), "--checkpoint", str(offline / "kept.txt"), "--key", key)
    assert bad.returncode == 5 and "does not match its hash" in bad.stderr


def test_an_export_is_caught_when_shorter_than_a_kept_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.errors import AuditIntegrityError
    from core.workbench.exports import export_bundle, verify_export
    from core.audit.verify import read_checkpoint_file

    ledger = tree_ledger(tmp_path, n=1000)
    fill(ledger, 6)
    old = snapshot(ledger)
    fill(ledger, 3, tag="later")
    kept = tmp_path / "kept.txt"
    kept.write_text(ledger.audit.checkpoint("auditor").note)
    restore(ledger, old)
    export_bundle(ledger, ledger.policy.principal("alice"), "jsonl", tmp_path / "e.jsonl")
    with pytest.raises(AuditIntegrityError, match="the export is shorter than the checkpoint of"):
        verify_export(tmp_path / "e.jsonl", read_checkpoint_file(kept), ledger.audit.checkpointer.vkey())


# --- who did it ---------------------------------------------------------------------------------------

def _login_policies(tmp_path: Path, token: str) -> Path:
    folder = policies_every(tmp_path)
    text = (folder / "policy.yaml").read_text().replace("require_login: false", "require_login: true")
    (folder / "policy.yaml").write_text(text)
    principals = (folder / "principals.yaml").read_text().replace(
        "  alice:\n", f"  alice:\n    token_hash: {hash_password(token)}\n", 1)
    (folder / "principals.yaml").write_text(principals)
    return folder


def test_policy_can_require_a_login_and_records_name_the_os_account_and_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policies, home = _login_policies(tmp_path, "tok-123"), tmp_path / "home"
    silent = cli(home, policies, "retention", "run", "--dry-run")
    assert silent.returncode == 3 and "requires every command to name its --user" in silent.stderr
    assert cli(home, policies, "retention", "run", "--dry-run", "--user", "alice").returncode == 3, "no password, no terminal"
    wrong = cli(home, policies, "retention", "run", "--dry-run", "--user", "alice", env={"RAGLEDGER_PASSWORD": "nope"})
    assert wrong.returncode == 3 and "wrong user name or password" in wrong.stderr
    assert cli(home, policies, "retention", "run", "--dry-run", "--user", "alice", env={"RAGLEDGER_TOKEN": "bad"}).returncode == 3
    assert cli(home, policies, "retention", "run", "--dry-run", "--user", "alice", env={"RAGLEDGER_PASSWORD": "alice-demo"}).returncode == 0
    assert cli(home, policies, "retention", "run", "--dry-run", "--user", "alice", env={"RAGLEDGER_TOKEN": "tok-123"}).returncode == 0
    listed = cli(home, policies, "audit", "list", "--kind", "retention", "--json", "--user", "alice", env={"RAGLEDGER_TOKEN": "tok-123"})
    origins = [r["origin"] for r in json.loads(listed.stdout)]
    assert [o["auth"] for o in origins] == ["token", "password"] and {o["principal"] for o in origins} == {"alice"}
    assert all(o["channel"] == "cli" and o["host"] == socket.gethostname() and o["os_user"] for o in origins)
    assert cli(home, policies, "audit", "verify").returncode == 0, "records with an origin verify"


def test_without_the_policy_the_default_ops_is_named_as_a_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policies, home = policies_every(tmp_path), tmp_path / "home"
    assert cli(home, policies, "retention", "run", "--dry-run").returncode == 0
    [record] = json.loads(cli(home, policies, "audit", "list", "--kind", "retention", "--json").stdout)
    assert record["actor"] == "ops" and record["origin"]["user_from"] == "default" and record["origin"]["auth"] == "none"


def test_audit_list_about_a_person_finds_their_questions_and_is_audited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.audit.asked_about import keys_for
    from core.audit.events import AnswerServed

    ledger = tree_ledger(tmp_path)
    home, policies = ledger.settings.home, ledger.policy.directory
    named = ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="Where does <PERSON> sit?", answer="-",
                                             asked_about=[{"type": "PERSON", "as_written": "Helena Marchetti", "keys": keys_for("Helena Marchetti")}]))
    fill(ledger, 3)
    found = cli(home, policies, "audit", "list", "--about", "Dr. Helena Marchetti", "--json", "--user", "alice")
    assert found.returncode == 0, found.stderr
    assert [r["record_id"] for r in json.loads(found.stdout)] == [named]
    none = cli(home, policies, "audit", "list", "--about", "Tobias Hallberg", "--user", "alice")
    assert none.returncode == 0 and "no record names that subject" in none.stderr
    searches = ledger.audit.records(kinds=["audit_search"])
    assert [s["payload"]["results"] for s in searches] == [0, 1] and "Hallberg" not in json.dumps([s["payload"] for s in searches])
    denied = cli(home, policies, "audit", "list", "--about", "Helena Marchetti", "--user", "carol")
    assert denied.returncode != 0 and "audit.read" in denied.stderr
