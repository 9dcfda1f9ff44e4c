"""The annual fit (docs/method.md steps 1-6) on one year of inputs, its output tables and run folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.artifacts import AtomicFolder, data_origin, git_commit, package_versions, sha256_file, write_csv
from model.config import ModelConfig
from model.core import cells
from model.core import chain as mc
from model.core import price_list as pl
from model.errors import ConfigError, EstimationError
from model.inputs.tables import Inputs


@dataclass
class ModelRun:
    """Result of :func:`run_model`: the fits (by variant name) and the output tables."""

    config: ModelConfig
    variant: str
    fits: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    national_life_expectancy: float
    #: step 3 summed to areas (:class:`model.core.chain.AreaWeights`): the input of :func:`what_if`
    area_weights: Any = None


def _timer():
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        nonlocal t0
        t = time.perf_counter()
        marks[name] = round(t - t0, 4)
        t0 = t

    return marks, mark


def counterpart_config(config: ModelConfig) -> tuple[str, ModelConfig]:
    """The fit shown beside ``config``'s: with regional and tender clinics when they are left out, else without."""
    if config.excluded_practice_forms:
        return "with_regional_tender", config.replace(excluded_practice_forms=())
    return "base", config.replace(excluded_practice_forms=("regional", "tender"))


def coefficient_tables(fits: dict[str, Any], year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(coefficients, fit_statistics) of the fits by variant name, as written to the run folder."""
    coefs, stats = [], []
    for name, f in fits.items():
        sf = f.summary_frame().copy()
        sf.insert(0, "variant", name)
        sf.insert(0, "year", year)
        coefs.append(sf)
        stats.append({
            "year": year, "variant": name, "persons": int(f.nobs), "cells": int(f.n_cells), "terms": len(f.params),
            "r_squared": float(f.rsquared), "r_squared_adj": float(f.rsquared_adj), "cov_type": f.cov_type,
        })
    return pd.concat(coefs, ignore_index=True), pd.DataFrame(stats)


def run_model(inputs: Inputs | cells.YearData, config: ModelConfig, variant: str = "base") -> ModelRun:
    """Run docs/method.md steps 1-6 on one year of inputs.

    In: :class:`~model.inputs.tables.Inputs` (persons of ``config.year``), or
    the year already reduced to atoms (:class:`~model.core.cells.YearData`,
    e.g. from :func:`model.analyses.panel.read_year`, the fast path of the
    ``fit`` verb), and the configuration.
    Out: :class:`ModelRun` with the fits of ``variant`` and of its
    counterpart with/without regional and tender clinics, and the tables
    ``coefficients``, ``fit_statistics``, ``weights_by_cell``,
    ``capacity_by_municipality``, ``capacity_by_health_council``,
    ``clinic_minimums``, ``clinic_profiles``, ``life_expectancy``.
    Steps: the persons reduced to atoms and cells
    (:func:`model.core.cells.year_from_inputs`), the fits
    (:func:`model.core.cells.fit`), then the one chain of steps 3-6
    (:func:`model.core.chain.chain`), as in every other analysis.
    """
    marks, mark = _timer()
    if isinstance(inputs, cells.YearData):
        if inputs.year != config.year:
            raise ConfigError(f"run_model: the data hold {inputs.year}, the configuration asks for {config.year}")
        yd = inputs
    else:
        yd = cells.year_from_inputs(inputs, config.year, insurance_group=config.insurance_group)
    mark("select")
    fc = cells.features(yd, config)
    mark("features")

    # --- step 2: the fit, with and without regional and tender clinics, side by side
    configs = {variant: config}
    counterpart, other = counterpart_config(config)
    if counterpart != variant:
        configs[counterpart] = other
    fits: dict[str, Any] = {name: cells.fit(yd, cfg) for name, cfg in configs.items()}
    fit = fits[variant]
    mark("fit")

    # --- steps 3-6: weights -> capacities -> clinic numbers
    area_weights = mc.area_weights(yd, config, fit.params)
    result = mc.capacity_tables(area_weights, config)
    mark("capacities")

    # --- the stages of step 3 beside the weights, the price list, the clinics' own calculation, the coefficients
    by_municipality, clinic_minimums = mc.with_predicted_use(yd, result)
    price = pl.price_list(fit, config, fc.keys, cells.cell_persons(yd, fc), result.mean_predicted_use)
    profiles = pl.clinic_profiles(mc.listed_cell_counts(yd, config), fc, yd.clinic_ids, fit, config)
    coefs, stats_df = coefficient_tables(fits, config.year)
    mark("tables")

    return ModelRun(
        config=config, variant=variant, fits=fits,
        tables={
            "coefficients": coefs,
            "fit_statistics": stats_df,
            "weights_by_cell": price,
            "capacity_by_municipality": by_municipality,
            "capacity_by_health_council": result.by_health_council,
            "clinic_minimums": clinic_minimums,
            "clinic_profiles": profiles,
            "life_expectancy": result.life_expectancy,
        },
        timings=marks,
        national_life_expectancy=result.life_expectancy.attrs["national_life_expectancy"],
        area_weights=area_weights,
    )


#: The output tables the what-if path recomputes (the others do not depend on capacity-stage settings).
WHAT_IF_TABLES = ("capacity_by_municipality", "capacity_by_health_council", "clinic_minimums")


def what_if(run: ModelRun, **changes: Any) -> ModelRun:
    """The run again with capacity-stage settings changed, without refitting or reading persons.

    In: a :class:`ModelRun` from :func:`run_model` and changes of
    :data:`model.core.chain.CAPACITY_STAGE_FIELDS` (citizens per capacity,
    km² per capacity, rounding, island threshold, clinic rounding step, clinic
    cap, ...). Out: a new :class:`ModelRun` whose configuration carries the
    changes and whose tables of :data:`WHAT_IF_TABLES` are recomputed by
    :func:`model.core.chain.what_if` (steps 4-6 from the area sums of step 3);
    the fits, coefficients and weights are the run's own. Its tables equal
    those of :func:`run_model` with the changed configuration. A few
    milliseconds at national scale (``benchmarks/speed.py`` measures it).
    """
    if run.area_weights is None:
        raise ConfigError("what_if: this run has no area sums (run it with model.analyses.fit.run_model)")
    marks, mark = _timer()
    result = mc.what_if(run.area_weights, run.config, **changes)
    tables = dict(run.tables)
    old_m, old_c = run.tables["capacity_by_municipality"], run.tables["clinic_minimums"]
    bm, ct = result.by_municipality.copy(), result.clinics.copy()
    for new, old, key in ((bm, old_m, "municipality_code"), (ct, old_c, "clinic_id")):
        for col in ("mean_predicted_use", "mean_normalised_weight"):  # step 3's stages: unchanged by steps 4-6
            if col in old.columns and col not in new.columns:
                new.insert(new.columns.get_loc("mean_weight"), col,
                           old.set_index(key)[col].reindex(new[key]).to_numpy())
    tables.update(capacity_by_municipality=bm, capacity_by_health_council=result.by_health_council, clinic_minimums=ct)
    mark("what_if")
    return ModelRun(config=result.config, variant=run.variant, fits=run.fits, tables=tables, timings=marks,
                    national_life_expectancy=run.national_life_expectancy, area_weights=run.area_weights)


# ---------------------------------------------------------------------------
# writing a run

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


class OutputCheckFailed(EstimationError):
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


def write_run(run: ModelRun, out: str | Path, inputs: Inputs | cells.YearData | None = None, extra: dict | None = None,
              data_dir: str | Path | None = None) -> Path:
    """Write a run's tables, fit summaries and manifest to ``out`` atomically.

    Files: ``<table>.csv`` for :data:`OUTPUT_TABLES`, ``fit_summary_<variant>.txt``,
    ``constants.json`` and ``manifest.json`` (input hashes, configuration,
    package versions, commit, timings per stage, and with ``data_dir`` what
    the data are: :func:`model.artifacts.data_origin`, synthetic or an
    extract, by folder name only).  Person-level data is never written.
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
        if data_dir is not None:
            manifest["data"] = data_origin(data_dir)
        if extra:
            manifest.update(extra)
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out)
