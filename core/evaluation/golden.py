"""Golden-set evaluation (issue 13): questions with the document that must answer each and a fact the
answer must contain, asked as every principal; retrieval recall@k, citation correctness, answer checks
and leaks per principal, compared with a stored baseline.

The questions are asked through "see as" (core/workbench/simulation.py's path: `ask(..., simulated_by=officer)`),
so each is audited as the officer's simulation, never as a question of the principal, and needs
`policy.simulate`. A question whose document a principal may not read is a leak check for that
principal: its document must appear neither among the retrieved passages nor among the citations.
The run itself is one `evaluation` audit record (figures only), which the Overview shows.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.policy.actions import SIMULATE
from core.answering.ask import ask
from core.evaluation.golden_events import EvaluationRun
from core.policy.golden_set import EvaluationError, GoldenQuestion, load_golden  # noqa: F401  (their home before; imported from here)
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.rag.retrieval import DEFAULT_K
from core.stores.tables import DocumentRow

METRICS = ("recall_at_k", "citation_correct", "answer_contains")
TOLERANCE = 0.001  # the run is deterministic (same model, corpus and policy); this only absorbs float noise


class Regression(EvaluationError):
    exit_code = 6


@dataclass
class PrincipalScore:
    principal: str
    readable: int = 0  # questions whose document this principal may read
    recall_at_k: float = 0.0
    citation_correct: float = 0.0
    answer_contains: float = 0.0
    abstained: int = 0
    leaks: int = 0  # unreadable documents retrieved or cited (must be 0)
    stale: int = 0  # answers that still state a fact of an older version (must be 0)
    misses: list[str] = field(default_factory=list)  # questions it may read whose document was not retrieved
    # Per readable question (by question_key): rank and cosine similarity of its document's best passage
    # (None: not retrieved), the documents the answer cited, stale facts shown. Drift compares these.
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EvaluationReport:
    questions: int
    k: int
    scores: list[PrincipalScore]
    regressions: list[str] = field(default_factory=list)
    audit_id: str | None = None
    sources: dict[str, int] = field(default_factory=dict)  # doc_id -> the version this run asked about
    seconds: float = 0.0  # how long the run took (freshness: what it added to the ingest)

    def as_dict(self) -> dict[str, Any]:
        return {"questions": self.questions, "k": self.k, "scores": [asdict(s) for s in self.scores],
                "regressions": self.regressions, "audit_id": self.audit_id, "sources": self.sources,
                "seconds": self.seconds}

    def baseline(self) -> dict[str, Any]:
        return {"k": self.k, "questions": self.questions,
                "scores": {s.principal: {m: getattr(s, m) for m in METRICS} | {"leaks": s.leaks, "stale": s.stale} for s in self.scores}}


def resolve_sources(ledger: Ledger, questions: list[GoldenQuestion]) -> dict[str, DocumentRow]:
    """Each question's source document (by doc_id or by the end of its file path); a clear error names
    the sources that match no active document, or more than one."""
    found, problems = _resolve(ledger, questions)
    if problems:
        raise EvaluationError(f"the golden set names sources that do not resolve to one document: {', '.join(sorted(set(problems)))}",
                              hint="ingest them, or name them by doc_id (ragledger documents list)")
    return found


def resolvable(ledger: Ledger, questions: list[GoldenQuestion]) -> dict[str, DocumentRow]:
    """The sources that resolve to one active document, the others left out (freshness after an ingest)."""
    return _resolve(ledger, questions)[0]


def _resolve(ledger: Ledger, questions: list[GoldenQuestion]) -> tuple[dict[str, DocumentRow], list[str]]:
    from sqlalchemy import select

    with ledger.engine.connect() as conn:
        docs = [DocumentRow.model_validate(dict(r)) for r in conn.execute(
            select(DocumentRow.__table__).where(DocumentRow.status == "active")).mappings()]  # type: ignore[attr-defined]
    found, problems = {}, []
    for q in questions:
        matches = [d for d in docs if d.doc_id == q.source or d.source_key.endswith("/" + q.source.lstrip("/"))]
        if len(matches) == 1:
            found[q.source] = matches[0]
        else:
            problems.append(f"{q.source} ({'no document' if not matches else f'{len(matches)} documents'})")
    return found, problems


def changed_since_last_run(ledger: Ledger, questions: list[GoldenQuestion]) -> list[GoldenQuestion]:
    """Freshness: the questions whose source document has a newer version than the one the last
    evaluation asked about (or that no evaluation has asked about yet)."""
    last = last_evaluation(ledger)
    seen = (last or {}).get("sources", {})
    sources = resolve_sources(ledger, questions)
    return [q for q in questions if seen.get(sources[q.source].doc_id) != sources[q.source].version]


def evaluate(ledger: Ledger, officer: Principal, questions: list[GoldenQuestion], *, principals: list[str] | None = None,
             k: int = DEFAULT_K, baseline: dict[str, Any] | None = None, reason: str = "manual", answerer: str | None = None,
             record: bool = True, trigger: dict[str, Any] | None = None) -> EvaluationReport:
    """Ask the golden set as each principal. `ledger` may be a candidate's view (core/evaluation/promotion_gate.py)
    and `answerer` a candidate generator; such a run is not recorded (`record=False`): its figures go
    into the gate's own record instead, so drift and freshness only ever follow what served."""
    require_audited(ledger, officer, SIMULATE.name, "evaluation")
    if not questions:
        raise EvaluationError("no golden question to ask", hint="with --changed: no source document has a new version since the last run")
    started = time.perf_counter()
    sources = resolve_sources(ledger, questions)
    ledger.follow_active_index()
    # Each question is embedded once (exactly as a question is at ask time) and asked as every principal.
    vectors = {q.question: ledger.embedder.embed_query(q.question) for q in questions}
    scores = [_score(ledger, officer, ledger.policy.principal(name), questions, sources, k, answerer, vectors)
              for name in (principals or ledger.policy.principal_names())]
    report = EvaluationReport(len(questions), k, scores, sources={d.doc_id: d.version for d in sources.values()},
                              seconds=round(time.perf_counter() - started, 2))
    report.regressions = compare(report, baseline or {"scores": {}})
    if not record:
        return report
    # Versions seen by earlier runs are kept, so `--changed` after a partial run still knows them.
    seen = {**(last_evaluation(ledger) or {}).get("sources", {}), **report.sources}
    report.audit_id = ledger.audit.append(EvaluationRun(
        actor=officer.name, actor_role=officer.role, questions=len(questions), k=k, regressions=len(report.regressions),
        scores=report.baseline()["scores"], sources=seen, reason=reason,
        details={s.principal: s.questions for s in scores}, failures=report.regressions, trigger=trigger or {},
        serving={"embedder": ledger.embedder.identity, "answerer": answerer or "production"}, seconds=report.seconds))
    return report


def question_key(question: str) -> str:
    """A short stable key for a golden question in the audit records (which hold figures, not text)."""
    return hashlib.sha256(question.strip().encode()).hexdigest()[:12]


def _score(ledger: Ledger, officer: Principal, who: Principal, questions: list[GoldenQuestion], sources: dict[str, DocumentRow],
           k: int, answerer: str | None, vectors: dict[str, Any]) -> PrincipalScore:
    score = PrincipalScore(who.name)
    recalled = cited_right = contains = 0
    for q in questions:
        doc = sources[q.source]
        readable = who.can_see(json.loads(doc.groups), doc.classification)
        # One retrieval serves the answer and recall@k: the answer carries what it retrieved, ranked.
        result = ask(ledger, who, q.question, k=k, answerer=answerer, simulated_by=officer, vector=vectors[q.question])
        retrieved = {r["doc_id"] for r in result.retrieved}
        cited = [c.doc_id for c in result.citations if c.used] or [c.doc_id for c in result.citations]
        # Everything the principal was shown: the answer, its citations and any see-also passages.
        shown = " ".join([result.answer, *(c.text for c in result.shown)]).casefold()
        stale = sum(1 for fact in q.stale if fact.casefold() in shown)
        score.stale += stale
        if not readable:
            score.leaks += int(doc.doc_id in retrieved or doc.doc_id in {c.doc_id for c in result.shown})
            continue
        score.readable += 1
        score.abstained += int(not result.knows)
        if doc.doc_id in retrieved:
            recalled += 1
        else:
            score.misses.append(q.question)
        cited_right += int(result.knows and doc.doc_id in cited)
        contains += int(q.answer_contains.casefold() in result.answer.casefold())
        best = next((r for r in result.retrieved if r["doc_id"] == doc.doc_id), None)
        score.questions[question_key(q.question)] = {
            "rank": best["rank"] if best else None, "similarity": best["similarity"] if best else None,
            "cited": sorted(set(cited)) if result.knows else [], "stale": stale}
    if score.readable:
        score.recall_at_k = round(recalled / score.readable, 4)
        score.citation_correct = round(cited_right / score.readable, 4)
        score.answer_contains = round(contains / score.readable, 4)
    return score


def compare(report: EvaluationReport, baseline: dict[str, Any]) -> list[str]:
    """What got worse than the baseline: any metric of any principal, and any leak at all."""
    out = []
    before = baseline.get("scores", {})
    for s in report.scores:
        if s.leaks:
            out.append(f"{s.principal}: {s.leaks} question(s) retrieved or cited a document {s.principal} may not read")
        if s.stale:
            out.append(f"{s.principal}: {s.stale} answer(s) still state a fact of an older version of their source")
        old = before.get(s.principal)
        if old is None:
            continue
        for m in METRICS:
            if getattr(s, m) < float(old.get(m, 0.0)) - TOLERANCE:
                out.append(f"{s.principal}: {m} {getattr(s, m):.3f} < baseline {float(old[m]):.3f}")
    return out


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such baseline", hint="run once with --save-baseline to store one") from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}: not a baseline ({exc})", hint="store one with --save-baseline") from None
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise EvaluationError(f"{path}: not a baseline (no 'scores')", hint="store one with --save-baseline")
    return data


def last_evaluation(ledger: Ledger) -> dict[str, Any] | None:
    """The newest evaluation record's time and figures, for the Overview."""
    rows = ledger.audit.records(kinds=[EvaluationRun.kind], limit=1)
    return {"at": rows[0]["at"], **rows[0]["payload"]} if rows else None
