"""Compliance overview: what happened (questions, redactions, withheld matches, denials), what is
stored (documents by classification and PII density), what is owed (erasures against their deadline),
which models serve, whether the audit chain holds, and how well redaction works. Every chart drills
through to the audit records behind it."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from core.workbench.chart_axes import BAR_WIDTH_MS, count_axis, day_axis
from core.workbench.overview import DENSITY_ORDER, Filters, drill, evaluation, overview, verify_chain
from core.workbench.redaction_eval import last_result, profile_rows, table_rows
from pages.common import page_guard, run_core

ledger, principal = page_guard("overview.read", "overview")
st.title(":material/monitoring: Compliance overview")

c1, c2, c3 = st.columns(3)
period = c1.date_input("Period", value=(), help="from - to (inclusive); empty means all time")
role = c2.selectbox("Role", ["(all)", *sorted(ledger.policy.roles)])
group = c3.selectbox("Document group", ["(all)", *ledger.policy.groups])
since = period[0].isoformat() if len(period) >= 1 else None
until = period[1].isoformat() if len(period) >= 2 else None
filters = Filters(since, until, None if role == "(all)" else role, None if group == "(all)" else group)
if st.button("Verify the chain now", help="re-walk the whole hash chain"):
    res = run_core(lambda: verify_chain(ledger, principal))
    if res:
        (st.success if res["ok"] else st.error)(
            f"{'Chain verifies' if res['ok'] else 'Chain BROKEN: ' + str(res['reason'])}: {res['records']} records")
data = run_core(lambda: overview(ledger, principal, filters))
if data is None:
    st.stop()

chain = data["chain"]
m1, m2, m3 = st.columns(3)
m1.metric("Audit records", chain["records"])
last = chain["last_verification"]
m2.metric("Last verification", "never" if not last else ("OK" if last["ok"] else "BROKEN"),
          help=None if not last else f"{last['at']} by {last['verified_by']}: {last['records']} records")
m3.metric("Chain head", (chain["head_hash"] or "-")[:12])


def bar(frame: pd.DataFrame, title: str, empty: str, key: str, by_day: bool = False, **kw) -> None:  # type: ignore[no-untyped-def]
    st.subheader(title)
    if frame.empty:
        st.info(empty)
        return
    fig = px.bar(frame, **kw)
    # Bars stack per x, so the axis must reach the tallest stack; counts have no halves.
    fig.update_yaxes(**count_axis(list(frame.groupby(kw["x"])[kw["y"]].sum())))
    if by_day:  # date buckets and date ticks, for one day as for a year (core/workbench/chart_axes.py)
        fig.update_xaxes(**day_axis(list(frame[kw["x"]])))
        fig.update_traces(width=BAR_WIDTH_MS)
    st.plotly_chart(fig, key=key, width="stretch")


q = pd.DataFrame(data["questions_over_time"], columns=["day", "role", "questions"])
q["day"] = pd.to_datetime(q["day"])
bar(q, "Questions over time by role", "No questions in this period.", "chart_questions", by_day=True, x="day", y="questions", color="role")

left, right = st.columns(2)
with left:
    red = pd.DataFrame([{"entity": k, "redactions": v, "stage": "retrieval"} for k, v in data["redactions"].items()]
                       + [{"entity": k, "redactions": v, "stage": "output guard"} for k, v in data["guard_redactions"].items()],
                       columns=["entity", "redactions", "stage"])
    bar(red, "Redactions by entity type", "No redactions in this period.", "chart_redactions", x="entity", y="redactions", color="stage")
with right:
    wh = pd.DataFrame(data["withheld"], columns=["group", "classification", "withheld"])
    bar(wh, "Withheld matches by group and classification", "Nothing was withheld in this period.", "chart_withheld",
        x="group", y="withheld", color="classification")

left, right = st.columns(2)
with left:
    docs = pd.DataFrame(data["documents"], columns=["classification", "pii_density", "documents"])
    bar(docs, "Documents by classification and PII density", "No documents stored.", "chart_documents",
        x="classification", y="documents", color="pii_density",
        category_orders={"pii_density": list(DENSITY_ORDER)}, color_discrete_map=DENSITY_ORDER)
with right:
    er = data["erasures"]
    ef = pd.DataFrame(er["rows"], columns=["status", "deadline", "requests"])
    bar(ef, "Erasure requests by status (one-month deadline)", er["note"] or "No erasure requests.", "chart_erasures",
        x="status", y="requests", color="deadline")

mo = data["models"]
mf = pd.DataFrame(mo["rows"], columns=["stage", "flagged", "models"])
bar(mf, "Models by stage", mo["note"] or "No models registered.", "chart_models", x="stage", y="models", color="flagged")
if mo.get("flagged"):
    st.warning("Flagged models (retraining required)")
    st.dataframe(pd.DataFrame(mo["flagged"]), hide_index=True)

st.subheader("Golden-set evaluation")
ev_data = run_core(lambda: evaluation(ledger, principal)) or {"last": None}
last_run = ev_data["last"]
if last_run is None:
    st.info("Never run: `ragledger eval`, or configure `evaluation.golden_set` in policy.yaml to re-ask it after each new version.")
else:
    worst = min(last_run["scores"].items(), key=lambda kv: kv[1]["recall_at_k"], default=(None, None))
    st.caption(f"Last golden-set evaluation {last_run['at'][:16].replace('T', ' ')} ({last_run.get('reason', 'manual')}): "
               f"{last_run['questions']} questions, {last_run['regressions']} regression(s)"
               + (f"; lowest recall@{last_run['k']} {worst[1]['recall_at_k']:.2f} ({worst[0]})" if worst[0] else ""))
    for failure in ev_data["failures"]:
        st.error(failure)
    if ev_data["drift"]:
        st.warning(f"{len(ev_data['drift'])} answer(s) drifted since the run before: citations changed, or similarity "
                   f"dropped by more than {ev_data['threshold']}")
        st.dataframe(pd.DataFrame(ev_data["drift"], columns=["principal", "text", "citations_changed", "cited_before", "cited_now", "rank_before",
                                                             "rank_now", "similarity_before", "similarity_now", "dropped_by"]), hide_index=True)
    elif ev_data["runs"] > 1:
        st.caption("No drift since the run before.")
    rec = pd.DataFrame(ev_data["recall"], columns=["at", "principal", "recall_at_k", "reason", "k"])
    if not rec.empty:
        rec["at"] = pd.to_datetime(rec["at"])
        fig = px.line(rec, x="at", y="recall_at_k", color="principal", markers=True, hover_data=["reason", "k"],
                      title="recall@k per whole-set run")
        fig.update_yaxes(range=[0, 1.05])
        st.plotly_chart(fig, key="chart_recall", width="stretch")

if data["denials"]:
    st.subheader("Denied actions")
    st.dataframe(pd.DataFrame([{"action": k, "denials": v} for k, v in data["denials"].items()]), hide_index=True)

st.subheader("Redaction quality")
ev = last_result(ledger.settings.home)
if st.button("Run a quick redaction evaluation (300 held-out samples, about a minute)"):
    from core.workbench.redaction_eval import evaluate, save_result

    with st.spinner("Evaluating on the held-out test part…"):
        ev = run_core(lambda: evaluate(ledger.policy, limit=300))
    if ev:
        save_result(ledger.settings.home, ev)
if ev:
    test = ev["test"]
    st.caption(f"Held-out test part ({test['sentences']} samples, {test['values']} labelled values, "
               f"{len(test['locales'])} locales; no rule was tuned on it). What each profile still shows:")
    st.dataframe(pd.DataFrame(profile_rows(ev)), hide_index=True)
    st.caption("Detection per entity type, ours vs vanilla Presidio")
    st.dataframe(pd.DataFrame(table_rows(ev)), hide_index=True)
else:
    st.info("No evaluation yet: run it here or with `ragledger redaction evaluate`.")

st.subheader("Drill through to the audit records")
charts = {"Questions": ("questions", sorted(q["role"].unique()) if not q.empty else []),
          "Redactions": ("redactions", sorted(data["redactions"])),
          "Output-guard redactions": ("guard_redactions", sorted(data["guard_redactions"])),
          "Withheld matches": ("withheld", sorted({f"{r['group']}|{r['classification']}" for r in data["withheld"]})),
          "Denials": ("denials", sorted(data["denials"])),
          "Simulations (see as)": ("simulations", sorted(data["simulations"]))}
d1, d2 = st.columns(2)
chart_label = d1.selectbox("Chart", list(charts))
chart, keys = charts[chart_label]
key = d2.selectbox("Bar", ["(all)", *keys])
rows = run_core(lambda: drill(ledger, principal, chart, None if key == "(all)" else key, filters)) or []
st.caption(f"{len(rows)} records behind this bar (newest first, at most 200); open one on the Audit trail page.")
table = pd.DataFrame(rows, columns=["seq", "at", "kind", "actor", "role", "cited", "withheld", "redactions", "simulated_for", "detail", "record_id"])
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="drill_rows")
selected = event.selection.rows if event and hasattr(event, "selection") else []
if selected:
    st.session_state["drill_record"] = table.iloc[selected[0]]["record_id"]
    st.page_link("pages/audit_trail.py", label=f"Open record {table.iloc[selected[0]]['seq']} in the audit trail", icon=":material/receipt_long:")
st.caption(f"Figures as of {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.")
