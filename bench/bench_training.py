"""Fine-tuning and generation figures on this machine (CPU): wall time of each job (dataset builds,
embedder fine-tune, GGUF de-quantization, generator LoRA, re-embedding on promotion), held-out
recall before/after, and generator tokens/s (base SmolLM2-135M + the trained adapter, greedy).

Corpus: tests/data/tidal (small, so the bench stays at a few minutes); BENCH_CORPUS=demo uses
demo_corpus/. Ingestion time is reported but is not a training job. Datasets are built as dave
(ml_engineer: engineering documents up to internal), as the policy allows.
Run: make bench  (or .venv/bin/python -m bench.bench_training); prints one JSON line last.
Sizes: BENCH_EMBEDDER_STEPS (default 8, batch 16), BENCH_GENERATOR_STEPS (default 4, batch 2, 512 tokens).
Generator tokens/s: 3 grounded prompts (top-3 passages), 48 new tokens each, greedy, prefill included.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from core.config import REPO_ROOT, Settings
from core.rag.ingest import Source, expand_paths, ingest
from core.ledger import Ledger

QUESTIONS = [
    "How often is the main shaft bearing greased?",
    "When must a dive be aborted?",
    "What happens when a marine mammal comes close during piling?",
]


def timed(figures: dict, key: str, fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    figures[key] = round(time.perf_counter() - t, 2)
    return out


def main() -> None:
    from core.rag.answerers.generative import build_messages, generate, load_local
    from core.models.datasets import build_dataset
    from core.evaluation.lifecycle import promote
    from core.rag.retrieval import retrieve
    from core.models.training.bases import GENERATOR_BASE_ID, base_path
    from core.models.training.jobs import train

    emb_steps = int(os.environ.get("BENCH_EMBEDDER_STEPS", 8))
    gen_steps = int(os.environ.get("BENCH_GENERATOR_STEPS", 4))
    corpus = REPO_ROOT / "demo_corpus" if os.environ.get("BENCH_CORPUS") == "demo" else REPO_ROOT / "tests" / "data" / "tidal"
    root = Path(tempfile.mkdtemp(prefix="ragledger-bench-train-"))
    figures: dict = {"bench": "training", "corpus": corpus.name, "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2), "embedder_steps": emb_steps, "generator_steps": gen_steps}
    try:
        home = root / "home"
        home.mkdir()
        ledger = Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=f"sqlite:///{home / 'ledger.db'}"))
        ops, dave, alice = (ledger.policy.principal(n) for n in ("ops", "dave", "alice"))
        timed(figures, "ingest_corpus_s", lambda: ingest(ledger, ops, [Source.from_path(p) for p in expand_paths([corpus])]))
        # dave's datasets cover what an ML engineer may read: engineering documents up to internal.
        pairs = timed(figures, "dataset_pairs_s", lambda: build_dataset(ledger, dave, "pairs", params={"queries_per_chunk": 4, "eval_per_chunk": 1}))
        qa = timed(figures, "dataset_qa_s", lambda: build_dataset(ledger, dave, "qa"))
        figures.update(pairs_rows=pairs.rows, qa_rows=qa.rows, dataset_docs=pairs.docs)
        emb = timed(figures, "train_embedder_s", lambda: train(ledger, dave, "embedder", pairs.dataset_id, hyper={"max_steps": emb_steps, "batch_size": 16}))
        figures.update({f"embedder_{k}": v for k, v in emb.metrics.items() if k.startswith(("recall", "base_recall", "mrr", "base_mrr", "train_seconds"))})
        figures["embedder_checkpoint_mb"] = round(emb.size_bytes / 1e6, 1)
        timed(figures, "dequantize_gguf_s", lambda: base_path(ledger, GENERATOR_BASE_ID))
        gen = timed(figures, "train_generator_s", lambda: train(ledger, dave, "generator", qa.dataset_id, hyper={"max_steps": gen_steps, "batch_size": 2, "max_length": 512}))
        figures.update({f"generator_{k}": v for k, v in gen.metrics.items() if k in ("train_seconds", "train_tokens_per_s", "eval_loss_base", "eval_loss")})
        figures["generator_adapter_mb"] = round(gen.size_bytes / 1e6, 2)
        timed(figures, "promote_embedder_reembed_s", lambda: promote(ledger, alice, emb.checkpoint_id, "production"))
        figures["chunks_reembedded"] = ledger.store.count()
        tokenizer, model = timed(figures, "load_generator_s", lambda: load_local(base_path(ledger, GENERATOR_BASE_ID), Path(gen.path)))
        tokens, seconds = 0, 0.0
        if corpus.name == "demo_corpus":
            QUESTIONS[:] = ["How is a database backup restored?", "Who is on call during weekends?", "What changed in the public API?"]
        for q in QUESTIONS:
            hits = retrieve(ledger, dave, q, 3).hits
            messages = build_messages(q, [f"{h.row['title']}\n{h.row['text']}" for h in hits])
            t = time.perf_counter()
            _, n = generate(tokenizer, model, messages, 48, min_new_tokens=48)
            seconds += time.perf_counter() - t
            tokens += n
        figures.update(generator_tokens=tokens, generator_tokens_per_s=round(tokens / seconds, 2))
        figures["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
