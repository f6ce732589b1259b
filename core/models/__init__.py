"""The model registry and what hangs on it: immutable datasets from governed chunks, lineage both
ways, fine-tuning jobs, serving (which answerer and embedder serve, re-embedding) and background jobs. Imports rag and everything below it.
"""
