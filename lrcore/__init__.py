"""lrcore: softmax (multinomial logistic) regression on MNIST, with no UI.

Data loading, preprocessing, the model and its solvers, metrics, plot builders, model
files, experiments and the command line. Nothing here imports Streamlit or prints.
"""
__version__ = "0.1.0"
