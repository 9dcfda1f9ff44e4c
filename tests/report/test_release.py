"""Display-ready sections for the annual report (model.report.release): the publication gate of a run folder and
the supply bands month by month."""

from __future__ import annotations

import pandas as pd
import pytest

from model.analyses.fit import run_model, write_run
from model.analyses.panel import read_year
from model.analyses.supply import supply_ratios
from model.config import ModelConfig
from model.report.release import release_gate_section, stress_headline_table, supply_table


@pytest.fixture(scope="module")
def runs(panel_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    return {y: write_run(run_model(read_year(panel_dir, y), ModelConfig(year=y, planning_year=y + 1)), root / str(y))
            for y in (2024, 2025)}


def test_release_gate_section(runs):
    md, table = release_gate_section(runs[2025], runs[2024])
    assert md.startswith("Publication gate of the 2025 fit against 2024: **May be released**")
    assert list(table.columns) == ["Check", "Item", "Status", "Blocking", "Message"]
    refit = table[table["Check"] == "refit_previous"]
    assert refit["Message"].str.startswith("not run").all()  # no data folder given: said, not passed


def test_a_previous_year_fitted_by_the_render_is_not_refitted(runs, panel_dir, monkeypatch):
    """The report's render fitted the previous year itself (``previous_computed``): that fit is its own refit."""
    from model.analyses import release_gate

    monkeypatch.setattr(release_gate, "refit_previous", lambda *a, **k: pytest.fail("refitted a second time"))
    md, table = release_gate_section(runs[2025], runs[2024], data_dir=panel_dir, previous_fitted_now=True)
    refit = table[table["Check"] == "refit_previous"]
    assert len(refit) == 1 and refit["Status"].tolist() == ["pass"]
    assert refit["Message"].iloc[0] == "the 2024 fit was computed for this report by this code from the same data " \
                                       "folder: it is its own refit"


def test_supply_table_month_by_month():
    rows = pd.DataFrame({"reporting_date": ["2027-01-01", "2027-01-01", "2027-02-01", "2027-02-01"],
                         "municipality_code": ["101", "201"] * 2, "health_council": ["A", "B"] * 2,
                         "allocated": [75.0, 110.0, 100.0, 111.0], "vacant": [0.0, 0.0, 0.0, 0.0]})
    model = pd.DataFrame({"health_council": ["A", "B"], "capacities": [100, 100]})
    t = supply_table(supply_ratios(rows, model, ModelConfig()))
    assert t.to_dict("list") == {"Reporting date": ["2027-01-01", "2027-02-01"], "under 75 %": [0, 0],
                                 "75-100 %": [1, 0], "100-110 %": [1, 1], "over 110 %": [0, 1]}


def test_stress_headline_table():
    h = pd.DataFrame({"model": ["base"], "mode": ["targeted"], "share": [0.1], "clinics": [3],
                      "mean_minimum_change_pct": [-5.0], "median_minimum_change_pct": [-4.0],
                      "share_minimum_falls": [1.0], "mean_council_exact_change": [0.1],
                      "patients_without_gain_share": [0.25], "country_capacities_change_all_clinics": [12]})
    t = stress_headline_table(h)
    r = t.iloc[0]
    assert r["Share given one more diagnosis"] == "10 %" and r["Clinics whose minimum falls"] == "100 %"
    assert r["Choice"] == "targeted"
