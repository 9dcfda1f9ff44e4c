"""The model's input tables of one year: persons, clinics, municipalities, projection, island reports.

In: a data folder (validated against data_schema/ first).  Out: :class:`Inputs`,
plain data frames with string IDs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from model.artifacts import sha256_file
from model.config import OPTIONAL_PERSON_COLUMNS, PERSON_COLUMNS
from model.errors import InputError
from model.inputs.capacity_reports import parse_report_filename, read_capacity_report
from model.inputs.contracts.decoding import FINITE_NOTE
from model.inputs.contracts.report import ValidationReport
from model.inputs.readers import check_parquet_columns, model_frame, read_typed
from model.inputs.reference import municipalities
from model.inputs.services import read_fee_index

INPUT_FILES = ("persons.parquet", "clinics.csv", "municipalities.csv", "population_projection.csv")


@dataclass
class Inputs:
    """The model's inputs as plain data frames (IDs and codes as strings).

    ``residents``: residents of every insurance group per municipality in the
    data year (municipality_code, residents), for the group-1 share of
    docs/method.md step 4; None counts them from ``persons`` (which must then hold
    every group).  ``island_reports``: the island doctors the regions
    reported in annex 2 (:func:`model.inputs.tables.read_island_reports`); None or
    empty leaves the clinic register's flag as the only source.
    """

    persons: pd.DataFrame
    clinics: pd.DataFrame
    municipalities: pd.DataFrame
    projection: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    residents: pd.DataFrame | None = None
    island_reports: pd.DataFrame | None = None


def residents_by_municipality(path: Path, year: int) -> pd.DataFrame:
    """Residents of every insurance group per municipality in ``year`` (one column read, dictionary-encoded)."""
    t = pq.read_table(path, columns=["municipality_code"], filters=[("year", "=", year)],
                      read_dictionary=["municipality_code"])
    col = t.column("municipality_code").combine_chunks()
    if not hasattr(col, "indices"):
        col = col.dictionary_encode()
    counts = np.bincount(col.indices.to_numpy(zero_copy_only=False), minlength=len(col.dictionary))
    return pd.DataFrame({"municipality_code": [str(v) for v in col.dictionary.to_pylist()], "residents": counts})


def read_persons(path: Path, year: int, columns: list[str] | None = None, insurance_group: int | None = None) -> pd.DataFrame:
    """Read one year of persons.parquet, only the model's columns, IDs as strings.

    String columns arrive as pandas categoricals (dictionary-encoded), which
    keeps a national year near 300 MB in memory.  ``insurance_group``: keep
    only that group (filtered while reading, in Arrow).
    """
    cols = list(columns or PERSON_COLUMNS)
    present = set(pq.read_schema(path).names)
    cols = [c for c in cols if c in present or c not in OPTIONAL_PERSON_COLUMNS]
    # how the file stores its columns: duplicates, missing columns, numbers stored as text (named, not a KeyError)
    check_parquet_columns(path, "persons", cols).raise_if_errors()
    filters = [("year", "=", year)] + ([("insurance_group", "=", insurance_group)] if insurance_group is not None else [])
    dictionary_columns = ("municipality_code", "clinic_id", "civil_status", "origin_group", "labour_status")
    table = pq.read_table(path, columns=cols, filters=filters,
                          read_dictionary=[c for c in dictionary_columns if c in cols])
    df = table.to_pandas()
    if df.empty:
        years = sorted(pq.read_table(path, columns=["year"]).column("year").unique().to_pylist())
        raise InputError(f"{path}: no persons for year {year}; years present: {years}")
    _check_finite(df, path, "persons")
    return df


def _check_finite(df: pd.DataFrame, path: Path, name: str) -> None:
    """Raise :class:`model.errors.ValidationFailed` naming file, column and
    rows where a float column of ``df`` holds inf, -inf or nan (the model's
    own check of what validation rejects, for runs with --no-validate)."""
    report = ValidationReport()
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c].dtype):
            v = df[c].to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(v)
            if bad.any():
                report.add_rows(Path(path).name, c, f"type: number ({FINITE_NOTE})", np.flatnonzero(bad),
                                lambda p, v=v: v[p].tolist())
    report.raise_if_errors()


def read_municipalities(path: Path) -> pd.DataFrame:
    """municipalities.csv with the code as a 3-character string in ``municipality_code``."""
    return municipalities(path)


def read_clinics(path: Path) -> pd.DataFrame:
    """clinics.csv read as validation reads it (:func:`model.inputs.readers.read_typed`).

    Out: IDs and codes as strings (missing as ""), capacities as numbers,
    ``island_doctor`` as bool (true/false, 1/0, yes/no, ja/nej, SAND/FALSK;
    anything else raises), ``opened``/``closed`` as ISO text "YYYY-MM-DD"
    whether the file wrote them ISO or day first (missing as ""). Any
    encoding, delimiter and decimal mark of :mod:`model.inputs.contracts.decoding`. Raises
    :class:`model.errors.ValidationFailed` (file, column, row, rule) for
    values that cannot be typed.
    """
    return model_frame(read_typed(path, "clinics"))


def read_projection(path: Path) -> pd.DataFrame:
    """population_projection.csv read as validation reads it, the municipality code as a string."""
    return model_frame(read_typed(path, "population_projection"))


def read_island_reports(data_dir: str | Path, clinics: pd.DataFrame | None = None,
                        planning_year: int | None = None) -> pd.DataFrame:
    """The island doctors the regions reported in annex 2 of their capacity reports (R§3).

    Reads every report at the top level of ``<data_dir>/capacity_reports/``
    (workbooks and CSV pairs named ``<region>_<YYYY-MM-DD>...``) that has an
    annex 2.  Out: one row per reported clinic and report: clinic_id,
    region, reporting_date (ISO text), reported_patients, source (file
    name); empty (with these columns) when there is no such folder.  Which
    report applies to the planning year is decided by
    :func:`model.core.clinics.island_deductions`; with ``planning_year`` only the
    files whose name dates them within the year before its 1 January (the
    only ones that can cover it) are read.
    """
    day = dt.date(int(planning_year), 1, 1) if planning_year is not None else None

    cols = ["clinic_id", "region", "reporting_date", "reported_patients", "source"]
    folder = Path(data_dir) / "capacity_reports"
    rows: list[pd.DataFrame] = []
    if folder.is_dir():
        files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in (".xlsx", ".xlsm", ".csv")
                       and not f.name.startswith((".", "~")) and "bilag2" not in f.stem.lower()
                       and "submissions" not in f.stem.lower())
        for f in files:
            d = parse_report_filename(f)[1]
            if day is not None and d is not None and not (dt.date(day.year - 1, day.month, day.day) < d <= day):
                continue
            rep = read_capacity_report(f)
            if not rep.has_annex2 or rep.annex2.empty or rep.reporting_date is None:
                continue
            a2 = rep.annex2
            ok = a2["clinic_id"].astype(str).str.fullmatch(r"[0-9]{6}") & a2["listed_patients"].notna()
            a2 = a2[ok]
            rows.append(pd.DataFrame({
                "clinic_id": a2["clinic_id"].astype(str).to_numpy(), "region": rep.region,
                "reporting_date": rep.reporting_date.isoformat(),
                "reported_patients": a2["listed_patients"].astype("int64").to_numpy(), "source": f.name,
            }))
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "reported_patients" else object) for c in cols})
    return pd.concat(rows, ignore_index=True)[cols]


def price_factor(data_dir: str | Path, year: int, price_year: int | None) -> float:
    """Factor that brings fees of ``year`` to the price level of ``price_year`` with ``fee_index.csv``
    (index(price_year) / index(year), §4.4.3); 1 when ``price_year`` is None or equal to ``year``."""
    if price_year is None or int(price_year) == int(year):
        return 1.0
    path = Path(data_dir) / "fee_index.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path}: needed to bring {year} fees to {price_year} prices")
    index = read_fee_index(path)
    missing = [y for y in (int(year), int(price_year)) if y not in index]
    if missing:
        raise InputError(f"{path}: no fee index for year(s) {missing}")
    return float(index[int(price_year)] / index[int(year)])


FEE_COLUMNS = ("gross_fee", "chronic_fee", "local_services_fee", "contact_fee")


def load_inputs(data_dir: str | Path, year: int, hashes: bool = True, price_year: int | None = None,
                insurance_group: int | None = None, planning_year: int | None = None) -> Inputs:
    """Read the model's input files from a data folder (no validation here; see :mod:`model.inputs.contracts`).

    ``insurance_group``: read only persons of that health-insurance group
    (the model uses group 1 only; None reads all).

    ``price_year``: bring the year's fees to that year's price level with
    ``fee_index.csv`` (:func:`price_factor`); None keeps the year's own prices.

    ``planning_year`` (default ``year + 1``): the island-doctor reports read
    are those that can cover its 1 January (:func:`read_island_reports`).
    """
    d = Path(data_dir)
    missing = [f for f in INPUT_FILES if not (d / f).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing input file(s): {', '.join(missing)}")
    persons = read_persons(d / "persons.parquet", year, insurance_group=insurance_group)
    factor = price_factor(d, year, price_year)
    if factor != 1.0:
        for c in (c for c in FEE_COLUMNS if c in persons.columns):
            persons[c] = persons[c] * factor
    clinics = read_clinics(d / "clinics.csv")
    inputs = Inputs(
        persons=persons,
        clinics=clinics,
        municipalities=read_municipalities(d / "municipalities.csv"),
        projection=read_projection(d / "population_projection.csv"),
        residents=residents_by_municipality(d / "persons.parquet", year) if insurance_group is not None else None,
        island_reports=read_island_reports(d, clinics, planning_year=year + 1 if planning_year is None else planning_year),
    )
    if hashes:
        inputs.files = {f: sha256_file(d / f) for f in INPUT_FILES}
    return inputs
