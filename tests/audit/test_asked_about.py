"""Who asked about whom (core/audit/asked_about.py): with the real stores (LanceDB, MiniLM, Presidio, SQLite
and PostgreSQL), questions keep the data subjects they named, sealed; an officer finds them by name;
a subject purge makes them unreadable and unfindable while the log still verifies, proofs included."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from core.answering.ask import ask
from core.workbench.audit_views import list_trail
from core.erasure.requests import confirm, create_request, preview
from core.errors import AccessDenied, RagLedgerError
from core.rag.ingest import Source, ingest
from core.audit.verify import verify_ledger
from core.audit.proofs import prove, verify_bundle
from core.erasure.purge import execute

PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter in detail. " * 6
HELENA = "Helena Marchetti"
NOBODY = "Jonathan Pryce-Whitaker"  # named in a question, held by no document


@pytest.fixture
def asked(any_ledger, write_doc):  # type: ignore[no-untyped-def]
    ops = any_ledger.policy.principal("ops")
    for name, body, title in (("officer.md", f"The whistleblowing officer is {HELENA} (helena.marchetti@example.org), badge NW-10482. {PAD}", "Speak-up contacts"),
                              ("laptops.md", f"All laptops lock after 5 minutes of inactivity under rule ZXQ-DELTA-4420. {PAD}", "Laptop rules")):
        ingest(any_ledger, ops, [Source.from_path(write_doc(name, body, title=title))])
    bob = any_ledger.policy.principal("bob")
    ids = {
        "dr": ask(any_ledger, bob, "Is Dr. Helena Marchetti the whistleblowing officer?").audit_id,
        "initial": ask(any_ledger, bob, "After how many minutes do laptops lock for H. Marchetti?").audit_id,
        "nobody": ask(any_ledger, any_ledger.policy.principal("carol"), f"What did {NOBODY} say about the budgets?").audit_id,
        "plain": ask(any_ledger, bob, "After how many minutes do laptops lock?", k=1).audit_id,
    }
    return any_ledger, ids


def _found(ledger, about: str, **filters) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["record_id"] for r in list_trail(ledger, ledger.policy.principal("alice"), about=about, **filters)}


def test_an_officer_finds_the_questions_about_a_person_however_written(asked) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = asked
    assert _found(ledger, "helena marchetti", kinds=["answer"]) == {ids["dr"], ids["initial"]}
    assert _found(ledger, "DR. HELENA MARCHETTI", kinds=["answer"]) == {ids["dr"], ids["initial"]}
    assert _found(ledger, "Dr. Jonathan Pryce-Whitaker", kinds=["answer"]) == {ids["nobody"]}
    assert _found(ledger, NOBODY, kinds=["answer"], actor="bob") == set()  # the other filters still apply
    assert _found(ledger, "Priya Raman") == set()
    record = ledger.audit.records(record_id=ids["initial"])[0]
    assert record["text"]["question"] == "After how many minutes do laptops lock for <PERSON>?"
    assert record["text"]["asked_about"] == [{"type": "PERSON", "as_written": "H. Marchetti", "keys": ["h marchetti", "helena marchetti"]}]


def test_the_search_is_audited_and_no_name_is_stored_in_clear(asked) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = asked
    _found(ledger, HELENA, kinds=["answer"])
    search = ledger.audit.records(kinds=["audit_search"])[0]
    assert (search["actor"], search["payload"]) == ("alice", {"filters": {"kinds": ["answer"]}, "results": 2})
    assert search["text"] == {"about": HELENA}  # readable to the officer, sealed in the database
    with ledger.engine.connect() as conn:
        stored = [json.dumps([list(r) for r in conn.execute(text(f"SELECT * FROM {t}"))])
                  for t in ("asked_subjects", "asked_records")]
        stored += [json.dumps([list(r) for r in conn.execute(text("SELECT payload, key_refs, sealed FROM audit_records"))])]
    for s in stored:
        assert "marchetti" not in s.lower() and "pryce" not in s.lower()


def test_only_audit_readers_search_and_bad_input_is_refused(asked) -> None:  # type: ignore[no-untyped-def]
    ledger, _ = asked
    with pytest.raises(AccessDenied):
        list_trail(ledger, ledger.policy.principal("carol"), about=HELENA)
    assert ledger.audit.records(kinds=["denial"])[0]["payload"]["target"] == "audit"
    with pytest.raises(RagLedgerError, match="too short"):
        list_trail(ledger, ledger.policy.principal("alice"), about=" Al ")
    assert ledger.audit.records(kinds=["audit_search"]) == []


def _purge(ledger, subject: str) -> dict:  # type: ignore[no-untyped-def]
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, subject=subject, requested_by="DSR-2026-077", scope="chunks")
    summary = preview(ledger, alice, request.request_id)
    confirm(ledger, alice, request.request_id, subject)
    return summary | {"certificate": execute(ledger, alice, request.request_id)}


def test_a_purge_of_a_person_no_document_holds_erases_the_questions_about_them(asked) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = asked
    _found(ledger, NOBODY)  # an officer's earlier search names the subject too
    done = _purge(ledger, NOBODY)
    assert done["questions_naming_subject"] == 2 and done["documents"] == 0  # the answer and the search
    assert done["certificate"].verified_clean
    assert _found(ledger, NOBODY) == set()
    gone = ledger.audit.records(record_id=ids["nobody"])[0]
    assert gone["erased"] and gone["text"] == {}
    search = [r for r in ledger.audit.records(kinds=["audit_search"]) if r["erased"]]
    assert len(search) == 1  # the search made before the purge; the one just now names a fresh key
    kept = ledger.audit.records(record_id=ids["dr"])[0]
    assert not kept["erased"] and _found(ledger, HELENA, kinds=["answer"]) == {ids["dr"], ids["initial"]}
    _log_still_proves(ledger, ids["nobody"])


def test_a_purge_of_a_person_with_documents_erases_the_questions_about_them(asked) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = asked
    done = _purge(ledger, HELENA)
    assert done["questions_naming_subject"] == 2 and done["certificate"].verified_clean
    assert _found(ledger, HELENA) == set() and _found(ledger, "H. Marchetti") == set()
    assert all(ledger.audit.records(record_id=ids[k])[0]["erased"] for k in ("dr", "initial"))
    assert not ledger.audit.records(record_id=ids["plain"])[0]["erased"]  # it cited only the laptop rules
    _log_still_proves(ledger, ids["dr"])


def _log_still_proves(ledger, record_id: str) -> None:  # type: ignore[no-untyped-def]
    assert ledger.audit.verify().ok
    result = verify_ledger(ledger)
    assert result.ok, result.findings
    bundle = prove(ledger, record_id, fresh=True)
    assert verify_bundle(bundle, ledger.audit.checkpointer.vkey())["ok"]


def test_the_audit_trail_page_searches_questions_about_a_person_and_exports_them(ledger, write_doc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ui_support import errors, page_as

    monkeypatch.delenv("RAGLEDGER_DATABASE_URL", raising=False)
    ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("officer.md", f"The whistleblowing officer is {HELENA}. {PAD}"))])
    about = ask(ledger, ledger.policy.principal("bob"), "Is Dr. Helena Marchetti the whistleblowing officer?").audit_id
    ask(ledger, ledger.policy.principal("bob"), "Who reviewed the training calendar?")
    at = page_as("pages/audit_trail.py", ledger.settings.home, "alice").run()
    assert not errors(at), errors(at)
    box = next(w for w in at.text_input if w.label.startswith("Questions about"))
    box.input("helena marchetti").run()
    assert not errors(at), errors(at)
    trail = at.dataframe[0].value
    assert list(trail["record_id"]) == [about] and list(trail["question"]) == ["Is Dr. <PROPER_NOUN> the whistleblowing officer?"]
    assert "whose question named that subject" in " ".join(c.value for c in at.caption)
    next(b for b in at.button if b.label == "Prepare JSONL export").click().run()
    assert not errors(at), errors(at)
    exported = [json.loads(line)["record_id"] for line in at.session_state["export_jsonl"].splitlines()]
    manifest = at.session_state["export_jsonl_manifest"]
    # The export is what the filter selects now: the answer and the officer's own search for her.
    search = ledger.audit.records(kinds=["audit_search"])[0]["record_id"]
    assert exported == [about, search] and manifest["complete"] is False and "marchetti" not in json.dumps(manifest).lower()
    assert {"Download JSONL", "Download JSONL manifest"} <= {b.label for b in at.download_button}
    # Reruns (the export click) do not repeat the search in the trail: one search, one export.
    assert [r["kind"] for r in ledger.audit.records(kinds=["audit_search", "audit_export"])] == ["audit_export", "audit_search"]
    box.input("Al").run()
    assert any("too short" in e for e in errors(at))


def test_retention_removes_the_links_of_the_records_it_removes(ledger) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta, timezone

    from core.audit.asked_about import keys_for
    from core.audit.events import AnswerServed, SignIn
    from core.workbench.retention import run as retention_run

    for _ in range(3):
        ledger.audit.append(AnswerServed(actor="bob", actor_role="hr_manager", question="Where is <PERSON>?", answer="-",
                                         asked_about=[{"type": "PERSON", "as_written": HELENA, "keys": keys_for(HELENA)}]))
    assert len(_found(ledger, HELENA, kinds=["answer"])) == 3
    ledger.audit.append(SignIn(actor="bob", actor_role="hr_manager"))
    retention_run(ledger, ledger.policy.principal("ops"), now=datetime.now(timezone.utc) + timedelta(days=3000))
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM asked_records")).scalar() == 0
    assert _found(ledger, HELENA, kinds=["answer"]) == set() and ledger.audit.verify().ok
