"""Golden-set evaluation (`ragledger eval`, core/evaluation/golden.py) on the bundled demo corpus, with the real
model, LanceDB and Presidio: the shipped baseline holds, a worse baseline is a regression (exit 6), a
leak is always one, and bad golden sets or baselines get a clear error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.evaluation.golden import EvaluationError, PrincipalScore, EvaluationReport, compare, evaluate, last_evaluation, load_baseline, load_golden
from tests.conftest import make_ledger
from tests.ui_support import copy_home

REPO = Path(__file__).resolve().parents[2]
DEMO_SET = REPO / "demo_corpus" / "questions.yaml"


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAGLEDGER_HOME": str(home)}
    env.pop("RAGLEDGER_USER", None)
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=env, capture_output=True, text=True, timeout=900)


def test_the_demo_corpus_meets_its_shipped_baseline(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What CI runs: the whole demo golden set as every principal against demo_corpus/eval_baseline.json."""
    home = copy_home(demo_home, tmp_path / "home")
    proc = _run(home, "eval", "--user", "alice", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["baseline"].endswith("eval_baseline.json") and report["regressions"] == []
    by_name = {s["principal"]: s for s in report["scores"]}
    assert all(s["leaks"] == 0 for s in by_name.values())
    assert by_name["alice"]["readable"] == report["questions"] > by_name["carol"]["readable"] > 0
    ledger = make_ledger(home)
    last = last_evaluation(ledger)
    assert last is not None and last["questions"] == report["questions"] and last["regressions"] == 0
    [record] = ledger.audit.records(kinds=["evaluation"])
    assert record["actor"] == "alice" and "question" not in json.dumps(record["payload"]).lower().replace("questions", "")


def test_a_worse_run_than_the_baseline_exits_6_and_names_the_metric(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = copy_home(demo_home, tmp_path / "home")
    golden = tmp_path / "golden.yaml"
    golden.write_text(
        "- question: How many weeks of paid parental leave do employees receive?\n  source: policies/parental-leave.md\n  answer_contains: 16 weeks\n"
        "- question: What is the capital of the moon colony?\n  source: policies/remote-work.md\n  answer_contains: Tranquility City\n")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"scores": {"carol": {"recall_at_k": 1.0, "citation_correct": 1.0, "answer_contains": 1.0}}}))
    proc = _run(home, "eval", "--user", "alice", "--set", str(golden), "--baseline", str(baseline), "--as", "carol")
    assert proc.returncode == 6, proc.stderr[-3000:]
    assert "carol: answer_contains 0.500 < baseline 1.000" in proc.stderr
    assert "--save-baseline" in proc.stderr  # says how to accept intended figures


def test_evaluation_needs_see_as_and_is_audited_as_the_officers(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.errors import AccessDenied

    ledger = make_ledger(copy_home(demo_home, tmp_path / "home"))
    questions = load_golden(DEMO_SET)[:3]
    with pytest.raises(AccessDenied):
        evaluate(ledger, ledger.policy.principal("carol"), questions)
    report = evaluate(ledger, ledger.policy.principal("alice"), questions, principals=["dave"])
    [dave] = report.scores
    simulated = ledger.audit.records(kinds=["answer"], limit=10)
    assert simulated and all(r["actor"] == "alice" and r["payload"]["simulated_for"] == "dave" for r in simulated)
    assert dave.readable + dave.leaks <= 3 and dave.leaks == 0


def test_a_leak_is_a_regression_even_without_a_baseline() -> None:
    report = EvaluationReport(1, 5, [PrincipalScore("carol", readable=1, recall_at_k=1.0, leaks=1)])
    assert compare(report, {"scores": {}}) == ["carol: 1 question(s) retrieved or cited a document carol may not read"]


@pytest.mark.parametrize("content, message", [
    ("- question: x\n  source: [unclosed\n", "not valid YAML"),
    ("{}", "non-empty list"),
    ("- question: Where?\n  answer_contains: x\n", "question 1: field 'source'"),
    ("- question: '  '\n  source: a.md\n  answer_contains: x\n", "must not be empty"),
])
def test_a_bad_golden_set_is_refused_with_where(tmp_path, content: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "g.yaml"
    path.write_text(content)
    with pytest.raises(EvaluationError, match=message):
        load_golden(path)


def test_sources_that_match_no_document_are_named(demo_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.evaluation.golden import GoldenQuestion, resolve_sources

    ledger = make_ledger(demo_home)
    with pytest.raises(EvaluationError, match="policies/no-such.md \\(no document\\)"):
        resolve_sources(ledger, [GoldenQuestion(question="q", source="policies/no-such.md", answer_contains="x")])


def test_a_bad_baseline_says_how_to_make_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "b.json"
    path.write_text("[1, 2]")
    with pytest.raises(EvaluationError, match="not a baseline") as err:
        load_baseline(path)
    assert "--save-baseline" in (err.value.hint or "")


PARENTAL_V1 = ("Employees receive 16 weeks of paid parental leave. The leave may be split into two blocks. "
               "Requests go to the HR department four weeks before the leave starts.")
PARENTAL_V2 = ("Employees receive 20 weeks of paid parental leave. The leave may be split into two blocks. "
               "Requests go to the HR department four weeks before the leave starts.")


def test_freshness_a_new_version_is_re_asked_and_no_answer_keeps_the_old_fact(ledger, write_doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.evaluation.golden import GoldenQuestion, changed_since_last_run
    from core.rag.ingest import Source, ingest

    ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
    path = write_doc("parental.md", PARENTAL_V1, title="Parental leave")
    [v1] = ingest(ledger, ops, [Source.from_path(path)])
    golden = [GoldenQuestion(question="How many weeks of paid parental leave do employees receive?", source="parental.md",
                             answer_contains="16 weeks")]
    first = evaluate(ledger, alice, golden, principals=["carol"])
    assert first.sources == {v1.doc_id: 1} and first.scores[0].answer_contains == 1.0
    assert changed_since_last_run(ledger, golden) == []  # nothing new since that run

    path.write_text(path.read_text().replace(PARENTAL_V1, PARENTAL_V2))
    [v2] = ingest(ledger, ops, [Source.from_path(path)])
    assert v2.status == "new_version"
    golden = [golden[0].model_copy(update={"answer_contains": "20 weeks", "stale": ["16 weeks"]})]
    assert changed_since_last_run(ledger, golden) == golden
    fresh = evaluate(ledger, alice, golden, principals=["carol", "bob"], reason="changed")
    assert fresh.regressions == [] and all(s.stale == 0 and s.answer_contains == 1.0 for s in fresh.scores)
    assert last_evaluation(ledger)["sources"] == {v2.doc_id: 2} and last_evaluation(ledger)["reason"] == "changed"

    # The check can fail: a "stale" fact the current version still states is found in the answer.
    still = [golden[0].model_copy(update={"stale": ["20 weeks"]})]
    failed = evaluate(ledger, alice, still, principals=["carol"])
    assert failed.scores[0].stale == 1 and "still state a fact of an older version" in failed.regressions[0]
