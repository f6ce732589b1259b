"""Issue 16 point 9: new versions only by those who may write every group; relabelling is its own
audited action needing documents.ingest on both label sets. SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from core.answering.ask import ask
from core.rag.documents import list_documents
from core.errors import AccessDenied, IngestError, NotFound
from core.rag.ingest import Source, ingest
from core.rag.relabel import relabel

FILLER = "The finance and HR teams reconciled the payroll accruals for the quarter and agreed the adjustments. " * 4


def _payroll(tmp_path, groups: str, level: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "payroll-review.md"
    path.write_text(f"---\ntitle: Payroll review\ngroups: [{groups}]\nclassification: {level}\n---\n"
                    f"The payroll review found a bonus accrual error of EUR 18,400 in the sales team. {FILLER}\n")
    return path


def test_bob_cannot_refile_an_hr_finance_document_as_all_staff(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The exact reproduction: bob re-ingests a [hr, finance] confidential file as [all-staff] internal."""
    ledger = any_ledger
    alice, bob, carol = (ledger.policy.principal(n) for n in ("alice", "bob", "carol"))
    doc = ingest(ledger, alice, [Source.from_path(_payroll(tmp_path, "hr, finance", "confidential"))])[0]
    path = _payroll(tmp_path, "all-staff", "internal")  # same path, bob's new labels
    with pytest.raises(AccessDenied, match=rf"bob may not file a new version of {doc.doc_id}: it is filed in hr, finance at confidential"):
        ingest(ledger, bob, [Source.from_path(path)])
    stored = next(d for d in list_documents(ledger, alice) if d["doc_id"] == doc.doc_id)
    assert stored["groups"] == ["hr", "finance"] and stored["classification"] == "confidential" and stored["ingested_by"] == "alice"
    answer = ask(ledger, carol, "What bonus accrual error did the payroll review find?")
    assert doc.doc_id not in {c.doc_id for c in answer.citations} and "18,400" not in answer.answer
    denial = ledger.audit.records(kinds=["denial"], limit=1)[0]
    assert denial["actor"] == "bob" and denial["payload"]["target"] == doc.doc_id


def test_relabel_is_audited_and_changes_what_retrieval_allows(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    alice, carol = ledger.policy.principal("alice"), ledger.policy.principal("carol")
    doc = ingest(ledger, alice, [Source.from_path(_payroll(tmp_path, "hr, finance", "confidential"))])[0]
    out = relabel(ledger, alice, doc.doc_id, groups=["all-staff"], classification="internal")
    assert out["old"] == {"groups": ["hr", "finance"], "classification": "confidential"} and out["chunks"] == doc.chunks
    ledger.store.refresh()
    answer = ask(ledger, carol, "What bonus accrual error did the payroll review find?")
    assert doc.doc_id in {c.doc_id for c in answer.citations}, "carol may read it now"
    record = ledger.audit.records(kinds=["relabel"], limit=1)[0]
    assert record["actor"] == "alice" and record["payload"]["new_groups"] == ["all-staff"] and record["payload"]["old_classification"] == "confidential"
    assert ledger.audit.verify().ok
    # The same file, re-ingested with its old labels, is now a relabel in disguise: refused.
    with pytest.raises(IngestError, match="documents relabel"):
        ingest(ledger, alice, [Source.from_path(_payroll(tmp_path, "hr, finance", "confidential"))])


def test_relabel_needs_write_access_to_both_label_sets(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    alice, bob, carol = (ledger.policy.principal(n) for n in ("alice", "bob", "carol"))
    hr_only = ingest(ledger, bob, [Source.from_path(_payroll(tmp_path, "hr", "internal"))])[0]
    with pytest.raises(AccessDenied, match="the new labels \\[finance\\]"):
        relabel(ledger, bob, hr_only.doc_id, groups=["finance"])
    with pytest.raises(AccessDenied):
        relabel(ledger, carol, hr_only.doc_id, groups=["all-staff"])  # carol lacks documents.ingest
    other = tmp_path / "other"
    other.mkdir()
    finance = ingest(ledger, alice, [Source.from_path(_payroll(other, "hr, finance", "confidential"))])[0]
    with pytest.raises(AccessDenied, match="the current labels \\[hr, finance\\]"):
        relabel(ledger, bob, finance.doc_id, groups=["hr"])
    with pytest.raises(NotFound) as unknown:
        relabel(ledger, bob, "doc_0000000000000000", groups=["hr"])
    legal = other / "legal.md"
    legal.write_text("---\ntitle: Settlement\ngroups: [legal]\nclassification: restricted\n---\nSettlement talks continue next week. " + FILLER)
    hidden = ingest(ledger, alice, [Source.from_path(legal)])[0]
    with pytest.raises(NotFound) as unreadable:
        relabel(ledger, bob, hidden.doc_id, groups=["hr"])
    assert str(unknown.value).replace("doc_0000000000000000", "X") == str(unreadable.value).replace(hidden.doc_id, "X"), "no existence leak"
    assert relabel(ledger, bob, hr_only.doc_id, groups=["hr", "all-staff"])["new"]["groups"] == ["hr", "all-staff"]


def test_cli_relabel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.cli.test_cli import run

    home = tmp_path / "home"
    path = _payroll(tmp_path, "hr, finance", "confidential")
    doc_id = json.loads(run(home, "ingest", str(path), "--json").stdout)["doc_id"]
    refused = run(home, "ingest", str(path), "--groups", "all-staff", "--classification", "internal", check=False)
    assert refused.returncode == 1 and f"ragledger documents relabel {doc_id}" in refused.stderr
    out = run(home, "documents", "relabel", doc_id, "--groups", "all-staff", "--classification", "internal", "--user", "alice").stdout
    assert "[hr, finance] confidential -> [all-staff] internal" in out
    assert "relabel" in run(home, "audit", "list", "--kind", "relabel", "--user", "alice").stdout
