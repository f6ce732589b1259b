"""`ragledger ask`."""
from __future__ import annotations

import click

from core.cli_base import cli, ledger_command
from core.rag.redaction import redaction_counts


def _ask_json(result) -> dict:  # type: ignore[no-untyped-def]
    """The fields README.md promises a script for `ask --json`; the rest of the result stays out of that contract."""
    d = result.as_dict()
    brief = ("n", "doc_id", "chunk_id", "title", "score")
    return {"answer": d["answer"], "citations": [{k: c[k] for k in brief} for c in d["citations"]],
            "see_also": [{k: c[k] for k in brief} for c in d["see_also"]], "abstained": not d["knows"],
            "abstention": d["abstention"], "redactions": d["redactions"], "audit_id": d["audit_id"], "latency_ms": d["latency_ms"]}


def _ask_lines(result):  # type: ignore[no-untyped-def]
    yield result.answer
    for c in result.citations:
        yield f"  [{c.n}] {c.title} ({c.doc_id}/{c.chunk_id}, score {c.score:.4f}){'' if c.used else '  (not quoted)'}"
    for c in result.see_also:  # abstained: the closest passages, not cited as sources
        yield f"  see also: {c.title} ({c.doc_id}/{c.chunk_id}, score {c.score:.4f})"
    if result.redactions:
        yield "  redacted: " + redaction_counts(result.redactions)
    yield f"  audit record {result.audit_id}"


@ledger_command(cli, "ask", user=None, to_json=_ask_json, text=_ask_lines)
@click.argument("question")
@click.option("--k", default=5, show_default=True, help="passages to retrieve")
@click.option("--answerer", default=None, help="answerer name (default: the one the ledger serves)")
def ask_cmd(ledger, principal, question: str, k: int, answerer: str | None):  # type: ignore[no-untyped-def]
    """Ask a question as --user; the answer is redacted for that principal and audited."""
    from core.answering.ask import ask

    return ask(ledger, principal, question, k=k, answerer=answerer)
