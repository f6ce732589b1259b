"""Pydantic models of the declarative policy files in `policies/`.

Validation happens at load; a bad file fails naming the file, the field and what was expected.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CLASSIFICATION_LEVELS: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
Classification = Literal["public", "internal", "confidential", "restricted"]
Operator = Literal["keep", "placeholder", "mask", "pseudonym", "hash"]
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def class_rank(level: str) -> int:
    return CLASSIFICATION_LEVELS.index(level)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedactionRule(Strict):
    operator: Operator
    keep_last: int = Field(default=4, ge=0, le=8, description="mask: characters left visible at the end")


class Allowlist(Strict):
    """Organisation vocabulary that a deny-by-default profile never hides as an unrecognised proper noun:
    product, team, system and policy names. Numbers that are years, money amounts, durations,
    percentages or article/section references are recognised by rule (core/rag/redaction_allow.py)."""

    terms: list[str] = []


class DenyUnrecognized(Strict):
    """Recall first: besides what the recognizers typed, hide every proper-noun run and every digit run
    of at least `min_digits` digits that the allowlist does not cover."""

    proper_nouns: bool = True
    min_digits: int = Field(default=5, ge=4, le=12)


class RedactionProfile(Strict):
    description: str = ""
    default: RedactionRule = RedactionRule(operator="placeholder")
    entities: dict[str, RedactionRule] = {}
    deny_unrecognized: DenyUnrecognized | None = None

    def rule_for(self, entity_type: str) -> RedactionRule:
        # Default deny: an entity type the profile does not name gets the profile's default (a placeholder).
        return self.entities.get(entity_type, self.default)


class Role(Strict):
    description: str = ""
    permissions: list[str] = []
    redaction: str


class Principal(Strict):
    display_name: str
    role: str
    groups: list[str] = []
    clearance: Classification = "public"
    password_hash: str | None = None
    disabled: bool = False  # `ragledger users disable NAME`: the account can no longer sign in
    token_hash: str | None = None  # an API token for the CLI, hashed like a password (core.identity.auth.hash_password)


class OidcMapping(Strict):
    """How identity-provider claims become a principal when Streamlit's OIDC sign-in is configured."""

    groups_claim: str = "groups"
    role_claim_map: dict[str, str] = {}
    default_role: str | None = None
    clearance_by_role: dict[str, Classification] = {}


class PatternSpec(Strict):
    name: str
    regex: str
    score: float = Field(default=0.6, ge=0.0, le=1.0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str) -> str:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"a valid regular expression ({exc})") from None
        return regex


class Recognizer(Strict):
    """A custom Presidio pattern recognizer declared in policy (context words raise its score)."""

    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    patterns: list[PatternSpec] = Field(min_length=1)
    context: list[str] = []


AUDIT_MIN_RETENTION_DAYS = 183  # six months: EU AI Act Art. 19 asks deployers to keep logs at least that long


class Retention(Strict):
    """How long each record type is kept before the retention job removes it (None: until erased)."""

    audit_records_days: int = 400
    audit_kinds: dict[str, int] = {}  # per audit record kind (answer, denial, sign_in, ...), overriding the above
    documents_days: int | None = None
    legal_hold: bool = False  # a standing hold declared in policy; `ragledger retention hold on` sets one at run time
    legal_hold_reason: str = ""

    @field_validator("audit_records_days")
    @classmethod
    def _audit_minimum(cls, days: int) -> int:
        if days < AUDIT_MIN_RETENTION_DAYS:
            raise ValueError(f"at least {AUDIT_MIN_RETENTION_DAYS} days (six months, EU AI Act Art. 19), not {days}")
        return days

    @field_validator("audit_kinds")
    @classmethod
    def _kinds_minimum(cls, kinds: dict[str, int]) -> dict[str, int]:
        for kind, days in kinds.items():
            if days < AUDIT_MIN_RETENTION_DAYS:
                raise ValueError(f"{kind}: at least {AUDIT_MIN_RETENTION_DAYS} days (six months, EU AI Act Art. 19), not {days}")
        return kinds

    @field_validator("documents_days")
    @classmethod
    def _positive(cls, days: int | None) -> int | None:
        if days is not None and days < 1:
            raise ValueError("a positive number of days, or null to keep documents until they are erased")
        return days


class SignInPolicy(Strict):
    """Local sign-in rules (the fallback when no identity provider is configured; see docs/accounts.md)."""

    min_password_length: int = Field(default=12, ge=8, le=128)
    lock_after_failures: int = Field(default=5, ge=1, le=1000, description="failures of one account within the window that lock it")
    failure_window_minutes: float = Field(default=15, gt=0)
    lock_minutes: float = Field(default=15, gt=0)
    backoff_after_failures: int = Field(default=3, ge=1, description="failures (per account) before each attempt waits")
    address_backoff_after_failures: int = Field(default=10, ge=1, description="failures from one client address before it waits")
    backoff_base_seconds: float = Field(default=2, ge=0)
    backoff_max_seconds: float = Field(default=300, ge=0)
    idle_timeout_minutes: float = Field(default=30, gt=0)
    absolute_timeout_hours: float = Field(default=12, gt=0)


class Witness(Strict):
    """Somewhere a copy of every checkpoint goes, out of the database's reach (docs/audit.md)."""

    kind: Literal["directory", "syslog", "s3"]
    path: str | None = None  # directory: a folder, ideally on another volume or host
    address: str | None = None  # syslog: /dev/log, or host:port (UDP)
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")  # s3: the bucket (ideally object-locked)
    prefix: str = ""  # s3: a key prefix, e.g. ragledger/prod/
    endpoint_url: str | None = None  # s3: default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS itself
    region: str | None = None  # s3: default AWS_REGION / AWS_DEFAULT_REGION

    @model_validator(mode="after")
    def _where(self) -> "Witness":
        if self.kind == "directory" and not self.path:
            raise ValueError("a directory witness needs a path")
        if self.kind == "syslog" and not self.address:
            raise ValueError("a syslog witness needs an address (/dev/log or host:port)")
        if self.kind == "s3" and not self.bucket:
            raise ValueError("an s3 witness needs a bucket")
        return self


class AuditLogPolicy(Strict):
    """Signed checkpoints of the audit log's Merkle tree: how often, signed by what, sent where."""

    origin: str | None = Field(default=None, pattern=r"^[^\s+]+$")  # default: ragledger/<key fingerprint>
    checkpoint_every_records: int = Field(default=100, ge=1)
    checkpoint_every_seconds: int = Field(default=300, ge=1)
    signer: str = "file"  # a kind registered in core.audit.signed_note.SIGNERS
    signer_options: dict[str, str] = {}
    journal: str | None = None  # default: RAGLEDGER_HOME/checkpoints/journal.jsonl
    witnesses: list[Witness] = []


class CliAuth(Strict):
    """Whether the command line must authenticate its --user (password or token), or may act as ops."""

    require_login: bool = False


class Abstention(Strict):
    """When the chat says "I don't know" instead of answering (core/answering/abstention.py, docs/abstention.md).

    The passage an answer rests on must reach every threshold; the values are calibrated by
    bench/bench_abstention.py on the tuning part of its question sets, never on the reported part."""

    enabled: bool = True
    min_similarity: float = Field(default=0.0, ge=-1.0, le=1.0, description="cosine similarity of question and chosen passage")
    min_fused: float = Field(default=0.0, ge=0.0, le=1.0, description="reciprocal-rank fused score of the chosen passage")
    min_overlap: float = Field(default=0.0, ge=0.0, le=1.0, description="share of the question's content terms the passage contains")
    see_also: int = Field(default=3, ge=0, le=10, description="closest passages offered, uncited, when the answer abstains")


ROUTES: tuple[str, ...] = ("extractive", "retrieval_generator", "generator_alone")


class RouteLatency(Strict):
    """What each route is expected to cost, in milliseconds (measure them with bench/bench_routing.py)."""

    extractive: float = Field(default=100, gt=0)
    retrieval_generator: float = Field(default=8000, gt=0)
    generator_alone: float = Field(default=4000, gt=0)


class Routing(Strict):
    """Which answering route a question takes (core/answering/router.py, docs/routing.md).

    Retrieval always runs first (access control, the confidence signals). Then: the extractive answerer
    when the passages answer the question confidently; retrieval + the production generator when a
    passage is relevant but not confidently answering; the fine-tuned generator alone when retrieval
    found nothing relevant, only if `generator_alone_serves_unsupported` (its answer rests on no
    passage the asker may read). A route over the latency budget, without a generator, or whose
    generator was trained on documents the asker may not read is refused; the extractive route is
    the floor. Thresholds are set a priori (the extractive overlap is the abstention threshold),
    never tuned on the golden set the bench reports."""

    enabled: bool = True
    latency_budget_ms: float = Field(default=10000, gt=0, description="the most an answer may be expected to take")
    budget_by_role: dict[str, float] = {}  # a role's own budget, overriding latency_budget_ms
    expected_ms: RouteLatency = RouteLatency()
    extractive_min_overlap: float = Field(default=0.65, ge=0.0, le=1.0, description="share of the question's terms the best passage holds")
    extractive_min_similarity: float = Field(default=0.0, ge=-1.0, le=1.0)
    extractive_requires_agreement: bool = True  # the best passage found by both the vector and the full-text leg
    generator_min_similarity: float = Field(default=0.3, ge=-1.0, le=1.0, description="below it, retrieval found nothing relevant")
    generator_alone_serves_unsupported: bool = False
    max_new_tokens: int = Field(default=64, ge=8, le=512)

    @field_validator("budget_by_role")
    @classmethod
    def _positive_budgets(cls, budgets: dict[str, float]) -> dict[str, float]:
        for role, ms in budgets.items():
            if ms <= 0:
                raise ValueError(f"{role}: a positive number of milliseconds, not {ms}")
        return budgets


class EmbedderSetting(Strict):
    """The base embedder (docs/languages.md): a sentence-transformers folder, or an installed package
    that ships one (a module with `get_model_path()`, or the package folder itself). Changing it
    needs a re-embed of the corpus (`ragledger models reembed`); until then retrieval refuses."""

    model: str = Field(min_length=1, description="a folder path or an importable package name")
    identity: str | None = None  # the name audit records give it (default: the model string)


class ChunkStorePolicy(Strict):
    """Encryption at rest of chunk content (docs/encryption.md). YAML reads a bare on/off as a
    boolean; both spellings are accepted."""

    encryption: Literal["on", "off"] = "on"

    @field_validator("encryption", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

class EvaluationPolicy(Strict):
    """The golden set the ledger checks itself against (core/evaluation/golden.py, docs/evaluation.md): re-asked
    after an ingest gives one of its source documents a new version, compared run to run for drift,
    and run before a model checkpoint is promoted to production."""

    golden_set: str | None = Field(default=None, description="YAML golden set; relative paths are relative to the policies folder")
    on_new_version: Literal["run", "off"] = "run"  # only with a golden set
    drift_score_drop: float = Field(default=0.05, ge=0.0, le=2.0,
                                    description="a question drifts when its document's similarity drops by more than this")
    promotion_gate: bool = True  # only with a golden set


class PolicyFile(Strict):
    version: str
    groups: list[str]
    analyzed_entities: list[str]
    flagged_models_may_serve: bool = False
    retention: Retention = Retention()
    demo_mode: bool = False  # demo passwords ("<name>-demo") are accepted only while this is true
    sign_in: SignInPolicy = SignInPolicy()
    audit_log: AuditLogPolicy = AuditLogPolicy()
    cli: CliAuth = CliAuth()
    abstention: Abstention = Abstention()
    routing: Routing = Routing()
    embedder: EmbedderSetting | None = None
    chunk_store: ChunkStorePolicy = ChunkStorePolicy()
    evaluation: EvaluationPolicy = EvaluationPolicy()

    @field_validator("groups")
    @classmethod
    def _group_names(cls, groups: list[str]) -> list[str]:
        for g in groups:
            if not NAME_PATTERN.match(g):
                raise ValueError(f"group name {g!r} must be lowercase letters, digits, '-' or '_'")
        return groups


class RolesFile(Strict):
    roles: dict[str, Role]


class PrincipalsFile(Strict):
    principals: dict[str, Principal]
    oidc: OidcMapping = OidcMapping()


class RedactionFile(Strict):
    profiles: dict[str, RedactionProfile]
    recognizers: list[Recognizer] = []
    allowlist: Allowlist = Allowlist()
