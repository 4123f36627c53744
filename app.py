"""Entry point: ``streamlit run app.py``. Registers the pages and draws the shared sidebar."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Softmax regression on MNIST", page_icon="🔢", layout="wide")


def run() -> None:
    pages = [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
        st.Page("pages/weights.py", title="Weights", icon="🖼️", url_path="weights"),
        st.Page("pages/evaluate.py", title="Evaluate", icon="📊", url_path="evaluate"),
        st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
    ]
    nav = st.navigation(pages)
    from pages.common import sidebar

    sidebar()
    nav.run()


run()
