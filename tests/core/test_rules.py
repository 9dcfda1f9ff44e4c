"""The rules of docs/method.md steps 3-6 at their edges, and invariances of the chain."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.analyses.fit import run_model
from model.config import ModelConfig
from model.core import capacity as cap
from model.core import clinics as cl
from model.core import weights as wt

BASE = ModelConfig()


# --- rounding ---------------------------------------------------------------
def test_round_up_with_tolerance():
    r = cap.round_capacity([449.0000000001, 449.2, 449.0, 449.999999, 0.0], BASE)
    assert r.tolist() == [449, 450, 449, 450, 0]


def test_round_nearest():
    c = BASE.replace(rounding="nearest")
    assert cap.round_capacity([449.49, 449.5, 449.4999999999, 450.2], c).tolist() == [449, 450, 450, 450]


@given(st.floats(min_value=0, max_value=1e5, allow_nan=False))
def test_round_up_never_below_exact(x):
    r = int(cap.round_capacity([x], BASE)[0])
    assert r >= x - BASE.rounding_tolerance and r - x < 1


def test_clinic_rounding_step():
    assert cl.round_to_step([1624.9, 1625, 1675, 24.9], 50).tolist() == [1600, 1650, 1700, 0]
    assert cl.round_to_step([1624.9], 10).tolist() == [1620]


# --- life expectancy --------------------------------------------------------
def _munis(le):
    return pd.DataFrame({
        "municipality_code": ["001", "002", "003", "004"], "sundhedsraad": ["A", "A", "A", "B"],
        "population_2026_01_01": [1000, 3000, 500, 2000], "life_expectancy_at_birth": le,
    })


def test_missing_life_expectancy_takes_health_council_figure():
    t = wt.life_expectancy_factors(_munis([80.0, 82.0, np.nan, 81.0]), BASE).set_index("municipality_code")
    hc_a = (80 * 1000 + 82 * 3000) / 4000
    national = (80 * 1000 + 82 * 3000 + 81 * 2000) / 6000
    assert t.loc["003", "life_expectancy"] == pytest.approx(hc_a)
    assert bool(t.loc["003", "life_expectancy_imputed"]) and not t.loc[["001", "002", "004"], "life_expectancy_imputed"].any()
    assert t.loc["003", "life_expectancy_factor"] == pytest.approx(national / hc_a)
    assert t.loc["001", "life_expectancy_factor"] == pytest.approx(national / 80)


def test_life_expectancy_correction_off():
    t = wt.life_expectancy_factors(_munis([80.0, 82.0, np.nan, 81.0]), BASE.replace(life_expectancy_correction=False))
    assert (t["life_expectancy_factor"] == 1.0).all()


def test_health_council_without_any_figure_is_an_error():
    with pytest.raises(ValueError, match="B"):
        wt.life_expectancy_factors(_munis([80.0, 82.0, 81.0, np.nan]), BASE)


def test_golden_missing_life_expectancy_is_flagged(golden_cfg, golden_inputs):
    i = golden_inputs()
    i.municipalities.loc[1, "life_expectancy_at_birth"] = np.nan  # 902 takes HC's figure = 80 (only 901 has one)
    m = run_model(i, golden_cfg).tables["capacity_by_municipality"].set_index("municipality_code")
    assert bool(m.loc["902", "life_expectancy_imputed"])
    assert m.loc["902", "life_expectancy"] == pytest.approx(80.0)
    assert m["life_expectancy_factor"].tolist() == pytest.approx([1.0, 1.0])


# --- area floor --------------------------------------------------------------
def test_area_floor_binds_in_large_sparse_municipality(golden_cfg, golden_inputs):
    i = golden_inputs()
    i.municipalities.loc[1, "area_km2"] = 35 * 7.3  # 902: floor 7.3 > need 1.72
    t = run_model(i, golden_cfg).tables
    m = t["capacity_by_municipality"].set_index("municipality_code")
    assert m.loc["902", "indicative"] == pytest.approx(7.3) and bool(m.loc["902", "floor_binds"])
    h = t["capacity_by_health_council"].iloc[0]
    assert h["capacities_exact"] == pytest.approx(2.0 + 7.3) and h["capacities"] == 10


def test_no_area_floor(golden_cfg, golden_inputs):
    t = run_model(golden_inputs(), golden_cfg.replace(km2_per_capacity=None)).tables
    m = t["capacity_by_municipality"]
    assert (m["area_floor"] == 0).all() and (m["indicative"] == m["need"]).all()


# --- island doctors at 499 and 500 listed patients ---------------------------
def _clinic_case(listed_patients: int, island: bool):
    clinics = pd.DataFrame({
        "clinic_id": ["100001", "100002"], "municipality_code": ["001", "001"], "practice_form": ["solo", "solo"],
        "capacities": [1.0, 2.0], "island_doctor": [island, False], "opened": ["2001-01-01", "2001-01-01"],
        "closed": ["", ""], "split_from": ["", ""],
    })
    listed = pd.DataFrame({"clinic_id": ["100001", "100002"], "listed_patients": [listed_patients, 3000],
                           "sum_weight": [listed_patients * 1.2, 3000.0]})
    munis = pd.DataFrame({"municipality_code": ["001"], "sundhedsraad": ["A"]})
    return cl.clinic_table(clinics, listed, pd.Series({"001": 1.0}), munis, BASE)


@pytest.mark.parametrize("n,excluded", [(499, True), (500, False), (1, True)])
def test_island_doctor_threshold(n, excluded):
    t = _clinic_case(n, island=True).set_index("clinic_id")
    assert bool(t.loc["100001", "island_excluded"]) is excluded
    assert not t.loc["100002", "island_excluded"]


def test_small_non_island_clinic_counts():
    assert not _clinic_case(120, island=False)["island_excluded"].any()


def test_island_exclusion_in_health_council():
    bm = pd.DataFrame({"health_council": ["A"], "weighted_citizens": [1600.0], "need": [1.0], "area_floor": [0.1],
                       "indicative": [1.0], "floor_binds": [False]})
    munis = pd.DataFrame({"sundhedsraad": ["A"], "region_from_2027": ["R"]})
    h = cap.capacity_by_health_council(bm, munis, _clinic_case(499, island=True), BASE).iloc[0]
    assert h["allocated"] == 3.0 and h["island_excluded"] == 1.0 and h["counted_allocation"] == 2.0
    assert h["headroom"] == -1.0 and not h["may_allocate_new"]
    h = cap.capacity_by_health_council(bm, munis, _clinic_case(500, island=True), BASE).iloc[0]
    assert h["island_excluded"] == 0.0 and h["counted_allocation"] == 3.0


# --- clinics without patients, split clinics, closed clinics ------------------
def test_clinic_without_patients_takes_municipal_mean_weight(golden_cfg, golden_inputs):
    i = golden_inputs()
    i.clinics = pd.concat([i.clinics, pd.DataFrame([{
        "clinic_id": "000004", "name": "New", "municipality_code": "902", "postcode": "9001", "practice_form": "solo",
        "capacities": 1.0, "vacant_capacities": 1.0, "island_doctor": False, "opened": "2025-09-01", "closed": "",
        "split_from": ""}])],
        ignore_index=True)
    t = run_model(i, golden_cfg).tables
    c = t["clinic_minimums"].set_index("clinic_id")
    m = t["capacity_by_municipality"].set_index("municipality_code")
    assert c.loc["000004", "listed_patients"] == 0 and c.loc["000004", "weight_source"] == "municipality"
    assert c.loc["000004", "mean_weight"] == pytest.approx(m.loc["902", "mean_weight"])


def test_split_clinic_takes_parent_mean_weight(golden_cfg, golden_inputs):
    i = golden_inputs()
    i.clinics = pd.concat([i.clinics, pd.DataFrame([{
        "clinic_id": "000005", "name": "Split", "municipality_code": "901", "postcode": "9000", "practice_form": "solo",
        "capacities": 1.0, "vacant_capacities": 0.0, "island_doctor": False, "opened": "2025-06-01", "closed": "",
        "split_from": "000002"}])], ignore_index=True)
    # one of clinic 2's patients moved to the split clinic
    i.persons.loc[i.persons["person_id"] == "E2", "clinic_id"] = "000005"
    c = run_model(i, golden_cfg).tables["clinic_minimums"].set_index("clinic_id")
    assert c.loc["000005", "weight_source"] == "split_from"
    assert c.loc["000005", "mean_weight"] == pytest.approx(c.loc["000002", "mean_weight"])


def test_closed_clinic_is_not_counted(golden_cfg, golden_inputs):
    i = golden_inputs()
    i.clinics.loc[2, "closed"] = "2025-12-31"
    t = run_model(i, golden_cfg).tables
    assert "000003" not in set(t["clinic_minimums"]["clinic_id"])
    assert t["capacity_by_health_council"].iloc[0]["allocated"] == 2.5


def test_clinic_cap(golden_cfg, golden_inputs):
    c = run_model(golden_inputs(), golden_cfg.replace(clinic_cap=2000)).tables["clinic_minimums"]
    assert c["minimum_patients"].max() == 2000


# --- invariances -------------------------------------------------------------
def test_shuffling_citizens_changes_nothing(golden_cfg, golden_inputs):
    a = run_model(golden_inputs(), golden_cfg).tables
    i = golden_inputs()
    i.persons = i.persons.sample(frac=1.0, random_state=7).reset_index(drop=True)
    b = run_model(i, golden_cfg).tables
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("c", [0.01, 3.7, 1000.0])
def test_scaling_fees_leaves_weights_unchanged(c, golden_cfg, golden_inputs):
    a = run_model(golden_inputs(), golden_cfg).tables
    i = golden_inputs()
    for col in ("gross_fee", "chronic_fee", "local_services_fee", "contact_fee"):
        i.persons[col] *= c
    b = run_model(i, golden_cfg).tables
    for k in ("capacity_by_municipality", "capacity_by_health_council", "clinic_minimums"):
        cols = [x for x in a[k].columns if x not in ("mean_predicted_use",)]
        pd.testing.assert_frame_equal(a[k][cols], b[k][cols], check_exact=False, rtol=1e-9)
    np.testing.assert_allclose(b["weights_by_cell"]["normalised_weight"], a["weights_by_cell"]["normalised_weight"], rtol=1e-9)


def test_mean_weight_is_exactly_one(golden_cfg, golden_inputs):
    t = run_model(golden_inputs(), golden_cfg).tables["capacity_by_municipality"]
    assert (t["mean_weight"] * t["citizens"]).sum() / t["citizens"].sum() == pytest.approx(1.0, abs=1e-12)


def test_base_variant_equal_config_gives_identical_outputs(golden_cfg, golden_inputs):
    a = run_model(golden_inputs(), golden_cfg).tables
    b = run_model(golden_inputs(), golden_cfg.replace()).tables
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])


# --- configuration ------------------------------------------------------------
def test_config_rejects_unknown_field_and_wrong_type():
    with pytest.raises(ValueError, match="unknown configuration field.*citizen_per_capacity"):
        BASE.replace(citizen_per_capacity=1500)
    with pytest.raises(ValueError, match="rounding"):
        BASE.replace(rounding="down")
    with pytest.raises(ValueError, match="clinic_rounding_step"):
        BASE.replace(clinic_rounding_step="50")


def test_config_round_trips_and_variants():
    d = BASE.to_dict()
    assert ModelConfig.from_dict(d) == BASE
    v = BASE.variant("with_regional_tender")
    assert v.excluded_practice_forms == () and BASE.diff(v) == {"excluded_practice_forms": (["regional", "tender"], [])}
    with pytest.raises(ValueError, match="unknown variant"):
        BASE.variant("nope")
