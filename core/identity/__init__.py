"""Who is signed in: local passwords, the sign-in as the app performs it, the sign-in throttle kept
in the database, browser sessions and their lifetime, and edits of principals.yaml that keep its
layout. Imports the ledger handle, audit (sign-ins and refusals are audit events),
policy, stores and shared modules; nothing in rag needs it.
"""
