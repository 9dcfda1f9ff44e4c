"""The 2028 evaluation, analysis 2: capacity in practice, from the regions' capacity reports.

The reports (annex 1 and 2 of the guidance, read and validated row by row by
:func:`model.inputs.capacity_reports.read_capacity_report`, the schedule by
:func:`model.inputs.capacity_reports.check_report_schedule`) are found in
``<data>/capacity_reports/`` (:func:`find_capacity_reports`), read in
parallel (:func:`load_capacity_reports`) and flattened to one row per report
row (:func:`capacity_table`).  :func:`capacity_analysis` sets allocated,
vacant and filled (= allocated - vacant) capacities per health council over
time against the model's capacities (:func:`model_capacities`);
:func:`goal_progress` measures the path towards 5,000 GPs in 2035.
Orchestrated by :func:`model.analyses.evaluation.run_evaluation`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.errors import InputError
from model.inputs.capacity_reports import (
    CapacityReportError,
    check_report_schedule,
    default_municipality_codes,
    read_capacity_report,
)
from model.inputs.capacity_sheets import REPORT_FAILURE_COLUMNS, report_failure
from model.inputs.contracts import Failure

#: Folder of the regions' capacity reports inside a data folder (only its top level is read).
REPORTS_DIR = "capacity_reports"
#: Optional log of when each report was received: columns file, region, reporting_date, submission_date.
SUBMISSIONS_FILE = "submissions.csv"


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
        raise InputError(f"{path}: missing column(s) {missing}; expected file, region, reporting_date, submission_date")
    out = {}
    for i, r in s.iterrows():
        try:
            out[r["file"].strip()] = dt.date.fromisoformat(r["submission_date"].strip())
        except ValueError:
            raise InputError(f"{path}, row {i + 1}: submission_date {r['submission_date']!r} is not a date "
                             f"(YYYY-MM-DD)") from None
    return out


@dataclass
class ReportSet:
    """The capacity reports of a folder, read and validated.

    ``reports``: :class:`model.inputs.capacity_reports.CapacityReport` per file (in file
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
    """:func:`model.inputs.capacity_reports.read_capacity_report` of one (path, submission date, municipalities, register)."""
    path, sub, munis, register = args
    return read_capacity_report(path, submission_date=sub, known_municipality_codes=munis, clinic_register=register)


def load_capacity_reports(folder: str | Path, clinic_register: Any = None, *,
                          municipality_codes: Mapping[str, str] | None = None,
                          submissions: Mapping[str, dt.date] | None | str = "auto",
                          strict: bool = True, workers: int | None = None) -> ReportSet:
    """Read and validate every capacity report in ``folder`` (see :func:`find_capacity_reports`).

    Each file goes through :func:`model.inputs.capacity_reports.read_capacity_report` with the
    98 municipality codes and names, the clinic register (provider numbers
    that exist: a list of strings or ``clinics.csv`` as a DataFrame) and the
    date it was received (``submissions``: a mapping file -> date, or
    ``"auto"`` to read ``submissions.csv`` in the folder; without a log the
    three-month rule is not checked).  Then per region
    :func:`model.inputs.capacity_reports.check_report_schedule` (monthly from 2027, quarterly
    before), and no two reports of one region on one date.

    ``strict=True`` raises :class:`model.inputs.capacity_reports.CapacityReportError` listing
    every failure (file, sheet, row, column, rule); ``strict=False`` returns
    them in ``failures`` (the failed reports are kept but should not be used).
    Files are read in parallel processes (``workers``, default: the CPUs).
    """
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
