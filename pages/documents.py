"""Documents: upload into one's own groups (with progress), and the list one may see."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.rag.documents import list_documents
from core.rag.ingest import Source, ingest
import core.evaluation.freshness  # noqa: F401  (re-asks the golden set after an ingest, policy evaluation.on_new_version)
from core.policy.models import CLASSIFICATION_LEVELS
from core.safe_text import inert_label
from pages.common import page_guard, run_core

ledger, principal = page_guard("documents.read", "documents")
st.title(":material/description: Documents")

if principal.may("documents.ingest"):
    with st.expander("Upload documents", expanded=False):
        files = st.file_uploader("Files (.txt .md .pdf .docx .html)", accept_multiple_files=True)
        groups = st.multiselect("Groups", list(principal.groups), default=list(principal.groups[:1]))
        levels = CLASSIFICATION_LEVELS[: principal.clearance_rank + 1]
        level = st.selectbox("Classification", levels, index=min(1, len(levels) - 1))
        if st.button("Ingest", disabled=not files):
            bar = st.progress(0.0, text="Starting…")

            checks: list[str] = []  # the freshness check after new versions (docs/evaluation.md)

            def progress(name: str, i: int, n: int) -> None:
                if name.startswith("freshness:"):
                    checks.append(name)
                bar.progress(min(i / max(n, 1), 1.0), text="Done" if name == "done" else f"{i + 1}/{n}: {name}")

            sources = [Source(f.name, f.getvalue(), f"upload:{principal.name}:{f.name}") for f in files or []]
            results = run_core(lambda: ingest(ledger, principal, sources, groups=groups, classification=level, progress=progress))
            if results:
                for r in results:
                    pii = ", ".join(f"{k} {v}" for k, v in sorted(r.pii.items())) or "none"
                    st.success(f"{inert_label(r.title)}: {r.status.replace('_', ' ')}, {r.chunks} chunk{'s' * (r.chunks != 1)}, PII: {pii}")
            for check in checks:
                (st.info if check.endswith("no failure") else st.error)(check.capitalize())

docs = run_core(lambda: list_documents(ledger, principal)) or []
st.caption(f"{len(docs)} documents visible to you")
if docs:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "title": d["title"], "classification": d["classification"], "groups": ", ".join(d["groups"]),
                    "chunks": d["chunk_count"], "version": d["version"], "language": d.get("language") or "unknown",
                    "PII": ", ".join(f"{k} {v}" for k, v in sorted(d["pii_summary"].items())) or "none",
                    "owner": d["owner"], "doc_id": d["doc_id"],
                }
                for d in docs
            ]
        ),
        hide_index=True,
    )
