"""The law's numbers: each binding rule of the memo and the reporting guidance as a tested rule.

One test (or a few) per rule of the issue "The law's numbers", each naming its
source section; the published figures of the ministry's draft (Hovedstaden
449.2 capacities, Aabenraa 1,450 patients per capacity, Sønderjylland's
floor headroom) are tests too.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from model.analyses import panel as apanel
from model.analyses.fit import run_model
from model.config import VARIANTS, ModelConfig
from model.core import capacity as cap
from model.core import cells
from model.core import clinics as cl
from model.core import features as ft
from model.inputs import reference
from model.inputs.tables import load_inputs, read_island_reports

BASE = ModelConfig()


# --- published figures of the draft model -----------------------------------------------------------------

def test_hovedstaden_449_2_becomes_450_rounded_up_and_449_to_nearest():
    """§4.6.4: "449,2 ... rundes op til 450"."""
    assert cap.round_capacity([449.2], BASE).tolist() == [450]
    assert cap.round_capacity([449.2], BASE.variant("rounding_nearest")).tolist() == [449]


def test_aabenraa_1450_patients_per_capacity_is_a_mean_weight_of_1_10():
    """Ugeskriftet (4 June 2025): Aabenraa's average is 1,450 patients per capacity = 1,600 / mean weight."""
    clinics = pd.DataFrame({"clinic_id": ["580001"], "municipality_code": ["580"], "practice_form": ["solo"],
                            "capacities": [1.0], "island_doctor": [False], "opened": ["2010-01-01"], "closed": [""],
                            "split_from": [""]})
    w = 1600 / 1450
    listed = pd.DataFrame({"clinic_id": ["580001"], "listed_patients": [2000], "sum_weight": [2000 * w]})
    munis = reference.municipalities()
    t = cl.clinic_table(clinics, listed, pd.Series({"580": w}), munis, BASE).iloc[0]
    assert t["minimum_patients_exact"] == pytest.approx(1450) and t["minimum_patients"] == 1450
    assert round(w, 2) == 1.10


def _sonderjylland(km2: float | None, mean_weight: float = 1.10):
    """Sønderjylland's four municipalities with their real areas and populations, every citizen of the given
    mean weight, and an allocation equal to the need by weight alone (so headroom can only come from the floor)."""
    m = reference.municipalities()
    m = m[m["sundhedsraad"] == "Sønderjylland"].reset_index(drop=True)
    cfg = BASE.replace(km2_per_capacity=km2)
    pop = m["population_2026_01_01"].to_numpy()
    w = pd.DataFrame({"municipality_code": m["municipality_code"], "citizens": pop, "residents": pop,
                      "sum_weight": pop * mean_weight})
    proj = pd.DataFrame({"municipality_code": m["municipality_code"], "year": 2026, "population_end_of_year": pop})
    le = pd.DataFrame({"municipality_code": m["municipality_code"], "life_expectancy": 81.0,
                       "life_expectancy_imputed": False, "life_expectancy_factor": 1.0})
    bm = cap.capacity_by_municipality(w, m, proj, le, cfg)
    by_weight = int(np.ceil(bm["need"].sum()))
    clinics = pd.DataFrame({"health_council": ["Sønderjylland"], "capacities": [float(by_weight)],
                            "island_excluded": [False]})
    return bm, cap.capacity_by_health_council(bm, m, clinics, cfg).iloc[0]


def test_area_floor_gives_sonderjylland_headroom_it_would_not_have_without_it():
    """§4.5.3: the 35 km² transition rule gives Sønderjylland room for new capacity."""
    bm, with_floor = _sonderjylland(35.0)
    _, without = _sonderjylland(None)
    assert without["headroom"] == 0 and not without["may_allocate_new"]
    assert with_floor["headroom"] > 0 and with_floor["may_allocate_new"]
    # the floor binds in Tønder (1,281.8 km² / 35 = 36.6 capacities against about 25 by weight)
    t = bm.set_index("name").loc["Tønder"]
    assert bool(t["floor_binds"]) and t["area_floor"] == pytest.approx(1281.8 / 35)


# --- rule 2: official areas -------------------------------------------------------------------------------

def test_embedded_areas_are_statistics_denmarks_official_figures():
    m = reference.municipalities().set_index("kommune")
    assert m.loc["Tønder", "area_km2"] == 1281.8 and m.loc["Tønder", "area_km2_polygons"] == 1184.3
    assert m.loc["Fanø", "area_km2"] == 54.6 and m.loc["Fanø", "area_km2_polygons"] == 66.4
    assert m["area_source"].str.startswith("Statistics Denmark ARE207").sum() == 96
    # the floor is computed from area_km2 (the official figure)
    assert "area_km2" in reference.PROVENANCE and "ARE207" in reference.PROVENANCE["area_km2"]


# --- rule 1: group 1 only, through the group-1 share ------------------------------------------------------

def test_weighted_citizens_use_the_group_1_share_of_the_projection():
    """§4.6.2: mean weight of group 1 x projected population x group-1 share (group 1 / all residents)."""
    m = reference.municipalities().head(1)
    code = m["municipality_code"].iloc[0]
    w = pd.DataFrame({"municipality_code": [code], "citizens": [900], "residents": [1000], "sum_weight": [990.0]})
    proj = pd.DataFrame({"municipality_code": [code], "year": [2026], "population_end_of_year": [2000]})
    le = pd.DataFrame({"municipality_code": [code], "life_expectancy": [81.0], "life_expectancy_imputed": [False],
                       "life_expectancy_factor": [1.0]})
    r = cap.capacity_by_municipality(w, m, proj, le, BASE).iloc[0]
    assert r["group1_share"] == pytest.approx(0.9)
    assert r["weighted_citizens"] == pytest.approx(990 / 900 * 2000 * 0.9)  # = 1,980, not 2,200
    # abolishing group 2 flows in by itself: the share becomes 1
    w2 = w.assign(citizens=1000, sum_weight=1100.0)
    assert cap.capacity_by_municipality(w2, m, proj, le, BASE).iloc[0]["weighted_citizens"] == pytest.approx(2200)


def test_group_1_share_needs_the_residents():
    m = reference.municipalities().head(1)
    w = pd.DataFrame({"municipality_code": m["municipality_code"], "citizens": [9], "sum_weight": [9.0]})
    with pytest.raises(ValueError, match="residents"):
        cap.capacity_by_municipality(w, m, pd.DataFrame(), pd.DataFrame(), BASE)


# --- rule 3: the chronic-care fee ------------------------------------------------------------------------

def test_imputation_groups_are_age_band_sex_and_somatic_group():
    age, sex, som = np.array([30, 30, 30, 30, 70]), np.array([1, 2, 1, 1, 1]), np.array([0, 0, 1, 2, 5])
    g, k = ft.imputation_groups(age, sex, som, BASE)
    assert k == len(BASE.age_bands) * 2 * 3
    assert g[0] != g[1] and g[0] == g[2] and g[0] != g[3] and g[3] != g[4]  # 0 and 1 disease: same group
    g, k = ft.imputation_groups(age, sex, som, BASE.variant("chronic_impute_national"))
    assert k == 1 and (g == 0).all()


def test_contact_means_fall_back_to_the_national_mean_for_an_empty_group():
    means = ft.contact_means(np.array([0, 0, 1]), 3, np.array([1.0, 1.0, 1.0]), np.array([100.0, 300.0, 600.0]))
    assert means.tolist() == [200.0, 600.0, pytest.approx(1000 / 3)]


def test_only_the_estimation_sample_without_the_fee_is_compared():
    p = pd.DataFrame({"age": [40] * 4, "sex": [1] * 4, "somatic_diseases": [0] * 4,
                      "chronic_fee": [900.0, 0.0, 0.0, 0.0], "contact_fee": [0.0, 300.0, 500.0, 10_000.0],
                      "gross_fee": [1000.0, 1000.0, 1000.0, 1000.0]})
    in_sample = np.array([True, True, True, False])  # the last is at a regional clinic
    imp = ft.imputed_contact_fee(p, in_sample, BASE)
    assert imp.tolist() == [400.0, 0.0, 0.0, 0.0]
    assert ft.outcome(p, BASE, in_sample).tolist() == [1400.0, 1000.0, 1000.0, 1000.0]
    # the lump sum counted in full, or half of it
    assert ft.outcome(p, BASE.variant("chronic_fee_full"))[0] == 1900.0
    assert ft.outcome(p, BASE.variant("chronic_fee_half"))[0] == 1450.0


def test_without_contact_fee_the_base_stops_and_names_the_variants_that_run(tmp_path, golden_cfg, golden_inputs):
    p = golden_inputs()
    p.persons = p.persons.drop(columns="contact_fee")
    with pytest.raises(ValueError, match="contact_fee") as e:
        run_model(p, golden_cfg)
    for v in ("chronic_fee_full", "chronic_fee_half", "chronic_fee_none"):
        assert v in str(e.value)
    r = run_model(p, golden_cfg.variant("chronic_fee_full"), variant="chronic_fee_full")
    assert r.fits["chronic_fee_full"].nobs == 26


def test_validation_names_the_missing_contact_fee_and_the_variants(tmp_path, golden_inputs):
    from model.inputs import contracts as S

    rep = S.validate_table(golden_inputs().persons.drop(columns="contact_fee"), "persons")
    f = [x for x in rep.failures if x.column == "contact_fee"]
    assert f and f[0].severity == "error" and "chronic_fee_full" in f[0].rule and "§4.4.3" in f[0].rule


def test_engine_imputes_as_the_annual_fit_does(small_data):
    for name in ("base", "chronic_impute_national", "chronic_fee_half"):
        cfg = BASE if name == "base" else BASE.variant(name)
        run = run_model(load_inputs(small_data, 2025, hashes=False), cfg, variant=name)
        yd = apanel.read_year(small_data, 2025)
        np.testing.assert_allclose(cells.fit(yd, cfg).params, run.fits[name].params, rtol=1e-10)


# --- rule 4: island doctors from the regions' annex-2 reports ----------------------------------------------

def _island_case(reports, flag=False, listed=120):
    c = pd.DataFrame({"clinic_id": ["700001"], "island_doctor": [flag], "listed_patients": [listed]})
    return cl.island_deductions(c, reports, BASE).iloc[0]


def _report(date, n, clinic="700001"):
    return pd.DataFrame({"clinic_id": [clinic], "region": ["Midtjylland"], "reporting_date": [date],
                         "reported_patients": [n], "source": [f"midtjylland_{date}.xlsx"]})


@pytest.mark.parametrize("date,covered", [("2026-01-01", True), ("2025-01-02", True), ("2025-01-01", False),
                                          ("2026-01-02", False)])
def test_annex_2_report_is_valid_from_its_date_and_one_year_on(date, covered):
    """R§3: deducted "fra indrapporteringstidspunktet og et år frem"; the planning day is 1 January 2026."""
    r = _island_case(_report(date, 150))
    assert bool(r["island_excluded"]) is covered
    assert r["island_source"] == (f"annex 2: midtjylland_{date}.xlsx" if covered else "")


def test_annex_2_decides_over_the_register_and_the_latest_report_wins():
    # reported with 500 or more: not deducted, though the register flags it and lists 120
    r = _island_case(_report("2025-07-01", 510), flag=True)
    assert not r["island_excluded"] and r["island_source"].startswith("annex 2 (500 or more")
    # two covering reports: the later one decides
    two = pd.concat([_report("2025-04-01", 510), _report("2025-10-01", 480)])
    assert bool(_island_case(two)["island_excluded"])
    # no report covers the clinic: the register's flag with the listed count
    r = _island_case(_report("2025-07-01", 100, clinic="799999"), flag=True)
    assert bool(r["island_excluded"]) and r["island_source"] == "clinic register"


def test_synthetic_data_carry_annex_2_reports_that_the_annual_run_reads(small_data):
    rep = read_island_reports(small_data)
    clinics = pd.read_csv(small_data / "clinics.csv", dtype=str)
    islands = set(clinics.loc[clinics["island_doctor"].str.lower() == "true", "clinic_id"])
    assert len(rep) and set(rep["clinic_id"]) <= islands
    run = run_model(load_inputs(small_data, 2025, hashes=False), BASE)
    c = run.tables["clinic_minimums"]
    deducted = c[c["island_excluded"]]
    assert len(deducted) and deducted["island_source"].str.startswith("annex 2").all()


# --- rule 5: group-1 citizens with no clinic on record ----------------------------------------------------

def test_unlisted_citizens_count_in_need_and_fit_not_in_clinics(small_data):
    i = load_inputs(small_data, 2025, hashes=False)
    g1 = i.persons[i.persons["insurance_group"] == 1]
    unlisted = int(g1["clinic_id"].isna().sum())
    assert unlisted > 0
    run = run_model(i, BASE)
    m = run.tables["capacity_by_municipality"]
    assert int(m["unlisted_citizens"].sum()) == unlisted and int(m["citizens"].sum()) == len(g1)
    prof = run.tables["clinic_profiles"]  # every clinic with listed patients, open in the planning year or not
    assert int(prof.loc[prof["term"] == "Intercept", "patients"].sum()) == len(g1) - unlisted
    assert run.fits["with_regional_tender"].nobs == len(g1)


# --- rule 6: split and new clinics ------------------------------------------------------------------------

@pytest.fixture
def with_clinic(golden_cfg, golden_inputs):
    """A function: the golden clinic minimums of a clinic 000005 opened on ``opened``, split from ``split_from``
    (one of clinic 000002's patients moved to it unless ``move`` is false)."""
    def run(opened, split_from="000002", move=True):
        i = golden_inputs()
        i.clinics = pd.concat([i.clinics, pd.DataFrame([{
            "clinic_id": "000005", "name": "Split", "municipality_code": "901", "postcode": "9000",
            "practice_form": "solo", "capacities": 1.0, "vacant_capacities": 0.0, "island_doctor": False,
            "opened": opened, "closed": "", "split_from": split_from}])], ignore_index=True)
        if move:
            i.persons.loc[i.persons["person_id"] == "E2", "clinic_id"] = "000005"
        return run_model(i, golden_cfg).tables["clinic_minimums"].set_index("clinic_id").loc["000005"]
    return run


@pytest.mark.parametrize("opened,source", [
    ("2025-01-02", "split_from"),    # opened during the data year: no full year of its own patients
    ("2025-12-31", "split_from"),
    ("2025-01-01", "own_patients"),  # open all of the data year: its own patients
    ("2024-06-01", "own_patients"),
])
def test_split_clinic_uses_its_parent_only_without_a_full_year(opened, source, with_clinic):
    assert with_clinic(opened)["weight_source"] == source


def test_new_split_clinic_without_patients_and_parentless_split_use_the_area(with_clinic):
    assert with_clinic("2026-01-01", move=False)["weight_source"] == "split_from"  # opens on the planning day
    assert with_clinic("2025-06-01", split_from="999999", move=False)["weight_source"] == "municipality"
    assert with_clinic("2025-06-01", split_from="", move=False)["weight_source"] == "municipality"


# --- rule 8: capacity reports as the guidance prints them -------------------------------------------------

def test_annex_2_laid_out_as_printed_passes_folder_validation(tmp_path):
    from openpyxl import Workbook

    from model.inputs import contracts as S
    from model.inputs.capacity_reports import ANNEX1_HEADINGS, ANNEX2_HEADINGS

    printed = list(ANNEX2_HEADINGS)
    printed[8] = "Antal udmøntede kapaciteter"  # the guidance's annex 2 repeats this heading
    wb = Workbook()
    ws = wb.active
    ws.title = "Bilag 1"
    ws.append(list(ANNEX1_HEADINGS))
    ws.append(["045678", "Ølægen", "Havnen 1", "Samsø", "741", "8305", "Solopraksis", 1, 0])
    ws2 = wb.create_sheet("Bilag 2")
    ws2.append(printed)
    ws2.append(["045678", "Ølægen", "Havnen 1", "Samsø", "741", "8305", "Solopraksis", 1, 0, 420])
    p = tmp_path / "midtjylland_2026-01-01.xlsx"
    wb.save(p)
    rep = S.validate_file(p, "capacity_report_annex2")
    assert rep.ok, rep.format()
    assert any("appears twice" in w.rule for w in rep.warnings)


# --- rule 9: settings that do nothing ---------------------------------------------------------------------

#: Fields that cannot change the output tables of a fit, and why (documented, not silently inert).
NOT_IN_OUTPUTS = {
    "min_cell_size": "disclosure control of published tables and sheets, not of the run folder",
    "national_goal_gps": "a reference figure shown in the report (§4.2.1)",
    "rounding_tolerance": "only moves numbers within 1e-6 of a whole capacity",
    "chronic_fee_share": "applies only with chronic_fee_treatment='lump_sum' (a variant)",
    "person_year_weights": "needs the optional days_resident column (the golden data have none)",
    **{f: "a threshold of the publication gate (tests/analyses/test_release_gate.py)" for f in (
        "release_positive_terms", "release_max_cell_multiple", "release_age_jag_share", "release_alpha",
        "release_capacity_move_share", "release_refit_tolerance", "release_blocking_checks")},
    **{f: "a setting of the coding stress test (tests/analyses/test_stress_test.py)" for f in (
        "stress_shares", "stress_seed", "stress_compare_variant")},
    "supply_band_edges": "the supply bands of the capacity reports (tests/analyses/test_supply.py)",
}
#: A changed value for each field (the base configuration of the golden test otherwise).
CHANGES = {
    "year": None, "planning_year": 2027, "insurance_group": 2, "excluded_practice_forms": (),
    "chronic_fee_treatment": "lump_sum", "chronic_impute_by": "national", "exclude_local_services": True,
    "age_bands": (0, 30, 65), "include_sex": False, "reference_age_band": 65, "reference_sex": 2,
    "origin_terms": ("western",), "civil_status_codes": ("U",), "civil_status_term": "single",
    "civil_status_by_age": True, "labour_age_min": 40, "labour_age_max": 20, "somatic_bins": (1, 2),
    "psychiatric_column": "psychiatric_extended", "cancer_column": "cancer_10y", "cov_type": "nonrobust",
    "clinic_fixed_effects": True, "life_expectancy_column": "remaining_life_expectancy_65",
    "life_expectancy_by_sex": True, "life_expectancy_correction": False, "normalise_weights": False,
    "citizens_per_capacity": 1000.0, "km2_per_capacity": 5.0, "rounding": "nearest", "island_min_patients": 20,
    "clinic_rounding_step": 10, "clinic_cap": 1000.0,
}


def _tables(i, cfg):
    i.persons.loc[i.persons["person_id"] == "K1", ["psychiatric_extended", "cancer_10y"]] = [False, True]
    i.persons.loc[i.persons["person_id"] == "L1", "cancer_10y"] = True
    i.persons.loc[i.persons["person_id"] == "A2", "civil_status"] = "U"
    i.persons.loc[i.persons["person_id"] == "A1", "local_services_fee"] = 300.0
    r = run_model(i, cfg)
    return {k: v for k, v in r.tables.items()}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ModelConfig)])
def test_every_setting_changes_the_outcome_or_says_why_not(name, golden_cfg, golden_inputs):
    if name in NOT_IN_OUTPUTS:
        return
    assert name in CHANGES, f"{name}: give it a changed value in CHANGES or a reason in NOT_IN_OUTPUTS"
    if name == "year":  # moves the data year: tested by the stability tests
        return
    base_cfg = {"island_min_patients": golden_cfg.replace(island_min_patients=5),
                "rounding": golden_cfg.replace(citizens_per_capacity=2500.0)}.get(name, golden_cfg)  # 3.14: up 4, nearest 3
    try:
        cfg = base_cfg.replace(**{name: CHANGES[name]})
        if name == "insurance_group":
            cfg = cfg.replace(chronic_fee_treatment="lump_sum")
    except ValueError as e:
        pytest.fail(f"{name}: {e}")
    a, b = _tables(golden_inputs(), base_cfg), None
    try:
        b = _tables(golden_inputs(), cfg)
    except ValueError:
        return  # a setting the golden data cannot run with still acts: it changed what the chain does
    differ = [k for k in a if not (a[k].shape == b[k].shape and a[k].columns.equals(b[k].columns)
                                   and a[k].astype(str).equals(b[k].astype(str)))]
    assert differ, f"{name} = {CHANGES[name]!r} changes no output table"


def test_labour_16_plus_says_in_the_report_why_it_cannot_move_anything():
    from model.analyses.sensitivity import NO_EFFECT_REASONS, _variant_note

    note = _variant_note("labour_16_plus", True, "")
    assert note.startswith("No effect:") and "not_applicable" in note and "labour_16_plus" in NO_EFFECT_REASONS


# --- rule 10: part-year residents -------------------------------------------------------------------------

def test_person_year_weighted_fit_is_a_variant(small_data):
    i = load_inputs(small_data, 2025, hashes=False)
    assert (i.persons["days_resident"] < 365).any()  # the newborn
    base = run_model(i, BASE).fits["base"]
    py = run_model(i, BASE.variant("person_year_weighted"), variant="person_year_weighted").fits["person_year_weighted"]
    assert py.params["male_0-2"] > base.params["male_0-2"]  # use per year at risk of the newborn is higher
    assert py.params["origin_menapt"] == pytest.approx(base.params["origin_menapt"], rel=0.2)
    i.persons = i.persons.drop(columns="days_resident")
    with pytest.raises(ValueError, match="days_resident"):
        run_model(i, BASE.variant("person_year_weighted"), variant="person_year_weighted")


def test_person_year_weighted_cells_equal_weighted_least_squares_on_persons(golden_cfg, golden_inputs):
    import statsmodels.api as sm

    i = golden_inputs()
    rng = np.random.default_rng(1)
    i.persons["days_resident"] = rng.integers(30, 366, len(i.persons))
    r = run_model(i, golden_cfg.replace(person_year_weights=True, chronic_fee_treatment="lump_sum"))
    p = i.persons[i.persons["insurance_group"] == 1]
    form = p["clinic_id"].map(i.clinics.set_index("clinic_id")["practice_form"]).fillna("none")
    p = p[~form.isin(["regional", "tender"]).to_numpy()]
    share = p["days_resident"].to_numpy() / 365
    X = ft.design_matrix(ft.person_factors(p, golden_cfg), golden_cfg).astype(float)
    y = (p["gross_fee"] + p["chronic_fee"]).to_numpy() / share
    wls = sm.WLS(y, X, weights=share).fit()
    np.testing.assert_allclose(r.fits["base"].params.to_numpy(), wls.params.to_numpy(), rtol=1e-8)


# --- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from model.inputs import synthetic

    d = tmp_path_factory.mktemp("law")
    synthetic.generate(d, persons=20_000, years=[2024, 2025], services=False)
    return d


def test_variants_named_in_the_issue_exist():
    for v in ("chronic_fee_full", "chronic_fee_half", "chronic_impute_national", "person_year_weighted",
              "rounding_nearest"):
        assert v in VARIANTS
