"""Home: what this dashboard is, where to start, and the state of the data and default model."""
from __future__ import annotations

import streamlit as st

from lrcore.labels import pct
from pages.common import default_model_status, get_data, require_app_shell

require_app_shell()


def run() -> None:
    st.title("Softmax regression on MNIST")
    st.write(
        "Teach a computer to read handwritten digits with the simplest model that works: "
        "softmax regression, ten weighted sums of 784 pixels turned into probabilities. "
        "Train your own model and watch it learn live, then draw a digit and see what it says."
    )
    # Bordered, so they read as the two ways in (plain page links looked like text).
    with st.container(horizontal=True, gap="medium"):
        for page, label, icon in (("pages/train.py", "Train a model", ":material/model_training:"),
                                  ("pages/draw.py", "Draw a digit", ":material/draw:")):
            with st.container(border=True, width=220):
                st.page_link(page, label=f"**{label}**", icon=icon, width="stretch")

    st.subheader("What you'll learn")
    st.markdown(
        "- how the loss falls and the accuracy rises, iteration by iteration\n"
        "- what the penalty and its strength **C** do to the weights (L2, L1, elastic-net)\n"
        "- what each digit's weights look like as an image, and where the model goes wrong"
    )

    data = get_data()
    model = default_model_status()
    st.subheader("Ready?")
    st.write(f"**Data:** {data.source} — {data.n_train:,} training and "
             f"{data.n_test:,} test digits.")
    if model is not None:
        st.write(f"**Default model:** ready, test accuracy "
                 f"{pct(model.summary['test_accuracy'])} "
                 f"({model.config.train_size:,} training digits).")
    else:
        st.write("**Default model:** not trained yet; it is trained the first time a page "
                 "needs it, or you can train your own on the Train page.")


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
