"""Drift between golden-set runs (issue 13, point 2; core/evaluation/drift.py): the rule on hand-made records, then
a real drift after a document's new version (real ingest, real answers) as the Overview shows it."""
from __future__ import annotations

from pathlib import Path

from conftest import golden_policies, make_ledger
from core.evaluation.drift import drift, recall_series
from core.evaluation.golden import question_key
from core.rag.ingest import Source, ingest
from core.workbench.overview import evaluation
from tests.ui_support import page_as


def _run(at: str, reason: str = "manual", **details) -> dict:  # type: ignore[no-untyped-def]
    return {"at": at, "reason": reason, "k": 5, "scores": {p: {"recall_at_k": 1.0} for p in details}, "details": details}


def q(rank: int | None, similarity: float | None, cited: list[str]) -> dict:
    return {"rank": rank, "similarity": similarity, "cited": cited, "stale": 0}


def test_citations_changed_or_similarity_dropped_beyond_the_threshold_is_drift() -> None:
    older = _run("1", carol={"a": q(1, 0.80, ["d1"]), "b": q(1, 0.70, ["d2"]), "c": q(2, 0.60, ["d3"]), "d": q(1, 0.5, ["d4"])})
    newer = _run("2", "changed", carol={"a": q(1, 0.78, ["d1"]),    # a small drop: not drift
                                        "b": q(1, 0.70, ["d9"]),    # cites another document: drift
                                        "c": q(None, None, []),     # fell out of the k retrieved: drift
                                        "e": q(1, 0.9, ["d5"])})    # never asked before: nothing to compare
    found = {d["question"]: d for d in drift([newer, older], threshold=0.05)}
    assert set(found) == {"b", "c"}
    assert found["b"]["citations_changed"] and found["b"]["cited_before"] == ["d2"] and found["b"]["cited_now"] == ["d9"]
    assert found["c"]["rank_before"] == 2 and found["c"]["rank_now"] is None and found["c"]["dropped_by"] > 1
    # A question absent from the run just before is compared with the latest run that asked it.
    middle = _run("1.5", "changed", carol={"a": q(1, 0.80, ["d1"])})
    assert [d["question"] for d in drift([_run("3", carol={"d": q(1, 0.40, ["d4"])}), middle, older], 0.05)] == ["d"]
    assert drift([_run("3", carol={"d": q(1, 0.40, ["d4"])}), middle, older], 0.2) == []
    # The recall chart: whole-set runs only, oldest first.
    assert [r["at"] for r in recall_series([newer, older])] == ["1"]


OLD = "Employees receive 16 weeks of paid parental leave. Requests go to the HR department four weeks before the leave starts."
NEW = "The staff handbook describes family matters. Ask the HR department for the forms; they are kept in the second cupboard."
GOLDEN = """
- question: How many weeks of paid parental leave do employees receive?
  source: parental.md
  answer_contains: weeks
"""


def test_a_rewritten_document_shows_as_drift_on_the_overview(tmp_path: Path, write_doc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.evaluation.golden import evaluate, load_golden

    (tmp_path / "golden.yaml").write_text(GOLDEN)
    home = tmp_path / "home"
    ledger = make_ledger(home, policies=golden_policies(home, tmp_path / "golden.yaml"))
    ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
    doc = write_doc("parental.md", OLD, title="Leave")
    ingest(ledger, ops, [Source.from_path(doc)])
    evaluate(ledger, alice, load_golden(tmp_path / "golden.yaml"), principals=["carol", "bob"])
    doc.write_text(doc.read_text().replace(OLD, NEW))
    ingest(ledger, ops, [Source.from_path(doc)])  # the freshness run re-asks it and records the drift

    shown = evaluation(ledger, alice)
    assert shown["last"]["reason"] == "new_version" and shown["runs"] == 2
    rows = {d["principal"]: d for d in shown["drift"]}
    assert {"carol", "bob"} <= set(rows)
    carol = rows["carol"]
    assert carol["text"] == "How many weeks of paid parental leave do employees receive?"
    assert carol["question"] == question_key(carol["text"])
    assert carol["dropped_by"] > shown["threshold"] or carol["citations_changed"]
    assert [r["at"] for r in shown["recall"]] == [ledger.audit.records(kinds=["evaluation"])[-1]["at"]] * 2  # the manual run, carol and bob

    monkeypatch.setenv("RAGLEDGER_HOME", str(home))  # page_as points this process at the home; monkeypatch restores it
    monkeypatch.setenv("RAGLEDGER_DATABASE_URL", ledger.settings.database_url)
    at = page_as("pages/overview.py", home, "alice").run()
    assert not at.exception
    assert any("1 answer(s) drifted since the run before" in w.value or "2 answer(s) drifted" in w.value for w in at.warning)
    assert any("recall@k per whole-set run" in c.proto.spec for c in at.get("plotly_chart"))
