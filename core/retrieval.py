"""Access-controlled retrieval: the principal's filter is inside the LanceDB query; a second
check on the results is defence in depth; matches the principal may not see are only counted."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from core.chunk_store import Hit, access_filter
from core.ledger import Ledger
from core.locks import store_lock
from core.policy import Principal

log = logging.getLogger(__name__)
DEFAULT_K = 5


@dataclass
class Retrieval:
    hits: list[Hit]
    withheld: list[dict] = field(default_factory=list)
    blocked_by_second_check: int = 0


def retrieve(ledger: Ledger, principal: Principal, question: str, k: int = DEFAULT_K, *, vector: np.ndarray | None = None) -> Retrieval:
    vector = ledger.embedder.embed_query(question) if vector is None else vector
    # Shared lock: a purge's cleanup removes old version files, which must not vanish under a reader.
    with store_lock(ledger.settings.home, exclusive=False):
        return _retrieve(ledger, principal, question, k, vector)


def _retrieve(ledger: Ledger, principal: Principal, question: str, k: int, vector: np.ndarray) -> Retrieval:
    store = ledger.store
    store.refresh()
    if store.count() == 0:
        return Retrieval([])
    where = access_filter(principal.groups, principal.clearance_rank)
    hits = store.search(vector, question, where, k) if where else []
    allowed = [h for h in hits if principal.can_see(h.row["groups"], h.row["classification"])]
    if len(allowed) != len(hits):  # never expected: the prefilter already excluded these rows
        log.error("access prefilter let %d chunk(s) through for %s; dropped", len(hits) - len(allowed), principal.name)
    shown = {h.chunk_id for h in allowed}
    # What the same question would have matched without access control: counted, never shown.
    unfiltered = store.search(vector, question, None, k)
    withheld = [
        {"chunk_id": h.chunk_id, "doc_id": h.row["doc_id"], "score": round(h.fused, 5), "content_hash": h.row["content_hash"],
         "groups": h.row["groups"], "classification": h.row["classification"]}
        for h in unfiltered
        if h.chunk_id not in shown and not principal.can_see(h.row["groups"], h.row["classification"])
    ]
    return Retrieval(allowed, withheld, len(hits) - len(allowed))
