"""The evaluation's prose and its tables agree: every number of the first screen is formatted from the table cell
it describes (model.report.evaluation.prose_numbers, model.analyses.evaluation.table_number), the first screen
says which data the evaluation ran on (folder name, panel, seed; never a path), the life-expectancy conclusion
cites the R² its table shows and says what held, and the stress test and the supply bands are in the run."""

from __future__ import annotations

import re

import pytest

from model.analyses import evaluation as ev
from model.errors import InputError
from model.report import evaluation as rev
from model.report import figures


@pytest.fixture(scope="module")
def t(history_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("evaluation_prose") / "run"
    ev.write_evaluation(ev.run_evaluation(history_data, 2026, workers=1), run)
    return ev.load_evaluation(run)


def test_table_number_takes_exactly_one_cell(t):
    pm = t["prediction_measures"]
    assert ev.table_number(pm, "persons", year=2026) == f"{int(pm.loc[pm['year'] == 2026, 'persons'].iloc[0]):,}"
    with pytest.raises(InputError, match="exactly one cell"):
        ev.table_number(pm, "persons")


def test_every_number_of_the_first_screen_comes_from_its_table(t, history_data):
    text = rev.describe_facts(t)
    n = rev.prose_numbers(t)
    m = t["manifest"]
    # each number the prose cites, formatted again from its own cell
    pm, de = t["prediction_measures"], t["deep_end"]
    assert n["persons_fit_year"] == f"{int(pm.loc[pm['year'] == 2026, 'persons'].iloc[0]):,}"
    assert n["r_squared_fit_year"] == f"{pm.loc[pm['year'] == 2026, 'r_squared'].iloc[0]:.3f}"
    deep = de[de["clinics"] == "Deep End"].set_index("year")["clinic_count"]
    assert n["deep_end_fit_year"] == f"{int(deep[2026]):,}" and n["deep_end_latest"] == f"{int(deep[2027]):,}"
    assert n["reports_read"] == f"{len(t['report_index']):,}"
    for v in n.values():
        assert v in text, v
    # and no other number: every number in the text is one of those, a year, or the data folder's name
    allowed = set(n.values()) | {str(y) for y in m["facts"]["years_in_data"]} | {str(m["fit_year"])}
    allowed |= set(re.findall(r"[\d,.]+", history_data.name))
    found = [f.rstrip(",.") for f in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)]
    assert found and set(found) <= allowed | {y for y in found if re.fullmatch(r"20\d\d", y)}, set(found) - allowed


def test_the_first_screen_says_which_data(t, history_data):
    s = rev.data_sentence(t)
    assert f"`{history_data.name}`" in s and "synthetic" in s and "seed" in s
    assert str(history_data) not in s and "/" not in s  # the folder's name, never its path
    assert "2026-2027" in s and "annual report" in s


def test_the_life_expectancy_conclusion_cites_its_table_and_says_what_held(t):
    c = t["conclusions"]
    assert c["claim"].fillna("").ne("").all() or (c.loc[c["claim"].fillna("") == "", "verdict"] == "not assessable").all()
    row = c[c["topic"] == "life expectancy"].iloc[0]
    lf = t["life_expectancy_fit"]
    mun = lf[(lf["grouping"] == "municipality") & (lf["year"] == lf["year"].max())].set_index("life_expectancy")
    r_b, r_65 = mun.at["at birth", "r_squared"], mun.at["remaining at 65", "r_squared"]
    assert f"{r_65:.3f} at 65 against {r_b:.3f} at birth" in row["result"]
    assert f"gain {r_65 - r_b:+.3f}" in row["result"]
    assert "keep it" in row["claim"]
    shown = rev.conclusions_table(t)
    assert "Claim tested (the verdict is about it)" in shown.columns


def test_stress_test_and_supply_bands_are_in_the_evaluation(t):
    h = rev.stress_table(t)
    assert set(h["Model"]) == {"base", "somatic_each_count"} and len(h) == 12
    s = rev.supply_bands_table(t, "health council", "allocated")
    assert list(s.columns[:5]) == ["Reporting date", "under 75 %", "75-100 %", "100-110 %", "over 110 %"]
    assert (s.iloc[:, 1:5].sum(axis=1) == 17).all()  # every health council in one band each month
    assert len(s) == t["supply_areas"]["reporting_date"].nunique()


def test_the_calibration_figure_keeps_every_year_visible(t):
    fig = figures.figure_calibration(t)
    ax, ax2 = fig.axes
    years = sorted(t["calibration"]["year"].unique())
    lines = [ln for ln in ax2.lines if ln.get_label() in {str(int(y)) for y in years}]
    assert len(lines) == len(years)
    xs = [tuple(ln.get_xdata()) for ln in lines]
    assert len(set(xs)) == len(xs)  # shifted sideways: no year's line lies under another's
    assert len({ln.get_marker() for ln in lines}) == len(years)
