""""See as": a compliance officer sees exactly what another principal would receive for a question,
side by side with the view the officer is entitled to.

Both answers are audited as the officer's acts, marked `simulated_for` (the target's name, and the
officer's own name for the reference view), so neither ever counts as a question of the target
nor as a question of the officer in the overview.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.policy.actions import SIMULATE
from core.answering.ask import AskResult, ask
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal


@dataclass
class Simulation:
    target: str
    target_role: str
    target_profile: str
    as_target: AskResult
    own: AskResult
    only_in_own: list[str]  # chunk ids the officer's view cites that the target's does not
    withheld_for_target: int

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "target_role": self.target_role, "target_profile": self.target_profile,
                "as_target": self.as_target.as_dict(), "own": self.own.as_dict(), "only_in_own": self.only_in_own,
                "withheld_for_target": self.withheld_for_target}


def _officer_may_read(ledger: Ledger, officer: Principal, doc_id: str) -> bool:
    from core.rag.documents import get_document

    doc = get_document(ledger, doc_id)
    return officer.can_see(doc["groups"], doc["classification"])


def simulate(ledger: Ledger, officer: Principal, target_name: str, question: str, *, answerer: str | None = None) -> Simulation:
    require_audited(ledger, officer, SIMULATE.name, f"simulate:{target_name}")
    target = ledger.policy.principal(target_name)
    as_target = ask(ledger, target, question, answerer=answerer, simulated_by=officer)
    # An officer whose own access is narrower than the target's (OIDC groups) sees only the overlap.
    hidden = [c for c in as_target.citations if not _officer_may_read(ledger, officer, c.doc_id)]
    if hidden:
        as_target.citations = [c for c in as_target.citations if c not in hidden]
        as_target.answer = "(part of this view cites documents outside your own access and is not shown)"
    own = ask(ledger, officer, question, answerer=answerer, simulated_by=officer)
    target_chunks = {c.chunk_id for c in as_target.citations}
    return Simulation(
        target=target.name, target_role=target.role, target_profile=target.redaction_profile,
        as_target=as_target, own=own,
        only_in_own=[c.chunk_id for c in own.citations if c.chunk_id not in target_chunks],
        withheld_for_target=as_target.withheld,
    )
