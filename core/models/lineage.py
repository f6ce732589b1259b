"""Lineage both ways, in a few indexed queries:

document -> dataset versions (dataset_rows.doc_id) -> training runs -> checkpoints -> answers served
(audit records of kind "answer" whose payload names the checkpoint as `answerer` or `embedder`), and
checkpoint -> run, dataset, base model, source documents, the checkpoint it replaces.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import func, or_, select

from core.policy.actions import MODELS_READ
from core.models.datasets import get_dataset
from core.errors import NotFound
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.rag.redaction import redact_stored, redactor_for
from core.models.registry import get_checkpoint
from core.stores.registry_tables import Checkpoint, DatasetRow, TrainingRun
from core.stores.tables import AuditRecord, DocumentRow


def answers_served(ledger: Ledger, checkpoint_ids: list[str], limit: int = 200) -> list[dict[str, Any]]:
    """Answer records that name any of the checkpoints (newest first): record id, time, role, which."""
    if not checkpoint_ids:
        return []
    t = AuditRecord.__table__  # type: ignore[attr-defined]
    q = (select(t.c.record_id, t.c.at, t.c.actor_role, t.c.payload).where(t.c.kind == "answer")
         .where(or_(*[t.c.payload.like(f"%{c}%") for c in checkpoint_ids])).order_by(t.c.seq.desc()).limit(limit))
    out, wanted = [], set(checkpoint_ids)
    with ledger.engine.connect() as conn:
        for record_id, at, role, payload in conn.execute(q):
            p = json.loads(payload)
            for slot in ("answerer", "embedder"):
                if p.get(slot) in wanted:
                    out.append({"record_id": record_id, "at": at, "actor_role": role, "checkpoint_id": p[slot], "as": slot})
    return out


def _doc_titles(ledger: Ledger, principal: Principal, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Status and (redacted for the principal) title of documents; erased ones keep only their id."""
    if not doc_ids:
        return {}
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = {r["doc_id"]: dict(r) for r in conn.execute(select(t).where(t.c.doc_id.in_(doc_ids))).mappings()}
    redactor = redactor_for(ledger, principal)
    out = {}
    for d in doc_ids:
        r = rows.get(d)
        if r is None:
            out[d] = {"doc_id": d, "status": "missing", "title": None}
            continue
        visible = r["status"] == "active" and principal.can_see(json.loads(r["groups"]), r["classification"])
        title = redact_stored(redactor, r["title"], r["title_spans"]) if visible else None
        out[d] = {"doc_id": d, "status": r["status"], "title": title}
    return out


def _require_readable_document(ledger: Ledger, principal: Principal, doc_id: str) -> None:
    """Unknown and unreadable ids get the same answer, so lineage never tells whether a document
    outside one's access exists. An erased document stays traceable to those whose groups held it."""
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        r = conn.execute(select(t.c.groups, t.c.classification).where(t.c.doc_id == doc_id)).first()
    if r is None or not principal.can_see(json.loads(r[0]), r[1]):
        raise NotFound(f"no document {doc_id!r} that you may read", hint="list documents with `ragledger documents list`")


def document_lineage(ledger: Ledger, principal: Principal, doc_id: str) -> dict[str, Any]:
    """Which dataset versions, runs and checkpoints a document reached, and the answers they served."""
    require_audited(ledger, principal, MODELS_READ.name, doc_id)
    _require_readable_document(ledger, principal, doc_id)
    rt, ct, tt = DatasetRow.__table__, Checkpoint.__table__, TrainingRun.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        counts = dict(conn.execute(select(rt.c.dataset_id, func.count()).where(rt.c.doc_id == doc_id).group_by(rt.c.dataset_id)).all())
        datasets = sorted(counts)
        runs = [dict(r) for r in conn.execute(select(tt.c.run_id, tt.c.kind, tt.c.dataset_id, tt.c.run_by, tt.c.status)
                                              .where(tt.c.dataset_id.in_(datasets))).mappings()] if datasets else []
        ckpts = [dict(r) for r in conn.execute(select(ct.c.checkpoint_id, ct.c.kind, ct.c.stage, ct.c.run_id, ct.c.dataset_id,
                                                      ct.c.flag_reason, ct.c.flag_request_id, ct.c.replaces)
                                               .where(ct.c.dataset_id.in_(datasets))).mappings()] if datasets else []
    served = answers_served(ledger, [c["checkpoint_id"] for c in ckpts])
    per_ckpt = Counter(a["checkpoint_id"] for a in served)
    for c in ckpts:
        c["answers_served"] = per_ckpt.get(c["checkpoint_id"], 0)
    return {
        "document": _doc_titles(ledger, principal, [doc_id])[doc_id],
        "datasets": [{**get_dataset(ledger, d).as_dict(), "rows_from_document": counts[d]} for d in datasets],
        "runs": runs,
        "checkpoints": ckpts,
        "answers": served,
    }


def checkpoint_lineage(ledger: Ledger, principal: Principal, checkpoint_id: str) -> dict[str, Any]:
    """Everything upstream of a checkpoint, what it replaces or was replaced by, and its answers."""
    require_audited(ledger, principal, MODELS_READ.name, checkpoint_id)
    ckpt = get_checkpoint(ledger, checkpoint_id)
    rt, ct, tt = DatasetRow.__table__, Checkpoint.__table__, TrainingRun.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        run = conn.execute(select(tt).where(tt.c.run_id == ckpt.run_id)).mappings().first()
        doc_rows = dict(conn.execute(select(rt.c.doc_id, func.count()).where(rt.c.dataset_id == ckpt.dataset_id).group_by(rt.c.doc_id)).all())
        replaced_by = [r[0] for r in conn.execute(select(ct.c.checkpoint_id).where(ct.c.replaces == checkpoint_id))]
    run_d = dict(run) if run else {}
    for key in ("hyperparams", "metrics"):
        if key in run_d:
            run_d[key] = json.loads(run_d[key])
    docs = _doc_titles(ledger, principal, sorted(doc_rows))
    dataset = get_dataset(ledger, ckpt.dataset_id)
    chain, seen = [], ckpt.replaces
    while seen and len(chain) < 20:
        chain.append(seen)
        seen = get_checkpoint(ledger, seen).replaces
    return {
        "checkpoint": {k: v for k, v in ckpt.as_dict().items() if k != "model_card"},
        "run": run_d,
        "dataset": dataset.as_dict(),
        "rebuilt_from": dataset.rebuilt_from,
        "base_model": ckpt.base_model_id,
        "documents": [{**docs[d], "rows": n} for d, n in sorted(doc_rows.items())],
        "replaces": chain,
        "replaced_by": replaced_by,
        "answers": answers_served(ledger, [checkpoint_id]),
    }


def lineage_graph(lineage: dict[str, Any]) -> dict[str, Any]:
    """Nodes (layered: documents, dataset, run, checkpoint, answers) and edges of a checkpoint's
    lineage, ready for a plotly figure; no plotting here (core stays UI-free)."""
    layers: dict[int, list[dict[str, Any]]] = {0: [], 1: [], 2: [], 3: [], 4: []}
    edges = []
    ds, run, ck = lineage["dataset"], lineage["run"], lineage["checkpoint"]
    for d in lineage["documents"]:
        label = d["title"] or d["doc_id"]
        layers[0].append({"id": d["doc_id"], "label": f"{label} ({d['rows']} rows)", "kind": "document", "status": d["status"]})
        edges.append((d["doc_id"], ds["dataset_id"]))
    layers[1].append({"id": ds["dataset_id"], "label": f"{ds['name']} · {ds['rows']} rows", "kind": "dataset",
                      "status": "flagged" if ds.get("flag_reason") else "ok"})
    layers[2].append({"id": run.get("run_id", "?"), "label": f"run {run.get('run_id', '?')} by {run.get('run_by', '?')}", "kind": "run", "status": "ok"})
    layers[3].append({"id": ck["checkpoint_id"], "label": f"{ck['checkpoint_id']} · {ck['stage']}", "kind": "checkpoint", "status": ck["stage"]})
    edges += [(ds["dataset_id"], run.get("run_id", "?")), (run.get("run_id", "?"), ck["checkpoint_id"])]
    for prev in lineage["replaces"][:1]:
        layers[3].append({"id": prev, "label": f"{prev} (replaced)", "kind": "checkpoint", "status": "replaced"})
        edges.append((prev, ck["checkpoint_id"]))
    n = len(lineage["answers"])
    if n:
        layers[4].append({"id": "answers", "label": f"{n} answers served", "kind": "answers", "status": "ok"})
        edges.append((ck["checkpoint_id"], "answers"))
    nodes = []
    for x, items in layers.items():
        for i, node in enumerate(items):
            nodes.append({**node, "x": float(x), "y": float(i) - (len(items) - 1) / 2})
    return {"nodes": nodes, "edges": edges}
