"""The low layer every domain stands on: the SQLModel table definitions of the ledger database
(created by audit_db/migrations.py, which never calls live domain code). It imports only the shared
modules at the top of core/ (errors, config) and never a domain package.
"""
