"""Answering a question end to end: governed retrieval (rag), the answerer that serving picks
(models), abstention, the URL guard and the one audit record per answer. Imports models, rag and
everything below them; erasure and workbench build on it.
"""
