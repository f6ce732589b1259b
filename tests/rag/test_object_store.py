"""The chunk store on S3-compatible object storage, against a real local S3 endpoint (moto's server):
ingest, ask, purge with a proof that reads every object (old versions of a versioned bucket
included), and the faults (unreachable store, wrong credentials) that must write nothing."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from core.rag import object_store
from core.answering.ask import ask
from core.rag.chunk_store import SCHEMA, ChunkStore, id_predicate
from core.config import REPO_ROOT, Settings
from core.db import dispose_engines
from core.erasure.requests import create_request, preview
from core.erasure.proof import scan_disk
from core.errors import ConfigError, ObjectStoreError
from core.rag.ingest import Source, ingest
from core.ledger import Ledger
from core.erasure.purge import execute
from tests.s3_support import authenticating_server, free_port, s3_bucket, s3_server, s3_versioned_bucket  # noqa: F401

SECRET = "ZXQ-OMEGA-3141"
BODY = ("## Case\n\nMarta Quillfeather reported incident {code} about the badge reader at the loading dock. "
        + "The facilities team reviewed access logs, door schedules and the visitor book for the quarter. " * 6)


def s3_ledger(tmp_path, uri: str) -> Ledger:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    return Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=f"sqlite:///{home / 'ledger.db'}", lance_uri=uri))


@pytest.fixture
def aws_env(monkeypatch):  # type: ignore[no-untyped-def]
    def _set(env: dict[str, str]) -> None:
        for k in ("AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
    yield _set
    dispose_engines()


def test_storage_options_come_from_the_aws_variables(aws_env) -> None:  # type: ignore[no-untyped-def]
    aws_env({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"})
    assert object_store.storage_options() == {"aws_endpoint": "http://127.0.0.1:9000", "aws_access_key_id": "k", "aws_secret_access_key": "s",
                                              "aws_region": "eu-west-1", "allow_http": "true"}
    remote = object_store.Remote.parse("s3://bucket/some/prefix/")
    assert (remote.bucket, remote.prefix, remote.uri) == ("bucket", "some/prefix", "s3://bucket/some/prefix")


def test_settings_read_the_uri_and_refuse_other_schemes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAGLEDGER_LANCE_URI", "s3://bucket/chunks")
    assert Settings.from_env(tmp_path).lance_location == "s3://bucket/chunks"
    monkeypatch.setenv("RAGLEDGER_LANCE_URI", "gs://bucket/chunks")
    with pytest.raises(ConfigError, match="RAGLEDGER_LANCE_URI"):
        Settings.from_env(tmp_path)
    monkeypatch.delenv("RAGLEDGER_LANCE_URI")
    assert Settings.from_env(tmp_path).lance_location == tmp_path.resolve() / "lance"


def test_ingest_ask_purge_and_proof_on_a_versioned_bucket(tmp_path, write_doc, aws_env, s3_versioned_bucket) -> None:  # type: ignore[no-untyped-def]
    bucket = s3_versioned_bucket
    aws_env(bucket.env())
    ledger = s3_ledger(tmp_path, bucket.uri("tenant-a/lance"))
    ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
    hr = ingest(ledger, ops, [Source.from_path(write_doc("case.md", BODY.format(code=SECRET), groups="hr", classification="confidential", title="Badge case"))])[0]
    ingest(ledger, ops, [Source.from_path(write_doc("other.md", BODY.format(code="ZXQ-KEEP-2718").replace("Marta Quillfeather", "The night guard"), title="Other case"))])

    # The chunks live in the bucket, not in the home folder.
    assert not ledger.settings.lance_dir.exists()
    assert any(k.startswith("tenant-a/lance/chunks.lance/data/") for k in bucket.keys())
    answer = ask(ledger, alice, "Which incident was reported about the badge reader?")
    assert answer.knows and any(c.doc_id == hr.doc_id for c in answer.shown)

    # The chunk content is sealed (the shipped policy: encryption on), so the secret never reaches the
    # bucket; the ids stay plain. The proof reads the objects: before the erasure it finds the id.
    assert ledger.chunk_cipher is not None
    assert not [h for h in scan_disk(ledger, [SECRET])["hits"] if h["file"].startswith("s3://")]
    before = scan_disk(ledger, [hr.doc_id])
    assert before["object_store"]["objects_read"] > 0 and any(h["file"].startswith(bucket.uri("tenant-a/lance")) for h in before["hits"])

    request = create_request(ledger, alice, doc_id=hr.doc_id, requested_by="the data subject", reason="Art. 17")
    preview(ledger, alice, request.request_id)
    cert = execute(ledger, alice, request.request_id)

    assert cert.verified_clean, cert.remaining
    assert cert.erased["lancedb"]["object_versions_removed"] > 0
    scan = cert.verification["disk_scan"]
    assert scan["object_store"]["uri"] == bucket.uri("tenant-a/lance") and scan["lance_files_decoded"] > 0
    # Nothing of the erased document is left in the bucket: no old object version, no delete marker.
    versions = bucket.object_versions("tenant-a/lance/")
    assert versions and all(v["IsLatest"] and not v["marker"] for v in versions)
    # (the ledger's own tables still name the document id: its audit records and erasure request)
    assert [h for h in scan_disk(ledger, [hr.doc_id, SECRET])["hits"] if h["store"] == "lance"] == []
    # The other document is still served from the bucket.
    assert ledger.store.count(id_predicate("doc_id", [hr.doc_id])) == 0 and ledger.store.count() > 0
    assert SECRET not in json.dumps(cert.to_dict())


def test_the_proof_catches_an_old_object_version(tmp_path, aws_env, s3_versioned_bucket) -> None:  # type: ignore[no-untyped-def]
    """LanceDB's own cleanup removes the files, but a versioned bucket keeps them: the scan of old
    object versions finds the row, and only the erasure's version deletion removes it."""
    bucket = s3_versioned_bucket
    aws_env(bucket.env())
    ledger = s3_ledger(tmp_path, bucket.uri("lance"))
    row = {f.name: None for f in SCHEMA} | {"chunk_id": "chk_0123456789", "doc_id": "doc_0123456789", "doc_version": 1, "ord": 0, "title": "t",
                                           "text": f"incident {SECRET} at the dock", "groups": ["hr"], "class_rank": 0, "vector": [0.1] * 384}
    ledger.store.add([row])
    table = ledger.store.table
    table.delete(id_predicate("chunk_id", ["chk_0123456789"]))
    table.to_lance().optimize.compact_files(materialize_deletions_threshold=0.0)
    table.checkout_latest()
    table.to_lance().cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
    # The text is sealed (encryption on); the document id is plain row data (the delete's transaction
    # names the chunk id, not it), so it is what the old versions show.
    # (the ledger's key vault names the document id too, as the key's owner: only the bucket counts here)
    hits = [h for h in scan_disk(ledger, ["doc_0123456789"])["hits"] if h["store"] == "lance"]
    assert hits and all("(old version" in h["file"] for h in hits)
    object_store.delete_old_versions(object_store.Remote.parse(bucket.uri("lance")))
    assert [h for h in scan_disk(ledger, ["doc_0123456789", SECRET])["hits"] if h["store"] == "lance"] == []


def _assert_nothing_written(ledger: Ledger) -> None:
    from sqlalchemy import text

    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar() == 0
        assert not [e for e in conn.execute(text("SELECT kind FROM audit_records")).scalars() if "ingest" in e.lower()]
    assert not (ledger.settings.uploads_dir.exists() and any(ledger.settings.uploads_dir.rglob("*.md")))


def test_wrong_credentials_name_the_uri_and_write_nothing(tmp_path, write_doc, aws_env) -> None:  # type: ignore[no-untyped-def]
    with authenticating_server() as (endpoint, bucket):
        uri = f"s3://{bucket}/lance"
        aws_env({**endpoint.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
        ledger = s3_ledger(tmp_path, uri)
        with pytest.raises(ObjectStoreError) as caught:
            ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("a.md", BODY.format(code=SECRET)))])
        assert uri in str(caught.value) and "SignatureDoesNotMatch" in str(caught.value) and "AWS_SECRET_ACCESS_KEY" in str(caught.value)
        _assert_nothing_written(ledger)
        listing = endpoint.client().list_objects_v2(Bucket=bucket)
        assert listing.get("KeyCount", 0) == 0
        # With the right key the same ledger works (the failed store handle was not cached).
        aws_env(endpoint.env())
        assert ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("a.md", BODY.format(code=SECRET)))])[0].chunks > 0


def test_an_unreachable_store_names_the_uri_and_writes_nothing(tmp_path, write_doc, aws_env) -> None:  # type: ignore[no-untyped-def]
    aws_env({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"})
    ledger = s3_ledger(tmp_path, "s3://nowhere-bucket/lance")
    with pytest.raises(ObjectStoreError, match="s3://nowhere-bucket/lance") as caught:
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("a.md", BODY.format(code=SECRET)))])
    assert "connection failed" in str(caught.value)
    _assert_nothing_written(ledger)


def test_concurrent_writers_on_the_bucket_lose_no_commit(aws_env, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    """Two handles (two app replicas) append to one table at once: Lance's commit is a conditional
    put of the next manifest; the loser of a race retries on the new version, so every row lands."""
    aws_env(s3_bucket.env())
    uri = s3_bucket.uri("lance")
    ChunkStore(uri).table  # create it once
    stores = [ChunkStore(uri), ChunkStore(uri)]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                cid = f"chk_{n:02d}{i:08x}"
                stores[n].add([{f.name: None for f in SCHEMA} | {"chunk_id": cid, "doc_id": f"doc_{n:08x}", "groups": ["hr"], "vector": [0.1] * 384}])
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ChunkStore(uri).count() == 10
