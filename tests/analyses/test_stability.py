"""Stability across years, clinic fixed effects and the cluster bootstrap (model.analyses.stability).

A small synthetic panel (5 years) is generated once per test session into
pytest's temporary folder (the ``panel_dir`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from model.analyses import bootstrap as bs
from model.analyses import panel as apanel
from model.analyses import stability as sb
from model.analyses.fit import run_model
from model.config import ModelConfig
from model.core import cells, within
from model.core import chain as mc
from model.inputs import synthetic
from model.inputs.tables import load_inputs, read_persons

ROOT = Path(__file__).resolve().parents[2]
BASE = ModelConfig()


@pytest.fixture(scope="module")
def panel(panel_dir):
    p = apanel.Panel(panel_dir, prefetch=False)
    yield p
    p.close()


# --- clinic fixed effects ---------------------------------------------------------------------------------


def _fe_data(seed: int, n: int = 700, clinics: int = 25):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, clinics, n)
    age = rng.integers(0, 3, n)
    sex = rng.integers(0, 2, n)
    d1 = (rng.random(n) < 0.3 + 0.02 * g).astype(int)
    d2 = (rng.random(n) < 0.15).astype(int)
    alpha = rng.normal(0, 300, clinics)
    y = 1000 + 200 * age + 150 * sex + 400 * d1 - 250 * d2 + alpha[g] + rng.gamma(1.5, 300, n) * (1 + sex)
    X = pd.DataFrame({"Intercept": 1, "age_1": (age == 1).astype(int), "age_2": (age == 2).astype(int),
                      "female": sex, "d1": d1, "d2": d2})
    return X, np.round(y, 2), np.array([f"C{k:03d}" for k in g])


@pytest.mark.parametrize("cov_type", ["HC1", "HC0", "cluster", "nonrobust"])
@pytest.mark.parametrize("seed", [1, 2])
def test_fit_within_matches_statsmodels_with_clinic_dummies(cov_type, seed):
    X, y, clinic = _fe_data(seed)
    terms = list(X.columns)
    cells = X.assign(y=y, cluster=clinic).groupby(terms + ["cluster"]).agg(
        n=("y", "size"), sum_y=("y", "sum"), sum_y2=("y", lambda v: float((v * v).sum()))).reset_index()
    res = within.fit_within(cells[terms], cells["n"], cells["sum_y"], cells["sum_y2"], cells["cluster"], terms, cov_type=cov_type)

    D = pd.get_dummies(pd.Series(clinic), dtype=float)
    Z = pd.concat([X.drop(columns="Intercept").astype(float), D], axis=1)
    kw = {"cov_type": cov_type}
    if cov_type == "cluster":
        kw["cov_kwds"] = {"groups": pd.factorize(clinic)[0]}
    ref = sm.OLS(y, Z).fit(**kw)
    slopes = [t for t in terms if t != "Intercept"]
    np.testing.assert_allclose(res.params[slopes], ref.params[slopes], rtol=1e-9)
    np.testing.assert_allclose(res.bse[slopes], ref.bse[slopes], rtol=1e-8)
    # the intercept is the patient-weighted mean clinic effect: predictions average the clinic effects out
    n_g = pd.Series(clinic).value_counts()
    mean_effect = float((ref.params[D.columns] * n_g.reindex(D.columns)).sum() / len(y))
    assert res.params["Intercept"] == pytest.approx(mean_effect, rel=1e-9)
    assert res.rsquared == pytest.approx(ref.rsquared, rel=1e-9)
    assert res.df_resid == ref.df_resid
    assert res.predict(X).mean() == pytest.approx(float(np.mean(y)), rel=1e-9)  # OLS residuals sum to 0


def test_fit_within_names_a_term_constant_within_every_clinic():
    X, y, clinic = _fe_data(3)
    X["clinic_level"] = pd.Series(clinic).str[-1].isin(list("02468")).astype(int).to_numpy()
    terms = list(X.columns)
    with pytest.raises(ValueError, match="clinic_level"):
        within.fit_within(X, np.ones(len(y)), y, y * y, clinic, terms)


def test_fixed_effects_in_run_model_equal_the_engine(panel_dir):
    cfg = BASE.variant("clinic_fixed_effects")
    run = run_model(load_inputs(panel_dir, 2025, hashes=False), cfg, variant="clinic_fixed_effects")
    yd = apanel.read_year(panel_dir, 2025)
    f = cells.fit(yd, cfg)
    np.testing.assert_allclose(run.fits["clinic_fixed_effects"].params, f.params, rtol=1e-9)
    np.testing.assert_allclose(run.fits["clinic_fixed_effects"].bse, f.bse, rtol=1e-9)
    ch = mc.chain(yd, cfg, f.params)
    hc = run.tables["capacity_by_health_council"]
    assert (hc["capacities"].to_numpy() == ch.by_health_council["capacities"].to_numpy()).all()


# --- the engine reproduces the annual fit -----------------------------------------------------------------


def test_engine_reproduces_run_model(panel_dir):
    run = run_model(load_inputs(panel_dir, 2025, hashes=False), BASE)
    yd = apanel.read_year(panel_dir, 2025)
    f = cells.fit(yd, BASE)
    ch = mc.chain(yd, BASE, f.params)
    np.testing.assert_allclose(f.params, run.fits["base"].params, rtol=1e-10)
    np.testing.assert_allclose(f.bse, run.fits["base"].bse, rtol=1e-9)
    a, b = ch.by_health_council, run.tables["capacity_by_health_council"]
    assert a["health_council"].tolist() == b["health_council"].tolist()
    np.testing.assert_allclose(a["capacities_exact"], b["capacities_exact"], rtol=1e-11)
    assert (a["capacities"].to_numpy() == b["capacities"].to_numpy()).all()
    a, b = ch.clinics, run.tables["clinic_minimums"]
    assert a["clinic_id"].tolist() == b["clinic_id"].tolist()
    assert (a["minimum_patients"].to_numpy() == b["minimum_patients"].to_numpy()).all()
    np.testing.assert_allclose(ch.by_municipality["indicative"], run.tables["capacity_by_municipality"]["indicative"], rtol=1e-11)


def test_year_from_inputs_equals_reading_parquet(panel_dir):
    a = apanel.read_year(panel_dir, 2024)
    b = cells.year_from_inputs(load_inputs(panel_dir, 2024, hashes=False), 2024)
    fa, fb = cells.fit(a, BASE.replace(year=2024, planning_year=2025)), cells.fit(b, BASE.replace(year=2024, planning_year=2025))
    np.testing.assert_allclose(fa.params, fb.params, rtol=1e-11)
    assert a.persons == b.persons and len(a.atoms) == len(b.atoms)


def test_fees_are_brought_to_the_latest_price_level(panel_dir):
    index = pd.read_csv(panel_dir / "fee_index.csv").set_index("year")["index"]
    factor = index[2025] / index[2022]
    assert factor > 1.07
    p = read_persons(panel_dir / "persons.parquet", 2022)
    p = p[p["insurance_group"] == 1]
    yd = apanel.read_year(panel_dir, 2022, price_year=2025)
    assert yd.price_factor == pytest.approx(factor)
    np.testing.assert_allclose(yd.fees[0], p["gross_fee"].to_numpy() * factor)
    li = load_inputs(panel_dir, 2022, hashes=False, price_year=2025)
    li_p = li.persons[li.persons["insurance_group"] == 1]
    np.testing.assert_allclose(li_p["chronic_fee"].to_numpy(), p["chronic_fee"].to_numpy() * factor)
    cfg = BASE.replace(year=2022, planning_year=2023)
    np.testing.assert_allclose(cells.fit(yd, cfg).params, run_model(li, cfg).fits["base"].params, rtol=1e-10)
    # scaling all fees scales the coefficients and leaves every weight, capacity and clinic number unchanged
    own = cells.fit(apanel.read_year(panel_dir, 2022), cfg)
    np.testing.assert_allclose(cells.fit(yd, cfg).params, own.params * factor, rtol=1e-10)


# --- the bootstrap ----------------------------------------------------------------------------------------


def test_bootstrap_chain_with_the_point_coefficients_gives_the_point_numbers(panel):
    yd = panel.get(2025)
    f = cells.fit(yd, BASE)
    ch = mc.chain(yd, BASE, f.params)
    b = bs.bootstrap(yd, BASE, ch, params=np.vstack([f.params.to_numpy()] * 3))
    np.testing.assert_allclose(b.hc_exact[:, 0], ch.by_health_council["capacities_exact"], rtol=1e-11)
    assert (b.hc_rounded[:, 1] == ch.by_health_council["capacities"].to_numpy()).all()
    np.testing.assert_allclose(b.clinic_exact[:, 2], b.clinics["minimum_patients_exact"], rtol=1e-11)
    assert (b.health_council["prob_rounded_differs"] == 0).all() and (b.clinics["prob_rounded_differs"] == 0).all()


def test_bootstrap_is_reproducible_and_resamples_clinics(panel):
    yd = panel.get(2025)
    a = bs.bootstrap(yd, BASE, draws=40, seed=11)
    b = bs.bootstrap(yd, BASE, draws=40, seed=11)
    c = bs.bootstrap(yd, BASE, draws=40, seed=12)
    pd.testing.assert_frame_equal(a.health_council, b.health_council)
    assert not np.allclose(a.params, c.params)
    f = cells.fit(yd, BASE)
    # bootstrap standard errors of the coefficients are near the cluster-robust ones
    se_boot = a.params.std(axis=0, ddof=1)
    se_cl = cells.fit(yd, BASE.replace(cov_type="cluster")).bse.to_numpy()
    ratio = se_boot / se_cl
    assert 0.6 < np.median(ratio) < 1.5
    assert (a.params.mean(axis=0) - f.params.to_numpy()).__abs__().max() < 4 * se_cl.max()
    hc = a.health_council
    assert ((hc["ci_low"] <= hc["capacities_exact"]) & (hc["capacities_exact"] <= hc["ci_high"])).mean() > 0.8
    assert (hc["near_threshold"] == (hc["capacities_ci_low"] != hc["capacities_ci_high"])).all()
    assert (a.clinics.merge(yd.clinics[["clinic_id"]], on="clinic_id").shape[0] == len(a.clinics))


def test_bootstrap_with_clinic_fixed_effects_matches_its_point_estimate(panel):
    yd = panel.get(2025)
    cfg = BASE.variant("clinic_fixed_effects")
    f = cells.fit(yd, cfg)
    p, terms, failed = bs.bootstrap_params(yd, cfg, draws=60, seed=3)
    assert terms == list(f.params.index) and failed == 0
    se_boot = p.std(axis=0, ddof=1)
    se_cl = cells.fit(yd, cfg.replace(cov_type="cluster")).bse.to_numpy()
    slopes = [i for i, t in enumerate(terms) if t != "Intercept"]
    assert 0.6 < np.median(se_boot[slopes] / se_cl[slopes]) < 1.5


def test_bootstrap_intervals_cover_the_true_capacities_at_about_the_nominal_rate(synthetic_data):
    """True capacities: the generator's TRUE_COEFFICIENTS through the same chain on the same persons.

    The data are generated with E[y | X] = X beta_true for the fit's outcome
    (gross + chronic fee without the locally agreed services), so the
    configuration leaves the local services out.  Six small panels, 200
    draws each; the coverage of the 90 % and 95 % percentile intervals
    across health councils and seeds must be near nominal (the health
    councils of one panel share one set of coefficients, so their coverage
    is correlated: the tolerance is wide).
    """
    cfg = BASE.replace(exclude_local_services=True)
    covered = {0.1: [], 0.05: []}
    coef_covered = {0.1: [], 0.05: []}
    for seed in (1, 2, 3, 4, 5, 6):
        d = synthetic_data(persons=20_000, years=(2025,), seed=seed)
        yd = apanel.read_year(d, 2025)
        f = cells.fit(yd, cfg)
        point = mc.chain(yd, cfg, f.params)
        truth = mc.chain(yd, cfg, pd.Series(synthetic.TRUE_COEFFICIENTS))
        b = bs.bootstrap(yd, cfg, point, draws=200, seed=seed, alpha=0.1)
        assert b.draws == 200 and b.failed == 0
        t = truth.by_health_council.set_index("health_council").reindex(b.health_council["health_council"])
        t = t["capacities_exact"].to_numpy()
        tc = pd.Series(synthetic.TRUE_COEFFICIENTS)[f.params.index].to_numpy()
        for alpha in covered:
            lo, hi = np.quantile(b.hc_exact, [alpha / 2, 1 - alpha / 2], axis=1)
            assert (hi - lo > 0).all()
            covered[alpha].append((lo <= t) & (t <= hi))
            lo, hi = np.quantile(b.params, [alpha / 2, 1 - alpha / 2], axis=0)
            coef_covered[alpha].append((lo <= tc) & (tc <= hi))
        h = b.health_council
        np.testing.assert_allclose(h["ci_low"], np.quantile(b.hc_exact, 0.05, axis=1))
    for alpha in covered:
        nominal = 1 - alpha
        rate = float(np.concatenate(covered[alpha]).mean())
        assert nominal - 0.12 <= rate <= min(1.0, nominal + 0.06), f"coverage {rate:.3f} for nominal {nominal}"
        rate = float(np.concatenate(coef_covered[alpha]).mean())
        assert nominal - 0.12 <= rate <= min(1.0, nominal + 0.06), f"coefficient coverage {rate:.3f} for {nominal}"


# --- stability across years -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stability_result(panel):
    return sb.run_stability(panel, bootstrap_draws=60, seed=5)


def test_stability_tables_have_their_columns_and_rows(stability_result, panel):
    t = stability_result.tables
    years = stability_result.years
    assert years == [2021, 2022, 2023, 2024, 2025]
    for name, cols in sb.TABLE_COLUMNS.items():
        assert set(t[name].columns) <= set(cols), name
    assert len(t["summary"]) == 4 and t["summary"]["year_from"].tolist() == years[:-1]
    assert set(t["coefficients_by_year"]["year"]) == set(years)
    hc = t["capacity_by_year"][t["capacity_by_year"]["level"] == "health_council"]
    assert len(hc) == 17 * 5
    assert len(t["capacity_by_year"][t["capacity_by_year"]["level"] == "municipality"]) == 98 * 5
    assert set(t["rounding_step_effect"]["rounding_step"]) == {1, 10, 50, 100}
    assert len(t["bootstrap_health_council"]) == 17
    assert t["bootstrap_clinics"]["clinic_id"].is_unique
    # disclosure: the clinic comparisons and the clinic bootstrap keep only clinics with >= 5 listed patients
    yd = panel.get(2025)
    last = mc.chain(yd, BASE, cells.fit(yd, BASE).params)
    small = set(last.clinics.loc[last.clinics["listed_patients"] < 5, "clinic_id"])
    assert small, "the small panel should have clinics with fewer than 5 listed patients"
    assert not small & set(t["bootstrap_clinics"]["clinic_id"])
    assert (t["clinic_changes"]["clinics"] < (last.clinics["weight_source"] == "own_patients").sum()).all()


def test_reallocation_share_formula():
    assert sb.reallocation_share([50, 50], [50, 50]) == 0
    assert sb.reallocation_share([60, 40], [40, 60]) == pytest.approx(0.2)
    assert sb.reallocation_share([1, 1, 2], [2, 2, 4]) == pytest.approx(0)  # shares, not levels


def test_change_is_split_into_coefficients_population_and_interaction(stability_result):
    cy = stability_result.tables["capacity_by_year"].dropna(subset=["change_exact"])
    total = cy["change_due_to_coefficients"] + cy["change_due_to_population"] + cy["change_interaction"]
    np.testing.assert_allclose(total, cy["change_exact"], atol=1e-9)
    re = stability_result.tables["reallocation"]
    assert (re["reallocation_share"] > 0).all() and (re["reallocation_share"] < 0.2).all()
    assert (re["reallocation_coefficients"] >= 0).all() and (re["reallocation_population"] >= 0).all()
    cb = stability_result.tables["coefficients_by_year"]
    later = cb[cb["year"] > 2021]
    np.testing.assert_allclose(later["change"], later["estimate"] - later["previous_estimate"])


def test_a_year_identical_to_the_previous_one_moves_nothing(panel_dir, tmp_path):
    """Persons of 2025 copied as 2024 (same fees, same index): every year-on-year change is zero."""
    d = tmp_path / "twins"
    d.mkdir()
    for f in ("clinics.csv", "municipalities.csv", "population_projection.csv"):
        (d / f).write_bytes((panel_dir / f).read_bytes())
    proj = pd.read_csv(panel_dir / "population_projection.csv", dtype={"municipality_code": str})
    p26 = proj[proj["year"] == 2026].assign(year=2025)
    pd.concat([proj[proj["year"] != 2025], p26]).to_csv(d / "population_projection.csv", index=False)
    t = pq.read_table(panel_dir / "persons.parquet", filters=[("year", "=", 2025)])
    t24 = t.set_column(t.schema.get_field_index("year"), "year", pa.array(np.full(t.num_rows, 2024, dtype=np.int16)))
    pq.write_table(pa.concat_tables([t24, t]), d / "persons.parquet")
    pd.DataFrame({"year": [2024, 2025], "index": [100.0, 100.0]}).to_csv(d / "fee_index.csv", index=False)
    cfg = BASE.replace(clinic_rounding_step=50)
    r = sb.run_stability(d, config=cfg, bootstrap_draws=0)
    s = r.tables["summary"].iloc[0]
    assert s["reallocation_share"] == pytest.approx(0, abs=1e-12)
    assert s["health_councils_changed"] == 0
    assert s["clinic_share_moved_50"] == 0 and s["clinic_rank_corr_mean_weight"] == pytest.approx(1)
    cb = r.tables["coefficients_by_year"]
    np.testing.assert_allclose(cb.loc[cb["year"] == 2025, "change"], 0, atol=1e-8)
    assert r.tables["bootstrap_health_council"].empty


def test_rounding_step_changes_how_often_numbers_move(stability_result):
    rs = stability_result.tables["rounding_step_effect"]
    for (_, _), g in rs.groupby(["year_from", "year_to"]):
        g = g.set_index("rounding_step")
        assert g.loc[1, "share_changed"] >= g.loc[100, "share_changed"]
        assert g.loc[10, "share_changed"] >= g.loc[100, "share_changed"]
    cc = stability_result.tables["clinic_changes"]
    assert ((cc["share_moved_50"] >= 0) & (cc["share_moved_50"] <= 1)).all()
    assert (cc["rank_corr_mean_weight"] > 0.3).all()


def test_check_stability_parameters():
    assert sb.check_stability_parameters("2021-2025")["years"] == [2021, 2022, 2023, 2024, 2025]
    assert sb.check_stability_parameters("2023,2025", rounding_steps="50")["rounding_steps"] == [50]
    for bad in ({"years": "2025"}, {"years": "twenty"}, {"years": "2021-2025", "bootstrap_draws": 5},
                {"years": "2021-2025", "alpha": 0.7}, {"years": "2021-2025", "rounding_steps": "0"}):
        with pytest.raises(ValueError):
            sb.check_stability_parameters(**bad)


def test_cli_stability_writes_tables_and_manifest(panel_dir, tmp_path):
    out = tmp_path / "stab"
    r = subprocess.run([sys.executable, "-m", "model", "stability", "--data", str(panel_dir), "--out", str(out),
                        "--years", "2023-2025", "--bootstrap", "30", "--no-validate"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "stability 2023-2025" in r.stdout
    files = {p.name for p in out.iterdir()}
    assert files == {f"{n}.csv" for n in sb.TABLE_COLUMNS} | {"manifest.json"}
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"] == "stability" and m["facts"]["years"] == [2023, 2024, 2025]
    assert set(m["outputs"]) == {f"{n}.csv" for n in sb.TABLE_COLUMNS}
    t = sb.read_tables(out)
    assert list(t["summary"].columns) == sb.TABLE_COLUMNS["summary"]
    assert t["bootstrap_clinics"]["clinic_id"].str.len().eq(6).all()  # IDs stay strings with their zeros
