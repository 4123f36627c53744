"""The model's answers on a few test digits, for watching them change while it trains.

ConvNetJS's MNIST demo shows its test digits with the network's current guess beside the
loss curves: a student sees "that 7 was read as 1, now it is right" long before the
accuracy curve says anything. :func:`sample_indices` picks a fixed, class-balanced handful
of test digits (the same for every student and every run, so runs compare);
:func:`predictions_html` draws them with the current model's guess: green when right, red
(with the true label) when wrong, and the probability of the guess.
"""
from __future__ import annotations

import html

import numpy as np
from numpy.typing import ArrayLike

from lrcore.explain import _GRAY_LUT, gray_indices, png_data_url

__all__ = ["predictions_html", "sample_indices"]

RIGHT_COLOR = "#1a7f37"  # green: the guess is right
WRONG_COLOR = "#d62728"  # red: the guess is wrong


def sample_indices(y: ArrayLike, per_class: int = 2) -> np.ndarray:
    """Indices of the first ``per_class`` digits of each class in ``y``, interleaved
    (0, 1, ..., 9, 0, 1, ...), so any prefix shows every class once before repeating."""
    y = np.asarray(y)
    classes = np.unique(y)
    firsts = [np.flatnonzero(y == c)[:per_class] for c in classes]
    out = [f[i] for i in range(per_class) for f in firsts if i < len(f)]
    return np.asarray(out, dtype=np.int64)


def predictions_html(proba: ArrayLike, classes: ArrayLike, pixels: ArrayLike, y: ArrayLike, *,
                     tile: int = 56) -> str:
    """Test digits with the model's current guesses, as one wrapping HTML strip.

    Parameters
    ----------
    proba : array of shape (n, n_classes)
        The model's probabilities for the digits.
    classes : array of shape (n_classes,)
    pixels : array of shape (n, 784)
        The digits, 0-255.
    y : array of shape (n,)
        Their true labels.
    tile : int
        Width of one picture in CSS pixels (the strip wraps on narrow screens).

    Returns
    -------
    html : str
        ``<div class='sample-predictions'>`` of ``<figure>`` tiles; a tile's ``data-right``
        is "1" when the guess is right.
    """
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    pixels = np.asarray(pixels)
    y = np.asarray(y)
    guess = proba.argmax(axis=1)
    n_right = int(np.sum(classes[guess] == y))
    tiles = []
    for i in range(len(y)):
        g, truth = classes[guess[i]], y[i]
        right = bool(g == truth)
        color = RIGHT_COLOR if right else WRONG_COLOR
        url = png_data_url(gray_indices(pixels[i] / 255.0), _GRAY_LUT)
        label = f"{g}" if right else f"{g} <span style='font-weight:400'>(is {truth})</span>"
        alt = (f"a {truth}, read as {g} ({proba[i, guess[i]]:.0%})")
        tiles.append(
            f"<figure data-right='{int(right)}' style='margin:0;width:{tile}px'>"
            f"<img src='{url}' alt='{html.escape(alt, quote=True)}' "
            f"title='{html.escape(alt, quote=True)}' style='width:{tile}px;height:{tile}px;"
            f"image-rendering:pixelated;display:block;border-radius:3px;"
            f"outline:3px solid {color};outline-offset:-3px'>"
            f"<figcaption style='font-size:0.8rem;text-align:center;color:{color};"
            f"font-weight:600;line-height:1.2'>{label}<br>"
            f"<span style='font-weight:400'>{proba[i, guess[i]]:.0%}</span></figcaption>"
            "</figure>")
    head = (f"<div style='font-size:0.9rem;margin-bottom:0.25rem'>{n_right} of {len(y)} "
            "test digits read right by the model as it is now</div>")
    return (f"<div class='sample-predictions'>{head}<div style='display:flex;flex-wrap:wrap;"
            f"gap:0.4rem'>" + "".join(tiles) + "</div></div>")
