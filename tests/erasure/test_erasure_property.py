"""Property: a subject erasure leaves zero hits for every role, however the subject was written.

Hypothesis generates spellings (line breaks, case, titles, initials, reversed, diacritics dropped)
and placements (body, file name, front-matter owner, title) over a small corpus; after
`purge --subject NAME --scope chunks`, no role retrieves a chunk naming the person and no active
registry entry names them. The check is independent of core/subject_match.py: the person's
surname, folded, must not appear at all. SQLite only (a fresh home per example); the
reproductions on both databases are in tests/erasure/test_erasure_subjects.py.
"""
from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from core.erasure.requests import confirm, create_request, preview
from core.rag.ingest import Source, ingest
from core.erasure.purge import execute
from core.rag.retrieval import retrieve
from tests.conftest import make_ledger

PEOPLE = [("Helena", "Marchetti"), ("Zoë", "Okonkwo-Baptiste"), ("Jörg", "van Dijk")]
PAD = "The regional office reviewed staffing, budgets and the training calendar for the next quarter. " * 4
SPELLINGS = {
    "plain": lambda f, s: f"{f} {s}",
    "line break": lambda f, s: f"{f}\n{s}",
    "upper": lambda f, s: f"{f} {s}".upper(),
    "lower": lambda f, s: f"{f} {s}".lower(),
    "title": lambda f, s: f"Dr. {f} {s}",
    "title + surname": lambda f, s: f"Ms {s}",
    "initial": lambda f, s: f"{f[0]}. {s}",
    "reversed": lambda f, s: f"{s}, {f}",
    "no diacritics": lambda f, s: _strip(f"{f} {s}"),
}
PLACES = ("body", "file name", "owner", "title")


def _strip(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def _folded(value: str) -> str:
    return " " + re.sub(r"[\W_]+", " ", _strip(value).lower()).strip() + " "


def _doc(folder: Path, i: int, spelling: str, place: str) -> Path:
    body = f"Note {i}: the facilities desk confirmed parking space {40 + i} for the quarter. {PAD}"
    front = {"groups": "[all-staff]", "classification": "internal", "title": f"Facilities note {i}"}
    name = f"note-{i}.md"
    if place == "body":
        body = f"Note {i}: parking space {40 + i} was assigned to {spelling} by the facilities desk. {PAD}"
    elif place == "owner":
        front["owner"] = json.dumps(spelling)
    elif place == "title":
        front["title"] = json.dumps(f"Parking for {spelling}")
    else:  # the file name, and no title: the title is taken from it
        name = re.sub(r"[^\w]+", "-", _strip(spelling).lower()).strip("-") + f"_parking-{i}.md"
        del front["title"]
    path = folder / name
    path.write_text("---\n" + "".join(f"{k}: {v}\n" for k, v in front.items()) + "---\n" + body + "\n")
    return path


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(person=st.sampled_from(PEOPLE),
       mentions=st.lists(st.tuples(st.sampled_from(sorted(SPELLINGS)), st.sampled_from(PLACES)), min_size=1, max_size=3))
def test_subject_erasure_leaves_no_hit_for_any_role(person, mentions) -> None:  # type: ignore[no-untyped-def]
    first, surname = person
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        ledger = make_ledger(root / "home")
        ops, alice = ledger.policy.principal("ops"), ledger.policy.principal("alice")
        paths = [_doc(root / "docs", i, SPELLINGS[kind](first, surname), place) for i, (kind, place) in enumerate(mentions)]
        control = root / "docs" / "control.md"
        control.write_text(f"---\ntitle: Laptop rules\ngroups: [all-staff]\nclassification: internal\n---\nLaptops lock after 5 minutes. {PAD}\n")
        for p in [*paths, control]:
            ingest(ledger, ops, [Source.from_path(p)])
        request = create_request(ledger, alice, subject=f"{first} {surname}", requested_by="DSR-PROPERTY", scope="chunks")
        preview(ledger, alice, request.request_id)
        confirm(ledger, alice, request.request_id, f"{first} {surname}")
        cert = execute(ledger, alice, request.request_id)
        assert cert.verified_clean, cert.remaining

        needle = _folded(surname)
        for name in ledger.policy.principal_names():
            principal = ledger.policy.principal(name)
            for kind, _ in mentions:
                for h in retrieve(ledger, principal, SPELLINGS[kind](first, surname), k=20).hits:
                    assert needle not in _folded(h.row["text"] + " " + h.row["title"]), (name, kind, h.row["title"])
        with ledger.engine.connect() as conn:
            rows = conn.execute(text("SELECT title, owner, source_key, meta FROM documents WHERE status = 'active'")).all()
        assert all(needle not in _folded(" ".join(str(v) for v in r)) for r in rows), rows
        assert ledger.store.count() > 0 and any("Laptop rules" == r[0] for r in rows)
