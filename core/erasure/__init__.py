"""Right to be forgotten: requests, finding every match of a subject, measuring the impact once,
the journaled purge (physical LanceDB erasure, keys destroyed, models flagged) and its proof.
Imports evaluation, answering, models, rag and everything below them.
"""
