"""Erasure: record a right-to-be-forgotten request, preview it, execute it, download its certificate."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.erasure import create_request, get_request, list_requests, preview
from core.erasure_proof import certificate_markdown
from core.purge import execute
from pages.common import page_guard, run_core

ledger, principal = page_guard("purge", "erasure")
st.title(":material/delete_sweep: Erasure requests")
st.caption("Right to be forgotten (GDPR Art. 17): erase a document or a data subject from every store, prove it, certify it. Deadline: one month from receipt.")

with st.form("new-request"):
    st.subheader("Record a request")
    kind = st.radio("Target", ["A data subject", "A document"], horizontal=True)
    target = st.text_input("Subject's e-mail, name or id — or the document id (doc_…)")
    scope = st.selectbox("For a subject, erase", ["documents", "chunks"], format_func=lambda s: "whole documents that mention them" if s == "documents" else "only the chunks that mention them")
    requested_by = st.text_input("Requested by")
    reason = st.text_input("Reason / legal basis", value="GDPR Art. 17")
    if st.form_submit_button("Record request"):
        kwargs = {"doc_id": target.strip()} if kind == "A document" else {"subject": target}
        created = run_core(lambda: create_request(ledger, principal, requested_by=requested_by, reason=reason, scope=scope, **kwargs))
        if created:
            st.session_state["erasure_selected"] = created["request_id"]
            st.success(f"Recorded {created['request_id']}, due {created['due_at'][:10]}.")

requests = run_core(lambda: list_requests(ledger, principal)) or []
if requests:
    table = pd.DataFrame([{"request": r["request_id"], "kind": r["kind"], "status": r["status"], "requested by": r["requested_by"],
                           "received": r["received_at"][:10], "due": r["due_at"][:10], "overdue": r["overdue"]} for r in requests])
    st.dataframe(table.style.apply(lambda row: ["background-color: #f8d7da" if row["overdue"] else "" for _ in row], axis=1), hide_index=True)
    overdue = [r["request_id"] for r in requests if r["overdue"]]
    if overdue:
        st.error(f"Overdue: {', '.join(overdue)}")
    ids = [r["request_id"] for r in requests]
    default = ids.index(st.session_state["erasure_selected"]) if st.session_state.get("erasure_selected") in ids else 0
    chosen = st.selectbox("Request", ids, index=default)
    request = get_request(ledger, chosen)
    st.markdown(f"**Status:** `{request['status']}` · received {request['received_at']} · due {request['due_at']}")
    if request["status"] in ("received", "previewed"):
        if st.button("Preview"):
            st.session_state[f"preview_{chosen}"] = run_core(lambda: preview(ledger, principal, chosen))
        shown = st.session_state.get(f"preview_{chosen}") or request["preview_json"]
        if shown:
            st.markdown(f"Will erase **{shown['documents']}** document(s) and **{shown['chunks']}** chunk(s) "
                        f"({len(shown['partial_doc_ids'])} document(s) partially); **{shown['audit_records']}** audit record(s) become unreadable; "
                        f"**{shown['uploaded_files']}** uploaded file(s) removed; cached results: {shown['cached_results']}; "
                        f"checkpoints flagged for retraining: {', '.join(shown['checkpoints']) or 'none'}.")
            if st.button("Execute erasure", type="primary"):
                bar = st.progress(0.0, text="Starting…")
                result = run_core(lambda: execute(ledger, principal, chosen, progress=lambda s, i, n: bar.progress(min(i / n, 1.0), text=s)))
                if result:
                    st.success("Erased and verified." if result["verified_clean"] else "Erased, but verification found traces: see the certificate.")
                    st.rerun()
    if request["certificate_json"]:
        cert = request["certificate_json"]
        st.subheader("Erasure certificate")
        st.markdown(certificate_markdown(cert))
        c1, c2 = st.columns(2)
        c1.download_button("Download certificate (JSON)", json.dumps(cert, indent=2), f"{chosen}.json", "application/json")
        c2.download_button("Download certificate (Markdown)", certificate_markdown(cert), f"{chosen}.md", "text/markdown")
else:
    st.info("No erasure requests yet.")
