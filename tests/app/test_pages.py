"""AppTests of the Chat, Audit trail and Documents pages, for every demo role.

Each test runs the real app (app.py with its per-role navigation) or a page file alone (its own
guard) on a private copy of the session demo corpus: the real LanceDB index, MiniLM, the PII spans
Presidio found at ingestion, and the SQLite audit chain. Questions come from demo_corpus/.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from conftest import make_ledger
from core.answering.ask import ask
from core.config import REPO_ROOT
from ui_support import (
    DEMO_USERS,
    errors,
    expected_pages,
    navigation,
    plain,
    principal,
    sign_in,
    signed_in_as,
    texts,
    widget,
)

CHAT, AUDIT, DOCS = "pages/chat.py", "pages/audit_trail.py", "pages/documents.py"
TITLES = {CHAT: "Ask the documents", AUDIT: "Audit trail", DOCS: "Documents"}
TARGETS = {CHAT: "page:chat", AUDIT: "page:audit", DOCS: "page:documents"}
ACTIONS = {CHAT: "ask", AUDIT: "audit.read", DOCS: "documents.read"}
# What roles.yaml grants today, written out so a policy change that opens a page shows up here.
MENU = {
    "alice": [CHAT, AUDIT, DOCS],
    "bob": [CHAT, DOCS],
    "carol": [CHAT],
    "dave": [CHAT, DOCS],
}
# The exit interview of Tobias Hallberg (hr, confidential) names him and carries his SSN.
HR_QUESTION = "Under which SSN will the final W-2 form of Tobias Hallberg be issued?"
SSN = "287-54-1163"
# From demo_corpus/questions.yaml: answered by the travel policy (all-staff), whose passage names Germany.
TRAVEL = next(q for q in yaml.safe_load((REPO_ROOT / "demo_corpus/questions.yaml").read_text()) if "EUR 42" in q["answer_contains"])


def corpus_front_matter() -> list[dict]:
    docs = []
    for path in sorted((REPO_ROOT / "demo_corpus").rglob("*.md")):
        text = path.read_text()
        if text.startswith("---"):
            docs.append({**yaml.safe_load(text.split("---")[1]), "path": str(path.relative_to(REPO_ROOT / "demo_corpus"))})
    return docs


def audit_records(home: Path, limit: int = 10_000, **filters):  # type: ignore[no-untyped-def]
    return make_ledger(home).audit.records(limit=limit, **filters)


def assistant_text(at) -> str:  # type: ignore[no-untyped-def]
    """What the assistant's messages show (answers, captions, cited passages), not the user's own question."""
    out = []
    for msg in at.chat_message:
        if msg.name == "assistant":
            out += [m.value for m in msg.markdown] + [c.value for c in msg.caption] + [e.label for e in msg.expander]
    return plain("\n".join(out))


def hr_doc_ids(home: Path) -> set[str]:
    ledger = make_ledger(home)
    from core.rag.documents import list_documents

    return {d["doc_id"] for d in list_documents(ledger, ledger.policy.principal("ops")) if "hr" in d["groups"]}


# --- sign-in and navigation ---------------------------------------------------------------------


@pytest.mark.parametrize("user", DEMO_USERS)
def test_sign_in_refuses_a_wrong_password_audits_it_and_gives_the_role_its_menu(ui, user):
    at = ui.sign_in(user, password=f"{user}-wrong")
    assert signed_in_as(at) is None
    assert errors(at) == ["wrong user name or password (demo accounts are listed in the README)"]
    assert [w.label for w in at.text_input] == ["User name", "Password"], "the sign-in form stays"
    failed = audit_records(ui.home, kinds=["sign_in"], actor=user)
    assert [r["payload"]["ok"] for r in failed] == [False]

    sign_in(at, user)
    assert signed_in_as(at) == user and not errors(at)
    assert [r["payload"]["ok"] for r in audit_records(ui.home, kinds=["sign_in"], actor=user)] == [True, False]
    assert TITLES[CHAT] in texts(at), "the first page of the menu is the chat for every role"
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert principal(user).display_name in sidebar and principal(user).role in sidebar
    offered = navigation(at)
    assert offered == expected_pages(user), "navigation = the pages whose action the role holds"
    assert [p for p in offered if p in TITLES] == MENU[user]


def test_a_page_run_without_sign_in_asks_to_sign_in_and_shows_nothing(ui):
    for page in (CHAT, AUDIT, DOCS):
        at = ui.page(page, "alice", run=False)
        del at.session_state["principal"]
        at.run()
        assert [w.value for w in at.warning] == ["Please sign in first."]
        assert TITLES[page] not in texts(at)


def test_a_deep_link_before_sign_in_shows_the_form_and_then_its_page(ui):
    at = ui.app()
    at.switch_page(AUDIT).run()  # the URL /audit, before anyone signed in
    assert [w.value for w in at.warning] == ["Please sign in first."] and TITLES[AUDIT] not in texts(at)
    sign_in(at, "alice")
    assert signed_in_as(at) == "alice" and not errors(at)
    assert TITLES[AUDIT] in texts(at) and TITLES[CHAT] not in texts(at), "the page the link named, not the first of the menu"


# --- every page x every role --------------------------------------------------------------------

CASES = [(user, page) for user in DEMO_USERS for page in (CHAT, AUDIT, DOCS)]


@pytest.mark.parametrize(("user", "page"), CASES, ids=[f"{u}-{Path(p).stem}" for u, p in CASES])
def test_page_opens_only_for_roles_holding_its_action(ui, user, page):
    allowed = page in MENU[user]
    # Every page is registered (hidden when the role lacks it), so its URL reaches the page's guard.
    at = ui.sign_in(user, page)
    if allowed:
        assert not errors(at), errors(at)
        assert TITLES[page] in texts(at)
    else:  # not in the menu, but its URL answers "Access denied", audited as a denial
        assert any(e.startswith("Access denied") for e in errors(at)) and TITLES[page] not in texts(at)
        assert any(d["payload"]["target"] == TARGETS[page] for d in audit_records(ui.home, kinds=["denial"], actor=user))
        assert page not in navigation(at)
        home_denials = len(audit_records(ui.home, kinds=["denial"], actor=user))
        from core.workbench.overview import Filters, overview

        counted = overview(make_ledger(ui.home), principal("alice"), Filters(role=principal(user).role))["denials"]
        assert counted.get(ACTIONS[page], 0) >= 1, "the Overview's Denials chart counts the refused page"

    # The page file alone (as if reached by URL around the menu): its own guard decides, and audits.
    direct = ui.page(page, user)
    if allowed:
        assert not errors(direct) and TITLES[page] in texts(direct)
    else:
        assert TITLES[page] not in texts(direct)
        assert [e for e in errors(direct) if e.startswith("Access denied")], errors(direct)
        denials = audit_records(ui.home, kinds=["denial"], actor=user)
        assert any(d["payload"]["target"] == TARGETS[page] for d in denials) and len(denials) > home_denials


# --- chat ---------------------------------------------------------------------------------------


def test_chat_redacts_per_role_and_carol_gets_no_hr_chunk(ui):
    hr_docs = hr_doc_ids(ui.home)

    bob = ui.sign_in("bob")
    bob.chat_input[0].set_value(HR_QUESTION).run()
    assert not errors(bob), errors(bob)
    shown = assistant_text(bob)
    assert "Tobias" in shown and "Hallberg" in shown, "hr_manager keeps person names"
    assert "<US_SSN>" in shown and SSN not in texts(bob), "and never sees a government id"
    bob_result = bob.session_state["chat_history"][-1]["result"]
    assert {c.doc_id for c in bob_result.citations} & hr_docs, "bob's answer comes from the HR record"
    first = bob.expander[0]
    assert plain(first.label).startswith("[1] Exit interview notes - Tobias Hallberg")
    passage = plain("\n".join(m.value for m in first.markdown))
    assert "issued under SSN <US_SSN>" in passage and "tobias.hallberg@example.net" in passage
    assert "withheld" not in shown, "the asker is not told how many matches access control withheld"

    carol = ui.sign_in("carol")
    carol.chat_input[0].set_value(HR_QUESTION).run()
    assert not errors(carol), errors(carol)
    shown = assistant_text(carol)
    assert "Tobias" not in shown and "Hallberg" not in shown and SSN not in texts(carol)
    assert "I don't know" in shown and all(e.label.startswith("See also") for e in carol.expander)
    assert "withheld" not in shown
    carol_result = carol.session_state["chat_history"][-1]["result"]
    assert not {c.doc_id for c in carol_result.citations + carol_result.see_also} & hr_docs
    record = audit_records(ui.home, record_id=carol_result.audit_id)[0]
    assert not {c["doc_id"] for c in record["payload"]["cited"]} & hr_docs, "no hr chunk reached carol"
    assert {w["doc_id"] for w in record["payload"]["withheld"]} & hr_docs, "they were withheld, and audited"

    # A question she may read: the cited passage is shown, redacted for her role (strict).
    carol.chat_input[0].set_value(TRAVEL["question"]).run()
    answer = plain([m.value for m in carol.chat_message[-1].markdown][0])
    assert "EUR 42" in answer and "[1]" in answer
    details = plain("\n".join(c.value for c in carol.chat_message[-1].caption))
    assert "route: extractive" in details and "overlap" in details, "the answer details name the route and its scores"
    first = carol.chat_message[-1].expander[0]  # the earlier turn's see-also passages come first on the page
    assert plain(first.label).startswith("[1] Business travel and expenses policy")
    passage = plain("\n".join(m.value for m in first.markdown))
    assert "within <LOCATION> is EUR 42" in passage and "Germany" not in passage
    assert passage.startswith("**Meals and per diem**"), "the chunk's heading is a bold line, not a page heading"
    assert len(carol.chat_message) == 4, "the chat keeps its history"


def test_chat_says_i_dont_know_and_offers_see_also_passages_uncited(ui):
    """bob may not read the restricted salary review: no answer, no citation, the closest passages he may read."""
    bob = ui.sign_in("bob")
    bob.chat_input[0].set_value("At what percentage of base payroll was the 2024 salary review budget set?").run()
    assert not errors(bob), errors(bob)
    answer = plain([m.value for m in bob.chat_message[-1].markdown][0])
    assert answer.startswith("I don't know") and "[1]" not in answer and "EUR 400" not in answer
    result = bob.session_state["chat_history"][-1]["result"]
    assert result.citations == [] and result.see_also
    labels = [plain(e.label) for e in bob.expander]
    assert labels == [f"See also: {c.title}" for c in result.see_also], "see-also passages only, none shown as a source"
    assert "did not answer the question" in assistant_text(bob)
    passage = plain("\n".join(m.value for m in bob.expander[0].markdown))
    assert passage and "salary review" not in passage.lower()
    record = audit_records(ui.home, record_id=result.audit_id)[0]
    assert record["payload"]["abstention"]["abstained"] and record["payload"]["cited"] == []


# --- audit trail ----------------------------------------------------------------------------------


def test_audit_trail_verifies_lists_answers_drills_down_and_exports(ui):
    ledger = make_ledger(ui.home)
    asked = ask(ledger, ledger.policy.principal("bob"), HR_QUESTION)
    ask(ledger, ledger.policy.principal("carol"), TRAVEL["question"])
    total = ledger.audit.count()

    at = ui.sign_in("alice", AUDIT)
    assert not errors(at), errors(at)
    assert [s.value for s in at.success][0].startswith(f"Hash chain verifies: {total + 1} records")  # + alice's sign-in

    widget(at.multiselect, "Kind").set_value(["answer"]).run()
    trail = at.dataframe[0].value
    assert list(trail["kind"]) == ["answer", "answer"] and list(trail["actor"]) == ["carol", "bob"]
    assert list(trail["cited"]) == [5, 5] and trail.iloc[1]["withheld"] == asked.withheld
    assert SSN not in trail.to_string()

    widget(at.text_input, "Record id to inspect").input(asked.audit_id).run()
    assert [s.value for s in at.subheader if s.value.startswith("Record")][0].endswith("answer by bob (hr_manager)")
    shown = texts(at)
    assert "**Question:** Under which SSN" in shown and SSN not in shown
    cited, withheld = at.dataframe[1].value, at.dataframe[2].value
    assert list(cited["chunk_id"]) == [c.chunk_id for c in asked.citations]
    assert "Exit interview notes - Tobias Hallberg" in set(cited["title"])
    assert len(withheld) == asked.withheld and asked.withheld >= 1
    redactions = json.loads(at.json[0].value)
    assert redactions["retrieval"] == asked.redactions == {"US_SSN": 1}

    widget(at.button, "Prepare JSONL export").click().run()
    widget(at.button, "Prepare CSV export").click().run()
    assert {b.label for b in at.download_button} == {"Download JSONL", "Download CSV", "Download JSONL manifest", "Download CSV manifest"}
    lines = [json.loads(line) for line in at.session_state["export_jsonl"].splitlines() if line.strip()]
    # The export honours the page's filters (Kind: answer) and its manifest says so.
    assert {r["record_id"] for r in lines} == set(trail["record_id"]) and asked.audit_id in {r["record_id"] for r in lines}
    assert at.session_state["export_jsonl_manifest"]["filters"] == {"kinds": ["answer"]} and total > len(lines)
    rows = list(csv.DictReader(io.StringIO(at.session_state["export_csv"])))
    assert asked.audit_id in {r["record_id"] for r in rows} and len(rows) == len(lines)


def test_audit_trail_drill_down_says_an_answer_abstained_and_why(ui):
    ledger = make_ledger(ui.home)
    asked = ask(ledger, ledger.policy.principal("bob"), "At what percentage of base payroll was the 2024 salary review budget set?")
    assert not asked.knows and asked.see_also
    at = ui.sign_in("alice", AUDIT)
    widget(at.text_input, "Record id to inspect").input(asked.audit_id).run()
    shown = texts(at)
    assert "**Abstained**" in shown and asked.abstention["reason"] in shown
    see_also = at.dataframe[1].value
    assert list(see_also["chunk_id"]) == [c.chunk_id for c in asked.see_also] and "(erased)" not in set(see_also["title"])


def test_audit_trail_offers_a_records_inclusion_proof(ui):
    from core.audit.proofs import verify_bundle
    from core.audit.events import Denied

    ledger = make_ledger(ui.home)
    record_id = ledger.audit.append(Denied(actor="carol", actor_role="employee", action="purge", target="x"))
    at = ui.sign_in("alice", AUDIT)
    assert "signed checkpoint" in [s.value for s in at.success][0]
    widget(at.text_input, "Record id to inspect").input(record_id).run()
    widget(at.button, "Prepare inclusion proof").click().run()
    assert not errors(at), errors(at)
    assert "Download inclusion proof" in {b.label for b in at.download_button}
    proof = at.session_state["proof"]
    assert proof["record"]["record_id"] == record_id
    assert verify_bundle(proof, ledger.audit.checkpointer.vkey())["ok"]


def test_audit_trail_shows_a_broken_chain(ui):
    import sqlite3

    make_ledger(ui.home)  # migrated
    with sqlite3.connect(ui.home / "audit_db" / "ledger.db") as db:
        db.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3")
    at = ui.sign_in("alice", AUDIT)
    broken = [e.value for e in at.error]
    assert broken and broken[0].startswith("Hash chain BROKEN at record 3")
    assert not at.success


# --- documents ------------------------------------------------------------------------------------

UPLOAD = b"""---
title: Team lunch sign-up
---
# Team lunch sign-up

Priya Raman from People Operations collects names for the team lunch on 12 July.
Reply to priya.raman@example.com or call +1 415-555-0136 before Friday.
"""


def test_bob_uploads_markdown_into_hr_and_sees_it_with_its_pii_summary(ui):
    at = ui.sign_in("bob", DOCS)
    before = len(at.dataframe[0].value)
    at.file_uploader[0].set_value(("team-lunch.md", UPLOAD, "text/markdown")).run()
    widget(at.multiselect, "Groups").set_value(["hr"])
    widget(at.selectbox, "Classification").set_value("confidential")
    widget(at.button, "Ingest").click().run()
    assert not errors(at), errors(at)
    done = [plain(s.value) for s in at.success]
    assert len(done) == 1 and done[0].startswith("Team lunch sign-up: new, 1 chunk, PII: "), done
    assert {"EMAIL_ADDRESS 1", "PERSON 1", "PHONE_NUMBER 1"} <= set(done[0].split("PII: ")[1].split(", "))
    docs = at.dataframe[0].value
    assert len(docs) == before + 1
    row = docs[docs["title"] == "Team lunch sign-up"].iloc[0]
    assert (row["groups"], row["classification"], row["owner"]) == ("hr", "confidential", "bob")
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"} <= {p.split()[0] for p in row["PII"].split(", ")}
    assert [r["actor"] for r in audit_records(ui.home, kinds=["ingest"], limit=1)] == ["bob"], "the ingest is audited"
    dave = ui.page(DOCS, "dave")
    assert "Team lunch sign-up" not in set(dave.dataframe[0].value["title"]), "engineering never sees an hr upload"


@pytest.mark.parametrize("user", ["alice", "bob", "dave"])
def test_document_list_is_what_the_role_may_see(ui, user):
    at = ui.sign_in(user, DOCS)
    docs = at.dataframe[0].value
    who = principal(user)
    expected = [d for d in corpus_front_matter() if who.can_see(d["groups"], d["classification"])]
    assert len(docs) == len(expected) > 0
    assert f"{len(expected)} documents visible to you" in texts(at)
    if user == "dave":
        assert set(docs["groups"]) == {"engineering"}
        assert sorted(docs["title"]) == sorted(d["title"] for d in expected)
        assert "confidential" not in set(docs["classification"])
    if user == "bob":
        assert set(docs["groups"]) <= {"hr", "all-staff"} and "restricted" not in set(docs["classification"])
        assert at.file_uploader, "bob may ingest"
        assert widget(at.multiselect, "Groups").options == ["hr", "all-staff"], "into his own groups only"
    if user == "dave":
        assert not at.file_uploader, "dave may read documents but not ingest them"
