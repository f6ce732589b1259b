"""Models: the registry of fine-tuned checkpoints, their lineage down to source documents, and the
role-gated workflow: ML engineers build datasets, train and propose; compliance approves promotion
to production; flagged checkpoints (after an erasure) show why, what serves instead, and can be
retrained. Training, retraining and embedder promotion run as background jobs (core/models/background.py)
that a fragment polls, so the tab stays usable; every action reruns the page so it shows the new
state, with its message carried over the rerun."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.models import background
from core.models.datasets import build_dataset, list_datasets
from core.models.lineage import checkpoint_lineage, document_lineage, lineage_graph
from core.evaluation.lifecycle import promote, retrain
from core.models.registry import list_checkpoints, propose
from core.models.serving import embedder_status, fall_back_now, flagged_serving
from core.models.training.jobs import train
from pages.common import page_guard, run_core

ledger, principal = page_guard("models.read", "models")
st.title(":material/model_training: Models")
st.caption("Fine-tuned checkpoints with lineage to the governed documents they were trained on.")

may_train, may_approve = principal.may("models.train"), principal.may("models.approve")
COLORS = {"document": "#4C78A8", "dataset": "#F58518", "run": "#54A24B", "checkpoint": "#B279A2", "answers": "#9D755D"}


POLL_SECONDS = 2.0


def flash(message: str, ok: bool = True) -> None:
    """Show `message` after the rerun that follows an action (st.success would be lost to it)."""
    st.session_state["models_flash"] = (ok, message)
    st.rerun()


def start_job(kind: str, target: str, label: str, work) -> None:  # type: ignore[no-untyped-def]
    job = run_core(lambda: background.start(ledger, principal, kind, target, label, work))
    if job:
        st.session_state.setdefault("models_started", []).append(job.job_id)  # a job that ends before the next poll still reports
        st.rerun()


# The work of each background job, with everything it needs bound now (the thread outlives this run).
def train_work(kind: str, dataset_id: str, steps: int):  # type: ignore[no-untyped-def]
    def work(report) -> dict:  # type: ignore[no-untyped-def]
        ckpt = train(ledger, principal, kind, dataset_id, hyper={"max_steps": steps}, progress=report)
        return {"checkpoint_id": ckpt.checkpoint_id, "message": f"{ckpt.checkpoint_id} registered as a candidate"}
    return work


def retrain_work(checkpoint_id: str):  # type: ignore[no-untyped-def]
    def work(report) -> dict:  # type: ignore[no-untyped-def]
        new = retrain(ledger, principal, checkpoint_id, progress=report)
        return {"checkpoint_id": new.checkpoint_id, "message": f"{new.checkpoint_id} replaces {new.replaces}"}
    return work


def promote_work(checkpoint_id: str, stage: str, override: str | None = None):  # type: ignore[no-untyped-def]
    def work(report) -> dict:  # type: ignore[no-untyped-def]
        done = promote(ledger, principal, checkpoint_id, stage, progress=report, override=override)
        return {"checkpoint_id": checkpoint_id, "message": f"{checkpoint_id} is now {done.stage}"}
    return work


def fallback_work(report) -> dict:  # type: ignore[no-untyped-def]
    result = fall_back_now(ledger, principal, progress=report)
    return {"message": f"serving fell back from {result['from']} to {result['to']}" if result else "nothing flagged serves"}


def job_panel() -> None:
    """Running jobs with their progress. When one that was running here ends (started in this tab, in
    another, or before a refresh), rerun the whole page so the new checkpoint or stage shows, and say
    how it ended."""
    jobs = background.list_jobs(ledger, principal)
    for job in [j for j in jobs if j.running]:
        st.progress(job.fraction, text=f"{job.label}: {job.message}")
    seen = set(st.session_state.get("models_running", ())) | set(st.session_state.pop("models_started", ()))
    st.session_state["models_running"] = {j.job_id for j in jobs if j.running}
    ended = [j for j in jobs if j.job_id in seen and not j.running]
    if ended:
        st.session_state["models_flash"] = (all(j.state == "succeeded" for j in ended), "\n\n".join(
            f"{j.label}: {j.result.get('message', 'done')}" if j.state == "succeeded" else f"{j.label} {j.state}: {j.error}" for j in ended))
        st.rerun(scope="app")


def show_flash() -> None:
    ok, message = st.session_state.pop("models_flash", (True, None))
    if message:
        (st.success if ok else st.error)(message)


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


show_flash()
running = any(j.running for j in run_core(lambda: background.list_jobs(ledger, principal)) or [])
# Poll only while something runs: an idle page costs nothing.
st.fragment(run_every=POLL_SECONDS if running else None)(job_panel)()

serving = run_core(lambda: embedder_status(ledger))
if serving:
    if serving["may_serve"]:
        st.caption(f"Retrieval embedder: {serving['embedder']}" + (" (flagged; policy lets flagged models serve)" if serving["flagged"] else ""))
    else:
        st.error(f"Embedder {serving['embedder']} is flagged: serving falls back to {serving['falls_back_to']} "
                 "once the index is rebuilt; until then the chat refuses to answer.")
        if may_approve and st.button(f"Rebuild the index with {serving['falls_back_to']}"):
            start_job("fallback", "embedder", f"Falling back to {serving['falls_back_to']}", fallback_work)

checkpoints = run_core(lambda: list_checkpoints(ledger, principal)) or []
flagged = [c for c in checkpoints if c.stage == "flagged"]
if flagged:
    instead = run_core(lambda: flagged_serving(ledger)) or {}
    st.error(f"{len(flagged)} checkpoint(s) flagged: retraining required")
    st.dataframe(pd.DataFrame([{"checkpoint": c.checkpoint_id, "kind": c.kind, "was": c.prior_stage, "serving": instead.get(c.checkpoint_id, ""),
                                "reason": c.flag_reason, "request": c.flag_request_id} for c in flagged]), hide_index=True)
    if may_train:
        target = st.selectbox("Retrain a flagged checkpoint", [c.checkpoint_id for c in flagged])
        if st.button("Retrain without erased documents"):
            start_job("retrain", target, f"Retraining {target}", retrain_work(target))

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
            flash(f"{chosen} proposed; a compliance officer decides")
    if may_approve and current.stage in ("candidate", "approved", "archived"):
        stage = st.radio("Move to", ["approved", "production", "archived"], horizontal=True)
        override = None
        if stage == "production":  # the golden-set gate (docs/evaluation.md) may refuse; a reason overrides it, recorded
            override = st.text_input("Override reason", key="override_reason",
                                     help="only if the golden-set gate refuses: why this checkpoint may serve despite the regression "
                                          "(kept in the audit log)").strip() or None
        if st.button("Apply stage"):
            if current.kind == "embedder" and stage == "production":  # re-embeds the whole corpus: minutes
                start_job("promote", chosen, f"Promoting {chosen} to production", promote_work(chosen, stage, override))
            else:
                done = run_core(lambda: promote(ledger, principal, chosen, stage, override=override))
                if done:
                    flash(f"{chosen} is now {done.stage}")
else:
    st.info("No checkpoints yet." + (" Build a dataset and train one below." if may_train else ""))

if may_train:
    st.subheader("Train")
    with st.form("build-dataset"):
        kind = st.selectbox("Dataset kind", ["pairs", "qa"], help="pairs: (question, passage) for the embedder; qa: grounded answers for the generator")
        name = st.text_input("Name", "")
        groups = st.multiselect("Groups", list(principal.groups), default=list(principal.groups))
        if st.form_submit_button("Build dataset"):
            slot = st.empty()  # seconds, so in the page; the bar goes once the dataset is stored

            def report(message: str, done: int, total: int) -> None:
                slot.progress(min(done / max(total, 1), 1.0), text=message)

            ds = run_core(lambda: build_dataset(ledger, principal, kind, name=name or None, groups=groups or None, progress=report))
            slot.empty()
            if ds:
                flash(f"{ds.dataset_id}: {ds.rows} rows from {ds.docs} documents (redaction '{ds.redaction_profile}')")
    datasets = run_core(lambda: list_datasets(ledger, principal)) or []
    usable = [d for d in datasets if not d.flag_reason and d.source == "built"]
    if usable:
        with st.form("train"):
            ds_id = st.selectbox("Dataset", [d.dataset_id for d in usable],
                                 format_func=lambda i: next(f"{d.name} ({d.kind}, {d.rows} rows) {i}" for d in usable if d.dataset_id == i))
            steps = st.number_input("Steps", min_value=1, max_value=500, value=20)
            if st.form_submit_button("Train"):
                ds = next(d for d in usable if d.dataset_id == ds_id)
                model = "embedder" if ds.kind == "pairs" else "generator"
                start_job("train", ds_id, f"Training a{'n' if model == 'embedder' else ''} {model} on {ds.name}",
                          train_work(model, ds_id, int(steps)))

st.subheader("Lineage of a document")
doc_id = st.text_input("Document id (doc_…)", "")
if doc_id.strip():
    data = run_core(lambda: document_lineage(ledger, principal, doc_id.strip()))
    if data:
        st.write(f"{len(data['datasets'])} dataset versions · {len(data['checkpoints'])} checkpoints · {len(data['answers'])} answers served")
        if data["checkpoints"]:
            st.dataframe(pd.DataFrame(data["checkpoints"]), hide_index=True)
