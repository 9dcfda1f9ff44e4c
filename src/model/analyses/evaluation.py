"""The 2028 evaluation of the model (docs/method.md step 9, §4.4.4).

The health reform agreement schedules a large evaluation in 2028, after the
new fee structure of 2027.  This module computes it from a data folder; it
runs on the embedded synthetic data today and on real extracts in 2028 (fit
year 2025, later years 2026-2027).  Five analyses:

1. **Prediction** (:func:`prediction_analysis`): the coefficients fitted on
   the fit year *t* predict use in each later year *s* from the citizens'
   characteristics in *s* (the price list of *t* applied to the population of
   *s*; fees of every year brought to *t*'s price level with
   ``fee_index.csv``).  Because the model only distributes a fixed total,
   predictions are scaled so that they add up to observed use in the year
   (the scale is reported as the *level ratio*, Σŷ/Σy before scaling).
   Measures from :mod:`model.measures`: R², Cumming's prediction measure,
   mean absolute prediction error; predictive ratios Σŷ/Σy (ratios of sums)
   and mean under- or over-compensation per person by age, sex, origin,
   civil status, labour status, disease counts, municipality, health
   council and clinic-weight decile (the top decile of mean weight in *t* is
   the "Deep End"); group-level R² with group sizes and the shares of
   municipalities and clinics off by 5 % and 10 % or more; calibration by
   decile of predicted use.  The estimation sample of the configuration is
   used (patients of regional and tender clinics left out, as in the fit).
   Geographic groups are also shown for the final weights (after the
   life-expectancy correction), which depart from use on purpose.
2. **Capacity in practice** (:func:`capacity_analysis`): the regions'
   capacity reports (annex 1 and 2, read and validated by
   :func:`model.ingest.read_capacity_report`, schedule checked by
   :func:`model.ingest.check_report_schedule`): allocated, vacant and filled
   (= allocated - vacant) capacities per health council over time against
   the model's capacities; filled capacities per 1,600 weighted citizens;
   progress towards 5,000 GPs in 2035.
3. **Incentives** (:func:`incentive_analysis`): growth in recorded diagnoses
   per clinic and region (indirectly standardised for age and sex at the fit
   year's national rates) against the change in clinic minimum numbers;
   upward outliers flagged (a model that rewards diagnoses must be watched
   for "more sickness on paper", §4.4.2.3).
4. **Life expectancy** (:func:`life_expectancy_analysis`): the correction
   with remaining life expectancy at 65 against at birth (the consultation's
   variant, §4.4.2.4): capacities, reallocation and how well each tracks
   later use by municipality.  The figures at 65 are derived, not published:
   ``src/model/data/life_expectancy_variants.csv`` (see its header and
   :func:`model.sensitivity.derive_life_expectancy_variants`).
5. **Conclusions** (:func:`conclusions`): what held, what did not, and which
   parameter of :class:`~model.config.ModelConfig` to change.

:func:`run_evaluation` does all five; :func:`write_evaluation` writes the
tables (CSV) and a manifest to a run folder; :func:`render_evaluation`
(``python -m model evaluate``) validates the inputs, computes, and renders
``notebooks/evaluation_2028.ipynb`` with papermill into reviewer HTML, as
the annual report is rendered.  No table holds person-level rows; counts
below 5 are masked when shown (:func:`model.render.show_table`) and group
figures resting on fewer than 5 persons are blanked
(:func:`model.measures.by_group`'s ``min_size``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from model.core import measures as ms
from model.config import ModelConfig

__all__ = [
    "REPORTS_DIR", "SUBMISSIONS_FILE", "THRESHOLDS", "TABLES", "EvaluationResult", "ReportSet",
    "find_capacity_reports", "read_submissions", "load_capacity_reports", "capacity_table",
    "prediction_analysis", "capacity_analysis", "goal_progress", "incentive_analysis", "flag_outliers",
    "life_expectancy_analysis", "conclusions", "run_evaluation", "write_evaluation", "load_evaluation",
    "render_evaluation", "check_parameters", "evaluation_years",
]

#: Folder of the regions' capacity reports inside a data folder (only its top level is read).
REPORTS_DIR = "capacity_reports"
#: Optional log of when each report was received: columns file, region, reporting_date, submission_date.
SUBMISSIONS_FILE = "submissions.csv"
#: Name of the evaluation notebook.
NOTEBOOK = "evaluation_2028.ipynb"

#: Thresholds of the conclusions table (design choices; each row of :func:`conclusions` names its own).
THRESHOLDS: dict[str, float] = {
    "r_squared_kept": 0.80,          # out-of-sample R² at least this share of the in-sample R²
    "group_ratio_tolerance": 0.10,   # predictive ratio of a characteristic group within 1 ± this
    "group_min_persons": 1000,       # only groups this large count for the verdict (smaller ones are noise)
    "municipalities_off_10pct": 0.10,  # at most this share of municipalities off by 10 % or more
    "deep_end_tolerance": 0.05,      # Deep End predictive ratio within 1 ± this
    "allocation_tolerance": 0.05,    # counted allocation within ± this share of the model's capacities
    "vacancy_share": 0.05,           # at most this share of allocated capacities vacant
    "flagged_clinic_share": 0.01,    # at most this share of clinics flagged for diagnosis growth
    "outlier_z": 3.5,                # robust z-score from which a clinic's diagnosis growth is flagged
    "outlier_min_expected": 20.0,    # a clinic is judged only when it expects at least this many diagnoses
    "min_clinics_judged": 30,        # fewer clinics large enough to judge: the incentive question is not assessable
    "fee_structure_shift": 0.05,     # predictive ratio moving this much at the new fee structure
    "life_expectancy_r2_gain": 0.02,  # group R² gain that would favour the other life-expectancy figure
}

#: Tables of a run folder (``<name>.csv``), each described for the reader.
TABLES: dict[str, str] = {
    "prediction_measures": "R², CPM, mean absolute error and level ratio per year (fit year in sample, later years out of sample)",
    "predictive_ratios": "predictive ratio and compensation per person by group, year and prediction (use or weight)",
    "group_r_squared": "group-level R² with group sizes and shares off by 5 % / 10 % (municipality, health council, clinic)",
    "calibration": "mean observed and predicted use by decile of predicted use",
    "deep_end": "the clinics with the heaviest patients (top decile of mean weight in the fit year) against the others",
    "fee_structure_shift": "predictive ratios of the characteristic groups before and under the 2027 fee structure",
    "report_index": "each capacity report read: region, date, submission, rows, failures",
    "report_failures": "every broken rule of the capacity reports (file, sheet, row, column, value, rule, message)",
    "capacity_over_time": "allocated, vacant and filled capacities per health council and reporting date",
    "capacity_latest": "the latest report per health council against the model's capacities",
    "national_capacity": "national allocated, vacant and filled capacities per reporting date, with the path to the goal",
    "goal_progress": "progress towards 5,000 GPs in 2035",
    "model_capacities": "the model's capacities per health council and planning year (fit-year coefficients)",
    "diagnosis_growth_clinics": "recorded diagnoses per clinic (standardised ratio) in the fit year and a later year, change in minimum numbers, flags",
    "diagnosis_growth_regions": "the same per region",
    "life_expectancy_capacity": "capacities per health council with life expectancy at birth and remaining at 65",
    "life_expectancy_fit": "how well the weights of each life-expectancy figure track later use by area",
    "life_expectancy_municipalities": "municipal life expectancy at birth and remaining at 65 and their factors",
    "conclusions": "what held, what did not, and which parameter to change",
}


# =============================================================================
# Parameters and years
# =============================================================================


def check_parameters(fit_year: Any, evaluation_years: Any = None) -> tuple[int, list[int] | None]:
    """Validate the fit year and the evaluation years (CLI, notebook); return them as ints.

    ``evaluation_years``: None (every later year in the data), a list of years
    or a string such as ``"2026-2027"`` or ``"2026,2028"``.
    """
    if isinstance(fit_year, bool) or not isinstance(fit_year, (int, np.integer)):
        raise ValueError(f"fit_year must be a year (int), got {fit_year!r}")
    ModelConfig().replace(year=int(fit_year), planning_year=int(fit_year) + 1)
    if evaluation_years is None or evaluation_years == "":
        return int(fit_year), None
    if isinstance(evaluation_years, str):
        from model.config import parse_years

        years = parse_years(evaluation_years)
    else:
        years = [int(y) for y in evaluation_years]
    if not years:
        raise ValueError("evaluation_years is empty")
    early = [y for y in years if y <= int(fit_year)]
    if early:
        raise ValueError(f"evaluation years {early} are not after the fit year {fit_year}: the evaluation is out of sample")
    return int(fit_year), sorted(set(years))


def evaluation_years(available: Iterable[int], fit_year: int, years: Iterable[int] | None = None) -> list[int]:
    """The later years to evaluate: ``years`` (checked against ``available``) or every available year after ``fit_year``."""
    available = sorted(int(y) for y in available)
    if int(fit_year) not in available:
        raise ValueError(f"the fit year {fit_year} is not in the data; years present: {available}")
    if years is None:
        out = [y for y in available if y > int(fit_year)]
        if not out:
            raise ValueError(f"no year after the fit year {fit_year} in the data (years present: {available}): "
                             f"nothing to evaluate out of sample")
        return out
    out = sorted(set(int(y) for y in years))
    missing = [y for y in out if y not in available]
    if missing:
        raise ValueError(f"evaluation year(s) {missing} not in the data; years present: {available}")
    early = [y for y in out if y <= int(fit_year)]
    if early:
        raise ValueError(f"evaluation year(s) {early} are not after the fit year {fit_year}")
    return out


# =============================================================================
# 2. The regions' capacity reports
# =============================================================================


def find_capacity_reports(folder: str | Path) -> list[Path]:
    """The report files in ``folder`` (top level only): workbooks and annex-1 CSV files, sorted by name.

    A CSV report is a pair ``<region>_<date>_bilag1.csv`` / ``_bilag2.csv``
    (or ``annex1``/``annex2``); only the annex-1 file is listed (its annex 2
    is found beside it).  Sub-folders (e.g. ``with_mistakes/`` of the
    synthetic data) are not read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith((".", "~$")):
            continue
        suffix = p.suffix.lower()
        if suffix in (".xlsx", ".xlsm", ".xls"):
            out.append(p)
        elif suffix == ".csv" and re.search(r"(bilag|annex)[_\- ]?1$", p.stem, re.IGNORECASE):
            out.append(p)
    return out


def read_submissions(folder: str | Path) -> dict[str, dt.date] | None:
    """File name -> date received, from ``<folder>/submissions.csv``; None when there is no such log."""
    path = Path(folder) / SUBMISSIONS_FILE
    if not path.exists():
        return None
    s = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ("file", "submission_date") if c not in s.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected file, region, reporting_date, submission_date")
    out = {}
    for i, r in s.iterrows():
        try:
            out[r["file"].strip()] = dt.date.fromisoformat(r["submission_date"].strip())
        except ValueError:
            raise ValueError(f"{path}, row {i + 1}: submission_date {r['submission_date']!r} is not a date "
                             f"(YYYY-MM-DD)") from None
    return out


@dataclass
class ReportSet:
    """The capacity reports of a folder, read and validated.

    ``reports``: :class:`model.ingest.CapacityReport` per file (in file
    order); ``failures``: every broken rule (one row per failure, the
    columns :data:`model.inputs.capacity_sheets.REPORT_FAILURE_COLUMNS`);
    ``index``: one row per file; ``submissions_checked``: whether a submissions log was there.
    """

    reports: list[Any]
    failures: pd.DataFrame
    index: pd.DataFrame
    submissions_checked: bool
    folder: str = ""

    @property
    def ok(self) -> bool:
        return self.failures.empty


def _read_one(args: tuple) -> Any:
    from model.inputs.capacity_reports import read_capacity_report

    path, sub, munis, register = args
    return read_capacity_report(path, submission_date=sub, known_municipality_codes=munis, clinic_register=register)


def load_capacity_reports(folder: str | Path, clinic_register: Any = None, *,
                          municipality_codes: Mapping[str, str] | None = None,
                          submissions: Mapping[str, dt.date] | None | str = "auto",
                          strict: bool = True, workers: int | None = None) -> ReportSet:
    """Read and validate every capacity report in ``folder`` (see :func:`find_capacity_reports`).

    Each file goes through :func:`model.ingest.read_capacity_report` with the
    98 municipality codes and names, the clinic register (provider numbers
    that exist: a list of strings or ``clinics.csv`` as a DataFrame) and the
    date it was received (``submissions``: a mapping file -> date, or
    ``"auto"`` to read ``submissions.csv`` in the folder; without a log the
    three-month rule is not checked).  Then per region
    :func:`model.ingest.check_report_schedule` (monthly from 2027, quarterly
    before), and no two reports of one region on one date.

    ``strict=True`` raises :class:`model.ingest.CapacityReportError` listing
    every failure (file, sheet, row, column, rule); ``strict=False`` returns
    them in ``failures`` (the failed reports are kept but should not be used).
    Files are read in parallel processes (``workers``, default: the CPUs).
    """
    from model.inputs.capacity_reports import CapacityReportError, check_report_schedule, default_municipality_codes
    from model.inputs.capacity_sheets import REPORT_FAILURE_COLUMNS, report_failure
    from model.inputs.contracts import Failure

    folder = Path(folder)
    files = find_capacity_reports(folder)
    if submissions == "auto":
        submissions = read_submissions(folder)
    munis = dict(municipality_codes) if municipality_codes is not None else default_municipality_codes()
    register = None
    if clinic_register is not None:
        register = (clinic_register["clinic_id"].astype(str).tolist() if isinstance(clinic_register, pd.DataFrame)
                    else [str(x) for x in clinic_register])
    extra: list[Failure] = []
    jobs = []
    for p in files:
        sub = None
        if submissions is not None:
            sub = submissions.get(p.name)
            if sub is None:
                extra.append(report_failure(p.name, None, None, None, None, "submission_date_unknown",
                                           f"{SUBMISSIONS_FILE} has no date received for this report"))
        jobs.append((p, sub, munis, register))
    n_workers = max(1, min(len(jobs), workers if workers is not None else (os.cpu_count() or 1), 8))
    if n_workers > 1 and len(jobs) >= 8:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("spawn")) as pool:
            reports = list(pool.map(_read_one, jobs, chunksize=max(1, len(jobs) // (4 * n_workers))))
    else:
        reports = [_read_one(j) for j in jobs]
    failures: list[Any] = []
    for r in reports:
        failures.extend(r.failures)
    failures.extend(extra)
    # one report per region and date; the schedule of each region
    seen: dict[tuple[str, dt.date], str] = {}
    for r in reports:
        if r.region is None or r.reporting_date is None:
            continue
        key = (r.region, r.reporting_date)
        if key in seen:
            failures.append(report_failure(Path(r.source).name, None, None, None, r.reporting_date.isoformat(),
                                          "duplicate_report",
                                          f"a second report of Region {r.region} per {r.reporting_date.isoformat()} "
                                          f"(the first is {seen[key]})"))
        else:
            seen[key] = Path(r.source).name
    dated = [r for r in reports if r.reporting_date is not None and r.reporting_date.day == 1]
    if dated:
        lo, hi = min(r.reporting_date for r in dated), max(r.reporting_date for r in dated)
        regions = sorted({r.region for r in dated if r.region})
        for reg in regions:
            failures.extend(check_report_schedule([r.reporting_date for r in dated if r.region == reg], reg,
                                                  start=lo, end=hi))
    cols = list(REPORT_FAILURE_COLUMNS)
    fail_df = pd.DataFrame([f.to_dict() for f in failures], columns=cols)
    by_file = fail_df.groupby("file").size() if len(fail_df) else pd.Series(dtype=int)
    index = pd.DataFrame([{
        "file": Path(r.source).name, "region": r.region,
        "reporting_date": r.reporting_date.isoformat() if r.reporting_date else None,
        "submission_date": r.submission_date.isoformat() if r.submission_date else None,
        "format": "csv" if Path(r.source).suffix.lower() == ".csv" else "xlsx",
        "annex1_rows": int(len(r.annex1)), "annex2_rows": int(len(r.annex2)),
        "failures": int(by_file.get(Path(r.source).name, 0)), "late": bool(r.late),
    } for r in reports], columns=["file", "region", "reporting_date", "submission_date", "format", "annex1_rows",
                                  "annex2_rows", "failures", "late"])
    rs = ReportSet(reports=reports, failures=fail_df, index=index, submissions_checked=submissions is not None,
                   folder=str(folder))
    if strict and failures:
        raise CapacityReportError(failures)
    return rs


def capacity_table(reports: ReportSet | Sequence[Any], municipalities: pd.DataFrame,
                   island_min_patients: int = 500) -> pd.DataFrame:
    """One row per report row: date, region, clinic, health council, allocated, vacant, filled, counted.

    ``filled`` = allocated - vacant (a capacity is filled when a specialist in
    general medicine holds it, R§1.2).  ``counted`` is the allocation that
    counts against the model: island doctors (annex 2) with fewer than
    ``island_min_patients`` listed patients are left out (§4.2.4).
    """
    reps = reports.reports if isinstance(reports, ReportSet) else list(reports)
    hc = municipalities.set_index("municipality_code")["sundhedsraad"]
    frames = []
    for r in reps:
        if r.reporting_date is None or not r.usable:  # a late report is still data (kept, flagged in the index)
            continue
        a = r.annex1[["clinic_id", "municipality_code", "practice_form", "allocated_capacities",
                      "vacant_capacities"]].copy()
        isl = r.annex2.set_index("clinic_id")["listed_patients"] if len(r.annex2) else pd.Series(dtype="Int64")
        a["island_doctor"] = a["clinic_id"].isin(isl.index)
        a["listed_patients"] = a["clinic_id"].map(isl).astype("Float64")
        a.insert(0, "reporting_date", r.reporting_date.isoformat())
        a.insert(1, "region", r.region)
        frames.append(a)
    cols = ["reporting_date", "region", "clinic_id", "municipality_code", "health_council", "practice_form",
            "island_doctor", "allocated", "vacant", "filled", "counted"]
    if not frames:
        return pd.DataFrame(columns=cols)
    t = pd.concat(frames, ignore_index=True).rename(columns={"allocated_capacities": "allocated",
                                                             "vacant_capacities": "vacant"})
    t["health_council"] = t["municipality_code"].map(hc)
    t["filled"] = t["allocated"] - t["vacant"]
    small_island = t["island_doctor"] & (t["listed_patients"].fillna(0) < island_min_patients).astype(bool)
    t["counted"] = np.where(small_island, 0.0, t["allocated"])
    return t[cols]


# =============================================================================
# 1. Prediction
# =============================================================================


def _age_sex_codes(age: np.ndarray, sex: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, list[str]]:
    bands = np.asarray(config.age_bands)
    b = np.searchsorted(bands, age, side="right") - 1
    labels = config.age_band_labels()
    code = (np.asarray(sex).astype(np.int64) - 1) * len(bands) + b
    names = [f"{s} {lab}" for s in ("men", "women") for lab in labels]
    return code.astype(np.int64), names


def _atom_groups(atoms: pd.DataFrame, config: ModelConfig) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Group codes of the characteristic groups for each atom, and their labels (code -> label)."""
    age = atoms["age"].to_numpy().astype(np.int64)
    sex = atoms["sex"].to_numpy().astype(np.int64)
    out: dict[str, tuple[np.ndarray, list[str]]] = {}
    bands = np.asarray(config.age_bands)
    out["age band"] = (np.searchsorted(bands, age, side="right") - 1, config.age_band_labels())
    out["sex"] = (sex - 1, ["men", "women"])
    out["age and sex"] = _age_sex_codes(age, sex, config)

    def cat(col, order):
        v = atoms[col].astype(str).to_numpy()
        labels = list(order) + sorted(set(v) - set(order))
        return pd.Index(labels).get_indexer(v).astype(np.int64), labels

    out["origin"] = cat("origin_group", ("danish", "menapt", "western", "other_non_western"))
    civ = atoms["civil_status"].astype(str).isin(config.civil_status_codes).to_numpy()
    out["civil status"] = (civ.astype(np.int64), ["other", config.civil_status_term.replace("_", " ")])
    out["labour status"] = cat("labour_status", ("in_work_or_education", "temporarily_outside",
                                                 "permanently_outside", "not_applicable"))
    som = atoms["somatic_diseases"].to_numpy().astype(np.int64)
    out["somatic diseases"] = (np.minimum(som, 4), ["0", "1", "2", "3", "4+"])
    out["psychiatric"] = (atoms[config.psychiatric_column].to_numpy().astype(np.int64), ["no", "yes"])
    out["cancer"] = (atoms[config.cancer_column].to_numpy().astype(np.int64), ["no", "yes"])
    return out


def _weighted_deciles(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Decile (0-9) of each value when each carries ``counts`` persons (ties kept together in order)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(counts[order]) - counts[order]
    total = counts.sum()
    d = np.minimum((cum * 10) // max(total, 1), 9).astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    out[order] = d
    return out


def _small(codes: np.ndarray) -> np.ndarray:
    """Group codes as int16 when they fit: pandas groups 6 million int16 codes about 6 times faster than int64."""
    codes = np.asarray(codes)
    if codes.dtype != np.int16 and len(codes) and 0 <= codes.min() and codes.max() < np.iinfo(np.int16).max:
        return codes.astype(np.int16)
    return codes


def _group_rows(y, yhat, codes, labels, *, year, grouping, prediction, min_size) -> pd.DataFrame:
    t = ms.by_group(y, yhat, _small(codes), min_size=min_size)
    t["group"] = [labels[int(g)] if 0 <= int(g) < len(labels) else str(g) for g in t["group"]]
    t.insert(0, "prediction", prediction)
    t.insert(0, "grouping", grouping)
    t.insert(0, "year", int(year))
    return t


def _group_r2_row(y, yhat, codes, *, year, grouping, prediction, min_size) -> dict[str, Any]:
    """Group-level R² over the groups with at least ``min_size`` persons (smaller ones left out)."""
    n = np.bincount(codes, minlength=int(codes.max()) + 1 if len(codes) else 1)
    keep = n[codes] >= min_size
    if keep.sum() == 0 or len(np.unique(codes[keep])) < 2:
        r = {"groups": int(len(np.unique(codes[keep]))), "r_squared": np.nan, "share_off_5pct": np.nan,
             "share_off_10pct": np.nan, "min_group_size": 0, "median_group_size": np.nan}
    elif keep.all():
        r = ms.group_r_squared(y, yhat, _small(codes))
    else:
        r = ms.group_r_squared(y[keep], yhat[keep], _small(codes[keep]))
    return {"year": int(year), "grouping": grouping, "prediction": prediction,
            "groups_left_out": int(((n > 0) & (n < min_size)).sum()), **r}


def _calibration(ys, yhat, codes, *, year, min_size) -> pd.DataFrame:
    c = ms.by_group(ys, yhat, _small(codes), min_size=min_size)
    c.insert(0, "year", int(year))
    c = c.rename(columns={"group": "decile"})
    c["decile"] = c["decile"].astype(int) + 1
    c["mean_observed"] = c["observed"] / c["persons"]
    c["mean_predicted"] = c["predicted"] / c["persons"]
    return c


def _run_jobs(jobs: list[tuple[str, Any]], workers: int | None) -> list[tuple[str, Any]]:
    """Run (kind, callable) jobs, in threads (pandas' grouping releases the GIL); results in job order."""
    n = max(1, min(len(jobs), workers if workers is not None else min(4, os.cpu_count() or 1)))
    if n == 1:
        return [(k, f()) for k, f in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [(k, pool.submit(f)) for k, f in jobs]
        return [(k, fut.result()) for k, fut in futures]


def prediction_analysis(panel: Any, config: ModelConfig, params: pd.Series, fit_year: int, years: Sequence[int],
                        in_sample_r2: float | None = None, deep_end_share: float = 0.10,
                        threads: int | None = None) -> dict[str, Any]:
    """Analysis 1: the fit-year coefficients against use in the later years (and in the fit year, in sample).

    In: a :class:`model.stability.Panel` holding the fit year and ``years``
    (fees at the fit year's price level), the fit configuration, the
    coefficients, and the share of clinics that make up the Deep End.
    The group computations of a year run in ``threads`` threads (default:
    up to 4).
    Out: tables ``prediction_measures``, ``predictive_ratios``,
    ``group_r_squared``, ``calibration``, ``deep_end``,
    ``fee_structure_shift``, and the chains per year (``chains``: year ->
    :class:`model.stability.ChainResult`, used by the other analyses).
    """
    from functools import partial

    from model.core import cells
    from model.core import chain as mc

    min_size = int(config.min_cell_size)
    measures_rows, ratio_frames, r2_rows, calib_frames, deep_rows = [], [], [], [], []
    chains: dict[int, Any] = {}
    deciles_of_clinic: np.ndarray | None = None
    deep_end_ids: list[str] = []
    all_years = [int(fit_year)] + [int(y) for y in years if int(y) != int(fit_year)]
    panel.want(all_years)
    for s in all_years:
        yd = panel.get(s)
        cfg = mc.year_config(config, s)
        fc = cells.features(yd, cfg)
        pred_atom = mc.cell_predictions(fc, cfg, params)[fc.cell_of_atom]
        pred = pred_atom[yd.atom]
        y = cells.outcome(yd, cfg)
        mask = cells.sample_mask(yd, cfg)
        corrected = pred * mc.person_le_factor(yd, cfg)
        weight = corrected / corrected.mean()
        chains[s] = mc.chain(yd, cfg, params)
        ys, ps, ws = y[mask], pred[mask], weight[mask]
        level = float(ps.sum() / ys.sum())
        yhat = ps / level                           # scaled: Σŷ = Σy in the year
        what = ws * (ys.sum() / ws.sum())           # the final weights, scaled likewise
        m = ms.prediction_measures(ys, yhat)
        mw = ms.prediction_measures(ys, what)
        kind = "in sample (fit year)" if s == int(fit_year) else "out of sample"
        measures_rows.append({
            "year": s, "kind": kind, "persons": m["n"], "mean_use": float(ys.mean()),
            "mean_predicted_unscaled": float(ps.mean()), "level_ratio": level,
            "r_squared": m["r_squared"], "cpm": m["cpm"], "mean_absolute_error": m["mean_absolute_error"],
            "r_squared_weights": mw["r_squared"], "cpm_weights": mw["cpm"],
            "mean_absolute_error_weights": mw["mean_absolute_error"],
            "in_sample_r_squared_of_fit": in_sample_r2 if in_sample_r2 is not None else np.nan,
        })
        # --- characteristic groups (from the atoms: a gather per person); out of sample only, as in the
        # fit year the groups that are terms of the model have ratios of exactly 1 by construction
        atom_mask = yd.atom[mask]
        jobs: list[tuple[str, Any]] = []
        if s != int(fit_year):
            for grouping, (acode, labels) in _atom_groups(yd.atoms, cfg).items():
                jobs.append(("ratio", partial(_group_rows, ys, yhat, _small(acode)[atom_mask], labels, year=s,
                                              grouping=grouping, prediction="use", min_size=min_size)))
        # --- areas: municipality and health council, for predicted use and for the final weights
        munis = yd.municipalities.set_index("municipality_code")
        mnames = munis["kommune"].reindex(yd.muni_codes).astype(str).tolist()
        hc_of_muni = munis["sundhedsraad"].reindex(yd.muni_codes).astype(str).to_numpy()
        hc_labels = sorted(set(hc_of_muni))
        hc_code_of_muni = pd.Index(hc_labels).get_indexer(hc_of_muni)
        pm = yd.pm[mask].astype(np.int64)
        area = {"municipality": (pm, mnames), "health council": (hc_code_of_muni[pm], hc_labels)}
        for grouping, (codes, labels) in area.items():
            codes = _small(codes)
            for pred_name, yh in (("use", yhat), ("weight", what)):
                jobs.append(("ratio", partial(_group_rows, ys, yh, codes, labels, year=s, grouping=grouping,
                                              prediction=pred_name, min_size=min_size)))
                jobs.append(("r2", partial(_group_r2_row, ys, yh, codes, year=s, grouping=grouping,
                                           prediction=pred_name, min_size=min_size)))
        pc = yd.pc[mask].astype(np.int64)
        lm = pc < len(yd.clinic_ids)  # listed with a clinic (the others are no clinic's patients)
        pc16 = _small(pc[lm])
        for pred_name, yh in (("use", yhat), ("weight", what)):
            jobs.append(("r2", partial(_group_r2_row, ys[lm], yh[lm], pc16, year=s, grouping="clinic",
                                       prediction=pred_name, min_size=min_size)))
        # --- clinic-weight deciles: ranked once, on the fit year's mean weights (the Deep End is the top decile)
        if deciles_of_clinic is None:
            ct = chains[s].clinics
            ranked = ct[(ct["listed_patients"] >= min_size) & ct["mean_weight"].notna()]
            dec = pd.Series(_weighted_deciles(ranked["mean_weight"].to_numpy(), np.ones(len(ranked), np.int64)),
                            index=ranked["clinic_id"].to_numpy())
            top = int(round(10 * (1 - deep_end_share)))
            deep_end_ids = sorted(dec.index[dec >= top])
            deciles_of_clinic = dec
        # (the code after the last clinic is the citizens with no clinic on record: no decile, not Deep End)
        dec_by_code = np.append(pd.Series(yd.clinic_ids).map(deciles_of_clinic).fillna(-1).astype(np.int64).to_numpy(), -1)
        dcode = dec_by_code[pc]
        keep = dcode >= 0
        dlabels = [f"decile {k + 1}" + (" (Deep End)" if k + 1 > round(10 * (1 - deep_end_share)) else "")
                   for k in range(10)]
        ys_k = ys[keep]
        for pred_name, yh in (("use", yhat), ("weight", what)):
            jobs.append(("ratio", partial(_group_rows, ys_k, yh[keep], _small(dcode[keep]), dlabels, year=s,
                                          grouping="clinic weight decile (fit year)", prediction=pred_name,
                                          min_size=min_size)))
        deep_clinic = np.isin(np.asarray(yd.clinic_ids, dtype=object), deep_end_ids)  # per clinic, then gathered
        deep = np.append(deep_clinic, False)[pc]
        listed = np.bincount(pc, minlength=len(yd.clinic_ids) + 1)[:len(yd.clinic_ids)]
        for label, sel, csel in (("Deep End", deep, deep_clinic), ("other clinics", ~deep, ~deep_clinic)):
            if not sel.any():
                continue
            g = ms.prediction_measures(ys[sel], yhat[sel])
            gw = ms.prediction_measures(ys[sel], what[sel])
            deep_rows.append({
                "year": s, "clinics": label, "persons": int(sel.sum()),
                "clinic_count": int(((listed > 0) & csel).sum()),
                "mean_use": float(ys[sel].mean()),
                "predictive_ratio_use": g["predictive_ratio"],
                "compensation_per_person_use": float((yhat[sel] - ys[sel]).mean()),
                "predictive_ratio_weight": gw["predictive_ratio"],
                "compensation_per_person_weight": float((what[sel] - ys[sel]).mean()),
            })
        # --- calibration: deciles of predicted use (persons of one cell share a decile)
        counts = np.bincount(atom_mask, minlength=len(pred_atom))
        dec_atom = _small(_weighted_deciles(pred_atom, counts))
        jobs.append(("calibration", partial(_calibration, ys, yhat, dec_atom[atom_mask], year=s, min_size=min_size)))
        for kind, res in _run_jobs(jobs, threads):
            {"ratio": ratio_frames, "r2": r2_rows, "calibration": calib_frames}[kind].append(res)
        del pred, y, mask, corrected, weight, ys, ps, ws, yhat, what, jobs
    ratios = pd.concat(ratio_frames, ignore_index=True)
    return {
        "prediction_measures": pd.DataFrame(measures_rows),
        "predictive_ratios": ratios,
        "group_r_squared": pd.DataFrame(r2_rows),
        "calibration": pd.concat(calib_frames, ignore_index=True),
        "deep_end": pd.DataFrame(deep_rows),
        "fee_structure_shift": fee_structure_shift(ratios, fit_year),
        "chains": chains,
        "deep_end_clinics": deep_end_ids,
        "clinic_deciles": deciles_of_clinic,
    }


#: Groupings compared before and under the new fee structure.
_SHIFT_GROUPINGS = ("age band", "sex", "somatic diseases", "psychiatric", "cancer", "labour status")


def fee_structure_shift(ratios: pd.DataFrame, fit_year: int, structure_year: int = 2027) -> pd.DataFrame:
    """Predictive ratios of the characteristic groups in the last year before ``structure_year`` and in the
    first year from it (both among the years evaluated); empty when the years do not straddle it."""
    r = ratios[(ratios["prediction"] == "use") & ratios["grouping"].isin(_SHIFT_GROUPINGS)]
    years = sorted(r["year"].unique())
    before = [y for y in years if y < structure_year]
    after = [y for y in years if y >= structure_year]
    cols = ["grouping", "group", "year_before", "year_after", "persons_after", "ratio_before", "ratio_after", "shift"]
    if not before or not after:
        return pd.DataFrame(columns=cols)
    yb, ya = max(before), min(after)
    b = r[r["year"] == yb].set_index(["grouping", "group"])
    a = r[r["year"] == ya].set_index(["grouping", "group"])
    j = a[["persons", "predictive_ratio"]].join(b[["predictive_ratio"]], rsuffix="_before", how="inner")
    out = pd.DataFrame({
        "year_before": yb, "year_after": ya, "persons_after": j["persons"],
        "ratio_before": j["predictive_ratio_before"], "ratio_after": j["predictive_ratio"],
    }, index=j.index)
    out["shift"] = out["ratio_after"] - out["ratio_before"]
    return out.reset_index()[cols]


# =============================================================================
# 2. Capacity in practice
# =============================================================================


def model_capacities(chains: Mapping[int, Any]) -> pd.DataFrame:
    """The model's capacities per health council for each chain's planning year (year + 1)."""
    rows = []
    for year, ch in sorted(chains.items()):
        h = ch.by_health_council
        for r in h.itertuples(index=False):
            rows.append({"year": int(year), "planning_year": int(ch.config.planning_year),
                         "health_council": r.health_council, "region_from_2027": r.region_from_2027,
                         "weighted_citizens": float(r.weighted_citizens), "capacities_exact": float(r.capacities_exact),
                         "capacities": int(r.capacities)})
    return pd.DataFrame(rows)


def capacity_analysis(table: pd.DataFrame, model: pd.DataFrame, config: ModelConfig) -> dict[str, pd.DataFrame]:
    """Analysis 2 from the report rows (:func:`capacity_table`) and the model's capacities (:func:`model_capacities`).

    ``capacity_over_time``: per health council and date, allocated, vacant,
    filled and counted capacities, and the model's capacities for the
    planning year the date falls in (the latest planning year up to it);
    ``capacity_latest``: the latest date per health council with the
    headroom (model - counted), the vacancy share and the filled
    capacities per 1,600 weighted citizens; ``national_capacity`` and
    ``goal_progress`` (:func:`goal_progress`).
    """
    if table.empty:
        empty = pd.DataFrame()
        return {"capacity_over_time": empty, "capacity_latest": empty, "national_capacity": empty,
                "goal_progress": empty}
    g = (table.groupby(["reporting_date", "health_council"], as_index=False)
         [["allocated", "vacant", "filled", "counted"]].sum())
    g["date_year"] = g["reporting_date"].str.slice(0, 4).astype(int)
    mc = model.sort_values("planning_year")
    planning = sorted(mc["planning_year"].unique())

    def plan_year(y):
        ok = [p for p in planning if p <= y]
        return ok[-1] if ok else planning[0]

    g["model_planning_year"] = g["date_year"].map(plan_year)
    mk = mc.set_index(["planning_year", "health_council"])
    idx = list(zip(g["model_planning_year"], g["health_council"]))
    g["model_capacities"] = mk["capacities"].reindex(idx).to_numpy()
    g["weighted_citizens"] = mk["weighted_citizens"].reindex(idx).to_numpy()
    g["filled_per_1600_weighted"] = g["filled"] / (g["weighted_citizens"] / config.citizens_per_capacity)
    g = g.drop(columns=["date_year"])
    latest_date = g["reporting_date"].max()
    latest = g[g["reporting_date"] == latest_date].copy()
    latest["headroom"] = latest["model_capacities"] - latest["counted"]
    latest["vacancy_share"] = latest["vacant"] / latest["allocated"]
    first = g[g["reporting_date"] == g["reporting_date"].min()].set_index("health_council")
    latest["allocated_change_since_first"] = latest["allocated"] - latest["health_council"].map(first["allocated"])
    latest["filled_change_since_first"] = latest["filled"] - latest["health_council"].map(first["filled"])
    nat = g.groupby("reporting_date", as_index=False)[["allocated", "vacant", "filled", "counted"]].sum()
    gp, path = goal_progress(nat, config.national_goal_gps)
    nat = nat.merge(path, on="reporting_date", how="left")
    return {"capacity_over_time": g, "capacity_latest": latest.reset_index(drop=True), "national_capacity": nat,
            "goal_progress": gp}


def goal_progress(national: pd.DataFrame, goal: int = 5000, goal_date: dt.date = dt.date(2035, 12, 31)
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Progress towards ``goal`` GPs by ``goal_date`` (design choice: the end of 2035).

    Filled capacities stand in for GPs: a filled capacity is held by a
    specialist in general medicine, and one specialist holds at most one
    capacity (R§1.2), so filled capacities are a lower bound on GPs in
    practice.  Out: one row (latest filled and allocated, observed growth a
    year from a log-linear fit over the reports, the growth needed from the
    latest report to the goal, the year the goal is reached at the observed
    pace) and the straight path per reporting date from the first report to
    the goal (``goal_path``).
    """
    n = national.sort_values("reporting_date")
    dates = pd.to_datetime(n["reporting_date"])
    t = ((dates - dates.iloc[0]).dt.days / 365.25).to_numpy()
    filled = n["filled"].to_numpy(dtype=float)
    if len(n) >= 2 and (filled > 0).all() and t[-1] > 0:
        slope = float(np.polyfit(t, np.log(filled), 1)[0])
        growth = float(np.exp(slope) - 1)
    else:
        growth = float("nan")
    years_left = (pd.Timestamp(goal_date) - dates.iloc[-1]).days / 365.25
    need = (goal / filled[-1]) ** (1 / years_left) - 1 if years_left > 0 and filled[-1] > 0 else float("nan")
    reach = (dates.iloc[-1].year + np.log(goal / filled[-1]) / np.log1p(growth)
             if growth > 0 and filled[-1] < goal else (float(dates.iloc[-1].year) if filled[-1] >= goal else float("inf")))
    total = (pd.Timestamp(goal_date) - dates.iloc[0]).days / 365.25
    path = pd.DataFrame({"reporting_date": n["reporting_date"].to_numpy(),
                         "goal_path": filled[0] + (goal - filled[0]) * np.clip(t / total, 0, 1)})
    row = pd.DataFrame([{
        "first_report": n["reporting_date"].iloc[0], "latest_report": n["reporting_date"].iloc[-1],
        "filled_first": filled[0], "filled_latest": filled[-1],
        "allocated_latest": float(n["allocated"].iloc[-1]), "goal": goal, "goal_date": goal_date.isoformat(),
        "observed_growth_per_year": growth, "needed_growth_per_year": need,
        "goal_path_latest": float(path["goal_path"].iloc[-1]),
        "year_goal_reached_at_observed_pace": reach,
        "on_track": bool(growth >= need) if np.isfinite(growth) and np.isfinite(need) else False,
    }])
    return row, path


# =============================================================================
# 3. Incentives: recorded diagnoses
# =============================================================================


def _markers(atoms: pd.DataFrame, config: ModelConfig) -> np.ndarray:
    """Recorded diagnosis markers per atom: somatic diseases + psychiatric + cancer (what the weights reward)."""
    return (atoms["somatic_diseases"].to_numpy().astype(np.float64)
            + atoms[config.psychiatric_column].to_numpy().astype(np.float64)
            + atoms[config.cancer_column].to_numpy().astype(np.float64))


def _age_sex5(atoms: pd.DataFrame) -> np.ndarray:
    """5-year age group (0-4 ... 90+) x sex code per atom."""
    return (np.minimum(atoms["age"].to_numpy().astype(np.int64) // 5, 18) * 2
            + atoms["sex"].to_numpy().astype(np.int64) - 1)


def flag_outliers(observed: np.ndarray, expected: np.ndarray, z: float = 3.5, min_expected: float = 0.0,
                  min_units: int = 10) -> pd.DataFrame:
    """Upward outliers of observed against expected counts (a funnel plot with robust overdispersion).

    Per unit: the Poisson z-score (O - E)/√E, then robustly standardised
    across units, (z - median)/(1.4826 x MAD), so that units of any size are
    judged on one scale and ordinary variation does not flag.  Flagged: the
    standardised score is at least ``z`` (only upward: more diagnoses than
    expected).  Units expecting fewer than ``min_expected`` are not judged
    (no score: a handful of diagnoses cannot tell), nor any unit when fewer
    than ``min_units`` can be judged (no spread to judge against).  Out:
    ``z_poisson``, ``z_robust``, ``flagged``.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        zp = np.where((e > 0) & (e >= min_expected), (o - e) / np.sqrt(e), np.nan)
    ok = np.isfinite(zp)
    if ok.sum() < min_units:
        nan = np.full(len(zp), np.nan)
        return pd.DataFrame({"z_poisson": zp, "z_robust": nan, "flagged": np.zeros(len(zp), dtype=bool)})
    med = float(np.median(zp[ok])) if ok.any() else 0.0
    mad = float(np.median(np.abs(zp[ok] - med))) * 1.4826 if ok.any() else 0.0
    zr = (zp - med) / mad if mad > 0 else np.where(ok, 0.0, np.nan)
    return pd.DataFrame({"z_poisson": zp, "z_robust": zr, "flagged": np.nan_to_num(zr, nan=-np.inf) >= z})


def incentive_analysis(panel: Any, config: ModelConfig, fit_year: int, years: Sequence[int],
                       chains: Mapping[int, Any], z: float | None = None) -> dict[str, pd.DataFrame]:
    """Analysis 3: growth in recorded diagnoses per clinic and region against the change in minimum numbers.

    Recorded diagnosis markers (somatic diseases counted, psychiatric
    disease, cancer) of each clinic's listed group-1 patients are compared
    with those expected from the fit year's national rates by 5-year age
    group and sex (indirect standardisation), giving a standardised ratio
    per clinic and year.  For each later year the expected count under "no
    change but the national trend" is E_s x ratio_t x (national ratio_s /
    national ratio_t); clinics far above it are flagged
    (:func:`flag_outliers`).  Minimum numbers come from the chain with the
    fit-year coefficients on each year's patients, so their change reflects
    only the patients (and their recorded diagnoses).  Clinics with fewer
    than ``config.min_cell_size`` listed patients in either year are left out.
    """
    z = THRESHOLDS["outlier_z"] if z is None else z
    yd_t = panel.get(int(fit_year))
    min_size = int(config.min_cell_size)
    g_t = _age_sex5(yd_t.atoms)
    mk_t = _markers(yd_t.atoms, config)
    n_t = np.bincount(g_t, weights=np.bincount(yd_t.atom, minlength=len(yd_t.atoms)), minlength=38)
    o_t = np.bincount(g_t, weights=mk_t * np.bincount(yd_t.atom, minlength=len(yd_t.atoms)), minlength=38)
    rate = np.divide(o_t, n_t, out=np.zeros_like(o_t), where=n_t > 0)

    def per_clinic(yd):
        obs_atom = _markers(yd.atoms, config)
        exp_atom = rate[_age_sex5(yd.atoms)]
        nc = len(yd.clinic_ids)  # yd.pc == nc: no clinic on record (dropped)
        o = np.bincount(yd.pc, weights=obs_atom[yd.atom], minlength=nc + 1)[:nc]
        e = np.bincount(yd.pc, weights=exp_atom[yd.atom], minlength=nc + 1)[:nc]
        n = np.bincount(yd.pc, minlength=nc + 1)[:nc]
        return pd.DataFrame({"clinic_id": yd.clinic_ids, "listed": n, "observed": o, "expected": e})

    base = per_clinic(yd_t).set_index("clinic_id")
    munis = yd_t.municipalities.set_index("municipality_code")
    clin = yd_t.clinics.set_index("clinic_id")
    region_of = clin["municipality_code"].map(munis["region_from_2027"])
    hc_of = clin["municipality_code"].map(munis["sundhedsraad"])
    min_t = chains[int(fit_year)].clinics.set_index("clinic_id")["minimum_patients"]
    rows, regions = [], []
    for s in years:
        yd = panel.get(int(s))
        cur = per_clinic(yd).set_index("clinic_id")
        del yd
        both = base.add_suffix("_fit").join(cur.add_suffix("_later"), how="inner")
        both = both[(both["listed_fit"] >= min_size) & (both["listed_later"] >= min_size)]
        ratio_t = both["observed_fit"] / both["expected_fit"]
        ratio_s = both["observed_later"] / both["expected_later"]
        nat_t = base["observed"].sum() / base["expected"].sum()
        nat_s = cur["observed"].sum() / cur["expected"].sum()
        trend = nat_s / nat_t
        expect = both["expected_later"] * ratio_t * trend
        f = flag_outliers(both["observed_later"].to_numpy(), expect.to_numpy(), z=z,
                          min_expected=THRESHOLDS["outlier_min_expected"])
        min_s = chains[int(s)].clinics.set_index("clinic_id")["minimum_patients"]
        t = pd.DataFrame({
            "year_fit": int(fit_year), "year": int(s), "clinic_id": both.index,
            "health_council": hc_of.reindex(both.index).to_numpy(),
            "region": region_of.reindex(both.index).to_numpy(),
            "listed_patients_fit": both["listed_fit"].to_numpy(), "listed_patients": both["listed_later"].to_numpy(),
            "diagnosis_ratio_fit": ratio_t.to_numpy(), "diagnosis_ratio": ratio_s.to_numpy(),
            "diagnosis_growth": (ratio_s / ratio_t / trend - 1).to_numpy(),
            "expected_markers": expect.to_numpy(), "excess_markers": (both["observed_later"] - expect).to_numpy(),
            "z_robust": f["z_robust"].to_numpy(), "flagged": f["flagged"].to_numpy(),
            "minimum_patients_fit": min_t.reindex(both.index).to_numpy(),
            "minimum_patients": min_s.reindex(both.index).to_numpy(),
        })
        t["minimum_change"] = t["minimum_patients"] / t["minimum_patients_fit"] - 1
        rows.append(t)
        # regions: all listed patients of the region's clinics
        cur_r = cur.join(region_of.rename("region")).groupby("region")[["listed", "observed", "expected"]].sum()
        base_r = base.join(region_of.rename("region")).groupby("region")[["listed", "observed", "expected"]].sum()
        rt = pd.DataFrame({"year_fit": int(fit_year), "year": int(s),
                           "listed_patients": cur_r["listed"],
                           "diagnosis_ratio_fit": base_r["observed"] / base_r["expected"],
                           "diagnosis_ratio": cur_r["observed"] / cur_r["expected"]})
        rt["diagnosis_growth"] = rt["diagnosis_ratio"] / rt["diagnosis_ratio_fit"] - 1
        agg = t.groupby("region").agg(clinics=("clinic_id", "size"), judged=("z_robust", "count"),
                                      flagged_clinics=("flagged", "sum"),
                                      median_minimum_change=("minimum_change", "median"))
        rt = rt.join(agg).reset_index().rename(columns={"index": "region"})
        regions.append(rt)
    return {"diagnosis_growth_clinics": pd.concat(rows, ignore_index=True),
            "diagnosis_growth_regions": pd.concat(regions, ignore_index=True)}


# =============================================================================
# 4. Life expectancy at birth vs remaining at 65
# =============================================================================


def life_expectancy_analysis(panel: Any, config: ModelConfig, params: pd.Series, fit_year: int,
                             years: Sequence[int], chains: Mapping[int, Any],
                             variant: str = "life_expectancy_65", threads: int | None = None) -> dict[str, pd.DataFrame]:
    """Analysis 4: the correction with remaining life expectancy at 65 against at birth (§4.4.2.4).

    For the fit year and the latest later year: capacities per health
    council under each figure (same coefficients) and the share of
    capacity that would move between health councils
    (:func:`model.measures.reallocation`); for every later year, group-level
    R² by municipality and health council of each set of weights against
    observed use (which figure's weights track later use better).  The
    municipal figures at 65 are derived (``life_expectancy_variants.csv``).
    """
    from functools import partial

    from model.core import cells
    from model.core import chain as mc

    cfg65_base = config.variant(variant)
    min_size = int(config.min_cell_size)
    cap_rows, fit_rows = [], []
    latest = max(int(y) for y in years)
    le_tables = {}
    for s in [int(fit_year)] + [int(y) for y in years]:
        yd = panel.get(s)
        cfg = mc.year_config(config, s)
        cfg65 = mc.year_config(cfg65_base, s)
        if s in (int(fit_year), latest):
            c_birth = chains[s] if s in chains else mc.chain(yd, cfg, params)
            c65 = mc.chain(yd, cfg65, params)
            a = c_birth.by_health_council.set_index("health_council")
            b = c65.by_health_council.set_index("health_council")
            d = pd.DataFrame({"year": s, "planning_year": cfg.planning_year,
                              "weighted_citizens_birth": a["weighted_citizens"],
                              "weighted_citizens_65": b["weighted_citizens"].reindex(a.index),
                              "capacities_birth": a["capacities"], "capacities_65": b["capacities"].reindex(a.index)})
            d["difference"] = d["capacities_65"] - d["capacities_birth"]
            d["reallocation_share"] = ms.reallocation(d["weighted_citizens_birth"], d["weighted_citizens_65"])
            cap_rows.append(d.reset_index())
            le_tables[s] = (c_birth.life_expectancy, c65.life_expectancy)
        if s == int(fit_year):
            continue
        fc = cells.features(yd, cfg)
        pred = mc.cell_predictions(fc, cfg, params)[fc.cell_of_atom][yd.atom]
        mask = cells.sample_mask(yd, cfg)
        y = cells.outcome(yd, cfg)[mask]
        pm = yd.pm[mask].astype(np.int64)
        munis = yd.municipalities.set_index("municipality_code")
        hc = munis["sundhedsraad"].reindex(yd.muni_codes).astype(str).to_numpy()
        hc_code = _small(pd.Index(sorted(set(hc))).get_indexer(hc)[pm])
        pm = _small(pm)
        jobs = []
        for name, c in (("at birth", cfg), ("remaining at 65", cfg65)):
            w = pred * mc.person_le_factor(yd, c)
            w = w[mask] / w[mask].mean() * y.mean()
            for grouping, codes in (("municipality", pm), ("health council", hc_code)):
                jobs.append((name, partial(_group_r2_row, y, w, codes, year=s, grouping=grouping,
                                           prediction=f"weight ({name})", min_size=min_size)))
        for name, r in _run_jobs(jobs, threads):
            r["life_expectancy"] = name
            fit_rows.append(r)
        del pred, mask, y, pm, jobs
    lb, l65 = le_tables[latest]
    munis = panel.get(int(fit_year)).municipalities
    mt = munis[["municipality_code", "kommune", "sundhedsraad"]].rename(
        columns={"kommune": "municipality", "sundhedsraad": "health_council"})
    mt = mt.merge(lb[["municipality_code", "life_expectancy", "life_expectancy_factor", "life_expectancy_imputed"]]
                  .rename(columns={"life_expectancy": "life_expectancy_at_birth",
                                   "life_expectancy_factor": "factor_at_birth"}), on="municipality_code", how="left")
    mt = mt.merge(l65[["municipality_code", "life_expectancy", "life_expectancy_factor"]]
                  .rename(columns={"life_expectancy": "remaining_life_expectancy_65", "life_expectancy_factor": "factor_65"}),
                  on="municipality_code", how="left")
    mt["factor_difference"] = mt["factor_65"] - mt["factor_at_birth"]
    return {"life_expectancy_capacity": pd.concat(cap_rows, ignore_index=True),
            "life_expectancy_fit": pd.DataFrame(fit_rows),
            "life_expectancy_municipalities": mt}


# =============================================================================
# 5. Conclusions
# =============================================================================


def _verdict(ok: bool | None) -> str:
    return "not assessable" if ok is None else ("held" if ok else "did not hold")


def conclusions(tables: Mapping[str, pd.DataFrame], facts: Mapping[str, Any] | None = None,
                thresholds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The conclusions table: one row per question, with the measure, the threshold, the result, the verdict
    (held / did not hold / not assessable) and which parameter to change if it did not hold."""
    th = {**THRESHOLDS, **(thresholds or {})}
    facts = dict(facts or {})
    rows: list[dict[str, Any]] = []

    def add(topic, question, measure, threshold, result, ok, parameter, note=""):
        rows.append({"topic": topic, "question": question, "measure": measure, "threshold": threshold,
                     "result": result, "verdict": _verdict(ok), "parameter_to_change": parameter if ok is False else "",
                     "note": note})

    pm = tables.get("prediction_measures", pd.DataFrame())
    if len(pm):
        ins = pm[pm["kind"].str.startswith("in sample")]
        oos = pm[pm["kind"] == "out of sample"]
        r_in = float(ins["r_squared"].iloc[0]) if len(ins) else float("nan")
        if len(oos) and np.isfinite(r_in) and r_in > 0:
            worst = oos.loc[oos["r_squared"].idxmin()]
            ok = bool(worst["r_squared"] >= th["r_squared_kept"] * r_in)
            add("prediction", "Do the weights predict later use about as well as the year they were fitted on?",
                "lowest out-of-sample R² / in-sample R²", f">= {th['r_squared_kept']:.0%}",
                f"{worst['r_squared']:.3f} in {int(worst['year'])} vs {r_in:.3f} in the fit year "
                f"({worst['r_squared'] / r_in:.0%}); CPM {worst['cpm']:.3f}", ok, "year (refit on a later year)")
    pr = tables.get("predictive_ratios", pd.DataFrame())
    if len(pr):
        oos_years = sorted(set(pr["year"]) - {facts.get("fit_year")})
        chars = pr[(pr["prediction"] == "use") & pr["year"].isin(oos_years)
                   & ~pr["grouping"].isin(["municipality", "health council", "clinic weight decile (fit year)"])
                   & (pr["persons"] >= th["group_min_persons"]) & pr["predictive_ratio"].notna()]
        if len(chars):
            off = chars[(chars["predictive_ratio"] - 1).abs() > th["group_ratio_tolerance"]]
            worst = chars.loc[(chars["predictive_ratio"] - 1).abs().idxmax()]
            groupings = sorted(set(off["grouping"]))
            param = {"somatic diseases": "somatic_bins", "age band": "age_bands", "age and sex": "age_bands",
                     "sex": "include_sex", "origin": "origin_terms", "civil status": "civil_status_codes",
                     "labour status": "labour_age_max", "psychiatric": "psychiatric_column",
                     "cancer": "cancer_column"}
            add("prediction", "Are the characteristic groups neither over- nor under-compensated in later years?",
                "predictive ratio Σŷ/Σy of groups with at least "
                f"{int(th['group_min_persons']):,} persons", f"within 1 ± {th['group_ratio_tolerance']:.2f}",
                f"{len(off)} of {len(chars)} group-years off; furthest: {worst['grouping']} {worst['group']} "
                f"{worst['predictive_ratio']:.3f} ({int(worst['year'])})", len(off) == 0,
                ", ".join(sorted({param.get(g, 'year') for g in groupings})) + " (or refit: year)")
        else:
            add("prediction", "Are the characteristic groups neither over- nor under-compensated in later years?",
                "predictive ratio of groups", f"groups of at least {int(th['group_min_persons']):,} persons",
                "no group large enough", None, "")
    gr = tables.get("group_r_squared", pd.DataFrame())
    if len(gr):
        mun = gr[(gr["grouping"] == "municipality") & (gr["prediction"] == "use") & (gr["year"] != facts.get("fit_year"))]
        if len(mun):
            worst = mun.loc[mun["share_off_10pct"].idxmax()]
            add("prediction", "Do the municipalities get about what their citizens use?",
                "share of municipalities off by 10 % or more (predicted use)",
                f"<= {th['municipalities_off_10pct']:.0%}",
                f"{worst['share_off_10pct']:.0%} in {int(worst['year'])} (group R² {worst['r_squared']:.2f}, "
                f"{int(worst['groups'])} municipalities)", bool(worst["share_off_10pct"] <= th["municipalities_off_10pct"]),
                "life_expectancy_correction / life_expectancy_column",
                "small municipalities have few citizens: with sample data the shares mostly show noise")
    de = tables.get("deep_end", pd.DataFrame())
    if len(de):
        d = de[(de["clinics"] == "Deep End") & (de["year"] != facts.get("fit_year"))]
        if len(d):
            worst = d.loc[(d["predictive_ratio_weight"] - 1).abs().idxmax()]
            ok = bool(abs(worst["predictive_ratio_weight"] - 1) <= th["deep_end_tolerance"])
            under = worst["predictive_ratio_weight"] < 1
            add("prediction", "Do the clinics with the heaviest patients (Deep End) get weights that match their use?",
                "predictive ratio of the final weights, Deep End clinics", f"within 1 ± {th['deep_end_tolerance']:.2f}",
                f"{worst['predictive_ratio_weight']:.3f} in {int(worst['year'])} (use only: "
                f"{worst['predictive_ratio_use']:.3f})", ok,
                "life_expectancy_correction / life_expectancy_column" if under else "somatic_bins / chronic_fee_share")
    fs = tables.get("fee_structure_shift", pd.DataFrame())
    if len(fs):
        big = fs[(fs["persons_after"] >= th["group_min_persons"]) & fs["shift"].notna()]
        if len(big):
            worst = big.loc[big["shift"].abs().idxmax()]
            add("prediction", "Did the weights survive the new fee structure of 2027?",
                "change of a group's predictive ratio from the last year before to the first year under it",
                f"less than {th['fee_structure_shift']:.2f}",
                f"largest: {worst['grouping']} {worst['group']} {worst['ratio_before']:.3f} -> {worst['ratio_after']:.3f}",
                bool(abs(worst["shift"]) < th["fee_structure_shift"]),
                "year (refit the weights on use under the new fee structure)")
    else:
        add("prediction", "Did the weights survive the new fee structure of 2027?", "predictive ratios before/after",
            "", "the years evaluated do not include both a year before 2027 and one from 2027", None, "")
    cl = tables.get("capacity_latest", pd.DataFrame())
    if len(cl):
        dev = (cl["counted"] - cl["model_capacities"]) / cl["model_capacities"]
        off = cl[dev.abs() > th["allocation_tolerance"]]
        add("capacity", "Do the allocated capacities follow the model's numbers per health council?",
            "counted allocation against the model's capacities at the latest report",
            f"within ± {th['allocation_tolerance']:.0%}",
            f"{len(off)} of {len(cl)} health councils off (largest gap {dev.abs().max():.1%})", len(off) == 0,
            "none in the model: regions may, not must, allocate up to the number (§4.2.1)")
        vac = float(cl["vacant"].sum() / cl["allocated"].sum())
        add("capacity", "Are the allocated capacities filled?", "vacant / allocated capacities, latest report",
            f"<= {th['vacancy_share']:.0%}", f"{vac:.1%} nationally; highest {cl['vacancy_share'].max():.1%} "
            f"({cl.loc[cl['vacancy_share'].idxmax(), 'health_council']})", vac <= th["vacancy_share"],
            "none in the model (recruitment); citizens_per_capacity if the standard is out of reach")
    else:
        add("capacity", "How did allocated and filled capacities move?", "capacity reports", "", "no reports read",
            None, "")
    gp = tables.get("goal_progress", pd.DataFrame())
    if len(gp) and not np.isfinite(gp.iloc[0]["observed_growth_per_year"]):
        add("capacity", "Is the country on track for 5,000 GPs in 2035?", "growth of filled capacities a year", "",
            "one reporting date: no growth to measure", None, "")
    elif len(gp):
        g = gp.iloc[0]
        add("capacity", "Is the country on track for 5,000 GPs in 2035?", "growth of filled capacities a year",
            f">= {g['needed_growth_per_year']:.2%} a year (needed)",
            f"{g['observed_growth_per_year']:.2%} a year; {int(g['filled_latest']):,} filled per {g['latest_report']}; "
            f"goal reached about {g['year_goal_reached_at_observed_pace']:.0f} at this pace",
            bool(g["on_track"]), "none in the model (the pace of allocation); national_goal_gps is reported only")
    dg = tables.get("diagnosis_growth_clinics", pd.DataFrame())
    judged = dg[(dg["year"] == dg["year"].max()) & dg["z_robust"].notna()] if len(dg) else dg
    if len(dg) and len(judged) < th["min_clinics_judged"]:
        add("incentives", "Did recorded diagnoses rise where they lower clinic minimum numbers (more sickness on paper)?",
            "share of clinics flagged for diagnosis growth", "",
            f"{len(judged)} clinics large enough to judge (at least {th['min_clinics_judged']:.0f} needed)", None, "")
    elif len(dg):
        last = judged
        share = float(last["flagged"].mean()) if len(last) else 0.0
        fell = last[last["flagged"]]["minimum_change"].lt(0).mean() if last["flagged"].any() else float("nan")
        add("incentives", "Did recorded diagnoses rise where they lower clinic minimum numbers (more sickness on paper)?",
            f"share of clinics flagged for diagnosis growth (robust z >= {th['outlier_z']})",
            f"<= {th['flagged_clinic_share']:.0%}",
            f"{int(last['flagged'].sum())} of {len(last)} clinics judged ({share:.1%}) in {int(dg['year'].max())}"
            + (f"; minimum number lowered for {fell:.0%} of them" if np.isfinite(fell) else ""),
            share <= th["flagged_clinic_share"],
            "somatic_bins (a coarser disease count rewards one more diagnosis less); audit the flagged clinics")
    lf = tables.get("life_expectancy_fit", pd.DataFrame())
    lc = tables.get("life_expectancy_capacity", pd.DataFrame())
    if len(lf):
        m = lf[lf["grouping"] == "municipality"].groupby("life_expectancy")["r_squared"].mean()
        gain = float(m.get("remaining at 65", np.nan) - m.get("at birth", np.nan))
        realloc = float(lc["reallocation_share"].iloc[-1]) if len(lc) else float("nan")
        current = facts.get("life_expectancy_column", "life_expectancy_at_birth")
        better65 = gain > th["life_expectancy_r2_gain"]
        ok = not better65 if current == "life_expectancy_at_birth" else gain >= -th["life_expectancy_r2_gain"]
        add("life expectancy", "Should the correction use remaining life expectancy at 65 instead of at birth?",
            "group R² by municipality of the weights against later use, at 65 minus at birth",
            f"gain > {th['life_expectancy_r2_gain']:.2f} favours the other figure",
            f"{gain:+.3f}; capacity moved between health councils: {realloc:.2%}", ok,
            "life_expectancy_column = 'remaining_life_expectancy_65'" if better65 else "life_expectancy_column",
            "the correction departs from use on purpose (to offset inequality): fit to use is one criterion of several")
    return pd.DataFrame(rows, columns=["topic", "question", "measure", "threshold", "result", "verdict",
                                       "parameter_to_change", "note"])


# =============================================================================
# The whole evaluation
# =============================================================================


@dataclass
class EvaluationResult:
    """Result of :func:`run_evaluation`: the tables (:data:`TABLES`), facts and timings."""

    config: ModelConfig
    fit_year: int
    evaluation_years: list[int]
    tables: dict[str, pd.DataFrame]
    facts: dict[str, Any]
    timings: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)


def run_evaluation(data: str | Path | Any, fit_year: int = 2025, years: Iterable[int] | None = None,
                   config: ModelConfig | None = None, *, reports: bool | str | Path = True,
                   strict_reports: bool = True, workers: int | None = None) -> EvaluationResult:
    """The 2028 evaluation: the five analyses of the module docstring.

    In: a data folder (or a :class:`model.stability.Panel` built in memory),
    the fit year, the later years (default: every year after the fit year in
    the data), the configuration (default: the base model) and where the
    capacity reports are (True: ``<data>/capacity_reports``; a folder; False:
    none).  With ``strict_reports`` a report that breaks a rule stops the
    evaluation with :class:`model.ingest.CapacityReportError`; otherwise the
    failures are tabled and the failing reports left out.
    """
    from model.core import cells
    from model.inputs import panel as ipanel
    from model.analyses import panel as apanel
    from model.inputs.tables import read_clinics, read_municipalities
    from model.artifacts import sha256_file

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def mark(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    years = list(years) if years is not None else None
    fit_year, _ = check_parameters(fit_year, years)
    config = (config or ModelConfig()).replace(year=fit_year, planning_year=fit_year + 1)
    if isinstance(data, (str, Path)):
        data_dir: Path | None = Path(data)
        available = ipanel.panel_years(data_dir / "persons.parquet")
    else:
        data_dir = None
        available = list(data.years)
    eyears = evaluation_years(available, fit_year, years)
    files: dict[str, str] = {}

    # --- 2. the capacity reports first (read in parallel processes before the persons are in memory)
    report_set = None
    rep_dir = None
    if reports is not False:
        rep_dir = Path(reports) if isinstance(reports, (str, Path)) else (data_dir / REPORTS_DIR if data_dir else None)
    if rep_dir is not None and rep_dir.is_dir() and find_capacity_reports(rep_dir):
        clinics = read_clinics(data_dir / "clinics.csv") if data_dir is not None else data.get(fit_year).clinics
        report_set = load_capacity_reports(rep_dir, clinics, strict=strict_reports, workers=workers)
        for p in find_capacity_reports(rep_dir):
            files[f"{REPORTS_DIR}/{p.name}"] = sha256_file(p)
    mark("capacity reports")

    panel = apanel.Panel(data_dir, [fit_year] + eyears, price_year=fit_year) if data_dir is not None else data
    try:
        yd_t = panel.get(fit_year)
        fit = cells.fit(yd_t, config)
        params = fit.params
        mark("fit")
        pred = prediction_analysis(panel, config, params, fit_year, eyears, in_sample_r2=float(fit.rsquared))
        chains = pred.pop("chains")
        deep_end_ids = pred.pop("deep_end_clinics")
        pred.pop("clinic_deciles")
        mark("prediction")
        inc = incentive_analysis(panel, config, fit_year, eyears, chains)
        mark("incentives")
        le = life_expectancy_analysis(panel, config, params, fit_year, eyears, chains)
        mark("life expectancy")
        files.update(panel.files if getattr(panel, "files", None) else {})
    finally:
        if data_dir is not None:
            panel.close()
    tables: dict[str, pd.DataFrame] = {**pred, **inc, **le}
    mc = model_capacities(chains)
    tables["model_capacities"] = mc
    if report_set is not None:
        munis = read_municipalities(data_dir / "municipalities.csv") if data_dir is not None else yd_t.municipalities
        ct = capacity_table(report_set, munis, config.island_min_patients)
        tables.update(capacity_analysis(ct, mc, config))
        tables["report_index"] = report_set.index
        tables["report_failures"] = report_set.failures
    else:
        for k in ("capacity_over_time", "capacity_latest", "national_capacity", "goal_progress", "report_index",
                  "report_failures"):
            tables[k] = pd.DataFrame()
    mark("capacity")
    facts: dict[str, Any] = {
        "fit_year": fit_year, "evaluation_years": eyears, "years_in_data": available,
        "in_sample_r_squared": float(fit.rsquared), "persons_fit_year": int(fit.nobs),
        "coefficients": {k: float(v) for k, v in params.items()},
        "deep_end_clinics": len(deep_end_ids), "life_expectancy_column": config.life_expectancy_column,
        "reports_read": int(len(report_set.reports)) if report_set is not None else 0,
        "reports_folder": str(rep_dir) if rep_dir is not None else None,
        "submission_dates_checked": bool(report_set.submissions_checked) if report_set is not None else False,
        "report_failures": int(len(report_set.failures)) if report_set is not None else 0,
        "life_expectancy_65_source": "src/model/data/life_expectancy_variants.csv (derived; see its header)",
        "price_level": f"fees of every year at {fit_year} prices (fee_index.csv)",
        "thresholds": dict(THRESHOLDS),
    }
    tables["conclusions"] = conclusions(tables, facts)
    mark("conclusions")
    return EvaluationResult(config=config, fit_year=fit_year, evaluation_years=eyears, tables=tables, facts=facts,
                            timings=timings, files=files)


def write_evaluation(result: EvaluationResult, out: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the tables (``<name>.csv``) and ``manifest.json`` to ``out`` atomically; return ``out``.

    The run folder holds aggregates only (no person rows); like a fit's run
    folder it keeps small counts, which the notebook masks when it shows them.
    """
    from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file, write_csv

    t0 = time.perf_counter()
    with AtomicFolder(Path(out)) as tmp:
        for name in TABLES:
            df = result.tables.get(name, pd.DataFrame())
            write_csv(df, tmp / f"{name}.csv")
        manifest = {
            "command": "evaluate",
            "fit_year": result.fit_year,
            "evaluation_years": result.evaluation_years,
            "config": result.config.to_dict(),
            "facts": result.facts,
            "inputs": result.files,
            "tables": TABLES,
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**result.timings, "write": round(time.perf_counter() - t0, 3)},
        }
        if extra:
            manifest.update(dict(extra))
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
    return Path(out)


_STR = {"clinic_id": str, "municipality_code": str, "file": str, "group": str, "reporting_date": str}


def load_evaluation(run_dir: str | Path) -> dict[str, Any]:
    """The tables of an evaluation run folder by name, plus ``manifest`` and ``config``."""
    run_dir = Path(run_dir)
    m = run_dir / "manifest.json"
    if not m.exists():
        raise FileNotFoundError(f"{run_dir}: no manifest.json; run `python -m model evaluate` (or the notebook) first")
    manifest = json.loads(m.read_text(encoding="utf-8"))
    if manifest.get("command") != "evaluate":
        raise ValueError(f"{run_dir} is not an evaluation run folder (its manifest says {manifest.get('command')!r})")
    out: dict[str, Any] = {}
    for name in TABLES:
        p = run_dir / f"{name}.csv"
        try:
            out[name] = pd.read_csv(p, dtype=_STR, encoding="utf-8") if p.exists() else pd.DataFrame()
        except pd.errors.EmptyDataError:
            out[name] = pd.DataFrame()
    out["manifest"] = manifest
    out["config"] = ModelConfig.from_dict(manifest["config"])
    return out


def notebook_setup(year: int, run_dir: str | Path, data_dir: str | Path) -> dict[str, Any]:
    """What the notebook's first cell calls: check the parameters and return the evaluation tables.

    ``year`` is the fit year.  When ``run_dir`` holds an evaluation of that
    fit year (written by ``python -m model evaluate``) it is read; otherwise
    the evaluation is computed from ``data_dir`` (every later year in the
    data) and written to ``run_dir``.
    """
    fit_year, _ = check_parameters(int(year))
    m = Path(run_dir) / "manifest.json"
    if not m.exists():
        res = run_evaluation(data_dir, fit_year)
        write_evaluation(res, run_dir)
    t = load_evaluation(run_dir)
    if int(t["manifest"]["fit_year"]) != fit_year:
        raise ValueError(f"run_dir {run_dir} holds an evaluation of fit year {t['manifest']['fit_year']}, not {fit_year}")
    return t


# =============================================================================
# Rendering (python -m model evaluate)
# =============================================================================


def _validate_without_reports(data: Path, years: list[int]) -> Any:
    """:func:`model.schema.validate_folder` on the data folder's tables, the capacity reports left out.

    The reports are validated by :func:`load_capacity_reports` (the annex
    rules row by row, the schedule and the submission dates), so the
    folder's other files are validated through a view of symlinks that
    leaves ``capacity_reports/`` out (on a system without symlinks: the
    whole folder).
    """
    import tempfile

    from model.inputs.contracts import validate_folder

    try:
        with tempfile.TemporaryDirectory(prefix="evaluation-validate-") as tmp:
            view = Path(tmp) / data.name
            view.mkdir()
            for p in data.iterdir():
                if p.name != REPORTS_DIR and not p.name.startswith("."):
                    (view / p.name).symlink_to(p.resolve())
            return validate_folder(view, years=years)
    except OSError:
        return validate_folder(data, years=years)


def _validation_job(data: str, years: list[int]) -> tuple[dict[str, Any], str]:
    """Validate in a worker process: (the summary of :func:`model.render.validation_summary`, the report's text)."""
    from model.report.render import validation_summary

    report = _validate_without_reports(Path(data), years)
    if hasattr(report, "source"):
        report.source = data
    summary = validation_summary(report)
    return summary, ("" if summary["ok"] else report.format())


def render_evaluation(data: str | Path, fit_year: int = 2025, years: Iterable[int] | None = None,
                      out: str | Path | None = None, timeout: int | None = 900, validate: bool = True,
                      notebooks: str | Path | None = None, kernel_name: str = "python3",
                      workers: int | None = None) -> Path:
    """Validate, compute and render the evaluation into ``out`` (default ``reports/evaluation``); return it.

    1. validate the data folder's tables for the fit year and the later
       years (:mod:`model.schema`, in a separate process while step 2
       runs; the capacity reports are left to step 2) and read every
       capacity report (:func:`load_capacity_reports`, strict): any failure
       stops the evaluation, naming file, sheet, row and rule, and nothing
       is written;
    2. compute the evaluation (:func:`run_evaluation`) into ``run/``;
    3. execute ``notebooks/evaluation_2028.ipynb`` with papermill
       (parameters ``year`` = the fit year, ``run_dir``, ``data_dir``) and
       convert it to offline HTML without code (``evaluation_2028.html``);
    4. ``manifest.json``: input hashes, parameters, versions, commit,
       timings, the hash of every file written.

    Everything goes through a temporary folder that replaces ``out`` only
    when all of it succeeded (:class:`model.pipeline.AtomicFolder`); a failed
    notebook is kept in ``<out>/../failed/``.
    """
    from model.report import render
    from model.inputs import panel as ipanel
    from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file

    t0 = time.perf_counter()
    data = Path(data).resolve()
    if not data.is_dir():
        raise FileNotFoundError(f"data folder {data} does not exist")
    fit_year, yrs = check_parameters(fit_year, list(years) if years is not None else None)
    eyears = evaluation_years(ipanel.panel_years(data / "persons.parquet"), fit_year, yrs)
    out = (Path(out) if out is not None else Path("reports") / "evaluation").resolve()
    nb_dir = Path(notebooks) if notebooks is not None else render.NOTEBOOKS
    failed_dir = out.parent / "failed"
    params = {"year": int(fit_year), "run_dir": "run", "data_dir": str(data)}
    render.check_parameters(nb_dir / NOTEBOOK, params)
    timings: dict[str, Any] = {}

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {text}", flush=True)

    validation: dict[str, Any] = {"available": False, "ok": True, "summary": "not validated (validate=False)"}
    vpool = vfut = None
    t_val = time.perf_counter()
    if validate:
        # the data contracts are checked in a separate process while the evaluation is computed; nothing is
        # written before the verdict is in, and a failed validation is reported instead of any later error
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        say(f"evaluation: validating {data} for {fit_year} and {', '.join(map(str, eyears))} (in parallel)")
        vpool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        vfut = vpool.submit(_validation_job, str(data), [fit_year] + eyears)

    def verdict() -> dict[str, Any]:
        if vfut is None:
            return validation
        summary, text = vfut.result()
        vpool.shutdown()
        timings["validate"] = round(time.perf_counter() - t_val, 3)
        if not summary["ok"]:
            raise ValueError(f"data folder {data} failed validation; nothing was written.\n{text}")
        say(f"validation: {summary['summary']}")
        return summary

    with AtomicFolder(out, inputs={"--data": data}) as tmp:
        say("computing the evaluation (capacity reports, prediction, incentives, life expectancy)")
        t = time.perf_counter()
        try:
            res = run_evaluation(data, fit_year, eyears, workers=workers)
        except Exception:
            verdict()  # a broken data folder is reported as such (waits for the verdict)
            raise
        timings["compute"] = {"total": round(time.perf_counter() - t, 3), **res.timings}
        say(f"computed in {time.perf_counter() - t:.1f} s ({res.facts['reports_read']} capacity reports read)")
        validation = verdict()
        write_evaluation(res, tmp / "run", extra={"data": str(data)})
        (tmp / "notebooks").mkdir()
        (tmp / "validation.json").write_text(json.dumps(validation, indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
        executed = tmp / "notebooks" / NOTEBOOK
        say(f"{NOTEBOOK}: executing")
        t = time.perf_counter()
        render.run_notebook(nb_dir / NOTEBOOK, executed, params, cwd=tmp, timeout=timeout, kernel_name=kernel_name,
                            failed_dir=failed_dir)
        t_exec = time.perf_counter() - t
        t = time.perf_counter()
        stderr = render.to_html(executed, tmp / "evaluation_2028.html", render.TITLES[NOTEBOOK])
        timings[NOTEBOOK] = {"execute": round(t_exec, 3), "html": round(time.perf_counter() - t, 3)}
        say(f"{NOTEBOOK}: executed in {t_exec:.1f} s; HTML written")
        manifest = {
            "command": "evaluate",
            "fit_year": fit_year,
            "evaluation_years": eyears,
            "data": str(data),
            "inputs": res.files,
            "config": res.config.to_dict(),
            "parameters": {NOTEBOOK: params},
            "validation": validation,
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**timings, "total": round(time.perf_counter() - t0, 3)},
            "warnings": {NOTEBOOK: [" ".join(s.split())[:1000] for s in stderr]} if stderr else {},
        }
        manifest["outputs"] = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
        _readable(tmp)
    (failed_dir / f"{Path(NOTEBOOK).stem}.failed.ipynb").unlink(missing_ok=True)
    if failed_dir.is_dir() and not any(failed_dir.iterdir()):
        failed_dir.rmdir()
    say(f"evaluation written to {out}")
    return out


def _readable(root: Path) -> None:
    """Give the folders the umask's usual permissions (``mkdtemp`` makes them private)."""
    mask = os.umask(0)
    os.umask(mask)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        d.chmod(0o777 & ~mask)


# =============================================================================
# Presentation helpers for the notebook (tables for readers, figures)
# =============================================================================


def _pct(v: float) -> str:
    return "" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def measures_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Prediction measures per year, for readers."""
    m = t["prediction_measures"]
    return pd.DataFrame({
        "Year": m["year"].astype(int).astype(str), "Sample": m["kind"], "Persons": m["persons"].astype(int),
        "Mean use (DKK)": m["mean_use"], "Level ratio Σŷ/Σy (before scaling)": m["level_ratio"],
        "R²": m["r_squared"], "CPM": m["cpm"], "Mean absolute error (DKK)": m["mean_absolute_error"],
        "R² (final weights)": m["r_squared_weights"], "CPM (final weights)": m["cpm_weights"],
    })


def ratios_table(t: Mapping[str, Any], grouping: str, prediction: str = "use") -> pd.DataFrame:
    """Predictive ratios of one grouping, one column per year, with the persons of the latest year."""
    r = t["predictive_ratios"]
    r = r[(r["grouping"] == grouping) & (r["prediction"] == prediction)]
    if r.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(r.sort_values(["year"])["group"]))
    wide = r.pivot_table(index="group", columns="year", values="predictive_ratio", aggfunc="first").reindex(order)
    wide.columns = [f"Ratio {int(c)}" for c in wide.columns]
    last = r[r["year"] == r["year"].max()].set_index("group")
    wide.insert(0, "Persons", last["persons"].reindex(order).astype("Int64"))
    wide[f"Compensation per person {int(r['year'].max())} (DKK)"] = last["compensation_per_person"].reindex(order).round(0).astype("Int64")
    return wide.reset_index().rename(columns={"group": grouping.capitalize()})


def area_summary(t: Mapping[str, Any]) -> pd.DataFrame:
    """Group-level R² with group sizes, and the shares of areas and clinics off by 5 % and 10 %."""
    g = t["group_r_squared"]
    return pd.DataFrame({
        "Year": g["year"].astype(int).astype(str), "Grouping": g["grouping"], "Prediction": g["prediction"],
        "Groups": g["groups"].astype(int), "Group R²": g["r_squared"],
        "Off by 5 % or more": g["share_off_5pct"].map(_pct), "Off by 10 % or more": g["share_off_10pct"].map(_pct),
        "Smallest group (persons)": g["min_group_size"].astype(int),
        "Median group (persons)": g["median_group_size"], "Groups under 5 left out": g["groups_left_out"].astype(int),
    })


def deep_end_table(t: Mapping[str, Any]) -> pd.DataFrame:
    d = t["deep_end"]
    return pd.DataFrame({
        "Year": d["year"].astype(int).astype(str), "Clinics": d["clinics"], "Number of clinics": d["clinic_count"].astype(int),
        "Persons": d["persons"].astype(int), "Mean use (DKK)": d["mean_use"],
        "Predictive ratio (use)": d["predictive_ratio_use"], "Compensation per person, use (DKK)": d["compensation_per_person_use"],
        "Predictive ratio (final weights)": d["predictive_ratio_weight"],
        "Compensation per person, weights (DKK)": d["compensation_per_person_weight"],
    })


def shift_table(t: Mapping[str, Any]) -> pd.DataFrame:
    s = t["fee_structure_shift"]
    if s.empty:
        return s
    return pd.DataFrame({"Grouping": s["grouping"], "Group": s["group"], "Persons": s["persons_after"].astype(int),
                         f"Ratio {int(s['year_before'].iloc[0])}": s["ratio_before"],
                         f"Ratio {int(s['year_after'].iloc[0])}": s["ratio_after"], "Shift": s["shift"]})


def capacity_latest_table(t: Mapping[str, Any]) -> pd.DataFrame:
    c = t["capacity_latest"]
    if c.empty:
        return c
    return pd.DataFrame({
        "Health council": c["health_council"], "Allocated": c["allocated"], "Vacant": c["vacant"],
        "Filled": c["filled"], "Counted allocation": c["counted"],
        f"Model capacities ({int(c['model_planning_year'].iloc[0])})": c["model_capacities"],
        "Headroom (model - counted)": c["headroom"], "Vacancy share": c["vacancy_share"].map(_pct),
        "Filled per 1,600 weighted citizens": c["filled_per_1600_weighted"],
        "Allocated since first report": c["allocated_change_since_first"],
        "Filled since first report": c["filled_change_since_first"],
    })


def goal_table(t: Mapping[str, Any]) -> pd.DataFrame:
    g = t["goal_progress"]
    if g.empty:
        return g
    r = g.iloc[0]
    return pd.DataFrame({"": ["First report", "Latest report", "Filled capacities, first report",
                              "Filled capacities, latest report", "Allocated capacities, latest report",
                              "Straight path to the goal, at the latest report", "Observed growth a year",
                              "Growth a year needed from now", "Goal reached at the observed pace (year)"],
                         "Value": [r["first_report"], r["latest_report"], f"{r['filled_first']:,.0f}",
                                   f"{r['filled_latest']:,.0f}", f"{r['allocated_latest']:,.0f}",
                                   f"{r['goal_path_latest']:,.0f}", _pct(r["observed_growth_per_year"]),
                                   _pct(r["needed_growth_per_year"]),
                                   f"{r['year_goal_reached_at_observed_pace']:.0f}"
                                   if np.isfinite(r["year_goal_reached_at_observed_pace"]) else "not at this pace"]})


def flagged_table(t: Mapping[str, Any], n: int = 20) -> pd.DataFrame:
    d = t["diagnosis_growth_clinics"]
    if d.empty:
        return d
    f = d[d["flagged"].astype(bool)].sort_values(["year", "z_robust"], ascending=[True, False]).head(n)
    return pd.DataFrame({
        "Year": f["year"].astype(int).astype(str), "Clinic": f["clinic_id"], "Health council": f["health_council"],
        "Listed patients": f["listed_patients"].astype(int), "Diagnosis ratio, fit year": f["diagnosis_ratio_fit"],
        "Diagnosis ratio": f["diagnosis_ratio"], "Growth beyond the national trend": f["diagnosis_growth"].map(_pct),
        "Robust z": f["z_robust"], "Minimum patient number, fit year": f["minimum_patients_fit"],
        "Minimum patient number": f["minimum_patients"], "Change": f["minimum_change"].map(_pct),
    })


def regions_table(t: Mapping[str, Any]) -> pd.DataFrame:
    r = t["diagnosis_growth_regions"]
    if r.empty:
        return r
    return pd.DataFrame({
        "Year": r["year"].astype(int).astype(str), "Region": r["region"], "Listed patients": r["listed_patients"].astype(int),
        "Diagnosis ratio, fit year": r["diagnosis_ratio_fit"], "Diagnosis ratio": r["diagnosis_ratio"],
        "Growth": r["diagnosis_growth"].map(_pct), "Clinics compared": r["clinics"].fillna(0).astype(int),
        "Clinics judged": r["judged"].fillna(0).astype(int),
        "Clinics flagged": r["flagged_clinics"].fillna(0).astype(int),
        "Median change of minimum numbers": r["median_minimum_change"].map(_pct),
    })


def life_expectancy_tables(t: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    c = t["life_expectancy_capacity"]
    cap = pd.DataFrame({"Health council": sorted(c["health_council"].unique())})
    for py, g in c.groupby("planning_year"):
        g = g.set_index("health_council").reindex(cap["Health council"])
        cap[f"At birth {int(py)}"] = g["capacities_birth"].astype(int).to_numpy()
        cap[f"At 65 {int(py)}"] = g["capacities_65"].astype(int).to_numpy()
        cap[f"Difference {int(py)}"] = g["difference"].astype(int).to_numpy()
    f = t["life_expectancy_fit"]
    fit = pd.DataFrame({"Year": f["year"].astype(int).astype(str), "Grouping": f["grouping"],
                        "Life expectancy": f["life_expectancy"], "Group R²": f["r_squared"],
                        "Off by 10 % or more": f["share_off_10pct"].map(_pct)})
    m = t["life_expectancy_municipalities"].copy()
    m = m.reindex(m["factor_difference"].abs().sort_values(ascending=False).index).head(12)
    mun = pd.DataFrame({"Municipality": m["municipality"], "Health council": m["health_council"],
                        "Life expectancy at birth": m["life_expectancy_at_birth"],
                        "Remaining at 65 (derived)": m["remaining_life_expectancy_65"],
                        "Factor (at birth)": m["factor_at_birth"], "Factor (at 65)": m["factor_65"],
                        "Difference": m["factor_difference"]})
    return cap, fit, mun


def conclusions_table(t: Mapping[str, Any]) -> pd.DataFrame:
    c = t["conclusions"].fillna("")
    return pd.DataFrame({"Topic": c["topic"], "Question": c["question"], "Measure": c["measure"],
                         "Threshold": c["threshold"], "Result": c["result"], "Verdict": c["verdict"],
                         "Parameter to change": c["parameter_to_change"], "Note": c["note"]})


def report_summary(t: Mapping[str, Any]) -> pd.DataFrame:
    """Reports read per region: how many, first and last date, format, failures."""
    i = t["report_index"]
    if i.empty:
        return i
    g = i.groupby("region").agg(reports=("file", "size"), first=("reporting_date", "min"), last=("reporting_date", "max"),
                                csv=("format", lambda s: int((s == "csv").sum())), failures=("failures", "sum"))
    return g.reset_index().rename(columns={"region": "Region", "reports": "Reports", "first": "First date",
                                           "last": "Last date", "csv": "Of which CSV", "failures": "Failures"})


def figure_calibration(t: Mapping[str, Any]):
    """Mean observed against mean predicted use by decile of predicted use, per year (the diagonal is perfect)."""
    import matplotlib.pyplot as plt

    c = t["calibration"]
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    for y, g in c.groupby("year"):
        g = g.dropna(subset=["mean_observed", "mean_predicted"])
        ax.plot(g["mean_predicted"], g["mean_observed"], marker="o", ms=3.5, lw=1.2, label=str(int(y)))
    lim = [0, float(np.nanmax(c[["mean_observed", "mean_predicted"]].to_numpy())) * 1.05]
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("mean predicted use (DKK, scaled to the year's total)")
    ax.set_ylabel("mean observed use (DKK)")
    ax.set_title("Calibration: deciles of predicted use")
    ax.legend(title="year", frameon=False, fontsize=8)
    return fig


def figure_ratios(t: Mapping[str, Any], grouping: str, title: str | None = None):
    """Predictive ratios of one grouping per year (1 = predicted as used; the band is ± 5 %)."""
    import matplotlib.pyplot as plt

    r = t["predictive_ratios"]
    r = r[(r["grouping"] == grouping) & (r["prediction"] == "use")]
    groups = list(dict.fromkeys(r.sort_values("year")["group"]))
    years = sorted(r["year"].unique())
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(groups) + 2), 3.8))
    width = 0.8 / max(len(years), 1)
    x = np.arange(len(groups))
    for k, y in enumerate(years):
        v = r[r["year"] == y].set_index("group")["predictive_ratio"].reindex(groups)
        ax.bar(x + (k - (len(years) - 1) / 2) * width, v.to_numpy() - 1, width, bottom=1, label=str(int(y)))
    ax.axhspan(0.95, 1.05, color="grey", alpha=0.12, lw=0)
    ax.axhline(1, color="black", lw=0.8)
    ax.set_xticks(x, groups, rotation=45 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center")
    ax.set_ylabel("predictive ratio Σŷ / Σy")
    ax.set_title(title or f"Predictive ratios by {grouping}")
    ax.legend(title="year", frameon=False, fontsize=8, ncol=len(years))
    return fig


def figure_area_ratios(t: Mapping[str, Any], grouping: str = "municipality"):
    """Distribution of the areas' predictive ratios per year and prediction (use / final weights)."""
    import matplotlib.pyplot as plt

    r = t["predictive_ratios"]
    r = r[(r["grouping"] == grouping) & r["predictive_ratio"].notna()]
    years = sorted(r["year"].unique())
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    data, labels = [], []
    for y in years:
        for p in ("use", "weight"):
            v = r[(r["year"] == y) & (r["prediction"] == p)]["predictive_ratio"].to_numpy()
            if len(v):
                data.append(v)
                labels.append(f"{int(y)}\n{'use' if p == 'use' else 'weights'}")
    if data:
        ax.boxplot(data, tick_labels=labels, showfliers=True, widths=0.6)
    ax.axhspan(0.9, 1.1, color="grey", alpha=0.12, lw=0)
    ax.axhline(1, color="black", lw=0.8)
    ax.set_ylabel("predictive ratio")
    plural = {"municipality": "municipalities", "health council": "health councils"}.get(grouping, grouping + "s")
    ax.set_title(f"Predictive ratios of the {plural} (band: ± 10 %)")
    return fig


def figure_capacity_over_time(t: Mapping[str, Any]):
    """Allocated and filled capacities per health council over time, against the model's capacities."""
    import matplotlib.pyplot as plt

    c = t["capacity_over_time"]
    councils = sorted(c["health_council"].dropna().unique())
    ncol = 4
    nrow = int(np.ceil(len(councils) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.1 * nrow), sharex=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, h in zip(axes, councils):
        g = c[c["health_council"] == h].sort_values("reporting_date")
        d = pd.to_datetime(g["reporting_date"])
        ax.plot(d, g["allocated"], lw=1.3, label="allocated")
        ax.plot(d, g["filled"], lw=1.3, label="filled")
        ax.step(d, g["model_capacities"], where="post", lw=1.0, ls="--", color="black", label="model")
        ax.set_title(h, fontsize=8.5)
        ax.tick_params(labelsize=7)
    for ax in axes[len(councils):]:
        ax.axis("off")
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Capacities per health council: allocated, filled and the model's number", fontsize=10.5,
                 fontweight="bold")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def figure_goal(t: Mapping[str, Any]):
    """National allocated and filled capacities over time and the straight path to 5,000 in 2035."""
    import matplotlib.pyplot as plt

    n = t["national_capacity"].sort_values("reporting_date")
    g = t["goal_progress"].iloc[0]
    d = pd.to_datetime(n["reporting_date"])
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(d, n["allocated"], lw=1.4, label="allocated")
    ax.plot(d, n["filled"], lw=1.4, label="filled")
    goal_d = pd.Timestamp(g["goal_date"])
    ax.plot([d.iloc[0], goal_d], [n["filled"].iloc[0], g["goal"]], ls="--", color="black", lw=1.0,
            label=f"straight path to {int(g['goal']):,}")
    if np.isfinite(g["observed_growth_per_year"]):
        yrs = (goal_d - d.iloc[-1]).days / 365.25
        ax.plot([d.iloc[-1], goal_d], [n["filled"].iloc[-1], n["filled"].iloc[-1] * (1 + g["observed_growth_per_year"]) ** yrs],
                ls=":", color="tab:orange", lw=1.2, label="filled, at the observed pace")
    ax.set_ylabel("capacities")
    ax.set_title("Progress towards 5,000 GPs in 2035")
    ax.legend(frameon=False, fontsize=8)
    return fig


def figure_incentives(t: Mapping[str, Any]):
    """Clinics' growth in recorded diagnoses (beyond the national trend) against the change of their minimum number."""
    import matplotlib.pyplot as plt

    d = t["diagnosis_growth_clinics"]
    last = d[d["year"] == d["year"].max()]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    norm = last[~last["flagged"].astype(bool)]
    flag = last[last["flagged"].astype(bool)]
    ax.scatter(100 * norm["diagnosis_growth"], 100 * norm["minimum_change"], s=6, alpha=0.35, label="clinics")
    ax.scatter(100 * flag["diagnosis_growth"], 100 * flag["minimum_change"], s=18, color="tab:red",
               label=f"flagged ({len(flag)})")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"growth in recorded diagnoses beyond the national trend, {int(d['year_fit'].iloc[0])}-"
                  f"{int(d['year'].max())} (%)")
    ax.set_ylabel("change of the minimum patient number (%)")
    ax.set_title("More sickness on paper? Diagnoses against minimum numbers")
    ax.legend(frameon=False, fontsize=8)
    return fig


def figure_life_expectancy(t: Mapping[str, Any]):
    """Capacities per health council with remaining life expectancy at 65 minus at birth (latest year)."""
    import matplotlib.pyplot as plt

    c = t["life_expectancy_capacity"]
    c = c[c["year"] == c["year"].max()].sort_values("difference")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.barh(c["health_council"], c["difference"], color=np.where(c["difference"] >= 0, "tab:blue", "tab:red"))
    ax.axvline(0, color="black", lw=0.7)
    ax.set_xlabel("capacities: remaining life expectancy at 65 minus at birth")
    ax.set_title(f"Life-expectancy variant, planning year {int(c['planning_year'].iloc[0])}")
    return fig


def tables_description() -> pd.DataFrame:
    """The tables of a run folder and what each holds (:data:`TABLES`)."""
    return pd.DataFrame({"Table": [f"{k}.csv" for k in TABLES], "What it holds": list(TABLES.values())})


def describe_facts(t: Mapping[str, Any]) -> str:
    """A few sentences of what was evaluated (Markdown)."""
    m = t["manifest"]
    f = m.get("facts", {})
    years = ", ".join(str(y) for y in m["evaluation_years"])
    subs = "checked" if f.get("submission_dates_checked") else "not checked (no submissions.csv)"
    return (f"The coefficients fitted on **{m['fit_year']}** ({f.get('persons_fit_year', 0):,} citizens in the "
            f"estimation sample, in-sample R² {f.get('in_sample_r_squared', float('nan')):.3f}) are evaluated against "
            f"use in **{years}**; {f.get('price_level', '')}. Capacity reports read: {f.get('reports_read', 0):,} "
            f"(submission dates {subs}). The Deep End is the top decile of clinics by mean weight in "
            f"{m['fit_year']} ({f.get('deep_end_clinics', 0):,} clinics).")
