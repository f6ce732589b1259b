"""`ragledger eval`: the golden set asked as every principal, compared with a baseline (core/evaluation/golden.py)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from core.cli_base import cli, emit, open_ledger, user_option
from core.config import REPO_ROOT

DEMO_SET = REPO_ROOT / "demo_corpus" / "questions.yaml"
DEMO_BASELINE = REPO_ROOT / "demo_corpus" / "eval_baseline.json"


@cli.command("eval")
@click.option("--set", "golden", type=click.Path(path_type=Path, dir_okay=False), default=DEMO_SET, show_default="the demo corpus's",
              help="YAML list of {question, source, answer_contains}")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="figures to compare with (default: the demo corpus's baseline with the demo set, none otherwise)")
@click.option("--save-baseline", type=click.Path(path_type=Path, dir_okay=False), help="write this run's figures as the new baseline")
@click.option("--as", "principals", multiple=True, help="evaluate only these principals (default: every principal)")
@click.option("--changed", is_flag=True, help="freshness: only the questions whose source has a new version since the last run")
@click.option("--k", default=5, show_default=True, type=click.IntRange(min=1, max=50), help="passages to retrieve")
@click.option("--json", "as_json", is_flag=True)
@user_option()
def eval_cmd(golden: Path, baseline: Path | None, save_baseline: Path | None, principals: tuple[str, ...], changed: bool, k: int,
             as_json: bool, user: str) -> None:
    """Ask the golden set as every principal ("see as", audited as --user's); exit 6 on a regression or a leak."""
    from core.evaluation.golden import Regression, changed_since_last_run, evaluate, load_baseline, load_golden

    questions = load_golden(golden)
    if baseline is None and golden.resolve() == DEMO_SET.resolve() and DEMO_BASELINE.exists() and save_baseline is None:
        baseline = DEMO_BASELINE
    reference = load_baseline(baseline) if baseline is not None else None
    ledger = open_ledger()
    if changed:
        questions = changed_since_last_run(ledger, questions)
    # A subset's figures are not comparable with a whole-set baseline: --changed checks leaks and stale facts only.
    report = evaluate(ledger, ledger.policy.principal(user), questions, principals=list(principals) or None, k=k,
                      baseline=None if changed else reference,
                      reason="changed" if changed else "manual")
    if save_baseline is not None:
        save_baseline.write_text(json.dumps(report.baseline(), indent=2, sort_keys=True) + "\n")
    if as_json:
        emit(report.as_dict() | {"baseline": str(baseline) if baseline else None}, True)
    else:
        click.echo(f"{report.questions} questions, k={report.k}" + (f", against {baseline}" if baseline else ", no baseline"))
        for s in report.scores:
            click.echo(f"  {s.principal:<10} readable {s.readable:>3}  recall@{k} {s.recall_at_k:.3f}  cited right {s.citation_correct:.3f}"
                       f"  answer contains {s.answer_contains:.3f}  abstained {s.abstained}  leaks {s.leaks}  stale {s.stale}")
        if save_baseline is not None:
            click.echo(f"baseline written to {save_baseline}")
        click.echo(f"audit record {report.audit_id}")
    if report.regressions:
        raise Regression(f"{len(report.regressions)} regression(s): " + "; ".join(report.regressions),
                         hint="find what changed (model, policy, corpus); if the new figures are intended, store them with --save-baseline")
