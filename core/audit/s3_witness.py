"""The S3 witness: each checkpoint as its own object in a bucket the application's host cannot rewrite
(S3 Object Lock in compliance mode, or a bucket in another account that only allows PutObject).

`ragledger audit verify` lists the prefix and reads every checkpoint back. The endpoint, region and
credentials come from the spec or boto3's usual chain (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
AWS_REGION, AWS_ACCESS_KEY_ID, profiles, instance roles), so MinIO, Ceph or any S3-compatible store
works. Any failure (unreachable endpoint, wrong or missing credentials, no such bucket) is raised as
WitnessUnavailable naming the bucket: on publish the checkpointer logs it and leaves the checkpoint
unpublished (the append is already committed), on verify it stops with what to fix. Tested against
moto's standalone S3 server (tests/audit/test_s3_witness.py).
"""
from __future__ import annotations

from typing import Any

from core.errors import WitnessUnavailable
from core.policy.models import Witness as WitnessSpec
from core.audit.signed_note import Checkpoint, parse_checkpoint


class S3Witness:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.endpoint_url = endpoint_url
        self.region = region
        self.name = f"s3 s3://{bucket}/{self.prefix}"
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise WitnessUnavailable(f"the s3 witness for bucket {self.bucket} needs boto3, which is not installed",
                                         hint="pip install boto3 (pinned in requirements/test.txt), or remove the witness from policy.yaml") from None
            # Short timeouts and few retries: publishing runs right after an append commits.
            config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
            # Its own session: boto3's default one keeps the credentials it found first, for the whole process.
            self._client = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config)
        return self._client

    def _fail(self, doing: str, exc: Exception) -> WitnessUnavailable:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            why, hint = "no AWS credentials were found", "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for this process"
        elif isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "?")
            why = f"S3 answered {code}"
            hint = {"NoSuchBucket": "create the bucket or fix `bucket` in policy.yaml audit_log.witnesses",
                    "InvalidAccessKeyId": "the access key is wrong: check AWS_ACCESS_KEY_ID",
                    "SignatureDoesNotMatch": "the secret key is wrong: check AWS_SECRET_ACCESS_KEY",
                    "AccessDenied": "grant this identity s3:PutObject, s3:GetObject and s3:ListBucket on the prefix"}.get(
                        code, "check the bucket, the credentials and the endpoint")
        else:
            why, hint = f"{type(exc).__name__}: {exc}", "check the endpoint (endpoint_url or AWS_ENDPOINT_URL_S3) and the network"
        return WitnessUnavailable(f"could not {doing} the s3 witness bucket {self.bucket} (prefix {self.prefix!r}): {why}",
                                  hint=f"{hint}; unsent checkpoints stay marked in the database and `ragledger audit checkpoint` sends them again")

    def key(self, cp: Checkpoint) -> str:
        return f"{self.prefix}checkpoint-{cp.size:012d}-{cp.root.hex()[:16]}-{cp.time.replace(':', '')}.txt"

    def publish(self, cp: Checkpoint) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().put_object(Bucket=self.bucket, Key=self.key(cp), Body=cp.note.encode(), ContentType="text/plain; charset=utf-8")
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("write a checkpoint to", exc) from exc

    def read(self) -> list[Checkpoint]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        try:
            s3 = self._s3()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + "checkpoint-"):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read().decode()
                    out.append(parse_checkpoint(body, source=f"witness s3://{self.bucket}/{obj['Key']}"))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("read the checkpoints of", exc) from exc
        return out


def factory(spec: WitnessSpec, home: object) -> S3Witness:
    assert spec.bucket is not None  # the policy model refuses an s3 witness without one
    return S3Witness(spec.bucket, spec.prefix, spec.endpoint_url, spec.region)
