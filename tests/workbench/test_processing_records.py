"""Records of processing (GDPR Art. 30) from a private copy of the demo corpus after real asks."""
from __future__ import annotations

import csv
import io

import pytest

from conftest import make_ledger
from core.answering.ask import ask
from core.errors import AccessDenied
from core.workbench.processing_records import build, to_csv, to_markdown
from ui_support import copy_home

HR_QUESTION = "Under which SSN will the final W-2 form of Tobias Hallberg be issued?"


@pytest.fixture(scope="module")
def report(demo_home, tmp_path_factory):  # type: ignore[no-untyped-def]
    ledger = make_ledger(copy_home(demo_home, tmp_path_factory.mktemp("proc") / "home"))
    bob, carol = ledger.policy.principal("bob"), ledger.policy.principal("carol")
    asked = ask(ledger, bob, HR_QUESTION)
    ask(ledger, carol, "How many weeks of parental leave do employees get?")
    return ledger, build(ledger, ledger.policy.principal("alice")), asked


def test_categories_and_the_groups_holding_them(report) -> None:  # type: ignore[no-untyped-def]
    ledger, rep, _ = report
    cats = {c["category"]: c for c in rep["categories"]}
    assert {"PERSON", "EMAIL_ADDRESS", "US_SSN", "IBAN_CODE"} <= set(cats)
    assert "hr" in cats["US_SSN"]["groups"] and cats["PERSON"]["documents"] >= 10
    assert set(cats["US_SSN"]["groups"]) <= set(ledger.policy.groups)


def test_recipients_follow_the_audit_log_and_the_role_profiles(report) -> None:  # type: ignore[no-untyped-def]
    _, rep, asked = report
    hr = {r["category"]: r for r in rep["recipients"] if r["role"] == "hr_manager"}
    assert asked.citations and hr["PERSON"]["in_clear"] and hr["PERSON"]["operator"] == "keep"
    assert hr["US_SSN"]["operator"] == "placeholder" and not hr["US_SSN"]["in_clear"]
    assert not [r for r in rep["recipients"] if r["role"] == "compliance_officer"]  # nobody of that role asked
    retention = {r["record"]: r["days"] for r in rep["retention"]}
    assert retention["audit records (default)"] >= 183 and retention["documents"] == "until erased"
    assert any("Access control inside the retrieval query" in s for s in rep["safeguards"])


def test_markdown_and_csv(report) -> None:  # type: ignore[no-untyped-def]
    _, rep, _ = report
    md = to_markdown(rep)
    for heading in ("## Categories of personal data", "## Recipients", "## Retention periods", "## Safeguards"):
        assert heading in md
    rows = list(csv.DictReader(io.StringIO(to_csv(rep))))
    assert {r["section"] for r in rows} == {"category", "recipient", "retention", "safeguard"}
    assert [r for r in rows if r["section"] == "recipient" and r["role"] == "hr_manager" and r["category_or_record"] == "PERSON"]


def test_only_compliance_builds_it(report) -> None:  # type: ignore[no-untyped-def]
    ledger, _, _ = report
    with pytest.raises(AccessDenied):
        build(ledger, ledger.policy.principal("dave"))
