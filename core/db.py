"""Opening the ledger database: SQLite (embedded default) or PostgreSQL, migrated on open.

SQLite runs in WAL mode with secure_delete on (erased rows must not linger in free pages) and every
transaction begins IMMEDIATE, so two processes appending to the audit chain serialize instead of
forking it. On PostgreSQL, writers that need ordering take an advisory lock (see `write_lock`).
"""
from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, create_engine, event, text

from audit_db.migrations import apply_migrations
from core.errors import StoreError

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
CHAIN_LOCK_ID = 720_301  # arbitrary constant: the advisory lock id that serializes chain appends


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def open_engine(url: str) -> Engine:
    """One engine per URL per process, migrated on first open."""
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _create(url)
            with engine.begin() as conn:
                write_lock(conn)
                apply_migrations(conn)
            _ENGINES[url] = engine
        return engine


def dispose_engines() -> None:
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def write_lock(conn: Connection) -> None:
    """Serialize writers that must see each other's rows (chain appends, migrations)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": CHAIN_LOCK_ID})
    # SQLite: the transaction already began IMMEDIATE, which holds the database's write lock.


def _create(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            _make_parent(url)
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
            _make_sqlite_serializable(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine
    except Exception as exc:  # the driver's own message says what failed (file, host, auth)
        raise StoreError(
            f"cannot open the ledger database {url!r}: {exc}",
            hint="check RAGLEDGER_DATABASE_URL, or unset it to use the embedded SQLite file",
        ) from exc


def _make_parent(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _make_sqlite_serializable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below be the only transaction control
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")
