"""Property: personal values injected into real documents, at random places (inside a sentence, across a
chunk boundary, in the title, in the front matter), never reach an employee (strict profile), neither
in an answer nor in a cited passage or title. Real ingestion (Presidio, spaCy, MiniLM, LanceDB on disk)
and the real ask path; values come from Faker in nine locales, so no recognizer was written for them."""
from __future__ import annotations

import json
import random

import pytest
from faker import Faker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.answering.ask import ask
from core.rag.chunk_store import id_predicate, spans_of
from core.config import REPO_ROOT
from core.rag.ingest import Source, ingest
from core.rag.pii import Span
from core.rag.redaction import guard, redactor_for
from tests.conftest import make_ledger

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE"]
BODY = (REPO_ROOT / "demo_corpus" / "policies" / "remote-work.md").read_text().split("---", 2)[2]
KINDS = ["name", "phone", "email", "iban", "card", "ssn", "street"]
PLACES = ["sentence", "boundary", "title", "front_matter"]


def _value(kind: str, locale: str, seed: int) -> str:
    f = Faker(locale)
    f.seed_instance(seed)
    return {"name": f.name, "phone": f.phone_number, "email": f.email, "iban": f.iban,
            "card": f.credit_card_number, "ssn": Faker("en_US").ssn, "street": f.street_address}[kind]().replace("\n", ", ")


def _document(value: str, place: str, seed: int) -> tuple[str, str]:
    """A Markdown document holding `value` at `place`; returns (text, title)."""
    rng = random.Random(seed)
    sentences = [s.strip() + "." for s in BODY.replace("\n", " ").split(".") if len(s.strip()) > 20]
    title = f"Remote work note {seed}"
    owner = "policy-team"
    if place == "title":
        title = f"Remote work request of {value}"
    elif place == "front_matter":
        owner = value
    elif place == "sentence":
        at = rng.randrange(len(sentences))
        sentences.insert(at, f"The request was filed for {value} and approved.")
    else:  # across a chunk boundary: the value ends one sentence and the next starts right after it
        at = len(sentences) // 2
        sentences.insert(at, f"Questions go to {value}")
    body = " ".join(sentences)
    return f"---\ntitle: {title}\ngroups: [all-staff]\nclassification: internal\nowner: {owner}\n---\n{body}\n", title


def _pieces(value: str) -> list[str]:
    """What must not be shown: the value, and each of its words or digit groups that identifies on its own
    (not a street type, particle or honorific: core.workbench.redaction_leaks.GENERIC)."""
    from core.workbench.redaction_leaks import GENERIC

    words = [w for w in value.replace(",", " ").split() if len(w) >= 4 and any(c.isalpha() for c in w) and w.casefold() not in GENERIC]
    digits = "".join(c for c in value if c.isdigit())
    return [value] + words + ([digits] if len(digits) >= 6 else [])


@pytest.fixture(scope="module")
def home(tmp_path_factory):  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path_factory.mktemp("inject") / "home")
    ledger.embedder.embed_query("warm up")
    return ledger


@settings(max_examples=14, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), locale=st.sampled_from(LOCALES), place=st.sampled_from(PLACES), seed=st.integers(0, 10**6))
def test_an_employee_is_never_shown_an_injected_personal_value(home, kind, locale, place, seed) -> None:  # type: ignore[no-untyped-def]
    value = _value(kind, locale, seed)
    text, title = _document(value, place, seed)
    ops, carol = home.policy.principal("ops"), home.policy.principal("carol")
    [doc] = ingest(home, ops, [Source(f"inject-{seed}.md", text.encode(), f"test:inject:{seed}")])
    pieces = _pieces(value)
    # Everything carol could be shown of this document, passage by passage, as the ask path renders it.
    home.store.refresh()
    rows = home.store.rows_where(id_predicate("doc_id", [doc.doc_id]))
    assert len(rows) == doc.chunks >= 2
    for row in rows:
        redactor = redactor_for(home, carol)
        shown = redactor.redact(row["text"], [Span.from_dict(s) for s in spans_of(row)])
        shown_title = redactor.redact(row["title"], [Span.from_dict(s) for s in json.loads(row.get("title_spans") or "[]")])
        for part in (shown, shown_title):
            out = guard(redactor, part, home.policy.files.analyzed_entities, home.recognizers)[0]
            assert not [p for p in pieces if p in out], (kind, locale, place, value, out[:300])
    # And the real ask: answer, passages and titles.
    result = ask(home, carol, f"Who is the remote work request of note {seed} for?")
    seen = result.answer + " ".join(c.text + " " + c.title for c in result.citations)
    assert value not in seen
