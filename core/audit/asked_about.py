"""Who asked about whom: the data subjects a question named, findable by name and erasable by name.

The stored question has every PII value replaced (core/rag/question_redaction.py), so the names it held
are kept beside it instead, in the record's sealed text (`asked_about`), and the record is also
sealed under one key per subject (`subj:<subject id>` in the key vault). A subject named in a
question may have no document at all, so document keys alone could not keep the promise that a
purge of that person makes the record unreadable; a per-subject key can.

Finding the records without decrypting the log: each identifier is normalised (core/subject_match.py,
so "Dr. Helena Marchetti" and "helena marchetti" agree) and turned into a blind index, HMAC-SHA256
under a key held wrapped in the vault (a copy of the database alone cannot test guesses). The blind
index maps to a random subject id, and the id to the records (core/stores/asked_tables.py). The records
themselves carry only the random id in their key refs, so once a purge deletes the mapping nothing
ties them to the name any more, not even for someone holding the HMAC key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from core.stores.asked_tables import AskedRecord, AskedSubject
from core.keystore import store_for
from core.audit.sealing import destroy_keys
from core.subject_match import TITLES, tokens

INDEX_KEY_REF = "_asked_about_index"  # the HMAC key of the blind index; never destroyed
SUBJECT_PREFIX = "subj:"
# What identifies a data subject. Places, postcodes and dates describe, they do not name. PROPER_NOUN
# counts: in a question it only ever comes from the corpus's known values (a name NER did not type at
# ingestion, "The officer is Helena Marchetti."), and missing a person is worse than indexing a product.
SUBJECT_TYPES = frozenset({"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "NATIONAL_ID", "PASSPORT", "US_PASSPORT",
                           "US_DRIVER_LICENSE", "IBAN_CODE", "US_BANK_NUMBER", "CREDIT_CARD", "EMPLOYEE_ID", "IP_ADDRESS",
                           "PROPER_NOUN"})
SUBJECTS = AskedSubject.__table__  # type: ignore[attr-defined]
RECORDS = AskedRecord.__table__  # type: ignore[attr-defined]


def subject_key(value: str) -> str:
    """The normalised form a subject is indexed under: folded words without honorifics ("Dr. Helena
    Marchetti" -> "helena marchetti"); a value of digits only loses its separators ("123-45-6789")."""
    words = tokens(value)
    while len(words) > 1 and words[0] in TITLES:
        words = words[1:]
    if words and all(w.isdigit() for w in words):
        return "".join(words)
    return " ".join(words)


def keys_for(value: str) -> list[str]:
    """Every subject key a typed identifier stands for: itself and, for an e-mail, the name of its
    local part (helena.marchetti@… is also Helena Marchetti), the way the erasure matcher reads it."""
    key = subject_key(value)
    out = [key] if key else []
    if "@" in value:
        local = [w for w in tokens(value.split("@")[0]) if w.isalpha()]
        if len(local) >= 2 and all(len(w) >= 2 for w in local):
            out.append(" ".join(local))
    return out


def _index_key(conn: Connection, create: bool) -> bytes | None:
    """The HMAC key; a reader never creates it (no key yet means nothing was indexed yet)."""
    store = store_for(conn)
    if create:
        return store.current(conn, [INDEX_KEY_REF])[INDEX_KEY_REF].key
    live = store.load(conn, [INDEX_KEY_REF]).get(INDEX_KEY_REF, {})
    return live[max(live)] if live else None


def blind(index_key: bytes, key: str) -> str:
    return hmac.new(index_key, b"ragledger-asked-about\x00" + key.encode(), hashlib.sha256).hexdigest()


def subject_ids(conn: Connection, keys: Iterable[str], create: bool) -> list[str]:
    """The subject id of each key (sorted, deduplicated); with `create`, new ids for unknown keys.
    Callers that create hold the chain's write lock, so a purge never interleaves with it."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return []
    index_key = _index_key(conn, create)
    if index_key is None:
        return []
    blinds = {blind(index_key, k) for k in wanted}
    found = dict(conn.execute(select(SUBJECTS.c.blind, SUBJECTS.c.subject_id).where(SUBJECTS.c.blind.in_(sorted(blinds)))).all())
    if create:
        for b in sorted(blinds - set(found)):
            found[b] = uuid.uuid4().hex
            conn.execute(SUBJECTS.insert().values(blind=b, subject_id=found[b]))
    return sorted(set(found.values()))


def key_ref(subject_id: str) -> str:
    return SUBJECT_PREFIX + subject_id


def records_naming(ids: list[str]) -> Any:
    """A subquery of the record ids linked to these subject ids (for AuditLog.records/export)."""
    return select(RECORDS.c.record_id).where(RECORDS.c.subject_id.in_(ids))


def append_hook(conn: Connection, row: dict[str, Any]) -> None:
    """Registered in core.audit.log.FACT_HOOKS: link the record to the subjects whose keys sealed it,
    inside the append's transaction (a record and its links commit or roll back together)."""
    refs = [r for r in json.loads(row["key_refs"]) if r.startswith(SUBJECT_PREFIX)]
    for ref in refs:
        conn.execute(RECORDS.insert().values(subject_id=ref[len(SUBJECT_PREFIX):], record_id=row["record_id"]))


def forget(conn: Connection, values: Iterable[str]) -> dict[str, int]:
    """A subject purge: for every identifier in `values` (the subject and the spellings the purge
    found), destroy the subject's key (its records' sealed text becomes unreadable) and delete its
    blind index and links (its records can no longer be found by the name). Idempotent."""
    ids = subject_ids(conn, [k for v in values for k in keys_for(v)], create=False)
    if not ids:
        return {"subjects_forgotten": 0, "records_unlinked": 0}
    # Every link of those records goes, not only the subject's: a record that wrote "H. Marchetti" is
    # also linked under "h marchetti", a key the purge may never see; once erased it is found by no name.
    records = conn.execute(select(RECORDS.c.record_id).where(RECORDS.c.subject_id.in_(ids))).scalars().all()
    unlinked = 0
    for i in range(0, len(records), 500):
        unlinked += conn.execute(RECORDS.delete().where(RECORDS.c.record_id.in_(records[i:i + 500]))).rowcount
    conn.execute(SUBJECTS.delete().where(SUBJECTS.c.subject_id.in_(ids)))
    destroy_keys(conn, [key_ref(i) for i in ids])
    return {"subjects_forgotten": len(ids), "records_unlinked": unlinked}


def named(conn: Connection, values: Iterable[str]) -> int:
    """How many records name any of these identifiers (for a purge's plan and preview)."""
    ids = subject_ids(conn, [k for v in values for k in keys_for(v)], create=False)
    if not ids:
        return 0
    return len(conn.execute(select(RECORDS.c.record_id).where(RECORDS.c.subject_id.in_(ids))).all())
