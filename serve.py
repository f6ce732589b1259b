"""What `make run` serves: app.py as an ASGI app (`streamlit run serve.py`).

Why not `streamlit run app.py` alone: our page files live in `pages/`, and Streamlit, until a script
has called `st.navigation` in this process, treats a `pages/` folder as its legacy page list. The first
visit after a start then resolves the URL against file names: `/audit` (pages/audit_trail.py) gets
"page does not exist", `/documents` runs the page file without app.py's frame. Turning that
discovery off before the first session keeps every deep link, bookmark and refresh on app.py's
navigation. (`streamlit run app.py` still works; only that first visit can be wrong.)
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

PagesManager.uses_pages_directory = False  # app.py's st.navigation is the only page list
app = st.App("app.py")
