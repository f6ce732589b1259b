"""Ingestion fanned out on a Ray cluster (`ragledger ingest --ray auto|ADDRESS`, RAGLEDGER_RAY).

What runs on the cluster: the pure, expensive parts. The Presidio/spaCy analysis of each new
document and its title is one Ray task per document (retried by Ray when its worker dies), and the
embedding of chunk texts goes to embed actors, each holding the MiniLM model loaded once (restarted
and the call retried when the actor's process dies). What stays in the driver: extraction, labels,
chunking and the registry look-ups (they read the SQL ledger), every LanceDB write, every ledger row,
the access checks and the audit records: one writer, as without Ray.

A document is stored only once every part of it came back: its analysis, then the vectors of its
batch. A part that still fails after Ray's retries becomes an IngestError naming the document (or the
batch's documents, for embedding), raised where the plain ingest would raise an error of that file:
the whole documents before it stay stored, nothing of it or after it is written.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from core.config import REPO_ROOT
from core.errors import ConfigError, IngestError, RagLedgerError

# Resources for a local Ray (`--ray auto`): small, so it fits a laptop or a 2-core CI machine.
LOCAL_CPUS = int(os.environ.get("RAGLEDGER_RAY_CPUS", "2"))
LOCAL_OBJECT_STORE = 200 * 1024 * 1024
TASK_RETRIES = 2  # a task whose worker died is run again this many times
ACTOR_RESTARTS = 2  # an embed actor whose process died is restarted (model reloaded) this many times
FAULT_ENV = "RAGLEDGER_RAY_FAULT"  # fault injection for the tests, read by the driver per call (docs/deployment.md)
_ACTORS: dict[tuple[str, str, str], list] = {}  # embed actors per Ray job and embedder, reused across ingests


def _runtime_env() -> dict[str, Any]:
    """What every worker needs: the offline model environment and this checkout on its path."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "PYTHONPATH": path}}


def _check_reachable(address: str) -> None:
    """Fail in seconds, naming the address, rather than waiting out Ray's own connection timeout."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    hint = ("start a head with `ray start --head --port=6379 --node-ip-address=HOST` and pass --ray HOST:6379, "
            "or --ray auto for a local Ray in this process")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray {address!r}: expected auto or HOST:PORT of a Ray head", hint=hint)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as e:
        raise ConfigError(f"the Ray cluster at {address} cannot be reached ({e.strerror or e})", hint=hint) from None


def connect(address: str) -> None:
    """`auto`: a new local Ray in this process (loopback, small resources); otherwise join the
    cluster whose head is at ADDRESS (HOST:PORT, or ray://HOST:PORT for Ray Client)."""
    import ray

    if ray.is_initialized():
        return
    _ACTORS.clear()  # handles of an earlier Ray session in this process are not valid in the new one
    common = dict(runtime_env=_runtime_env(), log_to_driver=False, namespace="ragledger", configure_logging=False)
    if address == "auto":
        ray.init(address="local", num_cpus=LOCAL_CPUS, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False,
                 _node_ip_address="127.0.0.1", **common)
        return
    _check_reachable(address)
    if address.split("://", 1)[-1].rpartition(":")[0] in ("127.0.0.1", "localhost"):
        common["_node_ip_address"] = "127.0.0.1"  # a head on loopback registered its node as 127.0.0.1
    try:
        ray.init(address=address, **common)
    except Exception as e:  # noqa: BLE001 (Ray raises ConnectionError, RuntimeError, grpc errors)
        raise ConfigError(f"could not join the Ray cluster at {address}: {e}",
                          hint="check that ADDRESS is the head's GCS address (`ray status --address ADDRESS`) and the same Ray and Python versions run there") from None


def _fault(stage: str, names: list[str], spec: str | None) -> None:
    """Test fault injection: `kill-once:STAGE:MARKER` kills the worker the first time (creating
    MARKER), `kill-always:STAGE:NAME` kills it whenever the document NAME is in its part."""
    if not spec:
        return
    mode, where, arg = (spec.split(":", 2) + ["", ""])[:3]
    if where != stage:
        return
    if mode == "kill-once":
        try:
            os.close(os.open(arg, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)
    if mode == "kill-always" and arg in names:
        os._exit(1)


def _analyze(name: str, text: str, title: str, entities: Any, recognizers: tuple, fault: str | None) -> tuple[list, str]:
    """One document's PII analysis, as the plain ingest does it (core/rag/ingest.py: _prepare_batch)."""
    import json

    from core.rag import pii
    from core.rag.pii_propagation import propagate_person_spans

    _fault("prepare", [name], fault)
    text_spans, title_spans = pii.analyze_many([text, title], entities, recognizers)
    return propagate_person_spans(text, text_spans), json.dumps([s.as_dict() for s in title_spans])


def _kill(actor) -> None:  # type: ignore[no-untyped-def]
    """End an embed actor; one that is already gone (its process died past its restarts) is no error."""
    import ray

    try:
        ray.kill(actor)
    except (ValueError, ray.exceptions.RayError):  # a handle whose actor no longer exists
        pass


class _EmbedActor:
    """Holds one embedder (MiniLM or a fine-tuned checkpoint), loaded once per actor process."""

    def __init__(self, path: str | None, identity: str | None) -> None:
        from core.rag.embedder import Embedder

        self.embedder = Embedder(path, identity)
        self.embedder.model  # load now: a restart after a crash reloads it here, not in the retried call

    def embed(self, texts: list[str], names: list[str], fault: str | None):  # type: ignore[no-untyped-def]
        _fault("embed", names, fault)
        return self.embedder.embed(texts)


class RayFanout:
    """The two callables core/rag/ingest.py hands its pipeline when it runs on Ray."""

    def __init__(self, address: str, embedder_path: str | None, embedder_id: str | None) -> None:
        import ray

        connect(address)
        self._analyze = ray.remote(max_retries=TASK_RETRIES, num_cpus=1)(_analyze)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.key = key = (ray.get_runtime_context().get_job_id(), str(embedder_path), str(embedder_id))
        if key not in _ACTORS:
            # One model's actors per job: an earlier model's (before a promotion or a re-embed) would
            # keep CPUs that the analysis tasks need, and an ingest on a small cluster would wait forever.
            for other in [k for k in _ACTORS if k[0] == key[0]]:
                for stale in _ACTORS.pop(other):
                    _kill(stale)
            actor = ray.remote(max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS, num_cpus=1 if cpus >= 2 else 0)(_EmbedActor)
            # Half the CPUs hold embed actors; the other half run the analysis tasks (never all: no deadlock).
            _ACTORS[key] = [actor.remote(embedder_path, embedder_id) for _ in range(max(1, cpus // 2))]
        self.actors = _ACTORS[key]

    def analyze(self, docs: list[tuple[str, str, str]], entities: Any, recognizers: tuple) -> list[tuple[list, str] | BaseException]:
        """(name, text, title) of each document -> (spans, title spans JSON), or the error of that document."""
        import ray

        fault = os.environ.get(FAULT_ENV)
        refs = [self._analyze.remote(name, text, title, entities, recognizers, fault) for name, text, title in docs]
        out: list[tuple[list, str] | BaseException] = []
        for (name, _, _), ref in zip(docs, refs):
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayTaskError as e:  # the analysis itself raised: the document's own error
                cause = getattr(e, "cause", None)
                out.append(cause if isinstance(cause, RagLedgerError) else IngestError(f"{name}: PII analysis failed on the Ray cluster: {cause!r}"))
            except ray.exceptions.RayError as e:
                out.append(IngestError(f"{name}: the Ray task analysing it failed after {TASK_RETRIES} retries ({type(e).__name__})",
                                       hint="nothing of this document was stored; check the cluster (`ray status`) and ingest it again"))
        return out

    def release(self) -> None:
        """End the embed actors this fan-out used (a re-embed's new model): their CPUs return to the
        cluster. They are ended even when a failed call already forgot them."""
        if _ACTORS.get(self.key) is self.actors:
            del _ACTORS[self.key]
        for actor in self.actors:
            _kill(actor)

    def embedder(self, names: list[str]) -> Callable[[list[str]], Any]:
        """An embed(texts) for one batch: contiguous slices to the actors, vectors back in order."""
        import numpy as np
        import ray

        def embed(texts: list[str]):  # type: ignore[no-untyped-def]
            fault = os.environ.get(FAULT_ENV)
            size = -(-len(texts) // len(self.actors))
            refs = [a.embed.remote(texts[i:i + size], names, fault) for a, i in zip(self.actors, range(0, len(texts), size))]
            try:
                return np.concatenate(ray.get(refs))
            except ray.exceptions.RayError as e:
                _ACTORS.pop(self.key, None)  # the next ingest starts fresh actors
                raise IngestError(f"{', '.join(names)}: embedding on the Ray cluster failed after {ACTOR_RESTARTS} restarts ({type(e).__name__})",
                                  hint="nothing of these documents was stored; check the cluster (`ray status`) and ingest them again") from None

        return embed
