"""Erasure: record a right-to-be-forgotten request, preview it, execute it, download its certificate."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from core.erasure.requests import OPEN, cancel, close, confirm, create_request, get_request, list_requests, preview, subjects
from core.erasure.proof import certificate_markdown
from core.safe_text import inert_label
from core.erasure.purge import execute
from pages.common import flash, page_guard, run_core, show_flash

ledger, principal = page_guard("purge", "erasure")
st.title(":material/delete_sweep: Erasure requests")
st.caption("Right to be forgotten (GDPR Art. 17): erase a document or a data subject from every store, prove it, certify it. Deadline: one month from receipt.")
show_flash()

TARGET = "Subject's e-mail, name or id — or the document id (doc_…)"
RECORD_FIELDS = {"target": TARGET, "requested_by": "Requested by", "received_at": "Received on", "scope": "For a subject, erase"}

with st.form("new-request"):
    st.subheader("Record a request")
    kind = st.radio("Target", ["A data subject", "A document"], horizontal=True)
    target = st.text_input(TARGET)
    scope = st.selectbox("For a subject, erase", ["documents", "chunks"], format_func=lambda s: "whole documents that mention them" if s == "documents" else "only the chunks that mention them")
    requested_by = st.text_input("Requested by", help="a case or ticket reference, never the subject's name")
    reason = st.text_input("Reason / legal basis", value="GDPR Art. 17")
    # No max_value: core refuses a future date with a message that says why (one rule, for the CLI too).
    received = st.date_input("Received on", value=datetime.now(timezone.utc).date(), help="the day the request arrived (by mail, say); the deadline counts from it")
    if st.form_submit_button("Record request"):
        kwargs = {"doc_id": target.strip()} if kind == "A document" else {"subject": target}
        created = run_core(lambda: create_request(ledger, principal, requested_by=requested_by, reason=reason, scope=scope,
                                                  received_on=received, **kwargs), RECORD_FIELDS)
        if created:
            st.session_state["erasure_selected"] = created.request_id
            if created.duplicate:
                flash(f"{created.request_id} is already open for this target and requester: nothing new was recorded.", "info")
            else:
                flash(f"Recorded {created.request_id}, due {created.due_at[:10]}.")
            if created.warning:
                flash(f"{created.request_id}: {created.warning}.", "warning")
            st.rerun()

requests = run_core(lambda: list_requests(ledger, principal)) or []
if not requests:
    st.info("No erasure requests yet.")
    st.stop()

about = run_core(lambda: subjects(ledger, principal, requests)) or {}
table = pd.DataFrame([{"request": r.request_id, "about": about.get(r.request_id, ""), "kind": r.kind, "status": r.status,
                       "requested by": r.requested_by, "received": r.received_at[:10], "due": r.due_at[:10], "overdue": r.overdue}
                      for r in requests])
st.dataframe(table.style.apply(lambda row: ["background-color: #f8d7da" if row["overdue"] else "" for _ in row], axis=1), hide_index=True)
overdue = [r.request_id for r in requests if r.overdue]
if overdue:
    st.error(f"Overdue: {', '.join(overdue)}")
ids = [r.request_id for r in requests]
default = ids.index(st.session_state["erasure_selected"]) if st.session_state.get("erasure_selected") in ids else 0
chosen = st.selectbox("Request", ids, index=default, format_func=lambda i: f"{i} · {about.get(i, '')}")
request = get_request(ledger, chosen)
st.markdown(f"**Status:** `{request.status}` · received {request.received_at} · due {request.due_at}")
if request.status == "incomplete":
    st.error("The last run did not verify clean: the request stays open. Preview again to continue the erasure.")


def show_preview(shown: dict) -> list[str]:  # type: ignore[type-arg]
    """The preview as the officer decides on it; returns the match ids they unticked."""
    st.markdown(f"**Will erase:** {inert_label(shown['sentence'])}.")
    for d in shown["document_list"]:
        st.markdown(f"**{inert_label(d['title'])}** · `{d['doc_id']}` · {', '.join(d['groups'])} · {d['classification']} · "
                    f"erased {d['erased']}: {d['chunks_deleted']} of {d['chunks_total']} chunk(s)"
                    + (f" · fields: {', '.join(d['registry_fields'])}" if d["registry_fields"] else ""))
        if d["passages"]:
            with st.expander(f"Passages to be removed from {d['doc_id']} ({len(d['passages'])}{' shown' if d['passages_not_shown'] else ''})"):
                for p in d["passages"]:
                    st.caption(p["where"])
                    st.code(p["passage"], language=None, wrap_lines=True)  # plain text: never rendered as Markdown
    if shown["audit_record_list"]:
        with st.expander(f"Audit records whose text becomes unreadable ({shown['impact']['audit_records_unreadable']})"):
            st.dataframe(pd.DataFrame(shown["audit_record_list"]), hide_index=True)
    excluded = []
    if shown.get("matches"):
        st.subheader(f"{len(shown['matches'])} match(es): untick what is not the subject")
        for m in shown["matches"]:
            if not st.checkbox(f"Erase {m['match_id']}: {m['where']} of {m['doc_id']} ({m['kind']})", value=True, key=f"keep_{chosen}_{m['match_id']}"):
                excluded.append(m["match_id"])
            st.code(m["passage"], language=None, wrap_lines=True)
    elif request.kind == "subject":
        st.warning("Nothing stored mentions this subject: there is nothing to erase. Answer the requester and close the request below.")
    return excluded


if request.status in OPEN:
    if st.button("Preview"):
        st.session_state[f"preview_{chosen}"] = run_core(lambda: preview(ledger, principal, chosen))
    shown = st.session_state.get(f"preview_{chosen}")
    if shown:
        excluded = show_preview(shown)
        typed = st.text_input("Type the subject (or the document id) exactly to confirm", key=f"confirm_{chosen}")
        if st.button("Execute erasure", type="primary"):
            if run_core(lambda: confirm(ledger, principal, chosen, typed, excluded)):
                bar = st.progress(0.0, text="Starting…")
                result = run_core(lambda: execute(ledger, principal, chosen, progress=lambda s, i, n: bar.progress(min(i / n, 1.0), text=s)))
                if result:
                    st.session_state.pop(f"preview_{chosen}", None)
                    if result.verified_clean:
                        flash(f"{chosen}: erased and verified; the certificate is below.")
                    else:
                        flash(f"{chosen}: erased, but verification found traces: the request stays open; see what remains below.", "error")
                    st.rerun()
    with st.expander("Cancel or close this request"):
        st.caption("Cancel: withdrawn, or recorded by mistake. Close: answered without erasure (nothing to erase, or refused on a legal ground). "
                   "Either way nothing is erased and the subject is no longer stored.")
        why = st.text_input("Reason", key=f"end_reason_{chosen}")
        c1, c2 = st.columns(2)
        for column, label, action, done in ((c1, "Cancel request", cancel, "cancelled"), (c2, "Close request", close, "closed")):
            if column.button(label) and run_core(lambda: action(ledger, principal, chosen, why), {"reason": "Reason"}):
                st.session_state.pop(f"preview_{chosen}", None)
                flash(f"{chosen} {done}: nothing was erased.")
                st.rerun()
if request.status in ("cancelled", "closed"):
    st.info(f"{request.status.capitalize()} {request.cancelled_at}: {request.cancel_reason}. Nothing was erased; the subject is no longer stored.")
if request.certificate:
    cert = request.certificate
    st.subheader("Erasure certificate" if cert.verified_clean else f"Attempt {cert.attempt}: not verified clean")
    st.markdown(certificate_markdown(cert))
    c1, c2 = st.columns(2)
    c1.download_button("Download certificate (JSON)", json.dumps(cert.to_dict(), indent=2), f"{chosen}.json", "application/json")
    c2.download_button("Download certificate (Markdown)", certificate_markdown(cert), f"{chosen}.md", "text/markdown")
