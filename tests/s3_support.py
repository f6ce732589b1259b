"""A real local S3 endpoint for the tests: moto's standalone server (its HTTP S3 API, the same one
`moto_server` serves) on 127.0.0.1 on a free port, once per session, and a fresh bucket per test.

Import the fixtures into a test module: `from tests.s3_support import s3_server, s3_bucket  # noqa: F401`.
Clients reach it like any S3-compatible store: endpoint_url=s3_server.endpoint (or AWS_ENDPOINT_URL_S3),
with the throwaway credentials set here for the session.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass(frozen=True)
class S3Bucket:
    name: str
    endpoint: str
    client: Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with pytest.MonkeyPatch.context() as mp:
        for k, v in CREDENTIALS.items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield S3Server(f"http://127.0.0.1:{port}")
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    client = s3_server.client()
    name = f"test-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    return S3Bucket(name, s3_server.endpoint, client)
