"""Age curves and onset ages: interpolation between (age, value) points and a lookup table
that turns a person's standard-normal score into the age at which a cumulative curve is reached.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from model.inputs.synthetic.truth import _MAX_AGE, _NEVER


def _logistic(x):
    """The logistic function 1 / (1 + exp(-x)), elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


def _interp_curve(points: list[tuple[float, float]]) -> np.ndarray:
    """Values at ages 0..125 linearly interpolated between (age, value) points."""
    xs, ys = zip(*points)
    return np.interp(np.arange(_MAX_AGE + 1), xs, ys)


def _onset(curve: np.ndarray, u: np.ndarray) -> np.ndarray:
    """First age at which a non-decreasing cumulative curve reaches ``u``; 255 if never."""
    o = np.searchsorted(curve, u, side="left")
    return np.where(o > _MAX_AGE, _NEVER, o).astype(np.uint8)


# Onsets from a standard-normal score s: the first age a with curve(a) >= Phi(-s).  A lookup table
# on a fine grid of s (resolution 1/2048 over [-8, 8]) replaces Phi and the binary search per person.
_LUT_LO, _LUT_STEP, _LUT_N = -8.0, 1.0 / 2048.0, 32768


def _onset_lut(curves: np.ndarray) -> np.ndarray:
    """(n_curves * _LUT_N,) uint8 lookup table of onsets for grid points of the score."""
    grid = _LUT_LO + (np.arange(_LUT_N) + 0.5) * _LUT_STEP
    u = ndtr(-grid)
    return np.concatenate([_onset(c, u) for c in np.atleast_2d(curves)])


def _lut_index(score: np.ndarray) -> np.ndarray:
    """Index into a lookup table of :func:`_onset_lut` for each score (clipped to the grid)."""
    q = ((score - _LUT_LO) * (1.0 / _LUT_STEP)).astype(np.int32)
    return np.clip(q, 0, _LUT_N - 1, out=q)


def _onset_by_sex(lut: np.ndarray, score: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Onset ages from a two-sex lookup table (men first) and scores."""
    q = _lut_index(score)
    q += (sex.astype(np.int32) - 1) * _LUT_N
    return lut[q]


def _use_probability_table() -> np.ndarray:
    """Probability of any use in the year by sex (men, women) and age, before disease and municipality."""
    men = _interp_curve([(0, 0.99), (2, 0.99), (3, 0.93), (5, 0.93), (6, 0.82), (15, 0.82), (16, 0.72), (24, 0.72),
                         (25, 0.70), (34, 0.70), (35, 0.74), (44, 0.74), (45, 0.78), (54, 0.78), (55, 0.83),
                         (64, 0.83), (65, 0.90), (74, 0.90), (75, 0.95), (125, 0.95)])
    women = _interp_curve([(0, 0.99), (2, 0.99), (3, 0.93), (5, 0.93), (6, 0.82), (15, 0.82), (16, 0.88),
                           (24, 0.88), (25, 0.90), (64, 0.90), (65, 0.93), (74, 0.93), (75, 0.96), (125, 0.96)])
    return np.stack([men, women])
