"""Ingestion of service lines: register service lines into per-person fees.

**Service lines** come from the health-insurance register
(*sygesikringsregisteret*, SSSY): one line per service, with the fee paid for
it. docs/method.md step 1 uses each citizen's gross fee (*bruttohonorar*) in
the latest complete year as the dependent variable. :func:`aggregate_services`
sums the lines per person (and year) with DuckDB reading the parquet file
directly, out of core, so a national year (about 100 million lines) goes
through in bounded memory (the SQL and the DuckDB session are
:mod:`model.inputs.service_sql`); :func:`ingest_persons` puts the sums into
the persons table and :func:`ingest` does both from a data folder and writes
the result atomically. :func:`read_fee_index` reads the fee index
(*honorarindeks*) that brings several years' fees to one price level.

The regions' capacity reports, which the old ``model.ingest`` also read, are
:mod:`model.inputs.capacity_reports`.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.errors import ConfigError, InputError
from model.inputs.contracts.spec import load_schema
from model.inputs.readers import read_typed
from model.inputs.service_sql import aggregate_sql, check_service_schema, duckdb_session, explain_out_of_memory, sql_str

__all__ = [
    "DEFAULT_LOCAL_SERVICE_CODES",
    "read_fee_index",
    "fee_index_ratio_bounds",
    "aggregate_services",
    "write_aggregated_services",
    "ingest_persons",
    "ingest",
    "NegativeFeeError",
    "UnknownPersonsWarning",
]

#: Fee codes of the ultrasound services in Region Sjælland's local agreement
#: (2025-2026, 12 municipalities; seed 004): 4350-4360 inclusive.  They raise
#: recorded use for reasons of local agreement, not need (docs/method.md step 8).
DEFAULT_LOCAL_SERVICE_CODES: tuple[str, ...] = tuple(str(c) for c in range(4350, 4361))

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


class NegativeFeeError(InputError):
    """A person's total fee for a year is negative (corrections exceed payments)."""


class UnknownPersonsWarning(UserWarning):
    """Service lines whose person_id is not in the persons table."""


def read_fee_index(fee_index: Any) -> dict[int, float]:
    """The fee index as ``{year: index}``.

    ``fee_index`` is a path to a CSV with columns ``year`` and ``index`` (as
    ``fee_index.csv``; read as validation reads it, :func:`model.inputs.readers.read_typed`:
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
            source = str(fee_index)
            df = read_typed(fee_index, "fee_index")
        elif isinstance(fee_index, pd.DataFrame):
            source = "fee index table"
            df = fee_index
        else:
            raise TypeError(f"fee_index must be a path, a DataFrame or a mapping, not {type(fee_index).__name__}")
        missing = {"year", "index"} - set(df.columns)
        if missing:
            raise InputError(f"{source}: missing column(s) {sorted(missing)}; expected 'year' and 'index'")
        pairs = list(zip(df["year"], df["index"]))
    out: dict[int, float] = {}
    for i, (y, v) in enumerate(pairs):
        try:
            year = int(str(y).strip())
            value = float(str(v).strip())
        except ValueError:
            raise InputError(f"{source}: row {i + 2}: year {y!r} / index {v!r} is not a number") from None
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{source}: row {i + 2}: index for {year} must be a positive number, got {v!r}")
        if year in out:
            raise InputError(f"{source}: year {year} appears more than once")
        out[year] = value
    if not out:
        raise InputError(f"{source}: the fee index is empty")
    lo, hi = fee_index_ratio_bounds()
    years = sorted(out)
    for prev, year in zip(years, years[1:]):
        ratio = out[year] / out[prev]
        if not lo <= ratio <= hi:
            raise InputError(f"{source}: year {year}: index {out[year]:g} is {ratio:.3g} times {prev}'s "
                             f"{out[prev]:g}; a fee index moves by far less from one year to the next "
                             f"(allowed ratio {lo:g}-{hi:g})")
    return out


def fee_index_ratio_bounds() -> tuple[float, float]:
    """(minimum, maximum) ratio of a year's fee index to the previous year's, from the
    ``year_on_year_ratio`` entry of ``fee_index.schema.yaml``'s ``x-plausibility``."""
    for p in load_schema("fee_index").get("x-plausibility") or []:
        if p.get("name") == "year_on_year_ratio":
            return float(p["minimum"]), float(p["maximum"])
    return 0.0, float("inf")


def _years_list(year: int | Iterable[int]) -> list[int]:
    years = [year] if isinstance(year, (int, np.integer)) else list(year)
    if not years:
        raise ConfigError("year: give a year or a non-empty list of years")
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
            raise ConfigError("price_year needs a fee_index to bring fees to that year's price level")
        return {y: 1.0 for y in years}, None
    index = read_fee_index(fee_index)
    if len(years) == 1 and price_year is None:
        return {y: 1.0 for y in years}, None
    target = max(index) if price_year is None else int(price_year)
    missing = sorted({*years, target} - set(index))
    if missing:
        raise InputError(
            f"fee index has no value for year(s) {missing}; it covers {min(index)}-{max(index)} "
            f"({len(index)} years)"
        )
    return {y: index[target] / index[y] for y in years}, target


def _service_paths(services_path: Any) -> list[str]:
    if isinstance(services_path, (str, os.PathLike)):
        paths = [os.fspath(services_path)]
    else:
        paths = [os.fspath(p) for p in services_path]
    if not paths:
        raise ConfigError("services_path: no file given")
    for p in paths:
        if not any(ch in p for ch in "*?[") and not Path(p).exists():
            raise FileNotFoundError(f"service lines file not found: {p}")
    return paths


def _normalise_codes(codes: Iterable[Any]) -> list[str]:
    out = []
    for c in codes:
        s = str(c).strip()
        if not s.isdigit():
            raise ConfigError(f"local_service_codes: {c!r} is not a service code (digits)")
        out.append(s.zfill(4))
    return sorted(set(out))


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
    cols = check_service_schema(con, paths, need_clinic=main_clinic)
    has_count = "count" in cols
    out_year = target if target is not None else max(years)
    sql = aggregate_sql(
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
        A year missing from the index raises :class:`model.errors.InputError`.
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
    with duckdb_session(threads, memory_limit, temp_dir) as con:
        plan = _plan(con, services_path, year, fee_index, local_service_codes, price_year, by_year, main_clinic, fee_decimals)
        with explain_out_of_memory(memory_limit, main_clinic):
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
    with duckdb_session(threads, memory_limit, temp_dir) as con:
        plan = _plan(con, services_path, year, fee_index, local_service_codes, price_year, by_year, main_clinic, fee_decimals)
        fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
        os.close(fd)
        try:
            with explain_out_of_memory(memory_limit, main_clinic):
                con.sql(
                    f"COPY ({plan.sql}) TO {sql_str(tmp)} (FORMAT parquet, COMPRESSION zstd)",
                    params={"paths": plan.paths},
                )
            rows, lines = con.sql(
                f"SELECT count(*), coalesce(sum(n_lines), 0) FROM read_parquet({sql_str(tmp)})"
            ).fetchall()[0]
            os.replace(tmp, out_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return {"rows": int(rows), "lines": int(lines), "seconds": time.perf_counter() - t0,
            "out_path": str(out_path), **_plan_attrs(plan)}


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
    (:class:`model.errors.InputError`) or "ignore".
    """
    if on_unknown not in ("warn", "raise", "ignore"):
        raise ConfigError(f"on_unknown must be 'warn', 'raise' or 'ignore', not {on_unknown!r}")
    for name, df in (("persons", persons), ("fees", fees)):
        if "person_id" not in df.columns:
            raise InputError(f"{name}: no person_id column")
        _check_string_ids(df["person_id"], name)
    needed = {"year", "gross_fee", "local_services_fee"} - set(fees.columns)
    if needed:
        raise InputError(f"fees: missing column(s) {sorted(needed)} (expected the output of aggregate_services)")

    years = sorted({int(y) for y in fees["year"].unique()}) if year is None else _years_list(year)
    has_year = "year" in persons.columns
    if not has_year and len(years) > 1:
        raise InputError(
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
        raise InputError(f"fees: {int(dup.sum())} rows share a {'/'.join(key)}, e.g. {ex}")
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
        raise InputError(f"persons: {'/'.join(key)} not unique, e.g. {list(d)}")

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
            raise InputError(msg)
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
            raise ConfigError(f"out_path {out_path} is an input file; write outputs elsewhere (inputs are read-only)")
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
