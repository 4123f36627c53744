"""Model files that cannot run code: one compressed ``.npz`` of numeric arrays plus JSON.

Pickle and joblib files execute arbitrary code when loaded, and a hosted dashboard accepts
uploads from strangers, so a trained model is stored only as numbers and text:

* ``coef`` (n_coef_rows, n_features) float64, ``intercept`` (n_coef_rows,) float64 and
  ``classes`` (n_classes,) int64, where ``n_coef_rows`` is ``n_classes``, or 1 for a
  binary model stored the scikit-learn way;
* ``preprocess/<name>`` and ``extra/<name>``: the preprocessing state and any extra arrays
  (e.g. a training history), each a numeric array of any shape and dtype;
* ``meta_json``: a UTF-8 JSON document stored as a uint8 array, holding the format name
  and version, library versions, creation time, model parameters, preprocessing mode,
  training config, metrics and any extra metadata.

Files are written with :func:`numpy.savez_compressed` and read with
``np.load(..., allow_pickle=False)``; object arrays are refused on both sides. Every way a
file can be wrong (not a zip, a pickle, truncated, missing or unexpected entries, a newer
format, inconsistent shapes, non-finite coefficients, bad JSON) raises ``ValueError`` with
a message a user can act on. Turning a :class:`ModelFile` back into a live model is not
done here: this module knows only arrays and dicts.

The JSON is Python's dialect: ``Infinity`` and ``NaN`` are allowed because an unpenalized
model legitimately has ``C = inf``. Values must be JSON-representable; tuples come back as
lists and non-string dict keys as strings.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Union

import numpy as np

import lrcore
from lrcore.config import PREPROCESS_MODES, TrainConfig

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "N_FEATURES",
    "ModelFile",
    "load_model",
    "save_model",
]

FORMAT_NAME = "lrcore-model"
# Bump when a change would make older readers misread a file; readers refuse newer versions.
FORMAT_VERSION = 1
# 28 x 28 MNIST pixels: the only input width this app's models can be used with.
N_FEATURES = 784
# Decompressed size limit, so an uploaded "zip bomb" cannot exhaust memory. A 10-class
# 784-pixel model with its state is well under 1 MB; a long history a few MB at most.
MAX_UNCOMPRESSED_BYTES = 256 * 2**20

_META_KEY = "meta_json"
# Per-pixel arrays of lrcore.preprocess.Preprocessor.get_state(): one value per feature, so
# their length must match coef. Other state entries are not assumed to have any shape.
_PER_FEATURE_STATE = ("mean", "scale")
_PREPROCESS_PREFIX = "preprocess/"
_EXTRA_PREFIX = "extra/"
_CORE_KEYS = ("coef", "intercept", "classes", _META_KEY)
# Array names become zip member names: keep them to a portable, path-free alphabet.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
# Kinds np.load can read back without pickle and that are numbers: bool, int, uint,
# float, complex.
_NUMERIC_KINDS = "biufc"
_META_FIELDS = (
    "format",
    "format_version",
    "created_at",
    "versions",
    "model_params",
    "preprocess_mode",
    "preprocess_state_keys",
    "extra_array_keys",
    "config",
    "metrics",
    "extra_meta",
)

FileLike = Union[str, os.PathLike, IO[bytes]]


@dataclass(eq=False)
class ModelFile:
    """Contents of a model file, validated.

    ``eq=False``: element-wise array comparison has no single truth value.

    Attributes
    ----------
    coef : ndarray of shape (n_classes, n_features) or (1, n_features), float64
        Coefficients; one row for a binary model stored the scikit-learn way.
    intercept : ndarray of shape (n_coef_rows,), float64
        Intercepts, one per row of ``coef``.
    classes : ndarray of shape (n_classes,), int64
        Class labels, strictly increasing.
    model_params : dict
        Estimator parameters (e.g. ``TrainConfig.model_params()``).
    preprocess_mode : str
        One of ``lrcore.config.PREPROCESS_MODES``.
    preprocess_state : dict of str to ndarray
        Fitted preprocessing state (e.g. per-pixel mean and scale).
    config : dict or None
        ``TrainConfig.to_dict()`` of the run that produced the model.
    metrics : dict or None
        Scores recorded at save time (e.g. ``Evaluation.summary()``).
    versions : dict of str to str
        Versions of numpy, scipy, scikit-learn, lrcore and Python that wrote the file.
    extra_arrays : dict of str to ndarray
        Any additional numeric arrays (empty if none were saved).
    extra_meta : dict
        Any additional JSON metadata (empty if none was saved).
    created_at : str
        ISO 8601 UTC time the file was written.
    format_version : int
        Format version of the file (at most :data:`FORMAT_VERSION`).
    """

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    model_params: dict[str, Any]
    preprocess_mode: str
    preprocess_state: dict[str, np.ndarray]
    config: dict[str, Any] | None
    metrics: dict[str, Any] | None
    versions: dict[str, str]
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    extra_meta: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def n_features(self) -> int:
        """Number of input features (columns of ``coef``)."""
        return int(self.coef.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.classes.shape[0])


# --------------------------------------------------------------------------- validation


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"{kind} names must be 1-100 characters of letters, digits, '_', '.', '-' "
            f"(not starting with '.' or '-'); got {name!r}"
        )


def _check_numeric(what: str, arr: Any) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{what} must be a numeric array; got {type(arr).__name__}")
    if arr.dtype.kind not in _NUMERIC_KINDS or arr.dtype.fields is not None:
        raise ValueError(
            f"{what} must be a numeric array (bool, int or float); got dtype {arr.dtype}"
        )
    return arr


def _check_dict(what: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        expected = "a dict with string keys" + (" or None" if optional else "")
        raise ValueError(f"{what} must be {expected}; got {type(value).__name__}")


def _validate_model(
    coef: np.ndarray,
    intercept: np.ndarray,
    classes: np.ndarray,
    preprocess_mode: Any,
    preprocess_state: dict[str, np.ndarray],
    config: Any,
    n_features: int | None,
) -> None:
    """Raise ValueError unless the arrays describe one usable linear classifier."""
    if classes.ndim != 1 or classes.size < 2:
        raise ValueError(
            f"classes must be a 1-D array of at least 2 labels; got shape {classes.shape}"
        )
    if np.any(np.diff(classes) <= 0):
        raise ValueError(
            f"classes must be unique and increasing (like classes_); got {classes.tolist()}"
        )
    n_classes = classes.size
    if coef.ndim != 2:
        raise ValueError(
            f"coef must be 2-D (n_classes, n_features); got shape {coef.shape}"
        )
    allowed_rows = (n_classes, 1) if n_classes == 2 else (n_classes,)
    if coef.shape[0] not in allowed_rows:
        raise ValueError(
            f"coef has {coef.shape[0]} rows but there are {n_classes} classes; expected "
            + (f"{n_classes} or 1 rows" if n_classes == 2 else f"{n_classes} rows")
        )
    if intercept.shape != (coef.shape[0],):
        raise ValueError(
            f"intercept must have shape ({coef.shape[0]},) to match coef {coef.shape}; "
            f"got {intercept.shape}"
        )
    if n_features is not None and coef.shape[1] != n_features:
        raise ValueError(
            f"coef has {coef.shape[1]} features but this app's models take {n_features} "
            f"(28 x 28 pixels)"
        )
    if coef.shape[1] < 1:
        raise ValueError("coef has no features")
    if not np.all(np.isfinite(coef)):
        raise ValueError("coef contains NaN or infinite values; the model is unusable")
    if not np.all(np.isfinite(intercept)):
        raise ValueError("intercept contains NaN or infinite values; the model is unusable")
    if preprocess_mode not in PREPROCESS_MODES:
        raise ValueError(
            f"preprocess_mode must be one of {', '.join(PREPROCESS_MODES)}; "
            f"got {preprocess_mode!r}"
        )
    for name, arr in preprocess_state.items():
        # A NaN here would silently turn every prediction into NaN.
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            raise ValueError(f"preprocess_state[{name!r}] contains NaN or infinite values")
        if name in _PER_FEATURE_STATE and arr.shape != (coef.shape[1],):
            raise ValueError(
                f"preprocess_state[{name!r}] has shape {arr.shape} but coef has "
                f"{coef.shape[1]} features; expected ({coef.shape[1]},)"
            )
    if config is not None:
        try:
            TrainConfig.from_dict(config)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config is not a valid training config: {exc}") from None


# ------------------------------------------------------------------------------- saving


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        raise TypeError("arrays do not belong in the JSON metadata; use extra_arrays")
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "sklearn": version("scikit-learn"),
        "lrcore": lrcore.__version__,
        "python": platform.python_version(),
    }


def save_model(
    file: FileLike,
    *,
    coef: np.ndarray,
    intercept: np.ndarray,
    classes: np.ndarray,
    model_params: dict[str, Any],
    preprocess_mode: str,
    preprocess_state: dict[str, np.ndarray],
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> None:
    """Write a model file (compressed ``.npz``, no pickled data).

    The same checks as :func:`load_model` run first, so a file that saves always loads.

    Parameters
    ----------
    file : str, os.PathLike or binary file-like
        Destination path (written as given, no ``.npz`` appended; replaced atomically) or
        an object with ``write(bytes)`` such as :class:`io.BytesIO`.
    coef : array-like of shape (n_classes, n_features) or (1, n_features)
        Coefficients, stored as float64. One row is allowed only for two classes.
    intercept : array-like of shape (n_coef_rows,)
        Intercepts, stored as float64.
    classes : array-like of shape (n_classes,)
        Integer class labels, strictly increasing; stored as int64.
    model_params : dict
        Estimator parameters, JSON-serializable.
    preprocess_mode : str
        One of ``lrcore.config.PREPROCESS_MODES``.
    preprocess_state : dict of str to ndarray
        Fitted preprocessing arrays, stored with their dtype and shape.
    config : dict or None, default=None
        ``TrainConfig.to_dict()``; validated with ``TrainConfig.from_dict``.
    metrics : dict or None, default=None
        JSON-serializable scores.
    extra_arrays : dict of str to ndarray or None, default=None
        Additional numeric arrays.
    extra_meta : dict or None, default=None
        Additional JSON-serializable metadata.

    Raises
    ------
    ValueError
        If any input is inconsistent, non-numeric, non-finite (coef, intercept,
        preprocessing state) or not JSON-serializable.
    """
    data = _encode(
        coef=coef,
        intercept=intercept,
        classes=classes,
        model_params=model_params,
        preprocess_mode=preprocess_mode,
        preprocess_state=preprocess_state,
        config=config,
        metrics=metrics,
        extra_arrays=extra_arrays,
        extra_meta=extra_meta,
    )
    if hasattr(file, "write"):
        file.write(data)  # type: ignore[union-attr]
        return
    path = Path(os.fspath(file))  # type: ignore[arg-type]
    # np.savez_compressed(path) would append ".npz" to other names and leave a half-written
    # file on failure; write the bytes ourselves, via a temporary file and a rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _encode(
    *,
    coef: np.ndarray,
    intercept: np.ndarray,
    classes: np.ndarray,
    model_params: dict[str, Any],
    preprocess_mode: str,
    preprocess_state: dict[str, np.ndarray],
    config: dict[str, Any] | None,
    metrics: dict[str, Any] | None,
    extra_arrays: dict[str, np.ndarray] | None,
    extra_meta: dict[str, Any] | None,
) -> bytes:
    coef_arr = _check_numeric("coef", np.asarray(coef))
    intercept_arr = _check_numeric("intercept", np.asarray(intercept))
    classes_arr = _check_numeric("classes", np.asarray(classes))
    if classes_arr.dtype.kind not in "iu":
        raise ValueError(f"classes must be integers; got dtype {classes_arr.dtype}")
    if classes_arr.dtype == np.uint64 and classes_arr.size and classes_arr.max() >= 2**63:
        # The cast to int64 below would wrap these around to negative labels.
        raise ValueError("classes do not fit in int64")
    coef_arr = coef_arr.astype(np.float64, copy=False)
    intercept_arr = intercept_arr.astype(np.float64, copy=False)
    classes_arr = classes_arr.astype(np.int64, copy=False)

    _check_dict("model_params", model_params, optional=False)
    _check_dict("preprocess_state", preprocess_state, optional=False)
    _check_dict("config", config, optional=True)
    _check_dict("metrics", metrics, optional=True)
    _check_dict("extra_arrays", extra_arrays, optional=True)
    _check_dict("extra_meta", extra_meta, optional=True)
    extra_arrays = extra_arrays or {}

    arrays: dict[str, np.ndarray] = {
        "coef": coef_arr,
        "intercept": intercept_arr,
        "classes": classes_arr,
    }
    for prefix, group, kind in (
        (_PREPROCESS_PREFIX, preprocess_state, "preprocess_state"),
        (_EXTRA_PREFIX, extra_arrays, "extra_arrays"),
    ):
        for name, arr in group.items():
            _check_name(kind, name)
            arrays[prefix + name] = _check_numeric(f"{kind}[{name!r}]", np.asarray(arr))

    _validate_model(
        coef_arr,
        intercept_arr,
        classes_arr,
        preprocess_mode,
        {k: arrays[_PREPROCESS_PREFIX + k] for k in preprocess_state},
        config,
        n_features=None,
    )

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "model_params": model_params,
        "preprocess_mode": preprocess_mode,
        "preprocess_state_keys": list(preprocess_state),
        "extra_array_keys": list(extra_arrays),
        "config": config,
        "metrics": metrics,
        "extra_meta": extra_meta or {},
    }
    try:
        text = json.dumps(meta, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model metadata is not JSON-serializable: {exc}") from None
    arrays[_META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# ------------------------------------------------------------------------------ loading


def _read_bytes(file: FileLike | bytes | bytearray | memoryview) -> bytes:
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    if hasattr(file, "read"):
        data = file.read()  # type: ignore[union-attr]
        if isinstance(data, str):
            raise ValueError("model files must be opened in binary mode ('rb')")
        return bytes(data)
    try:
        return Path(os.fspath(file)).read_bytes()  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(
            f"expected a path, bytes or a binary file object; got {type(file).__name__}"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{file} is a folder, not a model file") from None


def _sniff(data: bytes) -> None:
    """Refuse anything that is not a zip archive, naming what it looks like instead."""
    if not data:
        raise ValueError("the model file is empty")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return
    # Protocol 2+ pickles (every pickle.dump/joblib.dump default since Python 3) open with
    # PROTO 0x80 and the protocol number. np.load would say the same, but it says it about
    # any non-zip file, so tell the two apart here.
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise ValueError(
            "this is a pickle file; model files are .npz and pickles are refused because "
            "they can run code"
        )
    if data.startswith(b"\x93NUMPY"):
        raise ValueError(
            "this is a single .npy array, not a model file; model files are .npz archives "
            "written by lrcore"
        )
    raise ValueError(
        "this is not a model file: model files are .npz (zip) archives written by lrcore, "
        "and this file is not a zip archive"
    )


def _corrupt(exc: BaseException) -> ValueError:
    return ValueError(f"the model file is truncated or corrupt ({type(exc).__name__}: {exc})")


def _read_arrays(data: bytes) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise _corrupt(exc) from None
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ValueError(
            f"the model file would decompress to {total / 2**20:.0f} MB, over the "
            f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB limit; refusing to load it"
        )
    entries: dict[str, Any] = {}
    try:
        # The data was sniffed as a zip above, so np.load returns an NpzFile; arrays are
        # read lazily, hence all inside the with-block where corruption can surface.
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for key in npz.files:
                entries[key] = npz[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                "the model file contains a pickled (object) array; model files hold only "
                "numeric arrays and pickled data is refused because it can run code"
            ) from None
        raise _corrupt(exc) from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError) as exc:
        raise _corrupt(exc) from None
    arrays: dict[str, np.ndarray] = {}
    for key, value in entries.items():
        # NpzFile hands back raw bytes for zip members that are not .npy arrays.
        if not isinstance(value, np.ndarray):
            raise ValueError(f"entry {key!r} of the model file is not a numpy array")
        arrays[key] = value
    return arrays


def _read_meta(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays[_META_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(
            f"meta_json must be a 1-D uint8 array; got dtype {raw.dtype}, shape {raw.shape}"
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the model file's metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError("the model file's metadata must be a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(
            f"this is not an lrcore model file (format {meta.get('format')!r}, expected "
            f"{FORMAT_NAME!r})"
        )
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"the model file has an invalid format_version: {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"this model file has format version {version}, newer than this lrcore "
            f"({lrcore.__version__}) can read (up to {FORMAT_VERSION}); upgrade lrcore "
            f"to load it"
        )
    missing = [name for name in _META_FIELDS if name not in meta]
    if missing:
        raise ValueError(f"the model file's metadata is missing: {', '.join(missing)}")
    for name in ("model_params", "versions", "extra_meta"):
        _check_dict(name, meta[name], optional=False)
    for name in ("config", "metrics"):
        _check_dict(name, meta[name], optional=True)
    for name, kind in (
        ("preprocess_state_keys", "preprocess_state"),
        ("extra_array_keys", "extra_arrays"),
    ):
        keys = meta[name]
        if not isinstance(keys, list):
            raise ValueError(f"{name} in the metadata must be a list of names")
        for key in keys:
            _check_name(kind, key)
        if len(set(keys)) != len(keys):
            raise ValueError(f"{name} in the metadata has duplicate names")
    if not isinstance(meta["created_at"], str):
        raise ValueError("created_at in the metadata must be a string")
    return meta


def load_model(
    file: FileLike | bytes | bytearray | memoryview,
    *,
    n_features: int | None = N_FEATURES,
) -> ModelFile:
    """Read and validate a model file written by :func:`save_model`.

    Never unpickles: arrays are read with ``np.load(..., allow_pickle=False)``.

    Parameters
    ----------
    file : str, os.PathLike, bytes or binary file-like
        The file, its contents, or an object with ``read()`` (e.g. Streamlit's
        ``UploadedFile`` or :class:`io.BytesIO`).
    n_features : int or None, default=784
        Required number of input features; None accepts any width.

    Returns
    -------
    ModelFile

    Raises
    ------
    ValueError
        If the file is empty, not a zip archive, a pickle, truncated or corrupt, has
        missing or unexpected entries, another or a newer format, invalid JSON metadata,
        inconsistent shapes, the wrong number of features or non-finite coefficients.
    """
    data = _read_bytes(file)
    _sniff(data)
    arrays = _read_arrays(data)

    missing = [key for key in _CORE_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"the model file is missing {', '.join(missing)}; is it an lrcore model file?"
        )
    meta = _read_meta(arrays)

    preprocess_keys = meta["preprocess_state_keys"]
    extra_keys = meta["extra_array_keys"]
    expected = set(_CORE_KEYS)
    expected.update(_PREPROCESS_PREFIX + k for k in preprocess_keys)
    expected.update(_EXTRA_PREFIX + k for k in extra_keys)
    absent = sorted(expected - set(arrays))
    if absent:
        raise ValueError(f"the model file is missing arrays: {', '.join(absent)}")
    unexpected = sorted(set(arrays) - expected)
    if unexpected:
        raise ValueError(f"the model file has unexpected entries: {', '.join(unexpected)}")
    for key, arr in arrays.items():
        if key != _META_KEY:
            _check_numeric(f"array {key!r}", arr)

    coef, intercept, classes = arrays["coef"], arrays["intercept"], arrays["classes"]
    # Exact dtypes, not casts: a file that stores something else was not written by us.
    for key, arr, dtype in (
        ("coef", coef, np.float64),
        ("intercept", intercept, np.float64),
        ("classes", classes, np.int64),
    ):
        if arr.dtype != dtype:
            raise ValueError(f"{key} must have dtype {np.dtype(dtype)}; got {arr.dtype}")
    preprocess_state = {k: arrays[_PREPROCESS_PREFIX + k] for k in preprocess_keys}
    _validate_model(
        coef,
        intercept,
        classes,
        meta["preprocess_mode"],
        preprocess_state,
        meta["config"],
        n_features=n_features,
    )
    return ModelFile(
        coef=coef,
        intercept=intercept,
        classes=classes,
        model_params=meta["model_params"],
        preprocess_mode=meta["preprocess_mode"],
        preprocess_state=preprocess_state,
        config=meta["config"],
        metrics=meta["metrics"],
        versions=meta["versions"],
        extra_arrays={k: arrays[_EXTRA_PREFIX + k] for k in extra_keys},
        extra_meta=meta["extra_meta"],
        created_at=meta["created_at"],
        format_version=meta["format_version"],
    )
