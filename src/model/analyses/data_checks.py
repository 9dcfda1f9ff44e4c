"""The data checks of ``data_checks.ipynb``: what a data folder holds, per health council, and its validation.

* :func:`validate_data` validates what the annual report reads against the
  data contracts (:mod:`model.inputs.contracts`) and returns a summary
  (:func:`validation_summary`) safe to publish: counts per rule, no example
  values.
* :func:`data_checks` counts citizens, clinics, capacities and listed
  patients per health council from frames handed to it;
  :func:`check_folder` reads those frames from a data folder through
  :mod:`model.inputs.tables` and calls it.
* :func:`write_data_checks` writes the tables into ``<run>/checks/``;
  :func:`read_validation` reads a summary written by the report chain.

Only counts per area leave this module, never a person's row.  Sums of
listed patients that the clinics' sheets would give away are flagged
(``attrs["hidden"]``, :func:`model.analyses.disclosure.mark_sheet_sums`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.disclosure import mark_sheet_sums
from model.artifacts import AtomicFolder, write_csv
from model.config import ModelConfig
from model.core.clinics import open_clinics
from model.errors import ValidationFailed
from model.inputs.tables import read_clinics, read_municipalities, read_persons

#: Sub-folder of a run folder that ``data_checks.ipynb`` writes.
CHECKS = "checks"
#: Files the annual report reads and validates (``services.parquet`` is validated by ``validate`` and ``ingest``).
REPORT_TABLES = ("persons", "clinics", "municipalities", "population_projection", "fee_index", "capacity_reports")


def validation_summary(report: Any) -> dict[str, Any]:
    """A JSON-able summary of a :class:`model.inputs.contracts.ValidationReport`.

    Keys: ``available``, ``ok``, ``summary`` (the one-line verdict),
    ``errors``, ``warnings`` (full counts) and ``by_rule`` (one record per
    severity, file, column and rule with its count).  The example values
    of the failures are left out: a report is published, and an example
    could be a person's row.
    """
    out: dict[str, Any] = {"available": True, "ok": bool(report.ok), "summary": report.summary_line(),
                           "errors": int(report.n_errors), "warnings": int(report.n_warnings)}
    sf = report.summary_frame()
    out["by_rule"] = [
        {"severity": str(r.severity), "file": str(r.file or ""), "column": str(r.column or ""),
         "rule": str(r.rule), "cases": int(r.count)}
        for r in sf.itertuples(index=False)
    ]
    return out


def validate_data(data: Path, year: int) -> dict[str, Any]:
    """Validate what the annual report reads; return :func:`validation_summary`, raise :class:`ValidationFailed` on failure.

    Checked: ``persons.parquet`` (the rows of ``year``), ``clinics.csv``,
    ``municipalities.csv``, ``population_projection.csv``,
    ``fee_index.csv`` and the capacity reports, with the links between
    them. ``services.parquet`` (the service lines, up to 100 million a
    year) is not read by the report's model and is left out here; it is
    validated by ``python -m model validate`` and by ``ingest``. A folder
    whose bytes passed the same checks before is not checked again
    (:func:`model.inputs.contracts.stamp.validate_folder_stamped`).
    """
    from model.inputs.contracts.stamp import validate_folder_stamped  # pandera and DuckDB: only to validate

    report = validate_folder_stamped(Path(data), [year], tables=REPORT_TABLES, planning_year=int(year) + 1)
    summary = validation_summary(report)
    if not summary["ok"]:
        text = report.format() if hasattr(report, "format") else summary.get("summary", "")
        raise ValidationFailed(report, f"data folder {data} failed validation; no report was written.\n{text}")
    return summary


def data_checks(persons: pd.DataFrame, clinics: pd.DataFrame, municipalities: pd.DataFrame, year: int,
                validation: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The data checks: what the data of ``year`` hold, per health council.

    In: the persons of the year (columns ``municipality_code``,
    ``insurance_group``, ``clinic_id``), the clinic register, the
    municipalities (``municipality_code``, ``kommune``, ``sundhedsraad`` =
    health council, ``life_expectancy_at_birth``) and the validation summary
    of :func:`validation_summary`.  Out: tables ``data_by_health_council``
    (municipalities, citizens in all insurance groups and in group 1, open
    clinics, regional and tender clinics, island doctors, allocated
    capacities, listed group-1 patients; sums the sheets would give away
    flagged in ``attrs["hidden"]``), ``validation_summary`` (one row per
    rule that failed, with its count; empty when all passed),
    ``life_expectancy_imputed`` (municipalities without a figure) and
    ``unlisted_by_municipality`` (group-1 citizens with no clinic on record).
    Only counts per area; no person rows.
    """
    cfg = ModelConfig().replace(year=int(year), planning_year=int(year) + 1)
    munis = municipalities
    hc_of = munis.set_index("municipality_code")["sundhedsraad"]
    p = persons
    # aggregate on the (categorical) codes first: millions of rows become a few thousand
    by_muni = p.groupby(["municipality_code", "insurance_group"], observed=True).size().reset_index(name="n")
    by_muni["hc"] = by_muni["municipality_code"].astype(str).map(hc_of)
    g1 = by_muni["insurance_group"] == cfg.insurance_group
    g1p = p[p["insurance_group"] == cfg.insurance_group]
    listed = g1p.groupby("clinic_id", observed=True).size()
    listed.index = listed.index.astype(str)
    # group-1 citizens with no clinic on record (or one the register does not know): in the need and the fit,
    # not in clinic figures
    known = g1p["clinic_id"].astype(object).isin(set(clinics["clinic_id"]))
    unl = g1p.loc[~known.to_numpy()].groupby("municipality_code", observed=True).size()
    unl.index = unl.index.astype(str)
    del g1p
    op = open_clinics(clinics, cfg).copy()
    op["health_council"] = op["municipality_code"].map(hc_of)
    op["listed"] = op["clinic_id"].map(listed).fillna(0).astype(np.int64)
    councils = sorted(munis["sundhedsraad"].unique())
    out = pd.DataFrame({"Health council": councils})
    out["Municipalities"] = out["Health council"].map(munis.groupby("sundhedsraad").size()).fillna(0).astype(int)
    out["Citizens (all groups)"] = out["Health council"].map(by_muni.groupby("hc")["n"].sum()).fillna(0).astype(np.int64)
    out["Citizens (group 1)"] = out["Health council"].map(by_muni[g1].groupby("hc")["n"].sum()).fillna(0).astype(np.int64)
    out["Open clinics"] = out["Health council"].map(op.groupby("health_council").size()).fillna(0).astype(int)
    rt = op[op["practice_form"].isin(["regional", "tender"])]
    out["Regional or tender clinics"] = out["Health council"].map(rt.groupby("health_council").size()).fillna(0).astype(int)
    isl = op[op["island_doctor"]]
    out["Island-doctor clinics"] = out["Health council"].map(isl.groupby("health_council").size()).fillna(0).astype(int)
    out["Capacities allocated"] = out["Health council"].map(op.groupby("health_council")["capacities"].sum()).fillna(0.0)
    out["Listed patients (group 1)"] = out["Health council"].map(
        op.groupby("health_council")["listed"].sum()).fillna(0).astype(np.int64)
    out["Patients in regional or tender clinics"] = out["Health council"].map(
        rt.groupby("health_council")["listed"].sum()).fillna(0).astype(np.int64)
    # per municipality only (no council or national total is printed, so a masked count has nothing to be
    # subtracted from; mostly zeros would leave no complement to hide beside a council total)
    um = munis[["municipality_code", "kommune", "sundhedsraad"]].assign(n=lambda m: m["municipality_code"].map(unl))
    um = um[um["n"].fillna(0) > 0]
    unlisted = pd.DataFrame({"Municipality": um["kommune"].to_numpy(), "Health council": um["sundhedsraad"].to_numpy(),
                             "Group-1 citizens with no clinic on record": um["n"].astype(np.int64).to_numpy()})
    vs = pd.DataFrame(validation.get("by_rule", []), columns=["severity", "file", "column", "rule", "cases"])
    vs.columns = ["Severity", "File", "Column", "Rule", "Cases"]
    le = pd.to_numeric(munis["life_expectancy_at_birth"], errors="coerce")
    imp = munis.loc[le.isna(), ["kommune", "sundhedsraad"]].rename(
        columns={"kommune": "Municipality", "sundhedsraad": "Health council"}).reset_index(drop=True)
    out = mark_sheet_sums(out, op[["health_council", "listed", "practice_form"]], cfg.min_cell_size)
    return {"data_by_health_council": out, "validation_summary": vs, "life_expectancy_imputed": imp,
            "unlisted_by_municipality": unlisted}


def check_folder(data_dir: str | Path, year: int, validation: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """:func:`data_checks` on a data folder: persons of ``year``, clinics and municipalities read through model.inputs.

    ``validation``: the summary of :func:`validation_summary`; None validates
    the folder here (:func:`validate_data`).
    """
    d = Path(data_dir)
    if validation is None:
        validation = validate_data(d, int(year))
    munis = read_municipalities(d / "municipalities.csv")
    clinics = read_clinics(d / "clinics.csv")
    persons = read_persons(d / "persons.parquet", int(year),
                           columns=["year", "municipality_code", "insurance_group", "clinic_id"])
    return data_checks(persons, clinics, munis, int(year), validation)


def write_data_checks(tables: Mapping[str, pd.DataFrame], validation: Mapping[str, Any], run_dir: str | Path) -> Path:
    """Write the data checks into ``<run_dir>/checks/`` (through a temporary folder); return it."""
    with AtomicFolder(Path(run_dir) / CHECKS) as tmp:
        for name, df in tables.items():
            write_csv(df, tmp / f"{name}.csv")
        (tmp / "validation.json").write_text(json.dumps(dict(validation), indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
    return Path(run_dir) / CHECKS


def read_validation(path: str | Path) -> dict[str, Any] | None:
    """The validation summary written by the report chain (``validation.json``), or None for ''."""
    if not path:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))
