"""The compliance workbench on the command line: redaction evaluation, policy validate/diff/save,
re-analysis, retention and legal hold, records of processing, "see as" simulation, overview figures,
audit export bundles."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli_base import DEFAULT_CLI_USER, cli, emit, open_ledger, user_option
from core.cli_commands.audit import audit
from core.rag.redaction import redaction_counts


def _progress(name: str, i: int, n: int) -> None:
    if name != "done":
        click.echo(f"[{i + 1}/{n}] {name}", err=True)


@cli.group()
def redaction() -> None:
    """Redaction quality."""


@redaction.command("evaluate")
@click.option("--samples", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="JSONL of labelled samples (default: the bundled held-out test part)")
@click.option("--limit", type=click.IntRange(min=1), help="evaluate every n-th sample only, about this many")
@click.option("--with-tuning", is_flag=True, help="also show the figures on the tuning part, labelled as such")
@click.option("--no-vanilla", is_flag=True, help="skip the vanilla Presidio comparison")
@click.option("--json", "as_json", is_flag=True)
def redaction_evaluate(samples: Path | None, limit: int | None, with_tuning: bool, no_vanilla: bool, as_json: bool) -> None:
    """Detection per type and locale, and what each profile still shows, on the held-out test part."""
    from core.workbench.redaction_eval import evaluate, profile_rows, save_result, table_rows

    ledger = open_ledger()
    progress = None if as_json else (lambda done, total: click.echo(f"  analysed {done}/{total}", err=True))
    result = evaluate(ledger.policy, samples, limit=limit, vanilla=not no_vanilla, with_tuning=with_tuning, progress=progress)
    save_result(ledger.settings.home, result)
    if as_json:
        emit(result, True)
        return
    part = result["test"]
    click.echo(f"{part['sentences']} samples, {part['values']} labelled values from {result['samples']} ({result['part']} part)")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    click.echo(f"\n{'type':<16}{'P':>8}{'R':>8}{'vanilla P':>11}{'vanilla R':>11}{'support':>9}")
    for r in table_rows(result):
        click.echo(f"{r['type']:<16}{fmt(r['precision']):>8}{fmt(r['recall']):>8}{fmt(r['vanilla_precision']):>11}"
                   f"{fmt(r['vanilla_recall']):>11}{r['support']:>9}")
    click.echo(f"\n{'profile':<30}{'must hide':>10}{'visible':>9}{'share':>8}{'precision':>11}{'ids/cards/banks visible':>25}")
    for r in profile_rows(result):
        click.echo(f"{r['profile']:<30}{r['must_hide']:>10}{r['visible']:>9}{fmt(r['visible_share']):>8}"
                   f"{fmt(r['precision']):>11}{r['sensitive_visible']:>25}")
    if "tuning" in result:
        t = result["tuning"]
        click.echo(f"\nTuning part ({t['note']}): " + ", ".join(f"{n} visible {fmt(p['visible_share'])}" for n, p in t["profiles"].items()))


@cli.group()
def policy() -> None:
    """Validate, compare and save policy files."""


def _policy_file(path: Path, name: str | None) -> str:
    from core.policy.engine import POLICY_FILES

    filename = name or path.name
    if filename not in POLICY_FILES:
        from core.errors import RagLedgerError

        raise RagLedgerError(f"{filename} is not a policy file", hint=f"name it one of {', '.join(POLICY_FILES)} or pass --as-file")
    return filename


@policy.command("validate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file", help="which policy file FILE replaces (default: its own name)")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def policy_validate(file: Path, as_file: str | None, as_json: bool, user: str) -> None:
    """Validate FILE as a replacement of the loaded policy file; exit 2 naming the field if it is wrong."""
    from core.workbench.policy_admin import validate

    ledger = open_ledger()
    result = validate(ledger, ledger.policy.principal(user), _policy_file(file, as_file), file.read_text())
    if as_json:
        emit(result.__dict__, True)
    else:
        click.echo("OK: " + result.file + " is valid" if result.ok else f"INVALID: {result.message}")
        for w in result.warnings:
            click.echo(f"warning: {w}")
    if not result.ok:
        sys.exit(2)


@policy.command("diff")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def policy_diff(file: Path, as_file: str | None, as_json: bool, user: str) -> None:
    """What each role and principal would gain or lose if FILE replaced the loaded policy file."""
    from core.workbench.policy_admin import diff

    ledger = open_ledger()
    d = diff(ledger, ledger.policy.principal(user), _policy_file(file, as_file), file.read_text())
    if as_json:
        emit(d, True)
        return
    for role, r in d["roles"].items():
        click.echo(f"role {role} ({r.get('status', 'kept')})")
        for p in r.get("permissions_gained", []):
            click.echo(f"  + permission {p}")
        for p in r.get("permissions_lost", []):
            click.echo(f"  - permission {p}")
        for c in r.get("redaction_changes", []):
            click.echo(f"  ~ {c['entity']}: {c['before']} -> {c['after']}")
        for name, p in r.get("principals", {}).items():
            for doc in p["documents_gained"]:
                click.echo(f"  + {name} sees {doc['doc_id']} {doc['title']}")
            for doc in p["documents_lost"]:
                click.echo(f"  - {name} loses {doc['doc_id']} {doc['title']}")
    for key in ("recognizers_added", "recognizers_removed", "entities_added", "entities_removed"):
        if d[key]:
            click.echo(f"{key.replace('_', ' ')}: {', '.join(d[key])}")
    click.echo("re-analysis needed: " + ("yes" if d["needs_reanalysis"] else "no"))
    for w in d["warnings"]:
        click.echo(f"warning: {w}")


@policy.command("save")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file")
@click.option("--no-reanalyze", is_flag=True, help="do not re-analyse stored documents now")
@user_option(DEFAULT_CLI_USER)
def policy_save(file: Path, as_file: str | None, no_reanalyze: bool, user: str) -> None:
    """Validate FILE, replace the policy file with it (audited), and re-analyse if detection changed."""
    from core.workbench.policy_admin import save

    ledger = open_ledger()
    out = save(ledger, ledger.policy.principal(user), _policy_file(file, as_file), file.read_text(),
               reanalyze=not no_reanalyze, progress=_progress)
    click.echo(f"saved; policy version {out['version']} (audit {out['audit_id']})")
    if out["reanalysis"]:
        r = out["reanalysis"]
        click.echo(f"re-analysed {r['documents']} documents, {r['changed_chunks']} of {r['chunks']} chunks changed")


@cli.command("reanalyze")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def reanalyze_cmd(as_json: bool, user: str) -> None:
    """Re-run PII detection over every stored document with the current recognizers."""
    from core.workbench.reanalysis import reanalyze

    ledger = open_ledger()
    r = reanalyze(ledger, ledger.policy.principal(user), progress=None if as_json else _progress)
    if as_json:
        emit(r.as_dict(), True)
    else:
        click.echo(f"re-analysed {r.documents} documents: {r.changed_chunks} of {r.chunks} chunks changed; skipped {len(r.skipped)}")


@cli.group()
def retention() -> None:
    """Retention periods and legal hold."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="say what would be removed, remove nothing")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def retention_run(dry_run: bool, as_json: bool, user: str) -> None:
    """Remove audit records and documents past their retention period (not while a legal hold is active)."""
    from core.workbench.retention import run

    ledger = open_ledger()
    r = run(ledger, ledger.policy.principal(user), dry_run=dry_run)
    if as_json:
        emit(r.as_dict(), True)
        return
    if r.suspended_by_hold:
        click.echo(f"SUSPENDED by legal hold: {'; '.join(r.hold_reasons)}")
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {r.audit_records_removed} audit records (through seq {r.removed_through_seq}) and {len(r.documents_expired)} documents")


@retention.command("hold")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--reason", default="", help="why (required for 'on'); sealed in the audit log")
@user_option(DEFAULT_CLI_USER)
def retention_hold(state: str, reason: str, user: str) -> None:
    """Place or release a legal hold (the retention job does nothing while one is active)."""
    from core.workbench.retention import set_hold

    ledger = open_ledger()
    out = set_hold(ledger, ledger.policy.principal(user), state == "on", reason)
    click.echo(f"legal hold {'placed' if out['active'] else 'released'}; active holds: {len(out['holds'])}")


@cli.group()
def report() -> None:
    """Generated reports."""


@report.command("processing")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True)
@click.option("--output", type=click.Path(path_type=Path))
@user_option(DEFAULT_CLI_USER)
def report_processing(fmt: str, output: Path | None, user: str) -> None:
    """Records of processing (GDPR Art. 30) as Markdown or CSV."""
    from core.workbench.processing_records import build, to_csv, to_markdown

    ledger = open_ledger()
    rep = build(ledger, ledger.policy.principal(user))
    text = to_markdown(rep) if fmt == "md" else to_csv(rep)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command("simulate")
@click.option("--as", "target", required=True, help="the principal whose view to simulate")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True)
@user_option(DEFAULT_CLI_USER)
def simulate_cmd(target: str, question: str, as_json: bool, user: str) -> None:
    """See what --as NAME would receive for QUESTION, beside your own view (audited as yours)."""
    from core.workbench.simulation import simulate

    ledger = open_ledger()
    sim = simulate(ledger, ledger.policy.principal(user), target, question)
    if as_json:
        emit(sim.as_dict(), True)
        return
    for label, res in ((f"as {sim.target} ({sim.target_role})", sim.as_target), (f"as you ({user})", sim.own)):
        click.echo(f"== {label}: {len(res.citations)} citations, redactions {redaction_counts(res.redactions)}, withheld {res.withheld}")
        click.echo(res.answer)
        for c in res.citations:
            click.echo(f"  [{c.n}] {c.title} ({c.doc_id})")


@cli.command("overview")
@click.option("--since")
@click.option("--until")
@click.option("--role")
@click.option("--group")
@user_option(DEFAULT_CLI_USER)
def overview_cmd(since: str | None, until: str | None, role: str | None, group: str | None, user: str) -> None:
    """The overview's figures as JSON (the same queries as the page)."""
    from core.workbench.overview import Filters, overview

    ledger = open_ledger()
    emit(overview(ledger, ledger.policy.principal(user), Filters(since, until, role, group)), True)


@audit.command("export-bundle")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
@click.option("--kind", "kinds", multiple=True, help="only records of this kind (repeatable)")
@click.option("--actor", help="only records of this principal")
@click.option("--since", help="only records at or after this ISO date/time")
@click.option("--until", help="only records before this ISO date/time")
@click.option("--about", help="only records whose question named this data subject (name, e-mail or id)")
@user_option(DEFAULT_CLI_USER)
def audit_export_bundle(fmt: str, output: Path, kinds: tuple[str, ...], actor: str | None, since: str | None, until: str | None,
                        about: str | None, user: str) -> None:
    """Export the trail with a manifest (count, anchor and head hash, SHA-256) for offline verification;
    with filters, only the matching records, and the manifest names the filters."""
    from core.workbench.exports import export_bundle, manifest_path

    ledger = open_ledger()
    filters = {"kinds": list(kinds) or None, "actor": actor, "since": since, "until": until, "about": about}
    m = export_bundle(ledger, ledger.policy.principal(user), fmt, output, filters)
    click.echo(f"wrote {output} ({m['records']} records, head {m['head_hash'][:16]}…) and {manifest_path(output).name}"
               + ("" if m["complete"] else " (filtered: not the whole log)"))
