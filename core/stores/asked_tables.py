"""Tables of "who asked about whom" (core/audit/asked_about.py; created by migration m1501).

Neither table holds a name: `asked_subjects` maps the keyed blind index of a normalised identifier
to a random subject id (which names that subject's sealing key, `subj:<id>`), and `asked_records`
links a subject id to the audit records sealed under that key. A subject purge deletes both rows,
so the records that named the subject can no longer be found from the name, and destroys the key,
so their sealed text can no longer be read.
"""
from __future__ import annotations

from sqlmodel import Field, SQLModel


class AskedSubject(SQLModel, table=True):
    __tablename__ = "asked_subjects"

    blind: str = Field(primary_key=True)  # hex HMAC-SHA256 of the normalised identifier, keyed by a vault key
    subject_id: str = Field(index=True, unique=True)  # random: links records without revealing whom


class AskedRecord(SQLModel, table=True):
    __tablename__ = "asked_records"

    subject_id: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True, index=True)
