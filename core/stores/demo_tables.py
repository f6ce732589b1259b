"""What `ragledger demo load` has already done, one row per step, so a second load changes nothing."""
from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class DemoStep(SQLModel, table=True):
    """A finished step of the demo load (its detail names what it left: checkpoint, request, counts).

    Kept in the ledger database rather than a file, so a PostgreSQL deployment and its home agree on
    what the demo already did."""

    __tablename__ = "demo_steps"

    step: str = Field(primary_key=True)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    done_at: str
