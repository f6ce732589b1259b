"""Asking a question: retrieve under access control, redact per role, answer, guard, audit."""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.answering.abstention import I_DONT_KNOW, Decision, decide
from core.policy.actions import ASK
from core.rag.answerers import Passage, get_answerer
from core.rag.chunk_store import spans_of
from core.errors import RagLedgerError
from core.audit.events import AnswerServed
from core.audit.guard import require_audited
from core.rag.languages import question_language
from core.ledger import Ledger
from core.locks import store_lock
from core.rag.pii import Span
from core.policy.engine import Principal
from core.rag.question_redaction import redact_question as stored_question
from core.rag.redaction import Redactor, guard, redact_shown, redactor_for
from core.rag.retrieval import DEFAULT_K, retrieve
from core.answering.router import ALONE, EXTRACTIVE, Route, choose, local_generator, signals
from core.models.serving import check_serving, production_answerer
from core.answering.url_guard import keep_cited_urls

MAX_QUESTION_CHARS = 2000


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    score: float
    text: str  # the redacted passage, as the asker may see it
    used: bool = False


@dataclass
class AskResult:
    answer: str
    citations: list[Citation]
    redactions: dict[str, int]
    audit_id: str
    withheld: int
    latency_ms: float
    answerer: str
    knows: bool = True
    guard_redactions: dict[str, int] = field(default_factory=dict)
    # When the answer abstains: the closest passages, shown as "see also" and never cited as sources.
    see_also: list[Citation] = field(default_factory=list)
    abstention: dict[str, Any] = field(default_factory=dict)  # decision, reason, scores, thresholds
    route: dict[str, Any] = field(default_factory=dict)  # core/answering/router.py: the route, why, the scores that decided
    # Every passage retrieved, in rank order (1-based), before abstention chose what to show: the golden
    # set's recall@k and drift read it, so one retrieval serves both the answer and the evaluation.
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # {rank, doc_id, chunk_id, score, similarity}

    @property
    def shown(self) -> list[Citation]:
        """Every passage the asker was shown: the citations, or the see-also passages of an abstained answer."""
        return self.citations + self.see_also

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        keys = ("n", "doc_id", "chunk_id", "title", "score", "text", "used")
        d["citations"] = [{k: c[k] for k in keys} for c in d["citations"]]
        d["see_also"] = [{k: c[k] for k in keys} for c in d["see_also"]]
        return d


def ask(ledger: Ledger, principal: Principal, question: str, *, k: int = DEFAULT_K, answerer: str | None = None,
        simulated_by: Principal | None = None, route: str | None = None, vector: np.ndarray | None = None) -> AskResult:
    """Answer `question` as `principal`. With `simulated_by`, a compliance officer sees what the
    principal would receive; the audit record is then the officer's, marked as a simulation.
    Without `answerer`, the router (core/answering/router.py) picks the route; `route` forces one (benches,
    tests), still refused when the asker may not use it. `vector`: the question's embedding when the
    caller has it (the golden set asks one question as every principal and embeds it once)."""
    # Held shared from retrieval to the audit append: a purge cannot erase a cited document (and
    # destroy its key) between the two, which would leave this answer readable under a fresh key.
    with store_lock(ledger, exclusive=False):
        return _ask(ledger, principal, question, k, answerer, simulated_by, route, vector)


def _ask(ledger: Ledger, principal: Principal, question: str, k: int, answerer: str | None,
         simulated_by: Principal | None, forced_route: str | None = None, vector: np.ndarray | None = None) -> AskResult:
    started = time.perf_counter()
    actor = simulated_by or principal
    require_audited(ledger, principal if simulated_by is None else simulated_by, ASK.name if simulated_by is None else "policy.simulate", "chat")
    question = question.strip()
    if not question:
        raise RagLedgerError("the question is empty", hint="type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise RagLedgerError(f"the question is {len(question)} characters long", hint=f"keep it under {MAX_QUESTION_CHARS}")

    check_serving(ledger)  # a flagged embedder that policy forbids answers nothing (core/models/serving.py)
    retrieval = retrieve(ledger, principal, question, k, vector=vector)
    redactor = redactor_for(ledger, principal)
    passages, citations = [], []
    # Per passage, what its redaction hid and what the guard's scan added: an answer that abstains
    # shows only its see-also passages, and the counts must be of what was shown.
    hidden: list[Counter[str]] = []
    scanned: list[Counter[str]] = []
    for n, hit in enumerate(retrieval.hits, start=1):
        before = Counter(redactor.counts)
        # The guard covers everything shown beside the answer too: each passage and its title.
        text, hid_text = redact_shown(redactor, hit.row["text"], [Span.from_dict(s) for s in spans_of(hit.row)], ledger.recognizers)
        title, hid_title = redact_shown(redactor, hit.row["title"], [Span.from_dict(s) for s in json.loads(hit.row.get("title_spans") or "[]")],
                                        ledger.recognizers)
        hidden.append(Counter(redactor.counts) - before)
        scanned.append(Counter(hid_text) + Counter(hid_title))
        passages.append(Passage(n, title, text, hit.fused, hit.vector_score))
        citations.append(Citation(n, hit.row["doc_id"], hit.chunk_id, title, round(hit.fused, 5), text))

    language = question_language(question) or "en"
    rule = ledger.policy.files.abstention
    routed: Route | None = None
    if answerer is None and (ledger.policy.files.routing.enabled or forced_route is not None):
        routed = choose(ledger, principal, signals(question, passages, retrieval.hits, language), forced=forced_route)
        engine = get_answerer("extractive") if routed.route == EXTRACTIVE else local_generator(ledger, routed.generator)
    else:
        engine = get_answerer(answerer or production_answerer(ledger))
    if routed is not None and routed.route == ALONE:
        # From the weights alone: nothing shown supports it, so it cites nothing; the closest passages
        # are offered to check it against. Served only because policy or the caller allowed this route.
        result = engine.answer_alone(question)
        decision = Decision(result.knows, "" if result.knows else "the generator gave no answer", None)
    else:
        result = engine.answer(question, passages)
        # Terms are compared in the question's language (its stop words and stems) when it is clear.
        decision = decide(question, passages, result.used, result.knows, rule, language=language)
    see_also: list[Citation] = []
    if routed is not None and routed.route == ALONE:
        answer_text, guarded_answer = (_guard(ledger, redactor, result.text) if decision.answers else (I_DONT_KNOW, {}))
        answer_text = keep_cited_urls(answer_text, [])  # no passage was given: every URL is the model's own
        see_also, citations = citations[:rule.see_also], []
        shown = range(len(see_also))
    elif decision.answers:
        answer_text, guarded_answer = _guard(ledger, redactor, result.text)
        answer_text = keep_cited_urls(answer_text, passages)  # URLs no shown passage contains are dropped
        shown = range(len(citations))
    else:
        # Nothing is cited: the answer is a fixed sentence and the closest passages are offered to read.
        answer_text, guarded_answer = I_DONT_KNOW, {}
        see_also, citations = citations[:rule.see_also], []
        shown = range(len(see_also))
    redactor.counts.clear()  # counted again over what is shown: passages not shown hid nothing from the asker
    for i in shown:
        redactor.counts.update(hidden[i])
    redactor.counts.update(guarded_answer)
    guarded = dict(Counter(guarded_answer) + sum((scanned[i] for i in shown), Counter()))
    for c in citations:
        c.used = c.n in result.used

    latency = (time.perf_counter() - started) * 1000
    route_record = routed.audit() if routed is not None else {"route": "requested" if answerer else "fixed", "answerer": engine.identity,
                                                              "reason": "answerer named by the caller" if answerer else "routing is off in policy"}
    asked = stored_question(ledger, question)  # redacted with the corpus's known PII; sealed under the people it names
    audit_id = ledger.audit.append(
        AnswerServed(
            actor=actor.name,
            actor_role=actor.role,
            question=asked.text,
            subject_docs=asked.subject_docs,
            asked_about=asked.subjects,
            answer=answer_text,
            cited=[{"n": c.n, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "score": c.score,
                    "content_hash": retrieval.hits[c.n - 1].row["content_hash"], "used": c.used} for c in citations],
            withheld=retrieval.withheld,
            redactions=dict(redactor.counts),
            guard_redactions=guarded,
            answerer=engine.identity,
            embedder=ledger.embedder.identity,
            latency_ms=round(latency, 2),
            simulated_for=principal.name if simulated_by else None,
            abstention=decision.audit(rule),
            see_also=[{"n": c.n, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "score": c.score,
                       "content_hash": retrieval.hits[c.n - 1].row["content_hash"]} for c in see_also],
            route=route_record,
        )
    )
    retrieved = [{"rank": n, "doc_id": h.row["doc_id"], "chunk_id": h.chunk_id, "score": round(h.fused, 5),
                  "similarity": round(float(h.vector_score), 5)} for n, h in enumerate(retrieval.hits, start=1)]
    return AskResult(answer_text, citations, dict(redactor.counts), audit_id, len(retrieval.withheld), round(latency, 2),
                     engine.identity, decision.answers, guarded, see_also, decision.audit(rule), route_record, retrieved)


def _guard(ledger: Ledger, redactor: Redactor, text: str) -> tuple[str, dict[str, int]]:
    """Last line of defence over the answer: see core.rag.redaction.guard."""
    return guard(redactor, text, ledger.policy.files.analyzed_entities, ledger.recognizers)
