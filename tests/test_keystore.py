"""The key vault: wrapped keys with generations (issue 16 points 4 and 7), on SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import json
import os
import shutil
import stat

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import inspect, text

from core.answering.ask import ask
from core.workbench.audit_views import list_trail
from core.config import REPO_ROOT
from core.db import dispose_engines
from core.errors import ConfigError
from core.rag.ingest import Source, expand_paths, ingest
from core.keystore import KMS, FileKms, register
from core.audit.sealing import LEDGER_REF, key_ref_for_doc
from tests.conftest import make_ledger

CONCERN = "How do I report a concern about wrongdoing and am I protected from retaliation?"


def _purge_subject(ledger, subject: str, scope: str = "chunks") -> dict:  # type: ignore[no-untyped-def]
    from core.erasure.requests import confirm, create_request, preview
    from core.erasure.purge import execute

    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, subject=subject, requested_by="DSR-2026-014 (data subject)", reason="GDPR Art. 17", scope=scope)
    preview(ledger, alice, request.request_id)
    confirm(ledger, alice, request.request_id, subject)
    return execute(ledger, alice, request.request_id)


def test_readme_tour_then_a_new_answer_never_breaks_the_trail(any_ledger) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 point 4, exactly: README tour, chunk-scope purge, carol asks again, alice lists."""
    ledger = any_ledger
    ops, carol, alice = (ledger.policy.principal(n) for n in ("ops", "carol", "alice"))
    ingest(ledger, ops, [Source.from_path(p) for p in expand_paths([REPO_ROOT / "demo_corpus" / "policies"])])
    before = ask(ledger, carol, "Who is the whistleblowing officer and how can she be reached?")
    whistle = {c.doc_id for c in before.citations}
    _purge_subject(ledger, "Helena Marchetti")
    after = ask(ledger, carol, CONCERN)
    # Cited, or offered as see also when the answer abstains: either way shown, and sealed under its key.
    assert whistle & {c.doc_id for c in after.shown}, "the new answer shows the partly erased document"

    rows = list_trail(ledger, alice, limit=1000)  # raised InvalidTag before the key generations
    by_id = {r["record_id"]: r for r in rows}
    assert by_id[before.audit_id]["erased"] is True
    assert by_id[after.audit_id]["erased"] is False and by_id[after.audit_id]["text"]["question"]
    assert ledger.audit.verify().ok


def test_cli_audit_list_after_the_tour_shows_erased(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same reproduction through the `ragledger` command (SQLite, the home's default database), run
    in this process by click's CliRunner: the same commands and options; tests/cli/ and the README
    tour run the command as a separate process."""
    from click.testing import CliRunner

    from core.cli import cli

    env = {"RAGLEDGER_HOME": str(tmp_path / "tour"), "RAGLEDGER_DATABASE_URL": None, "RAGLEDGER_USER": None}

    def run_cli(*args: str) -> str:
        done = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert done.exit_code == 0, done.output[-2000:]
        return done.stdout

    try:
        run_cli("ingest", str(REPO_ROOT / "demo_corpus" / "policies"), "--json")
        run_cli("ask", "Who is the whistleblowing officer and how can she be reached?", "--user", "carol")
        run_cli("purge", "--subject", "Helena Marchetti", "--scope", "chunks", "--requested-by", "DSR-2026-014 (data subject)",
                "--reason", "GDPR Art. 17", "--yes")
        run_cli("ask", CONCERN, "--user", "carol")
        out = run_cli("audit", "list", "--user", "alice", "--limit", "100")
    finally:
        dispose_engines()
    assert "[erased]" in out and "How do I report a concern" in out


def test_destroyed_generation_is_never_reused(any_ledger) -> None:  # type: ignore[no-untyped-def]
    from core.audit.events import AnswerServed
    from core.audit.sealing import destroy_keys

    ledger = any_ledger
    cite = [{"n": 1, "doc_id": "doc_aaaaaaaaaaaaaaaa", "chunk_id": "chk_" + "0" * 20, "score": 0.5, "content_hash": "h"}]
    old = ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="old q", answer="old a", cited=cite))
    with ledger.engine.begin() as conn:
        assert destroy_keys(conn, [key_ref_for_doc("doc_aaaaaaaaaaaaaaaa")]) == 1
    new = ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="new q", answer="new a", cited=cite))
    rows = {r["record_id"]: r for r in ledger.audit.records()}
    assert rows[old]["erased"] and rows[old]["text"] == {}
    assert rows[new]["text"] == {"question": "new q", "answer": "new a"}
    assert rows[new]["sealed"].startswith("v2:2:"), "the seal names generation 2"
    with ledger.engine.connect() as conn:
        gens = conn.execute(text("SELECT generation, wrapped IS NULL FROM sealing_keys WHERE ref = 'doc:doc_aaaaaaaaaaaaaaaa'")).all()
    assert [tuple(g) for g in gens] == [(2, False)]


def test_a_copy_of_the_database_alone_decrypts_nothing(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.audit.events import AnswerServed

    ledger = any_ledger
    ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="SECRET-Q-99", answer="SECRET-A-99", cited=[]))
    with ledger.engine.connect() as conn:
        assert not inspect(conn).has_table("doc_keys"), "no plaintext key table"
        wrapped = [bytes(r[0]) for r in conn.execute(text("SELECT wrapped FROM sealing_keys WHERE wrapped IS NOT NULL"))]
    from core.keystore import store_for

    with ledger.engine.connect() as conn:
        ledger_key = store_for(conn).load(conn, [LEDGER_REF])[LEDGER_REF][1]
    assert all(ledger_key not in w for w in wrapped), "the key is stored only wrapped"
    if ledger.engine.dialect.name == "sqlite":
        from sqlalchemy.engine import make_url

        db_file = make_url(ledger.settings.database_url).database
        raw = b"".join(open(f, "rb").read() for f in (db_file, db_file + "-wal") if os.path.exists(f))
        assert ledger_key not in raw
    # The same database opened with another home (another master key): a clear error, no plaintext.
    stranger = make_ledger(tmp_path / "stranger", ledger.settings.database_url)
    with pytest.raises(ConfigError, match="not the master key of this ledger database"):
        stranger.engine  # noqa: B018


def test_home_is_private_and_files_owner_only(ledger) -> None:  # type: ignore[no-untyped-def]
    ops = ledger.policy.principal("ops")
    ingest(ledger, ops, [Source.from_path(REPO_ROOT / "demo_corpus" / "policies" / "whistleblower.md")])
    home = ledger.settings.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    loose = [p for p in home.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == [], f"readable by others: {loose[:5]}"
    assert (home / "master.key").is_file() and any((home / "uploads").rglob("v1.md"))


def test_an_existing_world_readable_home_is_tightened(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "old"
    (home / "audit_db").mkdir(parents=True)
    os.chmod(home, 0o755)
    os.chmod(home / "audit_db", 0o755)
    make_ledger(home).engine  # noqa: B018
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and stat.S_IMODE((home / "audit_db").stat().st_mode) == 0o700


def _legacy_database(ledger) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    """Turn a fresh ledger database into one written before m501: plaintext doc_keys and v1 seals."""
    from core.audit.log import GENESIS, record_hash
    from core.stores.tables import DocKey

    key = AESGCM.generate_key(bit_length=256)
    from core.audit.sealing import _derive

    salt, nonce = os.urandom(16), os.urandom(12)
    body = AESGCM(_derive([key], salt)).encrypt(nonce, json.dumps({"answer": "legacy a", "question": "legacy q"}, sort_keys=True).encode(), None)
    row = {"record_id": "legacy0000000000000000000000000a", "kind": "answer", "actor": "bob", "actor_role": "hr_manager",
           "at": "2026-01-01T00:00:00.000000+00:00", "policy_version": "p", "payload": json.dumps({"cited": []}),
           "sealed": base64.b64encode(salt + nonce + body).decode(), "key_refs": json.dumps(["doc:doc_bbbbbbbbbbbbbbbb"]), "prev_hash": GENESIS}
    row["hash"] = record_hash(row)
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM sealing_keys"))
        conn.execute(text("DELETE FROM _migrations WHERE name = 'm501_wrapped_key_vault'"))
        DocKey.__table__.create(conn)  # type: ignore[attr-defined]
        conn.execute(DocKey.__table__.insert().values(ref="doc:doc_bbbbbbbbbbbbbbbb", key=key))  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM audit_records"))
        from core.stores.tables import AuditRecord

        conn.execute(AuditRecord.__table__.insert().values(**row))  # type: ignore[attr-defined]
    return key, row["record_id"]


def test_migration_m501_wraps_a_legacy_key_table(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path / "home", db_url)
    key, record_id = _legacy_database(ledger)
    dispose_engines()
    reopened = make_ledger(tmp_path / "home", db_url)
    with reopened.engine.connect() as conn:
        assert not inspect(conn).has_table("doc_keys")
        wrapped = conn.execute(text("SELECT wrapped FROM sealing_keys WHERE ref = 'doc:doc_bbbbbbbbbbbbbbbb'")).scalar()
    assert wrapped is not None and key not in bytes(wrapped)
    record = reopened.audit.records(record_id=record_id)[0]
    assert record["text"] == {"question": "legacy q", "answer": "legacy a"}, "a record sealed before m501 still opens"
    assert reopened.audit.verify().ok


def test_purge_destroys_the_wrapped_keys_for_real(any_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
    doc = ingest(ledger, ops, [Source.from_path(REPO_ROOT / "demo_corpus" / "policies" / "whistleblower.md")])[0].doc_id
    answer = ask(ledger, alice, "Who is the whistleblowing officer?")
    assert doc in {c.doc_id for c in answer.citations}
    _purge_subject(ledger, "Helena Marchetti", scope="documents")
    with ledger.engine.connect() as conn:
        rows = conn.execute(text("SELECT wrapped FROM sealing_keys WHERE ref = :r"), {"r": key_ref_for_doc(doc)}).all()
    assert rows and all(r[0] is None for r in rows), "only a tombstone is left"
    assert ledger.audit.records(record_id=answer.audit_id)[0]["erased"]


def test_a_registered_kms_is_used(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class CountingKms(FileKms):
        name = "counting"
        wraps = 0

        def wrap(self, key: bytes, aad: bytes) -> bytes:
            CountingKms.wraps += 1
            return super().wrap(key, aad)

    register("counting", lambda home: CountingKms(home / "elsewhere" / "kms.key"))
    monkeypatch.setenv("RAGLEDGER_KMS", "counting")
    try:
        ledger = make_ledger(tmp_path / "home")
        from core.audit.events import AnswerServed

        ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="q", answer="a", cited=[]))
        assert CountingKms.wraps >= 2 and (tmp_path / "home" / "elsewhere" / "kms.key").is_file()
        assert not (tmp_path / "home" / "master.key").exists()
        monkeypatch.setenv("RAGLEDGER_KMS", "nope")
        with pytest.raises(ConfigError, match="unknown KMS 'nope'"):
            make_ledger(tmp_path / "other").engine  # noqa: B018
    finally:
        KMS.pop("counting", None)
        shutil.rmtree(tmp_path / "home", ignore_errors=True)
