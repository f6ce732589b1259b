"""Redaction quality, measured on a held-out test part that no rule was tuned on.

Two corpora ship with the project (tests/data/make_pii_corpus.py, Faker, nine locales): the tuning part
(pii_tune.jsonl, with the older hand-written redaction_samples.jsonl) on which recognizers, thresholds and
the allowlist may be tuned, and the test part (pii_test.jsonl: other templates, other seed) whose figures
are the ones reported. Users evaluate their own labelled data with `--samples FILE` (same JSONL shape:
{"text": ..., "spans": [{"type", "start", "end"}], "locale"?: ...}).

Two questions are answered:
- detection, per entity type and locale: precision and recall of the analyzer's typed spans (a prediction
  matches a labelled value of its category family when they overlap by at least half of the longer one);
- exposure, per redaction profile: of the labelled values the profile must hide, how many a reader of that
  profile is still shown after the product's own redaction and guard (core/workbench/redaction_leaks.py), and what
  share of what it hid was personal data (precision).
Vanilla Presidio (same spaCy model, its default recognizers and threshold, every finding redacted) is
measured beside, on the same samples.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from core.rag import pii
from core.rag import pii_types
from core.config import REPO_ROOT
from core.errors import RagLedgerError
from core.rag.pii import Span
from core.rag.redaction import Redactor
from core.workbench.redaction_leaks import ProfileLeaks, score_profile, shown_with_coverage

if TYPE_CHECKING:
    from core.policy.engine import Policy

DATA = REPO_ROOT / "tests" / "data"
TEST_SAMPLES = DATA / "pii_test.jsonl"
TUNE_SAMPLES = (DATA / "pii_tune.jsonl", DATA / "redaction_samples.jsonl")
DEFAULT_SAMPLES = TEST_SAMPLES
RESULT_FILE = "redaction_eval.json"  # under RAGLEDGER_HOME: the overview shows the last run


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:  # None: nothing predicted, so nothing to be precise about
        return round(self.tp / (self.tp + self.fp), 3) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:  # None: no labelled span of this type
        return round(self.tp / (self.tp + self.fn), 3) if self.tp + self.fn else None

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision, "recall": self.recall}


def load_samples(path: Path) -> list[dict]:
    if not path.is_file():
        raise RagLedgerError(f"no sample file at {path}", hint="pass --samples FILE (JSONL with text and spans)")
    samples = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            s = json.loads(line)
            text = s["text"]
            for sp in s["spans"]:
                if not (0 <= sp["start"] < sp["end"] <= len(text)) or not sp["type"]:
                    raise ValueError(f"span {sp} outside the text")
        except (ValueError, KeyError, TypeError) as exc:
            raise RagLedgerError(f"{path}:{n}: not a labelled sample ({exc})",
                                 hint='each line: {"text": "...", "spans": [{"type": "PERSON", "start": 0, "end": 5}]}') from None
        samples.append(s)
    return samples


def _matches(gold: dict, pred: Span) -> bool:
    if pred.entity_type not in pii_types.family(gold["type"]):
        return False
    overlap = min(gold["end"], pred.end) - max(gold["start"], pred.start)
    return overlap > 0 and overlap >= 0.5 * max(gold["end"] - gold["start"], pred.end - pred.start)


def _gold_type_of(pred_type: str, gold_types: set[str]) -> str:
    return next((g for g in gold_types if pred_type in pii_types.family(g)), pred_type)


def score_detection(samples: list[dict], predictions: list[list[Span]]) -> dict[str, Any]:
    """Precision and recall per gold type, per locale, and overall (typed spans only)."""
    gold_types = {g["type"] for s in samples for g in s["spans"]}
    per: dict[str, Scores] = defaultdict(Scores)
    per_locale: dict[str, Scores] = defaultdict(Scores)
    misses: list[dict] = []
    for s, preds in zip(samples, predictions):
        preds = [p for p in preds if p.entity_type not in pii_types.CATCH_ALL]
        locale = s.get("locale", "unknown")
        used: set[int] = set()
        for g in s["spans"]:
            hit = next((i for i, p in enumerate(preds) if i not in used and _matches(g, p)), None)
            for target in (per[g["type"]], per_locale[locale]):
                if hit is None:
                    target.fn += 1
                else:
                    target.tp += 1
            if hit is None:
                misses.append({"missed": g["type"], "value": s["text"][g["start"]:g["end"]], "text": s["text"], "locale": locale})
            else:
                used.add(hit)
        for i, p in enumerate(preds):
            if i not in used and not any(p.start < g["end"] and p.end > g["start"] for g in s["spans"]):
                per[_gold_type_of(p.entity_type, gold_types)].fp += 1
                per_locale[locale].fp += 1
                misses.append({"false_positive": p.entity_type, "value": s["text"][p.start:p.end], "text": s["text"], "locale": locale})
    overall = Scores(sum(x.tp for x in per.values()), sum(x.fp for x in per.values()), sum(x.fn for x in per.values()))
    return {"overall": overall.as_dict(), "per_type": {t: v.as_dict() for t, v in sorted(per.items())},
            "per_locale": {loc: v.as_dict() for loc, v in sorted(per_locale.items())}, "errors": misses[:300]}


def score_exposure(policy: "Policy", samples: list[dict], predictions: list[list[Span]]) -> dict[str, Any]:
    """Per profile: values it must hide that are still shown, and what share of what it hid was personal."""
    entities, recognizers = policy.files.analyzed_entities, tuple(policy.redaction.recognizers)
    out: dict[str, Any] = {}
    for name, profile in sorted(policy.redaction.profiles.items()):
        leaks = ProfileLeaks()
        by_locale: dict[str, ProfileLeaks] = defaultdict(ProfileLeaks)
        for s, spans in zip(samples, predictions):
            redactor = Redactor(profile, b"evaluation", policy.redaction.allowlist)
            shown, covered, hidden = shown_with_coverage(redactor, s["text"], spans, entities, recognizers)
            score_profile(leaks, s, shown, covered, profile, hidden)
            score_profile(by_locale[s.get("locale", "unknown")], s, shown, covered, profile, hidden)
        out[name] = {**leaks.as_dict(), "per_locale": {loc: {k: v for k, v in lk.as_dict().items() if k != "visible_by_type"}
                                                       for loc, lk in sorted(by_locale.items())},
                     "examples": leaks.examples[:50]}
    return out


def vanilla_analyzer():  # type: ignore[no-untyped-def]
    """Presidio as it comes: the small spaCy model and the default recognizers, nothing else."""
    from presidio_analyzer import AnalyzerEngine

    from core.rag.spacy_pipelines import lazy_spacy_engine

    nlp = lazy_spacy_engine({"en": pii.SPACY_MODEL})  # Presidio's own spaCy engine; the loaded pipeline is shared
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def _vanilla_exposure(samples: list[dict], predictions: list[list[Span]]) -> dict[str, Any]:
    """Vanilla Presidio redacting every finding: how many labelled values stay visible (same scoring
    as a profile whose every type is a placeholder)."""
    from core.policy.models import RedactionProfile

    hide_all = RedactionProfile(description="vanilla Presidio: every finding redacted")
    leaks = ProfileLeaks()
    for s, spans in zip(samples, predictions):
        covered = [(p.start, p.end) for p in spans]
        shown = "".join("#" if any(a <= i < b for a, b in covered) else ch for i, ch in enumerate(s["text"]))
        score_profile(leaks, s, shown, covered, hide_all, covered)
    return leaks.as_dict()


def _predict(samples: list[dict], detect: Callable[[str], list[Span]], progress: Callable[[int, int], None] | None) -> list[list[Span]]:
    out = []
    for i, s in enumerate(samples):
        out.append(detect(s["text"]))
        if progress and (i % 50 == 0 or i == len(samples) - 1):
            progress(i + 1, len(samples))
    return out


def evaluate_part(policy: "Policy", samples: list[dict], *, vanilla: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    entities, recognizers = policy.files.analyzed_entities, tuple(policy.redaction.recognizers)
    predictions = _predict(samples, lambda t: pii.analyze(t, entities, recognizers), progress)
    result: dict[str, Any] = {"sentences": len(samples), "values": sum(len(s["spans"]) for s in samples),
                              "locales": dict(Counter(s.get("locale", "unknown") for s in samples)),
                              "detection": score_detection(samples, predictions),
                              "profiles": score_exposure(policy, samples, predictions)}
    if vanilla:
        engine = vanilla_analyzer()
        supported = engine.get_supported_entities(language="en")

        def detect_vanilla(text: str) -> list[Span]:
            found = engine.analyze(text=text, language="en", entities=supported)
            return pii.resolve_overlaps([Span(pii_types.category(r.entity_type), r.start, r.end, r.score) for r in found])

        vpred = _predict(samples, detect_vanilla, None)
        result["vanilla"] = {"detection": score_detection(samples, vpred), "redact_all": _vanilla_exposure(samples, vpred)}
    return result


def _sample(samples: list[dict], limit: int | None) -> list[dict]:
    """Every n-th sample, so a limited run still covers every locale and template."""
    if not limit or limit >= len(samples):
        return samples
    step = len(samples) / limit
    return [samples[int(i * step)] for i in range(limit)]


def evaluate(policy: "Policy", samples_path: Path | None = None, *, limit: int | None = None, vanilla: bool = True,
             with_tuning: bool = False, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The test part (or `samples_path`), optionally the tuning part beside it, labelled as such."""
    test = _sample(load_samples(samples_path or TEST_SAMPLES), limit)
    result: dict[str, Any] = {"samples": str(samples_path or TEST_SAMPLES), "part": "user" if samples_path else "test",
                              "policy_version": policy.version, "test": evaluate_part(policy, test, vanilla=vanilla, progress=progress)}
    if with_tuning:
        tune = _sample([s for p in TUNE_SAMPLES for s in load_samples(p)], limit)
        result["tuning"] = evaluate_part(policy, tune, vanilla=False)
        result["tuning"]["note"] = "figures on the data the rules were tuned on: not a result"
    return result


def save_result(home: Path, result: dict[str, Any]) -> Path:
    path = home / RESULT_FILE
    path.write_text(json.dumps(_without_examples(result), indent=2, ensure_ascii=False))
    return path


def _without_examples(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_examples(v) for k, v in obj.items() if k not in ("errors", "examples")}
    return obj


def last_result(home: Path) -> dict[str, Any] | None:
    path = home / RESULT_FILE
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    return result if "test" in result else None  # a result of the older format: run the evaluation again


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Detection on the test part, one row per entity type: ours vs vanilla Presidio."""
    part = result["test"]
    ours, van = part["detection"]["per_type"], (part.get("vanilla") or {}).get("detection", {}).get("per_type", {})
    rows = []
    for t in sorted(set(ours) | set(van)):
        d, v = ours.get(t), van.get(t)
        rows.append({"type": t, "precision": d and d["precision"], "recall": d and d["recall"],
                     "vanilla_precision": v and v["precision"], "vanilla_recall": v and v["recall"],
                     "support": (d or v)["tp"] + (d or v)["fn"]})
    d, v = part["detection"]["overall"], (part.get("vanilla") or {}).get("detection", {}).get("overall")
    rows.append({"type": "overall", "precision": d["precision"], "recall": d["recall"],
                 "vanilla_precision": v and v["precision"], "vanilla_recall": v and v["recall"], "support": d["tp"] + d["fn"]})
    return rows


def profile_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Exposure on the test part, one row per redaction profile (and vanilla Presidio redacting all)."""
    part = result["test"]
    rows = [{"profile": name, "must_hide": p["must_hide"], "visible": p["visible"], "visible_share": p["visible_share"],
             "recall": p["recall"], "precision": p["precision"], "sensitive_visible": p["sensitive_visible"]}
            for name, p in part["profiles"].items()]
    if part.get("vanilla"):
        v = part["vanilla"]["redact_all"]
        rows.append({"profile": "vanilla Presidio (redact all)", "must_hide": v["must_hide"], "visible": v["visible"],
                     "visible_share": v["visible_share"], "recall": v["recall"], "precision": v["precision"],
                     "sensitive_visible": v["sensitive_visible"]})
    return rows
