"""Access-controlled retrieval: the principal's filter is inside the LanceDB query; a second
check on the results is defence in depth; matches the principal may not see are only counted.

What is shown comes only from the prefiltered hybrid search. The withheld count comes from a
separate, cheap leg run at the same time: the k nearest rows by vector with no filter, labels only
(never text), of which those the principal may not see are recorded in the audit record."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from core.rag.chunk_store import LABEL_COLUMNS, Hit, access_filter
from core.rag.embedder_setting import check_embedder_setting
from core.rag.languages import question_language
from core.ledger import Ledger
from core.locks import store_lock
from core.policy.engine import Principal

log = logging.getLogger(__name__)
DEFAULT_K = 5


@dataclass
class Retrieval:
    hits: list[Hit]
    withheld: list[dict] = field(default_factory=list)
    blocked_by_second_check: int = 0


def retrieve(ledger: Ledger, principal: Principal, question: str, k: int = DEFAULT_K, *, vector: np.ndarray | None = None) -> Retrieval:
    ledger.follow_active_index()  # another process may have switched the embedder and dropped the old table
    check_embedder_setting(ledger)  # a configured embedder that did not build the index searches nothing
    vector = ledger.embedder.embed_query(question) if vector is None else vector
    # Shared lock: a purge's cleanup removes old version files, which must not vanish under a reader.
    with store_lock(ledger, exclusive=False):
        return _retrieve(ledger, principal, question, k, vector)


def _retrieve(ledger: Ledger, principal: Principal, question: str, k: int, vector: np.ndarray) -> Retrieval:
    store = ledger.store
    store.refresh()
    if store.count() == 0:
        return Retrieval([])
    where = access_filter(principal.groups, principal.clearance_rank)
    if where:
        hits, unfiltered = store.governed_search(vector, question, where, k, unfiltered=k, language=question_language(question))
    else:  # default deny: nothing is searched for the principal, only what it would have matched
        hits, unfiltered = [], store.vector_query(vector, None, k, LABEL_COLUMNS).to_list()
    allowed = [h for h in hits if principal.can_see(h.row["groups"], h.row["classification"])]
    if len(allowed) != len(hits):  # never expected: the prefilter already excluded these rows
        log.error("access prefilter let %d chunk(s) through for %s; dropped", len(hits) - len(allowed), principal.name)
    shown = {h.chunk_id for h in allowed}
    # What the same question would have matched without access control: counted, never shown.
    withheld = [
        {"chunk_id": r["chunk_id"], "doc_id": r["doc_id"], "score": round(1.0 - float(r["_distance"]), 5), "content_hash": r["content_hash"],
         "groups": r["groups"], "classification": r["classification"]}
        for r in unfiltered
        if r["chunk_id"] not in shown and not principal.can_see(r["groups"], r["classification"])
    ]
    return Retrieval(allowed, withheld, len(hits) - len(allowed))
