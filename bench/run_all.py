"""`make bench`: run every bench/bench_*.py in turn; each prints one JSON line of figures last.
Results are also written to bench/results/<name>.json."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    only = sys.argv[1:]
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            failed += 1
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            continue
        figures = json.loads(lines[-1])
        (results / f"{name}.json").write_text(json.dumps(figures, indent=2))
        print(json.dumps(figures, indent=2), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
