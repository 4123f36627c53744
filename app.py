"""Entry point: ``streamlit run app.py``. Registers the pages and draws the shared sidebar."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Softmax regression on MNIST", page_icon="🔢", layout="wide")


def run() -> None:
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/weights.py", title="Weights", icon=":material/grid_on:", url_path="weights"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
        st.Page("pages/theory.py", title="Theory", icon=":material/functions:", url_path="theory"),
        st.Page("pages/board.py", title="Class board", icon=":material/groups:", url_path="board"),
    ]
    nav = st.navigation(pages)
    from pages.common import sidebar, training_status

    # Drawn before the page (so it shows while a page trains) and redrawn after it, so it
    # names the model a page has just trained or made current.
    slot = st.sidebar.empty()
    sidebar(slot)
    nav.run()
    sidebar(slot)
    training_status()


run()
