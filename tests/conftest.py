"""Shared fixtures: every test gets its own RAGLEDGER_HOME; stores are the real ones.

`db_url` runs a test on SQLite and on PostgreSQL (a fresh schema per test). Outside CI the
PostgreSQL variant skips when no server answers; in CI (CI=true) it fails instead.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

# Under pytest-xdist (`make test` runs one worker per core): one compute thread per worker and per
# process it starts, set before torch, numpy or spaCy load. Each library would otherwise start a
# thread per core in every worker, and on two cores four busy threads only wait on each other.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from audit_db import default_database_url
from core.config import REPO_ROOT, Settings
from core.db import dispose_engines
from core.ledger import Ledger

# The suite signs in with the demo accounts ("<name>-demo"), which the app and the CLI accept only in
# demo mode. Turn it on for this process and every subprocess it starts (the CLI, streamlit); tests of
# the refusal outside demo mode set RAGLEDGER_DEMO_MODE=0 themselves (docs/accounts.md).
os.environ["RAGLEDGER_DEMO_MODE"] = "1"


@pytest.fixture(autouse=True)
def _keep_main_module():  # type: ignore[no-untyped-def]
    """Streamlit's AppTest runs a page as `__main__` and leaves it there; a test that starts processes
    with multiprocessing's "spawn" then makes every child re-run that page (and crash). Put pytest's
    own `__main__` back after each test."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True, scope="session")
def _shared_run_folder(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Under pytest-xdist, where the workers of this run build their costly homes once (tests/shared_build.py)."""
    import shared_build

    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared_build.RUN_FOLDER = tmp_path_factory.getbasetemp().parent


# The longest test files first (per-file sums of `--durations=0` under `make test`, 2 workers,
# 2026-12-04), run with --no-loadscope-reorder: pytest-xdist then hands whole files to the workers in
# this order, so no long file starts last and runs alone at the end. Files that build a shared home
# (tests/shared_build.py) alternate with files that need none: the first two are the CLI tests (no
# shared home) and the Models page (builds the demo home), the next two the promotion gate (builds
# the tidal home) and the README tour (none), so a worker seldom waits on the other's build.
LONGEST_FIRST = (
    "tests/cli/test_cli.py", "tests/app/test_models_page.py", "tests/evaluation/test_promotion_gate.py", "tests/test_readme.py",
    "tests/models/test_training.py", "tests/cli/test_demo.py", "tests/audit/test_audit_soak.py", "tests/app/test_first_run_browser.py",
    "tests/rag/test_ray_ingest.py", "tests/answering/test_leaks.py", "tests/answering/test_router.py",
    "tests/erasure/test_erasure_subjects.py", "tests/answering/test_ask.py", "tests/app/test_pages.py", "tests/models/test_ray_reembed.py", "tests/rag/test_ingest_limits.py",
    "tests/app/test_erasure_browser.py", "tests/app/test_workbench_browser.py", "tests/evaluation/test_golden.py",
    "tests/cli/test_audit_cli.py", "tests/app/test_browser.py", "tests/rag/test_relabel.py", "tests/app/test_session_browser.py",
    "tests/app/test_browser_injection.py", "tests/erasure/test_erasure_property.py", "tests/models/test_serving.py",
    "tests/cli/test_users_cli.py", "tests/erasure/test_purge_crash.py", "tests/erasure/test_erasure_requests.py",
)


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    missing = [path for path in LONGEST_FIRST if not (REPO_ROOT / path).is_file()]
    if missing:  # a renamed file would silently lose its place in the order
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FIRST names files that do not exist: {missing}")
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: each file keeps its order


PG_BASE = os.environ.get("RAGLEDGER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return True
    except Exception:
        return False


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (not allowed to skip in CI)")
    pytest.skip(reason)


@pytest.fixture
def pg_url():  # type: ignore[no-untyped-def]
    if not _pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = PG_BASE.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    dispose_engines()
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        dispose_engines()
    else:
        yield request.getfixturevalue("pg_url")


def make_ledger(home: Path, database_url: str | None = None, policies: Path | None = None) -> Ledger:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        home=home,
        policies_dir=policies or REPO_ROOT / "policies",
        database_url=database_url or default_database_url(home),
    )
    return Ledger.open(settings)


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Ledger:  # type: ignore[no-untyped-def]
    """A fresh, empty ledger on SQLite under tmp_path."""
    monkeypatch.setenv("RAGLEDGER_HOME", str(tmp_path / "home"))
    yield make_ledger(tmp_path / "home")
    dispose_engines()


@pytest.fixture
def any_ledger(tmp_path, db_url) -> Ledger:  # type: ignore[no-untyped-def]
    """A fresh, empty ledger on SQLite and on PostgreSQL."""
    return make_ledger(tmp_path / "home", db_url)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """The bundled demo corpus, ingested once per session. Tests must not change it."""
    from core.rag.ingest import Source, expand_paths, ingest
    from shared_build import built_once

    def build(home: Path) -> None:
        ledger = make_ledger(home)
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in expand_paths([REPO_ROOT / "demo_corpus"])])

    return built_once("demo-home", tmp_path_factory.mktemp("demo-home"), build)


@pytest.fixture(scope="session")
def demo_loaded_home(demo_home, tmp_path_factory) -> Path:
    """A copy of the demo home after `ragledger demo load`'s other steps (core/demo.py): a fine-tuned
    embedder in production, the demo questions answered by every role, a previewed erasure request.
    Shared by the tests of the first run; tests must not change it (copy it: ui_support.copy_home)."""
    import shutil

    from core.demo import load_demo
    from shared_build import built_once

    def build(home: Path) -> None:
        shutil.copytree(demo_home, home)
        ledger = make_ledger(home)
        load_demo(ledger, ledger.policy.principal("ops"))

    return built_once("demo-loaded", tmp_path_factory.mktemp("demo-loaded") / "home", build)


# --- the app's pages in AppTest (tests/app) -----------------------------------------------------
# Here rather than in tests/app/conftest.py: conftest files outside a package all import as the module
# "conftest", so a second one would take this one's place for every `from conftest import ...`.


@pytest.fixture
def app_env(monkeypatch):  # type: ignore[no-untyped-def]
    """AppTest runs the app in this process: ui_support points os.environ at a home (RAGLEDGER_HOME and
    RAGLEDGER_DATABASE_URL). monkeypatch puts the values from before the test back afterwards."""
    monkeypatch.delenv("RAGLEDGER_HOME", raising=False)
    monkeypatch.delenv("RAGLEDGER_DATABASE_URL", raising=False)


@pytest.fixture
def app_home(demo_home, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """The home `ui` runs the app on: a private, writable copy of the session demo corpus (sign-ins,
    asks and uploads write audit records). A test module overrides it to run the pages on another home."""
    from ui_support import copy_home

    return copy_home(demo_home, tmp_path / "home")


@pytest.fixture
def ui(app_env, app_home):  # type: ignore[no-untyped-def]
    """The app's pages on `app_home` (ui_support.AppPages), the environment restored after the test:
    `ui.sign_in("alice", "pages/audit_trail.py")`, `ui.page("pages/erasure.py", "bob")`, `ui.home`."""
    from ui_support import AppPages

    return AppPages(app_home)


@pytest.fixture
def demo_ledger(demo_home) -> Ledger:  # type: ignore[no-untyped-def]
    return make_ledger(demo_home)


@pytest.fixture
def write_doc(tmp_path):  # type: ignore[no-untyped-def]
    """Write a Markdown document with front matter; returns its path."""

    def _write(name: str, body: str, *, groups: str = "all-staff", classification: str = "internal", title: str | None = None) -> Path:
        folder = tmp_path / "docs"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(f"---\ntitle: {title or name}\ngroups: [{groups}]\nclassification: {classification}\nowner: test-team\n---\n{body}\n")
        return path

    return _write


def golden_policies(home: Path, golden: Path, **evaluation) -> Path:  # type: ignore[no-untyped-def]
    """The home's own copy of policies/ (home/policies, which the app and the CLI read for that home)
    with `golden` as its configured golden set and `evaluation` overriding the rest of that section."""
    import shutil

    import yaml

    folder = home / "policies"
    shutil.copytree(REPO_ROOT / "policies", folder, dirs_exist_ok=True)
    data = yaml.safe_load((folder / "policy.yaml").read_text())
    data["evaluation"] = {**(data.get("evaluation") or {}), "golden_set": str(golden), **evaluation}
    (folder / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder
