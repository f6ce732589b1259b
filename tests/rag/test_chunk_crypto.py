"""Encryption at rest of the chunk store, with the real LanceDB, key vault, MiniLM and Presidio."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.rag.chunk_crypto import PREFIX, normalise_terms
from core.rag.chunk_store import ChunkStore
from core.config import REPO_ROOT
from core.errors import StoreError
from core.rag.ingest import Source, ingest
from core.rag.retrieval import retrieve
from core.audit.sealing import destroy_keys, key_ref_for_doc
from tests.conftest import make_ledger

SECRET = "Zanzibarite Quokkafeld negotiated the Wexhollow settlement"
BODY = f"## Settlement\n\n{SECRET} for eleven thousand crowns on behalf of the harbour pilots. " + "The committee reviewed the budget and the staffing plan for the coming quarter. " * 6


def _decoded_strings(table_dir: Path) -> str:
    """Every string of every Lance data and index file under the table folder, decoded: what a
    stolen disk holds (Lance compresses strings, so a plain grep proves nothing)."""
    from core.erasure.proof import _decode_lance  # the erasure proof's own decoder

    out: list[str] = []
    files = [p for p in table_dir.rglob("*") if p.suffix in (".lance", ".idx")]
    assert files
    for p in files:
        text, why = _decode_lance(p)
        assert text is not None, f"{p}: {why}"
        out.append(text)
    for p in table_dir.rglob("*"):  # manifests, transactions: raw bytes
        if p.is_file() and p.suffix not in (".lance", ".idx"):
            out.append(p.read_bytes().decode("utf-8", errors="ignore"))
    return "\n".join(out).lower()


@pytest.fixture
def sealed_doc(any_ledger, write_doc):  # type: ignore[no-untyped-def]
    ops = any_ledger.policy.principal("ops")
    doc = ingest(any_ledger, ops, [Source.from_path(write_doc("pilots.md", BODY, title="Harbour pilots settlement Quokkafeld"))])[0].doc_id
    return any_ledger, doc


def test_a_stolen_disk_holds_no_chunk_text_and_no_plain_term(sealed_doc) -> None:  # type: ignore[no-untyped-def]
    ledger, doc = sealed_doc
    assert ledger.chunk_cipher is not None  # the shipped policy: encryption on
    found = _decoded_strings(ledger.settings.lance_dir / "chunks.lance")
    for term in ("zanzibarite", "quokkafeld", "wexhollow", "harbour", "crowns", "settlement", "committee"):
        assert term not in found, term
    assert PREFIX in found  # the content is there, sealed
    # ... and the application still reads it: retrieval, full text, the exhaustive scan.
    hits = retrieve(ledger, ledger.policy.principal("alice"), "Who negotiated the Wexhollow settlement?", k=3).hits
    assert hits and SECRET in hits[0].row["text"] and "Quokkafeld" in hits[0].row["title"]
    assert {r["doc_id"] for r in ledger.store.text_candidates("Wexhollow Quokkafeld", ["doc_id", "text"])} == {doc}
    assert json.loads(hits[0].row["pii_spans"])  # the spans are sealed with the text and come back


def test_destroying_the_document_key_makes_its_chunks_unreadable_at_once(sealed_doc) -> None:  # type: ignore[no-untyped-def]
    ledger, doc = sealed_doc
    alice = ledger.policy.principal("alice")
    assert any(h.row["doc_id"] == doc for h in retrieve(ledger, alice, "Wexhollow settlement", k=5).hits)
    with ledger.engine.begin() as conn:
        assert destroy_keys(conn, [key_ref_for_doc(doc)]) >= 1
    # No compaction has run: the rows are still in the Lance files, and nobody can read them.
    assert ledger.store.count(f"doc_id = '{doc}'") > 0
    assert not any(h.row["doc_id"] == doc for h in retrieve(ledger, alice, "Wexhollow settlement", k=5).hits)
    assert all(r["text"] == "" and r["title"] == "" for r in ledger.store.all_rows(["doc_id", "text", "title"]))
    assert ledger.store.text_candidates("Wexhollow", ["doc_id", "text"])[0]["text"] == ""


def test_a_plaintext_store_is_refused_then_migrated(tmp_path, write_doc) -> None:  # type: ignore[no-untyped-def]
    from core.rag.chunk_migrate import rewrite_store

    off = tmp_path / "policies-off"
    shutil.copytree(REPO_ROOT / "policies", off)
    text = (off / "policy.yaml").read_text().replace('encryption: "on"', "encryption: off")
    (off / "policy.yaml").write_text(text)
    plain = make_ledger(tmp_path / "home", policies=off)
    assert plain.chunk_cipher is None
    doc = ingest(plain, plain.policy.principal("ops"), [Source.from_path(write_doc("pilots.md", BODY))])[0].doc_id
    assert "wexhollow" in _decoded_strings(plain.settings.lance_dir / "chunks.lance")

    on = make_ledger(tmp_path / "home")
    with pytest.raises(StoreError) as refused:
        on.store.count()
    assert "ragledger store encrypt" in refused.value.hint
    result = rewrite_store(on, encrypt=True)
    assert result["rewritten"] == result["chunks"] > 0
    assert "wexhollow" not in _decoded_strings(on.settings.lance_dir / "chunks.lance")
    hits = retrieve(on, on.policy.principal("alice"), "Who negotiated the Wexhollow settlement?", k=3).hits
    assert hits[0].row["doc_id"] == doc and SECRET in hits[0].row["text"]
    # The way back, refused the other way round first.
    plain = make_ledger(tmp_path / "home", policies=off)
    with pytest.raises(StoreError, match="encrypted"):
        plain.store.count()


@pytest.mark.parametrize(("text", "terms"), [
    ("Kündigungsfrist der Müller", ["kundigungsfrist", "der", "muller"]),
    ("The laptops are locked", ["laptop", "lock"]),
    ("snake_case ID-42", ["snake", "case", "id", "42"]),
    # LanceDB stems first, then drops its stop words: "does" -> "doe" stays, "having" -> "have" goes.
    ("What does having a dog do", ["doe", "dog"]),
])
def test_terms_are_normalised_as_the_plaintext_index_does(text: str, terms: list[str]) -> None:
    assert normalise_terms(text) == terms


def test_plaintext_store_without_cipher_is_unchanged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ChunkStore(tmp_path)
    assert store.fts_column == "text" and store.text_index == "text_idx"
