"""The 2028 evaluation for readers: rendering ``evaluation_2028.ipynb`` and the tables it shows.

:func:`render_evaluation` (``python -m model evaluate``) validates the data
folder, computes the evaluation (:func:`model.analyses.evaluation.run_evaluation`)
into ``run/`` and renders ``notebooks/evaluation_2028.ipynb`` with papermill
into reviewer HTML (:func:`model.report.notebooks.render`), as the annual
report is rendered.  :func:`notebook_setup` is the notebook's first cell;
the ``*_table`` functions shape the run folder's tables for readers (counts
below 5 are masked when shown by :func:`model.report.display.show_table`);
the figures are in :mod:`model.report.figures`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.evaluation import (
    TABLES,
    check_evaluation_parameters,
    evaluation_years,
    load_evaluation,
    run_evaluation,
    table_number,
    validation_job,
    write_evaluation,
)
from model.artifacts import data_origin, git_commit, package_versions
from model.config import ModelConfig, parse_settings, settings_text
from model.errors import ConfigError, InputError, ValidationFailed
from model.inputs.panel import panel_years
from model.report.html import data_banner
from model.report.notebooks import KERNEL_NAME, NOTEBOOKS, Chain, render, say_since
from model.report.parameters import require_data
from model.report.release import stress_headline_table, stress_steps_table, supply_table

#: Name of the evaluation notebook.
NOTEBOOK = "evaluation_2028.ipynb"
#: Title of its HTML page.
TITLE = "Evaluation of the model 2028"


def notebook_setup(year: int, run_dir: str | Path, data_dir: str | Path, settings: Any = "") -> dict[str, Any]:
    """What the notebook's first cell calls: check the parameters and return the evaluation tables.

    ``year`` is the fit year.  When ``run_dir`` holds an evaluation of that
    fit year (written by ``python -m model evaluate``) it is read (and must
    have been computed with ``settings``); otherwise the evaluation is
    computed from ``data_dir`` (every later year in the data) with the
    ``settings`` (:func:`model.config.parse_settings`) and written to
    ``run_dir``; without data there, one sentence says what to run first.
    """
    fit_year, _ = check_evaluation_parameters(int(year))
    wanted = parse_settings(settings)
    m = Path(run_dir) / "manifest.json"
    if not m.exists():
        require_data(data_dir)
        res = run_evaluation(data_dir, fit_year, config=ModelConfig().with_settings(wanted))
        write_evaluation(res, run_dir, extra={"settings": wanted})
    t = load_evaluation(run_dir)
    if int(t["manifest"]["fit_year"]) != fit_year:
        raise InputError(f"run_dir {run_dir} holds an evaluation of fit year {t['manifest']['fit_year']}, not {fit_year}")
    differ = t["config"].replace(**wanted).diff(t["config"])
    if differ:
        raise ConfigError(f"the evaluation in {run_dir} was computed with other settings ("
                          + "; ".join(f"{k} is {old!r}, not {new!r}" for k, (new, old) in differ.items())
                          + "): compute it again with them (`python -m model evaluate ... --set ...`)")
    return t


def render_evaluation(data: str | Path, fit_year: int = 2025, years: Iterable[int] | None = None,
                      out: str | Path | None = None, timeout: int | None = 900, validate: bool = True,
                      notebooks: str | Path | None = None, kernel_name: str = KERNEL_NAME,
                      workers: int | None = None, settings: Mapping[str, Any] | None = None) -> Path:
    """Validate, compute and render the evaluation into ``out`` (default ``reports/evaluation``); return it.

    1. validate the data folder's tables for the fit year and the later
       years (:mod:`model.inputs.contracts`, in a separate process while
       step 2 runs; the capacity reports are left to step 2) and read every
       capacity report (:func:`model.analyses.evaluation_capacity.load_capacity_reports`,
       strict): any failure stops the evaluation, naming file, sheet, row
       and rule, and nothing is written;
    2. compute the evaluation (:func:`model.analyses.evaluation.run_evaluation`) into ``run/``;
    3. execute ``notebooks/evaluation_2028.ipynb`` with papermill
       (parameters ``year`` = the fit year, ``run_dir``, ``data_dir``) and
       convert it to offline HTML without code (``evaluation_2028.html``);
    4. ``manifest.json``: input hashes, parameters, versions, commit,
       timings, the hash of every file written.

    Everything goes through :func:`model.report.notebooks.render`: a
    temporary folder that replaces ``out`` only when all of it succeeded; a
    failed notebook is kept in ``<out>/../failed/``.
    """
    t0 = time.perf_counter()
    data = Path(data).resolve()
    if not data.is_dir():
        raise FileNotFoundError(f"data folder {data} does not exist")
    fit_year, yrs = check_evaluation_parameters(fit_year, list(years) if years is not None else None)
    eyears = evaluation_years(panel_years(data / "persons.parquet"), fit_year, yrs)
    out = (Path(out) if out is not None else Path("reports") / "evaluation").resolve()
    settings = parse_settings(settings or {})
    params = {"year": int(fit_year), "run_dir": "run", "data_dir": str(data), "settings": settings_text(settings)}
    timings: dict[str, Any] = {}

    def say(text: str) -> None:
        say_since(t0, text)

    chain = Chain(out=out, notebooks=(NOTEBOOK,), parameters={NOTEBOOK: params}, html={NOTEBOOK: "evaluation_2028.html"},
                  titles={NOTEBOOK: TITLE}, source=Path(notebooks) if notebooks is not None else NOTEBOOKS,
                  inputs={"--data": data}, timeout=timeout, kernel_name=kernel_name, say=say,
                  banner=data_banner(data_origin(data)))
    state: dict[str, Any] = {"validation": {"available": False, "ok": True,
                                            "summary": "not validated (validate=False)"}}

    def prepare(tmp: Path) -> None:
        vpool = vfut = None
        t_val = time.perf_counter()
        if validate:
            # the data contracts are checked in a separate process while the evaluation is computed; nothing is
            # written before the verdict is in, and a failed validation is reported instead of any later error
            say(f"evaluation: validating {data} for {fit_year} and {', '.join(map(str, eyears))} (in parallel)")
            vpool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
            vfut = vpool.submit(validation_job, str(data), [fit_year] + eyears)

        def verdict() -> dict[str, Any]:
            if vfut is None:
                return state["validation"]
            summary, report = vfut.result()
            vpool.shutdown()
            timings["validate"] = round(time.perf_counter() - t_val, 3)
            if not summary["ok"]:
                raise ValidationFailed(report, f"data folder {data} failed validation; nothing was written.\n"
                                               f"{report.format()}")
            say(f"validation: {summary['summary']}")
            return summary

        say("computing the evaluation (capacity reports, prediction, incentives, life expectancy)")
        t = time.perf_counter()
        try:
            res = run_evaluation(data, fit_year, eyears, config=ModelConfig().with_settings(settings), workers=workers)
        except Exception:
            verdict()  # a broken data folder is reported as such (waits for the verdict)
            raise
        timings["compute"] = {"total": round(time.perf_counter() - t, 3), **res.timings}
        say(f"computed in {time.perf_counter() - t:.1f} s ({res.facts['reports_read']} capacity reports read)")
        state["validation"] = verdict()
        state["result"] = res
        write_evaluation(res, tmp / "run", extra={"data": str(data), "settings": settings})
        (tmp / "notebooks").mkdir()
        (tmp / "validation.json").write_text(json.dumps(state["validation"], indent=2, sort_keys=True, default=str)
                                             + "\n", encoding="utf-8")

    def manifest(tmp: Path, nb_timings: dict[str, Any], stderr: dict[str, list[str]]) -> dict[str, Any]:
        res = state["result"]
        return {
            "command": "evaluate",
            "fit_year": fit_year,
            "evaluation_years": eyears,
            "data": str(data),
            "inputs": res.files,
            "config": res.config.to_dict(),
            "parameters": {NOTEBOOK: params},
            "settings": settings,
            "validation": state["validation"],
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**timings, **nb_timings, "total": round(time.perf_counter() - t0, 3)},
            "warnings": {k: [" ".join(s.split())[:1000] for s in v] for k, v in stderr.items()},
        }

    render(chain, manifest, prepare)
    say(f"evaluation written to {out}")
    return out


# =============================================================================
# Tables for readers
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
    wide[f"Compensation per person {int(r['year'].max())} (DKK)"] = \
        last["compensation_per_person"].reindex(order).round(0).astype("Int64")
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
        "Predictive ratio (use)": d["predictive_ratio_use"],
        "Compensation per person, use (DKK)": d["compensation_per_person_use"],
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
    claim = c["claim"] if "claim" in c.columns else ""
    return pd.DataFrame({"Topic": c["topic"], "Question": c["question"], "Claim tested (the verdict is about it)": claim,
                         "Measure": c["measure"],
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


def tables_description() -> pd.DataFrame:
    """The tables of a run folder and what each holds (:data:`TABLES`)."""
    return pd.DataFrame({"Table": [f"{k}.csv" for k in TABLES], "What it holds": list(TABLES.values())})


def prose_numbers(t: Mapping[str, Any]) -> dict[str, str]:
    """The numbers of the first screen's prose, each formatted from the one table cell it describes
    (:func:`model.analyses.evaluation.table_number`) or, for the data, from the run's manifest."""
    m = t["manifest"]
    fy = int(m["fit_year"])
    last = int(max(m["evaluation_years"]))
    pm, de = t["prediction_measures"], t["deep_end"]
    out = {
        "persons_fit_year": table_number(pm, "persons", "{:,.0f}", year=fy),
        "r_squared_fit_year": table_number(pm, "r_squared", "{:.3f}", year=fy),
        "reports_read": f"{len(t['report_index']):,}",
        "deep_end_fit_year": table_number(de, "clinic_count", "{:,.0f}", year=fy, clinics="Deep End"),
        "deep_end_latest": table_number(de, "clinic_count", "{:,.0f}", year=last, clinics="Deep End"),
    }
    d = m.get("facts", {}).get("data", {})
    if d.get("kind") == "synthetic":
        out["data_seed"] = str(d.get("seed"))
        out["data_persons"] = f"{int(d.get('persons') or 0):,}"
    return out


def data_sentence(t: Mapping[str, Any]) -> str:
    """Which data the evaluation ran on (first screen): the folder's name, the panel's years and the seed of a
    synthetic panel or "extract" -- never a path."""
    m = t["manifest"]
    d = m.get("facts", {}).get("data")
    if not d:
        return "**Data:** not recorded in this run folder (computed before the data were recorded): compute it again."
    years = sorted(int(y) for y in m.get("facts", {}).get("years_in_data", []) or d.get("years") or [])
    span = f"{years[0]}-{years[-1]}" if years else "?"
    n = prose_numbers(t)
    if d.get("kind") == "synthetic":
        what = (f"a **synthetic** panel, years {span}, seed {n['data_seed']}, {n['data_persons']} citizens in its "
                "latest year")
    elif d.get("kind") == "extract":
        what = f"an **extract** of real data, years {span}"
    else:
        what = f"data held in memory, years {span}"
    return (f"**Data:** folder `{d.get('folder')}`: {what}. Every count below is of this folder; the annual "
            "report's fit runs on its own data folder, so its counts (persons, clinics) differ from these.")


def describe_facts(t: Mapping[str, Any]) -> str:
    """A few sentences of what was evaluated (Markdown): which data, then the fit year's sample, the reports and
    the Deep End -- every number formatted from the table it describes (:func:`prose_numbers`)."""
    m = t["manifest"]
    f = m.get("facts", {})
    n = prose_numbers(t)
    years = ", ".join(str(y) for y in m["evaluation_years"])
    last = max(m["evaluation_years"])
    subs = "checked" if f.get("submission_dates_checked") else "not checked (no submissions.csv)"
    deep = (f"({n['deep_end_fit_year']} clinics"
            + (f"; {n['deep_end_latest']} of them with listed patients in {last}, as the Deep End table shows)"
               if n["deep_end_latest"] != n["deep_end_fit_year"] else ")"))
    return (data_sentence(t) + "\n\n"
            f"The coefficients fitted on **{m['fit_year']}** ({n['persons_fit_year']} citizens in the "
            f"estimation sample, in-sample R² {n['r_squared_fit_year']}) are evaluated against "
            f"use in **{years}**; {f.get('price_level', '')}. Capacity reports read: {n['reports_read']} "
            f"(submission dates {subs}). The Deep End is the top decile of clinics by mean weight in "
            f"{m['fit_year']} {deep}.")


def stress_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """The coding stress test's headline (base and the variant without "one disease counts as none")."""
    h = t.get("stress_headline", pd.DataFrame())
    return h if h.empty else stress_headline_table(h)


def stress_steps(t: Mapping[str, Any]) -> pd.DataFrame:
    """What one more chronic diagnosis adds at each disease count, base and the variant without the rule."""
    s = t.get("stress_disease_steps", pd.DataFrame())
    return s if s.empty else stress_steps_table(s)


def supply_bands_table(t: Mapping[str, Any], level: str = "health council", measure: str = "allocated") -> pd.DataFrame:
    """Month by month: the health councils (or municipalities) in each supply band."""
    b = t.get("supply_bands", pd.DataFrame())
    return b if b.empty else supply_table(b, level, measure)
