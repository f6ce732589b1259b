"""The answering router with every real part: the tidal corpus in LanceDB, MiniLM, Presidio, and a
real LoRA generator checkpoint on SmolLM2-135M trained, registered and promoted through the registry.

One module-scoped home trains the generator once (a few steps: its answers are not the point, its
lineage and the route it takes are); tests that change policy open the same home with a copy."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import make_ledger
from core.answering.ask import ask
from core.config import REPO_ROOT
from core.models.datasets import build_dataset
from core.errors import PolicyError
from core.evaluation.lifecycle import promote
from core.policy.engine import load_policy
from core.answering.router import ALONE, EXTRACTIVE, WITH_RETRIEVAL, RouteRefused, Signals, choose
from core.models.training.jobs import train
from registry_support import tidal_home

pytestmark = pytest.mark.slow

GENERATOR_HP = {"max_steps": 2, "batch_size": 1, "max_length": 512, "eval_examples": 2}
CONFIDENT = "How often is the main shaft bearing greased?"
OFF_TOPIC = "What is the capital city of France?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A tidal home whose production generator dave trained on three engineering-only documents."""
    ledger, docs = tidal_home(tmp_path_factory.mktemp("router") / "home")
    dave, alice = ledger.policy.principal("dave"), ledger.policy.principal("alice")
    qa = build_dataset(ledger, dave, "qa", name="tidal-qa",
                       doc_ids=[docs["turbine-maintenance"], docs["grid-connection"], docs["marine-operations"]])
    gen = train(ledger, dave, "generator", qa.dataset_id, hyper=GENERATOR_HP)
    promote(ledger, alice, gen.checkpoint_id, "production")
    yield {"ledger": ledger, "generator": gen, "qa": qa, "docs": docs, "root": tmp_path_factory.mktemp("router-policies")}
    from core.db import dispose_engines

    dispose_engines()


def with_routing(served, name: str, **routing) -> object:  # type: ignore[no-untyped-def]
    """The same home under a copy of the policies whose routing section is changed."""
    policies = shutil.copytree(REPO_ROOT / "policies", served["root"] / name)
    data = yaml.safe_load((policies / "policy.yaml").read_text())
    data["routing"] = {**data["routing"], **routing}
    (policies / "policy.yaml").write_text(yaml.safe_dump(data))
    ledger = served["ledger"]
    return make_ledger(ledger.settings.home, ledger.settings.database_url, policies=policies)


def last_route(ledger) -> dict:  # type: ignore[no-untyped-def]
    return ledger.audit.records(kinds=["answer"], limit=1)[0]["payload"]["route"]


def test_confident_retrieval_takes_the_extractive_route_and_the_record_says_why(served) -> None:
    ledger = served["ledger"]
    result = ask(ledger, ledger.policy.principal("dave"), CONFIDENT)
    assert result.route["route"] == EXTRACTIVE and result.answerer == "extractive-v1" and result.knows
    assert "greas" in result.answer.lower()
    route = last_route(ledger)
    assert route == result.route
    assert route["signals"]["overlap"] >= 0.65 and route["signals"]["agreement"] is True
    assert "confident retrieval" in route["reason"] and route["generator"] is None
    assert route["refused"][ALONE].startswith("its answer would rest on no passage")  # policy.yaml default
    assert WITH_RETRIEVAL not in route["refused"]  # dave may use the generator: it would have been allowed


def test_relevant_but_not_confident_retrieval_goes_to_the_generator_with_the_passages(served) -> None:
    # extractive_min_similarity 1.0: no retrieval is ever confident, so a relevant one goes to the generator.
    ledger = with_routing(served, "never-confident", extractive_min_similarity=1.0)
    result = ask(ledger, ledger.policy.principal("dave"), CONFIDENT)
    ckpt = served["generator"].checkpoint_id
    assert result.route["route"] == WITH_RETRIEVAL and result.answerer == ckpt
    assert result.route["generator"] == ckpt and "relevant but not confident" in result.route["reason"]
    record = ledger.audit.records(kinds=["answer"], limit=1)[0]["payload"]
    assert record["answerer"] == ckpt and record["route"]["route"] == WITH_RETRIEVAL
    if result.knows:  # a generated answer is still cited (or it abstained through the same rule)
        assert any(c.used for c in result.citations)


def test_a_generator_trained_on_documents_the_asker_may_not_read_is_refused_and_the_record_says_so(served) -> None:
    ledger = with_routing(served, "never-confident-carol", extractive_min_similarity=1.0, generator_alone_serves_unsupported=True)
    carol = ledger.policy.principal("carol")  # all-staff: the generator's three documents are engineering-only
    for question in (CONFIDENT, OFF_TOPIC):
        result = ask(ledger, carol, "How do divers stay safe near the turbines?" if question == CONFIDENT else question)
        assert result.route["route"] == EXTRACTIVE and result.answerer == "extractive-v1"
        why = result.route["refused"][WITH_RETRIEVAL]
        assert served["qa"].dataset_id in why and "that carol may not read" in why and "3 of its 3 document(s)" in why
        assert result.route["refused"][ALONE] == why and "refused" in result.route["reason"]
        assert last_route(ledger)["refused"][WITH_RETRIEVAL] == why
    with pytest.raises(RouteRefused, match="may not read"):
        ask(ledger, carol, OFF_TOPIC, route=ALONE)


def test_a_route_over_the_latency_budget_is_refused(served) -> None:
    ledger = with_routing(served, "tight-budget", extractive_min_similarity=1.0, latency_budget_ms=500,
                          budget_by_role={"compliance_officer": 60000})
    result = ask(ledger, ledger.policy.principal("dave"), CONFIDENT)
    assert result.route["route"] == EXTRACTIVE and result.route["budget_ms"] == 500
    assert result.route["refused"][WITH_RETRIEVAL] == "expected 8000 ms, over the budget of 500 ms"
    officer = ledger.policy.principal("alice")  # her role's own budget
    s = Signals(similarity=0.5, fused=0.03, overlap=0.4, agreement=False, both_legs=0.2, passages=5)
    assert choose(ledger, officer, s).route == WITH_RETRIEVAL


def test_the_generator_alone_answers_only_when_policy_allows_and_still_passes_the_guard(served) -> None:
    dave = served["ledger"].policy.principal("dave")
    closed = served["ledger"]
    with pytest.raises(RouteRefused, match="generator_alone_serves_unsupported"):
        ask(closed, dave, OFF_TOPIC, route=ALONE)
    ledger = with_routing(served, "alone", generator_alone_serves_unsupported=True)
    result = ask(ledger, dave, OFF_TOPIC)
    assert result.route["route"] == ALONE and result.route["signals"]["similarity"] < 0.3
    assert result.answerer == served["generator"].checkpoint_id
    assert result.citations == [] and len(result.see_also) <= 3  # nothing cited: the passages are there to check it
    assert "[" not in result.answer or "]" not in result.answer  # no citation can be valid without passages
    record = ledger.audit.records(kinds=["answer"], limit=1)[0]["payload"]
    assert record["route"]["route"] == ALONE and record["cited"] == [] and "guard_redactions" in record


def test_with_no_generator_in_production_every_question_is_extractive(demo_ledger) -> None:
    carol = demo_ledger.policy.principal("carol")
    s = Signals(similarity=0.1, fused=0.01, overlap=0.0, agreement=False, both_legs=0.0, passages=5)
    route = choose(demo_ledger, carol, s)
    assert route.route == EXTRACTIVE and route.refused[WITH_RETRIEVAL] == "no generator checkpoint is in production"
    assert "generator_alone refused (no generator checkpoint is in production)" in route.reason
    with pytest.raises(RouteRefused, match="unknown route"):
        choose(demo_ledger, carol, s, forced="oracle")


@pytest.mark.parametrize("change, field", [
    ({"latency_budget_ms": 0}, "routing.latency_budget_ms"),
    ({"extractive_min_overlap": 1.5}, "routing.extractive_min_overlap"),
    ({"budget_by_role": {"employee": -1}}, "routing.budget_by_role"),
    ({"budget_by_role": {"intern": 100}}, "routing.budget_by_role.intern"),
    ({"expected_ms": {"extractive": 10, "oracle": 1}}, "routing.expected_ms.oracle"),
    ({"max_new_tokens": 4}, "routing.max_new_tokens"),
])
def test_a_bad_routing_section_fails_at_load_naming_the_field(tmp_path: Path, change: dict, field: str) -> None:
    policies = shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    data = yaml.safe_load((policies / "policy.yaml").read_text())
    data["routing"] = {**data["routing"], **change}
    (policies / "policy.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(PolicyError) as err:
        load_policy(policies)
    assert field in str(err.value) and "policy.yaml" in str(err.value)
