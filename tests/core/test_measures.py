"""Prediction measures against values computed by hand on a tiny example."""

import numpy as np
import pytest

from model.core import measures as ms

# five persons: y observed, p predicted
Y = np.array([0.0, 100.0, 200.0, 300.0, 400.0])  # mean 200
P = np.array([50.0, 150.0, 150.0, 250.0, 500.0])
G = np.array(["a", "a", "b", "b", "b"])


def test_person_level_measures_by_hand():
    m = ms.prediction_measures(Y, P)
    # residuals: -50, -50, 50, 50, -100 -> SSR = 2500*4 + 10000 = 20000; SST = 40000+10000+0+10000+40000 = 100000
    assert m["r_squared"] == pytest.approx(1 - 20000 / 100000)
    # sum |e| = 300; sum |y - ybar| = 200+100+0+100+200 = 600
    assert m["cpm"] == pytest.approx(1 - 300 / 600)
    assert m["mean_absolute_error"] == pytest.approx(300 / 5)
    assert m["predictive_ratio"] == pytest.approx(1100 / 1000)


def test_group_measures_by_hand():
    t = ms.by_group(Y, P, G, min_size=1).set_index("group")
    # a: y 0+100 = 100, p 50+150 = 200 -> PR 2.0, NC (200-100)/2 = 50
    assert t.loc["a", "predictive_ratio"] == pytest.approx(2.0)
    assert t.loc["a", "compensation_per_person"] == pytest.approx(50)
    # b: y 900, p 900 -> PR 1, NC 0
    assert t.loc["b", "predictive_ratio"] == pytest.approx(1.0)
    assert t.loc["b", "compensation_per_person"] == pytest.approx(0)
    assert bool(t.loc["a", "off_10pct"]) and not bool(t.loc["b", "off_5pct"])
    # ratio of sums, not a mean of personal ratios (which would be inf for y=0)
    assert np.isfinite(t["predictive_ratio"]).all()


def test_group_r_squared_by_hand():
    r = ms.group_r_squared(Y, P, G)
    # group means: a y 50, p 100; b y 300, p 300; overall ybar 200
    # numerator 2*(50-100)^2 + 3*0 = 5000; denominator 2*(50-200)^2 + 3*(300-200)^2 = 45000 + 30000
    assert r["r_squared"] == pytest.approx(1 - 5000 / 75000)
    assert r["groups"] == 2 and r["share_off_10pct"] == 0.5 and r["min_group_size"] == 2


def test_small_groups_are_suppressed():
    t = ms.by_group(Y, P, G, min_size=3).set_index("group")
    assert bool(t.loc["a", "suppressed"]) and np.isnan(t.loc["a", "predictive_ratio"])
    assert not bool(t.loc["b", "suppressed"])


def test_reallocation_by_hand():
    # shares 0.5/0.3/0.2 -> 0.4/0.4/0.2: half of (0.1 + 0.1 + 0) = 0.1
    assert ms.reallocation([50, 30, 20], [40, 40, 20]) == pytest.approx(0.1)
    assert ms.reallocation([5, 3, 2], [50, 30, 20]) == pytest.approx(0.0)


def test_bad_input():
    with pytest.raises(ValueError):
        ms.prediction_measures([1.0], [1.0, 2.0])
