"""`ragledger ask`."""
from __future__ import annotations

import click

from core.cli_base import cli, emit, open_ledger, user_option
from core.rag.redaction import redaction_counts


@cli.command("ask")
@click.argument("question")
@user_option()
@click.option("--k", default=5, show_default=True, help="passages to retrieve")
@click.option("--answerer", default=None, help="answerer name (default: the one the ledger serves)")
@click.option("--json", "as_json", is_flag=True)
def ask_cmd(question: str, user: str, k: int, answerer: str | None, as_json: bool) -> None:
    """Ask a question as --user; the answer is redacted for that principal and audited."""
    from core.answering.ask import ask

    ledger = open_ledger()
    result = ask(ledger, ledger.policy.principal(user), question, k=k, answerer=answerer)
    if as_json:
        d = result.as_dict()
        brief = ("n", "doc_id", "chunk_id", "title", "score")
        emit({"answer": d["answer"], "citations": [{k: c[k] for k in brief} for c in d["citations"]],
              "see_also": [{k: c[k] for k in brief} for c in d["see_also"]], "abstained": not d["knows"],
              "abstention": d["abstention"], "redactions": d["redactions"], "audit_id": d["audit_id"], "latency_ms": d["latency_ms"]}, True)
        return
    click.echo(result.answer)
    for c in result.citations:
        click.echo(f"  [{c.n}] {c.title} ({c.doc_id}/{c.chunk_id}, score {c.score:.4f}){'' if c.used else '  (not quoted)'}")
    for c in result.see_also:  # abstained: the closest passages, not cited as sources
        click.echo(f"  see also: {c.title} ({c.doc_id}/{c.chunk_id}, score {c.score:.4f})")
    if result.redactions:
        click.echo("  redacted: " + redaction_counts(result.redactions))
    click.echo(f"  audit record {result.audit_id}")
