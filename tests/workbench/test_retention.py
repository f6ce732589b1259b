"""Retention: periods validated at policy load (audit >= six months), the job removes the expired
prefix of the chain and keeps it verifiable from the anchor, audits what it removed, honours a legal
hold, and expires documents when a period is set."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import func, select

from conftest import make_ledger
from core.stores.compliance_tables import AuditFact
from core.config import REPO_ROOT
from core.errors import AccessDenied, PolicyError, RagLedgerError
from core.audit.events import AnswerServed, Denied, SignIn
from core.rag.ingest import Source, ingest
from core.policy.engine import load_policy
from core.workbench.retention import run, set_hold
from core.stores.tables import AuditRecord


def _policies(tmp_path, **retention):  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", folder)
    data = yaml.safe_load((folder / "policy.yaml").read_text())
    data["retention"].update(retention)
    (folder / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _fill(ledger) -> None:  # type: ignore[no-untyped-def]
    for i in range(6):
        ledger.audit.append(SignIn(actor="bob", actor_role="hr_manager"))
        ledger.audit.append(Denied(actor="carol", actor_role="employee", action="purge", target="x"))
    ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="q", answer="a"))
    for i in range(3):
        ledger.audit.append(SignIn(actor="bob", actor_role="hr_manager"))


def _facts(ledger) -> int:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditFact.__table__)).scalar()  # type: ignore[attr-defined]


@pytest.mark.parametrize("retention, field", [({"audit_records_days": 90}, "retention.audit_records_days"),
                                              ({"audit_kinds": {"sign_in": 30}}, "retention.audit_kinds"),
                                              ({"documents_days": 0}, "retention.documents_days")])
def test_short_periods_are_refused_at_load(tmp_path, retention, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as err:
        load_policy(_policies(tmp_path, **retention))
    assert err.value.field == field
    if "audit" in field:
        assert "EU AI Act Art. 19" in err.value.expected


def test_job_removes_the_expired_prefix_and_the_chain_still_verifies(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path / "home", db_url, _policies(tmp_path, audit_records_days=200, audit_kinds={"answer": 1000}))
    ops = ledger.policy.principal("ops")
    _fill(ledger)
    total = ledger.audit.count()
    later = datetime.now(timezone.utc) + timedelta(days=300)

    dry = run(ledger, ops, dry_run=True, now=later)
    assert dry.audit_records_removed == 12 and ledger.audit.count() == total + 1  # only the dry run's own record

    result = run(ledger, ops, now=later)
    # Everything before the answer (kept 1000 days) goes; the answer and all after it stay.
    assert result.audit_records_removed == 12 and ledger.audit.count() == total - 12 + 2
    with ledger.engine.connect() as conn:
        first = conn.execute(select(AuditRecord.kind).order_by(AuditRecord.seq).limit(1)).scalar()  # type: ignore[arg-type]
    assert first == "answer"
    verdict = ledger.audit.verify()
    assert verdict.ok and verdict.records == ledger.audit.count()
    assert ledger.audit.anchor() == result.anchor_hash != "0" * 64
    assert _facts(ledger) and all(r["seq"] > result.removed_through_seq for r in ledger.audit.records(limit=1000))
    rec = ledger.audit.records(kinds=["retention"], limit=1)[0]
    assert rec["payload"]["audit_records_removed"] == 12 and rec["payload"]["anchor_hash"] == result.anchor_hash
    # The Merkle tree keeps the removed records' leaves: every checkpoint, the one the run signed included, still verifies.
    from core.audit.verify import verify_ledger

    merkle = verify_ledger(ledger)
    assert merkle.ok, merkle.findings
    assert merkle.tree_size == ledger.audit.count() + 12 and merkle.checkpoints_checked >= 2

    # Tampering with a kept record is still caught after the anchor moved.
    with ledger.engine.begin() as conn:
        conn.execute(AuditRecord.__table__.update().where(AuditRecord.kind == "answer").values(actor="mallory"))  # type: ignore[attr-defined]
    assert not ledger.audit.verify().ok
    assert "edited" in verify_ledger(ledger).first().message


def test_newest_record_is_never_removed(ledger) -> None:  # type: ignore[no-untyped-def]
    _fill(ledger)
    ops = ledger.policy.principal("ops")
    run(ledger, ops, now=datetime.now(timezone.utc) + timedelta(days=5000))
    assert ledger.audit.count() == 2  # the newest old record, then the retention record
    ledger.audit.append(SignIn(actor="bob", actor_role="hr_manager"))
    assert ledger.audit.verify().ok


def test_legal_hold_suspends_the_job(ledger) -> None:  # type: ignore[no-untyped-def]
    _fill(ledger)
    ops, carol = ledger.policy.principal("ops"), ledger.policy.principal("carol")
    with pytest.raises(RagLedgerError):
        set_hold(ledger, ops, True, "  ")
    set_hold(ledger, ops, True, "litigation hold: matter 2026-14")
    later = datetime.now(timezone.utc) + timedelta(days=5000)
    count = ledger.audit.count()
    held = run(ledger, ops, now=later)
    assert held.suspended_by_hold and held.audit_records_removed == 0 and ledger.audit.count() == count + 1
    assert held.hold_reasons == ["litigation hold: matter 2026-14"]
    hold_rec = ledger.audit.records(kinds=["legal_hold"], limit=1)[0]
    assert hold_rec["text"]["reason"] == "litigation hold: matter 2026-14" and "reason" not in hold_rec["payload"]
    with pytest.raises(AccessDenied):
        set_hold(ledger, carol, False, "")
    set_hold(ledger, ops, False, "")
    assert run(ledger, ops, now=later).audit_records_removed > 0


def test_standing_hold_in_policy_suspends_the_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path / "home", policies=_policies(tmp_path, legal_hold=True, legal_hold_reason="regulator inquiry"))
    _fill(ledger)
    result = run(ledger, ledger.policy.principal("ops"), now=datetime.now(timezone.utc) + timedelta(days=5000))
    assert result.suspended_by_hold and result.hold_reasons == ["regulator inquiry"]


def test_documents_past_their_period_expire(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path / "home", policies=_policies(tmp_path, documents_days=30))
    ops = ledger.policy.principal("ops")
    [doc] = ingest(ledger, ops, [Source.from_path(write_doc("old.md", "The old travel rules applied until March. " * 10))])
    assert run(ledger, ops, dry_run=True).documents_expired == []
    result = run(ledger, ops, now=datetime.now(timezone.utc) + timedelta(days=31))
    assert result.documents_expired == [doc.doc_id]
    ledger.store.refresh()
    assert ledger.store.count(f"doc_id = '{doc.doc_id}'") == 0
    assert not (ledger.settings.uploads_dir / doc.doc_id).exists()
    from core.rag.documents import get_document

    assert get_document(ledger, doc.doc_id)["status"] == "expired"
