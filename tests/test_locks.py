"""The store lock across hosts: two ledger homes (two machines: their flocks never meet) sharing one
PostgreSQL ledger and one chunk store location are serialised by the advisory lock alone."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.config import REPO_ROOT, Settings
from core.ledger import Ledger
from core.locks import store_lock

SHARED_STORE = "s3://ledger-bucket/chunks"  # the lock never opens the store: only its location keys the lock


@pytest.fixture(autouse=True)
def shared_master_key(tmp_path, monkeypatch) -> None:
    """Hosts of one deployment share the ledger's master key (docs/deployment.md), as they share its database."""
    monkeypatch.setenv("RAGLEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))


def host(tmp_path: Path, name: str, url: str, store: str = SHARED_STORE) -> Ledger:
    home = tmp_path / name
    home.mkdir()
    return Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=url, lance_uri=store))


def acquires_within(ledger: Ledger, exclusive: bool, seconds: float) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """Take the lock on a thread; `got` is set once held, and it is released when `release` is set."""
    got, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(ledger, exclusive=exclusive):
            got.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    got.wait(seconds)
    return got, release, thread


@pytest.mark.postgres
def test_a_purge_on_one_host_holds_off_readers_and_writers_on_another(tmp_path, pg_url) -> None:
    a, b = host(tmp_path, "host-a", pg_url), host(tmp_path, "host-b", pg_url)
    with store_lock(a, exclusive=True):
        got, release, thread = acquires_within(b, exclusive=False, seconds=1.0)
        assert not got.is_set(), "host B read the store while host A held it exclusive"
    assert got.wait(10), "host B never got the lock after host A let go"
    release.set()
    thread.join(10)


@pytest.mark.postgres
def test_shared_holders_on_two_hosts_run_together_and_other_stores_never_wait(tmp_path, pg_url) -> None:
    a, b = host(tmp_path, "host-a", pg_url), host(tmp_path, "host-b", pg_url)
    elsewhere = host(tmp_path, "host-c", pg_url, store="s3://other-bucket/chunks")
    with store_lock(a, exclusive=False):
        got, release, thread = acquires_within(b, exclusive=False, seconds=10)
        assert got.is_set()
        release.set()
        thread.join(10)
    with store_lock(a, exclusive=True):
        got, release, thread = acquires_within(elsewhere, exclusive=True, seconds=10)
        assert got.is_set(), "a different chunk store waited on this one's lock"
        release.set()
        thread.join(10)


@pytest.mark.postgres
def test_a_nested_shared_lock_does_not_queue_behind_a_waiting_purge(tmp_path, pg_url) -> None:
    """An ask holds the lock and takes it again in retrieval; a purge on another host asks for it in
    between. PostgreSQL would queue the second shared request behind the purge, which waits for the
    first: a hang no deadlock detector sees. Re-entry within the thread avoids it."""
    a, b = host(tmp_path, "host-a", pg_url), host(tmp_path, "host-b", pg_url)
    with store_lock(a, exclusive=False):
        purge, release, thread = acquires_within(b, exclusive=True, seconds=0.5)
        assert not purge.is_set()
        done = threading.Event()

        def nested() -> None:
            with store_lock(a, exclusive=False):
                done.set()

        inner = threading.Thread(target=nested, daemon=True)
        with store_lock(a, exclusive=False):  # the nested take, on the same thread: granted at once
            pass
        inner.start()  # another thread of host A is another holder: it may queue, and that is fine
    assert purge.wait(10), "the purge never ran after the ask ended"
    release.set()
    thread.join(10)
    assert done.wait(10)


def test_upgrading_a_shared_lock_to_exclusive_is_refused(tmp_path) -> None:
    ledger = host(tmp_path, "host-a", f"sqlite:///{tmp_path / 'ledger.db'}", store=str(tmp_path / "lance"))
    with store_lock(ledger, exclusive=False):
        with pytest.raises(RuntimeError, match="cannot be upgraded"):
            with store_lock(ledger, exclusive=True):
                pass
    with store_lock(ledger, exclusive=True):  # released properly: taken again at once
        with store_lock(ledger, exclusive=False):
            pass


@pytest.mark.postgres
def test_a_killed_holder_never_leaves_the_store_locked(tmp_path, pg_url) -> None:
    a = host(tmp_path, "host-a", pg_url)
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from core.config import REPO_ROOT, Settings\n"
        "from core.ledger import Ledger\n"
        "from core.locks import store_lock\n"
        f"home = Path({str(tmp_path / 'host-k')!r}); home.mkdir()\n"
        f"ledger = Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / 'policies', database_url={pg_url!r}, lance_uri={SHARED_STORE!r}))\n"
        "with store_lock(ledger, exclusive=True):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        got, release, thread = acquires_within(a, exclusive=False, seconds=1.0)
        assert not got.is_set()
        holder.kill()
        assert got.wait(30), "the lock of a killed process was never released"
        release.set()
        thread.join(10)
    finally:
        holder.kill()
        holder.wait(10)
