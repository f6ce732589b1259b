"""`ragledger models reembed`: re-embed every chunk with the policy's base embedder setting
(core/rag/embedder_setting.py says when the setting and the index disagree). It lives with serving,
above rag, because re-embedding switches the index that serves."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import RagLedgerError
from core.rag.embedder_setting import built_by, identity_of, resolve_model

if TYPE_CHECKING:
    from core.ledger import Ledger
    from core.policy.engine import Principal
    from core.policy.models import EmbedderSetting


def _switch(ledger: "Ledger", setting: "EmbedderSetting | None", progress=None, ray: str | None = None) -> str:  # type: ignore[no-untyped-def]
    from core.models.serving import reembed

    path = resolve_model(setting.model) if setting else None
    slug = "".join(c if c.isalnum() else "_" for c in identity_of(setting).lower())[-40:].strip("_")
    return reembed(ledger, path, identity_of(setting), f"chunks_base_{slug}", progress, ray)


def reembed_configured(ledger: "Ledger", principal: "Principal", progress=None, ray: str | None = None) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """`ragledger models reembed`: re-embed every chunk with the policy's base embedder (compliance
    decides what serves, as for promotions). None when it already built the index. `ray`: embed on
    that Ray cluster (auto or HOST:PORT; default RAGLEDGER_RAY), core/models/reembed_copy.py."""
    from core.policy.actions import MODELS_APPROVE
    from core.audit.guard import require_audited
    from core.models.registry_events import EmbedderReembedded

    require_audited(ledger, principal, MODELS_APPROVE.name, "models.reembed")
    setting = ledger.policy.files.embedder
    before, dims_before = built_by(ledger), ledger.store.dimensions
    if before == identity_of(setting):
        return None
    if before.startswith("ckp_"):
        raise RagLedgerError(f"the promoted embedder checkpoint {before} serves; the base embedder setting applies to the base model",
                             hint="archive or flag the checkpoint first (`ragledger models fallback` then re-embeds), then run this again")
    table = _switch(ledger, setting, progress, ray)
    result = {"from": before, "to": identity_of(setting), "table": table, "dimensions_before": dims_before,
              "dimensions": ledger.store.dimensions, "chunks": ledger.store.count()}
    ledger.audit.append(EmbedderReembedded(actor=principal.name, actor_role=principal.role, from_embedder=before,
                                           to_embedder=result["to"], index_table=table, dimensions=result["dimensions"],
                                           chunks=result["chunks"]))
    return result
