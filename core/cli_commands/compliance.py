"""The compliance workbench on the command line: redaction evaluation, policy validate/diff/save,
re-analysis, retention and legal hold, records of processing, "see as" simulation, overview figures,
audit export bundles."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli_base import DEFAULT_CLI_USER, cli, json_text, ledger_command, open_ledger, user_option
from core.cli_commands.audit import audit
from core.rag.redaction import redaction_counts


def _progress(name: str, i: int, n: int) -> None:
    if name != "done":
        click.echo(f"[{i + 1}/{n}] {name}", err=True)


@cli.group()
def redaction() -> None:
    """Redaction quality."""


def _evaluation_lines(result: dict):  # type: ignore[no-untyped-def]
    from core.workbench.redaction_eval import profile_rows, table_rows

    part = result["test"]
    yield f"{part['sentences']} samples, {part['values']} labelled values from {result['samples']} ({result['part']} part)"
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    yield f"\n{'type':<16}{'P':>8}{'R':>8}{'vanilla P':>11}{'vanilla R':>11}{'support':>9}"
    for r in table_rows(result):
        yield (f"{r['type']:<16}{fmt(r['precision']):>8}{fmt(r['recall']):>8}{fmt(r['vanilla_precision']):>11}"
               f"{fmt(r['vanilla_recall']):>11}{r['support']:>9}")
    yield f"\n{'profile':<30}{'must hide':>10}{'visible':>9}{'share':>8}{'precision':>11}{'ids/cards/banks visible':>25}"
    for r in profile_rows(result):
        yield (f"{r['profile']:<30}{r['must_hide']:>10}{r['visible']:>9}{fmt(r['visible_share']):>8}"
               f"{fmt(r['precision']):>11}{r['sensitive_visible']:>25}")
    if "tuning" in result:
        t = result["tuning"]
        yield f"\nTuning part ({t['note']}): " + ", ".join(f"{n} visible {fmt(p['visible_share'])}" for n, p in t["profiles"].items())


@ledger_command(redaction, "evaluate", principal=False, text=_evaluation_lines)
@click.option("--samples", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="JSONL of labelled samples (default: the bundled held-out test part)")
@click.option("--limit", type=click.IntRange(min=1), help="evaluate every n-th sample only, about this many")
@click.option("--with-tuning", is_flag=True, help="also show the figures on the tuning part, labelled as such")
@click.option("--no-vanilla", is_flag=True, help="skip the vanilla Presidio comparison")
def redaction_evaluate(ledger, samples: Path | None, limit: int | None, with_tuning: bool, no_vanilla: bool,  # type: ignore[no-untyped-def]
                       as_json: bool) -> dict:
    """Detection per type and locale, and what each profile still shows, on the held-out test part."""
    from core.workbench.redaction_eval import evaluate, save_result

    progress = None if as_json else (lambda done, total: click.echo(f"  analysed {done}/{total}", err=True))
    result = evaluate(ledger.policy, samples, limit=limit, vanilla=not no_vanilla, with_tuning=with_tuning, progress=progress)
    save_result(ledger.settings.home, result)
    return result


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


def _validation_lines(result):  # type: ignore[no-untyped-def]
    yield "OK: " + result.file + " is valid" if result.ok else f"INVALID: {result.message}"
    for w in result.warnings:
        yield f"warning: {w}"


def _exit_unless_valid(result) -> None:  # type: ignore[no-untyped-def]
    if not result.ok:
        sys.exit(2)


@ledger_command(policy, "validate", to_json=lambda result: result.__dict__, text=_validation_lines, then=_exit_unless_valid)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file", help="which policy file FILE replaces (default: its own name)")
def policy_validate(ledger, principal, file: Path, as_file: str | None):  # type: ignore[no-untyped-def]
    """Validate FILE as a replacement of the loaded policy file; exit 2 naming the field if it is wrong."""
    from core.workbench.policy_admin import validate

    return validate(ledger, principal, _policy_file(file, as_file), file.read_text())


def _diff_lines(d: dict):  # type: ignore[no-untyped-def]
    for role, r in d["roles"].items():
        yield f"role {role} ({r.get('status', 'kept')})"
        for p in r.get("permissions_gained", []):
            yield f"  + permission {p}"
        for p in r.get("permissions_lost", []):
            yield f"  - permission {p}"
        for c in r.get("redaction_changes", []):
            yield f"  ~ {c['entity']}: {c['before']} -> {c['after']}"
        for name, p in r.get("principals", {}).items():
            for doc in p["documents_gained"]:
                yield f"  + {name} sees {doc['doc_id']} {doc['title']}"
            for doc in p["documents_lost"]:
                yield f"  - {name} loses {doc['doc_id']} {doc['title']}"
    for key in ("recognizers_added", "recognizers_removed", "entities_added", "entities_removed"):
        if d[key]:
            yield f"{key.replace('_', ' ')}: {', '.join(d[key])}"
    yield "re-analysis needed: " + ("yes" if d["needs_reanalysis"] else "no")
    for w in d["warnings"]:
        yield f"warning: {w}"


@ledger_command(policy, "diff", text=_diff_lines)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file")
def policy_diff(ledger, principal, file: Path, as_file: str | None) -> dict:  # type: ignore[no-untyped-def]
    """What each role and principal would gain or lose if FILE replaced the loaded policy file."""
    from core.workbench.policy_admin import diff

    return diff(ledger, principal, _policy_file(file, as_file), file.read_text())


def _saved_lines(out: dict):  # type: ignore[no-untyped-def]
    yield f"saved; policy version {out['version']} (audit {out['audit_id']})"
    if out["reanalysis"]:
        r = out["reanalysis"]
        yield f"re-analysed {r['documents']} documents, {r['changed_chunks']} of {r['chunks']} chunks changed"


@ledger_command(policy, "save", json_flag=False, text=_saved_lines)
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--as-file", "as_file")
@click.option("--no-reanalyze", is_flag=True, help="do not re-analyse stored documents now")
def policy_save(ledger, principal, file: Path, as_file: str | None, no_reanalyze: bool) -> dict:  # type: ignore[no-untyped-def]
    """Validate FILE, replace the policy file with it (audited), and re-analyse if detection changed."""
    from core.workbench.policy_admin import save

    return save(ledger, principal, _policy_file(file, as_file), file.read_text(), reanalyze=not no_reanalyze, progress=_progress)


@ledger_command(cli, "reanalyze", to_json=lambda r: r.as_dict(),
                text=lambda r: f"re-analysed {r.documents} documents: {r.changed_chunks} of {r.chunks} chunks changed; skipped {len(r.skipped)}")
def reanalyze_cmd(ledger, principal, as_json: bool):  # type: ignore[no-untyped-def]
    """Re-run PII detection over every stored document with the current recognizers."""
    from core.workbench.reanalysis import reanalyze

    return reanalyze(ledger, principal, progress=None if as_json else _progress)


@cli.group()
def retention() -> None:
    """Retention periods and legal hold."""


def _retention_text(r, dry_run: bool) -> str:  # type: ignore[no-untyped-def]
    if r.suspended_by_hold:
        return f"SUSPENDED by legal hold: {'; '.join(r.hold_reasons)}"
    verb = "would remove" if dry_run else "removed"
    return f"{verb} {r.audit_records_removed} audit records (through seq {r.removed_through_seq}) and {len(r.documents_expired)} documents"


@ledger_command(retention, "run", to_json=lambda r: r.as_dict(), text=_retention_text)
@click.option("--dry-run", is_flag=True, help="say what would be removed, remove nothing")
def retention_run(ledger, principal, dry_run: bool):  # type: ignore[no-untyped-def]
    """Remove audit records and documents past their retention period (not while a legal hold is active)."""
    from core.workbench.retention import run

    return run(ledger, principal, dry_run=dry_run)


@ledger_command(retention, "hold", json_flag=False,
                text=lambda out: f"legal hold {'placed' if out['active'] else 'released'}; active holds: {len(out['holds'])}")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--reason", default="", help="why (required for 'on'); sealed in the audit log")
def retention_hold(ledger, principal, state: str, reason: str) -> dict:  # type: ignore[no-untyped-def]
    """Place or release a legal hold (the retention job does nothing while one is active)."""
    from core.workbench.retention import set_hold

    return set_hold(ledger, principal, state == "on", reason)


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


def _simulation_lines(sim, user: str):  # type: ignore[no-untyped-def]
    for label, res in ((f"as {sim.target} ({sim.target_role})", sim.as_target), (f"as you ({user})", sim.own)):
        yield f"== {label}: {len(res.citations)} citations, redactions {redaction_counts(res.redactions)}, withheld {res.withheld}"
        yield res.answer
        for c in res.citations:
            yield f"  [{c.n}] {c.title} ({c.doc_id})"


@ledger_command(cli, "simulate", to_json=lambda sim: sim.as_dict(), text=_simulation_lines)
@click.option("--as", "target", required=True, help="the principal whose view to simulate")
@click.argument("question")
def simulate_cmd(ledger, principal, target: str, question: str):  # type: ignore[no-untyped-def]
    """See what --as NAME would receive for QUESTION, beside your own view (audited as yours)."""
    from core.workbench.simulation import simulate

    return simulate(ledger, principal, target, question)


# JSON is this command's only output, so it takes no --json: the text is the JSON.
@ledger_command(cli, "overview", json_flag=False, text=json_text)
@click.option("--since")
@click.option("--until")
@click.option("--role")
@click.option("--group")
def overview_cmd(ledger, principal, since: str | None, until: str | None, role: str | None, group: str | None) -> dict:  # type: ignore[no-untyped-def]
    """The overview's figures as JSON (the same queries as the page)."""
    from core.workbench.overview import Filters, overview

    return overview(ledger, principal, Filters(since, until, role, group))


def _bundle_text(m: dict, output: Path) -> str:
    from core.workbench.exports import manifest_path

    return (f"wrote {output} ({m['records']} records, head {m['head_hash'][:16]}…) and {manifest_path(output).name}"
            + ("" if m["complete"] else " (filtered: not the whole log)"))


@ledger_command(audit, "export-bundle", json_flag=False, text=_bundle_text)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
@click.option("--kind", "kinds", multiple=True, help="only records of this kind (repeatable)")
@click.option("--actor", help="only records of this principal")
@click.option("--since", help="only records at or after this ISO date/time")
@click.option("--until", help="only records before this ISO date/time")
@click.option("--about", help="only records whose question named this data subject (name, e-mail or id)")
def audit_export_bundle(ledger, principal, fmt: str, output: Path, kinds: tuple[str, ...], actor: str | None,  # type: ignore[no-untyped-def]
                        since: str | None, until: str | None, about: str | None) -> dict:
    """Export the trail with a manifest (count, anchor and head hash, SHA-256) for offline verification;
    with filters, only the matching records, and the manifest names the filters."""
    from core.workbench.exports import export_bundle

    filters = {"kinds": list(kinds) or None, "actor": actor, "since": since, "until": until, "about": about}
    return export_bundle(ledger, principal, fmt, output, filters)
