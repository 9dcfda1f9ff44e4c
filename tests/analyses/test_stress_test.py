"""The coding stress test (model.analyses.stress_test, ``python -m model stress-test``): a tiny clinic worked out by
hand, the vectorised pass against the whole model chain, the "one disease counts as none" rule, and the verb."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from model.analyses import stress_test as st
from model.cli import main
from model.config import ModelConfig
from model.core import cells
from model.core import features as ft
from model.inputs.tables import Inputs

# --- the tiny data set -----------------------------------------------------------------------------------------
# One municipality (one health council), two clinics of four men aged 30 each.  Coefficients set by hand:
# Intercept 1,000, somatic_2 500, somatic_3plus 1,200, every other term 0; no life-expectancy correction, no area
# floor.  Clinic 000001: somatic counts 0, 1, 1, 2 -> predicted use 1,000, 1,000, 1,000, 1,500; clinic 000002: all
# 0 -> 1,000 each.  National mean predicted use 8,500 / 8 = 1,062.5 (held fixed).  One more diagnosis gains
# 0 (0 -> 1: one disease counts as none), 500 (1 -> 2) and 700 (2 -> 3: 1,200 - 500) DKK.
CFG = ModelConfig(year=2025, planning_year=2026, age_bands=(0, 65), reference_age_band=0,
                  life_expectancy_correction=False, km2_per_capacity=None, stress_shares=(0.05, 0.25, 0.5))
MEAN = 8500 / 8


def tiny_inputs() -> Inputs:
    base = dict(year=2025, municipality_code="901", sex=1, age=30, insurance_group=1, civil_status="U",
                origin_group="danish", labour_status="in_work_or_education", psychiatric=False,
                psychiatric_extended=False, cancer_5y=False, cancer_10y=False, gross_fee=1000.0, chronic_fee=0.0,
                local_services_fee=0.0, contact_fee=0.0)
    rows = [{**base, "person_id": f"P{i}", "clinic_id": "000001", "somatic_diseases": s} for i, s in enumerate([0, 1, 1, 2])]
    rows += [{**base, "person_id": f"Q{i}", "clinic_id": "000002", "somatic_diseases": 0} for i in range(4)]
    clinics = pd.DataFrame({"clinic_id": ["000001", "000002"], "name": ["A", "B"], "municipality_code": ["901", "901"],
                            "postcode": ["9000", "9000"], "practice_form": ["solo", "solo"], "capacities": [1.0, 1.0],
                            "vacant_capacities": [0.0, 0.0], "island_doctor": [False, False],
                            "opened": ["2000-01-01"] * 2, "closed": [""] * 2, "split_from": [""] * 2})
    munis = pd.DataFrame({"municipality_code": ["901"], "kommune": ["Nord"], "region_from_2027": ["R"],
                          "sundhedsraad": ["HC"], "area_km2": [70.0], "population_2026_01_01": [1000],
                          "life_expectancy_at_birth": [80.0]})
    proj = pd.DataFrame({"municipality_code": ["901"], "year": [2026], "population_end_of_year": [16000]})
    return Inputs(persons=pd.DataFrame(rows), clinics=clinics, municipalities=munis, projection=proj)


@pytest.fixture(scope="module")
def tiny():
    yd = cells.year_from_inputs(tiny_inputs(), 2025)
    params = pd.Series(0.0, index=ft.term_names(CFG))
    params[["Intercept", "somatic_2", "somatic_3plus"]] = [1000.0, 500.0, 1200.0]
    m = st.prepare(yd, CFG, params)
    return yd, m, st.stress_models(yd, [m], clinic="000001")


def _row(t, mode, share, clinic="000001"):
    r = t[(t["mode"] == mode) & (t["share"] == share) & (t["clinic_id"] == clinic)]
    assert len(r) == 1
    return r.iloc[0]


def test_the_tiny_clinic_by_hand(tiny):
    _, m, res = tiny
    cs = res.tables["clinic_stress"]
    # before: mean weight 4,500 / 4 / 1,062.5; minimum 1 x 1,600 / it = 1,511.1 -> 1,500; the council 8 weighted
    # citizens x 16,000 / 8 residents / 1,600 = 10 capacities
    r = _row(cs, "targeted", 0.25)
    assert r["mean_weight_before"] == pytest.approx(4500 / 4 / MEAN)
    assert r["minimum_exact_before"] == pytest.approx(1600 * 4 * MEAN / 4500) and r["minimum_before"] == 1500
    assert r["council_capacities_exact_before"] == pytest.approx(10.0) and r["council_capacities_before"] == 10
    # targeted 25 % = 1 patient: the one with 2 diseases (2 -> 3 gains 700 DKK, the most)
    assert r["patients_changed"] == 1 and r["weight_gain"] == pytest.approx(700 / MEAN)
    assert r["mean_weight_after"] == pytest.approx(5200 / 4 / MEAN)
    assert r["minimum_exact_after"] == pytest.approx(1600 * 4 * MEAN / 5200) and r["minimum_after"] == 1300
    assert r["council_capacities_exact_after"] == pytest.approx((8 + 700 / MEAN) * 2000 / 1600)  # 10.82
    assert r["council_capacities_after"] == 11 and r["country_capacities_change"] == 1
    # targeted 50 % = 2 patients: 700 + one of the two 1 -> 2 steps (500)
    r = _row(cs, "targeted", 0.5)
    assert r["weight_gain"] == pytest.approx(1200 / MEAN)
    assert r["minimum_exact_after"] == pytest.approx(1600 * 4 * MEAN / 5700) and r["minimum_after"] == 1200  # 1,193
    assert r["council_capacities_after"] == 12  # 11.41 rounded up
    # 5 % of 4 patients rounds to none: nothing moves
    r = _row(cs, "targeted", 0.05)
    assert r["patients_changed"] == 0 and r["minimum_after"] == r["minimum_before"] == 1500
    # random 25 %: one patient; whoever it is, the arithmetic follows that patient's step
    r = _row(cs, "random", 0.25)
    gain = r["weight_gain"] * MEAN
    assert r["patients_changed"] == 1 and min(abs(gain - g) for g in (0, 500, 700)) < 1e-9
    assert r["minimum_exact_after"] == pytest.approx(1600 * 4 * MEAN / (4500 + gain))
    assert r["patients_without_gain"] == (1 if abs(gain) < 1e-9 else 0)
    # the other clinic's patients have no disease: one more is worth nothing under the rule
    for mode in st.MODES:
        r = _row(cs, mode, 0.5, "000002")
        assert r["weight_gain"] == 0 and r["patients_without_gain"] == 2
        assert r["minimum_exact_after"] == r["minimum_exact_before"] == pytest.approx(1600 * MEAN / 1000)
    # the steps of the disease count
    steps = res.tables["disease_steps"].set_index("from_count")["gain_dkk"]
    assert steps["0"] == 0 and steps["1"] == 500 and steps["2"] == 700


def test_the_whole_chain_gives_the_same_numbers(tiny):
    _, _, res = tiny
    d, cs = res.tables["clinic_detail"], res.tables["clinic_stress"]
    for r in d.itertuples():
        v = _row(cs, r.mode, r.share)
        for col in ("mean_weight_after", "minimum_exact_after", "minimum_after", "council_capacities_exact_after",
                    "council_capacities_after", "country_capacities_change"):
            assert getattr(r, col) == pytest.approx(v[col]), (r.mode, r.share, col)


@pytest.fixture(scope="module")
def panel_result(panel_dir):
    return st.run_stress_test(panel_dir, 2025, clinic=None, sample=60)


def test_on_the_small_panel_with_the_variant_without_the_rule(panel_result, panel_dir):
    res = panel_result
    h = res.tables["headline"]
    assert set(h["model"]) == {"base", "somatic_each_count"} and set(h["mode"]) == set(st.MODES)
    assert (h["clinics"] == 60).all()
    # more diagnoses never raise a minimum under the base (its steps are positive), targeting beats chance
    b = h[h["model"] == "base"].set_index(["mode", "share"])
    for share in (0.05, 0.10, 0.25):
        assert b.at[("targeted", share), "mean_minimum_change_pct"] <= b.at[("random", share), "mean_minimum_change_pct"]
    assert (res.tables["clinic_stress"].query("model == 'base'")["minimum_change_pct"] <= 1e-9).all()
    # under the rule a first diagnosis is worth nothing; the variant prices it
    steps = res.tables["disease_steps"].set_index(["model", "from_count"])["gain_dkk"]
    assert steps[("base", "0")] == 0 and steps[("somatic_each_count", "0")] != 0
    d = res.tables["damping"]
    assert len(d) == 6 and "damping_ratio" in d.columns
    assert res.timings["full_chain_seconds_per_clinic_scenario"] > 0


def test_the_verb_writes_tables_and_a_manifest(panel_dir, tmp_path, capsys):
    out = tmp_path / "stress"
    assert main(["stress-test", "--data", str(panel_dir), "--year", "2025", "--out", str(out), "--sample", "20",
                 "--set", "stress_shares=0.1"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"] == "stress-test" and m["data"] == panel_dir.name  # the folder's name, never a path
    assert m["config"]["stress_shares"] == [0.1]
    for name in ("headline", "damping", "by_practice_form", "by_health_council", "clinic_stress", "disease_steps"):
        assert (out / f"{name}.csv").is_file(), name
    assert "stress test 2025" in capsys.readouterr().out
    cid = pd.read_csv(out / "clinic_stress.csv", dtype={"clinic_id": str})["clinic_id"].iloc[0]
    assert main(["stress-test", "--data", str(panel_dir), "--out", str(out), "--sample", "5", "--clinic", cid]) == 0
    detail = pd.read_csv(out / "clinic_detail.csv", dtype={"clinic_id": str})
    assert set(detail["clinic_id"]) == {cid} and len(detail) == 2 * 2 * 3
