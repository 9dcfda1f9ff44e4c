"""The 2028 evaluation (model.analyses.evaluation) and the synthetic panel after the fit year.

* the prediction measures of the evaluation against values computed by hand
  on a tiny example (six citizens, coefficients set by hand);
* the pieces: years, outlier flags, the goal, deciles, conclusions;
* the synthetic "truth" the evaluation should find: the 2027 fee structure,
  the clinics that record more sickness than there is;
* the chain on small data: ``python -m model evaluate`` renders the notebook
  to offline HTML with a manifest and no count below 5, and a bad capacity
  report stops it before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.analyses import evaluation as ev
from model.analyses import evaluation_capacity as evc
from model.analyses import evaluation_prediction as evp
from model.analyses import panel as apanel
from model.config import ModelConfig
from model.core import cells
from model.core import features as ft
from model.inputs import reference, synthetic
from model.inputs.tables import Inputs, read_municipalities

YEARS = (2026, 2027)


# --------------------------------------------------------------------------- a tiny example, by hand

CFG = ModelConfig(year=2025, planning_year=2026, age_bands=(0, 65), reference_age_band=0, min_cell_size=1)

#: Six citizens of the later year: (id, municipality, clinic, sex, age, use).  The coefficients predict
#: 1,000 for men under 65, 1,500 for women under 65 and 2,500 for men of 65+.
LATER = [("A", "101", "000001", 1, 30, 800.0), ("B", "101", "000001", 1, 30, 1200.0),
         ("C", "101", "000001", 2, 30, 1500.0), ("D", "147", "000002", 2, 30, 2100.0),
         ("E", "147", "000002", 1, 70, 2000.0), ("F", "147", "000002", 1, 70, 3000.0)]


def _persons(year: int, rows) -> pd.DataFrame:
    out = []
    for pid, muni, clinic, sex, age, y in rows:
        out.append({"person_id": pid, "year": year, "municipality_code": muni, "sex": sex, "age": age,
                    "civil_status": "U", "origin_group": "danish", "insurance_group": 1,
                    "labour_status": "in_work_or_education" if age <= 67 else "not_applicable",
                    "somatic_diseases": 0, "psychiatric": False, "psychiatric_extended": False,
                    "cancer_5y": False, "cancer_10y": False, "clinic_id": clinic,
                    "gross_fee": y, "chronic_fee": 0.0, "local_services_fee": 0.0, "contact_fee": 0.5 * y})
    return pd.DataFrame(out)


def _tiny_panel() -> apanel.Panel:
    munis = read_municipalities(reference.data_path("municipalities.csv"))
    clinics = pd.DataFrame({
        "clinic_id": ["000001", "000002"], "name": ["Læge A", "Læge B"], "municipality_code": ["101", "147"],
        "postcode": ["1050", "1820"], "practice_form": ["solo", "solo"], "capacities": [1.0, 1.0],
        "vacant_capacities": [0.0, 0.0], "island_doctor": [False, False], "opened": ["2000-01-01"] * 2,
        "closed": ["", ""], "split_from": ["", ""]})
    proj = pd.DataFrame([(c, y, 1000) for c in munis["municipality_code"] for y in (2026, 2027)],
                        columns=["municipality_code", "year", "population_end_of_year"])
    fit_rows = [(p, m, c, s, a, y * 0.9) for p, m, c, s, a, y in LATER]
    data = {}
    for year, rows in ((2025, fit_rows), (2026, LATER)):
        inputs = Inputs(persons=_persons(year, rows), clinics=clinics, municipalities=munis, projection=proj)
        data[year] = cells.year_from_inputs(inputs, year)
    return apanel.Panel.from_years(data, price_year=2025)


def _params() -> pd.Series:
    p = pd.Series(0.0, index=ft.term_names(CFG))
    p["Intercept"], p["female_0-64"], p["male_65+"] = 1000.0, 500.0, 1500.0
    return p


@pytest.fixture(scope="module")
def tiny() -> dict:
    return evp.prediction_analysis(_tiny_panel(), CFG, _params(), 2025, [2026])


def test_prediction_measures_by_hand(tiny):
    m = tiny["prediction_measures"].set_index("year").loc[2026]
    # predictions 1000, 1000, 1500, 1500, 2500, 2500 (sum 10,000) against use summing to 10,600:
    assert m["level_ratio"] == pytest.approx(10_000 / 10_600)
    # scaled to the year's use: 1060, 1060, 1590, 1590, 2650, 2650; errors -260, 140, -90, 510, -650, 350
    sse = 260**2 + 140**2 + 90**2 + 510**2 + 650**2 + 350**2  # 900,400
    ybar = 10_600 / 6
    sst = sum((y - ybar) ** 2 for *_, y in LATER)  # 3,013,333.3
    assert sse == 900_400 and sst == pytest.approx(3_013_333.333, abs=0.01)
    assert m["r_squared"] == pytest.approx(1 - 900_400 / 3_013_333.333)
    # CPM: sum |e| = 2,000; sum |y - ybar| = 3,600
    assert m["cpm"] == pytest.approx(1 - 2_000 / 3_600)
    assert m["mean_absolute_error"] == pytest.approx(2_000 / 6)
    assert m["persons"] == 6 and m["kind"] == "out of sample"


def test_predictive_ratios_by_hand(tiny):
    r = tiny["predictive_ratios"]
    r = r[(r["year"] == 2026) & (r["prediction"] == "use")].set_index(["grouping", "group"])
    # men: use 800 + 1200 + 2000 + 3000 = 7,000, predicted 1060 + 1060 + 2650 + 2650 = 7,420
    assert r.loc[("sex", "men"), "predictive_ratio"] == pytest.approx(7_420 / 7_000)
    assert r.loc[("sex", "men"), "compensation_per_person"] == pytest.approx(420 / 4)
    # women: use 3,600, predicted 3,180 (a ratio of sums, not a mean of personal ratios)
    assert r.loc[("sex", "women"), "predictive_ratio"] == pytest.approx(3_180 / 3_600)
    assert r.loc[("sex", "women"), "compensation_per_person"] == pytest.approx(-420 / 2)
    assert r.loc[("age band", "0-64"), "predictive_ratio"] == pytest.approx(5_300 / 5_600)
    assert r.loc[("age band", "65+"), "predictive_ratio"] == pytest.approx(5_300 / 5_000)
    assert r.loc[("age and sex", "men 65+"), "persons"] == 2
    # municipalities: København (A, B, C) 3,710 / 3,500; Frederiksberg (D, E, F) 6,890 / 7,100
    assert r.loc[("municipality", "København"), "predictive_ratio"] == pytest.approx(3_710 / 3_500)
    assert r.loc[("municipality", "Frederiksberg"), "predictive_ratio"] == pytest.approx(6_890 / 7_100)
    assert bool(r.loc[("municipality", "København"), "off_5pct"]) and not bool(r.loc[("municipality", "København"), "off_10pct"])


def test_group_r_squared_by_hand(tiny):
    g = tiny["group_r_squared"]
    g = g[(g["year"] == 2026) & (g["prediction"] == "use")].set_index("grouping")
    # group means of y 1166.67 / 2366.67 and of y-hat 1236.67 / 2296.67, overall mean 1766.67, n = 3 each:
    # 1 - (3 x 70² + 3 x 70²) / (3 x 600² + 3 x 600²)
    assert g.loc["municipality", "r_squared"] == pytest.approx(1 - 29_400 / 2_160_000)
    assert g.loc["municipality", "groups"] == 2 and g.loc["municipality", "min_group_size"] == 3
    assert g.loc["municipality", "share_off_5pct"] == 0.5 and g.loc["municipality", "share_off_10pct"] == 0.0
    assert g.loc["clinic", "r_squared"] == pytest.approx(1 - 29_400 / 2_160_000)  # the same persons per clinic


def test_calibration_by_hand(tiny):
    c = tiny["calibration"]
    c = c[c["year"] == 2026]
    assert c["persons"].sum() == 6
    assert (c["observed"].sum(), c["predicted"].sum()) == (pytest.approx(10_600), pytest.approx(10_600))
    top = c.loc[c["decile"].idxmax()]
    assert top["mean_predicted"] == pytest.approx(2_650) and top["mean_observed"] == pytest.approx(2_500)


def test_small_groups_are_blanked():
    res = evp.prediction_analysis(_tiny_panel(), CFG.replace(min_cell_size=5), _params(), 2025, [2026])
    r = res["predictive_ratios"]
    r = r[(r["year"] == 2026) & (r["grouping"] == "sex")].set_index("group")
    assert np.isnan(r.loc["women", "predictive_ratio"]) and bool(r.loc["women", "suppressed"])
    assert not np.isnan(r.loc["men", "predictive_ratio"]) or r.loc["men", "persons"] < 5
    g = res["group_r_squared"]
    g = g[(g["year"] == 2026) & g["grouping"].isin(["municipality", "clinic"])]
    assert (g["groups_left_out"] == 2).all() and g["r_squared"].isna().all()  # 3 < 5 persons in each


# --------------------------------------------------------------------------- the pieces


def test_years_and_parameters():
    assert ev.evaluation_years([2024, 2025, 2026, 2027], 2025) == [2026, 2027]
    assert ev.evaluation_years([2024, 2025, 2026, 2027], 2025, [2027]) == [2027]
    with pytest.raises(ValueError, match="not in the data"):
        ev.evaluation_years([2024, 2025], 2023)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        ev.evaluation_years([2024, 2025], 2025)
    with pytest.raises(ValueError, match="not after the fit year"):
        ev.evaluation_years([2024, 2025, 2026], 2025, [2024, 2026])
    with pytest.raises(ValueError, match="not in the data"):
        ev.evaluation_years([2024, 2025], 2024, [2026])
    assert ev.check_evaluation_parameters(2025, "2026-2027") == (2025, [2026, 2027])
    with pytest.raises(ValueError):
        ev.check_evaluation_parameters("2025")
    with pytest.raises(ValueError, match="out of sample"):
        ev.check_evaluation_parameters(2025, [2025])


def test_flag_outliers():
    rng = np.random.default_rng(1)
    e = rng.uniform(200, 2000, 300)
    o = rng.poisson(e).astype(float)
    o[7] = e[7] + 12 * np.sqrt(e[7])   # far above: flagged
    o[8] = e[8] - 12 * np.sqrt(e[8])   # far below: not flagged (only upward)
    e = np.append(e, 5.0)
    o = np.append(o, 30.0)             # tiny clinic: not judged
    f = evp.flag_outliers(o, e, z=3.5, min_expected=20)
    assert bool(f.loc[7, "flagged"]) and not bool(f.loc[8, "flagged"])
    assert np.isnan(f.loc[300, "z_robust"]) and not bool(f.loc[300, "flagged"])
    assert f["flagged"].sum() <= 3  # ordinary Poisson variation is not flagged


def test_goal_progress_by_hand():
    dates = ["2027-01-01", "2028-01-01", "2029-01-01"]
    nat = pd.DataFrame({"reporting_date": dates, "allocated": [4000.0, 4400.0, 4840.0],
                        "vacant": [0.0, 0.0, 0.0], "filled": [4000.0, 4400.0, 4840.0]})
    row, path = evc.goal_progress(nat, 5000, dt.date(2035, 1, 1))
    r = row.iloc[0]
    assert r["observed_growth_per_year"] == pytest.approx(0.10, abs=2e-3)  # 10 % a year (leap days aside)
    years_left = (pd.Timestamp("2035-01-01") - pd.Timestamp("2029-01-01")).days / 365.25
    assert r["needed_growth_per_year"] == pytest.approx((5000 / 4840) ** (1 / years_left) - 1)
    assert bool(r["on_track"])
    assert path["goal_path"].iloc[0] == 4000 and path["goal_path"].iloc[-1] < 5000


def test_weighted_deciles():
    d = evp._weighted_deciles(np.arange(20.0)[::-1], np.ones(20, dtype=np.int64))
    assert list(np.bincount(d)) == [2] * 10 and d[0] == 9 and d[-1] == 0


def test_conclusions_verdicts(tiny):
    c = ev.conclusions(tiny, {"fit_year": 2025})
    assert set(c["verdict"]) <= {"held", "did not hold", "not assessable"}
    assert (c.loc[c["verdict"] == "did not hold", "parameter_to_change"] != "").all()
    assert "Did the weights survive the new fee structure of 2027?" in set(c["question"])


# --------------------------------------------------------------------------- the synthetic truth after the fit year


@pytest.fixture(scope="module")
def later(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("later")
    synthetic.generate(out, persons=30_000, years=(2026, 2027), services_years=[2027], capacity_history=False)
    p = pd.read_parquet(out / "persons.parquet")
    c = pd.read_csv(out / "clinics.csv", dtype=str, keep_default_na=False)
    m = json.loads((out / "synthetic_manifest.json").read_text(encoding="utf-8"))
    return {"dir": out, "persons": p, "clinics": c, "manifest": m}


def test_fee_structure_2027(later):
    p, c, m = later["persons"], later["clinics"], later["manifest"]
    truth = m["evaluation_truth"]
    assert truth["fee_structure"]["from_year"] == 2027 and not truth["capacity_history"]
    form = p["clinic_id"].astype(str).map(dict(zip(c["clinic_id"], c["practice_form"])))
    up = p["clinic_id"].astype(str).isin(truth["upcoding"]["clinics"])
    ok = ~form.isin(["regional", "tender"]) & ~up
    y = p["gross_fee"] - p["local_services_fee"] + p["chronic_fee"]
    fi = dict(zip(*pd.read_csv(later["dir"] / "fee_index.csv").to_numpy().T))
    idx = p["year"].map(fi)
    new = synthetic.true_expected_use(p, idx)                 # each year's own structure
    old = synthetic.true_expected_use(p, idx, year=2026)      # the structure before 2027
    y27, s27 = y[ok & (p["year"] == 2027)], ok & (p["year"] == 2027)
    assert abs(y27.sum() / new[s27.to_numpy()].sum() - 1) < 0.03     # the new truth holds in 2027
    heavy = (s27 & (p["somatic_diseases"] >= 2)).to_numpy()
    young = (s27 & (p["sex"] == 1) & p["age"].between(25, 34) & (p["somatic_diseases"] == 0) & ~p["psychiatric"]
             & (p["labour_status"].astype(str) == "in_work_or_education")).to_numpy()
    assert new[heavy].sum() / old[heavy].sum() < 0.9          # the old price list over-predicts the chronically ill
    assert abs(y[heavy].sum() / new[heavy].sum() - 1) < 0.06  # and the data follow the new truth (a noisy sample)
    assert y[young].sum() / old[young].sum() > 1.12           # and under-predicts young healthy men (truth: +24 %)
    s26 = (ok & (p["year"] == 2026)).to_numpy()
    assert abs(y[s26].sum() / old[s26].sum() - 1) < 0.03      # 2026 is under the old structure
    nat = (new[s27.to_numpy()].sum() / old[s27.to_numpy()].sum())
    assert abs(nat - 1) < 0.02                                # roughly budget neutral
    coefs = synthetic.true_coefficients(2027, YEARS)
    assert coefs["Intercept"] == pytest.approx(synthetic.TRUE_COEFFICIENTS["Intercept"] * 1.24)
    assert synthetic.true_coefficients(2026, YEARS)["somatic_2"] == pytest.approx(
        synthetic.TRUE_COEFFICIENTS["somatic_2"] * fi[2026] / 100)


def test_services_2027_consultation_fees(later):
    s = pd.read_parquet(later["dir"] / "services.parquet")
    p = later["persons"]
    assert set(s["year"]) == {2027}
    fi = dict(zip(*pd.read_csv(later["dir"] / "fee_index.csv").to_numpy().T))
    unit = round(165.00 * synthetic.CONSULTATION_FEE_MULTIPLIER_2027 * fi[2027]) / 100  # øre -> DKK
    c = s[s["service_code"].astype(str) == "0101"]
    assert np.allclose(c["fee"], c["count"] * unit)
    tot = s.groupby("person_id")["fee"].sum()
    last = p[p["year"] == 2027].set_index("person_id")
    assert np.allclose(tot.reindex(last.index, fill_value=0), last["gross_fee"], atol=1e-6)


def test_sickness_on_paper(later):
    p, m = later["persons"], later["manifest"]
    up_ids = set(m["evaluation_truth"]["upcoding"]["clinics"])
    assert 0 < len(up_ids) < 0.05 * len(later["clinics"])
    a = p[p["year"] == 2026].set_index("person_id")
    b = p[p["year"] == 2027].set_index("person_id")
    both = a.index.intersection(b.index)
    A, B = a.loc[both], b.loc[both]
    assert (B["somatic_diseases"].to_numpy() >= A["somatic_diseases"].to_numpy()).all()  # never falls
    stay = ((A["clinic_id"].astype(str).to_numpy() == B["clinic_id"].astype(str).to_numpy())
            & (A["somatic_diseases"] >= 1).to_numpy())
    at_up = B["clinic_id"].astype(str).isin(up_ids).to_numpy()
    rose = (B["somatic_diseases"].to_numpy() > A["somatic_diseases"].to_numpy())
    assert rose[stay & at_up].mean() > max(2 * rose[stay & ~at_up].mean(), rose[stay & ~at_up].mean() + 0.05)


# --------------------------------------------------------------------------- the chain on small data


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, history_data) -> Path:
    from model import cli

    data = history_data
    out = tmp_path_factory.mktemp("evaluation") / "report"
    rc = cli.main(["evaluate", "--data", str(data), "--fit-year", "2026", "--out", str(out), "--timeout", "600"])
    assert rc == 0
    return out


@pytest.mark.slow
def test_render_writes_html_manifest_and_run(rendered):
    from model.report.html import outside_requests

    html = (rendered / "evaluation_2028.html").read_text(encoding="utf-8")
    assert outside_requests(html) == []
    assert "<h1" in html and "Conclusions" in html and "Deep End" in html
    body = html[html.index("<body"):]
    assert "jp-InputPrompt" not in body and "jp-InputArea-editor" not in body and 'class="highlight' not in body
    for snippet in ("import ", "show_table(", "ModelConfig().replace", "ev.notebook_setup"):
        assert snippet not in body, snippet  # no code
    assert "data:image/png;base64" in html                   # figures embedded
    m = json.loads((rendered / "manifest.json").read_text(encoding="utf-8"))
    assert m["command"] == "evaluate" and m["fit_year"] == 2026 and m["evaluation_years"] == [2027]
    assert set(m["outputs"]) >= {"evaluation_2028.html", "run/manifest.json", "notebooks/evaluation_2028.ipynb"}
    assert any(k.startswith("capacity_reports/") for k in m["inputs"]) and "persons.parquet" in m["inputs"]
    for name in ev.TABLES:
        assert (rendered / "run" / f"{name}.csv").exists(), name
    t = ev.load_evaluation(rendered / "run")
    assert set(t["conclusions"]["verdict"]) <= {"held", "did not hold", "not assessable"}
    assert t["manifest"]["facts"]["reports_read"] == len(t["report_index"]) > 50
    assert len(t["capacity_latest"]) == 17


@pytest.mark.slow
def test_render_shows_no_count_below_5(rendered):
    p = _Tables()
    p.feed((rendered / "evaluation_2028.html").read_text(encoding="utf-8"))
    checked = 0
    for tab in p.tables:
        if not tab:
            continue
        head = tab[0]
        for j, h in enumerate(head):
            if (not re.search(r"\b(persons|patients|citizens)\b", h, re.I)
                    or re.search(r"\b(weighted|per|mean|minimum|median|smallest)\b", h, re.I)):
                continue
            for row in tab[1:]:
                v = row[j] if j < len(row) else ""
                if v in ("", "<5"):
                    continue
                n = float(v.replace(",", ""))
                assert n == 0 or n >= 5, (h, v)
                checked += 1
    assert checked > 20


@pytest.mark.slow
def test_a_bad_report_stops_the_evaluation(history_data, tmp_path, capsys):
    from model import cli

    data = history_data
    d = tmp_path / "data"
    d.mkdir()
    for p in data.iterdir():
        if p.name != "capacity_reports" and not p.name.startswith("."):
            (d / p.name).symlink_to(p)
    rep = d / "capacity_reports"
    rep.mkdir()
    src = data / "capacity_reports"
    m = next(x for x in json.loads((src / "with_mistakes" / "mistakes.json").read_text(encoding="utf-8"))["mistakes"]
             if x["kind"] == "extra_column")
    for n in ("sjaelland_2026-10-01.xlsx", "syddanmark_2026-10-01.xlsx"):
        shutil.copy(src / n, rep / n)
    shutil.copy(src / "with_mistakes" / m["file"], rep / m["file"])
    out = tmp_path / "report"
    rc = cli.main(["evaluate", "--data", str(d), "--fit-year", "2026", "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert m["file"] in err and "sheet 'Bilag 1'" in err and "row 1" in err and "[extra_column]" in err


@pytest.mark.slow
def test_history_generation_is_deterministic(history_data, tmp_path):
    import hashlib

    data = history_data
    again = tmp_path / "again"
    synthetic.generate(again, **json.loads((data / ".complete").read_text()))  # the arguments it was made with

    def tree(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".complete"}

    assert tree(data) == tree(again)
