"""Sensitivity variants (model.analyses.sensitivity): each changes what it claims and only that; equal to base is identical."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from model.analyses import panel as apanel
from model.analyses import sensitivity as se
from model.analyses import stability as sb
from model.analyses.fit import run_model
from model.config import VARIANTS, ModelConfig, engine_variants
from model.core import cells
from model.core import chain as mc
from model.core import features as ft
from model.core import weights as wt
from model.inputs import reference
from model.inputs.tables import load_inputs, price_factor

ROOT = Path(__file__).resolve().parents[2]
BASE = ModelConfig()


def _with_labour_status_after_67(inputs):
    """Give some citizens over 67 a labour-market status, as an extract without the upper age limit would."""
    p = inputs.persons
    rng = np.random.default_rng(0)
    old = (p["age"] > 67).to_numpy()
    ls = p["labour_status"].astype(str).to_numpy().copy()
    pick = old & (rng.random(len(p)) < 0.12)
    ls[pick] = np.where(rng.random(int(pick.sum())) < 0.7, "permanently_outside", "temporarily_outside")
    inputs.persons = p.assign(labour_status=ls)
    return inputs


@pytest.fixture(scope="module")
def years(panel_dir):
    out = {}
    for y in (2024, 2025):
        i = _with_labour_status_after_67(load_inputs(panel_dir, y, hashes=False))
        out[y] = cells.year_from_inputs(i, y, factor=price_factor(panel_dir, y, 2025))
    return out


@pytest.fixture(scope="module")
def result(years):
    panel = apanel.Panel.from_years(years)
    extra = {"same_as_base": BASE.replace(chronic_fee_share=1.0, rounding="up"), "base_replaced": BASE.replace()}
    return se.run_sensitivity(panel, config=BASE, train_year=2024, test_year=2025, extra_variants=extra)


def test_every_variant_declares_exactly_its_changes():
    for name, v in VARIANTS.items():
        cfg = BASE.variant(name)
        assert set(BASE.diff(cfg)) == set(v["changes"]), name
        stages = se.variant_stages(BASE, name)
        assert "other" not in stages, f"{name}: a changed field has no stage in FIELD_STAGES"
        assert (name == "base") == (not stages)


def test_all_variants_run(result):
    assert not result.facts["errors"], result.facts["errors"]
    s = result.tables["summary"]
    assert set(s["variant"]) == set(engine_variants()) | {"same_as_base", "base_replaced"}
    assert set(result.tables["fit_out_of_sample"]["variant"]) == set(s["variant"])


def _uses_same_fit(a, b):
    return list(a.params.index) == list(b.params.index) and np.array_equal(a.params.to_numpy(), b.params.to_numpy())


@pytest.mark.parametrize("name", [v for v in engine_variants() if v != "base"])
def test_each_variant_changes_what_it_claims_and_only_that(result, name):
    fb, fv = result.fits["base"], result.fits[name]
    cb, cv = result.chains["base"], result.chains[name]
    cfg = BASE.variant(name)
    stages = se.variant_stages(BASE, name)
    fit_stages = stages & {"sample", "outcome", "design", "estimator"}
    hc_b, hc_v = cb.by_health_council, cv.by_health_council
    if fit_stages:
        assert not _uses_same_fit(fb, fv), f"{name} claims to change the fit but the coefficients are the base's"
    else:
        assert _uses_same_fit(fb, fv), f"{name} changes the coefficients though it claims stages {stages}"
    # terms: only a design variant changes them, and exactly to its own term names
    if "design" in stages:
        assert list(fv.params.index) == ft.term_names(cfg)
        changed = set(fv.params.index) ^ set(fb.params.index)
        assert changed or name in ("labour_16_plus",), name
    else:
        assert list(fv.params.index) == list(fb.params.index)
    # sample: the persons in the fit change only for a sample variant
    if "sample" in stages:
        assert fv.nobs > fb.nobs
    else:
        assert fv.nobs == fb.nobs
    # outcome: Σy² changes only for an outcome variant (same persons, same y otherwise)
    if "outcome" in stages:
        assert fv.uncentered_tss != fb.uncentered_tss
    elif "sample" not in stages:
        assert fv.uncentered_tss == pytest.approx(fb.uncentered_tss, rel=1e-12)
    # inference: only the standard errors change
    if stages == {"inference"}:
        assert not np.allclose(fv.bse, fb.bse)
    # weights: the life-expectancy factors change only for a weights variant
    le_same = cv.life_expectancy["life_expectancy_factor"].equals(cb.life_expectancy["life_expectancy_factor"])
    assert le_same == ("weights" not in stages) or name == "life_expectancy_by_sex"
    # capacities
    exact_same = np.array_equal(hc_v["capacities_exact"].to_numpy(), hc_b["capacities_exact"].to_numpy())
    if stages & {"sample", "outcome", "design", "estimator", "weights", "normalisation"}:
        assert not exact_same, f"{name} leaves every exact capacity unchanged"
    else:
        assert exact_same
    if stages == {"rounding"}:
        assert (hc_v["capacities"].to_numpy() != hc_b["capacities"].to_numpy()).any()
        from model.core.capacity import round_capacity

        assert (hc_v["capacities"].to_numpy() == round_capacity(hc_v["capacities_exact"].to_numpy(), cfg)).all()
        assert cv.clinics["minimum_patients"].equals(cb.clinics["minimum_patients"])
    # the counted allocation never depends on the model
    assert hc_v["counted_allocation"].equals(hc_b["counted_allocation"])


def test_labour_variant_reaches_only_citizens_over_67(years):
    yd = years[2025]
    a = cells.features(yd, BASE)
    b = cells.features(yd, BASE.variant("labour_16_plus"))
    fa = a.factors.iloc[a.cell_of_atom].reset_index(drop=True)
    fb = b.factors.iloc[b.cell_of_atom].reset_index(drop=True)
    diff = (fa["labour"] != fb["labour"]).to_numpy()
    assert diff.any()
    assert (yd.atoms["age"].to_numpy()[diff] > 67).all()
    assert (fa.drop(columns="labour") == fb.drop(columns="labour")).all().all()


def test_a_variant_equal_to_the_base_gives_identical_outputs(result):
    for same in ("same_as_base", "base_replaced"):
        assert _uses_same_fit(result.fits["base"], result.fits[same])
        np.testing.assert_array_equal(result.fits["base"].bse, result.fits[same].bse)
        for attr in ("by_health_council", "by_municipality", "clinics", "life_expectancy"):
            pd.testing.assert_frame_equal(getattr(result.chains["base"], attr), getattr(result.chains[same], attr))
        t = result.tables
        c = t["capacity_by_variant"]
        assert (c.loc[c["variant"] == same, "change_exact"] == 0).all()
        assert not c.loc[c["variant"] == same, "headroom_sign_changed"].any()
        s = t["summary"].set_index("variant")
        assert s.loc[same, "identical_to_base"] and s.loc[same, "changes"] == "{}"
        assert s.loc[same, "reallocation_share"] == 0 and s.loc[same, "clinic_share_changed"] == 0
        o = t["fit_out_of_sample"].set_index("variant")
        pd.testing.assert_series_equal(o.loc[same], o.loc["base"], check_names=False)
        k = t["coefficients_by_variant"]
        assert (k.loc[k["variant"] == same, "change"] == 0).all()


def test_out_of_sample_statistics_match_a_direct_person_level_computation(panel_dir, result):
    """Fit on 2024 (fees at 2025 prices), predict each 2025 person of the estimation sample from their characteristics."""
    fit24 = run_model(load_inputs(panel_dir, 2024, hashes=False, price_year=2025),
                      BASE.replace(year=2024, planning_year=2025)).fits["base"]
    i25 = load_inputs(panel_dir, 2025, hashes=False)
    p = i25.persons[i25.persons["insurance_group"] == 1]
    form = p["clinic_id"].astype(str).map(i25.clinics.set_index("clinic_id")["practice_form"])
    p = p[~form.isin(["regional", "tender"]).to_numpy()]
    X = ft.design_matrix(ft.person_factors(p, BASE), BASE)
    y = ft.outcome(p, BASE)
    yhat = X.to_numpy(float) @ fit24.params[X.columns].to_numpy()
    r2 = 1 - ((y - yhat) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    cpm = 1 - np.abs(y - yhat).sum() / np.abs(y - y.mean()).sum()
    mae = np.abs(y - yhat).mean()
    # the fixture's persons over 67 carry a labour status, which the base ignores: same numbers as the raw data
    o = result.tables["fit_out_of_sample"].set_index("variant").loc["base"]
    assert o["persons_test"] == len(y)
    assert o["r2_oos"] == pytest.approx(r2, rel=1e-9)
    assert o["cpm_oos"] == pytest.approx(cpm, rel=1e-9)
    assert o["mae_oos"] == pytest.approx(mae, rel=1e-9)
    assert o["r2_in_sample"] == pytest.approx(result.fits["base"].rsquared, rel=1e-9)
    assert o["r2_oos"] < o["r2_in_sample"]


def test_headroom_sign_changes_are_listed(result):
    c = result.tables["capacity_by_variant"]
    flips = c[c["headroom_sign_changed"]]
    h = result.tables["headroom_sign_changes"]
    assert len(flips) == len(h)
    assert set(zip(flips["variant"], flips["health_council"])) == set(zip(h["variant"], h["health_council"]))
    assert ((h["base_headroom"] > 0) != (h["headroom"] > 0)).all()
    s = result.tables["summary"].set_index("variant")
    assert (s["headroom_sign_changes"].fillna(0) == c.groupby("variant")["headroom_sign_changed"].sum().reindex(s.index)).all()


# --- life expectancy variants ------------------------------------------------------------------------------


def test_life_expectancy_variants_file_is_the_documented_derivation():
    shipped = pd.read_csv(wt.LIFE_EXPECTANCY_VARIANTS, comment="#", dtype={"municipality_code": str})
    derived = se.derive_life_expectancy_variants(reference.municipalities())
    pd.testing.assert_frame_equal(shipped, derived, check_dtype=False, atol=1e-9)
    header = wt.LIFE_EXPECTANCY_VARIANTS.read_text(encoding="utf-8").split("municipality_code")[0]
    assert "NOT published" in header and "HISBK" in header and "Assumption" in header and "Gompertz" in header
    m = reference.municipalities().merge(shipped, on="municipality_code")
    have = m["life_expectancy_at_birth"].notna()
    assert (have == m["remaining_life_expectancy_65"].notna()).all() and (~have).sum() == 4
    pooled = (m["life_expectancy_at_birth_men"] + m["life_expectancy_at_birth_women"]) / 2
    np.testing.assert_allclose(pooled[have], m.loc[have, "life_expectancy_at_birth"], atol=0.011)
    assert (m.loc[have, "life_expectancy_at_birth_women"] > m.loc[have, "life_expectancy_at_birth_men"]).all()
    assert m.loc[have, "remaining_life_expectancy_65"].between(15, 25).all()
    # ranks: remaining life expectancy at 65 follows life expectancy at birth
    assert m.loc[have, ["life_expectancy_at_birth", "remaining_life_expectancy_65"]].corr(method="spearman").iloc[0, 1] > 0.99


def test_gompertz_reproduces_the_national_figures():
    for e0, e60 in se.NATIONAL_LIFE_TABLE.values():
        a, b = se._fit_gompertz(e0, e60)
        assert float(se._gompertz_e(0, a, b)) == pytest.approx(e0, abs=1e-6)
        assert float(se._gompertz_e(60, a, b)) == pytest.approx(e60, abs=1e-6)


def test_life_expectancy_by_sex_factors():
    m = reference.municipalities()
    cfg = BASE.variant("life_expectancy_by_sex")
    t = wt.life_expectancy_factors(m, cfg).set_index("municipality_code")
    v = pd.read_csv(wt.LIFE_EXPECTANCY_VARIANTS, comment="#", dtype={"municipality_code": str}).set_index("municipality_code")
    have = v["life_expectancy_at_birth_men"].notna()
    pop = m.set_index("municipality_code")["population_2026_01_01"].astype(float)
    national_men = (v.loc[have, "life_expectancy_at_birth_men"] * pop[have]).sum() / pop[have].sum()
    men_101 = v.loc["101", "life_expectancy_at_birth_men"]
    assert t.loc["101", "life_expectancy_factor_men"] == pytest.approx(national_men / men_101)
    # citizens get the factor of their own sex
    f = wt.citizen_factors(t.reset_index(), ["101", "147"], np.array([0, 0, 1]), np.array([1, 2, 2]), cfg)
    assert f.tolist() == pytest.approx([t.loc["101", "life_expectancy_factor_men"], t.loc["101", "life_expectancy_factor_women"],
                                        t.loc["147", "life_expectancy_factor_women"]])
    # the base is untouched by the new columns
    b = wt.life_expectancy_factors(m, BASE)
    assert list(b.columns) == ["municipality_code", "life_expectancy", "life_expectancy_imputed", "life_expectancy_factor"]
    with pytest.raises(ValueError, match="life_expectancy_column"):
        BASE.replace(life_expectancy_column="life_expectancy_at_90")


def test_run_model_with_remaining_life_expectancy_at_65_by_sex(panel_dir):
    cfg = BASE.variant("life_expectancy_65_by_sex")
    run = run_model(load_inputs(panel_dir, 2025, hashes=False), cfg, variant="life_expectancy_65_by_sex")
    yd = apanel.read_year(panel_dir, 2025)
    ch = mc.chain(yd, cfg, cells.fit(yd, cfg).params)
    np.testing.assert_allclose(run.tables["capacity_by_health_council"]["capacities_exact"],
                               ch.by_health_council["capacities_exact"], rtol=1e-10)
    m = run.tables["capacity_by_municipality"]
    assert (m["mean_weight"] * m["citizens"]).sum() / m["citizens"].sum() == pytest.approx(1.0, abs=1e-12)


# --- command line and notebooks -----------------------------------------------------------------------------


def test_cli_sensitivity(panel_dir, tmp_path):
    out = tmp_path / "sens"
    r = subprocess.run([sys.executable, "-m", "model", "sensitivity", "--data", str(panel_dir), "--out", str(out),
                        "--variants", "rounding_nearest,no_sex,cancer_10y", "--no-validate"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "3 variants against the base" in r.stdout
    assert {p.name for p in out.iterdir()} == {f"{n}.csv" for n in se.TABLE_COLUMNS} | {"manifest.json"}
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"] == "sensitivity" and m["facts"]["train_year"] == 2024 and m["facts"]["test_year"] == 2025
    t = sb.read_tables(out)
    assert t["summary"]["variant"].tolist() == ["base", "rounding_nearest", "no_sex", "cancer_10y"]
    r = subprocess.run([sys.executable, "-m", "model", "sensitivity", "--data", str(panel_dir), "--out", str(out),
                        "--variants", "no_such_variant", "--no-validate"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "unknown variant" in r.stderr


NOTEBOOKS = {"stability.ipynb": {"year", "data_dir", "run_dir", "years", "bootstrap_draws", "seed", "alpha",
                                 "rounding_steps", "clinic_rounding_step", "settings"},
             "sensitivity.ipynb": {"year", "data_dir", "run_dir", "variants", "train_year", "test_year", "settings"}}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_stripped_thin_and_parameterised(name):
    import ast

    import papermill as pm

    path = ROOT / "notebooks" / name
    raw = json.loads(path.read_text(encoding="utf-8"))
    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "fordelingsmodel"
    for c in raw["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for stmt in ast.parse(nb.cells[tagged[0]].source).body:
        assert isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant), ast.unparse(stmt)
    nxt = next(c for c in nb.cells[tagged[0] + 1:] if c.cell_type == "code")
    assert "ModelConfig().replace(" in nxt.source and re.search(r"check_(stability|sensitivity)_parameters\(", nxt.source)
    for c in nb.cells:
        if c.cell_type == "code":
            tree = ast.parse(c.source)
            assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
    assert set(pm.inspect_notebook(str(path))) == NOTEBOOKS[name]
