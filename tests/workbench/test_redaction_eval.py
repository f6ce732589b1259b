"""`ragledger redaction evaluate` on the held-out test part (real Presidio, the real spaCy models), the
shape of the two corpora (a tuning part and a test part that share no template), and the harness itself
on hand-made cases."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.errors import RagLedgerError
from core.rag.pii import Span
from core.workbench.redaction_eval import TEST_SAMPLES, TUNE_SAMPLES, load_samples, score_detection
from core.workbench.redaction_leaks import value_visible

LOCALES = {"en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE"}


@pytest.fixture(scope="module")
def result(tmp_path_factory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("eval")
    env = {**os.environ, "RAGLEDGER_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "redaction", "evaluate",
                           "--limit", "180", "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (home / "redaction_eval.json").is_file()  # the overview shows the last run
    return json.loads(proc.stdout)


def test_test_part_is_large_multilingual_and_never_shares_a_template_with_tuning() -> None:
    test = load_samples(TEST_SAMPLES)
    tune = [s for p in TUNE_SAMPLES for s in load_samples(p)]
    assert len(test) >= 2000 and {s["locale"] for s in test} == LOCALES
    types = {g["type"] for s in test for g in s["spans"]}
    assert types >= {"PERSON", "STREET_ADDRESS", "POSTCODE", "LOCATION", "PHONE_NUMBER", "EMAIL_ADDRESS", "IBAN_CODE",
                     "CREDIT_CARD", "NATIONAL_ID", "PASSPORT", "DATE_OF_BIRTH", "IP_ADDRESS"}
    assert not {s["template"] for s in test} & {s.get("template") for s in tune}
    assert not {s["text"] for s in test} & {s["text"] for s in tune}


def test_evaluation_reports_the_test_part_per_type_locale_and_profile(result) -> None:  # type: ignore[no-untyped-def]
    assert result["part"] == "test" and "tuning" not in result
    part = result["test"]
    assert part["sentences"] == 180 and set(part["locales"]) == LOCALES
    assert set(part["profiles"]) == {"compliance", "hr", "strict", "engineering"}
    assert set(part["detection"]["per_locale"]) == LOCALES
    strict = part["profiles"]["strict"]
    # The strict profile hides what vanilla Presidio (redacting every finding) leaves readable.
    assert strict["visible_share"] < part["vanilla"]["redact_all"]["visible_share"] / 3
    for name, p in part["profiles"].items():
        assert p["sensitive_visible"] == 0, (name, p["visible_by_type"])


def test_matching_rule_counts_families_and_half_overlaps() -> None:
    samples = [{"text": "Isabelle Dubois met Jonas, SSN 123-45-6789", "locale": "en_US",
                "spans": [{"type": "PERSON", "start": 0, "end": 15}, {"type": "PERSON", "start": 20, "end": 25},
                          {"type": "NATIONAL_ID", "start": 31, "end": 42}]}]
    # "Dubois" alone covers less than half of "Isabelle Dubois": a miss (it overlaps a value, so no false positive)
    d = score_detection(samples, [[Span("PERSON", 9, 15, 0.9), Span("PERSON", 20, 25, 0.9), Span("US_SSN", 31, 42, 0.9)]])
    assert (d["overall"]["tp"], d["overall"]["fn"]) == (2, 1)
    assert d["per_type"]["NATIONAL_ID"]["tp"] == 1  # US_SSN belongs to the NATIONAL_ID family
    d = score_detection(samples, [[Span("LOCATION", 16, 19, 0.9)]])
    assert d["overall"]["fp"] == 1 and d["overall"]["fn"] == 3


def test_a_value_is_visible_when_a_significant_piece_is_left() -> None:
    text = "Lives at 42 Baker Street with Dr. Anna Kowalska"
    assert not value_visible(text, 9, 24, [(12, 17)])      # "42 ... Street" left: identifies nobody
    assert value_visible(text, 9, 24, [(9, 11)])           # "Baker" left
    assert not value_visible(text, 30, 47, [(34, 47)])     # only the honorific left
    assert value_visible(text, 30, 47, [(34, 38)])         # the surname left


def test_user_samples_and_bad_files(tmp_path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"text": "Call 212-555-0147 now", "spans": [{"type": "PHONE_NUMBER", "start": 5, "end": 17}]}) + "\n")
    assert load_samples(path)[0]["spans"][0]["end"] == 17
    path.write_text(json.dumps({"text": "short", "spans": [{"type": "PERSON", "start": 0, "end": 99}]}) + "\n")
    with pytest.raises(RagLedgerError, match="mine.jsonl:1"):
        load_samples(path)
