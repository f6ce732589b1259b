"""Issue 16's reproductions, on SQLite and PostgreSQL: a subject erased however written, previewed
and confirmed; failing certificates keep the request open; dry runs keep nothing decryptable."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from core.answering.ask import ask
from core.rag.documents import get_document
from core.erasure.requests import ConfirmationRequired, cancel, confirm, create_request, get_request, preview, subject_of
from core.rag.ingest import Source, ingest
from core.erasure.purge import execute
from core.rag.retrieval import retrieve

SSN = "078-05-1120"
PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter in detail. " * 6
PROBES = [
    "Who is the case officer?", "What is Helena Marchetti's social security number?", "Who took the minutes of the budget meeting?",
    "Who received the award for the speak-up programme?", "What is on the onboarding checklist?", "Which SSN is on the payroll list for March?",
    "Who owns the weekend rota?", "Who reviews every report?", "What is the SSN of the case officer?", "Tell me about Marchetti",
    "Who is H. Marchetti?", "Which officer has SSN 078-05-1120?", "Who signed the award letter?", "When does the weekend rota start?",
    "Who is Dr. Helena Marchetti?",
]


def _write(folder: Path, name: str, body: str, front: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"groups": "[all-staff]", "classification": "internal", **(front or {})}
    path = folder / name
    path.write_text("---\n" + "".join(f"{k}: {v}\n" for k, v in meta.items()) + "---\n" + body + "\n")
    return path


def issue_corpus(folder: Path) -> dict[str, Path]:
    """Every spelling the adversarial pass found missed, plus documents that must survive."""
    return {
        "line_break": _write(folder, "case-notes.md", f"## Officer\n\nThe case officer is Helena\nMarchetti, SSN {SSN}, who reviews every report. {PAD}\n\n"
                                                      f"## Canteen\n\nThe canteen serves lentil soup on Fridays, reference ZXQ-SOUP-0001. {PAD}", {"title": "Case notes"}),
        "file_name": _write(folder, "helena-marchetti_onboarding.md", f"Onboarding checklist: laptop, badge and a desk on floor 3. {PAD}"),
        "owner": _write(folder, "rota.md", f"The weekend rota starts at 8:00 and ends at 16:00 for the support desk. {PAD}",
                        {"title": "Weekend rota", "owner": "Helena Marchetti"}),
        "title_prefix": _write(folder, "award.md", f"The award for the speak-up programme went to Dr. Helena Marchetti this year. {PAD}", {"title": "Awards 2026"}),
        "initial": _write(folder, "budget-minutes.md", f"Minutes of the budget meeting were taken by H. Marchetti and circulated on Monday. {PAD}",
                          {"title": "Budget meeting minutes"}),
        "ssn_only": _write(folder, "payroll.md", f"Payroll list for March: the record with SSN {SSN} moves to the new bank account. {PAD}", {"title": "Payroll March"}),
        "control": _write(folder, "it-news.md", f"Ana from IT and Anabel finished the analysis of the laptop fleet; laptops lock after 5 minutes. {PAD}",
                          {"title": "IT news"}),
    }


@pytest.fixture
def issue_ledger(any_ledger, tmp_path):  # type: ignore[no-untyped-def]
    ops = any_ledger.policy.principal("ops")
    ids = {k: ingest(any_ledger, ops, [Source.from_path(p)])[0].doc_id for k, p in issue_corpus(tmp_path / "docs").items()}
    return any_ledger, ids


def _cli(ledger, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    from core.cli import cli
    from core.cli_commands import purge  # noqa: F401  (attaches the command)

    env = {"RAGLEDGER_HOME": str(ledger.settings.home), "RAGLEDGER_DATABASE_URL": ledger.settings.database_url, "RAGLEDGER_USER": "alice"}
    return CliRunner().invoke(cli, ["purge", *args], env=env, input=input, catch_exceptions=False)


def _leaks(text: str) -> list[str]:
    """An independent check (not the matcher under test): the surname, or the SSN in any format."""
    found = re.findall(r"marchetti", text, re.I)
    found += [SSN] if re.sub(r"\D", "", SSN) in re.sub(r"\D", "", text) else []
    return found


def test_issue_reproduction_every_spelling_is_erased_and_carol_gets_nothing(issue_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = issue_ledger
    dry = _cli(ledger, "--subject", "Helena Marchetti", "--scope", "chunks", "--requested-by", "DSR-2026-016", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    summary = json.loads(dry.stdout)
    matched = {m["doc_id"] for m in summary["matches"]}
    assert matched == {ids[k] for k in ("line_break", "file_name", "owner", "title_prefix", "initial", "ssn_only")}
    kinds = {(m["doc_id"], m["where"], m["kind"]) for m in summary["matches"]}
    assert (ids["owner"], "front matter 'owner'", "as given") in kinds and (ids["file_name"], "title", "as given") in kinds
    assert (ids["initial"], "chunk 1", "initial") in kinds and any(k[0] == ids["ssn_only"] and k[2].startswith("linked ") for k in kinds)
    assert all("[[" in m["passage"] for m in summary["matches"])
    assert summary["search"]["full_text_index"]["candidates"] > 0  # the index answered (no swallowed phrase-query error)
    stored = get_request(ledger, summary["request_id"]).preview
    assert "Marchetti" not in json.dumps(stored) and SSN not in json.dumps(stored)  # passages are shown, never stored

    with pytest.raises(ConfirmationRequired, match="does not match"):  # typed wrong: refused
        _cli(ledger, "--request", summary["request_id"], input="Helena\n")
    assert ledger.store.count(f"doc_id = '{ids['initial']}'") > 0  # nothing was erased
    preview(ledger, ledger.policy.principal("alice"), summary["request_id"])
    run = _cli(ledger, "--request", summary["request_id"], input="Helena Marchetti\n")
    assert run.exit_code == 0, run.output
    assert "Verified clean: yes" in run.output
    ledger.store.refresh()  # the CLI's purge was another handle's commit

    assert get_document(ledger, ids["file_name"])["status"] == "erased"  # the name is its title: every chunk carried it
    rota = get_document(ledger, ids["owner"])
    assert rota["status"] == "active" and rota["owner"] == "[erased]" and rota["chunk_count"] > 0
    assert get_document(ledger, ids["control"])["status"] == "active" and ledger.store.count(f"doc_id = '{ids['control']}'") > 0
    canteen = ask(ledger, ledger.policy.principal("carol"), "Which day does the canteen serve lentil soup?")
    assert "Fridays" in canteen.answer
    carol = ledger.policy.principal("carol")
    for question in PROBES:
        result = ask(ledger, carol, question)
        shown = result.answer + "\n".join(c.text + c.title for c in result.citations)
        assert not _leaks(shown), (question, shown)
    for name in ledger.policy.principal_names():  # every role, every spelling: nothing retrievable
        for spelling in ("Helena Marchetti", "Helena\nMarchetti", "H. Marchetti", "Dr. Helena Marchetti", "helena-marchetti", SSN):
            hits = retrieve(ledger, ledger.policy.principal(name), spelling, k=20).hits
            assert not [h.chunk_id for h in hits if _leaks(h.row["text"] + h.row["title"])], (name, spelling)


def test_a_short_name_matches_whole_words_only(issue_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = issue_ledger
    out = _cli(ledger, "--subject", "Ana", "--requested-by", "DSR-2026-017", "--dry-run", "--json")
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["doc_ids"] == [ids["control"]] and summary["documents"] == 1
    assert [m["passage"].count("[[") for m in summary["matches"]] == [1]  # "Ana", not "Anabel" or "analysis"
    assert "[[Ana]] from IT and Anabel" in summary["matches"][0]["passage"]


def test_a_real_purge_needs_the_typed_subject_and_honours_exclusions(issue_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = issue_ledger
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, subject="Helena Marchetti", requested_by="DSR-2026-018", scope="chunks")
    with pytest.raises(ConfirmationRequired):
        execute(ledger, alice, request.request_id)
    summary = preview(ledger, alice, request.request_id)
    with pytest.raises(ConfirmationRequired, match="does not match"):
        confirm(ledger, alice, request.request_id, "helena marchetti")
    keep = [m["match_id"] for m in summary["matches"] if m["doc_id"] == ids["initial"]]  # the officer decides H. Marchetti is someone else
    confirm(ledger, alice, request.request_id, "Helena Marchetti", exclude=keep)
    cert = execute(ledger, alice, request.request_id)
    assert cert.verified_clean, cert.remaining
    assert cert.verification["subject_scan"] == {"matches_left": 0, "excluded_kept": len(keep), "left": []}
    assert ledger.store.count(f"doc_id = '{ids['initial']}'") > 0 and ledger.store.count(f"doc_id = '{ids['title_prefix']}'") == 0


def test_a_failing_certificate_leaves_the_request_open_and_a_rerun_continues(issue_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = issue_ledger
    alice, ops = ledger.policy.principal("alice"), ledger.policy.principal("ops")
    request = create_request(ledger, alice, subject="Helena Marchetti", requested_by="DSR-2026-019", scope="chunks")
    preview(ledger, alice, request.request_id)
    confirm(ledger, alice, request.request_id, "Helena Marchetti")
    late = _write(tmp_path / "late", "late-memo.md", f"A late memo: Helena Marchetti approved the new rota. {PAD}", {"title": "Late memo"})

    def ingest_during_the_purge(step: str, i: int, n: int) -> None:  # a mention written after the plan was fixed
        if step == "registry":
            ingest(ledger, ops, [Source.from_path(late)])

    cert = execute(ledger, alice, request.request_id, progress=ingest_during_the_purge)
    assert not cert.verified_clean and cert.remaining["subject_matches_left"]
    assert cert.remaining["subject_matches_left"][0]["where"] == "chunk 1"
    from core.erasure.proof import certificate_markdown

    page = certificate_markdown(cert)
    assert "Verified clean: NO" in page and "What remains" in page and f"purge --request {request.request_id}" in page
    state = get_request(ledger, request.request_id)
    assert state.status == "incomplete" and subject_of(ledger, request.request_id) == "Helena Marchetti"
    # The re-run finds what remains (the late memo), never "nothing to do".
    again = preview(ledger, alice, request.request_id)
    assert {m["where"] for m in again["matches"]} == {"chunk 1"} and again["chunks"] >= 1
    confirm(ledger, alice, request.request_id, "Helena Marchetti")
    final = execute(ledger, alice, request.request_id)
    assert final.verified_clean and final.attempt == 2
    assert get_request(ledger, request.request_id).status == "certified" and subject_of(ledger, request.request_id) is None


def test_an_undecodable_lance_file_fails_the_proof_by_name(issue_ledger) -> None:  # type: ignore[no-untyped-def]
    from core.erasure.proof import scan_disk

    ledger, ids = issue_ledger
    stray = ledger.settings.lance_dir / "extra" / "stray.lance"
    stray.parent.mkdir()
    stray.write_bytes(b"not a lance file")
    report = scan_disk(ledger, ["ZXQ-SOUP-0001"])
    assert report["lance_files_not_decodable"] == 1 and report["not_decodable"][0]["file"] == "lance/extra/stray.lance"
    assert report["lance_files_decoded"] > 0 and report["raw_formats"]
    alice = ledger.policy.principal("alice")
    request = create_request(ledger, alice, doc_id=ids["control"], requested_by="DSR-2026-020")
    cert = execute(ledger, alice, request.request_id)
    assert not cert.verified_clean and cert.remaining["lance_files_not_decodable"][0]["file"] == "lance/extra/stray.lance"
    assert get_request(ledger, request.request_id).status == "incomplete"


def _sealed_subjects_left(ledger) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with ledger.engine.connect() as conn:
        sealed = conn.execute(text("SELECT COUNT(*) FROM erasure_requests WHERE subject_sealed IS NOT NULL")).scalar()
        keys = conn.execute(text("SELECT COUNT(*) FROM sealing_keys WHERE ref LIKE 'req:%' AND wrapped IS NOT NULL")).scalar()
    return sealed, keys


def test_a_dry_run_keeps_nothing_decryptable_after_certification(issue_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger, ids = issue_ledger
    alice = ledger.policy.principal("alice")
    dry = json.loads(_cli(ledger, "--subject", "Helena Marchetti", "--requested-by", "DSR-2026-021", "--dry-run", "--json").stdout)
    dry_initial = json.loads(_cli(ledger, "--subject", "H. Marchetti", "--requested-by", "DSR-2026-021", "--dry-run", "--json").stdout)
    other = json.loads(_cli(ledger, "--subject", "Ana", "--requested-by", "DSR-2026-022", "--dry-run", "--json").stdout)
    real = _cli(ledger, "--subject", "Helena Marchetti", "--scope", "chunks", "--requested-by", "DSR-2026-021", "--yes")
    assert real.exit_code == 0 and "Verified clean: yes" in real.output, real.output
    ledger.store.refresh()
    for rid in (dry["request_id"], dry_initial["request_id"]):
        closed = get_request(ledger, rid)
        assert closed.status == "cancelled" and closed.cancel_reason.startswith("superseded by era_")
        assert subject_of(ledger, rid) is None
    assert subject_of(ledger, other["request_id"]) == "Ana"  # another person's open request is untouched
    assert _sealed_subjects_left(ledger) == (1, 1)
    cancelled = _cli(ledger, "--cancel", other["request_id"], "--reason", "withdrawn (DSR-2026-022)")
    assert cancelled.exit_code == 0, cancelled.output
    assert get_request(ledger, other["request_id"]).status == "cancelled" and _sealed_subjects_left(ledger) == (0, 0)
    with pytest.raises(Exception, match="cancelled"):
        cancel(ledger, alice, other["request_id"], "again")
    if ledger.engine.dialect.name == "sqlite":  # no byte of the identifiers is left in the database files
        from core.erasure.purge import vacuum_sqlite

        vacuum_sqlite(ledger)
        db = Path(ledger.settings.database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert b"Marchetti" not in raw and b"marchetti" not in raw
