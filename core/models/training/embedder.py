"""Fine-tuning MiniLM on (question, passage) pairs with MultipleNegativesRankingLoss.

Other passages in a batch are the negatives, so no labelled negatives are needed. Held-out pairs
(the dataset's "eval" split) are scored before and after: recall@k of the right passage among all
the dataset's passages, and the mean reciprocal rank. Both land in the run's metrics.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import core.config  # noqa: F401  (offline environment before transformers imports)
from core.models.training import Progress, quiet

DEFAULTS: dict[str, Any] = {"max_steps": 30, "batch_size": 16, "learning_rate": 5e-5, "warmup_steps": 0.1, "seed": 0, "ks": [1, 3, 5]}


def evaluate(model, rows: list[dict[str, Any]], ks: list[int]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Recall@k and MRR of the eval queries against every distinct passage of the dataset."""
    passages: dict[str, str] = {}
    for r in rows:
        passages.setdefault(r["chunk_id"], r["target"])
    ids = list(passages)
    queries = [r for r in rows if r["split"] == "eval"]
    if not queries:
        return {}
    p = model.encode([passages[i] for i in ids], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    q = model.encode([r["input"] for r in queries], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    order = np.argsort(-(q @ p.T), axis=1)
    ranks = np.array([int(np.where(order[i] == ids.index(r["chunk_id"]))[0][0]) + 1 for i, r in enumerate(queries)])
    out = {f"recall@{k}": round(float(np.mean(ranks <= k)), 4) for k in ks}
    out["mrr"] = round(float(np.mean(1.0 / ranks)), 4)
    out["eval_queries"] = len(queries)
    out["passages"] = len(ids)
    return out


def train(base_path: Path, rows: list[dict[str, Any]], out_dir: Path, hyper: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Train, save a SentenceTransformer folder into out_dir/model, and return the metrics."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import PrinterCallback, TrainerCallback

    report = quiet(progress)
    hp = {**DEFAULTS, **hyper}
    train_rows = [r for r in rows if r["split"] == "train"]
    if len(train_rows) < 2:
        raise ValueError("at least two training pairs are needed")
    report("loading the base embedder", 0, hp["max_steps"])
    model = SentenceTransformer(str(base_path), device="cpu")
    before = evaluate(model, rows, hp["ks"])
    report("evaluated the base model", 0, hp["max_steps"])

    class _Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            report(f"training step {state.global_step}/{state.max_steps}", state.global_step, state.max_steps)

        def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    losses: list[float] = []
    data = Dataset.from_dict({"anchor": [r["input"] for r in train_rows], "positive": [r["target"] for r in train_rows]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out_dir / "trainer"), max_steps=int(hp["max_steps"]), per_device_train_batch_size=int(hp["batch_size"]),
        learning_rate=float(hp["learning_rate"]), warmup_steps=float(hp["warmup_steps"]), seed=int(hp["seed"]),
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", logging_steps=1, report_to=[], use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0,
    )
    started = time.perf_counter()
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model),
                                         callbacks=[_Progress()])
    trainer.remove_callback(PrinterCallback)  # progress goes to the callback, not stdout
    trainer.train()
    seconds = time.perf_counter() - started
    report("evaluating the fine-tuned model", hp["max_steps"], hp["max_steps"])
    after = evaluate(model, rows, hp["ks"])
    model.save(str(out_dir / "model"))
    metrics: dict[str, Any] = {"train_seconds": round(seconds, 2), "train_pairs": len(train_rows),
                               "loss_first": round(losses[0], 4) if losses else None, "loss_last": round(losses[-1], 4) if losses else None}
    for key, value in before.items():
        metrics[f"base_{key}"] = value
    for key, value in after.items():
        metrics[key] = value
    return metrics
