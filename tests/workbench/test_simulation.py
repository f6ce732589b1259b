""""See as" on a private copy of the demo corpus: real LanceDB, MiniLM and the stored Presidio spans."""
from __future__ import annotations

import pytest

from conftest import make_ledger
from core.errors import AccessDenied
from core.workbench.overview import overview
from core.workbench.simulation import simulate
from ui_support import copy_home

# Tobias Hallberg's exit interview is hr/confidential: bob (hr) may read it, carol may not.
HR_QUESTION = "Under which SSN will the final W-2 form of Tobias Hallberg be issued?"


@pytest.fixture
def home(demo_home, tmp_path):  # type: ignore[no-untyped-def]
    return copy_home(demo_home, tmp_path / "home")


def test_see_as_shows_the_targets_view_beside_the_officers(home) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(home)
    alice = ledger.policy.principal("alice")
    before = ledger.audit.count()
    sim = simulate(ledger, alice, "carol", HR_QUESTION)
    carol_docs = {c.doc_id for c in sim.as_target.citations}
    own_docs = {c.doc_id for c in sim.own.citations}
    # carol would see none of the hr documents the officer sees, and is told nothing withheld by name
    assert own_docs - carol_docs and sim.withheld_for_target >= 1 and sim.only_in_own
    assert "287-54-1163" not in sim.as_target.answer + " ".join(c.text for c in sim.as_target.citations)
    assert "Hallberg" in " ".join(c.title for c in sim.own.citations)

    bob_sim = simulate(ledger, alice, "bob", HR_QUESTION)
    bob_text = " ".join(c.text for c in bob_sim.as_target.citations)
    assert "287-54-1163" not in bob_text and "<US_SSN>" in bob_text  # hr profile: never government ids
    assert "287-54-1163" in " ".join(c.text for c in bob_sim.own.citations)  # compliance profile keeps them

    # Audited as the officer's simulations; never as carol's or bob's question.
    new = ledger.audit.records(limit=ledger.audit.count() - before)
    answers = [r for r in new if r["kind"] == "answer"]
    assert len(answers) == 4 and {r["actor"] for r in answers} == {"alice"}
    assert sorted(r["payload"]["simulated_for"] for r in answers) == ["alice", "alice", "bob", "carol"]
    assert not [r for r in new if r["actor"] in ("carol", "bob")]
    data = overview(ledger, alice)
    assert data["questions_over_time"] == [] and data["simulations"] == {"carol": 1, "bob": 1, "alice": 2}


def test_only_officers_may_simulate(home) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(home)
    bob = ledger.policy.principal("bob")
    with pytest.raises(AccessDenied):
        simulate(ledger, bob, "carol", HR_QUESTION)
    denial = ledger.audit.records(kinds=["denial"], limit=1)[0]
    assert denial["actor"] == "bob" and denial["payload"]["action"] == "policy.simulate"
    assert not ledger.audit.records(kinds=["answer"])
