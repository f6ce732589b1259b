"""Re-analysis over the stored originals: chunk ids and texts stay, spans, types, title spans and the
registry's PII summary follow the current recognizers; progress is reported; missing originals are
skipped, never guessed."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import make_ledger
from core.rag.chunk_store import id_predicate
from core.config import REPO_ROOT
from core.rag.documents import get_document
from core.errors import AccessDenied
from core.rag.ingest import Source, ingest
from core.workbench.policy_admin import reload_policy
from core.workbench.reanalysis import reanalyze

BODY = ("Quarterly access review for the build farm. Contractor badge CX-4410 was revoked after the audit, and the "
        "platform team rotated the deploy keys. Badge CX-4410 must not be reissued without security approval. "
        "The review found no other stale accounts in the build farm.")


@pytest.fixture
def setup(tmp_path, write_doc):  # type: ignore[no-untyped-def]
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    data = yaml.safe_load((policies / "policy.yaml").read_text())
    data["analyzed_entities"].append("BADGE_ID")
    (policies / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    ledger = make_ledger(tmp_path / "home", policies=policies)
    ops = ledger.policy.principal("ops")
    results = ingest(ledger, ops, [Source.from_path(write_doc("review.md", BODY, title="Access review CX-4410")),
                                   Source.from_path(write_doc("other.md", "The canteen opens at eight. " * 20, title="Canteen"))])
    return ledger, policies, [r.doc_id for r in results]


def _chunks(ledger, doc_id):  # type: ignore[no-untyped-def]
    ledger.store.refresh()
    return sorted(ledger.store.rows_where(id_predicate("doc_id", [doc_id])), key=lambda r: r["ord"])


def test_new_recognizer_updates_spans_in_place(setup) -> None:  # type: ignore[no-untyped-def]
    ledger, policies, (doc_id, other_id) = setup
    before = _chunks(ledger, doc_id)
    assert "BADGE_ID" not in get_document(ledger, doc_id)["pii_summary"]
    redaction = yaml.safe_load((policies / "redaction.yaml").read_text())
    redaction["recognizers"].append({"entity": "BADGE_ID", "patterns": [{"name": "badge", "regex": r"\bCX-\d{4}\b", "score": 0.8}]})
    (policies / "redaction.yaml").write_text(yaml.safe_dump(redaction, sort_keys=False))
    reload_policy(ledger)

    seen: list[tuple] = []
    result = reanalyze(ledger, ledger.policy.principal("ops"), progress=lambda *a: seen.append(a), reason="test")
    assert result.documents == 2 and result.skipped == [] and result.changed_chunks >= 1
    assert [s[0] for s in seen] == sorted([doc_id, other_id]) + ["done"]
    after = _chunks(ledger, doc_id)
    assert [c["chunk_id"] for c in after] == [c["chunk_id"] for c in before]  # ids never change
    assert [c["text"] for c in after] == [c["text"] for c in before]
    found = [s for c in after for s in json.loads(c["pii_spans"]) if s["type"] == "BADGE_ID"]
    assert len(found) == 2 and all(c["text"][s["start"]:s["end"]] == "CX-4410" for c in after for s in json.loads(c["pii_spans"]) if s["type"] == "BADGE_ID")
    assert any("BADGE_ID" in c["pii_types"] for c in after)
    assert json.loads(after[0]["title_spans"])[0]["type"] == "BADGE_ID"
    doc = get_document(ledger, doc_id)
    assert doc["pii_summary"]["BADGE_ID"] == 2 and json.loads(doc["title_spans"])[0]["type"] == "BADGE_ID"
    rec = ledger.audit.records(kinds=["reanalysis"])[0]
    assert rec["payload"]["pii_after"]["BADGE_ID"] == 2 and rec["payload"]["reason"] == "test"
    assert ledger.store.count() == len(before) + len(_chunks(ledger, other_id))  # nothing duplicated


def test_missing_original_is_skipped_and_spans_kept(setup) -> None:  # type: ignore[no-untyped-def]
    ledger, _, (doc_id, other_id) = setup
    shutil.rmtree(ledger.settings.uploads_dir / doc_id)
    spans_before = [c["pii_spans"] for c in _chunks(ledger, doc_id)]
    result = reanalyze(ledger, ledger.policy.principal("ops"))
    assert result.skipped == [doc_id] and result.documents == 1
    assert [c["pii_spans"] for c in _chunks(ledger, doc_id)] == spans_before


def test_only_policy_administrators_reanalyse(setup) -> None:  # type: ignore[no-untyped-def]
    ledger, _, _ = setup
    with pytest.raises(AccessDenied):
        reanalyze(ledger, ledger.policy.principal("dave"))
