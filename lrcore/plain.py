"""Plain Python values out of numpy ones: the one place lrcore turns results into what
``json.dumps`` (the CLI, CSV headers, cache keys) and msgpack (the engine's progress
messages) accept.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["json_safe", "plain"]


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
