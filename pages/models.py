"""Models: the registry of fine-tuned checkpoints, their lineage down to source documents, and the
role-gated workflow: ML engineers build datasets, train and propose; compliance approves promotion
to production; flagged checkpoints (after an erasure) show why, and can be retrained."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.datasets import build_dataset, list_datasets
from core.lineage import checkpoint_lineage, document_lineage, lineage_graph
from core.registry import list_checkpoints, promote, propose, retrain
from core.training.jobs import train
from pages.common import page_guard, run_core

ledger, principal = page_guard("models.read", "models")
st.title(":material/model_training: Models")
st.caption("Fine-tuned checkpoints with lineage to the governed documents they were trained on.")

may_train, may_approve = principal.may("models.train"), principal.may("models.approve")
COLORS = {"document": "#4C78A8", "dataset": "#F58518", "run": "#54A24B", "checkpoint": "#B279A2", "answers": "#9D755D"}


def progress_bar(label: str):  # type: ignore[no-untyped-def]
    bar = st.progress(0.0, text=label)

    def report(message: str, done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=message)

    return report


def lineage_figure(graph: dict) -> go.Figure:
    pos = {n["id"]: (n["x"], n["y"]) for n in graph["nodes"]}
    xs, ys = [], []
    for a, b in graph["edges"]:
        if a in pos and b in pos:
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#bbb", "width": 1}, hoverinfo="skip", showlegend=False))
    for kind, color in COLORS.items():
        nodes = [n for n in graph["nodes"] if n["kind"] == kind]
        if nodes:
            fig.add_trace(go.Scatter(
                x=[n["x"] for n in nodes], y=[n["y"] for n in nodes], mode="markers+text", name=kind,
                text=[n["label"] for n in nodes], textposition="top center", hovertext=[f"{n['id']} ({n['status']})" for n in nodes],
                marker={"size": 16, "color": color, "symbol": ["x" if n["status"] in ("flagged", "erased", "missing") else "circle" for n in nodes]}))
    width = max((n["x"] for n in graph["nodes"]), default=0)
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis={"visible": False},
                      xaxis={"visible": False, "range": [-0.7, width + 0.7]},
                      title="documents → dataset → run → checkpoint → answers")
    return fig


checkpoints = run_core(lambda: list_checkpoints(ledger, principal)) or []
flagged = [c for c in checkpoints if c.stage == "flagged"]
if flagged:
    st.error(f"{len(flagged)} checkpoint(s) flagged: retraining required")
    st.dataframe(pd.DataFrame([{"checkpoint": c.checkpoint_id, "kind": c.kind, "was": c.prior_stage, "reason": c.flag_reason,
                                "request": c.flag_request_id} for c in flagged]), hide_index=True)
    if may_train:
        target = st.selectbox("Retrain a flagged checkpoint", [c.checkpoint_id for c in flagged])
        if st.button("Retrain without erased documents"):
            report = progress_bar("Rebuilding the dataset…")
            new = run_core(lambda: retrain(ledger, principal, target, progress=report))
            if new:
                st.success(f"{new.checkpoint_id} replaces {new.replaces}")

st.subheader("Checkpoints")
if checkpoints:
    st.dataframe(pd.DataFrame([{
        "checkpoint": c.checkpoint_id, "kind": c.kind, "stage": c.stage, "dataset": c.dataset_id, "base": c.base_model_id,
        "proposed by": c.proposed_by, "approved by": c.approved_by, "replaces": c.replaces, "MB": round(c.size_bytes / 1e6, 1),
        "created": c.created_at[:19]} for c in checkpoints]), hide_index=True)
    chosen = st.selectbox("Checkpoint", [c.checkpoint_id for c in checkpoints])
    current = next(c for c in checkpoints if c.checkpoint_id == chosen)
    lineage = run_core(lambda: checkpoint_lineage(ledger, principal, chosen))
    if lineage:
        st.plotly_chart(lineage_figure(lineage_graph(lineage)), key="lineage")
        st.caption(f"{len(lineage['documents'])} source documents · {len(lineage['answers'])} answers served · "
                   f"training text redacted with '{lineage['dataset']['redaction_profile']}'")
    with st.expander("Model card"):
        st.markdown(current.model_card)
    if may_train and current.stage == "candidate" and not current.proposed_by and st.button("Propose for production"):
        if run_core(lambda: propose(ledger, principal, chosen)):
            st.success(f"{chosen} proposed; a compliance officer decides")
    if may_approve and current.stage in ("candidate", "approved", "archived"):
        stage = st.radio("Move to", ["approved", "production", "archived"], horizontal=True)
        if st.button("Apply stage"):
            report = progress_bar("Re-embedding the corpus…" if current.kind == "embedder" and stage == "production" else "Updating…")
            done = run_core(lambda: promote(ledger, principal, chosen, stage, progress=report))
            if done:
                st.success(f"{chosen} is now {done.stage}")
else:
    st.info("No checkpoints yet." + (" Build a dataset and train one below." if may_train else ""))

if may_train:
    st.subheader("Train")
    with st.form("build-dataset"):
        kind = st.selectbox("Dataset kind", ["pairs", "qa"], help="pairs: (question, passage) for the embedder; qa: grounded answers for the generator")
        name = st.text_input("Name", "")
        groups = st.multiselect("Groups", list(principal.groups), default=list(principal.groups))
        if st.form_submit_button("Build dataset"):
            report = progress_bar("Reading governed chunks…")
            ds = run_core(lambda: build_dataset(ledger, principal, kind, name=name or None, groups=groups or None, progress=report))
            if ds:
                st.success(f"{ds.dataset_id}: {ds.rows} rows from {ds.docs} documents (redaction '{ds.redaction_profile}')")
    datasets = run_core(lambda: list_datasets(ledger, principal)) or []
    usable = [d for d in datasets if not d.flag_reason and d.source == "built"]
    if usable:
        with st.form("train"):
            ds_id = st.selectbox("Dataset", [d.dataset_id for d in usable],
                                 format_func=lambda i: next(f"{d.name} ({d.kind}, {d.rows} rows) {i}" for d in usable if d.dataset_id == i))
            steps = st.number_input("Steps", min_value=1, max_value=500, value=20)
            if st.form_submit_button("Train"):
                ds = next(d for d in usable if d.dataset_id == ds_id)
                report = progress_bar("Preparing…")
                ckpt = run_core(lambda: train(ledger, principal, "embedder" if ds.kind == "pairs" else "generator", ds_id,
                                              hyper={"max_steps": int(steps)}, progress=report))
                if ckpt:
                    st.success(f"{ckpt.checkpoint_id} registered as a candidate")

st.subheader("Lineage of a document")
doc_id = st.text_input("Document id (doc_…)", "")
if doc_id.strip():
    data = run_core(lambda: document_lineage(ledger, principal, doc_id.strip()))
    if data:
        st.write(f"{len(data['datasets'])} dataset versions · {len(data['checkpoints'])} checkpoints · {len(data['answers'])} answers served")
        if data["checkpoints"]:
            st.dataframe(pd.DataFrame(data["checkpoints"]), hide_index=True)
