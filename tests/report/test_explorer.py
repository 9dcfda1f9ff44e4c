"""The what-if explorer (model.report.explorer, notebooks/explore.ipynb), driven from kernel code without a browser.

The widgets are moved by setting a control's ``.value`` (what the browser does); the table shown must then be
the one a full :func:`model.analyses.fit.run_model` with that configuration gives, reached by the what-if path
(no refit); a year or variant refits; saving writes a run folder whose manifest records the settings.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from model.analyses import fit as afit
from model.analyses import panel as apanel
from model.errors import ConfigError
from model.report import explorer as rex
from model.report import notebooks as rnb
from model.report.annual import load_run
from model.report.parameters import ParameterError, check_parameters

ROOT = Path(__file__).resolve().parents[2]
WHAT_IF_TABLES = ("capacity_by_municipality", "capacity_by_health_council", "clinic_minimums")


@pytest.fixture(scope="module")
def data(synthetic_data) -> Path:
    return synthetic_data(persons=2_000, years=(2024, 2025))


@pytest.fixture(scope="module")
def year_2025(data):
    return apanel.read_year(data, 2025, planning_year=2026)


@pytest.fixture
def explorer(data) -> rex.Explorer:
    return rex.Explorer(data)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _full_run(yd, ex: rex.Explorer, **changes) -> afit.ModelRun:
    """``run_model`` from scratch with the explorer's variant configuration and ``changes``."""
    return afit.run_model(yd, ex.variant_config(yd.year, ex.variant).replace(**changes), variant=ex.variant)


def _assert_same_tables(a: afit.ModelRun, b: afit.ModelRun) -> None:
    for name in WHAT_IF_TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=False, rtol=1e-12, obj=name)


# ---------------------------------------------------------------------------
# the widgets, moved from kernel code


def test_a_slider_change_updates_the_table_by_the_what_if_path(explorer, year_2025, tmp_path):
    ui = rex.ExplorerWidgets(explorer, tmp_path)
    fits, before, summary = explorer.run.fits, ui.table.value, ui.summary.value
    ui.controls["citizens_per_capacity"].value = 1400
    assert explorer.changes == {"citizens_per_capacity": 1400.0}
    assert "fit" not in explorer.timings and "read_year" not in explorer.timings  # never a refit
    assert explorer.run.fits is fits
    assert ui.table.value != before and ui.summary.value != summary
    full = _full_run(year_2025, explorer, citizens_per_capacity=1400.0)
    pd.testing.assert_frame_equal(explorer.table(), rex.council_table(full))
    assert ui.table.value == explorer.table_html()
    assert explorer.summary() == rex.scenario_summary(full)
    assert ui.map.value[:4] == b"\x89PNG"
    assert "citizens_per_capacity=1400.0" in ui.status.value


def test_check_boxes_set_none_and_every_control_equals_a_full_run(explorer, year_2025, tmp_path):
    ui = rex.ExplorerWidgets(explorer, tmp_path)
    c = ui.controls
    c["no_area_floor"].value = True
    assert explorer.config.km2_per_capacity is None and c["km2_per_capacity"].disabled
    c["no_clinic_cap"].value = False
    c["clinic_cap"].value = 1500
    c["rounding"].value = "nearest"
    c["island_min_patients"].value = 300
    c["clinic_rounding_step"].value = 100
    want = {"km2_per_capacity": None, "clinic_cap": 1500.0, "rounding": "nearest", "island_min_patients": 300,
            "clinic_rounding_step": 100}
    assert explorer.changes == want
    _assert_same_tables(explorer.run, _full_run(year_2025, explorer, **want))
    c["no_area_floor"].value = False
    c["km2_per_capacity"].value = 50
    assert explorer.config.km2_per_capacity == 50.0


def test_what_if_equals_run_model(explorer, year_2025):
    for changes in ({"citizens_per_capacity": 1800.0, "rounding": "nearest"}, {"km2_per_capacity": 20.0},
                    {"clinic_cap": 1200.0, "clinic_rounding_step": 25, "island_min_patients": 0}):
        explorer.reset()
        explorer.set(**changes)
        _assert_same_tables(explorer.run, _full_run(year_2025, explorer, **changes))
        _assert_same_tables(explorer.run, afit.what_if(explorer._fits[(2025, "base")], **changes))


def test_a_variant_or_year_change_refits_and_keeps_the_settings(explorer, data, tmp_path):
    ui = rex.ExplorerWidgets(explorer, tmp_path)
    ui.controls["citizens_per_capacity"].value = 1500
    ui.controls["variant"].value = "no_sex"
    assert "fit" in explorer.timings and "read_year" not in explorer.timings
    assert explorer.variant == "no_sex" and not explorer.config.include_sex
    assert explorer.config.citizens_per_capacity == 1500.0
    yd = apanel.read_year(data, 2025, planning_year=2026)
    _assert_same_tables(explorer.run, _full_run(yd, explorer, citizens_per_capacity=1500.0))
    ui.controls["variant"].value = "base"  # fitted before: no refit
    assert "fit" not in explorer.timings
    ui.controls["year"].value = 2024
    assert "read_year" in explorer.timings and explorer.config.year == 2024 and explorer.config.planning_year == 2025
    assert list(ui.clinic.options) == explorer.clinic_ids()
    _assert_same_tables(explorer.run, _full_run(apanel.read_year(data, 2024, planning_year=2025), explorer,
                                                citizens_per_capacity=1500.0))


def test_fit_fields_and_bad_values_are_refused_and_change_nothing(explorer, tmp_path):
    before = explorer.run
    with pytest.raises(ConfigError, match="include_sex change"):
        explorer.set(include_sex=False)
    with pytest.raises(ConfigError, match="citizens_per_capacity must be > 0"):
        explorer.set(citizens_per_capacity=-1.0)
    with pytest.raises(ConfigError, match="unknown variant"):
        explorer.set(variant="nope")
    with pytest.raises(ConfigError, match="years present"):
        explorer.set(year=1999)
    assert explorer.run is before and explorer.changes == {}
    ui = rex.ExplorerWidgets(explorer, tmp_path)  # in the widgets the error shows in the status line
    ui.controls["rounding"].value = "nearest"
    ui.controls["clinic_rounding_step"].value = 100
    before = explorer.run
    ui._changed("citizens_per_capacity", -5.0)
    assert "ConfigError" in ui.status.value and explorer.run is before
    # a refused change puts the controls back to the scenario shown
    ui.controls["no_area_floor"].value = True
    explorer.set(km2_per_capacity=30.0)  # changed behind the widgets' back, then a refused change
    ui._changed("citizens_per_capacity", 0.0)
    assert ui.controls["no_area_floor"].value is False and ui.controls["km2_per_capacity"].value == 30.0
    assert ui.controls["rounding"].value == "nearest" and explorer.changes["clinic_rounding_step"] == 100


def test_settings_split_into_fit_and_what_if(data):
    ex = rex.Explorer(data, year=2025, settings="citizens_per_capacity=1500; include_sex=false")
    assert ex.changes == {"citizens_per_capacity": 1500.0} and ex.fit_settings == {"include_sex": False}
    assert not ex.config.include_sex and ex.config.citizens_per_capacity == 1500.0


# ---------------------------------------------------------------------------
# what is shown


def test_summary_against_the_goal(explorer):
    s = explorer.summary()
    hc = explorer.run.tables["capacity_by_health_council"]
    assert s["capacities"] == int(hc["capacities"].sum()) and s["goal"] == 5000 and s["councils"] == 17
    assert s["capacities_minus_goal"] == s["capacities"] - 5000
    assert s["settings"]["citizens_per_capacity"] == 1600.0
    text = rex.summary_html(s)
    assert "at least <b>5,000</b> GPs" in text and f"<b>{s['capacities']:,}</b>" in text
    t = explorer.table()
    assert list(t.columns) == list(rex.COUNCIL_COLUMNS) and len(t) == 17
    assert set(t["May allocate new capacity"]) <= {"yes", "no"}
    assert ((t["Headroom"] > 0) == (t["May allocate new capacity"] == "yes")).all()


def test_no_count_under_five_is_shown(explorer):
    small = copy.copy(explorer)
    tables = dict(explorer.run.tables)
    bm = tables["capacity_by_municipality"].copy()
    first = bm["health_council"] == bm["health_council"].iloc[0]
    bm.loc[first, "citizens"] = 0
    bm.loc[bm.index[first][0], "citizens"] = 3
    tables["capacity_by_municipality"] = bm
    small.run = dataclasses.replace(explorer.run, tables=tables)
    html = small.table_html()
    council = bm["health_council"].iloc[0]
    # the council's citizens (the column after its name) show as <5, never as 3 (other columns may hold a 3)
    assert "&lt;5" in html and not re.search(rf"<td>{re.escape(council)}</td>\s*<td class=\"num\">3</td>", html)
    assert "x: hidden" in html  # the complement: the country total minus the others would give it


def test_clinic_facts_hide_numbers_resting_on_few_patients(explorer):
    own = explorer.run.tables["clinic_minimums"]
    cid = own.loc[(own["weight_source"] == "own_patients") & (own["listed_patients"] >= 5), "clinic_id"].iloc[0]
    facts = explorer.clinic(cid)
    assert not facts["hidden"] and facts["minimum_patients"] == int(own.set_index("clinic_id").loc[cid, "minimum_patients"])
    tables = dict(explorer.run.tables)
    ct = own.copy()
    ct.loc[ct["clinic_id"] == cid, "listed_patients"] = 3
    tables["clinic_minimums"] = ct
    few = rex.clinic_facts(dataclasses.replace(explorer.run, tables=tables), cid)
    assert few["hidden"] and few["listed_patients"] == "<5" and few["minimum_patients"] is None
    assert few["mean_weight"] is None
    assert "not shown" in rex.clinic_html(few, 1600, 50)
    with pytest.raises(ConfigError, match="not in this run"):
        explorer.clinic("no-such-clinic")


def test_clinic_picker_and_sheet(explorer, tmp_path):
    ui = rex.ExplorerWidgets(explorer, tmp_path / "scenarios")
    ct = explorer.run.tables["clinic_minimums"]
    cid = ct.loc[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= 5), "clinic_id"].iloc[0]
    ui.clinic.value = cid
    assert f"<b>{cid}</b>" in ui.clinic_info.value
    minimum = f"{explorer.clinic(cid)['minimum_patients']:,}"
    assert minimum in ui.clinic_info.value
    ui.controls["citizens_per_capacity"].value = 2000  # the clinic's number follows the setting
    assert f"{explorer.clinic(cid)['minimum_patients']:,}" in ui.clinic_info.value
    path = ui.render_sheet()
    assert path == tmp_path / "scenarios" / "current" / "clinic_sheets" / f"{cid}.en.html" and path.is_file()
    assert "clinic_sheets/" + f"{cid}.en.html'" in ui.sheet_link.value and "<iframe" in ui.sheet_link.value
    assert load_run(path.parents[1])["config"].citizens_per_capacity == 2000.0


# ---------------------------------------------------------------------------
# saving


def test_save_writes_a_run_folder_with_the_settings(explorer, tmp_path):
    ui = rex.ExplorerWidgets(explorer, tmp_path / "scenarios")
    ui.controls["citizens_per_capacity"].value = 1450
    ui.controls["no_area_floor"].value = True
    ui.name.value = "fewer per GP"
    ui.save_button.click()
    out = tmp_path / "scenarios" / "fewerperGP"
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["config"]["citizens_per_capacity"] == 1450.0 and m["config"]["km2_per_capacity"] is None
    assert m["explorer"]["changes"] == {"citizens_per_capacity": 1450.0, "km2_per_capacity": None}
    assert m["explorer"]["variant"] == "base" and m["explorer"]["year"] == 2025
    assert m["explorer"]["summary"]["capacities"] == explorer.summary()["capacities"]
    assert set(m["inputs"]) == {"persons.parquet", "clinics.csv", "municipalities.csv", "population_projection.csv"}
    assert "capacity_by_health_council.csv" in m["outputs"] and "Saved to" in ui.status.value
    t = load_run(out)
    assert t["config"] == explorer.config
    assert (t["capacity_by_health_council"]["capacities"].to_numpy() == explorer.table()["Capacities"].to_numpy()).all()


# ---------------------------------------------------------------------------
# the notebook


EXPLORE_PARAMS = "year data_dir scenario_dir variant settings"


def test_the_notebook_is_thin_and_names_its_parameters():
    import papermill as pm

    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == rnb.KERNEL_NAME
    assert set(pm.inspect_notebook(str(ROOT / "notebooks" / "explore.ipynb"))) == set(EXPLORE_PARAMS.split())
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert f'check_parameters(globals(), "{EXPLORE_PARAMS}")' in code and "require_data(data_dir)" in code
    assert "ExplorerWidgets(explorer, scenario_dir)" in code


def test_an_unknown_parameter_stops_the_notebook():
    params = 'year = 2025\ndata_dir = "../data/default"\nscenario_dir = "../runs/explore"\nvariant = "base"\nsettings = ""'
    with pytest.raises(ParameterError, match=r"'citizen_per_capacity'"):
        check_parameters({"In": ["", params, "# Parameters\ncitizen_per_capacity = 1500\n", "check"]}, EXPLORE_PARAMS)
    check_parameters({"In": ["", params, "# Parameters\nyear = 2024\n", "check"]}, EXPLORE_PARAMS)


@pytest.mark.slow
def test_the_notebook_runs_with_data_and_shows_the_widgets(data, tmp_path):
    out = rnb.run_notebook(ROOT / "notebooks" / "explore.ipynb", tmp_path / "explore.out.ipynb",
                           {"data_dir": str(data), "scenario_dir": str(tmp_path / "runs")}, cwd=tmp_path, timeout=600)
    nb = nbformat.read(out, as_version=4)
    mimes = {k for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) for k in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes and "image/png" in mimes
    assert not (tmp_path / "runs").exists()  # nothing is written until a scenario is saved
