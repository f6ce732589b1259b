"""A LoRA adapter (peft) on SmolLM2-135M-Instruct, trained on grounded question/answer examples.

Each example is the serving prompt (core.rag.answerers.generative.build_messages: numbered passages and
a question) followed by the answer sentence with its [n] citation; only the answer tokens carry
loss. The adapter is a few MB; the base weights stay shared. Eval loss on the held-out split is
measured before (adapter off, i.e. the base model) and after training.
"""
from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

import core.config  # noqa: F401  (offline environment before transformers imports)
from core.rag.answerers.generative import build_messages
from core.models.training import Progress, quiet

DEFAULTS: dict[str, Any] = {"max_steps": 20, "batch_size": 2, "learning_rate": 3e-4, "lora_r": 8, "lora_alpha": 16,
                            "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"], "max_length": 768, "seed": 0,
                            "eval_examples": 8}


def _encode(tokenizer, row: dict[str, Any], max_length: int) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    messages = build_messages(row["input"], json.loads(row["context"]))
    prompt = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])
    answer = tokenizer(row["target"] + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    prompt = prompt[-max(8, max_length - len(answer)):]  # keep the end of the prompt (question, template)
    return prompt + answer, [-100] * len(prompt) + answer


def _batch(tokenizer, items: list[tuple[list[int], list[int]]]):  # type: ignore[no-untyped-def]
    import torch

    width = max(len(ids) for ids, _ in items)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, (x, y) in enumerate(items):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _eval_loss(model, tokenizer, encoded: list) -> float | None:  # type: ignore[no-untyped-def]
    import torch

    if not encoded:
        return None
    model.eval()
    total = 0.0
    with torch.no_grad():
        for item in encoded:
            total += float(model(**_batch(tokenizer, [item])).loss)
    model.train()
    return round(total / len(encoded), 4)


def train(base_path: Path, rows: list[dict[str, Any]], out_dir: Path, hyper: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Train the adapter into out_dir/adapter and return the metrics."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report = quiet(progress)
    hp = {**DEFAULTS, **hyper}
    steps = int(hp["max_steps"])
    train_rows = [r for r in rows if r["split"] == "train"]
    eval_rows = [r for r in rows if r["split"] == "eval"][: int(hp["eval_examples"])]
    if not train_rows:
        raise ValueError("the dataset has no training examples")
    report("loading the base generator", 0, steps)
    torch.manual_seed(int(hp["seed"]))
    tokenizer = AutoTokenizer.from_pretrained(str(base_path))
    model = AutoModelForCausalLM.from_pretrained(str(base_path))
    config = LoraConfig(r=int(hp["lora_r"]), lora_alpha=int(hp["lora_alpha"]), lora_dropout=float(hp["lora_dropout"]),
                        target_modules=list(hp["target_modules"]), task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    encoded = [_encode(tokenizer, r, int(hp["max_length"])) for r in train_rows]
    encoded_eval = [_encode(tokenizer, r, int(hp["max_length"])) for r in eval_rows]
    loss_before = _eval_loss(model, tokenizer, encoded_eval)  # LoRA B starts at zero: this is the base model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=float(hp["learning_rate"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))
    rng = random.Random(int(hp["seed"]))
    order: list[int] = []
    losses, tokens = [], 0
    model.train()
    started = time.perf_counter()
    for step in range(1, steps + 1):
        if len(order) < int(hp["batch_size"]):
            fresh = list(range(len(encoded)))
            rng.shuffle(fresh)
            order += fresh
        picked = [encoded[order.pop()] for _ in range(min(int(hp["batch_size"]), len(encoded)))]
        batch = _batch(tokenizer, picked)
        tokens += int(batch["attention_mask"].sum())
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        report(f"training step {step}/{steps} (loss {losses[-1]:.3f})", step, steps)
    seconds = time.perf_counter() - started
    report("evaluating the adapter", steps, steps)
    loss_after = _eval_loss(model, tokenizer, encoded_eval)
    model.save_pretrained(str(out_dir / "adapter"))
    return {
        "train_seconds": round(seconds, 2), "train_examples": len(train_rows), "train_tokens": tokens,
        "train_tokens_per_s": round(tokens / seconds, 1) if seconds else None,
        "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4),
        "eval_loss_base": loss_before, "eval_loss": loss_after,
        "eval_perplexity": round(math.exp(loss_after), 3) if loss_after is not None else None,
        "trainable_params": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
    }
