"""Erasure: record a right-to-be-forgotten request, preview it, execute it, download its certificate."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.erasure import cancel, confirm, create_request, get_request, list_requests, preview
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
    if request["status"] == "incomplete":
        st.error("The last run did not verify clean: the request stays open. Preview again to continue the erasure.")
    if request["status"] in ("received", "previewed", "confirmed", "incomplete"):
        if st.button("Preview"):
            st.session_state[f"preview_{chosen}"] = run_core(lambda: preview(ledger, principal, chosen))
        shown = st.session_state.get(f"preview_{chosen}")
        if shown:
            st.markdown(f"Will erase **{shown['documents']}** document(s) and **{shown['chunks']}** chunk(s) "
                        f"({len(shown['partial_doc_ids'])} document(s) partially); **{shown['audit_records']}** audit record(s) become unreadable; "
                        f"**{shown['uploaded_files']}** uploaded file(s) removed; cached results: {shown['cached_results']}; "
                        f"checkpoints flagged for retraining: {', '.join(shown['checkpoints']) or 'none'}.")
            excluded = []
            if shown.get("matches"):
                st.subheader(f"{len(shown['matches'])} match(es): untick what is not the subject")
                for m in shown["matches"]:
                    if not st.checkbox(f"Erase {m['match_id']}: {m['where']} of {m['doc_id']} ({m['kind']})", value=True, key=f"keep_{chosen}_{m['match_id']}"):
                        excluded.append(m["match_id"])
                    st.code(m["passage"], language=None, wrap_lines=True)  # plain text: a passage is never rendered as Markdown
            typed = st.text_input("Type the subject (or the document id) exactly to confirm", key=f"confirm_{chosen}")
            if st.button("Execute erasure", type="primary"):
                if run_core(lambda: confirm(ledger, principal, chosen, typed, excluded)):
                    bar = st.progress(0.0, text="Starting…")
                    result = run_core(lambda: execute(ledger, principal, chosen, progress=lambda s, i, n: bar.progress(min(i / n, 1.0), text=s)))
                    if result:
                        st.session_state.pop(f"preview_{chosen}", None)
                        if result["verified_clean"]:
                            st.success("Erased and verified.")
                        else:
                            st.error("Erased, but verification found traces: the request stays open; see what remains below.")
                        st.rerun()
        with st.expander("Cancel this request"):
            why = st.text_input("Reason for cancelling", key=f"cancel_reason_{chosen}")
            if st.button("Cancel request") and run_core(lambda: cancel(ledger, principal, chosen, why)):
                st.session_state.pop(f"preview_{chosen}", None)
                st.rerun()
    if request["status"] == "cancelled":
        st.info(f"Cancelled {request['cancelled_at']}: {request['cancel_reason']}. Nothing was erased; the subject is no longer stored.")
    if request["certificate_json"]:
        cert = request["certificate_json"]
        st.subheader("Erasure certificate" if cert["verified_clean"] else f"Attempt {cert.get('attempt', 1)}: not verified clean")
        st.markdown(certificate_markdown(cert))
        c1, c2 = st.columns(2)
        c1.download_button("Download certificate (JSON)", json.dumps(cert, indent=2), f"{chosen}.json", "application/json")
        c2.download_button("Download certificate (Markdown)", certificate_markdown(cert), f"{chosen}.md", "text/markdown")
else:
    st.info("No erasure requests yet.")
