"""Right to be forgotten: requests, finding every match of a subject, measuring the impact once,
the journaled purge (physical LanceDB erasure, keys destroyed, models flagged) and its proof.
The request, the purge journal and the certificate are typed records (core/erasure/records.py).
Imports evaluation, answering, models, rag and everything below them.
"""
