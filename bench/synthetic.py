"""A generated corpus for benchmarks: N chunks of short business prose with fake personal data at
known offsets, embedded with the real MiniLM and written straight into a LanceDB chunk table.

Ingestion (Presidio NER per document) is not what these benchmarks measure, so the PII spans are
recorded where the generator placed the values instead of being re-detected.
"""
from __future__ import annotations

import hashlib
import json
import random
import uuid

from core.ledger import Ledger
from core.policy.models import CLASSIFICATION_LEVELS, class_rank

TOPICS = ["travel budget", "parental leave", "database backup", "refund request", "vendor payment", "salary review",
          "laptop encryption", "incident postmortem", "API rate limit", "office relocation", "security training",
          "expense audit", "onboarding plan", "customer escalation", "contract renewal", "data retention"]
VERBS = ["was approved", "was postponed", "was escalated", "was reviewed", "was reduced", "was extended"]
FIRST = ["Anna", "Ben", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jade"]
LAST = ["Keller", "Lindqvist", "Mensah", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka"]
GROUPS = ["all-staff", "hr", "finance", "engineering", "support", "legal"]


def make_rows(n: int, ledger: Ledger, seed: int = 7, batch: int = 256) -> list[dict]:
    rng = random.Random(seed)
    texts, rows = [], []
    for i in range(n):
        topic, verb = rng.choice(TOPICS), rng.choice(VERBS)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{name.lower().replace(' ', '.')}@example.com"
        lead = f"Record {i}: the {topic} for team {rng.randint(1, 40)} {verb} after a meeting with "
        text = f"{lead}{name} ({email}). The amount involved was EUR {rng.randint(1, 900)},000 and follow-up is due in week {rng.randint(1, 52)}."
        spans = [{"type": "PERSON", "start": len(lead), "end": len(lead) + len(name), "score": 0.85},
                 {"type": "EMAIL_ADDRESS", "start": len(lead) + len(name) + 2, "end": len(lead) + len(name) + 2 + len(email), "score": 1.0}]
        level = rng.choice(CLASSIFICATION_LEVELS)
        groups = sorted(set(rng.sample(GROUPS, rng.randint(1, 2))))
        texts.append(f"{topic}\n{text}")
        rows.append({
            "chunk_id": f"chk_{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}", "doc_id": f"doc_{i // 8:016x}", "doc_version": 1,
            "ord": i % 8, "title": f"{topic.title()} memo {i // 8}", "title_spans": "[]", "text": text, "start": 0, "end": len(text),
            "groups": groups, "classification": level, "class_rank": class_rank(level),
            "content_hash": hashlib.sha256(text.encode()).hexdigest(), "pii_spans": json.dumps(spans), "pii_types": ["EMAIL_ADDRESS", "PERSON"],
        })
    vectors = ledger.embedder.embed(texts, batch_size=batch)
    for row, vector in zip(rows, vectors):
        row["vector"] = vector.tolist()
    return rows


def questions(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [f"What happened with the {rng.choice(TOPICS)} that {rng.choice(VERBS)}?" for _ in range(n)]
