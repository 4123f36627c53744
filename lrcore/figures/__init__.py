"""Figures for the dashboard, grouped by subject; built from plain arrays and tables.

A plotly figure is data (a JSON-able description of traces and layout), and so is an HTML
snippet of tiny PNGs: building one is core logic and lives here, testable without a
browser; the pages only hand the figures to Streamlit. Nothing here imports Streamlit.

=========================  ==========================================================
``figures.style``          fonts, colours (red = positive weight), axis helpers, PNGs
``figures.training``       loss/accuracy curves of a run, several runs overlaid
``figures.weights``        weight images, two models compared, per-class statistics
``figures.evaluation``     confusion matrix, ROC, per-class bars, digit tiles, captions
``figures.experiments``    the Experiments page's curves, dots and bars
``figures.theory``         one digit's logits, probabilities and loss gradient
``figures.draw``           the Draw page's scores and 28x28 pictures as light HTML
=========================  ==========================================================
"""
