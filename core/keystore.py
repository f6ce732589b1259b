"""The key vault: per-document sealing keys, wrapped by a master key that never enters the database.

Why wrapped: a copy of ledger.db alone must decrypt nothing. Every data key is stored only as
AES-GCM ciphertext under a master key held by a KMS (the built-in `file` KMS keeps it in
RAGLEDGER_HOME/master.key, 0600; a deployment registers its own with `register()`). The wrapped
keys stay in the ledger database so a key is created in the same transaction as the audit record it
seals, and every process of a PostgreSQL deployment shares them.

Why generations: a chunk-scope purge destroys a document's key while the document lives on; the
next answer citing it needs a new key. That key gets the next generation number, the seal names the
generation it used, and destroying a ref leaves a tombstone so a generation is never reused. Older
records therefore stay erased (their generation is gone) instead of failing to decrypt under a
newer key.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, inspect, select, text

from core.errors import ConfigError, StoreError
from core.stores.tables import SealingKey

CHECK_REF = "_kms_check"  # a wrapped constant: tells a wrong master key from an erased key
_CHECK_PLAINTEXT = b"ragledger master key check v1"
MASTER_KEY_ENV = "RAGLEDGER_MASTER_KEY_FILE"
KMS_ENV = "RAGLEDGER_KMS"


class SealKey(NamedTuple):
    generation: int
    key: bytes


class Kms(Protocol):
    """Wraps and unwraps data keys. `describe` names where the master key lives, for error messages."""

    name: str

    def wrap(self, key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes: ...

    def describe(self) -> str: ...


class FileKms:
    """The master key in a 0600 file (created on first use, never rewritten)."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _master(self) -> bytes:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first: use theirs
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(AESGCM.generate_key(bit_length=256))
                    fh.flush()
                    os.fsync(fh.fileno())
        data = self.path.read_bytes()
        if len(data) != 32:
            raise ConfigError(f"the master key file {self.path} is not a 32-byte key", hint="restore it from your backup; without it no sealed text can be read")
        return data

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._master()).encrypt(nonce, key, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        return AESGCM(self._master()).decrypt(blob[:12], blob[12:], aad)

    def describe(self) -> str:
        return f"master key file {self.path}"


KMS: dict[str, Callable[[Path], Kms]] = {}


def register(name: str, factory: Callable[[Path], Kms]) -> None:
    """Register a KMS; the factory gets the home directory. Select it with RAGLEDGER_KMS=name."""
    KMS[name] = factory


register("file", lambda home: FileKms(Path(os.environ.get(MASTER_KEY_ENV) or home / "master.key")))


def kms_for_home(home: Path) -> Kms:
    name = os.environ.get(KMS_ENV, "file")
    if name not in KMS:
        raise ConfigError(f"unknown KMS {name!r} in {KMS_ENV}", hint=f"known: {', '.join(sorted(KMS))}")
    return KMS[name](Path(home))


def _aad(ref: str, generation: int) -> bytes:
    return f"ragledger-key:{ref}#{generation}".encode()


@dataclass
class KeyStore:
    """The wrapped keys of one ledger database, opened with one KMS."""

    kms: Kms

    def current(self, conn: Connection, refs: list[str]) -> dict[str, SealKey]:
        """The live key of each ref, a new generation where the newest one was destroyed or none exists."""
        rows = self._rows(conn, refs)
        out: dict[str, SealKey] = {}
        for ref in refs:
            mine = sorted((r for r in rows if r.ref == ref), key=lambda r: r.generation)
            newest = mine[-1] if mine else None
            if newest is not None and newest.wrapped is not None:
                out[ref] = SealKey(newest.generation, self._unwrap(ref, newest.generation, newest.wrapped))
                continue
            generation = newest.generation + 1 if newest is not None else 1
            key = AESGCM.generate_key(bit_length=256)
            if newest is not None:  # the tombstone gives way to the live generation that follows it
                conn.execute(SealingKey.__table__.delete().where(SealingKey.ref == ref))  # type: ignore[attr-defined]
            conn.execute(SealingKey.__table__.insert().values(  # type: ignore[attr-defined]
                ref=ref, generation=generation, wrapped=self.kms.wrap(key, _aad(ref, generation)), kms=self.kms.name))
            out[ref] = SealKey(generation, key)
        return out

    def load(self, conn: Connection, refs: list[str]) -> dict[str, dict[int, bytes]]:
        """Every live generation of `refs` (a destroyed or missing generation is simply absent)."""
        out: dict[str, dict[int, bytes]] = {}
        for r in self._rows(conn, refs):
            if r.wrapped is not None:
                out.setdefault(r.ref, {})[r.generation] = self._unwrap(r.ref, r.generation, r.wrapped)
        return out

    def destroy(self, conn: Connection, refs: list[str]) -> int:
        """Crypto-shred every generation of `refs`; a tombstone keeps the generation count, never a key."""
        if not refs:
            return 0
        table = SealingKey.__table__  # type: ignore[attr-defined]
        destroyed = 0
        for ref in sorted(set(refs)):
            mine = self._rows(conn, [ref])
            if not mine:
                continue
            destroyed += sum(1 for r in mine if r.wrapped is not None)
            # DELETE (not UPDATE): SQLite's secure_delete zeroes the freed cells; the purge vacuums after.
            conn.execute(table.delete().where(table.c.ref == ref))
            conn.execute(table.insert().values(ref=ref, generation=max(r.generation for r in mine), wrapped=None, kms=self.kms.name))
        return destroyed

    def stage(self, conn: Connection, ref: str) -> tuple[int, bytes, bytes]:
        """A key for the generation after `ref`'s newest, not yet stored: (generation, key, wrapped).
        A purge re-seals a partly erased document's remaining chunks under it first, then
        `install`s it as it destroys the old generations (core/erasure/chunk_rekey.py)."""
        generation = max((r.generation for r in self._rows(conn, [ref])), default=0) + 1
        key = AESGCM.generate_key(bit_length=256)
        return generation, key, self.kms.wrap(key, _aad(ref, generation))

    def unwrap_staged(self, ref: str, generation: int, wrapped: bytes) -> bytes:
        return self._unwrap(ref, generation, wrapped)

    def install(self, conn: Connection, ref: str, generation: int, wrapped: bytes) -> None:
        """Make a staged key `ref`'s live generation, replacing whatever the ref holds (call `destroy` first)."""
        table = SealingKey.__table__  # type: ignore[attr-defined]
        conn.execute(table.delete().where(table.c.ref == ref))
        conn.execute(table.insert().values(ref=ref, generation=generation, wrapped=wrapped, kms=self.kms.name))

    def newest_live(self, conn: Connection, ref: str) -> int | None:
        live = [r.generation for r in self._rows(conn, [ref]) if r.wrapped is not None]
        return max(live) if live else None

    def check(self, conn: Connection) -> None:
        """Fail clearly when this master key is not the one that wrapped the database's keys."""
        table = SealingKey.__table__  # type: ignore[attr-defined]
        row = conn.execute(select(table.c.wrapped).where(table.c.ref == CHECK_REF)).first()
        if row is None:
            conn.execute(table.insert().values(ref=CHECK_REF, generation=0, wrapped=self.kms.wrap(_CHECK_PLAINTEXT, _aad(CHECK_REF, 0)), kms=self.kms.name))
            return
        try:
            ok = self.kms.unwrap(row[0], _aad(CHECK_REF, 0)) == _CHECK_PLAINTEXT
        except InvalidTag:
            ok = False
        if not ok:
            raise ConfigError(f"the {self.kms.describe()} is not the master key of this ledger database",
                              hint=f"point {MASTER_KEY_ENV} (or {KMS_ENV}) at the key this database was created with")

    def import_legacy(self, conn: Connection) -> int:
        """Wrap the plaintext keys of a pre-m501 `doc_keys` table as generation 1, then drop that table."""
        if not inspect(conn).has_table("doc_keys"):
            return 0
        table = SealingKey.__table__  # type: ignore[attr-defined]
        have = {r[0] for r in conn.execute(select(table.c.ref))}
        moved = 0
        for ref, key in conn.execute(text("SELECT ref, key FROM doc_keys")).all():
            if ref not in have:
                conn.execute(table.insert().values(ref=ref, generation=1, wrapped=self.kms.wrap(bytes(key), _aad(ref, 1)), kms=self.kms.name))
                moved += 1
        conn.execute(text("DELETE FROM doc_keys"))  # secure_delete zeroes the plaintext cells on SQLite
        conn.execute(text("DROP TABLE doc_keys"))
        return moved

    def _rows(self, conn: Connection, refs: list[str]) -> list:
        if not refs:
            return []
        table = SealingKey.__table__  # type: ignore[attr-defined]
        return list(conn.execute(select(table.c.ref, table.c.generation, table.c.wrapped).where(table.c.ref.in_(sorted(set(refs))))))

    def _unwrap(self, ref: str, generation: int, wrapped: bytes) -> bytes:
        try:
            return self.kms.unwrap(bytes(wrapped), _aad(ref, generation))
        except InvalidTag:
            raise StoreError(f"the sealing key {ref}#{generation} cannot be unwrapped with the {self.kms.describe()}",
                             hint=f"the database was created with another master key: point {MASTER_KEY_ENV} at it") from None


_STORES: dict[str, KeyStore] = {}
_LOCK = threading.Lock()


def _url_key(url: object) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=False)  # type: ignore[arg-type]


def attach(url: object, kms: Kms) -> KeyStore:
    """Say which KMS opens the keys of the database at `url` (the Ledger does this before opening it)."""
    with _LOCK:
        store = KeyStore(kms)
        _STORES[_url_key(url)] = store
        return store


def store_for(conn: Connection | Engine) -> KeyStore:
    """The key store of this connection's database; without an attached one, the KMS of RAGLEDGER_HOME."""
    key = _url_key(conn.engine.url)
    with _LOCK:
        store = _STORES.get(key)
    if store is not None:
        return store
    from core.config import DEFAULT_HOME

    return attach(conn.engine.url, kms_for_home(Path(os.environ.get("RAGLEDGER_HOME") or DEFAULT_HOME).expanduser()))
