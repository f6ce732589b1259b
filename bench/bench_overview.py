"""Benchmark: the overview's queries over 100,000 audit records.

Generates a hash-chained audit table quickly (batch inserts of real chained rows and their facts,
the same rows `AuditLog.append` would write, without sealing), then times `core.workbench.overview.overview`
(every chart, in one read transaction) with and without filters, and a drill-through. Prints one JSON
line. Usage: python -m bench.bench_overview [--records N] [--database-url URL]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.audit.log import GENESIS, record_hash
from core.audit.facts import fact_rows
from core.stores.compliance_tables import AuditFact
from core.config import REPO_ROOT, Settings
from core.ledger import Ledger
from core.workbench.overview import Filters, drill, overview
from core.stores.tables import AuditRecord, DocumentRow

ROLES = [("carol", "employee"), ("bob", "hr_manager"), ("dave", "ml_engineer"), ("alice", "compliance_officer")]
GROUPS = ["all-staff", "hr", "finance", "engineering", "support", "legal"]
LEVELS = ["public", "internal", "confidential", "restricted"]
ENTITIES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION", "US_SSN", "IBAN_CODE"]


def _docs(n: int, rng: random.Random) -> dict[str, tuple[list[str], str]]:
    return {f"doc_{i:016x}": (rng.sample(GROUPS, rng.choice([1, 1, 2])), rng.choice(LEVELS)) for i in range(n)}


def _payload(kind: str, rng: random.Random, docs: dict, doc_ids: list[str]) -> dict:
    if kind == "answer":
        cited = [{"n": k + 1, "chunk_id": f"chk_{uuid.uuid4().hex[:20]}", "doc_id": rng.choice(doc_ids), "score": 0.03,
                  "content_hash": "0" * 64, "used": k == 0} for k in range(rng.randint(0, 5))]
        withheld = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            d = rng.choice(doc_ids)
            withheld.append({"chunk_id": f"chk_{uuid.uuid4().hex[:20]}", "doc_id": d, "score": 0.02, "content_hash": "0" * 64,
                             "groups": docs[d][0], "classification": docs[d][1]})
        return {"cited": cited, "withheld": withheld, "redactions": {e: rng.randint(1, 3) for e in rng.sample(ENTITIES, rng.randint(0, 3))},
                "guard_redactions": {}, "answerer": "extractive", "embedder": "minilm", "latency_ms": 120.0, "simulated_for": None}
    if kind == "denial":
        return {"action": rng.choice(["audit.read", "purge", "overview.read"]), "target": "page:x", "reason": "permission not granted"}
    if kind == "ingest":
        d = rng.choice(doc_ids)
        return {"doc_id": d, "version": 1, "chunks": 5, "content_sha256": "0" * 64, "classification": docs[d][1], "groups": docs[d][0],
                "pii": {}, "replaced_chunks": 0}
    return {"method": "local", "ok": True}


def generate(ledger: Ledger, n: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    docs = _docs(400, rng)
    doc_ids = list(docs)
    started = time.perf_counter()
    with ledger.engine.begin() as conn:
        conn.execute(DocumentRow.__table__.insert(), [  # type: ignore[attr-defined]
            {"doc_id": d, "source_key": f"bench:{d}", "title": d, "owner": "bench", "ingested_by": "ops", "groups": json.dumps(g),
             "classification": c, "version": 1, "content_sha256": "0" * 64, "chunk_count": 6,
             "pii_summary": json.dumps({e: rng.randint(0, 6) for e in rng.sample(ENTITIES, 3)})} for d, (g, c) in docs.items()])
        prev, start = GENESIS, datetime.now(timezone.utc) - timedelta(days=180)
        batch: list[dict] = []
        for i in range(n):
            kind = rng.choices(["answer", "denial", "ingest", "sign_in"], weights=[80, 5, 5, 10])[0]
            actor, role = rng.choice(ROLES)
            row = {"record_id": uuid.uuid4().hex, "kind": kind, "actor": actor, "actor_role": role,
                   "at": (start + timedelta(seconds=i * 180 * 86400 / n)).isoformat(timespec="microseconds"),
                   "policy_version": ledger.policy.version, "payload": json.dumps(_payload(kind, rng, docs, doc_ids), sort_keys=True),
                   "sealed": None, "key_refs": "[]", "prev_hash": prev}
            row["hash"] = prev = record_hash(row)
            row["seq"] = i + 1
            batch.append(row)
            if len(batch) == 5000 or i == n - 1:
                conn.execute(AuditRecord.__table__.insert(), batch)  # type: ignore[attr-defined]
                facts = fact_rows(batch, {d: g for d, (g, _) in docs.items()})
                conn.execute(AuditFact.__table__.insert(), facts)  # type: ignore[attr-defined]
                batch = []
    # A bulk load leaves the planner without statistics (PostgreSQL's autovacuum would gather them
    # within a minute; without them it nested-loops the group filter): gather them as a DBA would.
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _time(fn, repeat: int = 5) -> dict:  # type: ignore[no-untyped-def]
    fn()  # warm caches (statement compilation, SQLite page cache)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(runs), 1), "max_ms": round(max(runs), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=args.database_url or f"sqlite:///{home / 'ledger.db'}")
        ledger = Ledger.open(settings)
        alice = ledger.policy.principal("alice")
        gen_s = generate(ledger, args.records)
        with ledger.engine.connect() as conn:
            from sqlalchemy import func, select

            facts = conn.execute(select(func.count()).select_from(AuditFact.__table__)).scalar()  # type: ignore[attr-defined]
        since = (datetime.now(timezone.utc) - timedelta(days=30)).date().isoformat()
        figures = {
            "bench": "overview", "backend": ledger.engine.dialect.name, "audit_records": ledger.audit.count(), "facts": facts,
            "generate_s": round(gen_s, 1),
            "overview_all": _time(lambda: overview(ledger, alice)),
            "overview_role_filter": _time(lambda: overview(ledger, alice, Filters(role="employee"))),
            "overview_group_filter": _time(lambda: overview(ledger, alice, Filters(group="hr"))),
            "overview_last_30_days": _time(lambda: overview(ledger, alice, Filters(since=since))),
            "drill_questions_employee": _time(lambda: drill(ledger, alice, "questions", "employee")),
        }
        t = time.perf_counter()
        verdict = ledger.audit.verify()
        figures["verify_s"] = round(time.perf_counter() - t, 2)
        figures["verify_ok"] = verdict.ok
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
