"""RAG Ledger core: governed retrieval, redaction, audit. Never imports streamlit."""

__version__ = "0.1.0"
