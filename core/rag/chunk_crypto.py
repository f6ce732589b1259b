"""Encryption at rest for the chunk store: sealed chunk content and a blind full-text index.

Why: the Lance files of the chunk table are ordinary files on a disk; a copy of them alone must not
reveal what the documents say. The content columns of a chunk (title, title spans, text, PII spans)
are sealed together, with AES-GCM, under a key derived from the *document's* key in the key vault
(core/keystore.py, the ref `doc:<id>` that already crypto-shreds audit records), so destroying that
key (a purge) makes every chunk of the document unreadable at once, before any compaction.

The full-text index is built over a `fts` column of keyed hashes (HMAC-SHA256 of each normalised
term, truncated to 80 bits) under one store-wide index key, and queries are hashed the same way: a
blind index. BM25 still works because each occurrence becomes one token, so term frequencies and
lengths are kept; this is also what it reveals (see docs/encryption.md). Vectors stay in the clear.

The format of the sealed `text` column: "enc1:<generation>:<base64(nonce + ciphertext)>"; the
associated data binds it to the chunk id, the document and the key generation.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import threading
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine

from core.keystore import SealKey, store_for
from core.audit.sealing import key_ref_for_doc

PREFIX = "enc1:"
INDEX_REF = "_chunk_index"  # the blind index key: store-wide (a query must match every document)
SEALED_COLUMNS = ("title", "title_spans", "text", "pii_spans")
_EMPTY = {"title": "", "title_spans": "[]", "text": "", "pii_spans": "[]"}
TOKEN_HEX = 20  # 80 bits: collisions among a corpus's terms are negligible
MAX_TERM_BYTES = 40  # as the plaintext index's tokenizer (LanceDB's max_token_length)


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


# LanceDB's default English stop words (tantivy's: the Snowball English list), applied after stemming.
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its
itself they them their theirs themselves what which who whom this that these those am is are was were be been being have
has had having do does did doing would should could ought i'm you're he's she's it's we're they're i've you've we've
they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't
haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't let's that's who's
what's here's there's when's where's why's how's a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under again further
then once here there when where why how all any both each few more most other some such no nor not only own same so
than too very""".split())


def normalise_terms(text: str) -> list[str]:
    """The terms of `text` as the plaintext index sees them, re-done here because the index only ever
    sees the hashes: LanceDB's default chain (words in any script, over-long ones dropped, lowercase,
    Snowball English stem, stop words, ASCII folding), in that order (checked against LanceDB:
    "does" stems to "doe" and stays, "having" stems to "have" and goes)."""
    words = [w.lower() for w in re.findall(r"[^\W_]+", text) if len(w.encode()) <= MAX_TERM_BYTES]
    with _STEM_LOCK:  # the Snowball stemmer is not thread-safe
        stemmed = _stemmer().stemWords(words)
    out = []
    for w in stemmed:
        if w in STOP_WORDS:
            continue
        folded = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
        out.append(folded or w)
    return out


_STEM_LOCK = threading.Lock()
_STEM: Any = None


def _stemmer():  # type: ignore[no-untyped-def]
    global _STEM
    if _STEM is None:
        import snowballstemmer

        _STEM = snowballstemmer.stemmer("english")
    return _STEM


def _chunk_key(doc_key: bytes) -> bytes:
    # A key of its own for chunk content, separate from the audit seals derived from the same document key.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ragledger-chunk-content-v1").derive(doc_key)


def _aad(chunk_id: str, doc_id: str, generation: int) -> bytes:
    return f"ragledger-chunk:{chunk_id}:{doc_id}#{generation}".encode()


def seal_content(row: dict[str, Any], key: SealKey) -> str:
    """The sealed `text` value of one chunk row (its content columns, together)."""
    body = json.dumps({c: row.get(c) if row.get(c) is not None else _EMPTY[c] for c in SEALED_COLUMNS}, ensure_ascii=False).encode()
    nonce = os.urandom(12)
    ciphertext = AESGCM(_chunk_key(key.key)).encrypt(nonce, body, _aad(row["chunk_id"], row["doc_id"], key.generation))
    return f"{PREFIX}{key.generation}:{base64.b64encode(nonce + ciphertext).decode()}"


def open_content(sealed: str, chunk_id: str, doc_id: str, keys: dict[int, bytes]) -> dict[str, Any] | None:
    """The content columns, or None when the generation it was sealed under is gone (erased)."""
    gen_text, _, body = sealed[len(PREFIX):].partition(":")
    try:
        generation = int(gen_text)
        if generation not in keys:
            return None
        raw = base64.b64decode(body, validate=True)
        return json.loads(AESGCM(_chunk_key(keys[generation])).decrypt(raw[:12], raw[12:], _aad(chunk_id, doc_id, generation)))
    except (InvalidTag, binascii.Error, ValueError):
        return None


def generation_of(sealed: str) -> int | None:
    try:
        return int(sealed[len(PREFIX):].partition(":")[0])
    except ValueError:
        return None


class ChunkCipher:
    """Seals and opens chunk rows with the key vault of one ledger database.

    Document keys are read from the vault on every call, never cached: a purge run by another
    process destroys a key, and this process must stop reading that document at the same moment.
    Only the index key (never destroyed) is cached."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index_key: bytes | None = None
        self._lock = threading.Lock()

    def index_key(self) -> bytes:
        with self._lock:
            if self._index_key is None:
                with self.engine.begin() as conn:
                    self._index_key = store_for(conn).current(conn, [INDEX_REF])[INDEX_REF].key
            return self._index_key

    def blind_terms(self, text: str) -> str:
        """Each normalised term of `text` as a keyed hash, in order, space-separated."""
        key = self.index_key()
        return " ".join(hmac.new(key, t.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX] for t in normalise_terms(text))

    def seal_rows(self, rows: list[dict[str, Any]], keys: dict[str, SealKey] | None = None) -> list[dict[str, Any]]:
        """Copies of `rows` with their content sealed and the blind index column filled. `keys`
        (ref -> key) overrides the vault's live keys (a purge re-keys a partly erased document)."""
        if not rows:
            return []
        refs = sorted({key_ref_for_doc(r["doc_id"]) for r in rows})
        live = dict(keys or {})
        missing = [r for r in refs if r not in live]
        if missing:
            with self.engine.begin() as conn:
                live.update(store_for(conn).current(conn, missing))
        out = []
        for r in rows:
            sealed = dict(r)
            sealed["fts"] = self.blind_terms(f"{r.get('text') or ''}")
            sealed["text"] = seal_content(r, live[key_ref_for_doc(r["doc_id"])])
            sealed["title"] = ""
            sealed["title_spans"] = "[]"
            sealed["pii_spans"] = "[]"
            out.append(sealed)
        return out

    def load(self, doc_ids: list[str]) -> dict[str, dict[int, bytes]]:
        if not doc_ids:
            return {}
        with self.engine.connect() as conn:
            keys = store_for(conn).load(conn, [key_ref_for_doc(d) for d in sorted(set(doc_ids))])
        return {d: keys.get(key_ref_for_doc(d), {}) for d in doc_ids}

    def open_rows(self, rows: list[dict[str, Any]], keys: dict[str, dict[int, bytes]] | None = None) -> list[bool]:
        """Replace each sealed row's content in place; returns, per row, whether it could be read
        (False: its document key is destroyed, and the row shows empty content)."""
        sealed = [r for r in rows if is_sealed(r.get("text"))]
        keys = keys if keys is not None else self.load([r["doc_id"] for r in sealed])
        readable = []
        for r in rows:
            if not is_sealed(r.get("text")):
                readable.append(True)
                continue
            content = open_content(r["text"], r["chunk_id"], r["doc_id"], keys.get(r["doc_id"], {}))
            r.update(content if content is not None else _EMPTY)
            readable.append(content is not None)
        return readable
