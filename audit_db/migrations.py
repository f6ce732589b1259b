"""Schema migrations of the ledger database: small named functions, recorded in `_migrations`,
run in order when the store opens (the simonw/llm pattern). Never edit a migration that has shipped;
add a new one. A migration that adds a column must check the column is missing first, because a
fresh database gets the latest table definition from an earlier `create` step.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlmodel import SQLModel

MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = []


def migration(fn: Callable[[Connection], None]) -> Callable[[Connection], None]:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def _create(conn: Connection, *names: str) -> None:
    import core.stores.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    tables = [SQLModel.metadata.tables[n] for n in names]
    SQLModel.metadata.create_all(conn, tables=tables)


@migration
def m001_audit_and_documents(conn: Connection) -> None:
    _create(conn, "audit_records", "documents", "doc_keys")


def apply_migrations(conn: Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied. Caller holds the write lock."""
    conn.execute(text("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40))"))
    done = {row[0] for row in conn.execute(text("SELECT name FROM _migrations"))}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        fn(conn)
        conn.execute(
            text("INSERT INTO _migrations (name, applied_at) VALUES (:n, CURRENT_TIMESTAMP)"), {"n": name}
        )
        applied.append(name)
    return applied


@migration
def m101_model_registry(conn: Connection) -> None:
    import core.stores.registry_tables  # noqa: F401  (registers the registry tables on SQLModel.metadata)

    _create(conn, "base_models", "dataset_versions", "dataset_rows", "training_runs", "checkpoints", "checkpoint_files")


@migration
def m201_compliance_workbench(conn: Connection) -> None:
    """Overview facts (backfilled for existing records), chain anchor, verifications, legal holds."""
    import core.stores.compliance_tables  # noqa: F401  (registers the tables on SQLModel.metadata)
    from core.audit.facts import backfill

    _create(conn, "audit_facts", "audit_anchor", "chain_verifications", "legal_holds")
    backfill(conn)


@migration
def m002_erasure_requests(conn: Connection) -> None:
    import core.stores.erasure_tables  # noqa: F401  (registers the table on SQLModel.metadata)

    _create(conn, "erasure_requests")


@migration
def m501_wrapped_key_vault(conn: Connection) -> None:
    """Keys leave the database in clear: `sealing_keys` holds them wrapped by the master key (with
    generations); the plaintext rows of `doc_keys` are wrapped as generation 1 and the table dropped.
    The master key comes from the key store attached to this database (core/keystore.py)."""
    from core.keystore import store_for

    _create(conn, "sealing_keys")
    store = store_for(conn)
    store.check(conn)
    store.import_legacy(conn)


@migration
def m601_erasure_confirmation(conn: Connection) -> None:
    """Erasure requests record the officer's exclusions and typed confirmation, and cancellation.
    A database created after this model change already has the columns (m002 creates the table
    from the model), so only the missing ones are added."""
    from sqlalchemy import inspect

    have = {c["name"] for c in inspect(conn).get_columns("erasure_requests")}
    for name, kind in (("excluded_json", "TEXT"), ("confirmed_at", "VARCHAR"), ("confirmed_by", "VARCHAR"),
                       ("cancelled_at", "VARCHAR"), ("cancel_reason", "VARCHAR")):
        if name not in have:
            conn.execute(text(f"ALTER TABLE erasure_requests ADD COLUMN {name} {kind}"))


@migration
def m401_sign_in_throttle(conn: Connection) -> None:
    """Failed sign-in counters per account and per client address (issue 14)."""
    import core.stores.auth_tables  # noqa: F401  (registers the table on SQLModel.metadata)

    _create(conn, "sign_in_throttle")


@migration
def m301_merkle_tree(conn: Connection) -> None:
    """The audit log's Merkle tree (leaves, frontier, checkpoints) and the records' `origin` column;
    records already stored become the tree's first leaves, in log order."""
    import core.stores.tree_tables  # noqa: F401  (registers the tables on SQLModel.metadata)
    from sqlalchemy import inspect

    from core.audit.tree_store import backfill

    if "origin" not in {c["name"] for c in inspect(conn).get_columns("audit_records")}:
        conn.execute(text("ALTER TABLE audit_records ADD COLUMN origin TEXT"))
    _create(conn, "audit_leaves", "audit_tree", "audit_checkpoints")
    backfill(conn)


@migration
def m801_demo_steps(conn: Connection) -> None:
    """The demo load's finished steps (core/demo.py), so that loading twice changes nothing."""
    import core.stores.demo_tables  # noqa: F401  (registers the table on SQLModel.metadata)

    _create(conn, "demo_steps")


@migration
def m1301_document_language(conn: Connection) -> None:
    """The language of each document (issue 13). Documents ingested before keep NULL until re-ingested:
    guessing a language for them here would need their text, which lives in LanceDB, not in this database."""
    from sqlalchemy import inspect

    if "language" not in {c["name"] for c in inspect(conn).get_columns("documents")}:
        conn.execute(text("ALTER TABLE documents ADD COLUMN language VARCHAR(8)"))


@migration
def m402_browser_sessions(conn: Connection) -> None:
    """Browser sessions behind the session cookie, so a refresh keeps the sign-in (issue 15)."""
    import core.stores.auth_tables  # noqa: F401  (registers the table on SQLModel.metadata)

    _create(conn, "browser_sessions")


@migration
def m1501_asked_about(conn: Connection) -> None:
    """Who asked about whom (issue 15): blind index of the subjects questions named, and the records
    naming each. Records written before this have no subjects (their questions were stored redacted)."""
    import core.stores.asked_tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    _create(conn, "asked_subjects", "asked_records")
