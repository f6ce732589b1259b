"""Crypto-shredding for audit texts.

Each audit record's sensitive text (the redacted question and answer) is encrypted with AES-GCM
under a key derived from the keys of *every* document it cites (HKDF over the sorted keys), so
destroying any one of those document keys makes the text unreadable, while the hash chain, which
covers the ciphertext, keeps verifying. Records that cite nothing are sealed under the ledger key.

The keys themselves live in the key vault (core/keystore.py): wrapped by a master key outside the
database, with generations. A seal names the generation of each key it used ("v2:" format), so a
key created after a chunk-scope purge never meets a record sealed under the destroyed one.
"""
from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection

from core.keystore import SealKey, store_for

LEDGER_REF = "_ledger"
_V2 = "v2:"


def key_ref_for_doc(doc_id: str) -> str:
    return f"doc:{doc_id}"


def ensure_keys(conn: Connection, refs: list[str]) -> dict[str, SealKey]:
    """The live key (and its generation) of each ref, creating new ones inside the caller's transaction."""
    return store_for(conn).current(conn, refs)


def load_keys(conn: Connection, refs: list[str]) -> dict[str, dict[int, bytes]]:
    """Every live generation of `refs`, for `unseal`."""
    return store_for(conn).load(conn, refs)


def destroy_keys(conn: Connection, refs: list[str]) -> int:
    """Crypto-shred every generation of `refs` through the key vault; returns the keys destroyed."""
    return store_for(conn).destroy(conn, refs)


def _derive(keys: list[bytes], salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"ragledger-audit-seal").derive(b"".join(keys))


def _aad(refs: list[str], generations: list[int]) -> bytes:
    return json.dumps([[r, g] for r, g in zip(refs, generations)]).encode()


def seal(data: dict, refs: list[str], keys: dict[str, SealKey]) -> str:
    salt = os.urandom(16)
    nonce = os.urandom(12)
    ordered = sorted(refs)
    generations = [keys[r].generation for r in ordered]
    key = _derive([keys[r].key for r in ordered], salt)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(data, sort_keys=True).encode(), _aad(ordered, generations))
    return f"{_V2}{'.'.join(map(str, generations))}:{base64.b64encode(salt + nonce + ciphertext).decode()}"


def unseal(sealed: str, refs: list[str], keys: dict[str, dict[int, bytes]]) -> dict | None:
    """Return the sealed data, or None when it can no longer be read: a key generation it needs was
    destroyed (the content was erased), or, for a record sealed before key generations existed, the
    key under its ref was replaced after an erasure (that record's own key is gone)."""
    ordered = sorted(refs)
    if sealed.startswith(_V2):
        gens_text, _, body = sealed[len(_V2):].partition(":")
        generations = [int(g) for g in gens_text.split(".")] if gens_text else []
        aad: bytes | None = _aad(ordered, generations)
    else:  # v1: no generations recorded, always generation 1, no associated data
        body, generations, aad = sealed, [1] * len(ordered), None
    if len(generations) != len(ordered) or any(g not in keys.get(r, {}) for r, g in zip(ordered, generations)):
        return None
    try:
        raw = base64.b64decode(body, validate=True)
        salt, nonce, ciphertext = raw[:16], raw[16:28], raw[28:]
        key = _derive([keys[r][g] for r, g in zip(ordered, generations)], salt)
        return json.loads(AESGCM(key).decrypt(nonce, ciphertext, aad))
    except (InvalidTag, binascii.Error, ValueError):
        # Unreadable is shown as erased; a record edited after the fact is reported by verify().
        return None
