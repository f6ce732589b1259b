"""A real Ray head for the tests that fan work out on Ray (tests/rag/test_ray_ingest.py,
tests/models/test_ray_reembed.py): `ray start --head --block` on loopback, with its own auth token."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


PROCESS_TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_head():  # type: ignore[no-untyped-def]
    """A Ray head on loopback for one test module (`ray_address = pytest.fixture(scope="module")(ray_head)`):
    its own process group, ended by its id; yields its HOST:PORT."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rl-ray-", dir="/tmp")  # short: Ray's socket paths live below it
    # Ray 2.60 authenticates every connection with a token, in the driver's env too. Ray reads it once
    # per process, so every head this test process starts gets the same one (PROCESS_TOKEN).
    auth = pytest.MonkeyPatch()
    auth.setenv("RAY_AUTH_MODE", "token")
    auth.setenv("RAY_AUTH_TOKEN", PROCESS_TOKEN)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--object-store-memory=200000000", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not (Path(temp) / "session_latest" / "sockets" / "raylet").exists():  # GCS and the head's raylet are up
        if time.monotonic() > deadline or head.poll() is not None:
            os.killpg(head.pid, signal.SIGKILL)
            pytest.fail(f"the Ray head did not start on {address}")
        time.sleep(0.5)
    yield address
    import ray  # imported after RAY_AUTH_TOKEN is set: Ray reads the token once per process

    ray.shutdown()
    os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops its own processes on SIGTERM, after draining
    try:
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    os.killpg(head.pid, signal.SIGKILL)  # what is left of this head's own process group (started_new_session)
    head.wait()
    auth.undo()
