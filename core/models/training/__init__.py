"""Fine-tuning jobs that run on a CPU machine in minutes: the MiniLM embedder (sentence-transformers,
MultipleNegativesRankingLoss) and a LoRA adapter on SmolLM2-135M-Instruct (peft).

Each job reads an immutable dataset version, trains into a scratch folder under
settings.models_dir, and hands the folder to core.models.registry, which hashes the files and records the
run, the checkpoint and its lineage in one transaction. Progress is reported through a callback
`progress(message, done, total)` so the CLI and the Models page can show it.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.config import REPO_ROOT
from core.ledger import Ledger

Progress = Callable[[str, int, int], None]


def code_version() -> str:
    """The git commit of the checkout (when there is one) plus a digest of the training code itself."""
    h = hashlib.sha256()
    for f in sorted((REPO_ROOT / "core" / "models" / "training").glob("*.py")) + [REPO_ROOT / "core" / "models" / "datasets.py"]:
        h.update(f.read_bytes())
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{commit or 'nogit'}+code.{h.hexdigest()[:12]}"


@contextmanager
def scratch_dir(ledger: Ledger, label: str) -> Iterator[Path]:
    """A folder under models_dir/.scratch that is removed unless the registry moved it away."""
    folder = ledger.settings.models_dir / ".scratch" / f"{label}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def quiet(progress: Progress | None) -> Progress:
    return progress or (lambda _m, _d, _t: None)
