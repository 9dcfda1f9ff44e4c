"""The 2028 evaluation of the model (docs/method.md step 9, §4.4.4).

The health reform agreement schedules a large evaluation in 2028, after the
new fee structure of 2027.  This module computes it from a data folder; it
runs on the embedded synthetic data today and on real extracts in 2028 (fit
year 2025, later years 2026-2027).  Five analyses:

1. **Prediction** (:func:`model.analyses.evaluation_prediction.prediction_analysis`): the coefficients fitted on
   the fit year *t* predict use in each later year *s* from the citizens'
   characteristics in *s* (the price list of *t* applied to the population of
   *s*; fees of every year brought to *t*'s price level with
   ``fee_index.csv``).  Because the model only distributes a fixed total,
   predictions are scaled so that they add up to observed use in the year
   (the scale is reported as the *level ratio*, Σŷ/Σy before scaling).
   Measures from :mod:`model.core.measures`: R², Cumming's prediction measure,
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
2. **Capacity in practice** (:mod:`model.analyses.evaluation_capacity`): the regions'
   capacity reports (annex 1 and 2, read and validated by
   :func:`model.inputs.capacity_reports.read_capacity_report`, schedule checked by
   :func:`model.inputs.capacity_reports.check_report_schedule`): allocated, vacant and filled
   (= allocated - vacant) capacities per health council over time against
   the model's capacities; filled capacities per 1,600 weighted citizens;
   progress towards 5,000 GPs in 2035.
3. **Incentives** (:func:`model.analyses.evaluation_prediction.incentive_analysis`): growth in recorded diagnoses
   per clinic and region (indirectly standardised for age and sex at the fit
   year's national rates) against the change in clinic minimum numbers;
   upward outliers flagged (a model that rewards diagnoses must be watched
   for "more sickness on paper", §4.4.2.3).
4. **Life expectancy** (:func:`model.analyses.evaluation_prediction.life_expectancy_analysis`): the correction
   with remaining life expectancy at 65 against at birth (the consultation's
   variant, §4.4.2.4): capacities, reallocation and how well each tracks
   later use by municipality.  The figures at 65 are derived, not published:
   ``src/model/data/life_expectancy_variants.csv`` (see its header and
   :func:`model.analyses.sensitivity.derive_life_expectancy_variants`).
5. **Conclusions** (:func:`conclusions`): what held, what did not, and which
   parameter of :class:`~model.config.ModelConfig` to change.

:func:`run_evaluation` does all five; :func:`write_evaluation` writes the
tables (CSV) and a manifest to a run folder and :func:`load_evaluation`
reads them back; :func:`validation_job` validates the data folder (in a
worker process while the evaluation is computed).  Rendering the notebook
``evaluation_2028.ipynb`` into reviewer HTML (``python -m model evaluate``)
and the tables for readers are in :mod:`model.report.evaluation`.  No table
holds person-level rows; counts below 5 are masked when shown
(:func:`model.report.display.show_table`) and group figures resting on
fewer than 5 persons are blanked (:func:`model.core.measures.by_group`'s
``min_size``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses import panel as apanel
from model.analyses import stress_test as st
from model.analyses.data_checks import validation_summary
from model.analyses.evaluation_capacity import (
    REPORTS_DIR,
    capacity_analysis,
    capacity_table,
    find_capacity_reports,
    load_capacity_reports,
    model_capacities,
)
from model.analyses.evaluation_prediction import THRESHOLDS, incentive_analysis, life_expectancy_analysis, prediction_analysis
from model.analyses.supply import band_counts, supply_ratios
from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file, write_csv
from model.config import ModelConfig, parse_years
from model.core import cells
from model.errors import ConfigError, InputError
from model.inputs import panel as ipanel
from model.inputs.contracts.stamp import validate_folder_stamped
from model.inputs.tables import read_clinics, read_municipalities

__all__ = [
    "THRESHOLDS", "TABLES", "EvaluationResult", "conclusions", "run_evaluation", "write_evaluation",
    "load_evaluation", "validation_job", "check_evaluation_parameters", "evaluation_years", "table_number",
    "data_description",
]

#: Tables of a run folder (``<name>.csv``), each described for the reader.
TABLES: dict[str, str] = {
    "prediction_measures": "R², CPM, mean absolute error and level ratio per year "
                           "(fit year in sample, later years out of sample)",
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
    "diagnosis_growth_clinics": "recorded diagnoses per clinic (standardised ratio) in the fit year and a later year, "
                                "change in minimum numbers, flags",
    "diagnosis_growth_regions": "the same per region",
    "life_expectancy_capacity": "capacities per health council with life expectancy at birth and remaining at 65",
    "life_expectancy_fit": "how well the weights of each life-expectancy figure track later use by area",
    "life_expectancy_municipalities": "municipal life expectancy at birth and remaining at 65 and their factors",
    "supply_areas": "allocated and filled capacities over the model's per reporting date, health council and "
                    "municipality, with the supply band of each (model.analyses.supply)",
    "supply_bands": "month by month: health councils and municipalities in each supply band",
    "stress_headline": "the coding stress test on the fit year: one more chronic diagnosis for 5/10/25 % of each "
                       "clinic's patients, random and targeted, base and the variant without 'one disease counts "
                       "as none' (model.analyses.stress_test)",
    "stress_damping": "the stress test's base against the variant without the rule",
    "stress_disease_steps": "the predicted use one more chronic diagnosis adds at each disease count, per model",
    "conclusions": "what held, what did not, and which parameter to change",
}


# =============================================================================
# Numbers of the prose, from the tables
# =============================================================================


def table_number(table: pd.DataFrame, column: str, fmt: str = "{:,.0f}", **where: Any) -> str:
    """One number of the evaluation's prose, formatted from the one cell of ``table`` it describes.

    ``where``: column = value conditions that must select exactly one row
    (else :class:`~model.errors.InputError`: the prose would not match its
    table).  ``fmt``: a :meth:`str.format` pattern, e.g. ``"{:.3f}"``.
    """
    rows = table
    for k, v in where.items():
        rows = rows[rows[k] == v]
    if len(rows) != 1:
        raise InputError(f"table_number: {len(rows)} rows of the table match {where} (column {column!r}); "
                         "a number of the prose must come from exactly one cell")
    return fmt.format(rows[column].iloc[0])


def data_description(data_dir: str | Path | None) -> dict[str, Any]:
    """Which data an analysis ran on, for its first screen: the folder's name (never its path) and either the
    synthetic panel's parameters (``synthetic_manifest.json``: seed, citizens, years) or ``extract``."""
    if data_dir is None:
        return {"folder": "(in memory)", "kind": "in memory"}
    d = Path(data_dir)
    out: dict[str, Any] = {"folder": d.name}
    m = d / "synthetic_manifest.json"
    if m.is_file():
        p = json.loads(m.read_text(encoding="utf-8")).get("parameters", {})
        out.update(kind="synthetic", seed=p.get("seed"), persons=p.get("persons"), years=p.get("years"))
    else:
        out.update(kind="extract")
    return out


# =============================================================================
# Parameters and years
# =============================================================================


def check_evaluation_parameters(fit_year: Any, evaluation_years: Any = None) -> tuple[int, list[int] | None]:
    """Validate the fit year and the evaluation years (CLI, notebook); return them as ints.

    ``evaluation_years``: None (every later year in the data), a list of years
    or a string such as ``"2026-2027"`` or ``"2026,2028"``.
    """
    if isinstance(fit_year, bool) or not isinstance(fit_year, (int, np.integer)):
        raise ConfigError(f"fit_year must be a year (int), got {fit_year!r}")
    ModelConfig().replace(year=int(fit_year), planning_year=int(fit_year) + 1)
    if evaluation_years is None or evaluation_years == "":
        return int(fit_year), None
    if isinstance(evaluation_years, str):
        years = parse_years(evaluation_years)
    else:
        years = [int(y) for y in evaluation_years]
    if not years:
        raise ConfigError("evaluation_years is empty")
    early = [y for y in years if y <= int(fit_year)]
    if early:
        raise ConfigError(f"evaluation years {early} are not after the fit year {fit_year}: the evaluation is out of sample")
    return int(fit_year), sorted(set(years))


def evaluation_years(available: Iterable[int], fit_year: int, years: Iterable[int] | None = None) -> list[int]:
    """The later years to evaluate: ``years`` (checked against ``available``) or every available year after ``fit_year``."""
    available = sorted(int(y) for y in available)
    if int(fit_year) not in available:
        raise InputError(f"the fit year {fit_year} is not in the data; years present: {available}")
    if years is None:
        out = [y for y in available if y > int(fit_year)]
        if not out:
            raise InputError(f"no year after the fit year {fit_year} in the data (years present: {available}): "
                             f"nothing to evaluate out of sample")
        return out
    out = sorted(set(int(y) for y in years))
    missing = [y for y in out if y not in available]
    if missing:
        raise InputError(f"evaluation year(s) {missing} not in the data; years present: {available}")
    early = [y for y in out if y <= int(fit_year)]
    if early:
        raise ConfigError(f"evaluation year(s) {early} are not after the fit year {fit_year}")
    return out


# =============================================================================
# 5. Conclusions
# =============================================================================


#: The claim each conclusion tests: the verdict "held" / "did not hold" says whether this claim held.
CLAIMS: dict[str, str] = {
    "Do the weights predict later use about as well as the year they were fitted on?":
        "the lowest out-of-sample R² keeps the threshold's share of the in-sample R²",
    "Are the characteristic groups neither over- nor under-compensated in later years?":
        "every large characteristic group's predictive ratio stays within the tolerance of 1",
    "Do the municipalities get about what their citizens use?":
        "at most the threshold's share of municipalities is off by 10 % or more",
    "Do the clinics with the heaviest patients (Deep End) get weights that match their use?":
        "the Deep End clinics' predictive ratio of the final weights stays within the tolerance of 1",
    "Did the weights survive the new fee structure of 2027?":
        "no large group's predictive ratio shifts by the threshold or more across 1 January 2027",
    "Do the allocated capacities follow the model's numbers per health council?":
        "every health council's counted allocation is within the tolerance of the model's capacities",
    "Are the allocated capacities filled?": "the national vacancy share is at most the threshold",
    "How did allocated and filled capacities move?": "",
    "Is the country on track for 5,000 GPs in 2035?":
        "filled capacities grow at least as fast as the goal needs",
    "Did recorded diagnoses rise where they lower clinic minimum numbers (more sickness on paper)?":
        "at most the threshold's share of clinics is flagged for diagnosis growth",
    "Should the correction use remaining life expectancy at 65 instead of at birth?":
        "the figure in use tracks later use by municipality at least as well as the other (within the threshold): "
        "keep it",
}


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
        rows.append({"topic": topic, "question": question, "claim": CLAIMS.get(question, ""), "measure": measure,
                     "threshold": threshold, "result": result, "verdict": _verdict(ok),
                     "parameter_to_change": parameter if ok is False else "", "note": note})

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
    if len(lf) and (lf["grouping"] == "municipality").any():
        # the latest year evaluated, both R² as life_expectancy_fit shows them (the prose cites those cells)
        mun = lf[lf["grouping"] == "municipality"]
        last = int(mun["year"].max())
        r_b = float(table_number(mun, "r_squared", "{:.17g}", year=last, life_expectancy="at birth"))
        r_65 = float(table_number(mun, "r_squared", "{:.17g}", year=last, life_expectancy="remaining at 65"))
        gain = r_65 - r_b
        realloc = float(lc["reallocation_share"].iloc[-1]) if len(lc) else float("nan")
        current = facts.get("life_expectancy_column", "life_expectancy_at_birth")
        better65 = gain > th["life_expectancy_r2_gain"]
        ok = not better65 if current == "life_expectancy_at_birth" else gain >= -th["life_expectancy_r2_gain"]
        add("life expectancy", "Should the correction use remaining life expectancy at 65 instead of at birth?",
            f"group R² by municipality of the weights against use in {last}: at 65 minus at birth",
            f"gain > {th['life_expectancy_r2_gain']:.2f} favours the other figure",
            f"{r_65:.3f} at 65 against {r_b:.3f} at birth in {last} (gain {gain:+.3f}); capacity moved between "
            f"health councils with the figure at 65: {realloc:.2%}", ok,
            "life_expectancy_column = 'remaining_life_expectancy_65'" if better65 else "life_expectancy_column",
            "the correction departs from use on purpose (to offset inequality): fit to use is one criterion of several")
    return pd.DataFrame(rows, columns=["topic", "question", "claim", "measure", "threshold", "result", "verdict",
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

    In: a data folder (or a :class:`model.analyses.panel.Panel` built in memory),
    the fit year, the later years (default: every year after the fit year in
    the data), the configuration (default: the base model) and where the
    capacity reports are (True: ``<data>/capacity_reports``; a folder; False:
    none).  With ``strict_reports`` a report that breaks a rule stops the
    evaluation with :class:`model.inputs.capacity_reports.CapacityReportError`; otherwise the
    failures are tabled and the failing reports left out.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def mark(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    years = list(years) if years is not None else None
    fit_year, _ = check_evaluation_parameters(fit_year, years)
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
        # the coding stress test on the fit year (memo §4.4.4): base and the variant without "one disease = none"
        vcfg = config.variant(config.stress_compare_variant)
        models = [st.prepare(yd_t, config, params),
                  st.prepare(yd_t, vcfg, cells.fit(yd_t, vcfg).params, name=config.stress_compare_variant)]
        stress = st.stress_models(yd_t, models)
        mark("stress test")
        files.update(panel.files if getattr(panel, "files", None) else {})
    finally:
        if data_dir is not None:
            panel.close()
    tables: dict[str, pd.DataFrame] = {**pred, **inc, **le}
    tables["stress_headline"] = stress.tables["headline"]
    tables["stress_damping"] = stress.tables["damping"]
    tables["stress_disease_steps"] = stress.tables["disease_steps"]
    model_caps = model_capacities(chains)
    tables["model_capacities"] = model_caps
    if report_set is not None:
        munis = read_municipalities(data_dir / "municipalities.csv") if data_dir is not None else yd_t.municipalities
        ct = capacity_table(report_set, munis, config.island_min_patients)
        tables.update(capacity_analysis(ct, model_caps, config))
        by_muni = pd.concat([ch.by_municipality[["municipality_code", "name", "health_council", "indicative"]]
                             .assign(planning_year=int(ch.config.planning_year)) for ch in chains.values()])
        tables["supply_areas"] = supply_ratios(ct, model_caps, config, by_muni)
        tables["supply_bands"] = band_counts(tables["supply_areas"], config)
        tables["report_index"] = report_set.index
        tables["report_failures"] = report_set.failures
    else:
        for k in ("capacity_over_time", "capacity_latest", "national_capacity", "goal_progress", "report_index",
                  "report_failures", "supply_areas", "supply_bands"):
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
        "data": data_description(data_dir),
        "stress_timings": stress.timings,
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
        raise InputError(f"{run_dir} is not an evaluation run folder (its manifest says {manifest.get('command')!r})")
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


# =============================================================================
# Validation of the data folder (run in a worker process while the evaluation is computed)
# =============================================================================


#: the tables of the data folder the evaluation reads and validates here (the capacity reports are validated
#: by :func:`load_capacity_reports`, the service lines are not read)
EVALUATION_TABLES = ("persons", "clinics", "municipalities", "population_projection", "fee_index")


def validation_job(data: str, years: list[int]) -> tuple[dict[str, Any], Any]:
    """Validate in a worker process: (:func:`model.analyses.data_checks.validation_summary`, the report itself).

    The tables the evaluation reads (:data:`EVALUATION_TABLES`) for the fit year and ``years``, stamped
    (:func:`model.inputs.contracts.stamp.validate_folder_stamped`: a folder whose bytes passed the same checks
    before is not checked again).  The capacity reports are validated by :func:`load_capacity_reports`;
    ``services.parquet`` is not read by the evaluation (``python -m model validate`` checks it).
    """
    report = validate_folder_stamped(Path(data), years=years, tables=EVALUATION_TABLES)
    if hasattr(report, "source"):
        report.source = data
    summary = validation_summary(report)
    return summary, report
