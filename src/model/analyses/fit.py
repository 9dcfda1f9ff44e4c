"""The annual fit (docs/method.md steps 1-6) on one year of inputs, its output tables and run folder.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.config import PERSON_COLUMNS
from model.core import capacity as cap
from model.core import clinics as cl
from model.core import features as ft
from model.core import weights as wt
from model.config import ModelConfig
from model.core.regression import fit_cells
from model.inputs.tables import Inputs
from model.artifacts import git_commit
from model.artifacts import package_versions
from model.artifacts import sha256_file
from model.artifacts import write_csv


@dataclass
class ModelRun:
    """Result of :func:`run_model`: the fits (by variant name) and the output tables."""

    config: ModelConfig
    variant: str
    fits: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    national_life_expectancy: float


def _timer():
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        nonlocal t0
        t = time.perf_counter()
        marks[name] = round(t - t0, 4)
        t0 = t

    return marks, mark


def _codes(series: pd.Series, categories) -> np.ndarray:
    """Integer codes of ``series`` against ``categories`` (-1 where absent).

    A categorical column is mapped through its (few) categories, not its
    (millions of) rows.
    """
    index = pd.Index(categories)
    if isinstance(series.dtype, pd.CategoricalDtype):
        lookup = np.append(index.get_indexer(series.cat.categories.astype(str)), -1)
        return lookup[series.cat.codes.to_numpy()].astype(np.int64)
    return index.get_indexer(series.astype(str)).astype(np.int64)


def residents_table(persons: pd.DataFrame, residents: pd.DataFrame | None, muni_codes: list[str]) -> np.ndarray:
    """Residents of every insurance group per municipality (in ``muni_codes`` order) in the data year.

    From ``residents`` (municipality_code, residents) when given, else counted
    from ``persons`` (one year, every insurance group).
    """
    if residents is not None:
        r = residents.assign(municipality_code=residents["municipality_code"].astype(str))
        return r.set_index("municipality_code")["residents"].reindex(muni_codes).fillna(0).to_numpy(dtype=np.int64)
    codes = _codes(persons["municipality_code"], muni_codes)
    return np.bincount(codes[codes >= 0], minlength=len(muni_codes))


def person_year_shares(persons: pd.DataFrame, config: ModelConfig) -> np.ndarray | None:
    """Share of the year each citizen was resident (``days_resident`` / days in the year), or None.

    Only with ``config.person_year_weights`` (docs/method.md step 1, design choice:
    the base counts every end-of-year resident as a full year); then the
    fit is of use per year at risk, each citizen weighted by this share.
    """
    if not config.person_year_weights:
        return None
    if "days_resident" not in persons.columns:
        raise ValueError("persons: column 'days_resident' is missing; the person-year weighted fit "
                         "(person_year_weights) needs it")
    days = persons["days_resident"].to_numpy(dtype=np.float64)
    year_days = 366.0 if (config.year % 4 == 0 and (config.year % 100 != 0 or config.year % 400 == 0)) else 365.0
    if not np.isfinite(days).all() or (days <= 0).any() or (days > year_days).any():
        raise ValueError(f"persons: days_resident must be between 1 and {year_days:.0f} in {config.year}")
    return days / year_days


def fit_variant(keys: np.ndarray, y: np.ndarray, clinic_codes: np.ndarray, mask: np.ndarray, config: ModelConfig,
                dense: tuple[np.ndarray, np.ndarray] | None = None, person_years: np.ndarray | None = None):
    """Fit the regression on the persons in ``mask`` via cells; returns the results object.

    ``dense``: optional ``(cell_keys, person_cell)`` of all persons from
    :func:`model.features.dense_codes`, which lets the cells be summed by
    counting instead of re-aggregating the masked persons.

    With ``config.clinic_fixed_effects`` the cells are split by clinic and the
    within-clinic estimator of :func:`model.stability.fit_within` is used; its
    ``Intercept`` is the patient-weighted mean clinic effect, so predictions
    average the clinic effects out.

    ``person_years``: each citizen's share of the year resident
    (:func:`person_year_shares`): then y is use per year at risk (y / share)
    and each citizen weighs by the share (weighted least squares on cells:
    n = sum of shares, sum_y = sum of use, sum_y2 = sum of use² / share);
    standard errors then treat the person-years as observations.
    """
    if person_years is not None:
        if config.clinic_fixed_effects or config.cov_type == "cluster":
            raise ValueError("the person-year weighted fit is not combined with clinic fixed effects or clustered errors")
        uk, inv = dense if dense is not None else ft.dense_codes(keys, int(keys.max()) + 1)
        w = np.where(mask, person_years, 0.0)
        ym = np.where(mask, y, 0.0)
        n = np.bincount(inv, weights=w, minlength=len(uk))
        sy = np.bincount(inv, weights=ym, minlength=len(uk))
        syy = np.bincount(inv, weights=np.divide(ym * ym, person_years), minlength=len(uk))
        nz = n > 0
        table = ft.unpack_keys(uk[nz], config)
        table["n"], table["sum_y"], table["sum_y2"] = n[nz], sy[nz], syy[nz]
        X = ft.design_matrix(table, config)
        frame = pd.concat([X, table[["n", "sum_y", "sum_y2"]]], axis=1)
        return fit_cells(frame, ft.term_names(config), cov_type=config.cov_type)
    if config.clinic_fixed_effects:
        from model.core.within import fit_within

        cells = ft.build_cells(keys[mask], y[mask], config, cluster=clinic_codes[mask])
        X = ft.design_matrix(cells.table, config)
        t = cells.table
        return fit_within(X, t["n"].to_numpy(), t["sum_y"].to_numpy(), t["sum_y2"].to_numpy(), t["cluster"].to_numpy(),
                          ft.term_names(config), cov_type=config.cov_type)
    cluster = clinic_codes[mask] if config.cov_type == "cluster" else None
    if cluster is None and dense is not None:
        # fast path: the cells of all persons are known; sum within the mask by counting
        uk, inv = dense
        ym = np.where(mask, y, 0.0)
        n = np.bincount(inv[mask], minlength=len(uk)).astype(np.float64)
        sy = np.bincount(inv, weights=ym, minlength=len(uk))
        syy = np.bincount(inv, weights=ym * ym, minlength=len(uk))
        nz = n > 0
        table = ft.unpack_keys(uk[nz], config)
        table["n"], table["sum_y"], table["sum_y2"] = n[nz].astype(np.int64), sy[nz], syy[nz]
        cells = ft.Cells(table=table, person_cell=np.empty(0, np.int64))
    else:
        cells = ft.build_cells(keys[mask], y[mask], config, cluster=cluster)
    X = ft.design_matrix(cells.table, config)
    frame = pd.concat([X, cells.table[["n", "sum_y", "sum_y2"] + (["cluster"] if cluster is not None else [])]], axis=1)
    return fit_cells(frame, ft.term_names(config), cov_type=config.cov_type, cluster_col="cluster")


def price_list_keys(config: ModelConfig) -> np.ndarray:
    """Cell keys of every admissible combination of characteristics (the price list's rows)."""
    rad = ft._radices(config)
    grid = pd.DataFrame(list(itertools.product(*[range(r) for r in rad])), columns=list(ft.FACTORS)).astype(np.int8)
    if not config.include_sex:
        grid = grid[grid["sex"] == 0]
    bands = np.asarray(config.age_bands)
    lo = bands[grid["age_band"].to_numpy()]
    hi = np.append(bands[1:] - 1, 200)[grid["age_band"].to_numpy()]
    lab_max = config.labour_age_max if config.labour_age_max is not None else 200
    labour_ok = (grid["labour"] == 0) | ((hi >= config.labour_age_min) & (lo <= lab_max))
    if config.civil_status_by_age:
        glo = np.array([0] + [a for a, _ in ft.CIVIL_AGE_GROUPS])
        ghi = np.array([200] + [a - 1 for a, _ in ft.CIVIL_AGE_GROUPS[1:]] + [200])
        c = grid["civil"].to_numpy()
        civil_ok = (c == 0) | ((hi >= glo[c]) & (lo <= ghi[c]))
    else:
        civil_ok = np.ones(len(grid), bool)
    grid = grid[labour_ok & civil_ok]
    return np.sort(ft.cell_keys(grid, config))


def clinic_profiles(cell_keys: np.ndarray, person_cell: np.ndarray, clinic_codes: np.ndarray, clinic_ids: list[str],
                    fit, config: ModelConfig) -> pd.DataFrame:
    """How many of each clinic's listed patients carry each term of the price list.

    In: the cells of the group-1 citizens (keys and each person's cell, from
    :func:`model.features.dense_codes`), each person's clinic code, the
    clinic IDs and the fit.
    Out: long table clinic_id, term, patients, coefficient, contribution
    (= coefficient x patients / listed patients).  The contributions of a
    clinic add up to its mean predicted use: the clinic's own calculation
    in terms a GP can follow.  Counts below 5 are kept here (the run folder
    stays on the secure server); the clinic sheets suppress them.
    """
    nk, nc = len(cell_keys), len(clinic_ids)
    counts = np.bincount(person_cell * nc + clinic_codes, minlength=nk * nc).reshape(nk, nc)  # cells x clinics
    X = ft.design_matrix(ft.unpack_keys(cell_keys, config), config).to_numpy(dtype=np.int64)  # cells x terms
    by_term = counts.T @ X  # clinics x terms: patients carrying each term
    terms = ft.term_names(config)
    listed = by_term[:, 0]
    clinic, term = np.nonzero(by_term)
    ids = np.asarray(clinic_ids, dtype=object)
    patients = by_term[clinic, term]
    coef = fit.params.reindex(terms).to_numpy()[term]
    return pd.DataFrame({
        "clinic_id": ids[clinic], "term": np.asarray(terms, dtype=object)[term], "patients": patients,
        "coefficient": coef, "contribution": coef * patients / listed[clinic],
    })


def run_model(inputs: Inputs, config: ModelConfig, variant: str = "base") -> ModelRun:
    """Run docs/method.md steps 1-6 on one year of inputs.

    In: :class:`Inputs` (persons of ``config.year``) and the configuration.
    Out: :class:`ModelRun` with the fits of ``variant`` and of its
    counterpart with/without regional and tender clinics, and the tables
    ``coefficients``, ``fit_statistics``, ``weights_by_cell``,
    ``capacity_by_municipality``, ``capacity_by_health_council``,
    ``clinic_minimums``, ``life_expectancy``.
    """
    marks, mark = _timer()
    p = inputs.persons
    munis = inputs.municipalities
    muni_codes = munis["municipality_code"].tolist()
    if "year" in p.columns:
        in_year = (p["year"] == config.year).to_numpy()
        if not in_year.all():
            p = p.loc[in_year]
    residents = residents_table(p, inputs.residents, muni_codes)
    keep = (p["insurance_group"] == config.insurance_group).to_numpy()
    if not keep.all():  # one copy, of the columns the model uses
        p = p.loc[keep, [c for c in PERSON_COLUMNS if c in p.columns]]
    if p.empty:
        raise ValueError(f"no persons in insurance group {config.insurance_group} in {config.year}")
    clinics = inputs.clinics
    clinic_ids = clinics["clinic_id"].tolist()
    pm = _codes(p["municipality_code"], muni_codes)
    if (pm < 0).any():
        raise ValueError("persons refer to unknown municipalities: validate the data folder first")
    # citizens with no clinic on record (or one the register does not know) count in the need and the fit,
    # not in clinic figures (code -1)
    pc = _codes(p["clinic_id"], clinic_ids)
    listed_mask = pc >= 0
    mark("select")

    factors = ft.person_factors(p, config)
    keys = ft.cell_keys(factors, config)
    uk, inv = ft.dense_codes(keys, int(np.prod(ft._radices(config))))  # the cells of all group-1 citizens
    mark("features")

    # --- step 2: the fit, with and without regional and tender clinics, side by side
    clinic_form = clinics["practice_form"].astype(str).to_numpy()
    counterpart = "with_regional_tender" if config.excluded_practice_forms else "base"
    fits: dict[str, Any] = {}
    configs = {variant: config}
    if counterpart != variant:
        other = config.replace(excluded_practice_forms=() if config.excluded_practice_forms else ("regional", "tender"))
        configs[counterpart] = other
    for name, cfg in configs.items():
        excluded_clinic = np.append(np.isin(clinic_form, list(cfg.excluded_practice_forms)), False)  # [-1]: no clinic
        mask = ~excluded_clinic[pc]
        y = ft.outcome(p, cfg, in_sample=mask)
        py = person_year_shares(p, cfg)
        # clusters / fixed-effect groups: the clinics, and one group of the citizens with no clinic on record
        fits[name] = fit_variant(keys, y, np.where(listed_mask, pc, len(clinic_ids)), mask, cfg, dense=(uk, inv),
                                 person_years=py)
    fit = fits[variant]
    mark("fit")

    # --- step 3: predicted use -> normalised weight -> life-expectancy-corrected weight
    pred_cell = np.asarray(fit.predict(ft.design_matrix(ft.unpack_keys(uk, config), config)), dtype=np.float64)
    if (pred_cell <= 0).any():
        raise ValueError("the fit predicts non-positive use for some cells; weights would be meaningless")
    predicted = pred_cell[inv]
    le = wt.life_expectancy_factors(munis, config)
    factor = wt.person_factors(le, muni_codes, pm, p["sex"].to_numpy(), config)
    w = wt.disease_weights(predicted, factor, config)
    mark("weights")

    # --- step 4: aggregate to municipalities and clinics
    nm, nc = len(muni_codes), len(clinic_ids)
    by_muni = pd.DataFrame({
        "municipality_code": muni_codes,
        "citizens": np.bincount(pm, minlength=nm),
        "residents": residents,
        "unlisted": np.bincount(pm[~listed_mask], minlength=nm),
        "predicted_use": np.bincount(pm, weights=predicted, minlength=nm),
        "sum_normalised_weight": np.bincount(pm, weights=w["normalised_weight"], minlength=nm),
        "sum_weight": np.bincount(pm, weights=w["weight"], minlength=nm),
    })
    pcl = pc[listed_mask]
    listed = pd.DataFrame({
        "clinic_id": clinic_ids,
        "listed_patients": np.bincount(pcl, minlength=nc),
        "sum_predicted_use": np.bincount(pcl, weights=predicted[listed_mask], minlength=nc),
        "sum_normalised_weight": np.bincount(pcl, weights=w["normalised_weight"][listed_mask], minlength=nc),
        "sum_weight": np.bincount(pcl, weights=w["weight"][listed_mask], minlength=nc),
    })
    listed = listed[listed["listed_patients"] > 0]
    mark("aggregate")

    # --- step 5: capacities
    bm = cap.capacity_by_municipality(by_muni[["municipality_code", "citizens", "residents", "sum_weight"]], munis,
                                      inputs.projection, le, config)
    bm.insert(bm.columns.get_loc("residents") + 1, "unlisted_citizens", by_muni["unlisted"].to_numpy()[
        pd.Index(muni_codes).get_indexer(bm["municipality_code"])])
    extra = by_muni.set_index("municipality_code")
    with np.errstate(invalid="ignore", divide="ignore"):
        bm.insert(4, "mean_predicted_use", bm["municipality_code"].map(extra["predicted_use"] / extra["citizens"]))
        bm.insert(5, "mean_normalised_weight", bm["municipality_code"].map(extra["sum_normalised_weight"] / extra["citizens"]))
        bm.insert(6, "mean_weight", bm["municipality_code"].map(extra["sum_weight"] / extra["citizens"]))
    # --- step 6: clinic minimum patient numbers
    muni_mean_w = (extra["sum_weight"] / extra["citizens"].where(extra["citizens"] > 0))
    ct = cl.clinic_table(clinics, listed[["clinic_id", "listed_patients", "sum_weight"]], muni_mean_w, munis, config,
                         island_reports=inputs.island_reports)
    lp = listed.set_index("clinic_id")
    with np.errstate(invalid="ignore", divide="ignore"):
        ct.insert(ct.columns.get_loc("mean_weight"), "mean_predicted_use", ct["clinic_id"].map(lp["sum_predicted_use"] / lp["listed_patients"]))
        ct.insert(ct.columns.get_loc("mean_weight"), "mean_normalised_weight", ct["clinic_id"].map(lp["sum_normalised_weight"] / lp["listed_patients"]))
    profiles = clinic_profiles(uk, inv[listed_mask], pcl, clinic_ids, fit, config)
    hc = cap.capacity_by_health_council(bm, munis, ct, config)
    mark("capacities")

    # --- the price list and coefficients
    pk = price_list_keys(config)
    pf = ft.unpack_keys(pk, config)
    pred_pl = np.asarray(fit.predict(ft.design_matrix(pf, config)), dtype=np.float64)
    n_pl = pd.Series(np.bincount(inv, minlength=len(uk)), index=uk).reindex(pk).fillna(0).astype(np.int64).to_numpy()
    price = ft.describe_cells(pf, config)
    price.insert(0, "cell", pk)
    price["persons"] = n_pl
    price["predicted_use"] = pred_pl
    price["normalised_weight"] = pred_pl / predicted.mean()
    coefs = []
    stats = []
    for name, f in fits.items():
        sf = f.summary_frame().copy()
        sf.insert(0, "variant", name)
        sf.insert(0, "year", config.year)
        coefs.append(sf)
        stats.append({
            "year": config.year, "variant": name, "persons": int(f.nobs), "cells": int(f.n_cells), "terms": len(f.params),
            "r_squared": float(f.rsquared), "r_squared_adj": float(f.rsquared_adj), "cov_type": f.cov_type,
        })
    stats_df = pd.DataFrame(stats)
    mark("tables")

    return ModelRun(
        config=config, variant=variant, fits=fits,
        tables={
            "coefficients": pd.concat(coefs, ignore_index=True),
            "fit_statistics": stats_df,
            "weights_by_cell": price,
            "capacity_by_municipality": bm,
            "capacity_by_health_council": hc,
            "clinic_minimums": ct,
            "clinic_profiles": profiles,
            "life_expectancy": le,
        },
        timings=marks,
        national_life_expectancy=le.attrs["national_life_expectancy"],
    )


# The output-folder machinery lives in model.artifacts; AtomicFolder stays importable from here.
from model.artifacts import AtomicFolder  # noqa: E402,F401


OUTPUT_TABLES = ("coefficients", "fit_statistics", "weights_by_cell", "capacity_by_health_council",
                 "capacity_by_municipality", "clinic_minimums", "clinic_profiles", "life_expectancy")


#: Output columns the model's results rest on: each must be finite (no inf, -inf or nan) where the
#: column is present. (Means over a clinic's listed patients are nan for a clinic with none; they
#: are descriptive and not checked.)
BINDING_COLUMNS: dict[str, tuple[str, ...]] = {
    "coefficients": ("estimate",),
    "weights_by_cell": ("predicted_use", "normalised_weight"),
    "capacity_by_municipality": ("citizens", "population_end_of_year", "projection_factor", "weighted_citizens",
                                 "need", "indicative"),
    "capacity_by_health_council": ("weighted_citizens", "need_exact", "capacities_exact", "capacities", "allocated",
                                   "counted_allocation", "headroom"),
    "clinic_minimums": ("capacities", "mean_weight", "minimum_patients_exact", "minimum_patients"),
}
#: Output columns that cannot be negative (an integer overflow shows as -9223372036854775808).
NON_NEGATIVE_COLUMNS: dict[str, tuple[str, ...]] = {
    "capacity_by_municipality": ("need", "indicative"),
    "capacity_by_health_council": ("need_exact", "capacities_exact", "capacities"),
    "clinic_minimums": ("capacities", "minimum_patients_exact", "minimum_patients"),
}


class OutputCheckFailed(ValueError):
    """An output table holds a value no model result can take (inf, nan, a negative minimum);
    raised before anything is written. ``.problems`` lists (table, column, rows, example, why)."""

    def __init__(self, problems: list[tuple[str, str, int, Any, str]]):
        self.problems = problems
        lines = [f"  {t}.csv / {c}: {n:,} row(s), e.g. {v!r} ({why})" for t, c, n, v, why in problems]
        super().__init__("the run's outputs hold values no model result can take; nothing was written "
                         "(check the inputs' plausibility: capacities, projection, fee index):\n" + "\n".join(lines))


def check_outputs(tables: dict[str, pd.DataFrame]) -> None:
    """Check a run's output tables before they are written.

    In: the tables of :class:`ModelRun` by name. Raises
    :class:`OutputCheckFailed` (a ``ValueError``) naming table, column, the
    number of rows and an example where a column of
    :data:`BINDING_COLUMNS` holds inf, -inf or nan, or a column of
    :data:`NON_NEGATIVE_COLUMNS` a negative value. Out: None.
    """
    problems: list[tuple[str, str, int, Any, str]] = []
    for name, cols in BINDING_COLUMNS.items():
        t = tables.get(name)
        if t is None:
            continue
        for c in cols:
            if c not in t.columns or not pd.api.types.is_numeric_dtype(t[c].dtype):
                continue
            v = t[c].to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(v)
            if bad.any():
                problems.append((name, c, int(bad.sum()), float(v[bad][0]), "not finite"))
    for name, cols in NON_NEGATIVE_COLUMNS.items():
        t = tables.get(name)
        if t is None:
            continue
        for c in cols:
            if c not in t.columns or not pd.api.types.is_numeric_dtype(t[c].dtype):
                continue
            v = t[c].to_numpy(dtype=np.float64, na_value=np.nan)
            bad = v < 0
            if bad.any():
                first = t[c].to_numpy()[np.flatnonzero(bad)[0]]
                problems.append((name, c, int(bad.sum()), first.item() if hasattr(first, "item") else first,
                                 "negative"))
    if problems:
        raise OutputCheckFailed(problems)


def constants(config: ModelConfig, national_le: float) -> dict[str, Any]:
    """The model's constants for the year, as data (so reports can show what changed)."""
    return {
        "year": config.year,
        "planning_year": config.planning_year,
        "citizens_per_capacity": config.citizens_per_capacity,
        "km2_per_capacity": config.km2_per_capacity,
        "island_min_patients": config.island_min_patients,
        "age_bands": config.age_band_labels(),
        "national_life_expectancy": national_le,
        "clinic_rounding_step": config.clinic_rounding_step,
    }


def write_run(run: ModelRun, out: str | Path, inputs: Inputs | None = None, extra: dict | None = None) -> Path:
    """Write a run's tables, fit summaries and manifest to ``out`` atomically.

    Files: ``<table>.csv`` for :data:`OUTPUT_TABLES`, ``fit_summary_<variant>.txt``,
    ``constants.json`` and ``manifest.json`` (input hashes, configuration,
    package versions, commit, timings per stage).  Person-level data is
    never written.
    """
    check_outputs(run.tables)  # no inf/nan in binding columns, no negative minimum: before anything is written
    t0 = time.perf_counter()
    with AtomicFolder(Path(out)) as tmp:
        for name in OUTPUT_TABLES:
            write_csv(run.tables[name], tmp / f"{name}.csv")
        for name, f in run.fits.items():
            (tmp / f"fit_summary_{name}.txt").write_text(str(f.summary()) + "\n", encoding="utf-8")
        (tmp / "constants.json").write_text(json.dumps(constants(run.config, run.national_life_expectancy), indent=2) + "\n")
        manifest = {
            "command": "fit",
            "variant": run.variant,
            "config": run.config.to_dict(),
            "inputs": (inputs.files if inputs else {}),
            "outputs": {},
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**run.timings, "write": round(time.perf_counter() - t0, 4)},
        }
        if extra:
            manifest.update(extra)
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out)
