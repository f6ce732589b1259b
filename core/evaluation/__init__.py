"""Golden-set evaluation and what stands on it: the golden set's format, asking it as every
principal (recall@k, citations, answer-contains, leaks), freshness re-runs after an ingest, drift
between runs, the promotion gate, and the model lifecycle (promotion, retraining) that the gate
guards. Imports answering, models, rag and everything below them.
"""
