"""The governed RAG engine's parts: extraction, PII analysis (Presidio and our recognizers), chunking,
embedding, languages, the LanceDB chunk store, the document registry, access-controlled retrieval,
redaction by role, question redaction, answerers, ingestion and relabelling. Imports audit, policy,
stores and shared modules.
"""
