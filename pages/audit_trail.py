"""Audit trail: filter, drill down from an answer to its sources, verify the log against its signed
checkpoints, download a record's inclusion proof, export."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from core.workbench.audit_views import inclusion_proof, list_trail, log_status, record_detail
from core.workbench.exports import export_filtered
from core.safe_text import inert_markdown
from pages.common import page_guard, run_core

ledger, principal = page_guard("audit.read", "audit")
st.title(":material/receipt_long: Audit trail")

status = run_core(lambda: log_status(ledger, principal))
if status:
    if status["ok"]:
        st.success(f"Hash chain verifies: {status['records']} records, head `{status['head_hash'][:16]}…`; Merkle tree of "
                   f"{status['tree_size']} leaves consistent with {status['checkpoints_checked']} signed checkpoint(s)")
    elif status["first_bad_seq"] is not None:
        st.error(f"Hash chain BROKEN at record {status['first_bad_seq']} ({status['first_bad_record']}): {status['reason']}")
    else:
        st.error(f"Audit log BROKEN: {status['reason']}")

cols = st.columns(4)
kinds = cols[0].multiselect("Kind", ["answer", "denial", "ingest", "relabel", "sign_in", "sign_in_refused", "account_lock", "account_unlock", "sign_out", "purge", "erasure_certificate", "training", "model", "audit_search", "audit_export"], default=[])
actor = cols[1].text_input("Actor")
since = cols[2].date_input("From", value=None)
until = cols[3].date_input("To", value=None)
about = st.text_input("Questions about (a person's name, e-mail or id)",
                      help="Lists the records whose question named this data subject. Your search is recorded in the trail.")
filters = {"kinds": kinds or None, "actor": actor.strip() or None, "since": since.isoformat() if since else None,
           "until": (until + dt.timedelta(days=1)).isoformat() if until else None, "about": about.strip() or None}
if not filters["about"]:
    rows = run_core(lambda: list_trail(ledger, principal, **filters, limit=1000)) or []
else:  # a search about a person is audited once per change of the filters, not on every rerun
    if st.session_state.get("trail_search") != filters:
        found = run_core(lambda: list_trail(ledger, principal, **filters, limit=1000))
        if found is not None:  # a refused search (too short a name) says so again on the next rerun
            st.session_state["trail_search"], st.session_state["trail_search_rows"] = filters, found
    rows = st.session_state.get("trail_search_rows", []) if st.session_state.get("trail_search") == filters else []

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
st.caption(f"{len(table)} records (newest first)" + (" whose question named that subject" if filters["about"] else ""))
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
            st.markdown(f"**Question:** {inert_markdown(detail['text'].get('question', ''))}")
            st.markdown(f"**Answer:** {inert_markdown(detail['text'].get('answer', ''))}")
        if p.get("cited"):
            st.markdown("**Sources cited**")
            st.dataframe(pd.DataFrame([{**c, "title": detail["titles"].get(c["doc_id"], "(erased)")} for c in p["cited"]]), hide_index=True)
        if (p.get("abstention") or {}).get("abstained"):
            a = p["abstention"]
            st.markdown(f"**Abstained** (\"I don't know\"): {inert_markdown(a.get('reason', ''))}")
            st.caption(f"scores {a.get('scores')} · thresholds {a.get('thresholds')}")
        if p.get("see_also"):
            st.markdown("**Offered as see also** (shown to the asker, not cited)")
            st.dataframe(pd.DataFrame([{**c, "title": detail["titles"].get(c["doc_id"], "(erased)")} for c in p["see_also"]]), hide_index=True)
        if p.get("withheld"):
            st.markdown("**Withheld by access control** (never shown to the asker)")
            st.dataframe(pd.DataFrame([{**w, "title": detail["titles"].get(w["doc_id"], "(erased)")} for w in p["withheld"]]), hide_index=True)
        if p.get("redactions") or p.get("guard_redactions"):
            st.markdown("**Redactions applied**")
            st.json({"retrieval": p.get("redactions", {}), "output guard": p.get("guard_redactions", {})})
        with st.expander("Raw payload"):
            st.json(p)
        if detail.get("origin"):
            st.caption("Origin: " + ", ".join(f"{k} {v}" for k, v in sorted(detail["origin"].items())))
        if st.button("Prepare inclusion proof"):
            st.session_state["proof"] = run_core(lambda: inclusion_proof(ledger, principal, detail["record_id"]))
        proof = st.session_state.get("proof")
        if proof and proof["record"]["record_id"] == detail["record_id"]:
            st.download_button("Download inclusion proof", json.dumps(proof, indent=2), f"proof-{detail['record_id']}.json", "application/json")
            st.caption(f"Leaf {proof['leaf_index']} of the log at size {proof['tree_size']}; check it with "
                       "`ragledger audit verify --proof FILE --key KEY`.")

st.subheader("Export")
st.caption("The export holds the records the filters above select; its manifest names the filters "
           "(a filtered export is not the whole log). Check it with `ragledger audit verify --export FILE`.")
c1, c2 = st.columns(2)
for col, fmt, mime in ((c1, "jsonl", "application/jsonl"), (c2, "csv", "text/csv")):
    if col.button(f"Prepare {fmt.upper()} export"):
        prepared = run_core(lambda: export_filtered(ledger, principal, fmt, filters, f"audit.{fmt}"))
        if prepared:
            st.session_state[f"export_{fmt}"], st.session_state[f"export_{fmt}_manifest"] = prepared
    if st.session_state.get(f"export_{fmt}"):
        col.download_button(f"Download {fmt.upper()}", st.session_state[f"export_{fmt}"], f"audit.{fmt}", mime)
        col.download_button(f"Download {fmt.upper()} manifest", json.dumps(st.session_state[f"export_{fmt}_manifest"], indent=2),
                            f"audit.{fmt}.manifest.json", "application/json")
