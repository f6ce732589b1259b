"""RAG Ledger's Streamlit frame: who is signed in, and which pages this principal gets.

Every page is registered with the navigation, signed in or not, so a deep link or a bookmark always
reaches its page: before sign-in the page's guard shows the sign-in form and, once signed in, the same
URL runs again; a page the role lacks is hidden from the menu but still answers its URL with "Access
denied" (audited as a denial). Pages are thin (pages/*.py) and each checks its own permission.
"""
from __future__ import annotations

import streamlit as st

from core.audit.origin import set_origin
from pages.common import PAGES, current_principal, get_ledger, menu, sign_in_form, sign_out, start_problem, sync_cookie

st.set_page_config(page_title="RAG Ledger", page_icon=":material/menu_book:", layout="wide")
set_origin("app")  # records appended by this server say so, with its OS account and host (docs/audit.md)

problem = start_problem()  # e.g. a demo password outside demo mode: nothing else runs until it is fixed
if problem is not None:
    st.error(f"RAG Ledger cannot start: {problem}")
    st.stop()

principal = current_principal()
sync_cookie()  # the browser's session cookie follows this run: set while signed in, cleared after
if principal is None:
    pages = [st.Page(sign_in_form, title="Sign in", icon=":material/login:", default=True)]
    pages += [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, visibility="hidden") for p in PAGES]
    page = st.navigation(pages, position="hidden")
else:
    ledger = get_ledger()
    offered = menu(principal)
    st.session_state["menu"] = [p.path for p in offered]  # what the sidebar lists (read by the tests)
    pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p == offered[0] if offered else False,
                     visibility="visible" if p in offered else "hidden") for p in PAGES]
    if not offered:
        pages.insert(0, st.Page(sign_in_form, title="No pages", default=True))
    with st.sidebar:
        st.markdown(f"**{principal.display_name}**  \n`{principal.role}` · clearance `{principal.clearance}`")
        st.caption(f"groups: {', '.join(principal.groups) or 'none'}  \npolicy {ledger.policy.version}")
        st.button("Sign out", on_click=sign_out)
    page = st.navigation(pages)
page.run()
