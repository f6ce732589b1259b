"""A real S3 endpoint for tests: moto's standalone server on 127.0.0.1 (a free port), not a mock
of boto3 or of LanceDB. One server per session; each test gets a fresh bucket.

Use in a test module:

    from tests.s3_support import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

    def test_x(s3_bucket): ...  # s3_bucket.uri("prefix"), s3_bucket.client, s3_bucket.env()

The session server accepts any credentials (moto's default). `authenticating_server()` starts a
second, separate server that checks signatures, for the wrong-credentials tests.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

REGION = "us-east-1"
TEST_KEY = "testing-key"
TEST_SECRET = "testing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str = TEST_KEY
    secret_key: str = TEST_SECRET
    region: str = REGION

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)

    def env(self) -> dict[str, str]:
        """The standard AWS variables a deployment sets for this endpoint."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}


@dataclass
class S3Bucket:
    endpoint: S3Endpoint
    name: str
    versioned: bool = False
    client: Any = field(default=None, repr=False)

    def uri(self, prefix: str = "lance") -> str:
        return f"s3://{self.name}/{prefix}"

    def env(self) -> dict[str, str]:
        return self.endpoint.env()

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def object_versions(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every stored version and delete marker (a versioned bucket keeps removed objects)."""
        out: list[dict[str, Any]] = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.name, Prefix=prefix):
            out += [{**v, "marker": False} for v in page.get("Versions", [])]
            out += [{**m, "marker": True} for m in page.get("DeleteMarkers", [])]
        return out


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    """moto's ThreadedMotoServer (a real HTTP S3 endpoint) on loopback, for the whole session."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


def make_bucket(endpoint: S3Endpoint, *, versioned: bool = False) -> S3Bucket:
    client = endpoint.client()
    name = f"rl-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return S3Bucket(endpoint, name, versioned, client)


@pytest.fixture
def s3_bucket(s3_server: S3Endpoint) -> S3Bucket:
    """A fresh, empty, unversioned bucket on the session's server."""
    return make_bucket(s3_server)


@pytest.fixture
def s3_versioned_bucket(s3_server: S3Endpoint) -> S3Bucket:
    """A fresh bucket with versioning enabled: removed and overwritten objects keep old versions."""
    return make_bucket(s3_server, versioned=True)


@contextmanager
def authenticating_server() -> Iterator[tuple[S3Endpoint, str]]:
    """A separate moto server (its own process) that verifies request signatures: an IAM user and
    its key are made while authentication is still off (the first few actions), then every request
    must be signed with that key. Yields (endpoint with the valid key, bucket name)."""
    port = free_port()
    setup_actions = 4  # create_user, put_user_policy, create_access_key, create_bucket
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_actions)}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the authenticating moto server did not start") from None
                time.sleep(0.2)
        import boto3

        iam = boto3.client("iam", endpoint_url=url, aws_access_key_id="setup", aws_secret_access_key="setup", region_name=REGION)
        iam.create_user(UserName="ragledger")
        iam.put_user_policy(UserName="ragledger", PolicyName="s3", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'))
        key = iam.create_access_key(UserName="ragledger")["AccessKey"]
        endpoint = S3Endpoint(url, key["AccessKeyId"], key["SecretAccessKey"])
        bucket = f"rl-{uuid.uuid4().hex[:16]}"
        endpoint.client().create_bucket(Bucket=bucket)
        yield endpoint, bucket
    finally:
        proc.terminate()
        proc.wait(timeout=10)
