"""The overview's numbers against counts computed independently from the audit table, on SQLite and
PostgreSQL: events go through the real AuditLog.append (and its fact hook); the expected figures are
computed here by reading every audit record's JSON payload, which the overview never does."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from core.audit.facts import backfill
from core.stores.compliance_tables import AuditFact
from core.errors import AccessDenied
from core.audit.events import AnswerServed, Denied, DocumentIngested
from core.workbench.overview import Filters, drill, overview, verify_chain
from core.stores.tables import AuditRecord, DocumentRow

DOCS = {"doc_aaaaaaaaaaaaaaaa": (["hr"], "restricted"), "doc_bbbbbbbbbbbbbbbb": (["all-staff"], "internal"),
        "doc_cccccccccccccccc": (["finance", "hr"], "confidential")}
ROLES = [("carol", "employee"), ("bob", "hr_manager"), ("dave", "ml_engineer")]


def _seed(ledger) -> None:  # type: ignore[no-untyped-def]
    with ledger.engine.begin() as conn:
        for doc_id, (groups, level) in DOCS.items():
            conn.execute(DocumentRow.__table__.insert().values(
                doc_id=doc_id, source_key=f"k:{doc_id}", title=doc_id, owner="t", ingested_by="ops", groups=json.dumps(groups),
                classification=level, version=1, content_sha256="0" * 64, chunk_count=4,
                pii_summary=json.dumps({"PERSON": 3, "EMAIL_ADDRESS": 1} if "hr" in groups else {})))
    docs = list(DOCS)
    for i in range(24):
        actor, role = ROLES[i % 3]
        cited = [{"n": 1, "chunk_id": f"chk_{i:020x}", "doc_id": docs[i % 3], "score": 0.1, "content_hash": "h", "used": True}]
        withheld = [{"chunk_id": f"chk_{i + 100:020x}", "doc_id": docs[0], "score": 0.05, "content_hash": "h",
                     "groups": list(DOCS[docs[0]][0]), "classification": DOCS[docs[0]][1]}] * (i % 2)
        ledger.audit.append(AnswerServed(actor=actor, actor_role=role, question="q", answer="a", cited=cited, withheld=withheld,
                                         redactions={"PERSON": i % 4, "EMAIL_ADDRESS": 1} if i % 4 else {},
                                         guard_redactions={"US_SSN": 1} if i == 5 else {}))
    for i in range(5):
        ledger.audit.append(Denied(actor="carol", actor_role="employee", action="audit.read" if i % 2 else "purge", target="page:audit"))
    ledger.audit.append(DocumentIngested(actor="ops", actor_role="compliance_officer", doc_id=docs[0], groups=["hr"], classification="restricted"))
    ledger.audit.append(AnswerServed(actor="alice", actor_role="compliance_officer", question="q", answer="a",
                                     cited=[{"n": 1, "chunk_id": "chk_" + "f" * 20, "doc_id": docs[0], "score": 0.1, "content_hash": "h"}],
                                     redactions={"PERSON": 7}, simulated_for="carol"))


def _records(ledger) -> list[dict]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(AuditRecord.__table__)).mappings().all()  # type: ignore[attr-defined]
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


def _questions(records, role=None, group=None) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for r in records:
        p = r["payload"]
        if r["kind"] != "answer" or p.get("simulated_for") or (role and r["actor_role"] != role):
            continue
        groups = {g for c in p["cited"] for g in DOCS[c["doc_id"]][0]} | {g for w in p["withheld"] for g in w["groups"]}
        if group and group not in groups:
            continue
        out.append(r)
    return out


def test_every_chart_matches_the_audit_table(any_ledger) -> None:  # type: ignore[no-untyped-def]
    _seed(any_ledger)
    alice = any_ledger.policy.principal("alice")
    records = _records(any_ledger)
    data = overview(any_ledger, alice)

    day = records[0]["at"][:10]
    expected_q = Counter(r["actor_role"] for r in _questions(records))
    assert {(q["day"], q["role"]): q["questions"] for q in data["questions_over_time"]} == {(day, k): v for k, v in expected_q.items()}
    expected_red: Counter = Counter()
    expected_wh: Counter = Counter()
    for r in _questions(records):
        expected_red.update(r["payload"]["redactions"])
        for w in r["payload"]["withheld"]:
            for g in w["groups"]:
                expected_wh[(g, w["classification"])] += 1
    assert data["redactions"] == dict(expected_red) and data["redactions"]["PERSON"] == 36
    assert data["guard_redactions"] == {"US_SSN": 1}
    assert {(w["group"], w["classification"]): w["withheld"] for w in data["withheld"]} == dict(expected_wh) == {("hr", "restricted"): 12}
    assert data["denials"] == dict(Counter(r["payload"]["action"] for r in records if r["kind"] == "denial"))
    assert data["simulations"] == {"carol": 1}  # the simulation is never counted as carol's (or alice's) question
    assert data["chain"]["records"] == len(records)
    docs = {(d["classification"], d["pii_density"]): d["documents"] for d in data["documents"]}
    assert docs == {("restricted", "medium (0.5-2/chunk)"): 1, ("internal", "none"): 1, ("confidential", "medium (0.5-2/chunk)"): 1}
    assert data["erasures"]["available"] in (True, False) and data["models"]["available"] in (True, False)


def test_filters_match_independent_counts(any_ledger) -> None:  # type: ignore[no-untyped-def]
    _seed(any_ledger)
    alice = any_ledger.policy.principal("alice")
    records = _records(any_ledger)
    by_role = overview(any_ledger, alice, Filters(role="hr_manager"))
    assert sum(q["questions"] for q in by_role["questions_over_time"]) == len(_questions(records, role="hr_manager")) == 8
    by_group = overview(any_ledger, alice, Filters(group="finance"))
    assert sum(q["questions"] for q in by_group["questions_over_time"]) == len(_questions(records, group="finance"))
    expected = Counter()
    for r in _questions(records, group="finance"):
        expected.update(r["payload"]["redactions"])
    assert by_group["redactions"] == dict(expected)
    assert {d["classification"] for d in by_group["documents"]} == {"confidential"}
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert overview(any_ledger, alice, Filters(since=tomorrow))["questions_over_time"] == []


def test_drill_through_lists_exactly_the_records_behind_a_bar(any_ledger) -> None:  # type: ignore[no-untyped-def]
    _seed(any_ledger)
    alice = any_ledger.policy.principal("alice")
    records = _records(any_ledger)
    rows = drill(any_ledger, alice, "questions", "employee")
    assert {r["record_id"] for r in rows} == {r["record_id"] for r in _questions(records, role="employee")}
    rows = drill(any_ledger, alice, "redactions", "EMAIL_ADDRESS")
    assert {r["record_id"] for r in rows} == {r["record_id"] for r in _questions(records) if "EMAIL_ADDRESS" in r["payload"]["redactions"]}
    rows = drill(any_ledger, alice, "withheld", "hr")
    assert len(rows) == 12 and all(r["withheld"] == 1 for r in rows)
    assert [r["simulated_for"] for r in drill(any_ledger, alice, "simulations", "carol")] == ["carol"]


def test_backfill_rebuilds_the_same_facts(any_ledger) -> None:  # type: ignore[no-untyped-def]
    _seed(any_ledger)
    alice = any_ledger.policy.principal("alice")
    before = overview(any_ledger, alice)
    with any_ledger.engine.begin() as conn:
        n = conn.execute(select(AuditFact.__table__.c.id)).all()  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM audit_facts"))
        assert backfill(conn) == len(n)
    after = overview(any_ledger, alice)
    assert {k: v for k, v in after.items() if k != "chain"} == {k: v for k, v in before.items() if k != "chain"}


def test_verification_is_recorded_and_others_are_denied(ledger) -> None:  # type: ignore[no-untyped-def]
    alice, carol = ledger.policy.principal("alice"), ledger.policy.principal("carol")
    _seed(ledger)
    assert overview(ledger, alice)["chain"]["last_verification"] is None
    result = verify_chain(ledger, alice)
    last = overview(ledger, alice)["chain"]["last_verification"]
    assert result["ok"] and last["ok"] and last["verified_by"] == "alice" and last["records"] == result["records"]
    with pytest.raises(AccessDenied):
        overview(ledger, carol)
    assert ledger.audit.records(kinds=["denial"], actor="carol", limit=1)[0]["payload"]["target"] == "overview"


def test_the_audit_trail_pages_verification_is_the_overviews_last_one(ledger) -> None:  # type: ignore[no-untyped-def]
    from core.workbench.audit_views import log_status

    alice = ledger.policy.principal("alice")
    _seed(ledger)
    status = log_status(ledger, alice)  # what the Audit trail page runs on every load
    last = overview(ledger, alice)["chain"]["last_verification"]
    assert last is not None, "the Overview would still say 'never'"
    assert last["ok"] == status["ok"] is True and last["at"] == status["at"] and last["records"] == status["records"]


def test_erasure_deadlines_and_models_by_stage(any_ledger) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import MetaData, Table, inspect

    alice = any_ledger.policy.principal("alice")
    now = datetime.now(timezone.utc)
    iso = lambda d: (now + timedelta(days=d)).isoformat(timespec="seconds")  # noqa: E731
    with any_ledger.engine.begin() as conn:
        has_erasure = inspect(conn).has_table("erasure_requests")
        if has_erasure:
            t = Table("erasure_requests", MetaData(), autoload_with=conn)
            base = {"kind": "document", "scope": "documents", "requested_by": "subject", "recorded_by": "alice", "reason": "", "ended_at": now}
            conn.execute(t.insert(), [
                {**base, "request_id": "era_1", "status": "received", "received_at": iso(-40), "due_at": iso(-10)},
                {**base, "request_id": "era_2", "status": "previewed", "received_at": iso(-2), "due_at": iso(28)},
                {**base, "request_id": "era_3", "status": "certified", "received_at": iso(-40), "due_at": iso(-10)},
            ])
        cp = Table("checkpoints", MetaData(), autoload_with=conn)
        base = {"kind": "embedder", "run_id": "run_1", "dataset_id": "ds_1", "base_model_id": "bm", "path": "p", "metrics": "{}",
                "model_card": "", "size_bytes": 0, "created_by": "dave", "created_at": now, "updated_at": now}
        conn.execute(cp.insert(), [
            {**base, "checkpoint_id": "ckp_1", "stage": "production", "flag_reason": None},
            {**base, "checkpoint_id": "ckp_2", "stage": "flagged", "flag_reason": "trained on erased document"},
            {**base, "checkpoint_id": "ckp_3", "stage": "candidate", "flag_reason": None},
        ])
    data = overview(any_ledger, alice)
    if has_erasure:
        rows = {(r["status"], r["deadline"]): r["requests"] for r in data["erasures"]["rows"]}
        assert rows == {("received", "overdue"): 1, ("previewed", "within deadline"): 1, ("certified", "within deadline"): 1}
    else:
        assert data["erasures"] == {"available": False, "rows": [], "note": "no erasure requests table yet (erasure is not set up)"}
    assert {(r["stage"], r["flagged"]): r["models"] for r in data["models"]["rows"]} == {
        ("candidate", False): 1, ("flagged", True): 1, ("production", False): 1}
    assert [f["checkpoint_id"] for f in data["models"]["flagged"]] == ["ckp_2"]
