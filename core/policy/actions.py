"""Registered actions: the permissions a role can be granted.

Like datasette's actions, each is a typed object registered in one dict; policies may only name
registered actions, and a test fails if code checks an action that is not registered here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    # Oversight actions let a role read what other people asked or change what everyone may see; a
    # policy diff that grants one warns (an employee with audit.read reads every colleague's questions).
    oversight: bool = False


ACTIONS: dict[str, Action] = {}


def register(name: str, description: str, *, oversight: bool = False) -> Action:
    """Register an action; built-ins use the same door as any extension."""
    action = Action(name, description, oversight)
    ACTIONS[name] = action
    return action


ASK = register("ask", "Ask questions in the chat and receive redacted, cited answers.")
AUDIT_READ = register("audit.read", "Read and export the audit trail and verify its hash chain.", oversight=True)
DOCUMENTS_READ = register("documents.read", "List documents visible to one's groups and clearance.")
DOCUMENTS_INGEST = register("documents.ingest", "Upload and ingest documents into one's own groups.")
PURGE = register("purge", "Record, preview and execute right-to-be-forgotten erasures.", oversight=True)
MODELS_READ = register("models.read", "See the model registry and lineage.")
MODELS_TRAIN = register("models.train", "Build datasets, run fine-tuning jobs, propose checkpoints.")
MODELS_APPROVE = register("models.approve", "Approve a checkpoint's promotion to production.", oversight=True)
OVERVIEW_READ = register("overview.read", "Open the compliance overview and records of processing.", oversight=True)
SIMULATE = register("policy.simulate", "See what another principal would receive ('see as'); view policies and diffs.", oversight=True)
POLICY_EDIT = register("policy.edit", "Save an edited, validated policy file (and re-analyse the documents).", oversight=True)
