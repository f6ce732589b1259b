"""Abstention: "I don't know" with see-also passages when no passage the asker may read supports an answer."""
from __future__ import annotations

import shutil

import pytest

from core.answering.abstention import I_DONT_KNOW, content_terms, decide
from core.rag.answerers import Passage
from core.answering.ask import ask
from core.rag.documents import get_document
from core.policy.models import Abstention

RULE = Abstention(min_similarity=0.3, min_fused=0.0, min_overlap=0.65)
LEAVE = Passage(1, "Parental leave policy", "Employees receive 16 weeks of paid parental leave.", 0.033, 0.71)


@pytest.fixture(scope="module")
def fresh_demo(demo_home, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A writable copy of the demo home shared by this module (asks append audit records)."""
    from tests.conftest import make_ledger

    copy = tmp_path_factory.mktemp("abstention") / "demo"
    shutil.copytree(demo_home, copy)
    return make_ledger(copy)


def test_content_terms_drop_question_scaffolding_and_plurals() -> None:
    assert content_terms("Who is she and how can she be reached in the offices?") == {"reach", "offic"}  # Snowball stems
    assert content_terms("greased") == content_terms("grease") and content_terms("protected") == content_terms("protection")
    # A question in another language: that language's stop words and stems (German folds umlauts).
    assert content_terms("Wie lang ist die Kündigungsfrist für Angestellte?", "de") == {"kundigungsfrist", "angestellt"}


@pytest.mark.parametrize("question,passages,used,knows,answers,reason", [
    ("How many weeks of paid parental leave do employees receive?", [LEAVE], [1], True, True, ""),
    # The example: a salary-review budget question and the only passage near it.
    ("At what percentage of base payroll was the 2024 salary review budget set?",
     [Passage(1, "Remote and hybrid work policy", "A one-off home office allowance of EUR 400 is paid.", 0.03, 0.35)], [1], True, False, "overlap"),
    ("How many weeks of paid parental leave do employees receive?", [Passage(1, LEAVE.title, LEAVE.text, 0.033, 0.1)], [1], True, False,
     "similarity"),
    ("How many weeks of paid parental leave do employees receive?", [LEAVE], [], False, False, "answerer found no supporting sentence"),
    ("How many weeks of paid parental leave do employees receive?", [], [], False, False, "no passage"),
])
def test_decide_answers_only_when_every_threshold_is_met(question, passages, used, knows, answers, reason) -> None:  # type: ignore[no-untyped-def]
    decision = decide(question, passages, used, knows, RULE)
    assert decision.answers is answers and reason in decision.reason
    audit = decision.audit(RULE)
    assert audit["abstained"] is (not answers) and audit["thresholds"]["min_overlap"] == 0.65
    if passages:
        assert set(audit["scores"]) == {"passage", "similarity", "fused", "overlap"}


def test_a_disabled_rule_lets_the_answerer_decide() -> None:
    off = Abstention(enabled=False, min_overlap=0.99)
    assert decide("Who leads the salary review?", [LEAVE], [1], True, off).answers


def test_salary_budget_question_from_someone_not_cleared_gets_i_dont_know_and_see_also(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    """bob (hr, confidential) may not read the restricted salary review: he used to get the home-office allowance, cited."""
    bob = fresh_demo.policy.principal("bob")
    result = ask(fresh_demo, bob, "At what percentage of base payroll was the 2024 salary review budget set?")
    assert result.answer == I_DONT_KNOW and not result.knows and result.citations == []
    assert "4.2 percent" not in result.answer and "EUR 400" not in result.answer
    assert 1 <= len(result.see_also) <= fresh_demo.policy.files.abstention.see_also
    for c in result.see_also:  # the see-also passages are as access-filtered as citations
        doc = get_document(fresh_demo, c.doc_id)
        assert bob.can_see(doc["groups"], doc["classification"]) and "salary review" not in c.title.lower()
    [record] = fresh_demo.audit.records(record_id=result.audit_id)
    p = record["payload"]
    assert p["cited"] == [] and [s["chunk_id"] for s in p["see_also"]] == [c.chunk_id for c in result.see_also]
    assert p["abstention"]["abstained"] is True and p["abstention"]["reason"]
    assert p["abstention"]["scores"]["overlap"] < p["abstention"]["thresholds"]["min_overlap"] or p["abstention"]["reason"].startswith("the answerer")
    assert record["text"]["answer"] == I_DONT_KNOW
    assert fresh_demo.audit.verify().ok


@pytest.mark.parametrize("who,question,leak", [
    # The second example: a person who is not in the corpus, and another employee's bank details.
    ("alice", "What is Priya Raman's bank account number?", "FR14"),
    ("bob", "When does Lena Hoffmann's probation period end?", "30 September 2024"),
    ("carol", "Are employees allowed to bring dogs to the office?", ""),
    ("dave", "How many weeks of paid parental leave do employees receive?", "16 weeks"),  # dave may not read the policies
])
def test_unanswerable_questions_abstain(fresh_demo, who, question, leak) -> None:  # type: ignore[no-untyped-def]
    result = ask(fresh_demo, fresh_demo.policy.principal(who), question)
    assert result.answer.startswith("I don't know") and result.citations == [], result.abstention
    assert not leak or leak not in result.answer


def test_see_also_passages_are_redacted_for_the_asker(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    """carol's strict profile hides names and contacts in see-also passages as in citations; the counts are of what she was shown."""
    carol = fresh_demo.policy.principal("carol")
    result = ask(fresh_demo, carol, "Which deputy of the whistleblowing office handles reports about parking fines?")
    assert not result.knows and result.see_also
    shown = " ".join(c.text + c.title for c in result.see_also)
    assert "Marchetti" not in shown and "Wren" not in shown and "555-0199" not in shown
    assert "Whistleblowing and speak-up policy" in {c.title for c in result.see_also}
    assert sum(result.redactions.values()) >= 3  # the officer's name, e-mail, phone (and her deputy) in the shown passage


def test_an_answered_question_is_audited_as_not_abstained_with_its_scores(fresh_demo) -> None:  # type: ignore[no-untyped-def]
    result = ask(fresh_demo, fresh_demo.policy.principal("carol"), "How many weeks of paid parental leave do employees receive?")
    assert result.knows and "16 weeks" in result.answer and result.see_also == []
    [record] = fresh_demo.audit.records(record_id=result.audit_id)
    a = record["payload"]["abstention"]
    assert a["abstained"] is False and a["reason"] == "" and a["scores"]["overlap"] >= a["thresholds"]["min_overlap"]
    assert record["payload"]["see_also"] == []
