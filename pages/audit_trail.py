"""Audit trail: filter, drill down from an answer to its sources, verify the chain, export."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.audit_views import chain_status, export_trail, list_trail, record_detail
from pages.common import page_guard, run_core

ledger, principal = page_guard("audit.read", "audit")
st.title(":material/receipt_long: Audit trail")

status = run_core(lambda: chain_status(ledger, principal))
if status:
    if status["ok"]:
        st.success(f"Hash chain verifies: {status['records']} records, head `{status['head_hash'][:16]}…`")
    else:
        st.error(f"Hash chain BROKEN at record {status['first_bad_seq']} ({status['first_bad_record']}): {status['reason']}")

cols = st.columns(4)
kinds = cols[0].multiselect("Kind", ["answer", "denial", "ingest", "sign_in", "purge", "erasure_certificate", "training", "model"], default=[])
actor = cols[1].text_input("Actor")
since = cols[2].date_input("From", value=None)
until = cols[3].date_input("To", value=None)
rows = run_core(lambda: list_trail(
    ledger, principal, kinds=kinds or None, actor=actor.strip() or None,
    since=since.isoformat() if since else None,
    until=(until + dt.timedelta(days=1)).isoformat() if until else None, limit=1000,
)) or []

table = pd.DataFrame(
    [
        {
            "seq": r["seq"], "time": r["at"][:19].replace("T", " "), "kind": r["kind"], "actor": r["actor"],
            "role": r["actor_role"],
            "question": "[erased]" if r["erased"] else r["text"].get("question", ""),
            "cited": len(r["payload"].get("cited", [])), "withheld": len(r["payload"].get("withheld", [])),
            "redactions": sum(r["payload"].get("redactions", {}).values()) if r["kind"] == "answer" else None,
            "record_id": r["record_id"],
        }
        for r in rows
    ]
)
st.caption(f"{len(table)} records (newest first)")
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="trail")

selected = event.selection.rows if event and hasattr(event, "selection") else []
record_id = table.iloc[selected[0]]["record_id"] if selected else st.session_state.get("drill_record")
record_id = st.text_input("Record id to inspect", value=record_id or "")
if record_id:
    detail = run_core(lambda: record_detail(ledger, principal, record_id.strip()))
    if detail is None:
        st.warning("No record with that id.")
    else:
        p = detail["payload"]
        st.subheader(f"Record {detail['seq']}: {detail['kind']} by {detail['actor']} ({detail['actor_role']})")
        st.caption(f"{detail['at']} · policy {detail['policy_version']} · hash `{detail['hash'][:16]}…` · prev `{detail['prev_hash'][:16]}…`")
        if detail["erased"]:
            st.warning("The text of this record was erased (a cited document was purged). Its facts and hash remain.")
        elif detail["text"]:
            st.markdown(f"**Question:** {detail['text'].get('question', '')}")
            st.markdown(f"**Answer:** {detail['text'].get('answer', '')}")
        if p.get("cited"):
            st.markdown("**Sources cited**")
            st.dataframe(pd.DataFrame([{**c, "title": detail["titles"].get(c["doc_id"], "(erased)")} for c in p["cited"]]), hide_index=True)
        if p.get("withheld"):
            st.markdown("**Withheld by access control** (never shown to the asker)")
            st.dataframe(pd.DataFrame([{**w, "title": detail["titles"].get(w["doc_id"], "(erased)")} for w in p["withheld"]]), hide_index=True)
        if p.get("redactions") or p.get("guard_redactions"):
            st.markdown("**Redactions applied**")
            st.json({"retrieval": p.get("redactions", {}), "output guard": p.get("guard_redactions", {})})
        with st.expander("Raw payload"):
            st.json(p)

st.subheader("Export")
c1, c2 = st.columns(2)
if c1.button("Prepare JSONL export"):
    st.session_state["export_jsonl"] = run_core(lambda: export_trail(ledger, principal, "jsonl"))
if st.session_state.get("export_jsonl"):
    c1.download_button("Download JSONL", st.session_state["export_jsonl"], "audit.jsonl", "application/jsonl")
if c2.button("Prepare CSV export"):
    st.session_state["export_csv"] = run_core(lambda: export_trail(ledger, principal, "csv"))
if st.session_state.get("export_csv"):
    c2.download_button("Download CSV", st.session_state["export_csv"], "audit.csv", "text/csv")
