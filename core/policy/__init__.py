"""Who may do what: the declarative policy files (pydantic models, loading and evaluation: roles,
actions, clearances, the access filter), the registered actions, and policy edits in the home.
Imports stores and shared modules only.
"""
