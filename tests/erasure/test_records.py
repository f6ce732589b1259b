"""The typed erasure records (core/erasure/records.py) read and write exactly the JSON stored before
they were typed: certificates kept in the register, the journal a crashed purge resumes from, the
CLI's `--json`. The fixtures in tests/data/erasure were written by the code before the records were
typed (a document purge, a subject purge of chunks, a purge killed after its `keys` step)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.erasure.proof import certificate_hash, certificate_markdown
from core.erasure.records import Certificate, Journal, Request
from core.erasure.requests import get_request, list_requests
from core.errors import MalformedRecord
from core.stores.erasure_tables import ErasureRequest

DATA = Path(__file__).parent.parent / "data" / "erasure"
CERTIFICATES = ["certificate_document.json", "certificate_subject_chunks.json"]
TABLE = ErasureRequest.__table__  # type: ignore[attr-defined]
# The keys of the first certificates (before the plan, the documents, the attempt and what remains were added).
FIRST_KEYS = ("certificate", "request_id", "kind", "scope", "requested_by", "recorded_by", "executed_by", "reason", "received_at",
              "due_at", "certified_at", "policy_version", "erased", "models_flagged_for_retraining", "verification", "verified_clean",
              "certificate_sha256", "audit_record_id")


def _stored(name: str) -> str:
    return (DATA / name).read_text().rstrip("\n")


def _insert(ledger, request_id: str, **values) -> None:  # type: ignore[no-untyped-def]
    row = dict(request_id=request_id, kind="document", scope="documents", doc_id="doc_0123456789abcdef", requested_by="DSR-1",
               recorded_by="alice", reason="Art. 17", status="certified", received_at="2026-01-05T00:00:00+00:00",
               due_at="2026-02-04T00:00:00+00:00", excluded_json="[]")
    row.update(values)
    with ledger.engine.begin() as conn:
        conn.execute(TABLE.insert().values(**row))


def _cli(ledger, *args: str):  # type: ignore[no-untyped-def]
    from core.cli import cli
    from core.cli_commands import purge  # noqa: F401  (attaches the command)

    env = {"RAGLEDGER_HOME": str(ledger.settings.home), "RAGLEDGER_DATABASE_URL": ledger.settings.database_url, "RAGLEDGER_USER": "alice"}
    return CliRunner().invoke(cli, ["purge", *args], env=env)


@pytest.mark.parametrize("name", CERTIFICATES)
def test_a_stored_certificate_loads_and_reserialises_byte_for_byte(name: str) -> None:
    text = _stored(name)
    cert = Certificate.from_dict(json.loads(text))
    assert json.dumps(cert.to_dict()) == text  # the register's certificate_json
    assert json.dumps(cert.to_dict(), indent=2) == json.dumps(json.loads(text), indent=2)  # the downloaded file, `--certificate --json`
    assert Certificate.from_dict(cert.to_dict()) == cert
    # Its hash still verifies (issued before audit_record_id was added to the stored copy).
    body = {k: v for k, v in cert.to_dict().items() if k != "audit_record_id"}
    assert certificate_hash(body) == cert.certificate_sha256 == json.loads(text)["certificate_sha256"]
    assert cert.verified_clean and cert.chunks_deleted == json.loads(text)["erased"]["lancedb"]["chunks_deleted"]
    assert cert.files_not_decodable == [] and cert.models_flagged_for_retraining == [] and cert.attempt == 1


def test_a_first_version_certificate_keeps_its_shape() -> None:
    """A certificate of the first version lacks the later keys: they read as defaults and are not written back."""
    full = json.loads(_stored("certificate_document.json"))
    first = {k: full[k] for k in FIRST_KEYS}
    first["certificate_sha256"] = certificate_hash({k: v for k, v in first.items() if k != "audit_record_id"})
    first["an_unknown_key"] = {"kept": True}  # a key this version does not know survives too
    text = json.dumps(first)
    cert = Certificate.from_dict(json.loads(text))
    assert json.dumps(cert.to_dict()) == text
    assert (cert.planned, cert.documents, cert.attempt, cert.remaining, cert.next_step) == (None, [], 1, {}, None)
    assert cert.extra == {"an_unknown_key": {"kept": True}}
    page = certificate_markdown(cert)
    assert "Verified clean: yes" in page and "Previewed:" not in page and "## Documents" not in page


def test_a_stored_request_reads_as_it_always_did(ledger) -> None:  # type: ignore[no-untyped-def]
    """get_request used to return the row as a dict (sealed subject dropped, JSON columns parsed,
    `overdue` and `excluded` appended); the typed request writes that same object."""
    text = _stored("certificate_subject_chunks.json")
    preview = {"documents": 0, "chunks": 2, "matches": [{"match_id": "mat_bfbfc0ad1cc6", "doc_id": "doc_13bb30ef38ee4b05"}]}
    _insert(ledger, "era_bf1060763cb6430d", kind="subject", scope="chunks", doc_id=None, certificate_json=text,
            certificate_sha256=json.loads(text)["certificate_sha256"], preview_json=json.dumps(preview),
            excluded_json='["mat_94afff3a50d0"]', confirmed_by="alice")
    with ledger.engine.connect() as conn:
        row = dict(conn.execute(select(TABLE).where(TABLE.c.request_id == "era_bf1060763cb6430d")).mappings().one())
    before = dict(row)  # the dict get_request returned before the records were typed
    before.pop("subject_sealed")
    before["overdue"] = False
    before["excluded"] = json.loads(before.pop("excluded_json"))
    before["preview_json"], before["certificate_json"] = json.loads(before["preview_json"]), json.loads(before["certificate_json"])
    request = get_request(ledger, "era_bf1060763cb6430d")
    assert json.dumps(request.to_dict(), indent=2) == json.dumps(before, indent=2)
    assert Request.from_dict(request.to_dict()) == request
    assert request.certificate is not None and request.certificate.request_id == request.request_id
    assert (request.excluded, request.preview) == (["mat_94afff3a50d0"], preview)
    listed = _cli(ledger, "--list", "--json")
    assert listed.exit_code == 0, listed.output
    assert listed.output == json.dumps([before], indent=2) + "\n"
    shown = _cli(ledger, "--certificate", "era_bf1060763cb6430d", "--json")
    assert shown.output == json.dumps(json.loads(text), indent=2) + "\n"


def test_the_request_holds_every_column_of_the_register() -> None:
    """A column added to erasure_requests must be added to Request too, or `--json` would lose it."""
    columns = [c for c in TABLE.columns.keys() if c not in ("subject_sealed", "excluded_json")]
    keys = list(Request(request_id="era_x", kind="subject", scope="chunks", requested_by="r", recorded_by="a", reason="",
                        status="received", received_at="t", due_at="t").to_dict())
    assert keys == [*columns, "overdue", "excluded"]


def test_a_journal_written_before_resumes_as_written() -> None:
    text = _stored("journal_after_keys.json")
    journal = Journal.from_dict(json.loads(text))
    assert json.dumps(journal.to_dict(), indent=1) == text
    assert journal.done == ["plan", "lance", "registry", "uploads", "keys"] and journal.attempt == 1 and journal.actor == "ops"
    assert journal.planned_targets().doc_ids == ["doc_969d85c89143483a"] and journal.probes and journal.documents
    assert Journal.from_dict(journal.to_dict()) == journal
    fresh = Journal(request_id="era_x", actor="alice")
    assert list(fresh.to_dict()) == ["request_id", "done", "stats", "actor", "attempt"]  # as the purge first writes it


@pytest.mark.parametrize("damage, says", [
    (lambda c: c.pop("verified_clean"), "field 'verified_clean' is missing"),
    (lambda c: c.update(erased="1 chunk"), "field 'erased' should be dict, not str"),
    (lambda c: c.update(attempt="2"), "field 'attempt' should be int, not str"),
])
def test_a_damaged_certificate_says_which_record_and_what_to_do(ledger, damage, says) -> None:  # type: ignore[no-untyped-def]
    cert = json.loads(_stored("certificate_document.json"))
    damage(cert)
    _insert(ledger, "era_fadc73ecf3954ee4", certificate_json=json.dumps(cert))
    with pytest.raises(MalformedRecord) as caught:
        get_request(ledger, "era_fadc73ecf3954ee4")
    assert "erasure request era_fadc73ecf3954ee4: its certificate" in caught.value.message and says in caught.value.message
    assert "restore it from a backup" in (caught.value.hint or "")
    listed = _cli(ledger, "--list")  # an error of core's hierarchy: core/cli.py prints its message and hint
    assert isinstance(listed.exception, MalformedRecord) and says in str(listed.exception)


def test_a_damaged_request_row_is_named(ledger) -> None:  # type: ignore[no-untyped-def]
    _insert(ledger, "era_notjson", certificate_json="{not json")
    _insert(ledger, "era_badstatus", status="erased")
    with pytest.raises(MalformedRecord, match="era_notjson: certificate_json is not valid JSON"):
        get_request(ledger, "era_notjson")
    with pytest.raises(MalformedRecord, match="era_badstatus: field 'status' is 'erased', not one of received"):
        list_requests(ledger, ledger.policy.principal("alice"))
    with pytest.raises(MalformedRecord, match="field 'kind' is missing"):
        Request.from_dict({"request_id": "era_x"})


def test_a_damaged_journal_stops_the_purge_before_it_changes_anything(ledger) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.purge import execute
    from core.erasure.requests import journal_path

    _insert(ledger, "era_halfdone", status="confirmed")
    path = journal_path(ledger, "era_halfdone")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"request_id": "era_halfdone", "done": "plan", "stats": {}}))
    with pytest.raises(MalformedRecord) as caught:
        execute(ledger, ledger.policy.principal("alice"), "era_halfdone")
    assert "the purge journal of era_halfdone: field 'done' should be list" in caught.value.message
    assert "ragledger purge --resume" in (caught.value.hint or "")
    path.write_text("{truncated")
    with pytest.raises(MalformedRecord, match="is not valid JSON"):
        execute(ledger, ledger.policy.principal("alice"), "era_halfdone")
    assert get_request(ledger, "era_halfdone").status == "confirmed" and path.exists()
    with pytest.raises(MalformedRecord, match="field 'targets' does not name what a purge erases"):
        Journal.from_dict({"request_id": "era_x", "done": [], "stats": {}, "targets": {"doc_ids": [], "files": []}})
