"""C2SP signed notes and checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), Ed25519.

A checkpoint is the note text
    <origin>\\n<tree size>\\n<base64 root>\\ntime <ISO 8601 UTC>\\n
followed by a blank line and one signature line per signer, `— <key name> base64(key id || sig)`.
The time is an extension line (the spec allows them, opaque to monitors); our signature covers it.
Key ids follow the note spec: SHA-256(key name || 0x0A || 0x01 || public key)[:4].

Signers are pluggable for a KMS or HSM: `SIGNERS` maps a kind to a factory and `register()` adds
one; the built-in file signer (an Ed25519 key file under RAGLEDGER_HOME, owner-only, never in the
database) registers through the same door.
"""
from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.errors import AuditIntegrityError, ConfigError

DASH = "\u2014"
ED25519 = b"\x01"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    """The verifier key string of the note spec: name+hex(key id)+base64(0x01 || public key)."""
    return f"{name}+{key_id(name, public_key).hex()}+{b64(ED25519 + public_key)}"


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except InvalidSignature:
            return False

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        try:
            name, hexid, key = text.strip().split("+", 2)
            raw = base64.b64decode(key, validate=True)
        except ValueError:
            raise ConfigError(f"not a verifier key: {text.strip()[:60]!r}", hint="print one with `ragledger audit key`") from None
        if raw[:1] != ED25519 or len(raw) != 33 or key_id(name, raw[1:]).hex() != hexid:
            raise ConfigError("the verifier key is not an Ed25519 note key or its id does not match", hint="print one with `ragledger audit key`")
        return cls(name, raw[1:])


class Signer(Protocol):
    """What a checkpoint signer must do; a KMS plugin implements these two members."""

    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


SignerFactory = Callable[[Path, dict[str, Any]], Signer]
SIGNERS: dict[str, SignerFactory] = {}


def register(kind: str, factory: SignerFactory) -> None:
    SIGNERS[kind] = factory


def make_signer(kind: str, home: Path, options: dict[str, Any]) -> Signer:
    factory = SIGNERS.get(kind)
    if factory is None:
        raise ConfigError(f"no checkpoint signer of kind {kind!r}", hint=f"known: {', '.join(sorted(SIGNERS))}; register one with core.audit.signed_note.register()")
    return factory(home, options)


class FileSigner:
    """An Ed25519 private key in a PEM file, created owner-only (0600) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first: use theirs
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"the checkpoint key {path} is readable by others (mode {mode:o})", hint=f"chmod 600 {path}")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key", hint="move it away; a new key is created on next use")
        self._key = key

    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def _file_signer(home: Path, options: dict[str, Any]) -> Signer:
    path = Path(options.get("path") or home / "keys" / "checkpoint.ed25519.pem")
    return FileSigner(path if path.is_absolute() else home / path)


register("file", _file_signer)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: str
    note: str = ""
    signatures: tuple[tuple[str, bytes, bytes], ...] = ()  # (key name, key id, signature)
    source: str = field(default="", compare=False)

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\ntime {self.time}\n"

    def signed_by(self, verifier: Verifier) -> bool:
        message = self.body().encode()
        return any(name == verifier.name and kid == verifier.key_id and verifier.verify(message, sig)
                   for name, kid, sig in self.signatures)

    def label(self) -> str:
        where = f", {self.source}" if self.source else ""
        return f"the checkpoint of {self.time} (size {self.size}{where})"


def sign_checkpoint(origin: str, size: int, root: bytes, time: str, signer: Signer) -> Checkpoint:
    if not origin or any(c.isspace() for c in origin) or "+" in origin:
        raise ConfigError(f"checkpoint origin {origin!r} must be non-empty with no spaces or '+'", hint="set audit_log.origin in policies/policy.yaml")
    unsigned = Checkpoint(origin, size, root, time)
    pub = signer.public_key()
    sig = signer.sign(unsigned.body().encode())
    kid = key_id(origin, pub)
    note = unsigned.body() + "\n" + f"{DASH} {origin} {b64(kid + sig)}\n"
    return Checkpoint(origin, size, root, time, note, ((origin, kid, sig),))


def parse_checkpoint(text: str, source: str = "") -> Checkpoint:
    """Parse a signed checkpoint note; raise AuditIntegrityError saying what is malformed."""
    where = f" ({source})" if source else ""
    body, sep, sigs = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3:
        raise AuditIntegrityError(f"not a signed checkpoint note{where}", hint="a checkpoint is origin, size, root, a blank line, signatures")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise AuditIntegrityError(f"the checkpoint's size or root line is malformed{where}", hint="the file was damaged or is not a checkpoint") from None
    time = next((ln[5:] for ln in lines[3:] if ln.startswith("time ")), "")
    signatures = []
    for line in sigs.splitlines():
        if not line.startswith(DASH + " "):
            continue
        try:
            name, blob = line[2:].rsplit(" ", 1)
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            continue  # the note spec: unknown or malformed signature lines are ignored
        signatures.append((name, raw[:4], raw[4:]))
    if len(root) != 32 or size < 0:
        raise AuditIntegrityError(f"the checkpoint's root is not a SHA-256 hash{where}", hint="the file was damaged or is not a checkpoint")
    cp = Checkpoint(lines[0], size, root, time, text, tuple(signatures), source)
    if cp.body() != body + "\n":
        raise AuditIntegrityError(f"the checkpoint has unknown extension lines{where}", hint="only `time` extension lines are written by RAG Ledger")
    return cp
