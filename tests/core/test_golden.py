"""Golden test: every stage of the model on the golden data set, worked out by hand.

The data set (28 group-1 citizens, one in group 2, three clinics, two municipalities in one health
council) and the table of its cells, which makes the hand calculation exact, are in tests/core/conftest.py.
"""

import numpy as np
import pytest

from model.analyses.fit import run_model


@pytest.fixture(scope="module")
def run(golden_cfg, golden_inputs):
    return run_model(golden_inputs(), golden_cfg)


def test_coefficients_are_the_cell_means(run):
    b = run.fits["base"].params
    want = {
        "Intercept": 1000, "male_65+": 1500, "female_0-64": 500, "female_65+": 2000, "origin_menapt": 400,
        "widowed_divorced": 200, "labour_temporarily_outside": 600, "labour_permanently_outside": 1000,
        "somatic_2": 300, "somatic_3plus": 800, "psychiatric": 1300, "cancer_5y": 900,
    }
    assert list(b.index) == list(want)
    np.testing.assert_allclose(b.to_numpy(), list(want.values()), rtol=1e-10)
    # with the regional clinic's two citizens (100 DKK each) in cells A and C:
    w = run.fits["with_regional_tender"].params
    a = (800 + 1000 + 1200 + 1000 + 100) / 5  # U1 (no clinic) is in both fits
    assert w["Intercept"] == pytest.approx(a)
    assert w["female_0-64"] == pytest.approx((1400 + 1600 + 100) / 3 - a)
    assert run.fits["base"].nobs == 26 and run.fits["with_regional_tender"].nobs == 28


def test_chronic_fee_citizen_gets_imputed_contacts(golden_cfg, golden_inputs):
    # base: D2's y = 2100 + the contact_fee of D1 (same age band, sex, somatic group, not on the fee) = 3100
    r = run_model(golden_inputs(), golden_cfg)
    assert r.fits["base"].params["female_65+"] == pytest.approx(2000)
    # the lump sum counted in full instead: D2's y = 2100 + 600, cell D = (2900 + 2700) / 2 = 2800
    full = run_model(golden_inputs(), golden_cfg.variant("chronic_fee_full"), variant="chronic_fee_full")
    assert full.fits["chronic_fee_full"].params["female_65+"] == pytest.approx(1800)
    # nothing imputed and nothing counted: D = (2900 + 2100) / 2
    none = run_model(golden_inputs(), golden_cfg.variant("chronic_fee_none"), variant="chronic_fee_none")
    assert none.fits["chronic_fee_none"].params["female_65+"] == pytest.approx(1500)


# predicted use per person (= cell mean), by municipality of residence
PRED_901 = 1000 + 1000 + 2500 + 1500 + 3000 + (1400 + 1200 + 1600 + 2000 + 1300 + 1800 + 2300 + 1900)  # 13 persons
PRED_902 = 1000 + 2500 + 1500 + 3000 + (1400 + 1200 + 1600 + 2000 + 1300 + 1800 + 2300 + 1900) + 1000 + 1500 + 1000  # 15
NATIONAL_LE = (80 * 1000 + 82 * 3000) / 4000  # 81.5
F901, F902 = NATIONAL_LE / 80, NATIONAL_LE / 82
T = PRED_901 * F901 + PRED_902 * F902  # sum of corrected predicted use; mean weight 1 => scale 28 / T
SW_901 = 28 * PRED_901 * F901 / T
SW_902 = 28 * PRED_902 * F902 / T


def test_weights_and_municipalities(run):
    assert PRED_901 == 22500 and PRED_902 == 25000
    m = run.tables["capacity_by_municipality"].set_index("municipality_code")
    assert m.loc["901", "citizens"] == 13 and m.loc["902", "citizens"] == 15
    assert m.loc["901", "residents"] == 14 and m.loc["902", "residents"] == 15
    assert m.loc["901", "group1_share"] == pytest.approx(13 / 14)
    assert m.loc["901", "unlisted_citizens"] == 0 and m.loc["902", "unlisted_citizens"] == 1
    assert m.loc["901", "mean_predicted_use"] == pytest.approx(22500 / 13)
    assert m.loc["901", "mean_normalised_weight"] == pytest.approx((22500 / 13) / (47500 / 28))
    assert m.loc["901", "life_expectancy_factor"] == pytest.approx(1.01875)
    assert m.loc["902", "life_expectancy_factor"] == pytest.approx(81.5 / 82)
    # mean weight x projection x group-1 share: SW_901 / 13 x 2800 x 13 / 14 = 200 SW_901; 902: 3000 / 15 = 200
    assert m.loc["901", "weighted_citizens"] == pytest.approx(200 * SW_901)
    assert m.loc["902", "weighted_citizens"] == pytest.approx(200 * SW_902)
    assert m.loc["901", "need"] == pytest.approx(200 * SW_901 / 1600)  # 1.654
    assert m.loc["901", "area_floor"] == pytest.approx(2.0)  # 70 km2 / 35: binds
    assert m.loc["901", "indicative"] == pytest.approx(2.0)
    assert bool(m.loc["901", "floor_binds"]) and not bool(m.loc["902", "floor_binds"])
    assert m.loc["902", "indicative"] == pytest.approx(200 * SW_902 / 1600)  # 1.721 > 10/35


def test_health_council(run):
    h = run.tables["capacity_by_health_council"].set_index("health_council").loc["HC"]
    exact = 2.0 + 200 * SW_902 / 1600
    assert h["weighted_citizens"] == pytest.approx(5600)  # 28 weights of mean 1, x 200
    assert h["capacities_exact"] == pytest.approx(exact)  # 3.79
    assert h["capacities"] == 4
    # 000002 (1.5 capacities) reported in annex 2 with 11 < 500 patients: not counted
    assert h["allocated"] == 3.5 and h["island_excluded"] == 1.5 and h["counted_allocation"] == 2.0
    assert h["headroom"] == pytest.approx(2.0) and bool(h["may_allocate_new"])


def test_island_deduction_source(run):
    c = run.tables["clinic_minimums"].set_index("clinic_id")
    assert bool(c.loc["000002", "island_excluded"]) and c.loc["000002", "island_source"] == "annex 2: r_2025-07-01.xlsx"
    assert not bool(c.loc["000001", "island_excluded"])  # its report (1 Dec 2024) expired on 1 Dec 2025


def test_clinic_minimums(run):
    c = run.tables["clinic_minimums"].set_index("clinic_id")
    scale = 28 / T
    sw1 = scale * (PRED_901 * F901 + 1000 * F902)  # 13 residents of 901 + A3 from 902
    sw2 = scale * (2500 + 1500 + 3000 + 13500) * F902
    sw3 = scale * (1000 + 1500) * F902
    expect = {"000001": (14, sw1 / 14, 1.0), "000002": (11, sw2 / 11, 1.5), "000003": (2, sw3 / 2, 1.0)}
    for cid, (n, mw, caps) in expect.items():
        assert c.loc[cid, "listed_patients"] == n
        assert c.loc[cid, "mean_weight"] == pytest.approx(mw)
        exact = caps * 1600 / mw
        assert c.loc[cid, "minimum_patients_exact"] == pytest.approx(exact)
        assert c.loc[cid, "minimum_patients"] == 50 * np.floor(exact / 50 + 0.5)
    # U1 (no clinic) is in no clinic: 14 + 11 + 2 listed of 28 citizens
    assert c["listed_patients"].sum() == 27
    # by hand: 1 x 1600 / 1.00130 = 1597.9 -> 1600; 1.5 x 1600 / 1.08571 = 2210.5 -> 2200;
    # 1 x 1600 / 0.72822 = 2197.1 -> 2200 (the regional clinic's two light patients)
    assert c["minimum_patients"].to_dict() == {"000001": 1600, "000002": 2200, "000003": 2200}
    assert c["mean_weight"].round(5).to_dict() == {"000001": 1.0013, "000002": 1.08571, "000003": 0.72822}


def test_price_list(run):
    pl = run.tables["weights_by_cell"]
    plain_old_woman = pl[(pl["age_band"] == "65+") & (pl["sex"] == "female") & (pl["origin"] == "other")
                         & (pl["civil_status"] == "no") & (pl["labour"] == "-") & (pl["somatic_diseases"] == "0-1")
                         & ~pl["psychiatric"] & ~pl["cancer"]]
    assert len(plain_old_woman) == 1
    row = plain_old_woman.iloc[0]
    assert row["predicted_use"] == pytest.approx(3000)
    assert row["normalised_weight"] == pytest.approx(3000 / (47500 / 28))
    # no labour-market terms offered for 65+ (the age limit is 67, the band 65+ straddles it: offered)
    assert set(pl["labour"]) == {"-", "temporarily_outside", "permanently_outside"}


def test_clinic_profiles_add_up_to_mean_predicted_use(run):
    prof = run.tables["clinic_profiles"]
    c = run.tables["clinic_minimums"].set_index("clinic_id")
    total = prof.groupby("clinic_id")["contribution"].sum()
    for cid in c.index:
        assert total[cid] == pytest.approx(c.loc[cid, "mean_predicted_use"])
    c3 = prof[prof["clinic_id"] == "000003"].set_index("term")["patients"].to_dict()
    assert c3 == {"Intercept": 2, "female_0-64": 1}
    assert c.loc["000003", "mean_predicted_use"] == pytest.approx(1250)
