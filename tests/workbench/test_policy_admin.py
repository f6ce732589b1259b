"""Policy edits: broken files are refused naming the field (nothing is written); a valid change is
saved, audited, re-analyses the stored documents and changes what a role sees (before/after, with
real ingestion, Presidio, LanceDB and the real ask path)."""
from __future__ import annotations

import shutil

import pytest
import yaml

from conftest import make_ledger
from core.answering.ask import ask
from core.config import REPO_ROOT
from core.errors import AccessDenied, PolicyError
from core.rag.ingest import Source, ingest
from core.workbench.policy_admin import diff, loaded_policies, save, validate

TICKET_DOC = ("Incident follow-up for the payroll outage. The vendor escalation is tracked as ticket TR-55821 "
              "and the payroll team confirmed the fix on Thursday. Employees who saw a failed payment can reply "
              "to the incident thread; the finance team will reissue payments within two business days.")


@pytest.fixture
def policies(tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", folder)
    data = yaml.safe_load((folder / "policy.yaml").read_text())
    data["analyzed_entities"].append("TICKET_REF")  # declared, but no recognizer finds it yet
    (folder / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


@pytest.fixture
def ledger(tmp_path, policies, write_doc):  # type: ignore[no-untyped-def]
    led = make_ledger(tmp_path / "home", policies=policies)
    ingest(led, led.policy.principal("ops"), [Source.from_path(write_doc("incident.md", TICKET_DOC, title="Payroll incident"))])
    return led


@pytest.mark.parametrize("filename, edit, field", [
    ("roles.yaml", lambda t: t.replace("permissions: [ask]\n", "permissions: [ask, fly]\n"), "roles.employee.permissions"),
    ("policy.yaml", lambda t: t.replace("audit_records_days: 400", "audit_records_days: 90"), "retention.audit_records_days"),
    ("redaction.yaml", lambda t: t.replace("{operator: pseudonym}", "{operator: shred}", 1), "profiles.strict.entities.PERSON.operator"),
    ("principals.yaml", lambda t: t.replace("role: employee\n", "role: janitor\n", 1), "principals.carol.role"),
    ("redaction.yaml", lambda t: t + "  - entity: BROKEN\n    patterns:\n      - {name: b, regex: \"([a-z\"}\n", "recognizers.4.patterns.0.regex"),
    ("policy.yaml", lambda t: t + "groups: [oops\n", "line"),
])
def test_broken_policy_is_refused_naming_the_field(ledger, policies, filename, edit, field) -> None:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    original = (policies / filename).read_text()
    edited = edit(original)
    assert edited != original
    result = validate(ledger, alice, filename, edited)
    assert not result.ok and result.field.startswith(field), result.message
    with pytest.raises(PolicyError) as err:
        save(ledger, alice, filename, edited)
    assert field in str(err.value)
    assert (policies / filename).read_text() == original  # nothing written
    assert not ledger.audit.records(kinds=["policy_change"])


def test_audit_retention_under_six_months_names_art_19(ledger, policies) -> None:  # type: ignore[no-untyped-def]
    text = (policies / "policy.yaml").read_text().replace("answer: 730", "answer: 30")
    result = validate(ledger, ledger.policy.principal("alice"), "policy.yaml", text)
    assert result.field == "retention.audit_kinds" and "Art. 19" in result.expected


def test_diff_shows_what_each_role_gains_and_loses(ledger, policies) -> None:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    roles = (policies / "roles.yaml").read_text().replace("permissions: [ask]\n", "permissions: [ask, documents.read]\n")
    d = diff(ledger, alice, "roles.yaml", roles)
    assert d["roles"]["employee"]["permissions_gained"] == ["documents.read"]
    assert all(not r.get("permissions_gained") for name, r in d["roles"].items() if name != "employee")
    principals = (policies / "principals.yaml").read_text().replace(
        "    groups: [all-staff]\n    clearance: internal\n", "    groups: [engineering]\n    clearance: internal\n", 1)
    d = diff(ledger, alice, "principals.yaml", principals)
    carol = d["principals"]["carol"]
    assert [x["title"] for x in carol["documents_lost"]] == ["Payroll incident"] and carol["visible_after"] == 0
    assert d["roles"]["employee"]["principals"]["carol"] is carol and not d["needs_reanalysis"]
    redaction = (policies / "redaction.yaml").read_text().replace("      PERSON: {operator: pseudonym}\n      CREDIT_CARD", "      PERSON: {operator: keep}\n      CREDIT_CARD", 1)
    d = diff(ledger, alice, "redaction.yaml", redaction)
    assert d["roles"]["employee"]["redaction_changes"] == [{"entity": "PERSON", "before": "pseudonym", "after": "keep"}]
    assert d["needs_reanalysis"]


def test_valid_recognizer_change_reanalyses_and_changes_what_carol_sees(ledger, policies) -> None:  # type: ignore[no-untyped-def]
    alice, carol = ledger.policy.principal("alice"), ledger.policy.principal("carol")
    question = "Which ticket tracks the payroll outage vendor escalation?"
    before = ask(ledger, carol, question)
    assert "TR-55821" in " ".join(c.text for c in before.citations)

    text = (policies / "redaction.yaml").read_text() + (
        "  - entity: TICKET_REF\n    patterns:\n      - {name: vendor_ticket, regex: \"\\\\bTR-\\\\d{5}\\\\b\", score: 0.8}\n"
        "    context: [ticket]\n")
    assert validate(ledger, alice, "redaction.yaml", text).ok
    seen = []
    out = save(ledger, alice, "redaction.yaml", text, progress=lambda name, i, n: seen.append((name, i, n)))
    assert out["diff"]["recognizers_added"] == ["TICKET_REF"] and out["reanalysis"]["changed_chunks"] >= 1
    assert seen[-1] == ("done", 1, 1)
    assert ledger.policy.version == out["version"] and ledger.audit.policy_version == out["version"]

    after = ask(ledger, carol, question)
    text_after = " ".join(c.text for c in after.citations)
    assert "TR-55821" not in text_after and "<TICKET_REF>" in text_after
    assert ask(ledger, alice, question).citations[0].text.count("TR-55821") == 1  # compliance keeps it
    change = ledger.audit.records(kinds=["policy_change"])[0]
    assert change["actor"] == "alice" and change["payload"]["filename"] == "redaction.yaml"
    assert change["payload"]["version_after"] == out["version"] != change["payload"]["version_before"]
    assert ledger.audit.records(kinds=["reanalysis"])[0]["payload"]["pii_after"]["TICKET_REF"] == 1
    assert ledger.audit.verify().ok


def test_policy_page_core_is_compliance_only(ledger) -> None:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    assert set(loaded_policies(ledger, alice)["files"]) == {"policy.yaml", "roles.yaml", "principals.yaml", "redaction.yaml"}
    for name in ("bob", "carol", "dave"):
        with pytest.raises(AccessDenied):
            loaded_policies(ledger, ledger.policy.principal(name))


def test_a_role_gaining_an_oversight_permission_is_warned(ledger, policies) -> None:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    roles = (policies / "roles.yaml").read_text().replace("permissions: [ask]\n", "permissions: [ask, audit.read, documents.read]\n")
    d = diff(ledger, alice, "roles.yaml", roles)
    warned = [w for w in d["warnings"] if "'employee'" in w]
    assert len(warned) == 1 and "audit.read" in warned[0] and "carol" in warned[0], d["warnings"]
    assert "documents.read" not in warned[0]  # reading one's own documents is no oversight
    assert not diff(ledger, alice, "roles.yaml", (policies / "roles.yaml").read_text())["warnings"]


def test_an_edit_of_the_checkout_policies_goes_to_the_home_copy(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RAGLEDGER_POLICIES", raising=False)
    led = make_ledger(tmp_path / "home")  # reads the checkout's policies/
    checkout = {p.name: p.read_bytes() for p in (REPO_ROOT / "policies").glob("*.yaml")}
    alice = led.policy.principal("alice")
    text = (REPO_ROOT / "policies" / "policy.yaml").read_text().replace("audit_records_days: 400", "audit_records_days: 500")
    assert text != (REPO_ROOT / "policies" / "policy.yaml").read_text()
    out = save(led, alice, "policy.yaml", text, reanalyze=False)
    assert {p.name: p.read_bytes() for p in (REPO_ROOT / "policies").glob("*.yaml")} == checkout
    home_copy = tmp_path / "home" / "policies"
    assert (home_copy / "policy.yaml").read_text() == text and led.settings.policies_dir == home_copy.resolve()
    assert led.policy.version == out["version"] and "500" in (home_copy / "policy.yaml").read_text()
    assert loaded_policies(led, alice)["directory"] == str(home_copy.resolve())
