"""Real English sentences with real MiniLM embeddings, for recall measurements.

Search cost does not depend on what vectors mean, but recall of an approximate index does: random
unit vectors have no clusters and say nothing about it. The sentences are the docstrings of the
Python standard library and the installed packages (tens of thousands of varied technical sentences, present
wherever Python is) plus the demo corpus, deduplicated, in a fixed order. Embeddings are cached in a
folder outside the repository because encoding 30,000 sentences takes minutes on two cores.
"""
from __future__ import annotations

import ast
import json
import random
import re
import sysconfig
from pathlib import Path

import numpy as np

from core.config import REPO_ROOT

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentences(limit: int, seed: int = 5) -> list[str]:
    """Up to `limit` distinct sentences of 6-60 words, shuffled with a fixed seed."""
    seen: set[str] = set()
    out: list[str] = []

    def take(block: str) -> None:
        for s in _SENTENCE.split(" ".join(block.split())):
            words = s.split()
            if 6 <= len(words) <= 60 and s not in seen and not s.startswith((">>>", "...")):
                seen.add(s)
                out.append(s)

    for path in sorted((REPO_ROOT / "demo_corpus").rglob("*.md")):
        take(path.read_text(errors="ignore"))
    paths = sysconfig.get_paths()
    files = sorted(Path(paths["stdlib"]).rglob("*.py")) + sorted(Path(paths["purelib"]).rglob("*.py"))
    for path in files:
        if len(out) >= 3 * limit:  # enough to shuffle from; the file order is fixed, so this is repeatable
            break
        if "test" in path.parts or "tests" in path.parts or (path.is_relative_to(paths["stdlib"]) and "site-packages" in path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    take(doc)
    random.Random(seed).shuffle(out)
    return out[:limit]


def embedded(limit: int, cache: Path, embedder) -> tuple[list[str], np.ndarray]:  # type: ignore[no-untyped-def]
    """The first `limit` sentences and their embeddings, encoded once and cached under `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    texts_file, vectors_file = cache / f"sentences-{limit}.json", cache / f"vectors-{limit}.npy"
    if texts_file.exists() and vectors_file.exists():
        return json.loads(texts_file.read_text()), np.load(vectors_file)
    texts = sentences(limit)
    vectors = embedder.embed(texts, batch_size=128)
    np.save(vectors_file, vectors)
    texts_file.write_text(json.dumps(texts))
    return texts, vectors


def labelled_table(texts: list[str], vectors: np.ndarray):  # type: ignore[no-untyped-def]
    """The sentences as chunk rows, eight to a document, labelled per document like scale_data."""
    import hashlib

    import pyarrow as pa

    from core.rag.chunk_store import SCHEMA
    from core.policy.models import CLASSIFICATION_LEVELS, class_rank
    from bench.synthetic import GROUPS

    cols: dict[str, list] = {f.name: [] for f in SCHEMA if f.name != "vector"}
    for i, text in enumerate(texts):
        doc = i // 8
        drng = random.Random(doc)
        level = drng.choice(CLASSIFICATION_LEVELS)
        for key, value in (("chunk_id", f"chk_{i:020x}"), ("doc_id", f"doc_{doc:016x}"), ("doc_version", 1), ("ord", i % 8),
                           ("title", f"Notes {doc}"), ("title_spans", "[]"), ("text", text), ("start", 0), ("end", len(text)),
                           ("groups", sorted(set(drng.sample(GROUPS, drng.randint(1, 2))))), ("classification", level),
                           ("class_rank", class_rank(level)), ("content_hash", hashlib.sha256(text.encode()).hexdigest()),
                           ("pii_spans", "[]"), ("pii_types", [])):
            cols[key].append(value)
    # Columns the rows above do not set (language, fts) are null, as for chunks ingested before them.
    arrays = [pa.array(cols[f.name] or [None] * len(texts), type=f.type) for f in SCHEMA if f.name != "vector"]
    arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype("float32").reshape(-1)), vectors.shape[1]))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def exact_neighbours(store, queries: np.ndarray, filters: dict[str, str | None], k: int = 10) -> dict[str, list[set[str]]]:  # type: ignore[no-untyped-def]
    """The true top-k of each query under each filter, by a flat scan (the index bypassed)."""
    return {name: [{r["chunk_id"] for r in store.vector_query(q, where, k, ["chunk_id"], exact=True).to_list()} for q in queries]
            for name, where in filters.items()}


def recall_at(store, queries: np.ndarray, filters: dict[str, str | None], k: int = 10,  # type: ignore[no-untyped-def]
              truth: dict[str, list[set[str]]] | None = None) -> dict[str, float]:
    """Mean recall@k of the store's indexed, prefiltered vector search against the exact (flat)
    search under the same filter, per named filter."""
    truth = truth or exact_neighbours(store, queries, filters, k)
    out = {}
    for name, where in filters.items():
        scores = []
        for q, exact in zip(queries, truth[name]):
            if not exact:
                continue
            found = {r["chunk_id"] for r in store.vector_query(q, where, k, ["chunk_id"]).to_list()}
            scores.append(len(exact & found) / len(exact))
        out[name] = round(float(np.mean(scores)), 4) if scores else 1.0
    return out
