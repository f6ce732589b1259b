"""What freshness at ingestion (core/evaluation/freshness.py, policy `evaluation.on_new_version`) costs a bulk ingest.

Two homes on the same files, the demo golden set configured in each (demo_corpus/questions.yaml, 25
questions), one with `on_new_version: off`, one with `run`. Both ingest the demo corpus and
BENCH_FRESHNESS_DOCS generated memos (default 40), then ingest a new version of every file in one bulk
call: the timed step. Two cases: every file changed (the worst case, every golden source changed, so all
25 questions are re-asked as each of the 5 principals) and only the memos plus one golden source changed
(one question re-asked). The figures: the added seconds and their share of the bulk ingest, and the
freshness run's own duration as its record states it (the two differ by machine noise: other work on
the same cores moves whole-ingest times by more than a small run takes).
Nothing here is tuned: the switch has no threshold, the run is what the policy asks for.

Run: make bench  (or python -m bench.bench_freshness)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from bench.bench_ingest import generated
from core.config import REPO_ROOT, Settings
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger

GOLDEN = REPO_ROOT / "demo_corpus" / "questions.yaml"


def open_home(home: Path, switch: str) -> Ledger:
    folder = home / "policies"
    shutil.copytree(REPO_ROOT / "policies", folder)
    data = yaml.safe_load((folder / "policy.yaml").read_text())
    data["evaluation"] = {**data["evaluation"], "golden_set": str(GOLDEN), "on_new_version": switch}
    (folder / "policy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return Ledger.open(Settings(home=home, policies_dir=folder, database_url=f"sqlite:///{home / 'ledger.db'}"))


def copy_files(paths: list[Path], dest: Path) -> list[Path]:
    """The demo corpus copied with its folders (golden sources are named by their path's end)."""
    out = []
    for p in paths:
        target = dest / p.relative_to(REPO_ROOT / "demo_corpus")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, target)
        out.append(target)
    return out


def touch(paths: list[Path], n: int) -> None:
    for p in paths:
        p.write_text(p.read_text().rstrip("\n") + f"\n\nRevision {n}: reviewed without change of substance.\n")


def main() -> None:
    docs = int(os.environ.get("BENCH_FRESHNESS_DOCS", "40"))
    figures: dict = {"memos": docs, "golden_questions": len(yaml.safe_load(GOLDEN.read_text()))}
    with tempfile.TemporaryDirectory() as tmp:
        files = copy_files(expand_paths([REPO_ROOT / "demo_corpus"]), Path(tmp) / "files" / "demo_corpus")
        memos = generated(docs, Path(tmp) / "files" / "memos")
        one_golden = [f for f in files if f.name == "parental-leave.md"]
        assert one_golden, "the demo corpus moved: pick another golden source"
        homes = {switch: open_home(Path(tmp) / switch, switch) for switch in ("off", "run")}
        for ledger in homes.values():
            ledger.warm_up()
            ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in files + memos])
        figures["documents"] = len(files) + len(memos)
        for case, changed in (("every_file_changed", files + memos), ("memos_and_one_golden_source_changed", memos + one_golden)):
            touch(changed, len(figures))
            row: dict = {"new_versions": len(changed)}
            for switch, ledger in homes.items():
                said: list[str] = []
                t = time.perf_counter()
                results = ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(p) for p in changed],
                                 progress=lambda m, d, total: said.append(m))
                row[f"{switch}_s"] = round(time.perf_counter() - t, 2)
                assert all(r.status == "new_version" for r in results)
                if switch == "run":
                    [record] = ledger.audit.records(kinds=["evaluation"], limit=1)
                    row["questions_reasked"] = record["payload"]["questions"]
                    row["freshness_run_s"] = record["payload"]["seconds"]  # the evaluation's own duration, inside run_s
                    row["failures"] = record["payload"]["failures"]
            row["overhead_s"] = round(row["run_s"] - row["off_s"], 2)
            row["overhead_share"] = round(row["overhead_s"] / row["off_s"], 3)
            figures[case] = row
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
