"""The Ledger: one handle on the stores, policy and models of one RAGLEDGER_HOME.

Pages and the CLI open one with `Ledger.open()` and pass it, with an explicit principal, to core's
public functions. Expensive parts (the embedder, LanceDB, Presidio) load on first use.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine

from core.audit.log import AuditLog
from core.config import Settings
from core.db import open_engine
from core.policy.engine import Policy, load_policy


@dataclass
class Ledger:
    settings: Settings
    policy: Policy
    _store: object | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings | None = None) -> "Ledger":
        settings = settings or Settings.from_env()
        from core.home_security import secure_home

        secure_home(settings.home)
        return cls(settings=settings, policy=load_policy(settings.policies_dir))

    @cached_property
    def engine(self) -> Engine:
        # The key vault's master key comes from this home's KMS; attached before the first open so
        # migration m501 can wrap a legacy database's keys with it.
        from core.keystore import attach, kms_for_home

        store = attach(self.settings.database_url, kms_for_home(self.settings.home))
        engine = open_engine(self.settings.database_url)
        with engine.begin() as conn:
            store.check(conn)
        return engine

    @cached_property
    def audit(self) -> AuditLog:
        from core.audit.checkpoints import Checkpointer

        return AuditLog(self.engine, self.policy.version, Checkpointer(self.settings.home, self.policy.files.audit_log))

    def active_index(self) -> dict:
        """Which chunk table serves, and which embedder built it.

        The model registry switches this after re-embedding the corpus with a newly promoted
        embedder checkpoint (written atomically to RAGLEDGER_HOME/active_index.json)."""
        path = self.settings.home / "active_index.json"
        if path.is_file():
            return json.loads(path.read_text())
        return {"table": "chunks", "embedder_path": None, "embedder_id": None}

    def follow_active_index(self) -> None:
        """Drop the cached store and embedder when another process switched the active index (a
        promotion or an embedder fallback run from the CLI): the app's long-lived Ledger would
        otherwise search, or ingest into, a table that was dropped. One small file read."""
        index = self.active_index()
        if self.__dict__.get("_index_seen") != index:
            self.forget_index()
            self.__dict__["_index_seen"] = index

    def forget_index(self) -> None:
        for cached in ("store", "embedder", "_index_seen"):
            self.__dict__.pop(cached, None)

    @cached_property
    def store(self):  # type: ignore[no-untyped-def]
        from core.rag.chunk_store import ChunkStore

        index = self.active_index()
        self.__dict__.setdefault("_index_seen", index)
        return ChunkStore(self.settings.lance_location, table=index["table"], dimensions=index.get("dimensions"), cipher=self.chunk_cipher)

    @cached_property
    def chunk_cipher(self):  # type: ignore[no-untyped-def]
        """The chunk store's sealing (policy `chunk_store.encryption`); None when it is off."""
        if self.policy.files.chunk_store.encryption != "on":
            return None
        from core.rag.chunk_crypto import ChunkCipher

        return ChunkCipher(self.engine)

    @cached_property
    def embedder(self):  # type: ignore[no-untyped-def]
        from core.rag.embedder import Embedder

        index = self.active_index()
        self.__dict__.setdefault("_index_seen", index)
        return Embedder(index["embedder_path"], index["embedder_id"])

    def warm_up(self) -> None:
        """Load the models now (seconds), so the first question of a session is not the slow one."""
        from core.rag import pii

        self.embedder.embed_query("warm up")
        pii.full_analyzer(self.recognizers)
        pii.pattern_analyzer(self.recognizers)
        self.store.refresh()

    @cached_property
    def redaction_secret(self) -> bytes:
        """The key of the hash operator, one per home, created on first use (owner-only file)."""
        import os
        import secrets

        path = self.settings.home / "redaction.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return path.read_bytes()

    @property
    def recognizers(self) -> tuple:
        return tuple(self.policy.redaction.recognizers)
