"""The answer may contain only URLs that a passage shown to the asker contains.

Why: a generative answerer (an OpenAI-compatible endpoint, a fine-tuned checkpoint) can be steered
by a poisoned passage or its own hallucination into writing a link the documents never held, e.g. a
phishing page or a tracking pixel carrying redacted data in its query. Whatever survives is still
rendered inert by core/safe_text.py; this removes what no cited source vouches for.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

REMOVED = "[link removed]"
# http(s)/ftp URLs, protocol-relative //host/..., bare www. hosts, and data:/javascript: URIs.
URL = re.compile(r"""(?:\b(?:https?|ftp)://|(?<![\w/:])//(?=[\w-]+\.)|\bwww\.|\b(?:data|javascript):)[^\s<>"'`)\]]+""", re.I)


def keep_cited_urls(answer: str, passages: Iterable[object]) -> str:
    """`answer` with every URL that appears in none of `passages` (their `.text`) replaced by REMOVED."""
    sources = "\n".join(str(getattr(p, "text", p)) for p in passages)

    def _check(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(".,;:!?")
        tail = match.group(0)[len(url):]
        return match.group(0) if url and url in sources else REMOVED + tail

    return URL.sub(_check, answer)
