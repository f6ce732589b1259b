"""Accounts: the local accounts with their sign-in state; unlock one that repeated failures locked.

Adding accounts and setting passwords stay on the command line (`ragledger users ...`), where a
password is typed into a hidden prompt or piped in, never shown on a shared screen."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.workbench.accounts import list_accounts, unlock
from pages.common import page_guard, run_core

ledger, principal = page_guard("policy.edit", "accounts")
st.title(":material/manage_accounts: Accounts")
st.caption("Local accounts (the fallback sign-in; an identity provider is recommended in production). "
           "Add accounts and set passwords with `ragledger users add|passwd NAME`.")

rows = run_core(lambda: list_accounts(ledger, principal)) or []
held = [r["name"] for r in rows if r["locked_until"] or r["recent_failures"]]
if held:
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Locked or recently failing account", held)
    if c2.button("Unlock", type="primary"):
        out = run_core(lambda: unlock(ledger, principal, name))
        if out is not None:
            st.success(f"{name}: {'unlocked' if out['was_locked'] else 'failure count cleared'} (audited).")
            rows = run_core(lambda: list_accounts(ledger, principal)) or []
else:
    st.info("No account is locked or has recent failed sign-ins.")

st.dataframe(pd.DataFrame([{
    "account": r["name"], "role": r["role"], "clearance": r["clearance"],
    "state": "disabled" if r["disabled"] else ("locked until " + r["locked_until"]) if r["locked_until"] else "active",
    "recent failures": r["recent_failures"], "password": "demo password" if r["demo_password"] else "set" if r["password"] else "none",
} for r in rows]), hide_index=True, width="stretch")
