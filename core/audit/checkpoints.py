"""Signed checkpoints of the audit log and where their copies go.

A `Checkpointer` holds the policy (policies/policy.yaml `audit_log`), the signer and the
destinations: the journal (RAGLEDGER_HOME/checkpoints/journal.jsonl by default, one JSON line per
checkpoint, appended under a file lock) and the configured witnesses. Signing happens inside the
append's write lock (core/audit/tree_store.py), so checkpoints are taken in log order; publishing happens
right after the commit, so no copy ever names a tree state that was rolled back.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from core.errors import AuditIntegrityError, WitnessUnavailable
from core.policy.models import AuditLogPolicy
from core.audit.signed_note import Checkpoint, Signer, Verifier, make_signer, parse_checkpoint, sign_checkpoint, vkey
from core.audit.witnesses import Witness, make_witnesses

log = logging.getLogger("ragledger.audit")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Checkpointer:
    def __init__(self, home: Path, policy: AuditLogPolicy) -> None:
        self.home = home
        self.policy = policy

    @cached_property
    def signer(self) -> Signer:
        return make_signer(self.policy.signer, self.home, dict(self.policy.signer_options))

    @cached_property
    def origin(self) -> str:
        return self.policy.origin or f"ragledger/{hashlib.sha256(self.signer.public_key()).hexdigest()[:16]}"

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self.origin, self.signer.public_key())

    def vkey(self) -> str:
        return vkey(self.origin, self.signer.public_key())

    @property
    def journal_path(self) -> Path:
        configured = Path(self.policy.journal) if self.policy.journal else Path("checkpoints") / "journal.jsonl"
        return configured if configured.is_absolute() else self.home / configured

    @cached_property
    def witnesses(self) -> list[Witness]:
        return make_witnesses(self.policy.witnesses, self.home)

    def due(self, size: int, last_size: int, last_at: str, now: datetime) -> bool:
        if size <= last_size:
            return False
        if size - last_size >= self.policy.checkpoint_every_records or not last_at:
            return True
        last = datetime.fromisoformat(last_at.replace("Z", "+00:00"))
        return (now - last).total_seconds() >= self.policy.checkpoint_every_seconds

    def sign(self, size: int, root: bytes, time: str) -> Checkpoint:
        return sign_checkpoint(self.origin, size, root, time, self.signer)

    def publish(self, cp: Checkpoint) -> bool:
        """Append to the journal and send to every witness; False (and a warning) if one failed."""
        ok = True
        path = self.journal_path
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps({"note": cp.note}) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        for w in self.witnesses:
            try:
                w.publish(cp)
            except (OSError, WitnessUnavailable) as exc:  # the checkpoint stays unpublished in the database; `audit checkpoint` retries
                log.warning("checkpoint of size %s not delivered to %s: %s", cp.size, w.name, exc)
                ok = False
        return ok

    def journal(self) -> list[Checkpoint]:
        path = self.journal_path
        if not path.is_file():
            return []
        out = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                note = json.loads(line)["note"]
            except (ValueError, KeyError, TypeError):
                raise AuditIntegrityError(f"line {n} of the checkpoint journal {path} is not a checkpoint",
                                          hint="the journal was damaged; restore it from a backup or a witness") from None
            out.append(parse_checkpoint(note, source=f"journal line {n}"))
        return out

    def known(self) -> list[Checkpoint]:
        """Every checkpoint this ledger can find outside its database: the journal and readable witnesses."""
        found = self.journal()
        for w in self.witnesses:
            found.extend(w.read())
        return found
