"""Crypto-shredding for audit texts.

Each audit record's sensitive text (the redacted question and answer) is encrypted with AES-GCM
under a key derived from the keys of *every* document it cites (HKDF over the sorted keys), so
destroying any one of those document keys makes the text unreadable, while the hash chain, which
covers the ciphertext, keeps verifying. Records that cite nothing are sealed under the ledger key.
"""
from __future__ import annotations

import base64
import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, select

from core.tables import DocKey

LEDGER_REF = "_ledger"


def key_ref_for_doc(doc_id: str) -> str:
    return f"doc:{doc_id}"


def ensure_keys(conn: Connection, refs: list[str]) -> dict[str, bytes]:
    """Fetch the keys of `refs`, creating the missing ones (inside the caller's transaction)."""
    found = {r.ref: r.key for r in conn.execute(select(DocKey).where(DocKey.ref.in_(refs)))}  # type: ignore[attr-defined]
    for ref in refs:
        if ref not in found:
            key = AESGCM.generate_key(bit_length=256)
            conn.execute(DocKey.__table__.insert().values(ref=ref, key=key))  # type: ignore[attr-defined]
            found[ref] = key
    return found


def load_keys(conn: Connection, refs: list[str]) -> dict[str, bytes]:
    return {r.ref: r.key for r in conn.execute(select(DocKey).where(DocKey.ref.in_(refs)))}  # type: ignore[attr-defined]


def destroy_keys(conn: Connection, refs: list[str]) -> int:
    if not refs:
        return 0
    result = conn.execute(delete(DocKey).where(DocKey.ref.in_(refs)))  # type: ignore[attr-defined]
    return result.rowcount or 0


def _derive(keys: list[bytes], salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"ragledger-audit-seal").derive(b"".join(keys))


def seal(data: dict, refs: list[str], keys: dict[str, bytes]) -> str:
    salt = os.urandom(16)
    nonce = os.urandom(12)
    key = _derive([keys[r] for r in sorted(refs)], salt)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(data, sort_keys=True).encode(), None)
    return base64.b64encode(salt + nonce + ciphertext).decode()


def unseal(sealed: str, refs: list[str], keys: dict[str, bytes]) -> dict | None:
    """Return the sealed data, or None when a key was destroyed (the content was erased)."""
    if any(r not in keys for r in refs):
        return None
    raw = base64.b64decode(sealed)
    salt, nonce, ciphertext = raw[:16], raw[16:28], raw[28:]
    key = _derive([keys[r] for r in sorted(refs)], salt)
    return json.loads(AESGCM(key).decrypt(nonce, ciphertext, None))
