"""Issue 16 point 10: the small leaks (owner names, existence of unreadable ids, the account list)
and the OpenAI-compatible answerer from the CLI."""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from core.models.datasets import DatasetError, build_dataset
from core.rag.documents import list_documents
from core.errors import NotFound
from core.rag.ingest import Source, ingest
from core.models.lineage import document_lineage
from tests.cli.test_cli import run

FILLER = "The team reviewed the onboarding checklist and the equipment requests for the new starters this month. " * 4
UNKNOWN = "doc_0123456789abcdef"


def _doc(tmp_path, name: str, groups: str, level: str, owner: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(f"---\ntitle: {name}\ngroups: [{groups}]\nclassification: {level}\nowner: {owner}\n---\nOnboarding notes. {FILLER}\n")
    return path


def test_documents_list_redacts_a_personal_owner_for_the_readers_profile(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    ops = ledger.policy.principal("ops")
    personal = ingest(ledger, ops, [Source.from_path(_doc(tmp_path, "a.md", "all-staff, engineering", "internal", "Helena Marchetti"))])[0]
    team = ingest(ledger, ops, [Source.from_path(_doc(tmp_path, "b.md", "all-staff, engineering", "internal", "hr-team"))])[0]
    mail = ingest(ledger, ops, [Source.from_path(_doc(tmp_path, "c.md", "all-staff, engineering", "internal", "helena.marchetti@example.com"))])[0]

    def owners(user: str) -> dict[str, str]:
        return {d["doc_id"]: d["owner"] for d in list_documents(ledger, ledger.policy.principal(user))}

    dave = owners("dave")  # ML engineer: reads documents, may see no names
    assert "Helena" not in json.dumps(dave) and "marchetti" not in json.dumps(dave).lower()
    assert dave[personal.doc_id].startswith("<PERSON") and dave[team.doc_id] == "hr-team"
    assert owners("bob")[personal.doc_id] == "Helena Marchetti", "hr_manager keeps names"
    assert owners("alice")[mail.doc_id] == "helena.marchetti@example.com"


def test_cli_documents_list_json_shows_no_owner_name_to_dave(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    run(home, "ingest", str(_doc(tmp_path, "a.md", "engineering", "internal", "Helena Marchetti")))
    out = run(home, "documents", "list", "--json", "--user", "dave").stdout
    assert "Helena" not in out and "<PERSON" in out


def test_dataset_build_answers_the_same_for_unknown_and_unreadable_ids(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    hr = ingest(ledger, ledger.policy.principal("alice"), [Source.from_path(_doc(tmp_path, "hr.md", "hr", "confidential", "hr-team"))])[0]
    dave = ledger.policy.principal("dave")
    messages = []
    for doc_id in (UNKNOWN, hr.doc_id):
        with pytest.raises(DatasetError) as err:
            build_dataset(ledger, dave, "pairs", doc_ids=[doc_id])
        messages.append(str(err.value).replace(doc_id, "ID"))
    assert messages[0] == messages[1], messages


def test_lineage_answers_the_same_for_unknown_and_unreadable_ids(any_ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = any_ledger
    hr = ingest(ledger, ledger.policy.principal("alice"), [Source.from_path(_doc(tmp_path, "hr.md", "hr", "confidential", "hr-team"))])[0]
    dave = ledger.policy.principal("dave")
    messages = []
    for doc_id in (UNKNOWN, hr.doc_id):
        with pytest.raises(NotFound) as err:
            document_lineage(ledger, dave, doc_id)
        messages.append(str(err.value).replace(doc_id, "ID"))
    assert messages[0] == messages[1], messages
    assert document_lineage(ledger, ledger.policy.principal("alice"), hr.doc_id)["document"]["doc_id"] == hr.doc_id


class _ChatCompletions(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint on loopback: quotes passage [1] and adds a link of its own."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        passage = body["messages"][-1]["content"]
        line = next((ln for ln in passage.splitlines() if "opens at" in ln), passage[:80])
        reply = {"choices": [{"message": {"content": f"{line.strip()} [1] Details: http://evil.example/x"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_openai_http_answerer_from_the_cli(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    doc = tmp_path / "canteen.md"
    doc.write_text("---\ntitle: Canteen\ngroups: [all-staff]\nclassification: internal\n---\n"
                   "The staff canteen opens at 7:30 every weekday morning and closes at 15:00. " + FILLER)
    run(home, "ingest", str(doc))
    monkeypatch.delenv("RAGLEDGER_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("RAGLEDGER_LLM_MODEL", raising=False)
    missing = run(home, "ask", "When does the canteen open?", "--user", "carol", "--answerer", "openai-http", check=False)
    assert missing.returncode == 1 and "unknown answerer" not in missing.stderr
    assert "RAGLEDGER_LLM_BASE_URL" in missing.stderr and "RAGLEDGER_LLM_MODEL" in missing.stderr

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChatCompletions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("RAGLEDGER_LLM_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("RAGLEDGER_LLM_MODEL", "test-model")
        out = json.loads(run(home, "ask", "When does the canteen open?", "--user", "carol", "--answerer", "openai-http", "--json").stdout)
    finally:
        server.shutdown()
    assert "7:30" in out["answer"] and out["citations"]
    assert "evil.example" not in out["answer"], "the output guard removed the endpoint's own link"
