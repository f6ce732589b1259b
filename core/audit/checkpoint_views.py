"""The latest checkpoint for `ragledger audit checkpoint`: the newest in the journal (the copy
outside the database), a freshly signed one when asked, and any unpublished ones re-sent first."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.errors import NotFound
from core.audit.signed_note import Checkpoint, parse_checkpoint
from core.audit.tree_store import CHECKPOINTS, mark_published


def republish(ledger: Any) -> int:
    """Send again the checkpoints a witness or the journal did not take (a warning was logged then)."""
    with ledger.engine.connect() as conn:
        notes = [n for (n,) in conn.execute(select(CHECKPOINTS.c.note).where(CHECKPOINTS.c.published == False).order_by(CHECKPOINTS.c.id))]  # noqa: E712
    sent = 0
    for note in notes:
        if ledger.audit.checkpointer.publish(parse_checkpoint(note, source="database")):
            with ledger.engine.begin() as conn:
                mark_published(conn, note)
            sent += 1
    return sent


def latest_checkpoint(ledger: Any, fresh: bool = False) -> Checkpoint:
    republish(ledger)
    if fresh:
        return ledger.audit.checkpoint("requested")
    journal = ledger.audit.checkpointer.journal()
    if journal:
        return max(journal, key=lambda c: (c.size, c.time))
    raise NotFound("no checkpoint has been signed yet", hint="sign one with `ragledger audit checkpoint --new`")
