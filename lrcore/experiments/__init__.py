"""Live experiments that answer the dashboard's questions, one module per question.

Each constructor (:func:`training_size_curve`, :func:`regularization_path`, ...) validates
its settings at once (``ValueError`` saying what is wrong and what is allowed) and returns
an :class:`Experiment`. Nothing runs until it is iterated::

    exp = regularization_path(data, Cs=[0.01, 0.1, 1.0])
    for p in exp:                         # an ExperimentProgress per finished point,
        print(p.done, p.total, p.message)  # and in between (a page draws a progress bar)
    res = exp.result()                    # ExperimentResult: table, notes, CSV

Stopping is closing the iterator (``break``, a Stop, Ctrl-C): the points finished so far
stay in :meth:`Experiment.result`, marked ``complete=False``. The experiment in flight is
simply dropped. The CLI (``python -m lrcore experiment NAME``) and the tests iterate it
here; the Experiments page runs the same code as one job of the training engine
(:mod:`lrcore.engine.experiment_jobs`), which iterates it on a worker.

Caching is the caller's job (STYLE.md section 6): :attr:`Experiment.key` is a stable hash
of the experiment's name, its JSON-safe ``params`` and the data it runs on, suitable as a
cache key for the same settings.

Modules: :mod:`~lrcore.experiments.base` (Experiment, its records, the shared helpers),
one module per experiment (``size``, ``c_path``, ``cv``, ``ovr``, ``binary``,
``preprocessing``, ``models``), and :mod:`~lrcore.experiments.inputs` (the parsers of what
a student types into the Experiments page).
"""
from __future__ import annotations

from typing import Callable

from lrcore.experiments.base import Experiment, ExperimentProgress, ExperimentResult
from lrcore.experiments.binary import binary_detector
from lrcore.experiments.c_path import regularization_path
from lrcore.experiments.cv import cross_validate_C
from lrcore.experiments.models import model_comparison
from lrcore.experiments.ovr import softmax_vs_ovr
from lrcore.experiments.preprocessing import preprocessing_comparison
from lrcore.experiments.size import training_size_curve

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ExperimentProgress",
    "ExperimentResult",
    "binary_detector",
    "cross_validate_C",
    "model_comparison",
    "preprocessing_comparison",
    "regularization_path",
    "softmax_vs_ovr",
    "training_size_curve",
]

EXPERIMENTS: dict[str, Callable[..., Experiment]] = {
    "size": training_size_curve,
    "c-path": regularization_path,
    "cv": cross_validate_C,
    "ovr": softmax_vs_ovr,
    "binary": binary_detector,
    "preprocess": preprocessing_comparison,
    "models": model_comparison,
}
