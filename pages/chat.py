"""Chat: ask, and see the answer with its cited, redacted sources."""
from __future__ import annotations

import streamlit as st

from core.answering.answer_stream import answer_pieces, streams
from core.answering.ask import ask
from core.rag.redaction import redaction_counts
from core.answering.router import route_summary
from core.safe_text import inert_label, inert_markdown, inert_passage
from pages.common import page_guard, run_core

ledger, principal = page_guard("ask", "chat")
st.title(":material/chat: Ask the documents")
st.caption("Answers come only from documents your groups and clearance allow; personal data is redacted for your role.")

history = st.session_state.setdefault("chat_history", [])


def render(result, streamed: bool = False) -> None:  # type: ignore[no-untyped-def]
    # Answers, passages, titles and questions are untrusted text: shown inert (no images, no links,
    # no headings), see core/safe_text.py.
    if not streamed:
        st.markdown(inert_markdown(result.answer))
    meta = [f"{result.latency_ms:.0f} ms", f"answerer `{result.answerer}`"]
    if route_summary(result.route):
        meta.append(route_summary(result.route))
    if result.redactions:
        meta.append("redacted: " + redaction_counts(result.redactions))
    # Withheld matches are counted for the audit record only: showing their number would tell the
    # asker that documents outside their clearance match the question.
    st.caption(" · ".join(meta))
    for c in result.citations:
        with st.expander(f"[{c.n}] {inert_label(c.title)}" + ("" if c.used else " (not quoted)")):
            st.markdown(inert_passage(c.text))
            st.caption(f"{c.doc_id} / {c.chunk_id} · score {c.score:.4f}")
    if result.see_also:  # the answer abstained: the closest passages, to read, never cited as sources
        st.caption("See also: the closest passages you may read. They did not answer the question, so nothing is cited.")
        for c in result.see_also:
            with st.expander(f"See also: {inert_label(c.title)}"):
                st.markdown(inert_passage(c.text))
                st.caption(f"{c.doc_id} / {c.chunk_id} · score {c.score:.4f}")


for turn in history:
    with st.chat_message("user"):
        st.markdown(inert_markdown(turn["question"]))
    with st.chat_message("assistant"):
        render(turn["result"])

question = st.chat_input("Ask a question about your documents")
if question:
    with st.chat_message("user"):
        st.markdown(inert_markdown(question))
    with st.chat_message("assistant"):
        with st.spinner("Searching the documents you may read…"):
            result = run_core(lambda: ask(ledger, principal, question))
        if result is not None:
            if streams(result):  # a generated answer: already guarded and audited, shown word by word, inert
                st.write_stream(inert_markdown(piece) for piece in answer_pieces(result))
            render(result, streamed=streams(result))  # the citations appear when the answer ends
            history.append({"question": question, "result": result})
