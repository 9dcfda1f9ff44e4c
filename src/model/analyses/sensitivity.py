"""Sensitivity analyses (docs/method.md step 8): each consultation objection as a variant, side by side with the base.

A variant is the base :class:`~model.config.ModelConfig` with fields
replaced (:data:`model.config.VARIANTS`); where it needs a feature built
differently, the features module builds it from the same persons (e.g. the
civil-status term, the somatic-disease bins).  Every variant is run on the
reference year through the engine of :mod:`model.analyses.stability` (persons read
once, factors and cells per distinct feature configuration, exact OLS on
cells) and compared with the base:

* capacities per health council (exact and rounded), and which health
  councils' headroom changes sign (``may_allocate_new`` flips);
* clinic minimum numbers (distribution of the change);
* fit statistics out of sample: the variant is fitted on ``train_year``
  (fees at the reference year's price level) and predicts each person of
  ``test_year`` from their cell (ŷ = the cell's prediction); R² = 1 -
  Σ(y-ŷ)²/Σ(y-ȳ)², Cumming's prediction measure CPM = 1 - Σ|y-ŷ|/Σ|y-ȳ|
  and the mean absolute prediction error Σ|y-ŷ|/n, each on the variant's
  own outcome and estimation sample in the held-out year.

Which stage of the chain a variant touches follows from the fields it
changes (:data:`FIELD_STAGES`); :func:`variant_stages` names them, and the
tests check that a variant changes its stage's outputs and nothing upstream.

Life expectancy: the method's variants need municipal remaining life
expectancy at 65 and life expectancy by sex, which are not in the public
reference data; :func:`derive_life_expectancy_variants` derives them (see its
docstring) into ``src/model/data/life_expectancy_variants.csv``.

Separate somatic disease terms cannot be run: ``persons.parquet`` carries
only the count of selected chronic somatic diseases
(``data_schema/persons.schema.yaml``); ``somatic_each_count`` (0/1/2/3/4+)
is the finest split the data allow.

Outputs of :func:`run_sensitivity` (written by :func:`write_sensitivity`):
``summary.csv`` (one row per variant), ``capacity_by_variant.csv``,
``clinic_change_by_variant.csv``, ``fit_out_of_sample.csv``,
``headroom_sign_changes.csv``, ``coefficients_by_variant.csv``; columns in
:data:`TABLE_COLUMNS`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses import panel as apanel
from model.analyses import stability as sb
from model.config import VARIANTS, ModelConfig, engine_variants
from model.core import cells
from model.core import chain as mc
from model.core.regression import CellOLSResults
from model.core.weights import LIFE_EXPECTANCY_VARIANTS
from model.errors import ConfigError
from model.inputs import reference

__all__ = [
    "FIELD_STAGES", "variant_stages", "variant_config", "run_sensitivity", "SensitivityResult", "write_sensitivity",
    "evaluate", "summary_table", "appendix_tables", "derive_life_expectancy_variants",
    "write_life_expectancy_variants", "check_sensitivity_parameters", "TABLE_COLUMNS", "NOT_RUN",
]

#: The stage of the chain each configuration field acts on (what a variant changing it may change).
FIELD_STAGES: dict[str, str] = {
    "insurance_group": "sample", "excluded_practice_forms": "sample",
    "chronic_fee_share": "outcome", "exclude_local_services": "outcome", "chronic_fee_treatment": "outcome",
    "chronic_impute_by": "outcome", "person_year_weights": "outcome",
    **{f: "design" for f in cells.FEATURE_FIELDS}, "reference_age_band": "design", "reference_sex": "design",
    "cov_type": "inference", "clinic_fixed_effects": "estimator",
    "life_expectancy_column": "weights", "life_expectancy_by_sex": "weights", "life_expectancy_correction": "weights",
    "normalise_weights": "normalisation",
    "citizens_per_capacity": "capacities", "km2_per_capacity": "capacities", "island_min_patients": "capacities",
    "planning_year": "capacities",
    "rounding": "rounding", "rounding_tolerance": "rounding",
    "clinic_rounding_step": "clinics", "clinic_cap": "clinics",
    "civil_status_term": "design",
    "year": "sample", "min_cell_size": "reporting", "national_goal_gps": "reporting",
}
#: Fields that change the fitted coefficients (a fit is reused across variants that agree on all of them).
FIT_FIELDS = tuple(f for f, s in FIELD_STAGES.items() if s in ("sample", "outcome", "design", "estimator", "inference"))

#: Analyses of docs/method.md step 8 that the data cannot support, with the reason (reported in the manifest).
NOT_RUN: dict[str, str] = {
    "somatic_separate_diseases": "persons.parquet holds only the count of selected chronic somatic diseases, not the "
                                 "diseases themselves; somatic_each_count (0/1/2/3/4+) is the finest split available.",
}


#: Why a variant can leave every number unchanged on a data set (reported when it does).
NO_EFFECT_REASONS: dict[str, str] = {
    "labour_16_plus": "labour_status is 'not_applicable' outside ages 16-67 in persons.parquet (the extract's upper "
                      "age is a parameter of the extract, data_schema/persons.schema.yaml): the variant needs an "
                      "extract made without the upper limit.",
    "clustered_se": "changes standard errors only.",
    "person_year_weighted": "every citizen was resident the whole year (days_resident is 365 or 366 throughout).",
}


def variant_config(base: ModelConfig, name: str) -> ModelConfig:
    """The configuration of variant ``name`` on top of ``base`` (``base`` itself for 'base')."""
    return base if name == "base" else base.variant(name)


def variant_stages(base: ModelConfig, name_or_config: str | ModelConfig) -> set[str]:
    """The stages a variant touches: from the fields in which its configuration differs from ``base``."""
    cfg = variant_config(base, name_or_config) if isinstance(name_or_config, str) else name_or_config
    return {FIELD_STAGES.get(f, "other") for f in base.diff(cfg)}


def _fit_key(config: ModelConfig) -> tuple:
    return tuple(getattr(config, f) for f in FIT_FIELDS if f not in ("year", "planning_year"))


def evaluate(yd: cells.YearData, config: ModelConfig, params: pd.Series) -> dict[str, float]:
    """R², CPM and mean absolute error of ``params`` on the year's estimation sample of ``config``.

    ŷ of a person is the prediction of their cell (vectorised gathers; no
    loop over persons).  y is ``config``'s outcome at the panel's price level.
    Σ(y-ŷ)² comes exactly from the cells' sums, Σ|y-ŷ| from the persons.
    """
    fc = cells.features(yd, config)
    pred_cell = mc.cell_predictions(fc, config, params)
    key = ("evaluate_y", config.chronic_fee_treatment, config.chronic_impute_by, tuple(config.age_bands),
           config.chronic_fee_share, config.exclude_local_services, config.excluded_practice_forms)
    if key not in yd.cache:
        mask = cells.sample_mask(yd, config)
        y = cells.outcome(yd, config)
        atom = yd.atom
        if not mask.all():
            y, atom = y[mask], atom[mask]
        ybar = float(y.mean())
        d = y - ybar
        yd.cache[key] = (y, atom, ybar, float(np.abs(d).sum()), float(d @ d))
        del d
    y, atom, ybar, sad, sst = yd.cache[key]
    n = len(y)
    e = y - pred_cell[fc.cell_of_atom][atom]
    np.abs(e, out=e)
    sae = float(e.sum())
    del e
    # Σ(y-ŷ)² = Σ_cells (Σy² - 2ŷΣy + nŷ²), with ŷ the cell's prediction
    cn, csy, csyy = cells.cell_sums(yd, fc, config)
    sse = float((csyy - 2 * pred_cell * csy + cn * pred_cell**2).sum())
    return {"persons": int(n), "r_squared": 1 - sse / sst, "cpm": 1 - sae / sad, "mae": sae / n, "mean_use": ybar}


@dataclass
class SensitivityResult:
    """Result of :func:`run_sensitivity`: the tables (see :data:`TABLE_COLUMNS`) and run facts."""

    config: ModelConfig
    variants: list[str]
    year: int
    train_year: int | None
    test_year: int | None
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    facts: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    chains: dict[str, mc.ChainResult] = field(default_factory=dict, repr=False)
    fits: dict[str, CellOLSResults] = field(default_factory=dict, repr=False)


def check_sensitivity_parameters(variants: Sequence[str] | None = None, year: int | None = None, train_year: int | None = None,
                     test_year: int | None = None) -> list[str]:
    """Validate notebook/CLI parameters; returns the variant list (all named variants by default)."""
    names = [v for v in engine_variants() if v != "base"] if variants is None else list(variants)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    for label, v in (("year", year), ("train_year", train_year), ("test_year", test_year)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError(f"{label} must be a year (int), got {v!r}")
    if train_year is not None and test_year is not None and train_year == test_year:
        raise ConfigError("train_year and test_year must differ (the test year is held out)")
    return [v for v in names if v != "base"]


def run_sensitivity(data: str | Path | apanel.Panel, variants: Sequence[str] | None = None, config: ModelConfig | None = None,
                    year: int | None = None, train_year: int | None = None, test_year: int | None = None,
                    extra_variants: dict[str, ModelConfig] | None = None) -> SensitivityResult:
    """Run the base and every variant on the reference year and compare them (docs/method.md step 8).

    In: a data folder or :class:`~model.analyses.panel.Panel`; variant names of
    :data:`model.config.VARIANTS` (default: all); the base configuration
    (default ``ModelConfig()``; its ``year`` is the reference year unless
    ``year`` is given); ``train_year``/``test_year`` for the out-of-sample fit
    statistics (default: the year before the reference year and the
    reference year; None or a year not in the data skips them);
    ``extra_variants`` adds configurations by name (e.g. a variant equal to
    the base, for checks).
    Out: :class:`SensitivityResult` with the tables of :data:`TABLE_COLUMNS`.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    base = config or ModelConfig()
    names = check_sensitivity_parameters(variants, year, train_year, test_year)
    if year is not None:
        base = mc.year_config(base, year)
    year = base.year
    configs: dict[str, ModelConfig] = {"base": base}
    for v in names:
        configs[v] = variant_config(base, v)
    for v, c in (extra_variants or {}).items():
        configs[v] = mc.year_config(c, year) if c.year != year else c
    own_panel = not isinstance(data, apanel.Panel)
    panel = apanel.Panel(data, None) if own_panel else data
    if train_year is None and test_year is None and (year - 1) in panel.years:
        train_year, test_year = year - 1, year
    oos = train_year is not None and test_year is not None and train_year in panel.years and test_year in panel.years
    panel.want([year] + ([train_year, test_year] if oos else []))
    yd = panel.get(year)
    timings["read"] = round(panel.read_seconds, 3)

    fits: dict[str, CellOLSResults] = {}
    chains: dict[str, mc.ChainResult] = {}
    errors: dict[str, str] = {}
    fit_cache: dict[tuple, CellOLSResults] = {}
    for v, c in configs.items():
        t0 = time.perf_counter()
        try:
            key = (year, _fit_key(c))
            if key not in fit_cache:
                fit_cache[key] = cells.fit(yd, c)
            fits[v] = fit_cache[key]
            chains[v] = mc.chain(yd, c, fits[v].params)
        except ValueError as e:
            if v == "base":
                raise
            errors[v] = str(e)
        timings[f"variant_{v}"] = round(time.perf_counter() - t0, 3)

    oos_rows = []
    if oos:
        t0 = time.perf_counter()
        yd_train = panel.get(train_year)
        yd_test = yd if test_year == year else panel.get(test_year)
        train_cache: dict[tuple, CellOLSResults] = {}
        for v, c in configs.items():
            if v in errors:
                continue
            try:
                ct = mc.year_config(c, train_year)
                key = _fit_key(ct)
                if key not in train_cache:
                    ft_train = cells.fit(yd_train, ct)
                    train_cache[key] = (ft_train, evaluate(yd_test, mc.year_config(c, test_year), ft_train.params),
                                        evaluate(yd, c, fits[v].params))
                ft_train, ev, ins = train_cache[key]
            except ValueError as e:
                errors[v] = f"out-of-sample: {e}"
                continue
            oos_rows.append({
                "variant": v, "train_year": train_year, "test_year": test_year, "persons_train": int(ft_train.nobs),
                "persons_test": ev["persons"], "terms": len(ft_train.params),
                "r2_in_sample": ins["r_squared"], "cpm_in_sample": ins["cpm"], "mae_in_sample": ins["mae"],
                "r2_oos": ev["r_squared"], "cpm_oos": ev["cpm"], "mae_oos": ev["mae"], "mean_use_test": ev["mean_use"],
            })
        timings["out_of_sample"] = round(time.perf_counter() - t0, 3)
        timings["read"] = round(panel.read_seconds, 3)
    if own_panel:
        panel.close()
    t0 = time.perf_counter()
    tables = _tables(configs, fits, chains, errors, pd.DataFrame(oos_rows), base)
    timings["tables"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    sm = tables["summary"]
    no_effect = sm.loc[(sm["variant"] != "base") & sm["identical_to_base"].fillna(False).astype(bool)
                       & ~sm["stages"].fillna("").isin(["inference", "reporting"]), "variant"].tolist()
    facts = {"year": year, "train_year": train_year if oos else None, "test_year": test_year if oos else None,
             "price_year": panel.price_year, "variants": list(configs), "errors": errors, "not_run": NOT_RUN,
             "no_effect_on_these_data": {v: NO_EFFECT_REASONS.get(v, "the data carry nothing this variant changes")
                                         for v in no_effect},
             "persons": int(yd.persons)}
    return SensitivityResult(config=base, variants=list(configs), year=year, train_year=train_year if oos else None,
                             test_year=test_year if oos else None, tables=tables, timings=timings, facts=facts,
                             files=dict(panel.files), chains=chains, fits=fits)


def _identical(f: CellOLSResults, fb: CellOLSResults, ch: mc.ChainResult, b: mc.ChainResult) -> bool:
    """True when a variant's coefficients, capacities and clinic numbers equal the base's exactly."""
    same_fit = list(f.params.index) == list(fb.params.index) and np.array_equal(f.params.to_numpy(), fb.params.to_numpy())
    hc, bhc = ch.by_health_council, b.by_health_council
    same_hc = (np.array_equal(hc["capacities_exact"].to_numpy(), bhc["capacities_exact"].to_numpy())
               and np.array_equal(hc["capacities"].to_numpy(), bhc["capacities"].to_numpy()))
    same_cl = np.array_equal(ch.clinics["minimum_patients"].to_numpy(), b.clinics["minimum_patients"].to_numpy())
    return bool(same_fit and same_hc and same_cl)


def _tables(configs, fits, chains, errors, oos: pd.DataFrame, base: ModelConfig) -> dict[str, pd.DataFrame]:
    k = base.min_cell_size
    b = chains["base"]
    bhc = b.by_health_council.set_index("health_council")
    cap_rows, clin_rows, sign_rows, coef_rows, summ = [], [], [], [], []
    for v, c in configs.items():
        label = VARIANTS.get(v, {}).get("label", v)
        changes = json.dumps({f: d[1] for f, d in base.diff(c).items()}, ensure_ascii=False)
        stages = ";".join(sorted(variant_stages(base, c)))
        if v not in chains:
            summ.append({"variant": v, "label": label, "stages": stages, "changes": changes, "error": errors.get(v)})
            continue
        ch = chains[v]
        hc = ch.by_health_council.set_index("health_council").reindex(bhc.index)
        t = pd.DataFrame({
            "variant": v, "health_council": bhc.index, "weighted_citizens": hc["weighted_citizens"].to_numpy(),
            "share_weighted_citizens": (hc["weighted_citizens"] / hc["weighted_citizens"].sum()).to_numpy(),
            "capacities_exact": hc["capacities_exact"].to_numpy(), "capacities": hc["capacities"].to_numpy(),
            "counted_allocation": hc["counted_allocation"].to_numpy(), "headroom": hc["headroom"].to_numpy(),
            "may_allocate_new": hc["may_allocate_new"].to_numpy(),
            "base_capacities_exact": bhc["capacities_exact"].to_numpy(), "base_capacities": bhc["capacities"].to_numpy(),
            "base_headroom": bhc["headroom"].to_numpy(), "base_may_allocate_new": bhc["may_allocate_new"].to_numpy(),
        })
        t["change_exact"] = t["capacities_exact"] - t["base_capacities_exact"]
        t["change_pct"] = 100 * t["change_exact"] / t["base_capacities_exact"]
        t["change"] = t["capacities"] - t["base_capacities"]
        t["headroom_sign_changed"] = t["may_allocate_new"] != t["base_may_allocate_new"]
        cap_rows.append(t)
        flips = t[t["headroom_sign_changed"]]
        for _, r in flips.iterrows():
            sign_rows.append({"variant": v, "label": label, "health_council": r["health_council"],
                              "base_headroom": r["base_headroom"], "headroom": r["headroom"],
                              "base_capacities": r["base_capacities"], "capacities": r["capacities"],
                              "base_may_allocate_new": r["base_may_allocate_new"], "may_allocate_new": r["may_allocate_new"]})
        pairs = sb._clinic_pairs(b.clinics, ch.clinics, k)
        st = sb.clinic_change_stats(pairs)
        clin_rows.append({"variant": v, "rounding_step": c.clinic_rounding_step, **st})
        sf = fits[v].summary_frame()
        sf.insert(0, "variant", v)
        coef_rows.append(sf)
        summ.append({
            "variant": v, "label": label, "stages": stages, "changes": changes,
            "capacities": int(t["capacities"].sum()), "capacities_change": int(t["change"].sum()),
            "reallocation_share": sb.reallocation_share(bhc["weighted_citizens"].to_numpy(), t["weighted_citizens"].to_numpy()),
            "max_abs_change": int(t["change"].abs().max()), "max_abs_change_pct": float(t["change_pct"].abs().max()),
            "health_councils_changed": int((t["change"] != 0).sum()),
            "headroom_sign_changes": int(t["headroom_sign_changed"].sum()),
            "headroom_sign_changed_councils": "; ".join(flips["health_council"]),
            "clinics_compared": st.get("clinics"), "clinic_share_changed": st.get("share_changed"),
            "clinic_mean_abs_change": st.get("mean_abs_change"), "clinic_median_change": st.get("median"),
            "clinic_share_moved_50": st.get("share_moved_50"), "clinic_share_moved_5pct": st.get("share_moved_5pct"),
            "persons_fit": int(fits[v].nobs), "terms": len(fits[v].params), "r2_in_sample": float(fits[v].rsquared),
            "identical_to_base": _identical(fits[v], fits["base"], ch, b),
            "error": errors.get(v),
        })
    summary = pd.DataFrame(summ)
    if len(oos):
        summary = summary.merge(oos[["variant", "r2_oos", "cpm_oos", "mae_oos"]], on="variant", how="left")
    else:
        summary = summary.assign(r2_oos=np.nan, cpm_oos=np.nan, mae_oos=np.nan)
    coefs = pd.concat(coef_rows, ignore_index=True)
    base_est = coefs[coefs["variant"] == "base"].set_index("term")["estimate"]
    coefs["base_estimate"] = coefs["term"].map(base_est)
    coefs["change"] = coefs["estimate"] - coefs["base_estimate"]
    return {
        "summary": summary.reindex(columns=TABLE_COLUMNS["summary"]),
        "capacity_by_variant": pd.concat(cap_rows, ignore_index=True),
        "clinic_change_by_variant": pd.DataFrame(clin_rows),
        "fit_out_of_sample": oos if len(oos) else pd.DataFrame(columns=TABLE_COLUMNS["fit_out_of_sample"]),
        "headroom_sign_changes": pd.DataFrame(sign_rows, columns=TABLE_COLUMNS["headroom_sign_changes"]),
        "coefficients_by_variant": coefs,
    }


#: Columns of every output table (the annual report's section 7 reads these).
TABLE_COLUMNS: dict[str, list[str]] = {
    "summary": ["variant", "label", "stages", "changes", "capacities", "capacities_change", "reallocation_share",
                "max_abs_change", "max_abs_change_pct", "health_councils_changed", "headroom_sign_changes",
                "headroom_sign_changed_councils", "clinics_compared", "clinic_share_changed", "clinic_mean_abs_change",
                "clinic_median_change", "clinic_share_moved_50", "clinic_share_moved_5pct", "persons_fit", "terms",
                "r2_in_sample", "r2_oos", "cpm_oos", "mae_oos", "identical_to_base", "error"],
    "capacity_by_variant": ["variant", "health_council", "weighted_citizens", "share_weighted_citizens",
                            "capacities_exact", "capacities", "counted_allocation", "headroom", "may_allocate_new",
                            "base_capacities_exact", "base_capacities", "base_headroom", "base_may_allocate_new",
                            "change_exact", "change_pct", "change", "headroom_sign_changed"],
    "clinic_change_by_variant": ["variant", "rounding_step", "clinics", "share_changed", "mean_change",
                                 "mean_abs_change", "p05", "p25", "median", "p75", "p95", "share_moved_50",
                                 "share_moved_5pct", "rank_corr_mean_weight"],
    "fit_out_of_sample": ["variant", "train_year", "test_year", "persons_train", "persons_test", "terms",
                          "r2_in_sample", "cpm_in_sample", "mae_in_sample", "r2_oos", "cpm_oos", "mae_oos",
                          "mean_use_test"],
    "headroom_sign_changes": ["variant", "label", "health_council", "base_headroom", "headroom", "base_capacities",
                              "capacities", "base_may_allocate_new", "may_allocate_new"],
    "coefficients_by_variant": ["variant", "term", "estimate", "std_error", "t", "p", "ci_low", "ci_high",
                                "base_estimate", "change"],
}


def write_sensitivity(result: SensitivityResult, out: str | Path, extra: dict | None = None) -> Path:
    """Write the sensitivity tables (CSV) and a manifest to ``out`` atomically."""
    return sb._write_tables("sensitivity", result.tables, TABLE_COLUMNS, result.config, result.files, result.timings,
                            result.facts, out, extra)


# =============================================================================
# For the notebook and the annual report
# =============================================================================


def summary_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Readable summary (one row per variant) for the report."""
    s = tables["summary"]
    s = s[s["variant"] != "base"]
    return pd.DataFrame({
        "Variant": s["label"],
        "Capacities (change)": s["capacities_change"],
        "Capacity moved between health councils (%)": 100 * s["reallocation_share"],
        "Largest change in a health council": s["max_abs_change"],
        "Health councils whose number changes": s["health_councils_changed"],
        "Headroom changes sign in": s["headroom_sign_changed_councils"].fillna(""),
        "Clinics moving ≥ 50 patients (%)": 100 * s["clinic_share_moved_50"],
        "R² out of sample": s["r2_oos"],
        "CPM out of sample": s["cpm_oos"],
        "Mean abs. error (DKK)": s["mae_oos"],
        "Note": [_variant_note(v, same, err) for v, same, err in zip(s["variant"], s["identical_to_base"], s["error"])],
    }).reset_index(drop=True)


def _variant_note(variant: str, identical: Any, error: Any) -> str:
    """Why a variant shows no change, or why it could not run (shown beside it in the report)."""
    if isinstance(error, str) and error:
        return f"Not run: {error}"
    if variant in NO_EFFECT_REASONS and (identical is True or str(identical).lower() == "true"):
        return f"No effect: {NO_EFFECT_REASONS[variant]}"
    return ""


def appendix_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The detail behind the summary, as readable tables: {caption: table} (no person counts below 5)."""
    out: dict[str, pd.DataFrame] = {}
    s = tables["summary"]
    out["A. The variants: what each changes (configuration fields) and which stage of the model"] = \
        s[["variant", "label", "stages", "changes", "identical_to_base", "error"]]
    c = tables["capacity_by_variant"]
    t = c.pivot(index="health_council", columns="variant", values="change")
    out["B. Change in capacities per health council against the base (rounded numbers)"] = \
        t[[v for v in s["variant"] if v in t.columns and v != "base"]].reset_index()
    out["C. Health councils whose headroom changes sign"] = tables["headroom_sign_changes"]
    out["D. Clinic minimum numbers against the base (clinics with at least 5 listed patients)"] = (
        tables["clinic_change_by_variant"])
    out["E. Fit statistics in and out of sample"] = tables["fit_out_of_sample"]
    cb = tables["coefficients_by_variant"]
    t = cb.pivot(index="term", columns="variant", values="estimate")
    out["F. Coefficients by variant (DKK)"] = t.reindex(columns=[v for v in s["variant"] if v in t.columns]).reset_index()
    return out


# =============================================================================
# Derived life expectancy: remaining at 65 and by sex, per municipality
# =============================================================================

#: Public national figures (Statistics Denmark, 2019/20): life expectancy at birth and
#: remaining at 60, by sex.
NATIONAL_LIFE_TABLE = {"men": (79.5, 22.3), "women": (83.6, 25.4)}


def _gompertz_e(x: float | np.ndarray, a: float, b: float) -> np.ndarray:
    """Remaining life expectancy at age x under the Gompertz hazard a·exp(b·age): exp(c)·E1(c)/b, c = a·exp(b·x)/b."""
    from scipy.special import exp1

    c = a * np.exp(b * np.asarray(x, dtype=np.float64)) / b
    return np.exp(c) * exp1(c) / b


def _fit_gompertz(e0: float, e60: float) -> tuple[float, float]:
    from scipy.optimize import fsolve

    def res(p):
        a, b = np.exp(p[0]), p[1]
        return [float(_gompertz_e(0, a, b)) - e0, float(_gompertz_e(60, a, b)) - e60]

    la, b = fsolve(res, [np.log(3e-5), 0.1], xtol=1e-13)
    return float(np.exp(la)), float(b)


def derive_life_expectancy_variants(municipalities: pd.DataFrame) -> pd.DataFrame:
    """Municipal life expectancy by sex and remaining at 65, derived from public figures (an assumption).

    Public inputs: each municipality's life expectancy at birth (HISBK,
    period ending 2023; ``municipalities.csv``) and the national life
    expectancy at birth and remaining at 60 by sex (79.5/22.3 men,
    83.6/25.4 women, 2019/20; Statistics Denmark).  Municipal figures by sex and
    remaining at 65 are **not** in our sources, so they are derived under
    this assumption:

    1. mortality by sex follows a Gompertz law μ(x) = a·exp(b·x), with
       (a, b) per sex fitted exactly to the two national figures of that sex;
    2. a municipality's mortality is the national one times a factor r_m
       at every age and for both sexes (proportional hazards), with r_m
       chosen so that the mean of men's and women's life expectancy at birth
       equals the municipality's published figure.

    Then the municipal figures by sex, remaining at 65 by sex, and remaining
    at 65 for both sexes (men and women weighted by the Gompertz survivors
    at 65, equal numbers at birth) follow.  Municipalities without a
    published figure (Ærø, Fanø, Samsø, Læsø) stay empty and take their
    health council's figure in the model, as for life expectancy at birth.
    """
    from scipy.optimize import brentq

    par = {s: _fit_gompertz(*NATIONAL_LIFE_TABLE[s]) for s in ("men", "women")}

    def e(x, sex, r):
        a, b = par[sex]
        return float(_gompertz_e(x, a * r, b))

    def surv65(sex, r):
        a, b = par[sex]
        return float(np.exp(-(a * r / b) * np.expm1(b * 65)))

    rows = []
    for _, m in municipalities.iterrows():
        le0 = pd.to_numeric(m["life_expectancy_at_birth"], errors="coerce")
        row = {"municipality_code": m["municipality_code"], "kommune": m.get("kommune", "")}
        if pd.isna(le0):
            row.update({c: np.nan for c in ("hazard_ratio", "life_expectancy_at_birth_men", "life_expectancy_at_birth_women",
                                            "remaining_life_expectancy_65", "remaining_life_expectancy_65_men",
                                            "remaining_life_expectancy_65_women")})
        else:
            r = brentq(lambda r, le0=le0: (e(0, "men", r) + e(0, "women", r)) / 2 - float(le0), 0.05, 20.0, xtol=1e-12)
            e65m, e65w = e(65, "men", r), e(65, "women", r)
            sm, sw = surv65("men", r), surv65("women", r)
            row.update({
                "hazard_ratio": r,
                "life_expectancy_at_birth_men": e(0, "men", r), "life_expectancy_at_birth_women": e(0, "women", r),
                "remaining_life_expectancy_65": (sm * e65m + sw * e65w) / (sm + sw),
                "remaining_life_expectancy_65_men": e65m, "remaining_life_expectancy_65_women": e65w,
            })
        rows.append(row)
    out = pd.DataFrame(rows)
    num = [c for c in out.columns if c not in ("municipality_code", "kommune")]
    out[num] = out[num].round({c: (4 if c == "hazard_ratio" else 2) for c in num})
    return out


LIFE_EXPECTANCY_HEADER = """\
# Derived municipal life expectancy for the sensitivity variants of docs/method.md step 8 (§4.4.2.4).
# NOT published figures: derived by model.analyses.sensitivity.derive_life_expectancy_variants under an assumption.
# Public inputs: life expectancy at birth per municipality (Statistics Denmark HISBK, period ending 2023, as in
#   municipalities.csv) and national life expectancy at birth and remaining at 60 by sex, 2019/20 (Statistics
#   Denmark: men 79.5 and 22.3, women 83.6 and 25.4).
# Municipal remaining life expectancy at 65, and municipal figures by sex, are not public in our sources.
# Assumption: Gompertz mortality per sex fitted to the national figures; each municipality's mortality is the
#   national one times a constant factor (hazard_ratio, proportional hazards at every age, both sexes), chosen so
#   that the mean of men's and women's life expectancy at birth equals the municipality's HISBK figure.
#   remaining_life_expectancy_65 weights men and women by the Gompertz survivors at 65 (equal numbers at birth).
# Empty: Ærø, Fanø, Samsø, Læsø (no HISBK figure); the model gives them their health council's figure.
# Regenerate: python -c "from model.analyses.sensitivity import write_life_expectancy_variants as w; w()"
"""


def write_life_expectancy_variants(path: str | Path | None = None) -> Path:
    """Write ``src/model/data/life_expectancy_variants.csv`` from the shipped municipalities (with its header)."""
    path = Path(path) if path else LIFE_EXPECTANCY_VARIANTS
    m = reference.municipalities()
    t = derive_life_expectancy_variants(m)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(LIFE_EXPECTANCY_HEADER)
        t.to_csv(f, index=False, lineterminator="\n")
    return path
