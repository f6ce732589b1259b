"""The S3 witness against a real S3 endpoint (moto's standalone server over HTTP, boto3 as client):
every checkpoint lands in the bucket as its own object and `ragledger audit verify` reads them back,
so a rollback shows even when the journal is gone; an unreachable endpoint, a missing bucket or no
credentials is named with the bucket, the append is kept, and the checkpoint is sent again later."""
from __future__ import annotations

import logging

import pytest

from core.audit.checkpoint_views import latest_checkpoint
from core.errors import PolicyError, WitnessUnavailable
from core.audit.verify import verify_ledger
from core.audit.signed_note import parse_checkpoint
from core.audit.tree_store import CHECKPOINTS
from tests.s3_support import S3Bucket, free_port, s3_bucket, s3_server  # noqa: F401  (fixtures)
from tests.cli.test_audit_cli import cli
from tests.tree_support import fill, restore, snapshot, tree_ledger


@pytest.fixture(autouse=True)
def aws_credentials(s3_server, monkeypatch):  # type: ignore[no-untyped-def]
    """The witness finds its credentials and region as a deployment gives them: boto3's usual variables."""
    for name, value in s3_server.env().items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def s3_policy(bucket: str, endpoint: str | None = None, prefix: str = "ragledger/prod") -> str:
    lines = ["  witnesses:", "    - kind: s3", f"      bucket: {bucket}", f"      prefix: {prefix}"]
    if endpoint:
        lines.append(f"      endpoint_url: {endpoint}")
    return "\n".join(lines) + "\n"


def stored_notes(bucket: S3Bucket) -> list:  # type: ignore[type-arg]
    listed = bucket.client.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    return [parse_checkpoint(bucket.client.get_object(Bucket=bucket.name, Key=o["Key"])["Body"].read().decode()) for o in listed]


def published(ledger) -> list[bool]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        return [p for (p,) in conn.execute(CHECKPOINTS.select().with_only_columns(CHECKPOINTS.c.published).order_by(CHECKPOINTS.c.id))]


def test_checkpoints_land_in_the_bucket_and_verify_reads_them_back(tmp_path, db_url, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    ledger = tree_ledger(tmp_path, db_url, n=5, extra=s3_policy(s3_bucket.name, s3_bucket.endpoint.url))
    fill(ledger, 10)
    old = snapshot(ledger)
    fill(ledger, 6, tag="later")
    keys = [o["Key"] for o in s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]]
    assert all(k.startswith("ragledger/prod/checkpoint-") for k in keys)
    notes = stored_notes(s3_bucket)
    assert sorted(n.size for n in notes) == [1, 6, 11, 16]
    assert all(n.signed_by(ledger.audit.checkpointer.verifier) for n in notes)
    assert verify_ledger(ledger).ok and published(ledger) == [True] * 4
    restore(ledger, old)  # the database put back from an old copy ...
    ledger.audit.checkpointer.journal_path.unlink()  # ... and the journal removed too
    verdict = verify_ledger(ledger)
    assert not verdict.ok and "shorter than" in verdict.first().message
    assert f"s3://{s3_bucket.name}/ragledger/prod/checkpoint-000000000011" in verdict.first().message


def test_the_cli_verifies_against_the_bucket_with_the_endpoint_from_the_environment(tmp_path, s3_bucket, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_bucket.endpoint.url)  # the spec names no endpoint: boto3's usual variable
    ledger = tree_ledger(tmp_path, n=5, extra=s3_policy(s3_bucket.name))
    fill(ledger, 7)
    old = snapshot(ledger)
    fill(ledger, 5, tag="later")
    assert sorted(n.size for n in stored_notes(s3_bucket)) == [1, 6, 11]
    home, policies = ledger.settings.home, ledger.policy.directory
    assert cli(home, policies, "audit", "verify").returncode == 0
    restore(ledger, old)
    ledger.audit.checkpointer.journal_path.unlink()
    out = cli(home, policies, "audit", "verify")
    assert out.returncode == 5 and "shorter than" in out.stdout + out.stderr and f"s3://{s3_bucket.name}" in out.stdout + out.stderr


def test_a_missing_bucket_is_named_the_append_kept_and_the_checkpoint_sent_later(tmp_path, s3_server, caplog) -> None:  # type: ignore[no-untyped-def]
    name = "not-created-yet-0001"
    ledger = tree_ledger(tmp_path, n=5, extra=s3_policy(name, s3_server.url))
    with caplog.at_level(logging.WARNING, logger="ragledger.audit"):
        ids = fill(ledger, 1)
    assert f"bucket {name}" in caplog.text and "NoSuchBucket" in caplog.text
    assert [r["record_id"] for r in ledger.audit.records()] == ids, "the append that triggered the checkpoint is kept"
    assert published(ledger) == [False]
    with pytest.raises(WitnessUnavailable, match=f"bucket {name}"):
        verify_ledger(ledger)
    client = s3_server.client()
    client.create_bucket(Bucket=name)
    try:
        assert latest_checkpoint(ledger).size == 1  # `ragledger audit checkpoint` re-sends what was not delivered
        assert published(ledger) == [True]
        assert verify_ledger(ledger).ok
    finally:
        for o in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=o["Key"])
        client.delete_bucket(Bucket=name)


def test_an_unreachable_endpoint_is_named_with_the_bucket_and_loses_nothing(tmp_path, s3_server, caplog) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ledger = tree_ledger(tmp_path, n=5, extra=s3_policy("ledger-witness", dead))
    with caplog.at_level(logging.WARNING, logger="ragledger.audit"):
        ids = fill(ledger, 6)
    assert "could not write a checkpoint to the s3 witness bucket ledger-witness" in caplog.text and "Could not connect" in caplog.text
    assert len(ledger.audit.records()) == 6 and ids
    assert published(ledger) == [False, False] and len(ledger.audit.checkpointer.journal()) == 2  # the journal still has them
    home, policies = ledger.settings.home, ledger.policy.directory
    out = cli(home, policies, "audit", "verify")
    assert out.returncode != 0 and "bucket ledger-witness" in out.stdout + out.stderr and "endpoint" in out.stdout + out.stderr


def test_no_credentials_is_named_with_the_bucket(tmp_path, s3_bucket, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    ledger = tree_ledger(tmp_path, n=5, extra=s3_policy(s3_bucket.name, s3_bucket.endpoint.url))
    with caplog.at_level(logging.WARNING, logger="ragledger.audit"):
        fill(ledger, 2)
    assert f"bucket {s3_bucket.name}" in caplog.text and "no AWS credentials" in caplog.text
    assert len(ledger.audit.records()) == 2 and published(ledger) == [False]
    assert stored_notes(s3_bucket) == []


def test_an_s3_witness_without_a_bucket_is_refused_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as err:
        tree_ledger(tmp_path, extra="  witnesses:\n    - kind: s3\n      prefix: x/\n")
    assert err.value.field == "audit_log.witnesses.0" and "bucket" in err.value.expected
