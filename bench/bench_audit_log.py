"""The audit log's Merkle tree: what it adds to an append, and how fast the log verifies.

- Append overhead on SQLite: 2,000 appends with the tree (leaf row, frontier update, a signed
  checkpoint every 100 records as policy.yaml says) against 2,000 with the tree step switched off,
  interleaved in batches of 100 on two ledgers of the same size; p50/p95 of each and of the tree step
  itself (timed inside the transaction). Target: overhead <= 1 ms p95.
- Verify at 1,000,000 records: a log bulk-loaded with the same hashing as `AuditLog.append` (half of
  the records answer-like with sealed text and citations), checkpoints every 100,000 in the journal,
  then `verify_ledger` (every record re-hashed, chain, leaves, tree, every checkpoint; on SQLite in
  two processes, as `ragledger audit verify` does at this size). Target: >= 100,000 records/s; CPU
  time is reported for this process and the second one. Also the time to build an inclusion proof at that size.

Run: make bench  (or .venv/bin/python -m bench.bench_audit_log [records])
"""
from __future__ import annotations

import base64
import json
import os
import resource
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

from bench.bench_ask import pct
from core.audit import tree_store
from core.audit.log import GENESIS, canonical_bytes
from core.config import REPO_ROOT, Settings
from core.audit.events import AnswerServed, Denied
from core.ledger import Ledger
from core.audit.merkle import Frontier, leaf_hash

RECORDS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def open_ledger(home: Path) -> Ledger:
    home.mkdir(parents=True, exist_ok=True)
    from audit_db import default_database_url

    return Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=default_database_url(home)))


def _event(i: int):  # type: ignore[no-untyped-def]
    if i % 2:
        return Denied(actor="carol", actor_role="employee", action="purge", target=f"doc_{i:016d}")
    return AnswerServed(actor="bob", actor_role="hr_manager", question=f"How many days of leave {i}?", answer="Thirty days. [1]",
                        cited=[{"n": 1, "doc_id": "doc_0000000000000001", "chunk_id": f"chk_{i:020d}", "score": 0.71, "content_hash": "ab" * 32}],
                        redactions={"PERSON": 1}, answerer="extractive", embedder="minilm", latency_ms=12.5)


def append_overhead() -> dict:
    real_extend = tree_store.extend
    step: list[float] = []
    step_cpu: list[float] = []

    def timed_extend(*args, **kwargs):  # type: ignore[no-untyped-def]
        t, cpu = time.perf_counter(), time.process_time()
        out = real_extend(*args, **kwargs)
        step.append((time.perf_counter() - t) * 1000)
        step_cpu.append((time.process_time() - cpu) * 1000)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        with_tree, without = open_ledger(Path(tmp) / "a"), open_ledger(Path(tmp) / "b")
        timings: dict[str, list[float]] = {"tree": [], "no_tree": []}
        for ledger in (with_tree, without):
            for i in range(200):  # warm up, and give both logs some history
                ledger.audit.append(_event(i))
        for batch in range(20):
            for name, ledger in (("tree", with_tree), ("no_tree", without)):
                tree_store.extend = timed_extend if name == "tree" else (lambda *a, **k: None)  # type: ignore[assignment]
                for i in range(100):
                    event = _event(batch * 100 + i)
                    t = time.perf_counter()
                    ledger.audit.append(event)
                    timings[name].append((time.perf_counter() - t) * 1000)
        tree_store.extend = real_extend  # type: ignore[assignment]
    return {"append_ms_p50_with_tree": pct(timings["tree"], 50), "append_ms_p95_with_tree": pct(timings["tree"], 95),
            "append_ms_p50_without_tree": pct(timings["no_tree"], 50), "append_ms_p95_without_tree": pct(timings["no_tree"], 95),
            "append_overhead_ms_p95": round(pct(timings["tree"], 95) - pct(timings["no_tree"], 95), 3),
            "tree_step_ms_p50": pct(step, 50), "tree_step_ms_p95": round(sorted(step)[int(0.95 * (len(step) - 1))], 3),
            "tree_step_cpu_ms_mean": round(sum(step_cpu) / len(step_cpu), 3),
            "appends_measured": len(timings["tree"])}


def bulk_load(ledger: Ledger, n: int) -> None:
    """The rows `append` would write, inserted 20,000 at a time (appending 1M one by one takes ~20 min)."""
    from core.audit.sealing import seal
    from core.keystore import SealKey
    from core.stores.tables import AuditRecord

    records, leaves = AuditRecord.__table__, tree_store.LEAVES  # type: ignore[attr-defined]
    sealed = seal({"question": "How many days of leave?", "answer": "Thirty days. [1]"}, ["doc:x"], {"doc:x": SealKey(1, b"k" * 32)})
    origin = json.dumps({"auth": "password", "channel": "cli", "host": "bench", "os_user": "ops", "pid": 1, "principal": "bob", "user_from": "option"})
    prev, frontier, cps = GENESIS, Frontier(), ledger.audit.checkpointer
    for start in range(0, n, 20_000):
        rows, leaf_rows = [], []
        for i in range(start, min(n, start + 20_000)):
            ev = _event(i)
            row = {"record_id": f"{i:032x}", "kind": ev.kind, "actor": ev.actor, "actor_role": ev.actor_role,
                   "at": f"2026-12-01T00:00:00.{i % 1_000_000:06d}+00:00", "policy_version": "bench",
                   "payload": json.dumps(ev.payload(), sort_keys=True), "sealed": sealed if i % 2 == 0 else None,
                   "key_refs": json.dumps(ev.key_refs()), "prev_hash": prev, "origin": origin}
            c = canonical_bytes(row)
            row["hash"] = prev = sha256(c).hexdigest()
            leaf = leaf_hash(c)
            frontier.append(leaf)
            rows.append(row)
            leaf_rows.append({"idx": i, "record_id": row["record_id"], "leaf_hash": leaf.hex()})
        with ledger.engine.begin() as conn:
            conn.execute(records.insert(), rows)
            conn.execute(leaves.insert(), leaf_rows)
            conn.execute(tree_store.TREE.update().values(size=frontier.size, frontier=json.dumps(frontier.to_hex())))
        if frontier.size % 100_000 == 0 or frontier.size == n:
            cps.publish(cps.sign(frontier.size, frontier.root(), f"2026-12-01T00:00:{frontier.size // 100_000:02d}Z"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify_speed(n: int) -> dict:
    from core.audit.verify import verify_ledger
    from core.audit.proofs import prove

    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(Path(tmp) / "big")
        t = time.perf_counter()
        bulk_load(ledger, n)
        load_s = time.perf_counter() - t
        db = ledger.settings.home / "audit_db" / "ledger.db"
        t, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        verdict = verify_ledger(ledger)
        verify_s, verify_cpu, child_cpu = time.perf_counter() - t, time.process_time() - cpu, _children_cpu() - child
        assert verdict.ok and verdict.records == n, verdict.findings[:3]
        from core.audit import verify

        split_from, verify.SPLIT_FROM = verify.SPLIT_FROM, n + 1  # the same log in one process: the split's gain on this machine
        t = time.perf_counter()
        alone = verify_ledger(ledger)
        alone_s = time.perf_counter() - t
        verify.SPLIT_FROM = split_from
        assert alone.ok and alone.processes == 1 and alone.root == verdict.root
        t = time.perf_counter()
        bundle = prove(ledger, f"{n // 3:032x}")
        prove_s = time.perf_counter() - t
        return {"verify_records": n, "verify_s": round(verify_s, 2), "verify_records_per_s": int(n / verify_s),
                "verify_cpu_s": round(verify_cpu, 2), "verify_second_process_cpu_s": round(child_cpu, 2),
                "verify_records_per_cpu_s": int(n / (verify_cpu + child_cpu)),
                "verify_checkpoints_checked": verdict.checkpoints_checked, "verify_processes": verdict.processes,
                "verify_one_process_s": round(alone_s, 2), "verify_one_process_records_per_s": int(n / alone_s), "prove_s_at_size": round(prove_s, 2),
                "proof_hashes": len(bundle["path"]), "bulk_load_s": round(load_s, 1),
                "db_mb": round(sum(p.stat().st_size for p in db.parent.iterdir()) / 1e6, 1)}


def main() -> None:
    figures = {"machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"}
    figures.update(append_overhead())
    figures.update(verify_speed(RECORDS))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
