"""Policy workbench: the loaded policies; edit a file, validate it, see what each role would gain or
lose, save it (audited, re-analysed when detection changed); and "see as" another principal."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.workbench.policy_admin import diff, loaded_policies, save, validate
from core.rag.redaction import redaction_counts
from core.safe_text import inert_label, inert_markdown, inert_passage
from core.workbench.simulation import simulate
from pages.common import page_guard, run_core

ledger, principal = page_guard("policy.simulate", "policy")
st.title(":material/policy: Policy")

loaded = run_core(lambda: loaded_policies(ledger, principal))
if loaded is None:
    st.stop()
st.caption(f"Policy version `{loaded['version']}` from `{loaded['directory']}`")

see_as, edit, current = st.tabs(["See as", "Edit and validate", "Loaded policies"])

with current:
    for name, text in loaded["files"].items():
        with st.expander(name):
            st.code(text, language="yaml")

with see_as:
    others = [n for n in ledger.policy.principal_names() if n != principal.name]
    c1, c2 = st.columns([1, 3])
    target = c1.selectbox("Principal", others, index=others.index("carol") if "carol" in others else 0)
    question = c2.text_input("Question", key="sim_question")
    if st.button("Simulate", disabled=not question.strip()):
        with st.spinner("Asking as both principals…"):
            st.session_state["simulation"] = run_core(lambda: simulate(ledger, principal, target, question))
    sim = st.session_state.get("simulation")
    if sim is not None:
        st.caption("Audited as your simulation; it never appears as the other principal's question.")
        left, right = st.columns(2)
        for col, label, res in ((left, f"What {sim.target} ({sim.target_role}, profile {sim.target_profile}) receives", sim.as_target),
                                (right, f"Your view ({principal.name})", sim.own)):
            with col:
                st.subheader(label)
                st.markdown(inert_markdown(res.answer))
                st.caption(f"{len(res.citations)} citations · redactions {redaction_counts(res.redactions)} · withheld {res.withheld}")
                for c in res.citations:
                    with st.expander(f"[{c.n}] {inert_label(c.title)}"):
                        st.markdown(inert_passage(c.text))
        if sim.only_in_own:
            st.info(f"{len(sim.only_in_own)} passage(s) in your view are not in {sim.target}'s.")

with edit:
    filename = st.selectbox("File", list(loaded["files"]))
    text = st.text_area("Content", value=loaded["files"][filename], height=360, key=f"edit_{filename}")
    b1, b2, b3 = st.columns(3)
    if b1.button("Validate"):
        v = run_core(lambda: validate(ledger, principal, filename, text))
        if v:
            (st.success if v.ok else st.error)(f"{filename}: {v.message}")
            for w in v.warnings:
                st.warning(w)
    if b2.button("Show what changes"):
        d = run_core(lambda: diff(ledger, principal, filename, text))
        if d:
            for w in d["warnings"]:
                st.warning(w)
            rows = []
            for role, r in d["roles"].items():
                rows += [{"role": role, "change": "gains permission", "what": p} for p in r.get("permissions_gained", [])]
                rows += [{"role": role, "change": "loses permission", "what": p} for p in r.get("permissions_lost", [])]
                rows += [{"role": role, "change": "redaction", "what": f"{c['entity']}: {c['before']} → {c['after']}"} for c in r.get("redaction_changes", [])]
                for name, p in r.get("principals", {}).items():
                    rows += [{"role": role, "change": f"{name} gains document", "what": x["title"]} for x in p["documents_gained"]]
                    rows += [{"role": role, "change": f"{name} loses document", "what": x["title"]} for x in p["documents_lost"]]
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True)
            else:
                st.info("No role gains or loses anything.")
            st.caption(f"Re-analysis of stored documents needed: {'yes' if d['needs_reanalysis'] else 'no'}")
    if b3.button("Save"):
        bar = st.progress(0.0, text="Saving…")

        def progress(name: str, i: int, n: int) -> None:
            bar.progress(min(i / max(n, 1), 1.0), text=f"Re-analysing {i}/{n}")

        out = run_core(lambda: save(ledger, principal, filename, text, progress=progress))
        if out:
            bar.progress(1.0, text="Done")
            st.success(f"Saved {filename}; policy version {out['version']}.")
            if out["reanalysis"]:
                r = out["reanalysis"]
                st.info(f"Re-analysed {r['documents']} documents: {r['changed_chunks']} of {r['chunks']} chunks changed.")
