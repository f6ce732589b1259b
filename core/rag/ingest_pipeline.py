"""The two-stage ingestion pipeline: a worker thread prepares batch i+1 (extraction, labels and
the batched Presidio/spaCy analysis) while the calling thread embeds and stores batch i.

Threads, not processes: MiniLM (torch) and spaCy both spend most of their time in native code
that releases the GIL, the models are loaded once per process, and a document's state never has to
be pickled. The queue holds at most two prepared batches, so memory stays bounded on any corpus.
Order is kept: batches are consumed in the order of the sources, and a preparation error is
re-raised by the consumer when it reaches that source, after every earlier file is stored.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

S = TypeVar("S")
P = TypeVar("P")
BATCH = 16  # documents per batch: enough for nlp.pipe and one large encode call, small enough to overlap
_END = object()


def run_pipeline(sources: Sequence[S], batch: int, prepare: Callable[[list[S]], P], consume: Callable[[P], None]) -> None:
    """prepare(batch) runs in a worker thread, consume(prepared) here, one batch ahead at most.

    An exception of `prepare` itself (not one it returns per source) or of `consume` stops both
    stages; the worker is told to stop and joined before the exception propagates."""
    batches = [list(sources[i:i + batch]) for i in range(0, len(sources), max(1, batch))]
    if len(batches) <= 1:  # nothing to overlap
        for b in batches:
            consume(prepare(b))
        return
    handoff: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def worker() -> None:
        try:
            for b in batches:
                if stop.is_set():
                    return
                handoff.put(("ok", prepare(b)))
        except BaseException as e:  # handed to the consumer, which re-raises it in order
            handoff.put(("error", e))
        finally:
            handoff.put(("end", _END))

    thread = threading.Thread(target=worker, name="ingest-prepare", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                break
            if kind == "error":
                raise item
            consume(item)
    finally:
        stop.set()
        while thread.is_alive():  # drain so a blocked put can finish, then the worker sees `stop`
            try:
                handoff.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
