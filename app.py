"""RAG Ledger's Streamlit frame: who is signed in, and which pages this principal gets.

Pages are thin (pages/*.py); each also checks its own permission, so a page reached by URL is as
guarded as one reached by the menu.
"""
from __future__ import annotations

import streamlit as st

from core.origin import set_origin
from pages.common import PAGES, current_principal, get_ledger, sign_in_form, sign_out, start_problem

st.set_page_config(page_title="RAG Ledger", page_icon=":material/menu_book:", layout="wide")
set_origin("app")  # records appended by this server say so, with its OS account and host (docs/audit.md)

problem = start_problem()  # e.g. a demo password outside demo mode: nothing else runs until it is fixed
if problem is not None:
    st.error(f"RAG Ledger cannot start: {problem}")
    st.stop()

principal = current_principal()
if principal is None:
    page = st.navigation([st.Page(sign_in_form, title="Sign in", icon=":material/login:")])
else:
    ledger = get_ledger()
    allowed = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES if principal.may(p.action)]
    with st.sidebar:
        st.markdown(f"**{principal.display_name}**  \n`{principal.role}` · clearance `{principal.clearance}`")
        st.caption(f"groups: {', '.join(principal.groups) or 'none'}  \npolicy {ledger.policy.version}")
        st.button("Sign out", on_click=sign_out)
    page = st.navigation(allowed or [st.Page(sign_in_form, title="No pages")])
page.run()
