"""A whole data folder validated: every table, the foreign keys across tables and the plausibility checks.

Public: :func:`validate_folder` (the ``validate`` verb) and
:func:`validate_file` (one file; a parquet file out of core). The regions'
capacity-report workbooks in ``capacity_reports/`` are validated here too,
sheet by sheet against the annex contracts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from model.errors import ConfigError
from model.inputs.contracts.duckdb_engine import (
    PERSONS_SUMMARY_SET,
    DuckSession,
    SqlTable,
    sql_fk,
    sql_persons_summary,
    sql_validate_parquet,
)
from model.inputs.contracts.duckdb_sql import sql_ident
from model.inputs.contracts.pandas_engine import check_fk, validate_frame
from model.inputs.contracts.reading import read_frame
from model.inputs.contracts.report import ValidationReport, py_value
from model.inputs.contracts.spec import (
    DEFAULT_MAX_EXAMPLES,
    ERROR,
    FOLDER_TABLES,
    WARNING,
    as_list,
    cached_schema,
    contract_for_file,
)

# --------------------------------------------------------------------------
# Validation of a data folder
# --------------------------------------------------------------------------


#: What ``tables=`` of :func:`validate_folder` accepts besides the names in
#: :data:`FOLDER_TABLES`: ``"capacity_reports"`` selects both annex contracts
#: (top-level annex files and the workbooks in ``capacity_reports/``).
TABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "capacity_reports": ("capacity_report_annex1", "capacity_report_annex2"),
}


def _selected_tables(tables: Iterable[str] | str | None) -> set[str]:
    if tables is None:
        return set(FOLDER_TABLES)
    if isinstance(tables, str):
        tables = [tables]
    out: set[str] = set()
    for t in tables:
        if t in TABLE_ALIASES:
            out.update(TABLE_ALIASES[t])
        elif t in FOLDER_TABLES:
            out.add(t)
        else:
            raise ConfigError(f"tables: unknown table {t!r} (known: {', '.join(FOLDER_TABLES + tuple(TABLE_ALIASES))})")
    return out


def validate_folder(folder: str | Path, years: Iterable[int] | None = None, *,
                    max_examples: int = DEFAULT_MAX_EXAMPLES, tables: Iterable[str] | str | None = None,
                    engine: str = "duckdb", memory_limit: str | None = None,
                    planning_year: int | Iterable[int] | str | None = None) -> ValidationReport:
    """Validate every input file of a data folder and the links between them.

    In: the folder; optionally the years to check (persons and services are
    filtered to them while reading, and each year must be present);
    ``tables``, the contracts to check (names of :data:`FOLDER_TABLES`, or
    ``"capacity_reports"`` for both annexes; default: all), e.g. the annual
    report checks only what its model reads and leaves ``services`` out.
    Cross-table checks run between the tables checked.

    ``engine``: ``"duckdb"`` (default) validates the parquet files (persons,
    services) out of core in DuckDB, within ``memory_limit`` (default
    :data:`DUCKDB_MEMORY_LIMIT`, spilling to a temporary folder beyond it),
    so neither 100 million service lines nor a panel of many years is ever
    loaded into pandas; rows are the rows of the file. ``"pandas"`` loads
    them into pandas like the other tables (the reference implementation,
    for small data; with ``years`` its rows count within the selected
    years). Both report the same failures.

    Out: a :class:`ValidationReport` holding, for every table of
    :data:`FOLDER_TABLES` (a missing required file is an error, optional ones
    are validated when present), all failures of :func:`validate_table`,
    plus the foreign keys across tables (every person's municipality and
    clinic exist, every clinic's municipality exists, ...) and plausibility
    warnings: a municipality with no citizens in a year, an open clinic with
    no listed patients, a municipality whose share of insurance group 2 is
    above the contract's limit (2 %), years without population projection or
    fee index. Nothing stops at the first failure.

    What the verbs will need, as errors (so that ``validate`` OK means
    ``fit``/``report`` do not reject the same data): every year in ``years``
    has persons; ``planning_year`` (an int, several, or ``"latest"`` for
    the latest persons year + 1, the default of ``fit``/``report`` on the
    latest year; ``None``: not checked) has a population projection for
    every municipality of municipalities.csv; a projection within the
    contract's ratio (0.5-2) of the municipality's population in
    municipalities.csv; a fee index within 0.5-2 of the previous year's.
    """
    if engine not in ("duckdb", "pandas"):
        raise ConfigError(f"engine must be 'duckdb' or 'pandas', not {engine!r}")
    folder = Path(folder)
    years = None if years is None else sorted({int(y) for y in years})
    selected = _selected_tables(tables)
    report = ValidationReport(max_examples, source=str(folder))
    if not folder.is_dir():
        report.add(str(folder), None, "data folder missing")
        return report
    frames: dict[str, pd.DataFrame] = {}
    views: dict[str, SqlTable] = {}
    files: dict[str, str] = {}
    annexes: list[tuple[str, str, pd.DataFrame]] = []  # (contract, file label, typed sheet)
    db: DuckSession | None = None
    try:
        for name in FOLDER_TABLES:
            if name not in selected:
                continue
            schema = cached_schema(name)
            path = folder / schema["path"]
            if not path.exists() and schema.get("x-optional"):
                continue
            tyears = years if name in ("persons", "services") else None
            if engine == "duckdb" and path.suffix.lower() == ".parquet" and path.is_file():
                db = db or DuckSession(memory_limit)
                view = sql_validate_parquet(db, path, name, report, path.name, tyears,
                                             [PERSONS_SUMMARY_SET] if name == "persons" else ())
                if view is not None:
                    views[name], files[name] = view, path.name
                continue
            df = read_frame(path, name, report, years=tyears)
            if df is None:
                continue
            typed = validate_frame(df, name, path.name, report)
            del df
            if name.startswith("capacity_report_annex"):
                annexes.append((name, path.name, typed))
            else:
                frames[name], files[name] = typed, path.name
        for name, path, label in _capacity_report_sheets(folder / "capacity_reports"):
            if name not in selected:
                continue
            df = read_frame(path, name, report, file=label)
            if df is not None:
                annexes.append((name, label, validate_frame(df, name, label, report)))
        for name in FOLDER_TABLES:
            child = views.get(name, frames.get(name))
            if child is None:
                continue
            for fk in cached_schema(name).get("foreignKeys") or []:
                res = fk["reference"].get("resource", "")
                parent = views.get(res, frames.get(res)) if res else None
                if parent is None or (parent.n_rows if isinstance(parent, SqlTable) else len(parent)) == 0:
                    continue  # a parent without rows is reported as such, not once per child row
                if isinstance(child, SqlTable):
                    sql_fk(db, child, fk, parent, report, name)
                elif isinstance(parent, SqlTable):  # a small table referring to a parquet table
                    check_fk(child, fk, db.con.execute(
                        f"SELECT DISTINCT {', '.join(sql_ident(c) for c in as_list(fk['reference']['fields']))} "
                        f"FROM {parent.view}").df(), files[name], report, name)
                else:
                    check_fk(child, fk, parent, files[name], report, name)
        for name, label, typed in annexes:
            for fk in cached_schema(name).get("foreignKeys") or []:
                res = fk["reference"].get("resource", "")
                if res in frames and len(frames[res]):
                    check_fk(typed, fk, frames[res], label, report, name)
        summary = None
        if "persons" in views:
            summary = sql_persons_summary(db, views["persons"])
        elif "persons" in frames:
            summary = _persons_summary(frames["persons"])
    finally:
        if db is not None:
            db.close()
    _plausibility(summary, frames, files, years, report)
    _needed_by_the_model(summary, frames, files, planning_year, report)
    _annex_plausibility(annexes, frames.get("municipalities"), report)
    return report


def _needed_by_the_model(persons: pd.DataFrame | None, tables: Mapping[str, pd.DataFrame],
                         files: Mapping[str, str], planning_year: int | Iterable[int] | str | None,
                         report: ValidationReport) -> None:
    """Errors for what the model's verbs need of the data beyond each table's contract.

    In: the persons summary (:func:`_persons_summary`, or None), the typed
    small tables, their file names, the planning year(s) to check (see
    :func:`validate_folder`) and the report. Checks: the projection holds
    every municipality in each planning year; each projection is within the
    contract's ``population_ratio`` of the municipality's population in
    municipalities.csv; each year's fee index within ``year_on_year_ratio``
    of the previous year's.
    """
    munis, proj, fee = tables.get("municipalities"), tables.get("population_projection"), tables.get("fee_index")
    pfile = files.get("population_projection", "population_projection.csv")
    plans: list[int] = []
    if isinstance(planning_year, str):
        if planning_year != "latest":
            raise ConfigError(f"planning_year must be a year, years, 'latest' or None, not {planning_year!r}")
        if persons is not None and "year" in persons.columns and persons["year"].notna().any():
            plans = [int(persons["year"].max()) + 1]
    elif planning_year is not None:
        plans = sorted({int(planning_year)} if isinstance(planning_year, (int, np.integer))
                       else {int(y) for y in planning_year})
    if plans and munis is not None and "kommunekode" in munis and proj is not None \
            and {"year", "municipality_code"} <= set(proj.columns):
        codes = sorted(set(munis["kommunekode"].dropna()))
        for y in plans if codes else []:
            have = set(proj.loc[(proj["year"] == y).fillna(False).to_numpy(bool), "municipality_code"].dropna())
            missing = [c for c in codes if c not in have]
            if len(missing) == len(codes):
                report.add(pfile, "year", "planning year missing: the model needs the projection of the planning "
                           "year for every municipality", value=y)
            else:
                for c in missing:
                    report.add(pfile, "municipality_code", "planning year missing for a municipality: the model "
                               "needs the projection of the planning year for every municipality",
                               value=f"{c} ({y})")
    plaus = {p["name"]: p for p in cached_schema("population_projection").get("x-plausibility") or []}
    ratio = plaus.get("population_ratio")
    if ratio and proj is not None and munis is not None \
            and {"municipality_code", "population_end_of_year"} <= set(proj.columns) \
            and {"kommunekode", "population_2026_01_01"} <= set(munis.columns):
        lo, hi = float(ratio["minimum"]), float(ratio["maximum"])
        pop = proj["municipality_code"].map(dict(zip(munis["kommunekode"], munis["population_2026_01_01"])))
        r = proj["population_end_of_year"].astype("Float64") / pop.astype("Float64")
        bad = ((r < lo) | (r > hi)).fillna(False).to_numpy(bool)
        report.add_rows(pfile, "population_end_of_year",
                        f"plausibility: projection outside {lo:g}-{hi:g} times the municipality's population "
                        "in municipalities.csv", np.flatnonzero(bad),
                        lambda p: [f"{proj['municipality_code'].iat[i]} ({py_value(proj['year'].iat[i])}): "
                                   f"{py_value(proj['population_end_of_year'].iat[i]):,} vs {py_value(pop.iat[i]):,}"
                                   for i in p], severity=ratio.get("severity", ERROR))
    fplaus = {p["name"]: p for p in cached_schema("fee_index").get("x-plausibility") or []}
    yoy = fplaus.get("year_on_year_ratio")
    if yoy and fee is not None and {"year", "index"} <= set(fee.columns):
        lo, hi = float(yoy["minimum"]), float(yoy["maximum"])
        f = fee.dropna(subset=["year", "index"])
        f = f.assign(__pos=np.flatnonzero(fee[["year", "index"]].notna().all(axis=1).to_numpy(bool)))
        f = f.sort_values("year", kind="stable")
        idx = f["index"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rr = idx[1:] / idx[:-1]
        bad = ~((rr >= lo) & (rr <= hi))
        yrs = f["year"].to_numpy()
        pos = f["__pos"].to_numpy()[1:][bad]
        vals = [f"{int(yrs[1:][k])}: {idx[1:][k]:g} = {rr[k]:.3g} x {int(yrs[:-1][k])}'s {idx[:-1][k]:g}"
                for k in np.flatnonzero(bad)]
        order = np.argsort(pos, kind="stable")
        report.add_rows(files.get("fee_index", "fee_index.csv"), "index",
                        f"plausibility: index outside {lo:g}-{hi:g} times the previous year's",
                        pos[order], [vals[k] for k in order], severity=yoy.get("severity", ERROR))


def _capacity_report_sheets(reports: Path) -> list[tuple[str, Path, str]]:
    """The regions' capacity reports in ``capacity_reports/``: for each
    workbook annex 1 (sheet "Bilag 1" or the first) and annex 2 when it has
    a "Bilag 2" sheet; for CSV files the annex named by a ``_bilag1`` /
    ``_bilag2`` suffix. Out: (contract, path, file label) triples."""
    out: list[tuple[str, Path, str]] = []
    if not reports.is_dir():
        return out
    for path in sorted(reports.iterdir()):
        label = f"{reports.name}/{path.name}"
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            try:
                with pd.ExcelFile(path) as book:
                    titles = book.sheet_names
            except Exception:  # unreadable: reported when read as annex 1
                titles = []
            out.append(("capacity_report_annex1", path, f"{label} [Bilag 1]" if len(titles) > 1 else label))
            if any(re.fullmatch(r"\s*(bilag|annex)\s*2\s*", t, flags=re.IGNORECASE) for t in titles):
                out.append(("capacity_report_annex2", path, f"{label} [Bilag 2]"))
        elif path.suffix.lower() == ".csv":
            m = re.search(r"(bilag|annex)[_\- ]?([12])$", path.stem, flags=re.IGNORECASE)
            if m:
                out.append((f"capacity_report_annex{m.group(2)}", path, label))
    return out


def _persons_summary(persons: pd.DataFrame) -> pd.DataFrame:
    """:func:`sql_persons_summary` of a typed pandas table."""
    keys = [c for c in ("year", "municipality_code", "clinic_id") if c in persons.columns]
    g2 = (persons["insurance_group"].eq(2).fillna(False).astype(np.int64) if "insurance_group" in persons
          else pd.Series(0, index=persons.index))
    frame = persons[keys].assign(g2=g2.to_numpy())
    if not keys:
        return pd.DataFrame({"n": [len(frame)], "g2": [int(frame["g2"].sum())]})
    return (frame.groupby(keys, dropna=False, observed=True, sort=False)["g2"].agg(["size", "sum"])
            .rename(columns={"size": "n", "sum": "g2"}).reset_index())


def _plausibility(persons: pd.DataFrame | None, tables: Mapping[str, pd.DataFrame], files: Mapping[str, str],
                  years: list[int] | None, report: ValidationReport) -> None:
    """The plausibility warnings across tables. ``persons`` is the summary
    of persons.parquet (:func:`_persons_summary`: citizens per year,
    municipality and clinic), ``tables`` the other (small) typed tables."""
    munis = tables.get("municipalities")
    clinics = tables.get("clinics")
    plaus = {p["name"]: p for p in cached_schema("persons").get("x-plausibility") or []}
    pfile = files.get("persons", "persons.parquet")
    present_years: list[int] = []
    if persons is not None and "year" in persons.columns:
        present_years = sorted(int(y) for y in persons["year"].dropna().unique())
        for y in years or []:
            if y not in present_years:
                report.add(pfile, "year", "year requested but no rows for it", value=y)
        if munis is not None and {"municipality_code"} <= set(persons.columns):
            stats = (persons.dropna(subset=["year", "municipality_code"])
                     .groupby(["year", "municipality_code"], observed=True)[["n", "g2"]].sum()
                     .rename(columns={"n": "size", "g2": "sum"}))
            names = dict(zip(munis["kommunekode"], munis["kommune"])) if "kommune" in munis else {}
            for y in present_years:
                have = set(stats.loc[y].index) if y in stats.index.get_level_values(0) else set()
                for code in munis["kommunekode"].dropna():
                    if code not in have:
                        report.add(pfile, "municipality_code", "plausibility: municipality has no citizens in the year",
                                   value=f"{code} {names.get(code, '')} ({y})".replace("  ", " "), severity=WARNING)
            limit = float(plaus.get("insurance_group_2_share", {}).get("maximum", 0.02))
            floor = int(plaus.get("insurance_group_2_share", {}).get("min_citizens", 0))
            share = stats["sum"] / stats["size"]
            for (y, code), sh in share[(share > limit) & (stats["size"] >= floor)].items():
                report.add(pfile, "insurance_group",
                           f"plausibility: share of insurance group 2 above {limit:.0%} in a municipality",
                           value=f"{code} {names.get(code, '')}: {sh:.1%} of "
                                 f"{int(stats.loc[(y, code), 'size']):,} ({int(y)})",
                           severity=WARNING)
        if clinics is not None and {"clinic_id"} <= set(persons.columns) and "clinic_id" in clinics:
            for y in present_years:
                in_year = persons["clinic_id"][(persons["year"] == y).fillna(False).to_numpy(bool)]
                listed_set = set(pd.unique(in_year.dropna()))
                start, end = pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
                open_ = pd.Series(True, index=clinics.index)
                if "opened" in clinics:
                    open_ &= ~(clinics["opened"] > end).fillna(False)
                if "closed" in clinics:
                    open_ &= ~(clinics["closed"] < start).fillna(False)
                for cid in clinics.loc[open_, "clinic_id"].dropna():
                    if cid not in listed_set:
                        report.add(files.get("clinics", "clinics.csv"), "clinic_id",
                                   "plausibility: open clinic has no listed patients in the year",
                                   value=f"{cid} ({y})", severity=WARNING)
    proj = tables.get("population_projection")
    if proj is not None and {"year", "municipality_code"} <= set(proj.columns):
        pyears = set(int(y) for y in proj["year"].dropna().unique())
        for y in years or []:
            if y not in pyears:
                report.add(files["population_projection"], "year",
                           "plausibility: no population projection for a requested year", value=y, severity=WARNING)
        if munis is not None:
            codes = set(munis["kommunekode"].dropna())
            for y, g in proj.groupby("year"):
                for code in sorted(codes - set(g["municipality_code"].dropna())):
                    report.add(files["population_projection"], "municipality_code",
                               "plausibility: municipality missing from the projection year",
                               value=f"{code} ({int(y)})", severity=WARNING)
    fee = tables.get("fee_index")
    if fee is not None and "year" in fee.columns:
        fyears = set(int(y) for y in fee["year"].dropna())
        for y in present_years:
            if y not in fyears:
                report.add(files["fee_index"], "year", "plausibility: a year of persons has no fee index",
                           value=y, severity=WARNING)
    elif len(present_years) > 1:
        report.add("fee_index.csv", None,
                   "plausibility: persons holds several years but there is no fee_index.csv to index fees",
                   value=", ".join(map(str, present_years)), severity=WARNING)


def _annex_plausibility(annexes: Sequence[tuple[str, str, pd.DataFrame]], munis: pd.DataFrame | None,
                        report: ValidationReport) -> None:
    """Warn where a report's Praksiskommune does not name the municipality
    of its Praksiskommunekode (case-insensitive)."""
    if munis is None or not {"kommunekode", "kommune"} <= set(munis.columns):
        return
    names = dict(zip(munis["kommunekode"], munis["kommune"]))
    if not names:  # a municipalities.csv without rows is reported as such
        return
    for _, label, t in annexes:
        if not {"Praksiskommune", "Praksiskommunekode"} <= set(t.columns):
            continue
        expect = t["Praksiskommunekode"].map(names).astype("str")
        bad = (expect.notna() & t["Praksiskommune"].notna()
               & (expect.str.casefold() != t["Praksiskommune"].str.casefold())).fillna(False).to_numpy(bool)
        report.add_rows(label, "Praksiskommune", "plausibility: municipality name does not match Praksiskommunekode",
                        np.flatnonzero(bad),
                        lambda p, t=t, expect=expect: [f"{t['Praksiskommune'].iat[i]} (code "
                                                       f"{t['Praksiskommunekode'].iat[i]} is {expect.iat[i]})"
                                                       for i in p], severity=WARNING)


def validate_file(path: str | Path, name: str | None = None, *,
                  max_examples: int = DEFAULT_MAX_EXAMPLES) -> ValidationReport:
    """Read and validate one file. In: its path and contract name (default:
    the contract whose ``path`` is the file's name). Out: the report (a
    missing or empty file is a failure in it, not an exception). A parquet
    file is validated out of core in DuckDB (as by :func:`validate_folder`)."""
    path = Path(path)
    name = name or contract_for_file(path)
    report = ValidationReport(max_examples)
    if path.suffix.lower() == ".parquet" and path.is_file():  # out of core, see validate_folder
        with DuckSession() as db:
            sql_validate_parquet(db, path, name, report, path.name)
        return report
    df = read_frame(path, name, report)
    if df is not None:
        validate_frame(df, name, path.name, report)
    return report


