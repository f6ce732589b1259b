"""The golden set's file format: questions with the document that must answer each and a fact the
answer must contain. Below everything else (only pydantic, yaml and the errors), so policy load can
validate the golden set policy.yaml configures, and core/evaluation/golden.py asks it."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from core.errors import RagLedgerError


class GoldenQuestion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str
    source: str  # a doc_id, or the end of the ingested file's path ("policies/remote-work.md")
    answer_contains: str
    # Facts an earlier version of the source stated and the current one does not (freshness): an answer
    # that still contains one, for any principal, is a failure like a leak.
    stale: list[str] = []

    @field_validator("question", "source", "answer_contains")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


class EvaluationError(RagLedgerError):
    """The golden set or the baseline cannot be used; or the run regressed (exit code 6)."""


def load_golden(path: Path) -> list[GoldenQuestion]:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such golden set", hint="give a YAML list of {question, source, answer_contains}") from None
    except yaml.YAMLError as exc:
        raise EvaluationError(f"{path}: not valid YAML: {exc}", hint="fix the file; nothing was run") from None
    if not isinstance(raw, list) or not raw:
        raise EvaluationError(f"{path}: expected a non-empty list of questions", hint="each item: question, source, answer_contains")
    out = []
    for n, item in enumerate(raw, start=1):
        try:
            out.append(GoldenQuestion.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            raise EvaluationError(f"{path}: question {n}: field '{where}': {first['msg']}", hint="fix the file; nothing was run") from None
    return out
