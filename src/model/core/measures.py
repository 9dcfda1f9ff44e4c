"""Measures of how well weights predict use (the measures used for risk-adjustment models of this kind; docs/method.md).

Person i, observed use y, predicted ŷ, group G, n persons:

* R² = 1 − Σ(y−ŷ)² / Σ(y−ȳ)²;
* Cumming's prediction measure CPM = 1 − Σ|y−ŷ| / Σ|y−ȳ|;
* mean absolute prediction error MAPE = Σ|y−ŷ| / n;
* predictive ratio PR_G = Σ_G ŷ / Σ_G y (a ratio of sums, never a mean of
  personal ratios); mean under- or over-compensation NC_G = Σ_G (ŷ−y) / n_G;
* group-level R² = 1 − Σ_g n_g (ȳ_g − ŷ̄_g)² / Σ_g n_g (ȳ_g − ȳ)², with the
  group sizes, and the share of groups off by 5 % and by 10 % or more;
* year-on-year reallocation D = ½ Σ_a |s_a,t − s_a,t−1|.

All functions are vectorised and take plain arrays or data frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.errors import InputError


def prediction_measures(y, yhat) -> dict[str, float]:
    """Person-level R², CPM and mean absolute prediction error.

    In: observed and predicted use (arrays of equal length).
    Out: ``{"n", "r_squared", "cpm", "mean_absolute_error", "predictive_ratio"}``.
    """
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    if y.shape != yhat.shape or y.size == 0:
        raise InputError("y and yhat must be non-empty arrays of the same length")
    e = y - yhat
    dev = y - y.mean()
    return {
        "n": int(y.size),
        "r_squared": float(1 - (e @ e) / (dev @ dev)),
        "cpm": float(1 - np.abs(e).sum() / np.abs(dev).sum()),
        "mean_absolute_error": float(np.abs(e).mean()),
        "predictive_ratio": float(yhat.sum() / y.sum()),
    }


def by_group(y, yhat, groups, min_size: int = 5) -> pd.DataFrame:
    """Predictive ratio and mean under/over-compensation per group.

    In: observed and predicted use, and a group label per person.
    Out: one row per group: ``group, persons, observed, predicted,
    predictive_ratio`` (Σŷ/Σy), ``compensation_per_person`` (Σ(ŷ−y)/n),
    ``off_5pct``, ``off_10pct`` (|PR − 1| ≥ 0.05 / 0.10) and ``suppressed``
    (fewer than ``min_size`` persons: the figures are blanked).
    """
    df = pd.DataFrame({"g": np.asarray(groups), "y": np.asarray(y, dtype=np.float64), "yhat": np.asarray(yhat, dtype=np.float64)})
    g = df.groupby("g", observed=True, sort=True).agg(persons=("y", "size"), observed=("y", "sum"), predicted=("yhat", "sum"))
    g["predictive_ratio"] = g["predicted"] / g["observed"]
    g["compensation_per_person"] = (g["predicted"] - g["observed"]) / g["persons"]
    g["off_5pct"] = (g["predictive_ratio"] - 1).abs() >= 0.05
    g["off_10pct"] = (g["predictive_ratio"] - 1).abs() >= 0.10
    g["suppressed"] = g["persons"] < min_size
    cols = ["observed", "predicted", "predictive_ratio", "compensation_per_person"]
    g.loc[g["suppressed"], cols] = np.nan
    g.loc[g["suppressed"], ["off_5pct", "off_10pct"]] = False
    return g.reset_index().rename(columns={"g": "group"})


def group_r_squared(y, yhat, groups) -> dict[str, float]:
    """Group-level R²: how well group means of ŷ track group means of y.

    R²_G = 1 − Σ_g n_g (ȳ_g − ŷ̄_g)² / Σ_g n_g (ȳ_g − ȳ)².  Out: ``{"groups",
    "r_squared", "share_off_5pct", "share_off_10pct", "min_group_size",
    "median_group_size"}`` (off = predictive ratio off by at least 5 % / 10 %).
    """
    t = by_group(y, yhat, groups, min_size=1)
    ybar = float(np.sum(np.asarray(y, dtype=np.float64)) / np.asarray(y).size)
    n = t["persons"].to_numpy(dtype=np.float64)
    mean_y = t["observed"].to_numpy() / n
    mean_p = t["predicted"].to_numpy() / n
    return {
        "groups": int(len(t)),
        "r_squared": float(1 - np.sum(n * (mean_y - mean_p) ** 2) / np.sum(n * (mean_y - ybar) ** 2)),
        "share_off_5pct": float(t["off_5pct"].mean()),
        "share_off_10pct": float(t["off_10pct"].mean()),
        "min_group_size": int(n.min()),
        "median_group_size": float(np.median(n)),
    }


def reallocation(shares_before, shares_after) -> float:
    """Share of all capacity that would move: D = ½ Σ_a |s_a,after − s_a,before|.

    In: two aligned arrays (or Series with the same index) of area totals;
    they are normalised to shares here.
    """
    a = np.asarray(shares_before, dtype=np.float64)
    b = np.asarray(shares_after, dtype=np.float64)
    return float(0.5 * np.abs(b / b.sum() - a / a.sum()).sum())
