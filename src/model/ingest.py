"""Ingestion: register service lines into per-person fees, and the regions' capacity reports.

Two unrelated inputs come in here.

1. **Service lines** from the health-insurance register (*sygesikringsregisteret*,
   SSSY): one line per service, with the fee paid for it.  docs/method.md step 1 uses
   each citizen's gross fee (*bruttohonorar*) in the latest complete year as the
   dependent variable.  :func:`aggregate_services` sums the lines per person
   (and year) with DuckDB reading the parquet file directly, out of core, so a
   national year (about 100 million lines) goes through in bounded memory;
   :func:`ingest_persons` puts the sums into the persons table and
   :func:`ingest` does both from a data folder and writes the result atomically.

2. **The regions' capacity reports** (the guidance on reporting allocated and
   vacant GP capacities and island doctors, "R§" in docs/method.md): the Excel
   template of annex 1 (*Bilag 1*, one row per provider number) and annex 2
   (*Bilag 2*, island doctors, *ø-læger*).  :func:`read_capacity_report` reads
   one report, checks it against the annex's rules and collects *every*
   failure (file, sheet, Excel row, column, value, rule) instead of stopping at
   the first; :func:`check_report_schedule` checks that a region's reports
   arrive monthly (quarterly before 1 January 2027).

Danish terms: *ydernummer* -- provider number, the clinic's ID (6 digits);
*udmøntede kapaciteter* -- capacities allocated to the clinic; *ledige
kapaciteter* -- vacant ones (not held by a specialist in general medicine);
*tilmeldte patienter* -- listed patients; *praksisform* -- practice form.

The annex rules are checked here, self-contained; they do not depend on
``model.schema``.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
import difflib
import io
import os
import re
import tempfile
import time
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    # service lines
    "DEFAULT_LOCAL_SERVICE_CODES",
    "read_fee_index",
    "aggregate_services",
    "write_aggregated_services",
    "ingest_persons",
    "ingest",
    "NegativeFeeError",
    "UnknownPersonsWarning",
    # capacity reports
    "ANNEX1_HEADINGS",
    "ANNEX2_HEADINGS",
    "HEADING_TO_COLUMN",
    "PRACTICE_FORMS",
    "REGIONS",
    "ReportFailure",
    "CapacityReport",
    "CapacityReportError",
    "read_capacity_report",
    "check_report_schedule",
    "parse_report_filename",
    "canonical_region",
    "default_municipality_codes",
]

# =============================================================================
# 1. Service lines -> per-person fees
# =============================================================================

#: Fee codes of the ultrasound services in Region Sjælland's local agreement
#: (2025-2026, 12 municipalities; seed 004): 4350-4360 inclusive.  They raise
#: recorded use for reasons of local agreement, not need (docs/method.md step 8).
DEFAULT_LOCAL_SERVICE_CODES: tuple[str, ...] = tuple(str(c) for c in range(4350, 4361))

#: Service codes of the contact services that the chronic-care fee replaces (§4.4.3: consultation, e-mail,
#: telephone and video consultation, annual check): their fees are summed into ``contact_fee``, from which
#: the base model imputes the contacts of citizens on the fee.  The default is the codes the project's
#: synthetic data use (consultation 0101, e-mail 0105, telephone 0201, home visit 0411); on real extracts
#: pass the collective agreement's codes for the year (``contact_service_codes=``).
CONTACT_SERVICE_CODES: tuple[str, ...] = ("0101", "0105", "0201", "0411")

_STRING_COLUMNS = ("person_id", "clinic_id", "service_code")
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}

AGGREGATE_COLUMNS = (
    "person_id",
    "year",
    "gross_fee",
    "local_services_fee",
    "contact_fee",
    "n_lines",
    "n_services",
    "main_clinic_id",
)


class NegativeFeeError(ValueError):
    """A person's total fee for a year is negative (corrections exceed payments)."""


class UnknownPersonsWarning(UserWarning):
    """Service lines whose person_id is not in the persons table."""


def read_fee_index(fee_index: Any) -> dict[int, float]:
    """The fee index as ``{year: index}``.

    ``fee_index`` is a path to a CSV with columns ``year`` and ``index`` (as
    ``fee_index.csv``; read as validation reads it, :func:`model.readers.read_typed`:
    any encoding, delimiter and decimal mark), a DataFrame with those columns,
    or a mapping.  Years must be unique, every index a positive finite number,
    and each year's index within the contract's ratio of the previous year's
    (``x-plausibility: year_on_year_ratio`` of ``fee_index.schema.yaml``, 0.5-2):
    an index of 1e12 would scale the fees to nothing.
    """
    if isinstance(fee_index, Mapping):
        pairs = [(y, v) for y, v in fee_index.items()]
        source = "fee index mapping"
    else:
        if isinstance(fee_index, (str, os.PathLike)):
            from .readers import read_typed

            source = str(fee_index)
            df = read_typed(fee_index, "fee_index")
        elif isinstance(fee_index, pd.DataFrame):
            source = "fee index table"
            df = fee_index
        else:
            raise TypeError(f"fee_index must be a path, a DataFrame or a mapping, not {type(fee_index).__name__}")
        missing = {"year", "index"} - set(df.columns)
        if missing:
            raise ValueError(f"{source}: missing column(s) {sorted(missing)}; expected 'year' and 'index'")
        pairs = list(zip(df["year"], df["index"]))
    out: dict[int, float] = {}
    for i, (y, v) in enumerate(pairs):
        try:
            year = int(str(y).strip())
            value = float(str(v).strip())
        except ValueError:
            raise ValueError(f"{source}: row {i + 2}: year {y!r} / index {v!r} is not a number") from None
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{source}: row {i + 2}: index for {year} must be a positive number, got {v!r}")
        if year in out:
            raise ValueError(f"{source}: year {year} appears more than once")
        out[year] = value
    if not out:
        raise ValueError(f"{source}: the fee index is empty")
    lo, hi = fee_index_ratio_bounds()
    years = sorted(out)
    for prev, year in zip(years, years[1:]):
        ratio = out[year] / out[prev]
        if not lo <= ratio <= hi:
            raise ValueError(f"{source}: year {year}: index {out[year]:g} is {ratio:.3g} times {prev}'s "
                             f"{out[prev]:g}; a fee index moves by far less from one year to the next "
                             f"(allowed ratio {lo:g}-{hi:g})")
    return out


def fee_index_ratio_bounds() -> tuple[float, float]:
    """(minimum, maximum) ratio of a year's fee index to the previous year's, from the
    ``year_on_year_ratio`` entry of ``fee_index.schema.yaml``'s ``x-plausibility``."""
    from .schema import load_schema

    for p in load_schema("fee_index").get("x-plausibility") or []:
        if p.get("name") == "year_on_year_ratio":
            return float(p["minimum"]), float(p["maximum"])
    return 0.0, float("inf")


def _years_list(year: int | Iterable[int]) -> list[int]:
    years = [year] if isinstance(year, (int, np.integer)) else list(year)
    if not years:
        raise ValueError("year: give a year or a non-empty list of years")
    out = []
    for y in years:
        if isinstance(y, bool) or not isinstance(y, (int, np.integer)):
            raise TypeError(f"year must be an int or a list of ints, got {y!r}")
        out.append(int(y))
    return sorted(set(out))


def _price_factors(
    years: list[int], fee_index: Any, price_year: int | None
) -> tuple[dict[int, float], int | None]:
    """Factor per year that brings its fees to the price level of ``price_year``.

    Indexing applies when a fee index is given and either several years are
    ingested or ``price_year`` is given explicitly; the price year defaults to
    the latest (maximum) year in the fee index.  Otherwise every factor is 1.
    """
    if fee_index is None:
        if price_year is not None:
            raise ValueError("price_year needs a fee_index to bring fees to that year's price level")
        return {y: 1.0 for y in years}, None
    index = read_fee_index(fee_index)
    if len(years) == 1 and price_year is None:
        return {y: 1.0 for y in years}, None
    target = max(index) if price_year is None else int(price_year)
    missing = sorted({*years, target} - set(index))
    if missing:
        raise ValueError(
            f"fee index has no value for year(s) {missing}; it covers {min(index)}-{max(index)} "
            f"({len(index)} years)"
        )
    return {y: index[target] / index[y] for y in years}, target


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _service_paths(services_path: Any) -> list[str]:
    if isinstance(services_path, (str, os.PathLike)):
        paths = [os.fspath(services_path)]
    else:
        paths = [os.fspath(p) for p in services_path]
    if not paths:
        raise ValueError("services_path: no file given")
    for p in paths:
        if not any(ch in p for ch in "*?[") and not Path(p).exists():
            raise FileNotFoundError(f"service lines file not found: {p}")
    return paths


def _connect(threads: int | None, memory_limit: str | None, temp_dir: str):
    import duckdb

    con = duckdb.connect(database=":memory:")
    if memory_limit:
        con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
    con.execute(f"SET temp_directory = {_sql_str(temp_dir)}")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _check_service_schema(con, paths: list[str], need_clinic: bool) -> set[str]:
    """Check the parquet columns and types before reading any line; return the column names."""
    desc = con.sql("DESCRIBE SELECT * FROM read_parquet($paths)", params={"paths": paths}).fetchall()
    types = {row[0]: str(row[1]).upper() for row in desc}
    required = ["person_id", "year", "service_code", "fee"] + (["clinic_id"] if need_clinic else [])
    missing = [c for c in required if c not in types]
    if missing:
        raise ValueError(
            f"service lines {paths[0] if len(paths) == 1 else paths}: missing column(s) {missing}; "
            f"found {sorted(types)}"
        )
    for c in _STRING_COLUMNS:
        if c in types and types[c] != "VARCHAR":
            raise TypeError(
                f"service lines: column {c!r} is stored as {types[c]}, not as a string: IDs and codes "
                f"must be strings (a number loses leading zeros, e.g. '012345' -> 12345)"
            )
    if types["year"] not in _INTEGER_TYPES:
        raise TypeError(f"service lines: column 'year' must be an integer, is {types['year']}")
    if "count" in types and types["count"] not in _INTEGER_TYPES:
        raise TypeError(f"service lines: column 'count' must be an integer, is {types['count']}")
    return set(types)


def _normalise_codes(codes: Iterable[Any]) -> list[str]:
    out = []
    for c in codes:
        s = str(c).strip()
        if not s.isdigit():
            raise ValueError(f"local_service_codes: {c!r} is not a service code (digits)")
        out.append(s.zfill(4))
    return sorted(set(out))


def _aggregate_sql(
    *,
    years: list[int],
    factors: dict[int, float],
    local_codes: list[str],
    has_count: bool,
    contact_codes: Sequence[str] = CONTACT_SERVICE_CODES,
    main_clinic: bool,
    by_year: bool,
    out_year: int,
    fee_decimals: int | None,
) -> str:
    """The aggregation query; reads ``$paths``.

    Fees are summed as integers in units of 10**-fee_decimals DKK (øre by
    default): exact and independent of the order in which DuckDB's threads
    combine partial sums, so the result is identical run after run.  Only the
    final division and the price factor are floating point.
    """
    if fee_decimals is None:
        fee_expr, to_dkk = "CAST(fee AS DOUBLE)", "{x}"
        zero = "0.0"
    else:
        scale = 10 ** int(fee_decimals)
        fee_expr = f"CAST(round(fee * {scale}) AS BIGINT)"
        to_dkk = "(CAST({x} AS DOUBLE) / " + f"{scale})"
        zero = "0"
    codes = ", ".join(_sql_str(c) for c in local_codes) or "NULL"
    ccodes = ", ".join(_sql_str(c) for c in contact_codes) or "NULL"
    year_list = ", ".join(str(y) for y in years)
    factor_rows = ", ".join(f"({y}, CAST({factors[y]!r} AS DOUBLE))" for y in years)
    count_expr = "CAST(count AS BIGINT)" if has_count else "CAST(NULL AS BIGINT)"
    clinic_col = ", clinic_id" if main_clinic else ""
    lines = f"""
    factors(year, factor) AS (VALUES {factor_rows}),
    lines AS (
        SELECT person_id, CAST(year AS INTEGER) AS year{clinic_col},
               {fee_expr} AS fee_u,
               CASE WHEN service_code IN ({codes}) THEN {fee_expr} ELSE {zero} END AS local_u,
               CASE WHEN service_code IN ({ccodes}) THEN {fee_expr} ELSE {zero} END AS contact_u,
               {count_expr} AS n_services
        FROM read_parquet($paths)
        WHERE year IN ({year_list})
    )"""
    dkk = lambda x: to_dkk.format(x=x)  # noqa: E731
    if by_year:
        if main_clinic:
            body = f"""
    pc AS (
        SELECT person_id, year, clinic_id, sum(fee_u) AS fee_u, sum(local_u) AS local_u, sum(contact_u) AS contact_u,
               count(*) AS n_lines, sum(n_services) AS n_services
        FROM lines GROUP BY person_id, year, clinic_id
    ),
    p AS (
        SELECT person_id, year, sum(fee_u) AS fee_u, sum(local_u) AS local_u, sum(contact_u) AS contact_u,
               sum(n_lines) AS n_lines, sum(n_services) AS n_services,
               arg_min(clinic_id, (-fee_u, clinic_id)) AS main_clinic_id
        FROM pc GROUP BY person_id, year
    )"""
        else:
            body = """
    p AS (
        SELECT person_id, year, sum(fee_u) AS fee_u, sum(local_u) AS local_u, sum(contact_u) AS contact_u,
               count(*) AS n_lines, sum(n_services) AS n_services,
               CAST(NULL AS VARCHAR) AS main_clinic_id
        FROM lines GROUP BY person_id, year
    )"""
        select = f"""
    SELECT p.person_id, CAST(p.year AS BIGINT) AS year,
           {dkk('p.fee_u')} * f.factor AS gross_fee,
           {dkk('p.local_u')} * f.factor AS local_services_fee,
           {dkk('p.contact_u')} * f.factor AS contact_fee,
           CAST(p.n_lines AS BIGINT) AS n_lines, CAST(p.n_services AS BIGINT) AS n_services,
           p.main_clinic_id
    FROM p JOIN factors f USING (year)
    ORDER BY p.person_id, p.year"""
    else:
        # Pooled over years: per-year exact sums, brought to the price level,
        # then added in a fixed order (ORDER BY year / clinic) for determinism.
        if main_clinic:
            body = f"""
    pcy AS (
        SELECT person_id, year, clinic_id, sum(fee_u) AS fee_u, sum(local_u) AS local_u, sum(contact_u) AS contact_u,
               count(*) AS n_lines, sum(n_services) AS n_services
        FROM lines GROUP BY person_id, year, clinic_id
    ),
    pc AS (
        SELECT person_id, clinic_id,
               sum({dkk('fee_u')} * factor ORDER BY year) AS fee,
               sum({dkk('local_u')} * factor ORDER BY year) AS local_fee,
               sum({dkk('contact_u')} * factor ORDER BY year) AS contact_fee,
               sum(n_lines) AS n_lines, sum(n_services) AS n_services
        FROM pcy JOIN factors USING (year) GROUP BY person_id, clinic_id
    ),
    p AS (
        SELECT person_id, sum(fee ORDER BY clinic_id) AS gross_fee,
               sum(local_fee ORDER BY clinic_id) AS local_services_fee,
               sum(contact_fee ORDER BY clinic_id) AS contact_fee,
               sum(n_lines) AS n_lines, sum(n_services) AS n_services,
               arg_min(clinic_id, (-fee, clinic_id)) AS main_clinic_id
        FROM pc GROUP BY person_id
    )"""
        else:
            body = f"""
    py AS (
        SELECT person_id, year, sum(fee_u) AS fee_u, sum(local_u) AS local_u, sum(contact_u) AS contact_u,
               count(*) AS n_lines, sum(n_services) AS n_services
        FROM lines GROUP BY person_id, year
    ),
    p AS (
        SELECT person_id, sum({dkk('fee_u')} * factor ORDER BY year) AS gross_fee,
               sum({dkk('local_u')} * factor ORDER BY year) AS local_services_fee,
               sum({dkk('contact_u')} * factor ORDER BY year) AS contact_fee,
               sum(n_lines) AS n_lines, sum(n_services) AS n_services,
               CAST(NULL AS VARCHAR) AS main_clinic_id
        FROM py JOIN factors USING (year) GROUP BY person_id
    )"""
        select = f"""
    SELECT person_id, CAST({int(out_year)} AS BIGINT) AS year, gross_fee, local_services_fee, contact_fee,
           CAST(n_lines AS BIGINT) AS n_lines, CAST(n_services AS BIGINT) AS n_services, main_clinic_id
    FROM p
    ORDER BY person_id"""
    return "WITH" + lines + "," + body + select


@dataclass
class _Plan:
    sql: str
    paths: list[str]
    years: list[int]
    factors: dict[int, float]
    price_year: int | None
    local_codes: list[str]
    has_count: bool
    main_clinic: bool
    by_year: bool


def _plan(con, services_path, year, fee_index, local_service_codes, price_year, by_year, main_clinic, fee_decimals):
    paths = _service_paths(services_path)
    years = _years_list(year)
    factors, target = _price_factors(years, fee_index, price_year)
    codes = _normalise_codes(local_service_codes)
    cols = _check_service_schema(con, paths, need_clinic=main_clinic)
    has_count = "count" in cols
    out_year = target if target is not None else max(years)
    sql = _aggregate_sql(
        years=years,
        factors=factors,
        local_codes=codes,
        has_count=has_count,
        main_clinic=main_clinic,
        by_year=by_year,
        out_year=out_year,
        fee_decimals=fee_decimals,
    )
    return _Plan(sql, paths, years, factors, target, codes, has_count, main_clinic, by_year)


def _plan_attrs(plan: _Plan) -> dict[str, Any]:
    return {
        "years": plan.years,
        "price_year": plan.price_year,
        "indexed": plan.price_year is not None,
        "price_factors": dict(plan.factors),
        "local_service_codes": list(plan.local_codes),
        "by_year": plan.by_year,
    }


def aggregate_services(
    services_path: str | os.PathLike | Sequence[str | os.PathLike],
    year: int | Iterable[int],
    fee_index: Any = None,
    local_service_codes: Iterable[str] = DEFAULT_LOCAL_SERVICE_CODES,
    threads: int | None = None,
    memory_limit: str | None = "2GB",
    temp_dir: str | os.PathLike | None = None,
    *,
    price_year: int | None = None,
    by_year: bool = True,
    main_clinic: bool = True,
    fee_decimals: int | None = 2,
) -> pd.DataFrame:
    """Sum service lines per person (and year), reading the parquet out of core with DuckDB.

    Parameters
    ----------
    services_path
        ``services.parquet`` (or a list of parquet files, or a glob) with
        ``person_id`` (str), ``clinic_id`` (str), ``year``, ``week``,
        ``service_code`` (str), ``count`` and ``fee`` (DKK; corrections may be
        negative).  ID and code columns stored as numbers are refused
        (``TypeError``): they would have lost leading zeros.
    year
        One year or a list of years; other years' lines are skipped (parquet
        row groups outside them are not even read).
    fee_index
        Optional fee index (path to ``fee_index.csv``, a DataFrame with
        ``year`` and ``index``, or ``{year: index}``).  **Indexing rule**: when
        a fee index is given and several years are ingested (or ``price_year``
        is given), each year's fees are multiplied by
        ``index[price_year] / index[year]``, where ``price_year`` defaults to
        the *latest* year, i.e. the maximum year in the fee index (§4.4.3:
        earlier years' fees are brought to the latest year's price level).
        A single year without ``price_year`` is left at its own price level.
        A year missing from the index raises ``ValueError``.
    local_service_codes
        Service codes whose fees are also summed into ``local_services_fee``;
        default 4350-4360 inclusive (Region Sjælland's local ultrasound
        agreement).  ``gross_fee`` always includes them.
    threads, memory_limit, temp_dir
        DuckDB settings.  ``memory_limit`` bounds DuckDB's own memory (beyond
        it, the aggregation spills to ``temp_dir``; default a fresh temporary
        folder, removed afterwards).  ``threads=None``: DuckDB's default (all
        cores).  Measured on 100 million lines for 6 million persons
        (benchmarks/ingest_services.py): "2GB" and "1GB" go through (peak
        process memory about 2.1 and 1.2 GB); "512MB" needs
        ``main_clinic=False``.  Too little memory raises ``MemoryError``.
    price_year
        Price level to bring fees to (default: the latest year of the index).
    by_year
        True (default): one row per person and year.  False: one row per
        person, fees summed over the years (after indexing) and ``year`` set
        to the price year (or the latest year ingested without indexing).
    main_clinic
        Also find each person's main clinic (the clinic with the largest fee;
        ties go to the smallest clinic_id).  Costs a second aggregation level.
    fee_decimals
        Fees are summed exactly as integers in units of 10**-fee_decimals DKK
        (default 2: øre), so results are identical whatever the thread
        schedule; fees with more decimals are rounded per line to that unit.
        ``None`` sums the raw floats.

    Returns
    -------
    DataFrame sorted by ``person_id`` (then ``year``) with ``person_id`` (str),
    ``year``, ``gross_fee``, ``local_services_fee``, ``n_lines``,
    ``n_services`` (sum of ``count``; NA if the file has no ``count``) and
    ``main_clinic_id`` (NA when ``main_clinic=False``).  Persons without lines
    in the year(s) are absent; :func:`ingest_persons` gives them 0.  The
    settings used (years, price year, factors) are in ``.attrs``.
    Totals are not checked for sign here; :func:`ingest_persons` refuses
    negative ones.
    """
    with _duckdb_session(threads, memory_limit, temp_dir) as con:
        plan = _plan(con, services_path, year, fee_index, local_service_codes, price_year, by_year, main_clinic, fee_decimals)
        with _explain_out_of_memory(memory_limit, main_clinic):
            table = con.sql(plan.sql, params={"paths": plan.paths}).to_arrow_table()
    df = table.to_pandas()
    del table
    df = _tidy_aggregate(df)
    df.attrs.update(_plan_attrs(plan))
    return df


def write_aggregated_services(
    services_path: str | os.PathLike | Sequence[str | os.PathLike],
    year: int | Iterable[int],
    out_path: str | os.PathLike,
    fee_index: Any = None,
    local_service_codes: Iterable[str] = DEFAULT_LOCAL_SERVICE_CODES,
    threads: int | None = None,
    memory_limit: str | None = "2GB",
    temp_dir: str | os.PathLike | None = None,
    *,
    price_year: int | None = None,
    by_year: bool = True,
    main_clinic: bool = True,
    fee_decimals: int | None = 2,
) -> dict[str, Any]:
    """As :func:`aggregate_services`, but DuckDB writes the result straight to a parquet file.

    Nothing passes through pandas.  The file is written beside ``out_path``
    under a temporary name and renamed into place (never half-written).
    Returns a summary: rows, lines, seconds, settings.
    """
    t0 = time.perf_counter()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with _duckdb_session(threads, memory_limit, temp_dir) as con:
        plan = _plan(con, services_path, year, fee_index, local_service_codes, price_year, by_year, main_clinic, fee_decimals)
        fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
        os.close(fd)
        try:
            with _explain_out_of_memory(memory_limit, main_clinic):
                con.sql(
                    f"COPY ({plan.sql}) TO {_sql_str(tmp)} (FORMAT parquet, COMPRESSION zstd)",
                    params={"paths": plan.paths},
                )
            rows, lines = con.sql(
                f"SELECT count(*), coalesce(sum(n_lines), 0) FROM read_parquet({_sql_str(tmp)})"
            ).fetchall()[0]
            os.replace(tmp, out_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return {"rows": int(rows), "lines": int(lines), "seconds": time.perf_counter() - t0,
            "out_path": str(out_path), **_plan_attrs(plan)}


class _explain_out_of_memory:
    """Turn DuckDB's out-of-memory error into a ``MemoryError`` saying what to change."""

    def __init__(self, memory_limit, main_clinic):
        self.memory_limit, self.main_clinic = memory_limit, main_clinic

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        import duckdb

        if exc_type is not None and issubclass(exc_type, duckdb.OutOfMemoryException):
            hint = " or main_clinic=False (one aggregation level instead of two)" if self.main_clinic else ""
            raise MemoryError(
                f"the aggregation did not fit in memory_limit={self.memory_limit!r} even with spilling to "
                f"temp_dir; raise memory_limit (a national year of ~100 million lines needs about 1GB with "
                f"the main clinic, 512MB without){hint}. DuckDB said: {str(exc).splitlines()[0]}"
            ) from exc
        return False


class _duckdb_session:
    """A DuckDB connection with the memory settings, and a temp folder removed on exit."""

    def __init__(self, threads, memory_limit, temp_dir):
        self.threads, self.memory_limit, self.temp_dir = threads, memory_limit, temp_dir
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self):
        if self.temp_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="model-ingest-duckdb-")
            tdir = self._tmp.name
        else:
            tdir = os.fspath(self.temp_dir)
            Path(tdir).mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.threads, self.memory_limit, tdir)
        return self.con

    def __exit__(self, *exc):
        try:
            self.con.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
        return False


def _tidy_aggregate(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reindex(columns=list(AGGREGATE_COLUMNS))
    df["person_id"] = df["person_id"].astype("str")
    df["year"] = df["year"].astype("int64")
    for c in ("gross_fee", "local_services_fee", "contact_fee"):
        df[c] = df[c].astype("float64")
    df["n_lines"] = df["n_lines"].astype("int64")
    df["n_services"] = df["n_services"].astype("Int64")
    df["main_clinic_id"] = df["main_clinic_id"].astype("str")
    return df.reset_index(drop=True)


# -----------------------------------------------------------------------------
# persons


def _check_string_ids(s: pd.Series, what: str) -> None:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise TypeError(
            f"{what}: person_id has dtype {s.dtype}; IDs must be strings (read them as str: "
            f"a number loses leading zeros, e.g. '0123' -> 123)"
        )
    if s.dtype == object:
        bad = s[~s.map(lambda v: isinstance(v, str))]
        if len(bad):
            raise TypeError(
                f"{what}: person_id holds non-string values, e.g. {bad.iloc[0]!r} at row {bad.index[0]}; "
                f"IDs must be strings"
            )


def _example_key(k: Any, key: list[str]) -> Any:
    k_ = k if isinstance(k, tuple) else (k,)
    k_ = tuple("<missing person_id>" if (n == "person_id" and not isinstance(v, str)) else v for n, v in zip(key, k_))
    return k_[0] if len(key) == 1 else dict(zip(key, k_))


def ingest_persons(
    persons: pd.DataFrame,
    fees: pd.DataFrame,
    *,
    year: int | Iterable[int] | None = None,
    on_unknown: str = "warn",
    max_examples: int = 5,
) -> pd.DataFrame:
    """Persons with ``gross_fee``, ``local_services_fee`` and ``contact_fee`` replaced by the aggregated fees.

    ``fees`` is the output of :func:`aggregate_services`.  The years replaced
    are ``year`` (default: the years in ``fees``).  If ``persons`` has a
    ``year`` column, rows are matched on (person_id, year) and rows of other
    years are left as they were; otherwise ``persons`` is one year's table,
    matched on person_id, and exactly one year may be replaced.  Persons
    without lines get 0.  Row order, other columns and string IDs are kept.

    Raises ``NegativeFeeError`` naming person_id, year and row (the persons
    table's row, counted from 1 as in a spreadsheet with a heading row, when
    the person is there) if a person-year total is negative.  Service lines
    whose person_id is not in ``persons`` are reported: count of persons and
    lines, their fee and examples, in ``result.attrs["ingest_report"]``, and
    by ``on_unknown``: "warn" (an :class:`UnknownPersonsWarning`), "raise"
    (``ValueError``) or "ignore".
    """
    if on_unknown not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_unknown must be 'warn', 'raise' or 'ignore', not {on_unknown!r}")
    for name, df in (("persons", persons), ("fees", fees)):
        if "person_id" not in df.columns:
            raise ValueError(f"{name}: no person_id column")
        _check_string_ids(df["person_id"], name)
    needed = {"year", "gross_fee", "local_services_fee"} - set(fees.columns)
    if needed:
        raise ValueError(f"fees: missing column(s) {sorted(needed)} (expected the output of aggregate_services)")

    years = sorted({int(y) for y in fees["year"].unique()}) if year is None else _years_list(year)
    has_year = "year" in persons.columns
    if not has_year and len(years) > 1:
        raise ValueError(
            f"persons has no 'year' column but fees cover several years {years}: pass year=..., "
            f"or aggregate with by_year=False"
        )
    key = ["person_id", "year"] if has_year else ["person_id"]

    fee_cols = ["gross_fee", "local_services_fee"] + (["contact_fee"] if "contact_fee" in fees.columns else [])
    f = fees.loc[fees["year"].astype("int64").isin(years), ["person_id", "year"] + fee_cols
                 + (["n_lines"] if "n_lines" in fees.columns else [])].copy()
    f["year"] = f["year"].astype("int64")
    if not has_year:
        f = f.drop(columns="year")
    dup = f.duplicated(key, keep=False)
    if dup.any():
        ex = f.loc[dup, key].head(max_examples).to_dict("records")
        raise ValueError(f"fees: {int(dup.sum())} rows share a {'/'.join(key)}, e.g. {ex}")
    f = f.set_index(key)

    p = persons.copy()
    if has_year:
        p["year"] = p["year"].astype("int64") if not pd.api.types.is_integer_dtype(p["year"]) else p["year"]
        mask = p["year"].isin(years).to_numpy()
        pkeys = pd.MultiIndex.from_frame(p.loc[mask, key].astype({"year": "int64"}))
    else:
        mask = np.ones(len(p), dtype=bool)
        pkeys = pd.Index(p["person_id"], name="person_id")
    if pkeys.has_duplicates:
        d = pkeys[pkeys.duplicated()][:max_examples]
        raise ValueError(f"persons: {'/'.join(key)} not unique, e.g. {list(d)}")

    # negative totals (tiny float residue below 1e-9 DKK counts as zero)
    for col in fee_cols:
        neg = f[col] < -1e-9
        if neg.any():
            pos = pd.Series(np.arange(len(pkeys)), index=pkeys)
            rows_in_p = np.flatnonzero(mask)
            lines = []
            for k, v in f.loc[neg, col].head(10).items():
                k_ = k if isinstance(k, tuple) else (k,)
                where = ""
                if k in pos.index:
                    where = f", persons row {int(rows_in_p[pos[k]]) + 2}"
                kd = ", ".join(f"{n}={x!r}" for n, x in zip(key, k_))
                lines.append(f"  {kd}{where}: {col} = {v:.2f} DKK")
            more = f"\n  ... and {int(neg.sum()) - 10} more" if neg.sum() > 10 else ""
            raise NegativeFeeError(
                f"{int(neg.sum())} person-year total(s) of {col} are negative (corrections exceed "
                f"payments); check the service lines of:\n" + "\n".join(lines) + more
            )
        f[col] = f[col].clip(lower=0.0)

    unknown = ~f.index.isin(pkeys)
    report = {
        "years": years,
        "persons": int(len(p)),
        "persons_updated": int(mask.sum()),
        "persons_with_lines": int((~unknown).sum()),
        "unknown_persons": int(unknown.sum()),
        "unknown_lines": int(f.loc[unknown, "n_lines"].sum()) if "n_lines" in f.columns else None,
        "unknown_gross_fee": float(f.loc[unknown, "gross_fee"].sum()),
        "unknown_examples": [
            _example_key(k, key) for k in sorted(f.index[unknown], key=str)[:max_examples]
        ],
    }
    if unknown.any():
        msg = (
            f"{report['unknown_persons']} person(s) with service lines are not in persons"
            + (f" ({report['unknown_lines']} lines" if report["unknown_lines"] is not None else " (")
            + f", {report['unknown_gross_fee']:.2f} DKK); e.g. {report['unknown_examples']}"
        )
        if on_unknown == "raise":
            raise ValueError(msg)
        if on_unknown == "warn":
            warnings.warn(msg, UnknownPersonsWarning, stacklevel=2)

    got = f.reindex(pkeys)
    for col in fee_cols:
        if col not in p.columns:
            p[col] = np.nan if has_year else 0.0
        values = got[col].fillna(0.0).to_numpy(dtype="float64")
        newcol = p[col].astype("float64").to_numpy(copy=True)
        newcol[mask] = values
        p[col] = newcol
    p.attrs = dict(persons.attrs)
    p.attrs["ingest_report"] = report
    return p


def ingest(
    data_dir: str | os.PathLike,
    year: int | Iterable[int],
    out_path: str | os.PathLike,
    **aggregate_kwargs: Any,
) -> dict[str, Any]:
    """Update ``data_dir/persons.parquet`` with fees from ``data_dir/services.parquet``; write ``out_path``.

    ``data_dir/fee_index.csv`` is used as the fee index when present (see
    :func:`aggregate_services` for when it applies).  The updated persons are
    written to a temporary file beside ``out_path`` and renamed into place, so
    ``out_path`` is either the old file or the complete new one, never
    half-written.  Writing over an input file is refused.  Extra keyword
    arguments go to :func:`aggregate_services` (threads, memory_limit, ...).

    Returns a summary: lines, persons, persons_with_lines, unknown persons and
    lines, years, price_year, seconds, out_path.
    """
    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    services = data_dir / "services.parquet"
    persons_path = data_dir / "persons.parquet"
    index_path = data_dir / "fee_index.csv"
    out_path = Path(out_path)
    for p in (services, persons_path, index_path):
        if out_path.resolve() == p.resolve():
            raise ValueError(f"out_path {out_path} is an input file; write outputs elsewhere (inputs are read-only)")
    if not persons_path.exists():
        raise FileNotFoundError(f"persons file not found: {persons_path}")
    fee_index = aggregate_kwargs.pop("fee_index", index_path if index_path.exists() else None)

    fees = aggregate_services(services, year, fee_index=fee_index, **aggregate_kwargs)
    t_agg = time.perf_counter() - t0
    persons = pd.read_parquet(persons_path)
    by_year = aggregate_kwargs.get("by_year", True)
    updated = ingest_persons(persons, fees, year=_years_list(year) if by_year else None, on_unknown="warn")
    report = updated.attrs.get("ingest_report", {})
    updated.attrs = {}

    _atomic_write_parquet(updated, out_path)
    return {
        "lines": int(fees["n_lines"].sum()),
        "persons": int(len(updated)),
        "persons_with_lines": report.get("persons_with_lines"),
        "unknown_persons": report.get("unknown_persons"),
        "unknown_lines": report.get("unknown_lines"),
        "unknown_examples": report.get("unknown_examples"),
        "years": fees.attrs.get("years"),
        "price_year": fees.attrs.get("price_year"),
        "seconds_aggregate": round(t_agg, 3),
        "seconds": round(time.perf_counter() - t0, 3),
        "out_path": str(out_path),
    }


def _atomic_write_parquet(df: pd.DataFrame, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            df.to_parquet(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# =============================================================================
# 2. The regions' capacity reports (annex 1 and annex 2 of the guidance)
# =============================================================================

#: Headings of annex 1, exactly as the guidance's template spells them, in order.
ANNEX1_HEADINGS: tuple[str, ...] = (
    "Ydernummer",
    "Praksisbetegnelse",
    "Adresse",
    "Praksiskommune",
    "Praksiskommunekode",
    "Postnummer",
    "Praksisform",
    "Antal udmøntede kapaciteter",
    "Antal ledige kapaciteter",
)
#: Annex 2 (island doctors): annex 1's headings plus listed patients.
ANNEX2_HEADINGS: tuple[str, ...] = ANNEX1_HEADINGS + ("Antal tilmeldte patienter",)

#: Danish heading -> English column name of the DataFrames.
HEADING_TO_COLUMN: dict[str, str] = {
    "Ydernummer": "clinic_id",
    "Praksisbetegnelse": "name",
    "Adresse": "address",
    "Praksiskommune": "municipality",
    "Praksiskommunekode": "municipality_code",
    "Postnummer": "postcode",
    "Praksisform": "practice_form",
    "Antal udmøntede kapaciteter": "allocated_capacities",
    "Antal ledige kapaciteter": "vacant_capacities",
    "Antal tilmeldte patienter": "listed_patients",
}

#: Danish practice forms (case-insensitive) -> English codes used in the model.
PRACTICE_FORMS: dict[str, str] = {
    "solopraksis": "solo",
    "kompagniskabspraksis": "partnership",
    "samarbejdspraksis": "collaboration",
    "regionsklinik": "regional",
    "udbudsklinik": "tender",
}

#: Regions and the period they exist in (Hovedstaden and Sjælland merge into
#: Østdanmark on 1 January 2027).  Value: (first day, last day or None).
REGIONS: dict[str, tuple[dt.date, dt.date | None]] = {
    "Hovedstaden": (dt.date(2007, 1, 1), dt.date(2026, 12, 31)),
    "Sjælland": (dt.date(2007, 1, 1), dt.date(2026, 12, 31)),
    "Syddanmark": (dt.date(2007, 1, 1), None),
    "Midtjylland": (dt.date(2007, 1, 1), None),
    "Nordjylland": (dt.date(2007, 1, 1), None),
    "Østdanmark": (dt.date(2027, 1, 1), None),
}

#: First reporting date from which reports are due every month (R§2).
MONTHLY_FROM = dt.date(2027, 1, 1)
#: Reports are due within this many months of the reporting date (R§1, R§2).
SUBMISSION_MONTHS = 3

SHEET_ANNEX1 = "Bilag 1"
SHEET_ANNEX2 = "Bilag 2"

_NUMERIC_HEADINGS = ("Antal udmøntede kapaciteter", "Antal ledige kapaciteter")


@dataclass(frozen=True)
class ReportFailure:
    """One broken rule in a capacity report.

    ``row`` is the Excel row number as the user sees it (headings in row 1),
    or the CSV record number (heading line 1); ``None`` for file-level rules.
    ``column`` is the annex heading concerned (or the sheet's own heading for
    extra/misspelt columns) and ``column_letter`` the spreadsheet column.
    ``rule`` is a stable identifier (e.g. ``"extra_column"``), ``message``
    the explanation for the region.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str
    column_letter: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'" + (f" ({self.column_letter})" if self.column_letter else ""))
        elif self.column_letter:
            where.append(f"column {self.column_letter}")
        val = f" value {self.value!r}:" if self.value is not None else ""
        return f"{', '.join(where)}:{val} {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _empty_annex(headings: Sequence[str]) -> pd.DataFrame:
    cols = [HEADING_TO_COLUMN[h] for h in headings]
    df = pd.DataFrame({c: pd.Series([], dtype="str") for c in cols})
    for c in ("allocated_capacities", "vacant_capacities"):
        df[c] = df[c].astype("float64")
    if "listed_patients" in df:
        df["listed_patients"] = df["listed_patients"].astype("Int64")
    df.index = pd.Index([], dtype="int64", name="row")
    return df


@dataclass
class CapacityReport:
    """One region's capacity report per a reporting date.

    ``annex1`` (allocated and vacant capacities per provider number) and
    ``annex2`` (island doctors; empty when the report has no annex 2) have the
    English columns of :data:`HEADING_TO_COLUMN`; their index is the row
    number in the sheet (as the user sees it).  Invalid cells are kept as read
    (text) or become NA (numbers, practice form); ``failures`` lists every
    broken rule.  ``practice_form`` holds the English codes of
    :data:`PRACTICE_FORMS`.
    """

    region: str | None
    reporting_date: dt.date | None
    annex1: pd.DataFrame
    annex2: pd.DataFrame
    failures: list[ReportFailure] = field(default_factory=list)
    source: str = ""
    submission_date: dt.date | None = None
    has_annex2: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def late(self) -> bool:
        """Submitted more than three months after the reporting date (R§2): flagged, still data."""
        return any(f.rule == "late_submission" for f in self.failures)

    @property
    def usable(self) -> bool:
        """Its figures can be used: no failure other than lateness (a late report is still data)."""
        return all(f.rule == "late_submission" for f in self.failures)

    def raise_for_failures(self) -> "CapacityReport":
        """Raise :class:`CapacityReportError` listing every failure; return self if there are none."""
        if self.failures:
            raise CapacityReportError(self.failures, self)
        return self

    def failures_frame(self) -> pd.DataFrame:
        """The failures as a table (file, sheet, row, column, value, rule, message, column_letter)."""
        cols = [f.name for f in dataclasses.fields(ReportFailure)]
        return pd.DataFrame([f.to_dict() for f in self.failures], columns=cols)


class CapacityReportError(ValueError):
    """A capacity report breaks the annex's rules; the message lists every failure."""

    def __init__(self, failures: Sequence[ReportFailure], report: CapacityReport | None = None):
        self.failures = list(failures)
        self.report = report
        files = sorted({f.file for f in self.failures if f.file})
        head = (
            f"{len(self.failures)} problem(s) in capacity report "
            f"{', '.join(files) if files else ''}".rstrip()
            + ":"
        )
        super().__init__("\n".join([head] + [f"  - {f}" for f in self.failures]))


# -----------------------------------------------------------------------------
# names and dates


_FILENAME_RE = re.compile(
    r"^(?P<region>[^\W\d_](?:[^\W\d]|-)*?)[_\- ](?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[_\- ]?(?:bilag|annex)[_\- ]?(?P<annex>[12]))?$",
    re.IGNORECASE,
)


def _slug(s: str) -> str:
    s = s.strip().casefold()
    s = re.sub(r"^region[\s_\-]*", "", s)
    s = s.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return re.sub(r"[^a-z]", "", s)


_REGION_SLUGS: dict[str, str] = {}
for _name in REGIONS:
    _REGION_SLUGS[_slug(_name)] = _name
_REGION_SLUGS.update({"sjalland": "Sjælland", "ostdanmark": "Østdanmark"})


def canonical_region(name: str) -> str | None:
    """'hovedstaden', 'Region Sjælland', 'sjaelland', 'oestdanmark' -> canonical name; None if unknown."""
    return _REGION_SLUGS.get(_slug(name))


def parse_report_filename(path: str | os.PathLike) -> tuple[str | None, dt.date | None, int | None]:
    """Region slug, reporting date and annex number from a name like ``hovedstaden_2026-01-01.xlsx``.

    Also ``sjaelland_2026-04-01_bilag1.csv`` (annex 1 of a CSV pair).  Parts
    that cannot be read are None (the region slug is returned as written).
    """
    stem = Path(path).stem
    m = _FILENAME_RE.match(stem)
    if not m:
        return None, None, None
    try:
        date = dt.date.fromisoformat(m["date"])
    except ValueError:
        date = None
    return m["region"], date, int(m["annex"]) if m["annex"] else None


def _to_date(d: Any, what: str) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    if isinstance(d, pd.Timestamp):
        return d.date()
    if isinstance(d, str):
        try:
            return dt.date.fromisoformat(d.strip())
        except ValueError:
            raise ValueError(f"{what}: {d!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"{what}: expected a date or an ISO date string, got {type(d).__name__}")


def _add_months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _col_letter(i: int) -> str:
    """0-based column index -> spreadsheet letter (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


# -----------------------------------------------------------------------------
# reading cells as text


@dataclass
class _Cell:
    text: str
    numeric: bool = False  # the spreadsheet stored a number (not text)
    raw: Any = None


@dataclass
class _Sheet:
    file: str
    sheet: str
    rows: list[tuple[int, list[_Cell]]]  # (row number as the user sees it, cells)


def _cell_text(value: Any, number_format: str | None = None) -> _Cell:
    if value is None:
        return _Cell("")
    if isinstance(value, bool):
        return _Cell("TRUE" if value else "FALSE", raw=value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if np.isfinite(v) and v.is_integer():
            text = str(int(v))
            # A number shown with a zero-padding format (e.g. "000000") is displayed
            # with its leading zeros: take the text as the user sees it.
            if number_format and re.fullmatch(r"0+", number_format) and not text.startswith("-"):
                text = text.zfill(len(number_format))
        else:
            text = repr(v)
        return _Cell(text, numeric=True, raw=value)
    if isinstance(value, dt.datetime):
        return _Cell(value.date().isoformat() if value.time() == dt.time() else value.isoformat(), raw=value)
    if isinstance(value, dt.date):
        return _Cell(value.isoformat(), raw=value)
    return _Cell(str(value), raw=value)


def _read_xlsx(path: Path) -> tuple[dict[str, _Sheet], list[str]]:
    """All sheets of a workbook as text cells; returns ({sheet title: sheet}, titles in order)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets: dict[str, _Sheet] = {}
        for ws in wb.worksheets:
            rows = []
            for r in ws.iter_rows():
                cells = []
                rownum = None
                for c in r:
                    if rownum is None and getattr(c, "row", None) is not None:
                        rownum = c.row
                    cells.append(_cell_text(c.value, getattr(c, "number_format", None)))
                if rownum is None:
                    rownum = (rows[-1][0] + 1) if rows else 1
                rows.append((rownum, cells))
            sheets[ws.title] = _Sheet(path.name, ws.title, rows)
        return sheets, list(sheets)
    finally:
        wb.close()


def _decode_csv(data: bytes) -> str:
    """The one decoding of :mod:`model.readers` (UTF-8, BOM, UTF-16, Windows-1252 as Danish Excel's
    "CSV (semikolonsepareret)", Latin-1 for anything else): the same text validation reads."""
    from .readers import decode_bytes

    return decode_bytes(data)[0]


def _read_csv(path: Path, sheet: str) -> _Sheet:
    from .readers import sniff_delimiter

    text = _decode_csv(path.read_bytes())
    first = text.split("\n", 1)[0]
    delim = sniff_delimiter(first) if first.strip() else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows = [(i + 1, [_Cell(v) for v in rec]) for i, rec in enumerate(reader)]
    return _Sheet(path.name, sheet, rows)


# -----------------------------------------------------------------------------
# checking one annex sheet


def _norm_heading(h: str) -> str:
    s = unicodedata.normalize("NFKC", h).casefold()
    s = s.replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    return re.sub(r"[^a-z0-9]", "", s)


def _closest(heading: str, candidates: Sequence[str]) -> tuple[str | None, float]:
    n = _norm_heading(heading)
    best, score = None, 0.0
    for c in candidates:
        r = 1.0 if _norm_heading(c) == n else difflib.SequenceMatcher(None, n, _norm_heading(c)).ratio()
        if r > score:
            best, score = c, r
    return best, score


_MISSPELT_THRESHOLD = 0.8


def _is_empty_row(cells: list[_Cell]) -> bool:
    return all(c.text.strip() == "" for c in cells)


def _parse_number(text: str) -> float | None:
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if not re.fullmatch(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)", t):
        return None
    return float(t.replace(",", "."))


def _check_annex(
    sh: _Sheet,
    headings: Sequence[str],
    annex: int,
    failures: list[ReportFailure],
    *,
    known_municipalities: Mapping[str, str] | set[str] | None,
    clinic_register: set[str] | None,
) -> pd.DataFrame:
    """Check one annex sheet; append failures; return its DataFrame."""

    def fail(row, column, value, rule, message, col_idx=None):
        failures.append(
            ReportFailure(
                file=sh.file,
                sheet=sh.sheet,
                row=row,
                column=column,
                value=value,
                rule=rule,
                message=message,
                column_letter=_col_letter(col_idx) if col_idx is not None else None,
            )
        )

    rows = sh.rows
    nonempty = [(n, cells) for n, cells in rows if not _is_empty_row(cells)]
    if not nonempty:
        for h in headings:
            fail(1, h, None, "missing_heading", f"the sheet is empty; heading '{h}' is missing")
        return _empty_annex(headings)

    # heading row: the first non-empty row, unless a later one (within 20) looks like the headings
    def looks_like_headings(cells):
        return sum(1 for c in cells if c.text and _closest(c.text, headings)[1] >= _MISSPELT_THRESHOLD) >= 2

    head_pos = 0
    if not looks_like_headings(nonempty[0][1]):
        for i, (_, cells) in enumerate(nonempty[:20]):
            if looks_like_headings(cells):
                head_pos = i
                break
    for n, cells in nonempty[:head_pos]:
        first = next(i for i, c in enumerate(cells) if c.text.strip())
        fail(n, None, cells[first].text, "extra_content",
             "content above the headings: the sheet may hold nothing but what the annex specifies", first)
    head_row, head_cells = nonempty[head_pos]
    data = [(n, cells) for n, cells in rows if n > head_row and not _is_empty_row(cells)]

    # --- map columns to headings
    width = max([len(head_cells)] + [len(c) for _, c in data])
    colmap: dict[str, int] = {}
    unresolved: list[int] = []
    for i, c in enumerate(head_cells):
        h = c.text
        if h == "":
            continue
        if h in headings and h not in colmap:
            colmap[h] = i
        else:
            unresolved.append(i)
    for i in unresolved:
        h = head_cells[i].text
        missing_now = [x for x in headings if x not in colmap]
        if h in headings:  # exact duplicate
            if annex == 2 and h == "Antal udmøntede kapaciteter" and "Antal ledige kapaciteter" in missing_now:
                # the guidance prints annex 2 with this heading twice (R§3, bilag 2): a sheet laid out as
                # printed is valid, and its second "Antal udmøntede kapaciteter" is the vacant capacities
                colmap["Antal ledige kapaciteter"] = i
                continue
            msg = f"heading '{h}' appears twice (first in column {_col_letter(colmap[h])})"
            fail(head_row, h, h, "duplicate_heading", msg, i)
            continue
        best, score = _closest(h, missing_now)
        if best is not None and score >= _MISSPELT_THRESHOLD:
            hint = " (leading or trailing spaces)" if h.strip() == best else ""
            fail(head_row, h, h, "misspelt_heading",
                 f"heading is spelt differently from the annex{hint}: write exactly '{best}'", i)
            colmap[best] = i
        else:
            other = "" if annex == 2 or h.strip() != "Antal tilmeldte patienter" else \
                " ('Antal tilmeldte patienter' belongs in annex 2, sheet 'Bilag 2')"
            fail(head_row, h, h, "extra_column",
                 f"extra column '{h}': the sheet may hold nothing but what the annex specifies{other}", i)
    headed = {i for i, c in enumerate(head_cells) if c.text != ""}
    for i in range(width):
        if i in headed:
            continue
        first = next(((n, cells[i].text) for n, cells in data if i < len(cells) and cells[i].text.strip()), None)
        if first:
            fail(first[0], None, first[1], "extra_column",
                 f"column {_col_letter(i)} has no heading but holds values: the sheet may hold nothing "
                 f"but what the annex specifies", i)
    for h in headings:
        if h not in colmap:
            fail(head_row, h, None, "missing_heading", f"heading '{h}' is missing", None)

    # --- rows
    def cell(cells, h) -> _Cell | None:
        i = colmap.get(h)
        if i is None:
            return None
        return cells[i] if i < len(cells) else _Cell("")

    records = []
    first_seen: dict[str, int] = {}
    for n, cells in data:
        rec: dict[str, Any] = {}
        for h in headings:
            c = cell(cells, h)
            if c is None:
                rec[HEADING_TO_COLUMN[h]] = None
                continue
            t = c.text.strip()
            ci = colmap[h]
            if t == "":
                fail(n, h, "", "required", f"'{h}' is empty; every column of the annex must be filled in", ci)
                rec[HEADING_TO_COLUMN[h]] = None
                continue
            if h == "Ydernummer":
                if c.numeric and re.fullmatch(r"\d{1,5}", t):
                    fail(n, h, t, "leading_zeros_lost",
                         f"Ydernummer is stored as a number ({t}) and has lost its leading zero(s): it must "
                         f"be 6 digits, e.g. '{t.zfill(6)}'; format the column as text", ci)
                elif not re.fullmatch(r"\d{6}", t):
                    hint = " (a leading zero lost?)" if re.fullmatch(r"\d{1,5}", t) else ""
                    fail(n, h, t, "ydernummer_format", f"Ydernummer must be exactly 6 digits{hint}", ci)
                else:
                    if t in first_seen:
                        fail(n, h, t, "duplicate_ydernummer",
                             f"Ydernummer {t} appears again (first in row {first_seen[t]}); one row per "
                             f"provider number", ci)
                    else:
                        first_seen[t] = n
                    if clinic_register is not None and t not in clinic_register:
                        fail(n, h, t, "ydernummer_unknown", f"Ydernummer {t} is not in the clinic register", ci)
                rec["clinic_id"] = t
            elif h == "Praksiskommunekode":
                if not re.fullmatch(r"\d{3}", t):
                    fail(n, h, t, "municipality_code_format", "Praksiskommunekode must be exactly 3 digits", ci)
                elif known_municipalities is not None and t not in known_municipalities:
                    fail(n, h, t, "municipality_code_unknown", f"no municipality has code {t}", ci)
                elif isinstance(known_municipalities, Mapping):
                    name_cell = cell(cells, "Praksiskommune")
                    expected = known_municipalities[t]
                    if name_cell is not None and name_cell.text.strip() and \
                            name_cell.text.strip().casefold() != str(expected).casefold():
                        fail(n, "Praksiskommune", name_cell.text.strip(), "municipality_name_mismatch",
                             f"municipality code {t} is {expected}, not '{name_cell.text.strip()}'",
                             colmap.get("Praksiskommune"))
                rec["municipality_code"] = t
            elif h == "Postnummer":
                if c.numeric and re.fullmatch(r"\d{1,3}", t):
                    fail(n, h, t, "leading_zeros_lost",
                         f"Postnummer is stored as a number ({t}) and has lost its leading zero(s): it must "
                         f"be 4 digits, e.g. '{t.zfill(4)}'", ci)
                elif not re.fullmatch(r"\d{4}", t):
                    fail(n, h, t, "postcode_format", "Postnummer must be exactly 4 digits", ci)
                rec["postcode"] = t
            elif h == "Praksisform":
                code = PRACTICE_FORMS.get(" ".join(t.split()).casefold())
                if code is None:
                    fail(n, h, t, "practice_form_unknown",
                         "Praksisform must be one of: Solopraksis, Kompagniskabspraksis, Samarbejdspraksis, "
                         "Regionsklinik, Udbudsklinik", ci)
                rec["practice_form"] = code
            elif h in _NUMERIC_HEADINGS:
                v = _parse_number(t)
                if v is None:
                    fail(n, h, t, "capacity_invalid", f"'{h}' must be a number (0 or more)", ci)
                elif v < 0:
                    fail(n, h, t, "capacity_invalid", f"'{h}' must not be negative", ci)
                    v = None
                rec[HEADING_TO_COLUMN[h]] = v
            elif h == "Antal tilmeldte patienter":
                v = _parse_number(t)
                if v is None or not float(v).is_integer():
                    fail(n, h, t, "listed_patients_invalid",
                         "'Antal tilmeldte patienter' must be a whole number (no thousands separators)", ci)
                    v = None
                elif v < 0:
                    fail(n, h, t, "listed_patients_invalid", "'Antal tilmeldte patienter' must not be negative", ci)
                    v = None
                rec["listed_patients"] = None if v is None else int(v)
            else:
                rec[HEADING_TO_COLUMN[h]] = t
        a, v = rec.get("allocated_capacities"), rec.get("vacant_capacities")
        if a is not None and v is not None and v > a:
            fail(n, "Antal ledige kapaciteter", f"{cell(cells, 'Antal ledige kapaciteter').text.strip()}",
                 "vacant_exceeds_allocated",
                 f"more vacant capacities ({v:g}) than allocated ones ({a:g})", colmap["Antal ledige kapaciteter"])
        records.append((n, rec))

    df = _empty_annex(headings)
    if records:
        body = pd.DataFrame([r for _, r in records], columns=df.columns)
        body.index = pd.Index([n for n, _ in records], dtype="int64", name="row")
        for c in df.columns:
            if c in ("allocated_capacities", "vacant_capacities"):
                body[c] = pd.to_numeric(body[c], errors="coerce").astype("float64")
            elif c == "listed_patients":
                body[c] = pd.array(body[c].tolist(), dtype="Int64")
            else:
                body[c] = body[c].astype("str")
        df = body
    return df


# -----------------------------------------------------------------------------
# the report


def default_municipality_codes() -> dict[str, str]:
    """The 98 municipalities' codes -> names, from the package's reference data."""
    from importlib import resources

    with resources.files("model").joinpath("data/municipalities.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str)
    return dict(zip(df["kommunekode"].str.strip(), df["kommune"].str.strip()))


def _register_ids(clinic_register: Any) -> set[str] | None:
    if clinic_register is None:
        return None
    if isinstance(clinic_register, pd.DataFrame):
        col = next((c for c in ("clinic_id", "ydernummer", "Ydernummer") if c in clinic_register.columns), None)
        if col is None:
            raise ValueError("clinic_register: a DataFrame needs a 'clinic_id' column")
        values = clinic_register[col]
    else:
        values = clinic_register
    out = set()
    for v in values:
        if not isinstance(v, str):
            raise TypeError(f"clinic_register: IDs must be strings ('012345'), got {v!r}")
        out.add(v.strip())
    return out


def _csv_pair(path: Path) -> tuple[Path, Path | None]:
    """Annex 1 and annex 2 files of a CSV pair given either of them."""
    m = re.search(r"(bilag|annex)([_\- ]?)([12])", path.stem, re.IGNORECASE)
    if not m:
        return path, None
    def sibling(k):
        stem = path.stem[: m.start(3)] + k + path.stem[m.end(3):]
        return path.with_name(stem + path.suffix)
    a1, a2 = sibling("1"), sibling("2")
    return a1, (a2 if a2.exists() else None)


def read_capacity_report(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    region: str | None = None,
    reporting_date: dt.date | str | None = None,
    *,
    submission_date: dt.date | str | None = None,
    known_municipality_codes: Mapping[str, str] | Iterable[str] | None = None,
    clinic_register: Any = None,
    strict: bool = False,
) -> CapacityReport:
    """Read and check one region's capacity report (annex 1 and, if present, annex 2).

    ``path`` is an Excel workbook (sheet "Bilag 1" and optionally "Bilag 2"),
    a CSV file of annex 1 (its annex 2 is found beside it when the names say
    ``bilag1`` / ``bilag2``, e.g. ``hovedstaden_2026-01-01_bilag1.csv``), or
    a pair ``(annex1_csv, annex2_csv)``.  CSV files may be UTF-8 (with or
    without BOM) or Windows-1252, separated by ``;`` (Danish Excel), ``,`` or
    tab.  Every cell is read as text first (``"012345"`` stays ``"012345"``);
    a Ydernummer or Postnummer Excel stored as a number and so shortened is
    reported as ``leading_zeros_lost`` (a number displayed with a zero-padding
    format such as ``000000`` is taken as displayed).

    ``region`` and ``reporting_date`` default to the file name
    (``<region>_<YYYY-MM-DD>.xlsx``).  Optional checks: ``submission_date``
    (late if more than three months after the reporting date),
    ``known_municipality_codes`` (a set of codes, or a mapping code -> name
    which also checks Praksiskommune; :func:`default_municipality_codes` gives
    the 98), ``clinic_register`` (IDs as strings, or a DataFrame with
    ``clinic_id``): provider numbers not in it are failures.

    All failures are collected in ``report.failures`` (see
    :class:`ReportFailure`).  ``strict=True`` raises
    :class:`CapacityReportError` listing them all instead of returning.
    """
    failures: list[ReportFailure] = []
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        pair = None
    else:
        items = [Path(x) for x in path]
        if len(items) not in (1, 2):
            raise ValueError("path: give a workbook, a CSV file, or a pair (annex1_csv, annex2_csv)")
        p, pair = items[0], (items + [None])[:2]
    if not p.exists():
        raise FileNotFoundError(f"capacity report not found: {p}")
    fname = p.name

    def file_fail(rule, message, value=None, sheet=None):
        failures.append(ReportFailure(fname, sheet, None, None, value, rule, message))

    # --- region and reporting date
    slug, fdate, _ = parse_report_filename(p)
    reg = None
    if region is not None:
        reg = canonical_region(region)
        if reg is None:
            file_fail("region_unknown", f"unknown region; known: {', '.join(REGIONS)}", region)
            reg = region
        elif slug is not None and canonical_region(slug) not in (None, reg):
            file_fail("region_mismatch", f"the file name says region '{slug}' but the report is read as {reg}", slug)
    elif slug is not None:
        reg = canonical_region(slug)
        if reg is None:
            file_fail("region_unknown", f"region '{slug}' in the file name is unknown; known: {', '.join(REGIONS)}", slug)
            reg = slug
    else:
        file_fail("region_missing", "region unknown: pass region=... or name the file <region>_<YYYY-MM-DD>.xlsx")

    rdate = None
    if reporting_date is not None:
        rdate = _to_date(reporting_date, "reporting_date")
        if fdate is not None and fdate != rdate:
            file_fail("reporting_date_mismatch",
                      f"the file name says {fdate.isoformat()} but the reporting date is {rdate.isoformat()}",
                      fdate.isoformat())
    elif fdate is not None:
        rdate = fdate
    else:
        file_fail("reporting_date_missing",
                  "reporting date unknown: pass reporting_date=... or name the file <region>_<YYYY-MM-DD>.xlsx")
    if rdate is not None and rdate.day != 1:
        file_fail("reporting_date_not_first_of_month",
                  "reports are made per the 1st of a month (R§1, R§2)", rdate.isoformat())
    if rdate is not None and reg in REGIONS:
        first, last = REGIONS[reg]
        if rdate < first or (last is not None and rdate > last):
            span = f"{first.isoformat()} to {last.isoformat()}" if last else f"from {first.isoformat()}"
            file_fail("region_not_existing", f"Region {reg} exists {span}, not on {rdate.isoformat()}", reg)

    sub = None
    if submission_date is not None:
        sub = _to_date(submission_date, "submission_date")
        if rdate is not None:
            deadline = _add_months(rdate, SUBMISSION_MONTHS)
            if sub > deadline:
                file_fail("late_submission",
                          f"submitted {sub.isoformat()}, more than three months after the reporting date "
                          f"{rdate.isoformat()} (deadline {deadline.isoformat()})", sub.isoformat())

    # --- the sheets
    if known_municipality_codes is not None and not isinstance(known_municipality_codes, Mapping):
        known_municipality_codes = {str(c) for c in known_municipality_codes}
    register = _register_ids(clinic_register)
    kw = dict(known_municipalities=known_municipality_codes, clinic_register=register)
    annex1 = _empty_annex(ANNEX1_HEADINGS)
    annex2 = _empty_annex(ANNEX2_HEADINGS)
    has_annex2 = False

    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets, titles = _read_xlsx(p)
        norm = {re.sub(r"\s+", "", t).casefold(): t for t in titles}
        t1 = norm.get("bilag1")
        t2 = norm.get("bilag2")
        if t1 is None:
            failures.append(ReportFailure(fname, SHEET_ANNEX1, None, None, None, "missing_sheet",
                                          f"no sheet '{SHEET_ANNEX1}'; the workbook has {titles}"))
        else:
            annex1 = _check_annex(sheets[t1], ANNEX1_HEADINGS, 1, failures, **kw)
        if t2 is not None:
            has_annex2 = True
            annex2 = _check_annex(sheets[t2], ANNEX2_HEADINGS, 2, failures, **kw)
        for t in titles:
            if t in (t1, t2):
                continue
            if any(not _is_empty_row(cells) for _, cells in sheets[t].rows):
                failures.append(ReportFailure(fname, t, None, None, None, "extra_sheet",
                                              f"extra sheet '{t}': the workbook may hold nothing but the "
                                              f"annexes' sheets '{SHEET_ANNEX1}' and '{SHEET_ANNEX2}'"))
    elif suffix in (".csv", ".txt"):
        if pair is None:
            a1, a2 = _csv_pair(p)
            if not a1.exists():
                raise FileNotFoundError(f"annex 1 of the CSV pair not found: {a1}")
        else:
            a1, a2 = pair
        annex1 = _check_annex(_read_csv(a1, SHEET_ANNEX1), ANNEX1_HEADINGS, 1, failures, **kw)
        if a2 is not None:
            has_annex2 = True
            annex2 = _check_annex(_read_csv(Path(a2), SHEET_ANNEX2), ANNEX2_HEADINGS, 2, failures, **kw)
    elif suffix == ".xls":
        raise ValueError(f"{fname}: the old .xls format is not read; save the workbook as .xlsx")
    else:
        raise ValueError(f"{fname}: expected an .xlsx workbook or .csv files")

    report = CapacityReport(
        region=reg,
        reporting_date=rdate,
        annex1=annex1,
        annex2=annex2,
        failures=failures,
        source=str(p),
        submission_date=sub,
        has_annex2=has_annex2,
    )
    if strict:
        report.raise_for_failures()
    return report


def check_report_schedule(
    dates: Iterable[dt.date | str | CapacityReport],
    region: str,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    as_of: dt.date | str | None = None,
) -> list[ReportFailure]:
    """Missing reports in a region's series of reporting dates.

    Reports are due per the 1st of every month; until 1 January 2027 per the
    1st of every quarter (1 January, 1 April, 1 July, 1 October) is enough
    (R§2).  The expected dates run from ``start`` (default: the earliest date
    given) to ``end`` (default: the latest date given; with ``as_of``, the
    latest reporting date whose three-month deadline has passed by then),
    within the region's existence (Hovedstaden and Sjælland until 2026,
    Østdanmark from 2027).  Dates not on the 1st of a month are failures too.
    Returns the failures (empty list: complete); ``file`` names the region.
    """
    reg = canonical_region(region) or region
    ds: list[dt.date] = []
    for d in dates:
        if isinstance(d, CapacityReport):
            if d.reporting_date is None:
                continue
            d = d.reporting_date
        ds.append(_to_date(d, "dates"))
    out: list[ReportFailure] = []
    label = f"Region {reg}"
    for d in sorted(set(ds)):
        if d.day != 1:
            out.append(ReportFailure(label, None, None, None, d.isoformat(), "reporting_date_not_first_of_month",
                                     "reports are made per the 1st of a month"))
    if not ds and start is None:
        return out
    lo = _to_date(start, "start") if start is not None else min(ds)
    if as_of is not None:
        a = _to_date(as_of, "as_of")
        hi = dt.date(a.year, a.month, 1)
        while _add_months(hi, SUBMISSION_MONTHS) >= a:
            hi = _add_months(hi, -1)
        if end is not None:
            hi = min(hi, _to_date(end, "end"))
    else:
        hi = _to_date(end, "end") if end is not None else max(ds)
    if reg in REGIONS:
        first, last = REGIONS[reg]
        lo = max(lo, first)
        if last is not None:
            hi = min(hi, last)
    have = set(ds)
    d = dt.date(lo.year, lo.month, 1)
    if d < lo:
        d = _add_months(d, 1)
    while d <= hi:
        if d >= MONTHLY_FROM:
            if d not in have:
                out.append(ReportFailure(label, None, None, None, d.isoformat(), "missing_monthly_report",
                                         f"no report per {d.isoformat()}: from 1 January 2027 reports are due "
                                         f"per the 1st of every month"))
        elif d.month in (1, 4, 7, 10) and d not in have:
            out.append(ReportFailure(label, None, None, None, d.isoformat(), "missing_quarterly_report",
                                     f"no report per {d.isoformat()}: until 1 January 2027 reports are due at "
                                     f"least per the 1st of every quarter"))
        d = _add_months(d, 1)
    return out
