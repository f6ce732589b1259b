"""Generative answerers: a local transformers model from a registered checkpoint (base + LoRA
adapter), and an OpenAI-compatible HTTP endpoint (vLLM, Ollama, llama.cpp server, ...).

Both see only the passages already redacted for the asker, must answer with [n] citations, and
their text then passes the same output guard as every answer (core/answering/ask.py). A generated answer that
cites no valid passage gets the citation of the passage it overlaps most, so the asker can always
check the source; invalid numbers ([7] of 5 passages) are removed.
"""
from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from core.rag.answerers import Answer, Passage, register
from core.rag.answerers.extractive import NO_ANSWER, _terms
from core.errors import RagLedgerError

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages. Quote the sentence that answers the question "
    "and cite its passage number in square brackets, like [1]. If no passage answers, say you don't know."
)
# The generator-alone route (core/answering/router.py): no passages, the question only; the answer is the model's own.
ALONE_PROMPT = ("Answer the question about this organisation's documents in one short sentence. "
                "If you do not know the answer, say you don't know.")
MIN_SIMILARITY = 0.20  # below this for every passage, nothing is worth generating from
MAX_PASSAGE_CHARS = 1500
_CITE = re.compile(r"\[(\d{1,2})\]")


class AnswererError(RagLedgerError):
    """A generative answerer could not produce an answer (endpoint down, model missing)."""


def build_messages(question: str, passages: list[str]) -> list[dict[str, str]]:
    """The prompt shared by training (core/models/training/generator.py) and serving; passages are 'title\\ntext'."""
    numbered = "\n\n".join(f"[{n}] {p[:MAX_PASSAGE_CHARS]}" for n, p in enumerate(passages, start=1))
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"}]


def build_alone_messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": ALONE_PROMPT}, {"role": "user", "content": question}]


def enforce_citations(text: str, passages: list[Passage]) -> Answer:
    text = text.strip()
    if not text:
        return Answer(NO_ANSWER, [], knows=False)
    valid = {p.n for p in passages}
    text = _CITE.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text).strip()
    used = sorted({int(n) for n in _CITE.findall(text)})
    if not used and passages:
        words = set(_terms(text))
        best = max(passages, key=lambda p: (len(words & set(_terms(p.text))), p.score))
        text = f"{text.rstrip()} [{best.n}]"
        used = [best.n]
    return Answer(text, used)


def _relevant(passages: list[Passage]) -> bool:
    return bool(passages) and max(p.similarity for p in passages) >= MIN_SIMILARITY


_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_local(base_path: Path, adapter_path: Path | None):  # type: ignore[no-untyped-def]
    """(tokenizer, model) with the adapter merged in; one copy per process and adapter."""
    key = f"{base_path}|{adapter_path}"
    with _LOCK:
        if key not in _LOADED:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
            tokenizer = AutoTokenizer.from_pretrained(str(base_path))
            model = AutoModelForCausalLM.from_pretrained(str(base_path))
            if adapter_path is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
            model.eval()
            _LOADED[key] = (tokenizer, model)
        return _LOADED[key]


def generate(tokenizer, model, messages: list[dict[str, str]], max_new_tokens: int, min_new_tokens: int = 0) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    import torch

    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.eos_token_id)
    new = out[0][enc["input_ids"].shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=True), int(new.shape[0])


class LocalGenerator:
    """Answers with a registered generator checkpoint; its identity is the checkpoint id."""

    def __init__(self, identity: str, base_path: Path, adapter_path: Path | None, max_new_tokens: int = 80) -> None:
        self.identity = identity
        self.base_path = Path(base_path)
        self.adapter_path = Path(adapter_path) if adapter_path else None
        self.max_new_tokens = max_new_tokens

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        if not _relevant(passages):
            return Answer(NO_ANSWER, [], knows=False)
        tokenizer, model = load_local(self.base_path, self.adapter_path)
        text, _ = generate(tokenizer, model, build_messages(question, [f"{p.title}\n{p.text}" for p in passages]), self.max_new_tokens)
        return enforce_citations(text, passages)

    def answer_alone(self, question: str) -> Answer:
        """From the weights only (the generator-alone route): no passage, so no citation can be valid."""
        tokenizer, model = load_local(self.base_path, self.adapter_path)
        text, _ = generate(tokenizer, model, build_alone_messages(question), self.max_new_tokens)
        text = _CITE.sub("", text).strip()
        return Answer(text, [], knows=True) if text else Answer(NO_ANSWER, [], knows=False)


class OpenAICompatibleAnswerer:
    """POST /chat/completions on a vLLM / Ollama / llama.cpp server. Configure with options or
    RAGLEDGER_LLM_BASE_URL (e.g. http://127.0.0.1:11434/v1), RAGLEDGER_LLM_MODEL, RAGLEDGER_LLM_API_KEY."""

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_tokens: int = 200) -> None:
        self.base_url = (base_url or os.environ.get("RAGLEDGER_LLM_BASE_URL") or "").rstrip("/")
        self.model = model or os.environ.get("RAGLEDGER_LLM_MODEL") or ""
        if not self.base_url or not self.model:
            raise AnswererError("the HTTP answerer needs a base URL and a model name",
                                hint="set RAGLEDGER_LLM_BASE_URL (e.g. http://127.0.0.1:8000/v1) and RAGLEDGER_LLM_MODEL")
        self.api_key = api_key or os.environ.get("RAGLEDGER_LLM_API_KEY")
        self.timeout = timeout
        self.max_tokens = max_tokens
        host = re.sub(r"^https?://", "", self.base_url).split("/")[0]
        self.identity = f"openai-http:{self.model}@{host}"

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        if not _relevant(passages):
            return Answer(NO_ANSWER, [], knows=False)
        body = {"model": self.model, "messages": build_messages(question, [f"{p.title}\n{p.text}" for p in passages]),
                "temperature": 0, "max_tokens": self.max_tokens}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read())
            text = data["choices"][0]["message"]["content"] or ""
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise AnswererError(f"the endpoint {self.base_url} did not answer: {exc}", hint="check that the server runs, or use the extractive answerer") from exc
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise AnswererError(f"the endpoint {self.base_url} returned no chat completion", hint="is it OpenAI-compatible (/v1/chat/completions)?") from exc
        return enforce_citations(text, passages)


def register_checkpoint(checkpoint_id: str, base_path: Path, adapter_path: Path | None) -> str:
    """Make a registered generator checkpoint an answerer named by its id; returns the name."""
    register(checkpoint_id, lambda **o: LocalGenerator(checkpoint_id, base_path, adapter_path, **o))
    return checkpoint_id


register("openai-http", lambda **o: OpenAICompatibleAnswerer(**o))
