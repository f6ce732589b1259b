"""The model registry without training: external registration and its bad inputs, stage changes by
role, flagging downstream of erased documents (exactly, idempotently), lineage both ways, the
OpenAI-compatible HTTP answerer, and the CLI. Real ingestion, LanceDB, MiniLM folders, SQLite and
PostgreSQL; checkpoints trained "elsewhere" are real sentence-transformers folders."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.models.datasets import DatasetError, build_dataset
from core.errors import AccessDenied
from core.models.lineage import checkpoint_lineage, document_lineage
from core.models.registry import (
    CheckpointError,
    flag,
    flag_documents,
    flag_for_erasure,
    list_checkpoints,
    propose,
    register_external,
    verify_checkpoint,
)
from core.evaluation.lifecycle import promote
from registry_support import chunk_refs, embedder_folder, erase_document, ingest_tidal, registry_counts, tidal_home, write_manifest


@pytest.fixture
def tidal(tmp_path):  # type: ignore[no-untyped-def]
    ledger, docs = tidal_home(tmp_path / "home")
    yield ledger, docs
    from core.db import dispose_engines

    dispose_engines()


def _external(ledger, tmp_path: Path, name: str, **manifest):  # type: ignore[no-untyped-def]
    folder = embedder_folder(tmp_path / name)
    return register_external(ledger, ledger.policy.principal("dave"), folder, write_manifest(tmp_path / f"{name}.json", folder, **manifest))


def test_external_checkpoint_is_registered_with_digests_card_and_lineage(tidal, tmp_path) -> None:
    ledger, docs = tidal
    refs = chunk_refs(ledger, docs["turbine-maintenance"])
    ckpt = _external(ledger, tmp_path, "cluster", rows=refs)
    assert ckpt.kind == "embedder" and ckpt.stage == "candidate" and ckpt.created_by == "dave"
    assert Path(ckpt.path).parent == ledger.settings.models_dir / "checkpoints"
    assert {f["path"] for f in ckpt.files} >= {"config.json", "model.safetensors", "modules.json"}
    assert verify_checkpoint(ledger, ledger.policy.principal("alice"), ckpt.checkpoint_id) == []
    assert "cluster@abc123" in ckpt.model_card and ckpt.dataset_id in ckpt.model_card
    up = checkpoint_lineage(ledger, ledger.policy.principal("alice"), ckpt.checkpoint_id)
    assert up["run"]["status"] == "external" and up["dataset"]["source"] == "manifest"
    assert [d["doc_id"] for d in up["documents"]] == [docs["turbine-maintenance"]]
    down = document_lineage(ledger, ledger.policy.principal("dave"), docs["turbine-maintenance"])
    assert [c["checkpoint_id"] for c in down["checkpoints"]] == [ckpt.checkpoint_id]
    # A stored file that changes afterwards is caught.
    (Path(ckpt.path) / "config.json").write_text("{}")
    assert verify_checkpoint(ledger, ledger.policy.principal("alice"), ckpt.checkpoint_id) == ["config.json"]


def _truncate(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("missing folder", CheckpointError, "does not exist"),
        ("no weights", CheckpointError, "has no model.safetensors"),
        ("corrupt weights", CheckpointError, "is corrupt"),
        ("corrupt config", CheckpointError, "not valid JSON"),
        ("sha256 mismatch", CheckpointError, "sha256 mismatch for model.safetensors"),
        ("unknown base model", CheckpointError, "unknown base model"),
        ("deleted document", DatasetError, "deleted or unknown document"),
    ],
)
def test_bad_external_checkpoints_register_nothing(tidal, tmp_path, case: str, error: type, message: str) -> None:
    ledger, docs = tidal
    folder = embedder_folder(tmp_path / "cluster")
    refs = chunk_refs(ledger, docs["grid-connection"])
    manifest = write_manifest(tmp_path / "m.json", folder, rows=refs)
    if case == "missing folder":
        folder = tmp_path / "nowhere"
    elif case == "no weights":
        (folder / "model.safetensors").unlink()
    elif case == "corrupt weights":
        _truncate(folder)
        manifest = write_manifest(tmp_path / "m.json", folder, rows=refs)  # digests of the corrupt file: still refused
    elif case == "corrupt config":
        (folder / "config.json").write_text("{not json")
    elif case == "sha256 mismatch":
        data = bytearray((folder / "model.safetensors").read_bytes())
        data[-1] ^= 0xFF  # one bit flipped in transit: the header still parses
        (folder / "model.safetensors").write_bytes(bytes(data))
    elif case == "unknown base model":
        manifest = write_manifest(tmp_path / "m.json", folder, rows=refs, base_model="acme/secret-7b")
    elif case == "deleted document":
        erase_document(ledger, docs["grid-connection"])
    with pytest.raises(error, match=message):
        register_external(ledger, ledger.policy.principal("dave"), folder, manifest)
    assert registry_counts(ledger) == {"dataset_versions": 0, "dataset_rows": 0, "training_runs": 0, "checkpoints": 0, "checkpoint_files": 0}
    assert not list((ledger.settings.models_dir / "checkpoints").glob("*")) if (ledger.settings.models_dir / "checkpoints").exists() else True


def test_flagging_an_erased_document_flags_exactly_the_checkpoints_downstream(any_ledger, tmp_path) -> None:
    ledger = any_ledger
    docs = ingest_tidal(ledger, ["turbine-maintenance", "grid-connection", "marine-operations"])
    dave = ledger.policy.principal("dave")
    turbine, grid, marine = docs["turbine-maintenance"], docs["grid-connection"], docs["marine-operations"]
    ds_tg = build_dataset(ledger, dave, "pairs", doc_ids=[turbine, grid])
    ds_gm = build_dataset(ledger, dave, "pairs", doc_ids=[grid, marine])
    ds_m = build_dataset(ledger, dave, "pairs", doc_ids=[marine])
    a = _external(ledger, tmp_path, "a", dataset_id=ds_tg.dataset_id).checkpoint_id
    b = _external(ledger, tmp_path, "b", dataset_id=ds_gm.dataset_id).checkpoint_id
    c = _external(ledger, tmp_path, "c", dataset_id=ds_m.dataset_id).checkpoint_id
    promote(ledger, ledger.policy.principal("alice"), c, "approved")

    erase_document(ledger, turbine)
    assert flag_for_erasure(ledger, [turbine], "era_0001", "trained on data erased by era_0001") == [a]
    stages = {x.checkpoint_id: x for x in list_checkpoints(ledger, ledger.policy.principal("alice"))}
    assert stages[a].stage == "flagged" and stages[a].flag_request_id == "era_0001" and stages[a].prior_stage == "candidate"
    assert stages[b].stage == "candidate" and stages[c].stage == "approved"
    # Idempotent: the same call changes nothing and audits nothing more.
    before = ledger.audit.count()
    assert flag_for_erasure(ledger, [turbine], "era_0001", "trained on data erased by era_0001") == [a]
    assert ledger.audit.count() == before
    # The dataset is flagged and the erased rows' training text is gone; the other rows keep theirs.
    lineage = document_lineage(ledger, ledger.policy.principal("alice"), turbine)
    assert [d["dataset_id"] for d in lineage["datasets"]] == [ds_tg.dataset_id] and lineage["datasets"][0]["flag_request_id"] == "era_0001"
    from core.models.datasets import dataset_rows

    rows = dataset_rows(ledger, ds_tg.dataset_id)
    assert all(r["erased"] and r["input"] == r["target"] == "" for r in rows if r["doc_id"] == turbine)
    assert all(not r["erased"] and r["input"] for r in rows if r["doc_id"] == grid)

    assert sorted(flag_for_erasure(ledger, [grid], "era_0002", "erased by era_0002")) == sorted([a, b])
    assert {x.checkpoint_id: x.stage for x in list_checkpoints(ledger, ledger.policy.principal("alice"))}[c] == "approved"
    assert flag_for_erasure(ledger, ["doc_00000000deadbeef"], "era_0003", "nothing") == []
    events = [r for r in ledger.audit.records(kinds=["checkpoints_flagged"])]
    assert [e["payload"]["checkpoint_ids"] for e in events] == [[b], [a]]  # newest first; a was flagged once


def test_purge_flags_the_checkpoints_trained_on_the_document(tidal, tmp_path) -> None:
    from core.erasure import purge  # a broken import must fail this test, never skip it
    from core.erasure.requests import create_request

    ledger, docs = tidal
    dave, alice = ledger.policy.principal("dave"), ledger.policy.principal("alice")
    hit = _external(ledger, tmp_path, "hit", dataset_id=build_dataset(ledger, dave, "pairs", doc_ids=[docs["marine-operations"]]).dataset_id)
    spared = _external(ledger, tmp_path, "spared", dataset_id=build_dataset(ledger, dave, "pairs", doc_ids=[docs["grid-connection"]]).dataset_id)
    request = create_request(ledger, alice, doc_id=docs["marine-operations"], requested_by="data subject", reason="test")
    purge.execute(ledger, alice, request.request_id)
    by_id = {c.checkpoint_id: c for c in list_checkpoints(ledger, alice)}
    assert by_id[hit.checkpoint_id].stage == "flagged" and by_id[hit.checkpoint_id].flag_request_id == request.request_id
    assert by_id[spared.checkpoint_id].stage == "candidate"


def test_roles_ml_engineers_propose_compliance_promotes(tidal, tmp_path) -> None:
    ledger, docs = tidal
    dave, alice, carol = (ledger.policy.principal(n) for n in ("dave", "alice", "carol"))
    ckpt = _external(ledger, tmp_path, "x", rows=chunk_refs(ledger, docs["grid-connection"]))
    with pytest.raises(AccessDenied):
        promote(ledger, dave, ckpt.checkpoint_id, "production")
    with pytest.raises(AccessDenied):
        list_checkpoints(ledger, carol)
    assert propose(ledger, dave, ckpt.checkpoint_id).proposed_by == "dave"
    assert promote(ledger, alice, ckpt.checkpoint_id, "approved").approved_by == "alice"
    flagged = flag(ledger, dave, ckpt.checkpoint_id, "bad eval on holdout")
    assert flagged.stage == "flagged" and flagged.prior_stage == "approved"
    with pytest.raises(CheckpointError, match="is flagged"):
        promote(ledger, alice, ckpt.checkpoint_id, "production")
    denials = {(r["actor"], r["payload"]["action"]) for r in ledger.audit.records(kinds=["denial"])}
    assert {("dave", "models.approve"), ("carol", "models.read")} <= denials
    # A manual flag by document reaches the same checkpoints as an erasure would.
    other = _external(ledger, tmp_path, "y", rows=chunk_refs(ledger, docs["turbine-maintenance"]))
    assert flag_documents(ledger, alice, [docs["turbine-maintenance"]], "source document disputed") == [other.checkpoint_id]


class _Completions(BaseHTTPRequestHandler):
    reply = "Blades are inspected after each spring tide cycle [1] [9]."
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Completions.seen.append(body)
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": _Completions.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def test_openai_compatible_endpoint_answers_with_citations_and_is_audited(tidal, monkeypatch) -> None:
    from core.rag.answerers.generative import AnswererError
    from core.answering.ask import ask

    ledger, _ = tidal
    server = HTTPServer(("127.0.0.1", 0), _Completions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("RAGLEDGER_LLM_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        monkeypatch.setenv("RAGLEDGER_LLM_MODEL", "smollm2-135m")
        dave = ledger.policy.principal("dave")
        result = ask(ledger, dave, "How often are the rotor blades inspected?", answerer="openai-http")
        assert result.answer.endswith("[1] .") or "[1]" in result.answer
        assert "[9]" not in result.answer  # a citation of a passage that does not exist is removed
        assert result.answerer == f"openai-http:smollm2-135m@127.0.0.1:{server.server_port}"
        prompt = _Completions.seen[-1]["messages"][-1]["content"]
        assert "[1] " in prompt and "Question: How often are the rotor blades inspected?" in prompt
        _Completions.reply = "Every spring tide."  # no citation at all: the best-matching passage is cited
        again = ask(ledger, dave, "How often are the rotor blades inspected?", answerer="openai-http")
        assert again.answer.startswith("Every spring tide. [") and any(c.used for c in again.citations)
        record = ledger.audit.records(kinds=["answer"], limit=1)[0]
        assert record["payload"]["answerer"] == result.answerer
    finally:
        server.shutdown()
    monkeypatch.setenv("RAGLEDGER_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    with pytest.raises(AnswererError, match="did not answer"):
        ask(ledger, ledger.policy.principal("dave"), "How often are the rotor blades inspected?", answerer="openai-http")


def test_cli_models_and_datasets_json(tidal, tmp_path, monkeypatch) -> None:
    from core.cli import cli
    from core.cli_commands import models  # noqa: F401  (attaches the commands)

    ledger, docs = tidal
    monkeypatch.setenv("RAGLEDGER_HOME", str(ledger.settings.home))
    monkeypatch.setenv("RAGLEDGER_DATABASE_URL", ledger.settings.database_url)
    runner = CliRunner()
    built = runner.invoke(cli, ["datasets", "build", "pairs", "--doc", docs["grid-connection"], "--json", "--user", "dave"])
    assert built.exit_code == 0, built.output
    dataset = json.loads(built.stdout)
    assert dataset["docs"] == 1 and dataset["redaction_profile"] == "engineering"
    folder = embedder_folder(tmp_path / "cluster")
    manifest = write_manifest(tmp_path / "m.json", folder, dataset_id=dataset["dataset_id"])
    reg = runner.invoke(cli, ["models", "register", str(folder), "--manifest", str(manifest), "--json", "--user", "dave"])
    assert reg.exit_code == 0, reg.output
    ckpt = json.loads(reg.stdout)["checkpoint_id"]
    listed = json.loads(runner.invoke(cli, ["models", "list", "--json", "--user", "alice"]).stdout)
    assert [c["checkpoint_id"] for c in listed] == [ckpt]
    lineage = json.loads(runner.invoke(cli, ["models", "lineage", docs["grid-connection"], "--json"]).stdout)
    assert [c["checkpoint_id"] for c in lineage["checkpoints"]] == [ckpt]
    flagged = json.loads(runner.invoke(cli, ["models", "flag", "--doc", docs["grid-connection"], "--reason", "disputed", "--json"]).stdout)
    assert flagged == {"flagged": [ckpt]}
    denied = runner.invoke(cli, ["models", "promote", ckpt, "--user", "dave"])
    assert isinstance(denied.exception, AccessDenied)


def test_cli_models_fallback_rebuilds_the_index_of_a_flagged_embedder(tidal, tmp_path, monkeypatch) -> None:
    from core.cli import cli
    from core.cli_commands import models  # noqa: F401  (attaches the commands)
    from core.rag.embedder import BASE_MODEL_ID

    ledger, docs = tidal
    monkeypatch.setenv("RAGLEDGER_HOME", str(ledger.settings.home))
    monkeypatch.setenv("RAGLEDGER_DATABASE_URL", ledger.settings.database_url)
    dave, alice = ledger.policy.principal("dave"), ledger.policy.principal("alice")
    ckpt = _external(ledger, tmp_path, "cluster", dataset_id=build_dataset(ledger, dave, "pairs", doc_ids=[docs["grid-connection"]]).dataset_id)
    promote(ledger, alice, ckpt.checkpoint_id, "production")
    runner = CliRunner()
    idle = json.loads(runner.invoke(cli, ["models", "fallback", "--json", "--user", "alice"]).stdout)
    assert idle["fallback"] is None and idle["embedder"] == ckpt.checkpoint_id and idle["may_serve"]
    flag(ledger, dave, ckpt.checkpoint_id, "bad holdout eval")
    denied = runner.invoke(cli, ["models", "fallback", "--user", "dave"])
    assert isinstance(denied.exception, AccessDenied)
    done = runner.invoke(cli, ["models", "fallback", "--user", "alice"])
    assert done.exit_code == 0, done.output
    assert f"serving fell back from {ckpt.checkpoint_id} to {BASE_MODEL_ID}" in done.output and "re-embedded" in done.output
    assert ledger.active_index()["embedder_id"] == BASE_MODEL_ID and ledger.active_index()["served_before"] == [ckpt.checkpoint_id]
