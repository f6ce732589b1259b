"""The audit log: chained, sealed, tamper-evident, concurrent-safe, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import multiprocessing as mp

import pytest
from sqlalchemy import text

from core.audit.log import AuditLog
from core.db import dispose_engines, open_engine
from core.audit.events import AnswerServed, Denied, DocumentIngested
from core.audit.sealing import destroy_keys, key_ref_for_doc


def _answer(actor: str = "bob", docs: tuple[str, ...] = ("doc_aaaaaaaaaaaaaaaa",), q: str = "q", a: str = "a") -> AnswerServed:
    return AnswerServed(actor=actor, actor_role="hr_manager", question=q, answer=a,
                        cited=[{"n": i + 1, "doc_id": d, "chunk_id": f"chk_{i:020d}", "score": 0.5, "content_hash": "h"} for i, d in enumerate(docs)])


@pytest.fixture(autouse=True)
def _key_vault(db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Raw engines here have no Ledger: give their database a master key of the test's own (the
    environment variable reaches the worker processes of the concurrency test too)."""
    from core.keystore import MASTER_KEY_ENV, FileKms, attach

    monkeypatch.setenv(MASTER_KEY_ENV, str(tmp_path / "master.key"))
    attach(db_url, FileKms(tmp_path / "master.key"))


@pytest.fixture
def log(db_url):  # type: ignore[no-untyped-def]
    return AuditLog(open_engine(db_url), "test-policy")


def test_appends_chain_and_verify(log) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        log.append(_answer(q=f"question {i}"))
    log.append(Denied(actor="carol", actor_role="employee", action="audit.read", target="page:audit"))
    result = log.verify()
    assert result.ok and result.records == 6
    newest = log.records(limit=1)[0]
    assert newest["kind"] == "denial" and newest["policy_version"] == "test-policy"
    assert newest["hash"] == result.head_hash


def test_sealed_text_is_not_stored_in_clear(log) -> None:  # type: ignore[no-untyped-def]
    log.append(_answer(q="MARKER-QUESTION-7731", a="MARKER-ANSWER-7731"))
    with log.engine.connect() as conn:
        raw = " ".join(str(v) for row in conn.execute(text("SELECT * FROM audit_records")) for v in row)
    assert "MARKER" not in raw
    assert log.records(limit=1)[0]["text"] == {"question": "MARKER-QUESTION-7731", "answer": "MARKER-ANSWER-7731"}


@pytest.mark.parametrize(
    "tamper,reason",
    [
        ("UPDATE audit_records SET payload = replace(payload, '0.5', '0.9') WHERE seq = 3", "edited"),
        ("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3", "edited"),
        ("UPDATE audit_records SET sealed = 'AAAA' WHERE seq = 3", "edited"),
        ("UPDATE audit_records SET at = '2020-01-01T00:00:00+00:00' WHERE seq = 3", "edited"),
        ("DELETE FROM audit_records WHERE seq = 3", "removed"),
    ],
)
def test_tampering_with_any_record_is_detected_and_named(log, tamper: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        log.append(_answer(q=f"q{i}"))
    with log.engine.begin() as conn:
        conn.execute(text(tamper))
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == (3 if reason == "edited" else 4)
    assert reason in result.reason


def test_destroying_a_document_key_erases_text_but_chain_still_verifies(log) -> None:  # type: ignore[no-untyped-def]
    erased_doc, kept_doc = "doc_eeeeeeeeeeeeeeee", "doc_kkkkkkkkkkkkkkkk"
    log.append(_answer(docs=(erased_doc,), q="about erased"))
    log.append(_answer(docs=(erased_doc, kept_doc), q="about both"))
    log.append(_answer(docs=(kept_doc,), q="about kept"))
    with log.engine.begin() as conn:
        assert destroy_keys(conn, [key_ref_for_doc(erased_doc)]) == 1
    rows = {r["seq"]: r for r in log.records()}
    assert rows[1]["erased"] and rows[2]["erased"] and rows[1]["text"] == {}
    assert not rows[3]["erased"] and rows[3]["text"]["question"] == "about kept"
    assert log.verify().ok


def test_ingest_events_name_no_personal_data(log) -> None:  # type: ignore[no-untyped-def]
    log.append(DocumentIngested(actor="ops", actor_role="compliance_officer", doc_id="doc_1111111111111111", chunks=3, pii={"PERSON": 2}))
    payload = log.records(limit=1)[0]["payload"]
    assert payload["pii"] == {"PERSON": 2} and payload["doc_id"] == "doc_1111111111111111"


def test_export_carries_every_hashed_field(log) -> None:  # type: ignore[no-untyped-def]
    from core.audit.log import record_hash

    for i in range(3):
        log.append(_answer(q=f"q{i}"))
    lines = [json.loads(line) for line in log.export("jsonl").splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    assert all(record_hash(r) == r["hash"] for r in lines)
    assert log.export("csv").splitlines()[0].startswith("seq,hash,record_id")


def _append_many(url: str, worker: int, n: int) -> None:
    log = AuditLog(open_engine(url), "test-policy")
    for i in range(n):
        log.append(_answer(actor=f"w{worker}", q=f"{worker}-{i}"))
    dispose_engines()


def test_concurrent_appends_from_several_processes_keep_one_chain(db_url) -> None:  # type: ignore[no-untyped-def]
    open_engine(db_url)  # migrate once up front, like a deployment does at start
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(db_url, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    log = AuditLog(open_engine(db_url), "test-policy")
    result = log.verify()
    assert result.ok, result
    assert result.records == 100
    assert {r["actor"] for r in log.records(limit=200)} == {"w0", "w1", "w2", "w3"}


@pytest.mark.parametrize("origin", [None, '{"channel": "cli", "host": "h\\u00e9"}'])
@pytest.mark.parametrize("text_value", ["plain", 'quote " back \\ slash', "caf\u00e9 \u2014 \U0001f600", "ctl \x00\x1f\n\t"])
def test_the_fast_canonical_form_is_byte_identical_to_json_dumps(text_value: str, origin: str | None) -> None:
    """Records hashed before the fast path, and any other implementation, must agree byte for byte."""
    from core.audit.log import CORE_FIELDS, canonical_bytes

    row = {k: f"{k}:{text_value}" for k in CORE_FIELDS}
    for sealed in (None, "c2VhbGVk"):
        row["sealed"], row["origin"] = sealed, origin
        expected = {k: row[k] for k in CORE_FIELDS} | ({"origin": origin} if origin is not None else {})
        assert canonical_bytes(row) == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
    row["payload"] = 7  # not a string: the general path, same rule
    assert canonical_bytes(row) == json.dumps({k: row[k] for k in CORE_FIELDS} | ({"origin": origin} if origin else {}),
                                              sort_keys=True, separators=(",", ":")).encode()
