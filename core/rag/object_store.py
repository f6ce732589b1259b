"""The chunk store's location: a local folder, or an S3-compatible bucket (`RAGLEDGER_LANCE_URI=s3://bucket/prefix`).

LanceDB reads and writes S3 itself; this module gives it the storage options from the standard AWS
variables, turns an unreachable store or refused credentials into one clear error naming the URI,
and does the two things erasure needs that LanceDB does not: list every object (and every old
object version of a versioned bucket) under the prefix so the proof can decode them, and delete
the old object versions, because on a versioned bucket a deleted Lance file is still stored.

Commits: Lance commits a new table version with a conditional put (`If-None-Match: *`) of the
version's manifest, so two writers racing on one version cannot both win; AWS S3 supports it.
A store without a real conditional put is unsafe for concurrent writers (docs/deployment.md).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.errors import ConfigError, ObjectStoreError

SCHEMES = ("s3://",)
HINT = ("check that the object store answers at AWS_ENDPOINT_URL, that AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "are right and may read and write the bucket, and that the bucket exists; nothing was written")


def is_remote(location: str | Path) -> bool:
    return str(location).startswith(SCHEMES)


@dataclass(frozen=True)
class Remote:
    """An S3 location: bucket, key prefix (no trailing slash) and the connection settings."""

    uri: str
    bucket: str
    prefix: str
    options: dict[str, str]

    @classmethod
    def parse(cls, uri: str) -> "Remote":
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"RAGLEDGER_LANCE_URI={uri!r} is not an s3://bucket/prefix URI",
                              hint="give s3://bucket/prefix, or unset it to keep the chunks under RAGLEDGER_HOME/lance")
        return cls(uri.rstrip("/"), parsed.netloc, parsed.path.strip("/"), storage_options())

    def key_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        o = self.options
        return boto3.client("s3", endpoint_url=o.get("aws_endpoint"), region_name=o.get("aws_region"),
                            aws_access_key_id=o.get("aws_access_key_id"), aws_secret_access_key=o.get("aws_secret_access_key"),
                            aws_session_token=o.get("aws_session_token"),
                            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}))


def storage_options() -> dict[str, str]:
    """LanceDB storage options from the AWS variables a deployment already sets (unset ones are left
    to the AWS defaults: instance roles, ~/.aws). A plain-http endpoint (a local test server, a
    MinIO on the private network) needs allow_http."""
    env = os.environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    pairs = {"aws_endpoint": endpoint, "aws_access_key_id": env.get("AWS_ACCESS_KEY_ID"),
             "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY"), "aws_session_token": env.get("AWS_SESSION_TOKEN"),
             "aws_region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ("us-east-1" if endpoint else None)}
    options = {k: v for k, v in pairs.items() if v}
    if endpoint and endpoint.startswith("http://"):
        options["allow_http"] = "true"
    return options


def connect(location: str | Path):  # type: ignore[no-untyped-def]
    """A LanceDB connection to a folder or a bucket; a bucket is checked at once (one listing)."""
    import lancedb

    if not is_remote(location):
        Path(location).mkdir(parents=True, exist_ok=True)
        return lancedb.connect(str(location))
    remote = Remote.parse(str(location))
    with translated(remote.uri):
        db = lancedb.connect(remote.uri, storage_options=remote.options)
        db.list_tables()
    return db


@contextmanager
def translated(uri: str) -> Iterator[None]:
    """LanceDB raises ValueError/OSError/RuntimeError with the object store's reply inside; name the
    URI and say what to check. Only errors of a remote location pass through here."""
    try:
        yield
    except ObjectStoreError:
        raise
    except (ValueError, OSError, RuntimeError) as exc:
        raise ObjectStoreError(f"the chunk store at {uri} could not be reached or refused the request: {_reason(exc)}", hint=HINT) from exc
    except Exception as exc:  # botocore's errors (ClientError, EndpointConnectionError) share no base with the above
        if type(exc).__module__.startswith(("botocore", "boto3")):
            raise ObjectStoreError(f"the chunk store at {uri} could not be reached or refused the request: {_reason(exc)}", hint=HINT) from exc
        raise


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "NoSuchBucket", "ExpiredToken"):
        if code in text:
            return code
    for marker in ("Connection refused", "connection refused", "error trying to connect", "Could not connect", "timed out", "dns error"):
        if marker in text:
            return "connection failed"
    return text.splitlines()[0][:200] if text else type(exc).__name__


# Listing and reading the objects (the erasure proof decodes them; a versioned bucket keeps old versions).
def object_versions(remote: Remote) -> list[dict[str, Any]]:
    """Every object under the prefix: the current ones (`latest`) and, on a versioned bucket, every
    old version and delete marker. Keys relative to the prefix."""
    client = remote.client()
    out: list[dict[str, Any]] = []
    with translated(remote.uri):
        versioned = client.get_bucket_versioning(Bucket=remote.bucket).get("Status") in ("Enabled", "Suspended")
        if versioned:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=remote.bucket, Prefix=remote.key_prefix()):
                out += [{"key": v["Key"], "version_id": v["VersionId"], "latest": v["IsLatest"], "marker": False, "size": v["Size"]}
                        for v in page.get("Versions", [])]
                out += [{"key": m["Key"], "version_id": m["VersionId"], "latest": m["IsLatest"], "marker": True, "size": 0}
                        for m in page.get("DeleteMarkers", [])]
        else:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=remote.bucket, Prefix=remote.key_prefix()):
                out += [{"key": o["Key"], "version_id": None, "latest": True, "marker": False, "size": o["Size"]} for o in page.get("Contents", [])]
    return out


def delete_old_versions(remote: Remote) -> dict[str, int]:
    """Delete every non-current object version and every delete marker under the prefix. On an
    unversioned bucket there are none. Idempotent (a purge step may run again after a crash)."""
    client = remote.client()
    doomed = [{"Key": v["key"], "VersionId": v["version_id"]} for v in object_versions(remote) if v["version_id"] and (not v["latest"] or v["marker"])]
    removed = 0
    with translated(remote.uri):
        for i in range(0, len(doomed), 1000):
            reply = client.delete_objects(Bucket=remote.bucket, Delete={"Objects": doomed[i:i + 1000], "Quiet": True})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise ObjectStoreError(f"the object store at {remote.uri} refused to delete {len(reply['Errors'])} old object version(s): {first.get('Code')}",
                                       hint="the credentials need s3:DeleteObjectVersion; run the purge again once they have it")
            removed += len(doomed[i:i + 1000])
    return {"object_versions_removed": removed}


@dataclass
class Snapshot:
    """A local copy of the store for the proof: `current` is a LanceDB folder of the live objects
    (openable with lance.dataset), `old` the non-current versions as (name, path)."""

    current: Path
    old: list[tuple[str, Path]]
    objects_read: int


@contextmanager
def snapshot(remote: Remote) -> Iterator[Snapshot]:
    """Download every object version under the prefix into a private temporary folder (removed on exit)."""
    client = remote.client()
    versions = object_versions(remote)
    with tempfile.TemporaryDirectory(prefix="rl-proof-") as tmp:
        current, old_dir = Path(tmp) / "current", Path(tmp) / "old"
        old: list[tuple[str, Path]] = []
        read = 0
        with translated(remote.uri):
            for n, v in enumerate(versions):
                if v["marker"]:
                    continue
                relative = v["key"][len(remote.key_prefix()):]
                if v["latest"]:
                    target = current / relative
                else:
                    target = old_dir / str(n) / relative
                    old.append((f"{remote.uri}/{relative} (old version {v['version_id']})", target))
                target.parent.mkdir(parents=True, exist_ok=True)
                extra = {"VersionId": v["version_id"]} if v["version_id"] else {}
                body = client.get_object(Bucket=remote.bucket, Key=v["key"], **extra)["Body"]
                target.write_bytes(body.read())
                read += 1
        current.mkdir(exist_ok=True)
        yield Snapshot(current, old, read)
