"""Supply ratios (model.analyses.supply) on a hand-made table: allocated and filled capacities over the model's,
the bands and their edges (0.75 -> 75-100 %, 1.0 -> 100-110 %, 1.10 -> 100-110 %), month by month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.analyses.supply import band_counts, band_labels, supply_band, supply_ratios
from model.config import ModelConfig

CFG = ModelConfig()


def test_band_labels_and_edges():
    assert band_labels(CFG.supply_band_edges) == ["under 75 %", "75-100 %", "100-110 %", "over 110 %"]
    r = [0.0, 0.7499, 0.75, 0.99, 1.0, 1.05, 1.10, 1.1000001, 3.0, np.nan]
    assert supply_band(r, CFG.supply_band_edges).tolist() == [
        "under 75 %", "under 75 %", "75-100 %", "75-100 %", "100-110 %", "100-110 %", "100-110 %", "over 110 %",
        "over 110 %", ""]
    # ratios computed from capacities land exactly on the edges
    assert supply_band([75 / 100, 100 / 100, 110 / 100], CFG.supply_band_edges).tolist() == \
        ["75-100 %", "100-110 %", "100-110 %"]
    assert band_labels((0.8, 1.2)) == ["under 80 %", "80-120 %", "over 120 %"]


def _rows():
    # two months, two councils (A: municipalities 101, 102; B: 201); B's second report lacks the vacant figures
    r = []
    for date, a1, a2, b, vac_b in (("2027-01-01", 30.0, 45.0, 110.0, 5.0), ("2027-02-01", 40.0, 60.0, 111.0, np.nan)):
        r += [{"reporting_date": date, "municipality_code": "101", "health_council": "A", "allocated": a1, "vacant": 0.0},
              {"reporting_date": date, "municipality_code": "102", "health_council": "A", "allocated": a2, "vacant": 3.0},
              {"reporting_date": date, "municipality_code": "201", "health_council": "B", "allocated": b, "vacant": vac_b}]
    return pd.DataFrame(r)


MODEL_HC = pd.DataFrame({"health_council": ["A", "B"], "capacities": [100, 100]})
MODEL_MUNI = pd.DataFrame({"municipality_code": ["101", "102", "201"], "name": ["Eet", "To", "Tre"],
                           "health_council": ["A", "A", "B"], "indicative": [40.0, 60.0, 100.0]})


def test_supply_ratios_by_council_and_municipality():
    s = supply_ratios(_rows(), MODEL_HC, CFG, MODEL_MUNI)
    hc = s[s["level"] == "health council"].set_index(["reporting_date", "area"])
    assert hc.at[("2027-01-01", "A"), "allocated"] == 75 and hc.at[("2027-01-01", "A"), "allocated_ratio"] == 0.75
    assert hc.at[("2027-01-01", "A"), "allocated_band"] == "75-100 %"          # exactly 0.75: the band above
    assert hc.at[("2027-01-01", "A"), "filled_ratio"] == pytest.approx(0.72)   # 72 filled
    assert hc.at[("2027-01-01", "A"), "filled_band"] == "under 75 %"
    assert hc.at[("2027-02-01", "A"), "allocated_band"] == "100-110 %"         # exactly 1.0: the band above
    assert hc.at[("2027-01-01", "B"), "allocated_band"] == "100-110 %"         # exactly 1.10: still 100-110 %
    assert hc.at[("2027-02-01", "B"), "allocated_band"] == "over 110 %"        # 1.11
    assert np.isnan(hc.at[("2027-02-01", "B"), "filled_ratio"]) and hc.at[("2027-02-01", "B"), "filled_band"] == ""
    mu = s[s["level"] == "municipality"].set_index(["reporting_date", "area"])
    assert mu.at[("2027-01-01", "Eet"), "allocated_ratio"] == 0.75 and mu.at[("2027-02-01", "To"), "allocated_ratio"] == 1.0
    assert mu.at[("2027-01-01", "To"), "health_council"] == "A"


def test_month_by_month_band_counts():
    c = band_counts(supply_ratios(_rows(), MODEL_HC, CFG, MODEL_MUNI), CFG)
    row = c[(c["reporting_date"] == "2027-02-01") & (c["level"] == "health council") & (c["measure"] == "filled")].iloc[0]
    assert row["no figure"] == 1 and row[["under 75 %", "75-100 %", "100-110 %", "over 110 %"]].sum() == 1
    alloc = c[(c["level"] == "health council") & (c["measure"] == "allocated")].set_index("reporting_date")
    assert alloc.loc["2027-01-01", ["75-100 %", "100-110 %"]].tolist() == [1, 1]
    assert alloc.loc["2027-02-01", ["100-110 %", "over 110 %"]].tolist() == [1, 1]


def test_model_of_the_planning_year_of_each_date():
    model = pd.DataFrame({"planning_year": [2026, 2026, 2027, 2027], "health_council": ["A", "B", "A", "B"],
                          "capacities": [50, 50, 100, 100]})
    rows = _rows().assign(reporting_date=lambda d: d["reporting_date"].replace({"2027-01-01": "2026-12-01"}))
    s = supply_ratios(rows, model, CFG).set_index(["reporting_date", "area"])
    assert s.at[("2026-12-01", "A"), "model_capacities"] == 50 and s.at[("2027-02-01", "A"), "model_capacities"] == 100
