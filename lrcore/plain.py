"""Plain Python values out of numpy ones: the one place lrcore turns results into what
``json.dumps`` (the CLI, CSV headers, cache keys) and msgpack (the engine's progress
messages, which also carry arrays as raw bytes: :func:`pack_array`) accept.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["json_safe", "pack_array", "plain", "unpack_array"]


def plain(value: Any, *, finite: bool = True) -> Any:
    """Python scalars, lists and dicts only: numpy scalars unwrapped, tuples and arrays as
    lists, dict keys as strings.

    With ``finite`` (JSON has no NaN or infinity) NaN becomes None and +-inf the strings
    "inf" / "-inf"; without it they stay floats (msgpack carries them as they are).
    """
    if isinstance(value, dict):
        return {str(k): plain(v, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v, finite=finite) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def json_safe(value: Any) -> Any:
    """:func:`plain` for ``json.dumps``: NaN as None, infinities as "inf" / "-inf"."""
    return plain(value, finite=True)


def pack_array(a: np.ndarray, dtype: Any = None) -> dict:
    """An array as a msgpack-safe dict (raw bytes, dtype, shape)."""
    # np.array, not np.ascontiguousarray: the latter turns a 0-d array into shape (1,).
    a = np.array(a, dtype=dtype, order="C", copy=None)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": a.tobytes()}


def unpack_array(d: dict) -> np.ndarray:
    """Inverse of :func:`pack_array` (a read-only view of the bytes)."""
    return np.frombuffer(d["data"], dtype=np.dtype(d["dtype"])).reshape(d["shape"])
