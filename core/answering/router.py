"""The answering router (issue 13.4): per question, which of three routes answers it.

- `extractive`: retrieval + the extractive answerer (quotes a sentence; cannot leak what redaction hid);
- `retrieval_generator`: retrieval + the production generator, given the passages as the asker sees them;
- `generator_alone`: the production (fine-tuned) generator answering from its weights, no passages.

Retrieval always runs first, under the asker's access filter: its scores are the confidence signals
(best cosine similarity, best fused score, whether the vector and full-text legs agree on the best
passage, and the abstention overlap of the question's terms with the passages as shown). The policy's
`routing:` section (core.policy.models.Routing) turns them into a route, within a latency budget.

A generator's weights hold its training data. A generator fine-tuned on documents the asker may not
read can repeat them with or without passages, so both generator routes are refused for such an
asker: the registry's lineage (the checkpoint's dataset and the documents of its rows) is checked
against the asker's groups and clearance, and against the redaction profile the training text had.
Every route's answer then passes the same output guard and abstention (core/answering/ask.py). The audit
record names the route, the scores that decided and why each other route was refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.answering.abstention import support
from core.errors import RagLedgerError

if TYPE_CHECKING:
    from core.rag.answerers import Passage
    from core.rag.chunk_store import Hit
    from core.ledger import Ledger
    from core.policy.engine import Principal
    from core.policy.models import Routing
    from core.models.registry import CheckpointInfo

EXTRACTIVE, WITH_RETRIEVAL, ALONE = "extractive", "retrieval_generator", "generator_alone"
ROUTES = (EXTRACTIVE, WITH_RETRIEVAL, ALONE)


class RouteRefused(RagLedgerError):
    """A route asked for explicitly (a bench, a test) may not serve this asker or this question."""


@dataclass(frozen=True)
class Signals:
    """Retrieval's confidence, from the passages as the asker is shown them."""

    similarity: float  # best cosine similarity of question and passage (vector leg)
    fused: float  # best reciprocal-rank fused score
    overlap: float  # best share of the question's content terms a passage (title and text) holds
    agreement: bool  # the best passage was found by both the vector and the full-text leg
    both_legs: float  # share of the passages both legs found
    passages: int

    def as_dict(self) -> dict[str, Any]:
        return {"similarity": round(self.similarity, 4), "fused": round(self.fused, 5), "overlap": round(self.overlap, 4),
                "agreement": self.agreement, "both_legs": round(self.both_legs, 3), "passages": self.passages}


@dataclass
class Route:
    route: str
    reason: str  # why this route, in words, with the scores that decided
    signals: Signals
    budget_ms: float
    refused: dict[str, str] = field(default_factory=dict)  # route -> why it could not serve
    generator: "CheckpointInfo | None" = None
    forced: bool = False

    def audit(self) -> dict[str, Any]:
        """What the answer's audit record keeps: numbers and reasons only, never question terms."""
        return {"route": self.route, "reason": self.reason, "signals": self.signals.as_dict(), "budget_ms": self.budget_ms,
                "refused": dict(self.refused), "generator": self.generator.checkpoint_id if self.generator else None,
                "forced": self.forced}


def signals(question: str, passages: "list[Passage]", hits: "list[Hit]", language: str = "en") -> Signals:
    if not passages:
        return Signals(0.0, 0.0, 0.0, False, 0.0, 0)
    both = [h.vector_score > 0 and h.text_score > 0 for h in hits]
    best = max(range(len(passages)), key=lambda i: passages[i].score)  # the passage ranked first by fusion
    return Signals(similarity=max(p.similarity for p in passages), fused=max(p.score for p in passages),
                   overlap=max(support(question, p, language).overlap for p in passages),
                   agreement=bool(both[best]) if both else False, both_legs=sum(both) / len(both) if both else 0.0,
                   passages=len(passages))


def generator_refusal(ledger: "Ledger", principal: "Principal", ckpt: "CheckpointInfo") -> str | None:
    """Why `principal` may not be answered by generator `ckpt` (None: it may): its training dataset
    holds documents the principal may not read, or text redacted less strictly than the principal's
    profile. A dataset the registry cannot account for refuses too (default deny)."""
    from sqlalchemy import select

    from core.models.datasets import dataset_doc_ids, get_dataset
    from core.errors import NotFound
    from core.stores.tables import DocumentRow

    try:
        dataset = get_dataset(ledger, ckpt.dataset_id)
    except NotFound:
        return f"generator {ckpt.checkpoint_id}: its dataset {ckpt.dataset_id} is not in the registry, so its training data is unknown"
    doc_ids = dataset_doc_ids(ledger, dataset.dataset_id)
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        labels = {r[0]: (json.loads(r[1]), r[2]) for r in conn.execute(select(t.c.doc_id, t.c.groups, t.c.classification).where(t.c.doc_id.in_(doc_ids)))}
    unreadable = [d for d in doc_ids if d not in labels or not principal.can_see(*labels[d])]
    if unreadable:
        return (f"generator {ckpt.checkpoint_id} was trained on dataset {dataset.dataset_id}, which holds chunks of "
                f"{len(unreadable)} of its {len(doc_ids)} document(s) that {principal.name} may not read")
    profiles = ledger.policy.redaction.profiles
    trained = profiles.get(dataset.redaction_profile)
    if trained is None:
        return f"generator {ckpt.checkpoint_id}: its training text was redacted with profile {dataset.redaction_profile!r}, which policy no longer defines"
    entities = ledger.policy.files.analyzed_entities
    kept = lambda p: {e for e in entities if p.rule_for(e).operator == "keep"}  # noqa: E731
    wider = kept(trained) - kept(ledger.policy.profile_for(principal))
    if wider:
        return (f"generator {ckpt.checkpoint_id} was trained on text that keeps {', '.join(sorted(wider))} in clear, "
                f"which {principal.name}'s redaction profile hides")
    return None


def budget_for(rule: "Routing", principal: "Principal") -> float:
    return float(rule.budget_by_role.get(principal.role, rule.latency_budget_ms))


def production_generator(ledger: "Ledger") -> "CheckpointInfo | None":
    from core.models.registry import production

    return production(ledger, "generator", may_serve_flagged=ledger.policy.files.flagged_models_may_serve)


def choose(ledger: "Ledger", principal: "Principal", s: Signals, *, forced: str | None = None) -> Route:
    """The route for a question with retrieval signals `s`. The preferred route by the signals, else
    the next one the asker may use within the budget; the extractive route is the floor (it never
    refuses: it is cheap, and abstains when nothing supports an answer)."""
    rule = ledger.policy.files.routing
    budget = budget_for(rule, principal)
    if forced is not None and forced not in ROUTES:
        raise RouteRefused(f"unknown route {forced!r}", hint=f"one of {', '.join(ROUTES)}")
    refused: dict[str, str] = {}
    ckpt = production_generator(ledger)
    if ckpt is None:
        refused[WITH_RETRIEVAL] = refused[ALONE] = "no generator checkpoint is in production"
    else:
        why = generator_refusal(ledger, principal, ckpt)
        if why is not None:
            refused[WITH_RETRIEVAL] = refused[ALONE] = why
    if ALONE not in refused and not rule.generator_alone_serves_unsupported:
        refused[ALONE] = "its answer would rest on no passage the asker may read (routing.generator_alone_serves_unsupported: false)"
    for route in (WITH_RETRIEVAL, ALONE):
        expected = getattr(rule.expected_ms, route)
        if route not in refused and expected > budget:
            refused[route] = f"expected {expected:.0f} ms, over the budget of {budget:.0f} ms"

    if forced is not None:
        if forced in refused:
            raise RouteRefused(f"route {forced} may not answer {principal.name}: {refused[forced]}", hint="ask without forcing a route")
        return Route(forced, "forced by the caller", s, budget, refused, ckpt if forced != EXTRACTIVE else None, forced=True)

    confident = (s.overlap >= rule.extractive_min_overlap and s.similarity >= rule.extractive_min_similarity
                 and (s.agreement or not rule.extractive_requires_agreement))
    if confident:
        why = (f"confident retrieval: overlap {s.overlap:.2f} >= {rule.extractive_min_overlap}, similarity {s.similarity:.3f}"
               + (", both legs found the best passage" if s.agreement else ""))
        return Route(EXTRACTIVE, why, s, budget, refused)
    if s.passages and s.similarity >= rule.generator_min_similarity:
        preferred = WITH_RETRIEVAL
        why = (f"relevant but not confident: similarity {s.similarity:.3f} >= {rule.generator_min_similarity}, overlap {s.overlap:.2f}"
               + ("" if s.agreement else ", the legs disagree on the best passage"))
    else:
        preferred = ALONE
        why = f"nothing relevant retrieved: similarity {s.similarity:.3f} < {rule.generator_min_similarity}"
    if preferred not in refused:
        return Route(preferred, why, s, budget, refused, ckpt)
    return Route(EXTRACTIVE, f"{why}; {preferred} refused ({refused[preferred]})", s, budget, refused)


def local_generator(ledger: "Ledger", ckpt: "CheckpointInfo"):  # type: ignore[no-untyped-def]
    """The production checkpoint as an answerer (base weights + its LoRA adapter)."""
    from core.rag.answerers.generative import LocalGenerator
    from core.models.training.bases import base_path

    return LocalGenerator(ckpt.checkpoint_id, base_path(ledger, ckpt.base_model_id), Path(ckpt.path),
                          max_new_tokens=ledger.policy.files.routing.max_new_tokens)


def route_summary(route: dict[str, Any]) -> str:
    """The route in words for the asker's answer details. The audit record keeps the full reasons;
    the asker is told a refused route was not available to them, never that its generator learned
    from documents they may not read (that would tell them such documents exist)."""
    name = route.get("route")
    if name not in ROUTES:
        return f"route: {name}" if name else ""
    s = route.get("signals") or {}
    parts = [f"route: {name.replace('_', ' + ', 1) if name == WITH_RETRIEVAL else name.replace('_', ' ')}"]
    if s:
        parts.append(f"similarity {s.get('similarity', 0):.2f}, overlap {s.get('overlap', 0):.2f}, "
                     + ("both search legs agree" if s.get("agreement") else "the search legs disagree"))
    if route.get("forced"):
        parts.append("forced")
    return " · ".join(parts)
