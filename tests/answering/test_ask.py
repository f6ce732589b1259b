"""Asking on the demo corpus with every real part: answers, citations, redaction per role, audit."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.rag.answerers import Answer, register
from core.answering.ask import ask
from core.config import REPO_ROOT
from core.errors import AccessDenied, RagLedgerError

QUESTIONS = yaml.safe_load((REPO_ROOT / "demo_corpus" / "questions.yaml").read_text())


@pytest.fixture(scope="module")
def fresh_demo(demo_home, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A writable copy of the demo home shared by this module (asks append audit records)."""
    import shutil

    from tests.conftest import make_ledger

    copy = tmp_path_factory.mktemp("ask") / "demo"
    shutil.copytree(demo_home, copy)
    return make_ledger(copy)


@pytest.mark.parametrize("q", QUESTIONS, ids=[q["source"] for q in QUESTIONS])
def test_compliance_officer_gets_each_demo_answer_with_a_citation_of_its_source(fresh_demo, q) -> None:  # type: ignore[no-untyped-def]
    result = ask(fresh_demo, fresh_demo.policy.principal("alice"), q["question"])
    assert q["answer_contains"] in result.answer
    source_title = yaml.safe_load((REPO_ROOT / "demo_corpus" / q["source"]).read_text().split("---")[1])["title"]
    used = [c for c in result.citations if c.used]
    assert any(c.title == source_title for c in used)
    assert "[1]" in result.answer or any(f"[{c.n}]" in result.answer for c in used)


@pytest.mark.parametrize("q", [q for q in QUESTIONS if "all-staff" in q["groups"]], ids=lambda q: q["source"])
def test_an_employee_still_gets_each_answer_she_may_read(fresh_demo, q) -> None:  # type: ignore[no-untyped-def]
    """Deny-by-default redaction (unrecognised names and long numbers hidden) keeps the answers useful."""
    result = ask(fresh_demo, fresh_demo.policy.principal("carol"), q["question"])
    assert q["answer_contains"] in result.answer, result.answer


@pytest.mark.parametrize("who", ["bob", "carol", "dave"])
def test_nobody_receives_a_passage_outside_their_groups_or_clearance(fresh_demo, who) -> None:  # type: ignore[no-untyped-def]
    from core.rag.documents import get_document

    principal = fresh_demo.policy.principal(who)
    for q in QUESTIONS:
        result = ask(fresh_demo, principal, q["question"])
        for c in result.citations:
            doc = get_document(fresh_demo, c.doc_id)
            assert principal.can_see(doc["groups"], doc["classification"]), (who, q["question"], doc["title"])
        if not principal.can_see(q["groups"], q["classification"]):
            assert q["answer_contains"] not in result.answer
            assert result.withheld > 0


def test_redaction_differs_by_role_on_the_same_passage(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    question = "What was the outcome of the disciplinary case for repeated unapproved absence?"
    alice = ask(fresh_demo, fresh_demo.policy.principal("alice"), question)
    bob = ask(fresh_demo, fresh_demo.policy.principal("bob"), question)  # restricted record: bob cannot see it
    assert "Marcus Okonkwo-Lee" in alice.answer
    assert all("Disciplinary" not in c.title for c in bob.citations)


def test_hr_manager_sees_names_but_no_government_ids(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    bob = fresh_demo.policy.principal("bob")
    result = ask(fresh_demo, bob, "Under which SSN will the final W-2 form of Tobias Hallberg be issued?")
    shown = result.answer + " ".join(c.text for c in result.citations)
    assert any("Hallberg" in c.title for c in result.citations)
    assert "<US_SSN>" in shown and result.redactions.get("US_SSN", 0) > 0
    assert "287-54-1163" not in shown and "Tobias" in shown  # HR sees the name, never the id
    import re

    assert not re.search(r"\b\d{3}-\d{2}-\d{4}\b", shown)


def test_employee_sees_pseudonyms_and_placeholders(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    carol = fresh_demo.policy.principal("carol")
    result = ask(fresh_demo, carol, "Who is the whistleblowing officer and how can she be reached?")
    shown = result.answer + " ".join(c.text for c in result.citations)
    assert "Marchetti" not in shown and "@example." not in shown and "555-0199" not in shown
    assert "<PERSON_1>" in result.answer and "<EMAIL_ADDRESS>" in result.answer and "<PHONE_NUMBER>" in result.answer
    alice = ask(fresh_demo, fresh_demo.policy.principal("alice"), "Who is the whistleblowing officer and how can she be reached?")
    assert "Helena Marchetti" in alice.answer and "helena.marchetti@example.org" in alice.answer


def test_unanswerable_question_says_it_does_not_know(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    result = ask(fresh_demo, fresh_demo.policy.principal("carol"), "zebra quantum saxophone migration")
    assert result.answer.startswith("I don't know") and result.citations == [] and not result.knows


def test_answer_is_audited_with_sources_hashes_redactions_and_identity(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    carol = fresh_demo.policy.principal("carol")
    result = ask(fresh_demo, carol, "How many weeks of paid parental leave do employees get?")
    [record] = fresh_demo.audit.records(record_id=result.audit_id)
    p = record["payload"]
    assert record["actor"] == "carol" and record["policy_version"] == fresh_demo.policy.version
    assert [c["chunk_id"] for c in p["cited"]] == [c.chunk_id for c in result.citations]
    assert all(len(c["content_hash"]) == 64 for c in p["cited"])
    assert p["answerer"] == "extractive-v1" and p["embedder"] and p["latency_ms"] > 0
    assert len(p["withheld"]) == result.withheld
    assert record["text"]["answer"] == result.answer
    assert fresh_demo.audit.verify().ok


def test_question_pii_is_redacted_in_the_audit_record(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    alice = fresh_demo.policy.principal("alice")
    result = ask(fresh_demo, alice, "Did Marcus Okonkwo-Lee write to marcus.ol@example.com about the warning?")
    [record] = fresh_demo.audit.records(record_id=result.audit_id)
    assert "Okonkwo" not in record["text"]["question"] and "@example.com" not in record["text"]["question"]


def test_principal_without_ask_is_denied_and_the_denial_audited(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    nobody = replace(fresh_demo.policy.principal("carol"), permissions=frozenset())
    with pytest.raises(AccessDenied):
        ask(fresh_demo, nobody, "anything")
    assert fresh_demo.audit.records(kinds=["denial"])[0]["payload"]["action"] == "ask"


@pytest.mark.parametrize("question,message", [("   ", "empty"), ("x" * 3000, "characters long")])
def test_bad_questions_get_a_clear_error(fresh_demo, question, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RagLedgerError, match=message):
        ask(fresh_demo, fresh_demo.policy.principal("carol"), question)


class LeakyAnswerer:
    """A test plug-in answerer that copies a raw value into its answer, as a careless generator might."""

    identity = "leaky-test"

    def answer(self, question, passages):  # type: ignore[no-untyped-def]
        return Answer("Card 4111 1111 1111 1111, SSN 512-38-4471, mail x.y@example.com [1]", [1])


def test_output_guard_redacts_what_an_answerer_leaks(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    register("leaky-test", lambda **_: LeakyAnswerer())
    result = ask(fresh_demo, fresh_demo.policy.principal("carol"), "How many weeks of paid parental leave?", answerer="leaky-test")
    assert "4111" not in result.answer and "512-38-4471" not in result.answer and "x.y@example.com" not in result.answer
    assert set(result.guard_redactions) >= {"CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS"}
    [record] = fresh_demo.audit.records(record_id=result.audit_id)
    assert record["payload"]["guard_redactions"] == result.guard_redactions
    assert "4111" not in record["text"]["answer"]


def test_the_guard_covers_passages_and_titles_analysed_under_an_older_policy(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    """A document analysed before a recognizer existed keeps stale spans until re-analysis; the guard
    still hides what the reader may not see in every passage and title shown beside the answer."""
    import shutil

    from core.rag.ingest import Source, ingest
    from tests.conftest import make_ledger

    old = tmp_path / "old-policies"
    shutil.copytree(REPO_ROOT / "policies", old)
    policy = yaml.safe_load((old / "policy.yaml").read_text())
    policy["analyzed_entities"] = [e for e in policy["analyzed_entities"] if e not in ("CREDIT_CARD", "NUMBER", "IBAN_CODE")]
    (old / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    home = tmp_path / "home"
    before = make_ledger(home, policies=old)
    path = write_doc("refunds.md", "Refunds for the travel budget go back to card 4111 1111 1111 1111 within ten days.",
                     title="Refunds to 4111 1111 1111 1111")
    ingest(before, before.policy.principal("ops"), [Source.from_path(path)])
    now = make_ledger(home)
    result = ask(now, now.policy.principal("carol"), "Where do refunds for the travel budget go back to?")
    assert result.citations
    for c in result.citations:
        assert "4111" not in c.text and "4111" not in c.title
    assert result.guard_redactions.get("CREDIT_CARD", 0) >= 2
