"""A trained model kept on disk and shared by every app process of a host.

A hosted class runs several app processes (``deploy/serve.py``) and every one of them
needs the same default model. Training it once per process costs each of them a full-MNIST
training (seconds of CPU, 200+ MB at its peak); :func:`cached_model` trains it once per
data directory instead: the first process takes a lock file, trains, writes the model file
atomically; the others wait on the lock and load it.

A file in the data directory is still a file: it is read with the pickle-free loader of
:mod:`lrcore.persist`, and its test metrics are recomputed on the data in use, never taken
from the file (``recompute_metrics``).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from lrcore.config import TrainConfig
from lrcore.data import MnistData
from lrcore.engine.tasks import fingerprint
from lrcore.train import TrainedModel

DATA_DIR_ENV = "LR_DATA_DIR"
# Files from an older format or another code version are simply retrained.
FORMAT = 1


def data_dir() -> Path | None:
    """Where the app keeps its files: ``$LR_DATA_DIR``, else ``data/`` beside ``lrcore``.

    None when that folder cannot be created or written (the app then works without it).
    """
    path = Path(os.environ.get(DATA_DIR_ENV) or Path(__file__).resolve().parent.parent / "data")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def model_path(directory: Path, name: str, config: TrainConfig, data: MnistData) -> Path:
    """The file of ``config`` trained on ``data``: one name per (config, data) pair."""
    key = json.dumps({"format": FORMAT, "config": config.to_dict(),
                      "data": fingerprint(data)}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return directory / f"{name}-{digest}.npz"


@contextmanager
def _locked(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process holds it: say so, then wait for it
            if on_wait is not None:
                on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def recompute_metrics(model: TrainedModel, data: MnistData,
                      test_size: int | None = None) -> TrainedModel:
    """Replace the test metrics in ``model.summary`` by ones computed here, on the first
    ``test_size`` test digits of ``data`` (default: as many as the model's config names, at
    most all of them)."""
    n = min(model.config.test_size if test_size is None else test_size, data.n_test)
    return model.rescore(data.X_test[:n], data.y_test[:n])


def _load(path: Path, data: MnistData) -> TrainedModel | None:
    try:
        return recompute_metrics(TrainedModel.load(path), data)
    except (OSError, ValueError):  # missing, truncated, corrupt: train it again
        return None


def cached_model(name: str, config: TrainConfig, data: MnistData,
                 train: Callable[[], TrainedModel], directory: Path | None = None,
                 on_wait: Callable[[], None] | None = None) -> TrainedModel:
    """The model ``train()`` returns for ``config`` on ``data``, trained once per directory.

    Parameters
    ----------
    name : str
        File name prefix, e.g. ``"default-model"``.
    config : TrainConfig
        The settings ``train`` uses (part of the file's name, with the data's fingerprint).
    data : MnistData
        The data in use (its test digits rescore a loaded model).
    train : callable
        Trains and returns the model; called at most once per directory and file name
        while the file exists and is valid.
    directory : Path, optional
        Default: :func:`data_dir`. With no usable directory, simply ``train()``.
    on_wait : callable, optional
        Called once if another process is training the same model right now (before
        waiting for it), e.g. to say so on the page.

    Returns
    -------
    TrainedModel
    """
    directory = directory if directory is not None else data_dir()
    if directory is None:
        return train()
    path = model_path(directory, name, config, data)
    if path.exists():
        model = _load(path, data)
        if model is not None:
            return model
    with _locked(path.with_suffix(".lock"), on_wait):
        model = _load(path, data) if path.exists() else None  # another process made it
        if model is not None:
            return model
        model = train()
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                model.save(fh)
            os.replace(tmp, path)  # atomic: a reader sees the old state or the whole file
        except OSError:
            Path(tmp).unlink(missing_ok=True)
        return model
