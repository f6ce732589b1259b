"""The erasure package's records, typed: a request, the purge journal and the erasure certificate.

Each is read from (`from_dict`) and written as (`to_dict`) exactly the JSON the package has always
stored and printed: the request register's JSON columns, the journal file a crashed purge resumes
from, the certificates users already keep, the CLI's `--json` output and the pages' downloads do
not change. A certificate keeps the keys it was stored with, in their order (and any key this
version does not know), so an old certificate re-serialises byte for byte and its SHA-256 still
verifies. A stored record that does not have the shape RAG Ledger wrote raises MalformedRecord,
naming the record and the field, and saying what to do.

The nested reports (what each step counted, the proof's findings) stay plain JSON objects: they are
the certificate's content, shown and hashed as they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from core.erasure.targets import Targets
from core.errors import MalformedRecord

CERTIFICATE_TITLE = "RAG Ledger erasure certificate"
_NONE = type(None)
_REQUEST_HINT = ("the erasure_requests row was changed outside RAG Ledger: restore it from a backup of the database "
                 "(the certificate's SHA-256 is in the audit chain, `ragledger audit verify`)")
JOURNAL_HINT = ("the purge journal was changed outside RAG Ledger: restore RAGLEDGER_HOME/journal from a backup, "
                 "then complete the purge with `ragledger purge --resume`")


def _get(record: str, data: Any, key: str, kinds: type | tuple[type, ...], hint: str, *, default: Any = ...) -> Any:
    """data[key], checked to be of `kinds`; a missing key returns `default` (required without one)."""
    if not isinstance(data, dict):
        raise MalformedRecord(f"{record} is not a JSON object (found {type(data).__name__})", hint=hint)
    if key not in data:
        if default is ...:
            raise MalformedRecord(f"{record}: field '{key}' is missing", hint=hint)
        return default
    value = data[key]
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = " or ".join("null" if k is _NONE else k.__name__ for k in allowed)
        raise MalformedRecord(f"{record}: field '{key}' should be {names}, not {type(value).__name__}", hint=hint)
    return value


def parse_json(text: str, record: str, hint: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedRecord(f"{record} is not valid JSON ({exc})", hint=hint) from None


# ---------------------------------------------------------------------------------------------------
# The erasure certificate

# The keys a certificate is issued with, in the order issue_certificate writes them (core/erasure/proof.py).
_CERTIFICATE_ORDER = ("certificate", "request_id", "kind", "scope", "requested_by", "recorded_by", "executed_by", "reason",
                      "received_at", "due_at", "certified_at", "policy_version", "erased", "models_flagged_for_retraining",
                      "serving_embedder_fallback", "planned", "performed", "documents", "verification", "attempt", "remaining",
                      "verified_clean", "next_step", "certificate_sha256", "audit_record_id")
_ABSENT_WHEN_NONE = ("next_step", "audit_record_id")


@dataclass(frozen=True)
class Certificate:
    """What an erasure did and how it was proven. The first certificates held only the required
    fields; later ones add the plan beside what was performed, the documents, the attempt and what
    remains: a field a stored certificate lacks reads as its default and is not written back."""

    certificate: str  # CERTIFICATE_TITLE
    request_id: str
    kind: str  # "document" | "subject"
    scope: str  # "documents" | "chunks"
    requested_by: str
    recorded_by: str
    executed_by: str
    reason: str
    received_at: str
    due_at: str
    certified_at: str
    policy_version: str
    # Counts per store: lancedb, document_registry, uploaded_files, audit_log, caches, sql (each step's report).
    erased: dict[str, Any]
    models_flagged_for_retraining: list[str]  # the checkpoints flagged
    # The proof's findings: retrieval, disk_scan (with the Lance files not decodable), subject_scan, index_scan.
    verification: dict[str, Any]
    verified_clean: bool
    certificate_sha256: str
    serving_embedder_fallback: dict[str, Any] | None = None
    planned: dict[str, Any] | None = None  # the preview's counts (core/erasure/impact.measure)
    performed: dict[str, Any] | None = None  # the same counts as the steps reported them
    documents: list[dict[str, Any]] = field(default_factory=list)
    attempt: int = 1
    remaining: dict[str, Any] = field(default_factory=dict)  # every check that failed; empty when clean
    next_step: str | None = None  # only on a certificate that did not verify clean
    audit_record_id: str | None = None  # the audit record the hash was appended in (stored certificates)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as stored
    stored_keys: tuple[str, ...] = field(default=(), repr=False, compare=False)  # the stored order; () for the issued one

    @property
    def files_not_decodable(self) -> list[dict[str, Any]]:
        """The Lance files the disk scan could not decode (each fails the proof): {"file", "error"}."""
        return list((self.verification.get("disk_scan") or {}).get("not_decodable", []))

    @property
    def chunks_deleted(self) -> int:
        return int((self.erased.get("lancedb") or {}).get("chunks_deleted", 0))

    @property
    def documents_erased(self) -> int:
        return int((self.erased.get("document_registry") or {}).get("documents_erased", 0))

    def to_dict(self) -> dict[str, Any]:
        known = {f.name for f in fields(self)} - {"extra", "stored_keys"}
        keys = self.stored_keys or (*(k for k in _CERTIFICATE_ORDER if not (k in _ABSENT_WHEN_NONE and getattr(self, k) is None)),
                                    *self.extra)
        return {k: getattr(self, k) if k in known else self.extra[k] for k in keys}

    @classmethod
    def from_dict(cls, data: Any, *, record: str | None = None) -> Certificate:
        rid = data.get("request_id") if isinstance(data, dict) else None
        record = record or f"the erasure certificate of {rid or '(no request id)'}"
        h = _REQUEST_HINT

        def get(key: str, kinds: type | tuple[type, ...], default: Any = ...) -> Any:
            return _get(record, data, key, kinds, h, default=default)

        values: dict[str, Any] = {k: get(k, str) for k in ("certificate", "request_id", "kind", "scope", "requested_by", "recorded_by",
                                                           "executed_by", "reason", "received_at", "due_at", "certified_at",
                                                           "policy_version", "certificate_sha256")}
        values.update(
            erased=get("erased", dict), models_flagged_for_retraining=get("models_flagged_for_retraining", list),
            verification=get("verification", dict), verified_clean=get("verified_clean", bool),
            serving_embedder_fallback=get("serving_embedder_fallback", (dict, _NONE), None),
            planned=get("planned", (dict, _NONE), None), performed=get("performed", (dict, _NONE), None),
            documents=get("documents", list, []), attempt=get("attempt", int, 1), remaining=get("remaining", dict, {}),
            next_step=get("next_step", (str, _NONE), None), audit_record_id=get("audit_record_id", (str, _NONE), None),
        )
        extra = {k: v for k, v in data.items() if k not in values}
        return cls(**values, extra=extra, stored_keys=tuple(data))


# ---------------------------------------------------------------------------------------------------
# The erasure request

# The register's columns as get_request has always returned them: the table's order (core/stores/erasure_tables.py)
# without the sealed subject, the JSON columns parsed in place, then `overdue` and `excluded` (from excluded_json).
_REQUEST_ORDER = ("id", "request_id", "kind", "scope", "doc_id", "subject_digest", "requested_by", "recorded_by", "reason", "status",
                  "received_at", "due_at", "previewed_at", "executed_at", "certified_at", "preview_json", "certificate_json",
                  "certificate_sha256", "confirmed_at", "confirmed_by", "cancelled_at", "cancel_reason", "overdue", "excluded")
_REQUEST_TEXT = ("request_id", "kind", "scope", "requested_by", "recorded_by", "reason", "status", "received_at", "due_at")
_REQUEST_OPTIONAL_TEXT = ("doc_id", "subject_digest", "previewed_at", "executed_at", "certified_at", "certificate_sha256",
                          "confirmed_at", "confirmed_by", "cancelled_at", "cancel_reason")
KINDS = ("document", "subject")
STATUSES = ("received", "previewed", "confirmed", "executed", "incomplete", "certified", "cancelled", "closed")
ENDED = ("certified", "cancelled", "closed")  # no deadline left to miss


@dataclass(frozen=True)
class Request:
    """One right-to-be-forgotten request: what is to be erased (a document, or a data subject, whose
    identifier is never here: it is sealed in the register), by whom and why, when, and its status.
    `preview` and `certificate` are the register's preview_json and certificate_json."""

    request_id: str
    kind: str  # "document" | "subject"
    scope: str  # "documents" | "chunks" (what a subject request erases)
    requested_by: str
    recorded_by: str
    reason: str
    status: str  # one of STATUSES
    received_at: str
    due_at: str
    id: int | None = None
    doc_id: str | None = None
    subject_digest: str | None = None  # unused column, printed as it always was
    previewed_at: str | None = None
    executed_at: str | None = None
    certified_at: str | None = None
    preview: dict[str, Any] | None = None  # the stored preview summary (counts and opaque ids only)
    certificate: Certificate | None = None
    certificate_sha256: str | None = None
    confirmed_at: str | None = None
    confirmed_by: str | None = None
    cancelled_at: str | None = None  # also when a request was closed
    cancel_reason: str | None = None
    overdue: bool = False
    excluded: list[str] = field(default_factory=list)  # match or document ids the officer excluded

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in _REQUEST_ORDER:
            if k == "preview_json":
                out[k] = self.preview
            elif k == "certificate_json":
                out[k] = self.certificate.to_dict() if self.certificate is not None else None
            else:
                out[k] = getattr(self, k)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Request:
        """From to_dict's shape (the CLI's `--json`)."""
        return cls(**_request_values(data, data.get("excluded", []) if isinstance(data, dict) else [],
                                     data.get("overdue", False) if isinstance(data, dict) else False))

    @classmethod
    def from_row(cls, row: dict[str, Any], now: str) -> Request:
        """From the register's row (JSON columns as stored text); `now` decides whether it is overdue."""
        rid = row.get("request_id")
        record = f"erasure request {rid}"
        data = {k: v for k, v in row.items() if k not in ("subject_sealed", "excluded_json")}
        for key in ("preview_json", "certificate_json"):
            data[key] = parse_json(row[key], f"{record}: {key}", _REQUEST_HINT) if row.get(key) else None
        excluded = parse_json(row.get("excluded_json") or "[]", f"{record}: excluded_json", _REQUEST_HINT)
        overdue = row.get("status") not in ENDED and isinstance(row.get("due_at"), str) and row["due_at"] < now
        return cls(**_request_values(data, excluded, overdue))


def _request_values(data: Any, excluded: Any, overdue: Any) -> dict[str, Any]:
    rid = data.get("request_id") if isinstance(data, dict) else None
    record = f"erasure request {rid or '(no request id)'}"
    h = _REQUEST_HINT
    values: dict[str, Any] = {k: _get(record, data, k, str, h) for k in _REQUEST_TEXT}
    values.update({k: _get(record, data, k, (str, _NONE), h, default=None) for k in _REQUEST_OPTIONAL_TEXT})
    for key, allowed in (("kind", KINDS), ("status", STATUSES)):
        if values[key] not in allowed:
            raise MalformedRecord(f"{record}: field '{key}' is {values[key]!r}, not one of {', '.join(allowed)}", hint=h)
    values["id"] = _get(record, data, "id", (int, _NONE), h, default=None)
    values["preview"] = _get(record, data, "preview_json", (dict, _NONE), h, default=None)
    cert = _get(record, data, "certificate_json", (dict, _NONE), h, default=None)
    values["certificate"] = None if cert is None else Certificate.from_dict(cert, record=f"{record}: its certificate")
    if not isinstance(excluded, list) or not all(isinstance(x, str) for x in excluded):
        raise MalformedRecord(f"{record}: the excluded ids are not a list of strings", hint=h)
    if not isinstance(overdue, bool):
        raise MalformedRecord(f"{record}: field 'overdue' should be bool", hint=h)
    return {**values, "excluded": list(excluded), "overdue": overdue}


@dataclass(frozen=True)
class Recorded(Request):
    """What create_request returns: the request, whether it was an open duplicate (a double submit),
    how many places the subject was found now (subject requests), and a warning when none was."""

    duplicate: bool = False
    matches: int | None = None
    warning: str | None = None

    @classmethod
    def of(cls, request: Request, *, duplicate: bool, matches: int | None = None, warning: str | None = None) -> Recorded:
        return cls(**{f.name: getattr(request, f.name) for f in fields(Request)}, duplicate=duplicate, matches=matches, warning=warning)

    def to_dict(self) -> dict[str, Any]:
        out = {**super().to_dict(), "duplicate": self.duplicate}
        if not self.duplicate:
            out["matches"] = self.matches
        if self.warning:
            out["warning"] = self.warning
        return out


# ---------------------------------------------------------------------------------------------------
# The purge journal

_JOURNAL_ORDER = ("request_id", "done", "stats", "actor", "attempt", "probes", "documents", "targets", "impact", "rekey")


@dataclass
class Journal:
    """A purge in progress (RAGLEDGER_HOME/journal/<request>.json): the steps done and what each
    reported, so a killed purge resumes where it stopped. Opaque ids and counts only: the probe
    strings and the documents' titles are sealed under the request key."""

    request_id: str
    actor: str | None = None  # who started the purge (journals of the first version did not say)
    attempt: int = 1  # 2, 3, ... when an earlier attempt's certificate did not verify clean
    done: list[str] = field(default_factory=list)  # the steps completed, in order
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # each completed step's report
    probes: str | None = None  # sealed: the strings the disk scan looks for (set by the plan step)
    documents: str | None = None  # sealed: the affected documents as the certificate names them
    targets: Targets | None = None  # what the purge erases (set by the plan step)
    impact: dict[str, Any] | None = None  # the preview's counts, measured at plan time
    rekey: dict[str, list[Any]] | None = None  # staged keys of partly erased documents: ref -> [generation, wrapped base64]
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as written

    def planned_targets(self) -> Targets:
        """What the plan step decided to erase (a later step reads it)."""
        if self.targets is None:
            raise MalformedRecord(f"the purge journal of {self.request_id} has no targets although its plan step is done",
                                  hint=JOURNAL_HINT)
        return self.targets

    def sealed_probes(self) -> str:
        """The plan step's probe strings, sealed under the request key."""
        if self.probes is None:
            raise MalformedRecord(f"the purge journal of {self.request_id} holds no probes although its plan step is done",
                                  hint=JOURNAL_HINT)
        return self.probes

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in _JOURNAL_ORDER:
            value = getattr(self, k)
            if value is None and k not in ("request_id",):
                continue
            out[k] = value.as_dict() if isinstance(value, Targets) else value
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: Any) -> Journal:
        rid = data.get("request_id") if isinstance(data, dict) else None
        record = f"the purge journal of {rid or '(no request id)'}"
        h = JOURNAL_HINT

        def get(key: str, kinds: type | tuple[type, ...], default: Any = ...) -> Any:
            return _get(record, data, key, kinds, h, default=default)

        targets = get("targets", (dict, _NONE), None)
        if targets is not None:
            try:
                targets = Targets(**targets)
            except TypeError as exc:
                raise MalformedRecord(f"{record}: field 'targets' does not name what a purge erases ({exc})", hint=h) from None
        done = get("done", list)
        stats = get("stats", dict)
        if not all(isinstance(s, str) for s in done) or not all(isinstance(v, dict) for v in stats.values()):
            raise MalformedRecord(f"{record}: 'done' must list step names and 'stats' hold one report per step", hint=h)
        values = dict(request_id=get("request_id", str), done=done, stats=stats, actor=get("actor", (str, _NONE), None),
                      attempt=get("attempt", int, 1), probes=get("probes", (str, _NONE), None),
                      documents=get("documents", (str, _NONE), None), targets=targets, impact=get("impact", (dict, _NONE), None),
                      rekey=get("rekey", (dict, _NONE), None))
        return cls(**values, extra={k: v for k, v in data.items() if k not in _JOURNAL_ORDER})
