"""A flagged embedder stops serving when policy says so (issue 15, point 1), with real parts: two tiny
real MiniLM fine-tunes on the tidal corpus, real LanceDB re-embedding, a real erasure purge.

E0 is trained on documents the erasure spares, E1 on all of them. E0 serves, then E1 is promoted
over it; erasing a document of E1's dataset flags E1, and the purge re-embeds the corpus with E0
(the previous clean embedder). A manual flag of E0 then stops the chat until compliance falls back
to the base model. The tests run in file order on one module-scoped home."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import make_ledger
from core.answering.ask import ask
from core.config import REPO_ROOT
from core.models.datasets import build_dataset
from core.rag.embedder import BASE_MODEL_ID
from core.erasure.requests import create_request
from core.errors import AccessDenied
from core.evaluation.lifecycle import promote
from core.models.registry import flag, get_checkpoint
from core.models.serving import EmbedderFlagged, embedder_status, fall_back_now, flagged_serving
from core.models.training.jobs import train
from registry_support import tidal_home

pytestmark = pytest.mark.slow

HP = {"max_steps": 3, "batch_size": 8, "learning_rate": 2e-4}
# Worded with the passage's own terms: this module tests which embedder serves, not abstention
# (core/answering/abstention.py counts term overlap without stemming, so "greased" would not match "grease").
QUESTION = "How often does the main shaft bearing receive grease?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    ledger, docs = tidal_home(tmp_path_factory.mktemp("serving") / "home")
    dave, alice = ledger.policy.principal("dave"), ledger.policy.principal("alice")
    spared = build_dataset(ledger, dave, "pairs", name="spared", doc_ids=[docs["turbine-maintenance"], docs["grid-connection"]])
    everything = build_dataset(ledger, dave, "pairs", name="everything")
    e0 = train(ledger, dave, "embedder", spared.dataset_id, hyper=HP)
    e1 = train(ledger, dave, "embedder", everything.dataset_id, hyper=HP)
    promote(ledger, alice, e0.checkpoint_id, "production")
    promote(ledger, alice, e1.checkpoint_id, "production")
    yield {"ledger": ledger, "docs": docs, "e0": e0.checkpoint_id, "e1": e1.checkpoint_id}
    from core.db import dispose_engines

    dispose_engines()


def _answer(ledger, user: str = "dave"):  # type: ignore[no-untyped-def]
    result = ask(ledger, ledger.policy.principal(user), QUESTION)
    record = ledger.audit.records(kinds=["answer"], limit=1)[0]
    assert record["record_id"] == result.audit_id
    return result, record


def _cites_turbine(result, docs) -> None:  # type: ignore[no-untyped-def]
    used = [c for c in result.citations if c.used]
    assert result.knows and used, result.answer
    assert used[0].doc_id == docs["turbine-maintenance"] and f"[{used[0].n}]" in result.answer
    assert "grease" in used[0].text.lower()


def test_purge_of_a_document_in_the_production_embedders_dataset_falls_back_to_the_previous_clean_one(served) -> None:
    ledger, docs, e0, e1 = served["ledger"], served["docs"], served["e0"], served["e1"]
    app = make_ledger(ledger.settings.home, ledger.settings.database_url)  # a long-lived app process, opened before the purge
    before, record = _answer(app)
    assert record["payload"]["embedder"] == e1
    old_table = ledger.active_index()["table"]

    import core.erasure.purge as purge

    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=docs["marine-operations"], requested_by="data subject", reason="test")
    cert = purge.execute(ledger, alice, request.request_id)
    assert cert.verified_clean, cert.remaining
    assert get_checkpoint(ledger, e1).stage == "flagged" and get_checkpoint(ledger, e0).stage == "production"  # serving again
    assert cert.serving_embedder_fallback["from"] == e1 and cert.serving_embedder_fallback["to"] == e0

    index = json.loads((ledger.settings.home / "active_index.json").read_text())
    assert index["embedder_id"] == e0 and index["table"] != old_table and index["served_before"][0] == e1
    assert old_table not in ledger.store.db.table_names()  # the flagged embedder's index is gone
    # The app process follows the switch without a restart; its next answer names the clean embedder.
    result, record = _answer(app)
    assert record["payload"]["embedder"] == e0 and get_checkpoint(ledger, record["payload"]["embedder"]).stage != "flagged"
    _cites_turbine(result, docs)
    assert docs["marine-operations"] not in {c.doc_id for c in result.citations}
    events = ledger.audit.records(kinds=["embedder_fallback"])
    assert [(e["payload"]["from_embedder"], e["payload"]["to_embedder"], e["payload"]["request_id"]) for e in events] == [
        (e1, e0, request.request_id)]
    status = embedder_status(ledger)
    assert status["embedder"] == e0 and not status["flagged"] and status["may_serve"]
    assert flagged_serving(ledger)[e1] == f"flagged: serving falls back to {e0}"


def test_a_manual_flag_stops_the_chat_until_compliance_falls_back_to_the_base_model(served, tmp_path) -> None:
    ledger, docs, e0 = served["ledger"], served["docs"], served["e0"]
    flag(ledger, ledger.policy.principal("dave"), e0, "bad holdout eval")
    status = embedder_status(ledger)
    assert status["flagged"] and not status["may_serve"] and status["falls_back_to"] == BASE_MODEL_ID  # e1 is flagged too
    assert flagged_serving(ledger)[e0] == f"flagged: serving falls back to {BASE_MODEL_ID} (rebuild pending)"
    answers = len(ledger.audit.records(kinds=["answer"]))
    with pytest.raises(EmbedderFlagged, match="Models page"):
        ask(ledger, ledger.policy.principal("dave"), QUESTION)
    assert len(ledger.audit.records(kinds=["answer"])) == answers  # nothing was answered through it

    # Policy may let flagged models serve: then the flagged index keeps answering.
    policies = shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    data = yaml.safe_load((policies / "policy.yaml").read_text())
    data["flagged_models_may_serve"] = True
    (policies / "policy.yaml").write_text(yaml.safe_dump(data))
    lenient = make_ledger(ledger.settings.home, ledger.settings.database_url, policies=policies)
    assert _answer(lenient)[1]["payload"]["embedder"] == e0

    with pytest.raises(AccessDenied):  # ML engineers do not decide what serves
        fall_back_now(ledger, ledger.policy.principal("dave"))
    steps: list[tuple[str, int, int]] = []
    result = fall_back_now(ledger, ledger.policy.principal("alice"), progress=lambda m, d, t: steps.append((m, d, t)))
    assert result is not None and result["from"] == e0 and result["to"] == BASE_MODEL_ID
    assert steps and steps[-1][1] == steps[-1][2] == ledger.store.count() > 0  # progress up to every chunk
    answer, record = _answer(ledger)
    assert record["payload"]["embedder"] == BASE_MODEL_ID
    _cites_turbine(answer, docs)
    assert fall_back_now(ledger, ledger.policy.principal("alice")) is None  # nothing flagged serves any more
