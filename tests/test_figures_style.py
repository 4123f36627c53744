"""Tests for lrcore.figures.style and the package as a whole: no Streamlit, every public
name exists, one colour meaning (red = positive) everywhere."""
from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

from lrcore.figures import style

MODULES = ["style", "training", "weights", "evaluation", "experiments", "theory", "draw"]


def test_core_does_not_import_streamlit():
    code = ("import lrcore.labels, sys; "
            + "; ".join(f"import lrcore.figures.{m}" for m in MODULES)
            + "; assert 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", MODULES[1:])
def test_all_public_names_exist(name):
    mod = importlib.import_module(f"lrcore.figures.{name}")
    assert mod.__all__
    for attr in mod.__all__:
        assert hasattr(mod, attr), attr


def test_one_colour_meaning_red_is_positive():
    # Positive = red: the reversed RdBu puts red at the top of the scale.
    assert style.WEIGHT_COLORSCALE == "RdBu_r"
    assert set(style.PENALTY_COLORS) >= {"l1", "l2"}
    lut = style.EVIDENCE_LUT.astype(int)
    assert lut[255, 0] > lut[255, 2] + 100  # +max: red
    assert lut[0, 2] > lut[0, 0] + 100  # -max: blue
    assert (lut[128] > 240).all()  # 0: white
    idx = style.evidence_indices(np.linspace(-2, 2, 784), 2.0)
    assert idx.ravel()[0] == 0 and idx.ravel()[-1] == 255
