"""Freshness at ingestion (issue 13, point 1; core/evaluation/freshness.py) with the real ingest (Presidio, MiniLM,
LanceDB), a golden set configured in the home's own policy.yaml, and real answers as every principal."""
from __future__ import annotations

from pathlib import Path

import core.evaluation.freshness  # noqa: F401  the module under test registers itself on ingest's AFTER_INGEST when imported
from conftest import golden_policies, make_ledger
from core.rag.ingest import Source, ingest
from core.workbench.overview import evaluation

V1 = ("Employees receive 16 weeks of paid parental leave. The leave may be split into two blocks. "
      "Requests go to the HR department four weeks before the leave starts.")
V2 = V1.replace("16 weeks", "20 weeks")
REMOTE = "Employees may work remotely for 3 days per week. Remote work needs the manager's approval in the HR portal."

GOLDEN = """
- question: How many weeks of paid parental leave do employees receive?
  source: parental.md
  answer_contains: 20 weeks
  stale: ["16 weeks"]
- question: For how many days per week may employees work remotely?
  source: remote.md
  answer_contains: 3 days per week
- question: What is the capital of the moon colony?
  source: not-ingested-here.md
  answer_contains: Tranquility
"""


def _home(tmp_path: Path, **evaluation):  # type: ignore[no-untyped-def]
    golden = tmp_path / "golden.yaml"
    golden.write_text(GOLDEN)
    home = tmp_path / "home"
    return make_ledger(home, policies=golden_policies(home, golden, **evaluation))


def _runs(ledger) -> list[dict]:  # type: ignore[no-untyped-def]
    return ledger.audit.records(kinds=["evaluation"])


def test_a_new_version_re_asks_the_questions_citing_it_once_per_ingest(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    ledger = _home(tmp_path)
    ops = ledger.policy.principal("ops")
    parental, remote = write_doc("parental.md", V1, title="Parental leave"), write_doc("remote.md", REMOTE, title="Remote work")
    first = ingest(ledger, ops, [Source.from_path(parental), Source.from_path(remote)])
    assert [r.status for r in first] == ["new", "new"] and _runs(ledger) == []  # new documents: nothing to re-ask

    parental.write_text(parental.read_text().replace(V1, V2))
    remote.write_text(remote.read_text().replace("3 days", "3 days").replace("HR portal", "HR portal or by e-mail"))
    said: list[str] = []
    second = ingest(ledger, ops, [Source.from_path(parental), Source.from_path(remote)], progress=lambda m, d, t: said.append(m))
    assert [r.status for r in second] == ["new_version", "new_version"]
    [run] = _runs(ledger)  # one run for the whole batch, not one per document
    p = run["payload"]
    assert run["actor"] == "freshness" and p["reason"] == "new_version" and p["questions"] == 2
    assert p["trigger"] == {"by": "ops", "doc_ids": sorted(r.doc_id for r in second)}
    assert p["regressions"] == 0 and p["failures"] == [] and all(s["stale"] == 0 for s in p["scores"].values())
    assert p["sources"] == {r.doc_id: 2 for r in second}
    assert "freshness: 2 golden question(s) re-asked, no failure" in said
    # Every answer of the run is audited as a simulation by the freshness actor, for each principal.
    answers = ledger.audit.records(kinds=["answer"], actor="freshness")
    assert {a["payload"]["simulated_for"] for a in answers} == set(ledger.policy.principal_names())


def test_a_stale_fact_after_re_ingestion_is_a_recorded_failure_shown_on_the_overview(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    ledger = _home(tmp_path)
    ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
    parental = write_doc("parental.md", V1.replace("16 weeks", "20 weeks"), title="Parental leave")
    ingest(ledger, ops, [Source.from_path(parental)])
    # The "new" version brings the old figure back: the golden set says 16 weeks is stale.
    parental.write_text(parental.read_text().replace("20 weeks", "16 weeks"))
    [again] = ingest(ledger, ops, [Source.from_path(parental)])
    assert again.status == "new_version" and again.version == 2  # stored all the same: the check never undoes an ingest
    [run] = _runs(ledger)
    assert run["payload"]["regressions"] > 0
    assert any("still state a fact of an older version" in f for f in run["payload"]["failures"])
    shown = evaluation(ledger, alice)
    assert shown["last"]["record_id"] == run["record_id"]
    assert any("still state a fact of an older version" in f for f in shown["failures"])


def test_the_policy_switch_turns_it_off(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    ledger = _home(tmp_path, on_new_version="off")
    ops = ledger.policy.principal("ops")
    parental = write_doc("parental.md", V1, title="Parental leave")
    ingest(ledger, ops, [Source.from_path(parental)])
    parental.write_text(parental.read_text().replace(V1, V2))
    assert ingest(ledger, ops, [Source.from_path(parental)])[0].status == "new_version"
    assert _runs(ledger) == []


def test_a_bad_switch_value_fails_at_policy_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from core.errors import PolicyError
    from core.policy.engine import load_policy

    (tmp_path / "g.yaml").write_text(GOLDEN)
    folder = golden_policies(tmp_path, tmp_path / "g.yaml", on_new_version="sometimes")
    with pytest.raises(PolicyError) as err:
        load_policy(folder)
    assert err.value.field == "evaluation.on_new_version"


def test_a_broken_golden_set_fails_at_policy_load_naming_the_question(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from core.errors import PolicyError
    from core.policy.engine import load_policy

    (tmp_path / "g.yaml").write_text("- question: How long?\n  source: parental.md\n  answer_contains: ''\n")
    with pytest.raises(PolicyError) as err:
        load_policy(golden_policies(tmp_path, tmp_path / "g.yaml"))
    assert err.value.field == "evaluation.golden_set" and "question 1: field 'answer_contains'" in str(err.value)
