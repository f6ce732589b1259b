"""The governed ask with the chunk store on a local S3 endpoint, at 10,000 chunks, beside the same
table in a local folder.

The endpoint is moto's standalone server (`python -m moto.server`, its own process on 127.0.0.1):
a real HTTP S3 API, but in-memory, on the same machine, with no network between. Its latency is
not S3's (a real bucket adds round trips of milliseconds to tens of milliseconds per request), so
the figure shows what the object-store path costs in requests and decoding, not what AWS costs.

Sizes: BENCH_S3_CHUNKS (default 10000), BENCH_S3_ROUNDS (default 100).
Run: python -m bench.bench_s3   (needs moto[server] from requirements/test.txt)
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.bench_ask import WHO, pct
from bench.bench_scale import timed
from bench.scale_data import rows_batch
from bench.synthetic import questions
from core.answering.ask import ask
from core.rag.chunk_store import ChunkStore, VectorIndexConfig
from core.config import REPO_ROOT, Settings
from core.ledger import Ledger

CHUNKS = int(os.environ.get("BENCH_S3_CHUNKS", "10000"))
ROUNDS = int(os.environ.get("BENCH_S3_ROUNDS", "100"))


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("moto server did not start")


def fill(location: Path | str) -> dict:
    import random

    import numpy as np

    store = ChunkStore(location, index=VectorIndexConfig(min_rows=0))
    t = time.perf_counter()
    store.table.add(rows_batch(0, CHUNKS, random.Random(7), np.random.default_rng(7)))
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    store.ensure_indexes()
    return {"write_s": round(write_s, 1), "index_s": round(time.perf_counter() - t, 1)}


def asks(home: Path, location: Path | str | None) -> dict:
    ledger = Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=f"sqlite:///{home / 'ledger.db'}",
                                  lance_uri=location if isinstance(location, str) else None))
    ledger.warm_up()
    timed(lambda i, q: ask(ledger, ledger.policy.principal(WHO[i % len(WHO)]), q), questions(10, seed=3))
    lat = timed(lambda i, q: ask(ledger, ledger.policy.principal(WHO[i % len(WHO)]), q), questions(ROUNDS, seed=23))
    return {"chunks": ledger.store.count(), "ask_p50_ms": pct(lat, 50), "ask_p95_ms": pct(lat, 95), "ask_mean_ms": round(statistics.mean(lat), 2)}


def main() -> None:
    proc, endpoint = start_moto()
    try:
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"})
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        uri = f"s3://{bucket}/lance"
        with tempfile.TemporaryDirectory() as tmp:
            s3_home, local_home = Path(tmp) / "s3", Path(tmp) / "local"
            s3_home.mkdir()
            local_home.mkdir()
            built = {"s3": fill(uri), "local": fill(local_home / "lance")}
            figures = {"endpoint": "moto server on 127.0.0.1 (in-memory; not S3's latency)", "rounds": ROUNDS, "build": built,
                       "s3": asks(s3_home, uri), "local_folder": asks(local_home, None)}
        figures["ratio_s3_to_local_p50"] = round(figures["s3"]["ask_p50_ms"] / figures["local_folder"]["ask_p50_ms"], 2)
        print(json.dumps(figures))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
