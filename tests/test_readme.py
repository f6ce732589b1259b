"""The README's CLI tour runs as written (in a fresh home)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from core.config import REPO_ROOT


def tour_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"## A tour of the CLI.*?```bash\n(.*?)```", readme, re.S)
    assert block, "the README lost its CLI tour"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_the_two_commands() -> None:
    head = (REPO_ROOT / "README.md").read_text().split("```bash\n", 1)[1].splitlines()[:2]
    assert head[0].startswith("make run") and head[1].startswith("make test")


def test_readme_cli_tour_runs(tmp_path: Path) -> None:
    commands = tour_commands()
    assert commands[0].startswith("export RAGLEDGER_HOME=")
    home = commands[0].split("=", 1)[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("RAGLEDGER_USER", None)
    script = "\n".join(["set -e", *(c.replace(home, str(tmp_path / "tour")) for c in commands)])
    proc = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "16 weeks" in out
    carol = next(json.loads(block) for block in re.findall(r"^\{\n.*?^\}", out, re.S | re.M) if '"answer"' in block)
    assert "Marchetti" not in carol["answer"] and "<PERSON_1>" in carol["answer"]
    assert "Verified clean: yes" in out
    assert out.count("OK:") == 2
    assert (tmp_path / "tour" / "audit.csv").read_text().startswith("seq,hash")
