"""Build a costly home once per test run, even when pytest-xdist runs the suite in several workers.

Each worker used to ingest the demo corpus (and fine-tune the demo's embedder, and ingest the tidal
corpus) for itself: the same minutes of CPU once per worker, on a 2-core machine. Now the first
worker to need a home builds it under a lock in a folder all workers of the run share, and every
worker takes its own private copy: what a test sees is what it saw before (its own session home,
built by the real ingest), and no two workers ever write the same SQLite file or LanceDB table.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from core.db import dispose_engines


# A folder shared by the workers of this xdist run (the parent of each worker's pytest basetemp, which
# pytest prunes with its other old runs), set by conftest's session fixture in each xdist worker only;
# None in one process.
RUN_FOLDER: Path | None = None


def built_once(name: str, dest: Path, build: Callable[[Path], None]) -> Path:
    """`dest`, holding what `build(home)` makes: built there directly in one process; under xdist,
    copied from the run's one template of `name`, which the first worker to get here builds."""
    shared = RUN_FOLDER
    if shared is None:
        build(dest)
        dispose_engines()
        return dest
    template, done = shared / name, shared / f"{name}.built"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(template, ignore_errors=True)  # a worker that died mid-build left half a home
            build(template)
            dispose_engines()  # SQLite checkpointed: the copies see every row
            done.touch()
    shutil.copytree(template, dest, dirs_exist_ok=True)
    return dest
