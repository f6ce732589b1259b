"""Serving from the registry: which answerer the chat uses, and switching the index to a newly
promoted embedder.

The production embedder is always the one the active index was built with: promoting an embedder
re-embeds every chunk (all columns copied, new vectors) into a NEW LanceDB table, builds its
indexes, then switches RAGLEDGER_HOME/active_index.json atomically (temp file + os.replace). The
previous table is dropped afterwards, so an erasure never has to chase rows in a retired index.

A flagged production embedder stops serving when policy.yaml says `flagged_models_may_serve: false`:
`fall_back` re-embeds the corpus the same way with the previous clean embedder that served (kept in
active_index.json's `served_before`) or the base MiniLM. The purge runs it right after flagging;
`ragledger models fallback` and the Models page run it after a manual flag. Until it has run, the
chat refuses (`EmbedderFlagged`) rather than answer through the flagged checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.rag.active_index import write_active_index
from core.rag.chunk_store import ChunkStore
from core.errors import RagLedgerError
from core.locks import store_lock

if TYPE_CHECKING:
    from core.ledger import Ledger
    from core.policy.engine import Principal
    from core.models.registry import CheckpointInfo

HISTORY = 20  # embedders that served before, newest first: the candidates of a fallback


class EmbedderFlagged(RagLedgerError):
    """The active index was built by a flagged embedder and policy forbids it to serve."""


def production_answerer(ledger: "Ledger") -> str:
    """The production generator checkpoint's answerer name, or "extractive". A flagged production
    checkpoint keeps serving only if policy.yaml says `flagged_models_may_serve: true`."""
    from core.models.registry import production
    from core.models.training.bases import base_path

    ckpt = production(ledger, "generator", may_serve_flagged=ledger.policy.files.flagged_models_may_serve)
    if ckpt is None:
        return "extractive"
    from core.rag.answerers.generative import register_checkpoint

    return register_checkpoint(ckpt.checkpoint_id, base_path(ledger, ckpt.base_model_id), Path(ckpt.path))


def switch_embedder(ledger: "Ledger", ckpt: "CheckpointInfo", progress=None) -> str:  # type: ignore[no-untyped-def]
    """Re-embed the corpus with `ckpt` into a new table and make it the active index; returns its name."""
    return reembed(ledger, Path(ckpt.path), ckpt.checkpoint_id, f"chunks_{ckpt.checkpoint_id[4:]}", progress)


def reembed(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str, progress=None,  # type: ignore[no-untyped-def]
            ray: str | None = None) -> str:
    """Copy every chunk (all columns, new vectors from the embedder at `path`; None: the base model)
    into table `new_name`, build its indexes, switch active_index.json to it, drop the old table.
    `ray` (auto or HOST:PORT; default RAGLEDGER_RAY): the embedding runs on that Ray cluster."""
    with store_lock(ledger, exclusive=True):  # no ingestion or purge while the corpus is copied
        _build(ledger, path, identity, new_name, progress, ray)
        _switch(ledger, path, identity, new_name)
    ledger.forget_index()
    return new_name


def build_side_index(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str, progress=None) -> int:  # type: ignore[no-untyped-def]
    """The promotion gate's candidate index: the corpus re-embedded into `new_name` exactly as a
    promotion would, without switching to it. Returns the version of the active table it copied, which
    `adopt_side_index` checks. The side table is a full copy of the chunks, so an erasure purge erases
    it with every other table of the store (core/erasure/lance_erase.py walks them all)."""
    with store_lock(ledger, exclusive=True):
        return _build(ledger, path, identity, new_name, progress)


def adopt_side_index(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str, built_from: int, progress=None) -> str:  # type: ignore[no-untyped-def]
    """Switch to a side index built by `build_side_index`, or re-embed again when the active table has
    changed since it was copied (an ingest or a purge during the gate's evaluation)."""
    with store_lock(ledger, exclusive=True):
        active = ChunkStore(ledger.settings.lance_location, table=ledger.active_index()["table"], check=False)
        current = active.version() if active.name in active.db.table_names() else 0
        if current != built_from or new_name not in active.db.table_names():
            _build(ledger, path, identity, new_name, progress)
        _switch(ledger, path, identity, new_name)
    ledger.forget_index()
    return new_name


def drop_side_index(ledger: "Ledger", name: str) -> None:
    """A refused candidate's side index is dropped at once: no copy of the corpus outlives the gate."""
    with store_lock(ledger, exclusive=True):
        store = ChunkStore(ledger.settings.lance_location, table=name, check=False)
        if name != ledger.active_index()["table"] and name in store.db.table_names():
            store.db.drop_table(name)


def _build(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str, progress=None, ray: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """Under the exclusive store lock: copy the active table into `new_name` with new vectors."""
    from core.models.reembed_copy import copy_with_new_vectors

    return copy_with_new_vectors(ledger, path, identity, new_name, progress, ray)


def _switch(ledger: "Ledger", path: Path | None, identity: str | None, new_name: str) -> None:
    """Under the exclusive store lock: make `new_name` the active index and drop the old table."""
    index = ledger.active_index()
    old = ChunkStore(ledger.settings.lance_location, table=index["table"], check=False)
    new = ChunkStore(ledger.settings.lance_location, table=new_name, check=False)
    before = [e for e in [index.get("embedder_id"), *index.get("served_before", [])] if e and e != identity]
    write_active_index(ledger.settings.home, new_name, str(path) if path else None, identity, list(dict.fromkeys(before))[:HISTORY],
                       new.dimensions)
    if old.name != new_name and old.name in old.db.table_names():
        old.db.drop_table(old.name)


def _flagged(ledger: "Ledger", embedder_id: str | None) -> str | None:
    """The flag reason when `embedder_id` is a flagged checkpoint, else None (the base model never is)."""
    from sqlalchemy import select

    from core.stores.registry_tables import Checkpoint

    if not embedder_id or not embedder_id.startswith("ckp_"):
        return None
    t = Checkpoint.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t.c.stage, t.c.flag_reason).where(t.c.checkpoint_id == embedder_id)).first()
    return (row[1] or "flagged") if row is not None and row[0] == "flagged" else None


def fallback_target(ledger: "Ledger") -> "CheckpointInfo | None":
    """The newest embedder that served before and is still clean (not flagged, files intact), or None:
    the base model."""
    from core.models.registry import get_checkpoint
    from core.models.training.bases import sha256_file

    for embedder_id in ledger.active_index().get("served_before", []):
        if not embedder_id.startswith("ckp_") or _flagged(ledger, embedder_id) is not None:
            continue
        try:
            ckpt = get_checkpoint(ledger, embedder_id)
        except RagLedgerError:
            continue
        folder = Path(ckpt.path)
        if ckpt.files and all((folder / f["path"]).is_file() and sha256_file(folder / f["path"]) == f["sha256"] for f in ckpt.files):
            return ckpt
    return None


def embedder_status(ledger: "Ledger") -> dict[str, Any]:
    """What the chat's retrieval runs on: the active embedder, whether it is flagged, whether policy
    lets it serve, and what a fallback would switch to (for the Models page and the CLI)."""
    from core.rag.embedder import BASE_MODEL_ID

    index = ledger.active_index()
    active = index.get("embedder_id") or BASE_MODEL_ID
    reason = _flagged(ledger, index.get("embedder_id"))
    may_serve = reason is None or ledger.policy.files.flagged_models_may_serve
    status: dict[str, Any] = {"embedder": active, "table": index["table"], "flagged": reason is not None, "flag_reason": reason,
                              "may_serve": may_serve, "falls_back_to": None}
    if not may_serve:
        target = fallback_target(ledger)
        status["falls_back_to"] = target.checkpoint_id if target else BASE_MODEL_ID
    return status


def check_serving(ledger: "Ledger") -> None:
    """Refuse to retrieve through a flagged embedder that policy forbids (until `fall_back` has run)."""
    index = ledger.active_index()
    reason = _flagged(ledger, index.get("embedder_id"))
    if reason is not None and not ledger.policy.files.flagged_models_may_serve:
        raise EmbedderFlagged(f"the index was built by embedder {index['embedder_id']}, which is flagged ({reason}); "
                              "policy forbids flagged models to serve",
                              hint="a compliance officer rebuilds it with a clean embedder on the Models page, "
                                   "or runs `ragledger models fallback`")


def fall_back(ledger: "Ledger", actor: tuple[str, str], progress=None, request_id: str | None = None) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """If the active embedder is flagged and policy forbids it to serve, re-embed the corpus with the
    clean fallback and record it; returns {"from", "to", "table"}, or None when nothing had to change.
    Idempotent, so a resumed purge can run it again."""
    from core.rag.embedder import BASE_MODEL_ID
    from core.models.registry_events import EmbedderFellBack

    status = embedder_status(ledger)
    if status["may_serve"]:
        return None
    target = fallback_target(ledger)
    if target is not None:
        from core.models.registry import restore_production

        table = switch_embedder(ledger, target, progress)
        restore_production(ledger, actor, target, table)
    else:
        # A fixed name: a fallback killed half-way leaves this table behind, and the next try rebuilds it.
        table = reembed(ledger, None, BASE_MODEL_ID, "chunks_base", progress)
    result = {"from": status["embedder"], "to": target.checkpoint_id if target else BASE_MODEL_ID, "table": table}
    ledger.audit.append(EmbedderFellBack(actor=actor[0], actor_role=actor[1], from_embedder=result["from"], to_embedder=result["to"],
                                         index_table=table, reason=status["flag_reason"] or "", request_id=request_id))
    return result


def fall_back_now(ledger: "Ledger", principal: "Principal", progress=None) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """`ragledger models fallback` and the Models page: the same fallback after a manual flag
    (compliance decides what serves, as for promotions)."""
    from core.policy.actions import MODELS_APPROVE
    from core.audit.guard import require_audited

    require_audited(ledger, principal, MODELS_APPROVE.name, "models.fallback")
    return fall_back(ledger, (principal.name, principal.role), progress)


def flagged_serving(ledger: "Ledger") -> dict[str, str]:
    """For each flagged checkpoint that was in production: what serves in its place, in words for the
    Models page ("flagged: serving falls back to X")."""
    from sqlalchemy import select

    from core.rag.embedder import BASE_MODEL_ID
    from core.models.registry import production
    from core.stores.registry_tables import Checkpoint

    t = Checkpoint.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(t.c.checkpoint_id, t.c.kind).where(t.c.stage == "flagged", t.c.prior_stage == "production")).all()
    lenient = ledger.policy.files.flagged_models_may_serve
    status = embedder_status(ledger) if any(kind == "embedder" for _, kind in rows) else {}
    generator = production(ledger, "generator", may_serve_flagged=lenient)
    out: dict[str, str] = {}
    for ckpt_id, kind in rows:
        if kind == "embedder":
            if status["embedder"] != ckpt_id:
                out[ckpt_id] = f"flagged: serving falls back to {status['embedder'] or BASE_MODEL_ID}"
            elif status["may_serve"]:
                out[ckpt_id] = "flagged: still serving (policy lets flagged models serve)"
            else:
                out[ckpt_id] = f"flagged: serving falls back to {status['falls_back_to']} (rebuild pending)"
        elif generator is not None and generator.checkpoint_id == ckpt_id:
            out[ckpt_id] = "flagged: still serving (policy lets flagged models serve)"
        else:
            out[ckpt_id] = f"flagged: serving falls back to {generator.checkpoint_id if generator else 'extractive'}"
    return out
