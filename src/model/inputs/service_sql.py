"""The DuckDB side of the service-line aggregation: the connection, the schema check and the SQL.

:mod:`model.inputs.services` plans an aggregation (years, price factors,
local service codes) and runs the query built here over the parquet file(s),
out of core. In: the plan's settings. Out: SQL text, or a checked connection.
Fees are summed as integers in units of 10**-fee_decimals DKK so the sums do
not depend on the order DuckDB's threads combine them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from model.errors import InputError
from model.inputs.contracts.duck import quiet_connect

#: Service codes of the contact services that the chronic-care fee replaces (§4.4.3: consultation, e-mail,
#: telephone and video consultation, annual check): their fees are summed into ``contact_fee``, from which
#: the base model imputes the contacts of citizens on the fee.  The default is the codes the project's
#: synthetic data use (consultation 0101, e-mail 0105, telephone 0201, home visit 0411); on real extracts
#: pass the collective agreement's codes for the year (``contact_service_codes=``).
CONTACT_SERVICE_CODES: tuple[str, ...] = ("0101", "0105", "0201", "0411")

STRING_COLUMNS = ("person_id", "clinic_id", "service_code")
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}

def sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def connect(threads: int | None, memory_limit: str | None, temp_dir: str):
    con = quiet_connect(":memory:")
    if memory_limit:
        con.execute(f"SET memory_limit = {sql_str(memory_limit)}")
    con.execute(f"SET temp_directory = {sql_str(temp_dir)}")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def check_service_schema(con, paths: list[str], need_clinic: bool) -> set[str]:
    """Check the parquet columns and types before reading any line; return the column names."""
    desc = con.sql("DESCRIBE SELECT * FROM read_parquet($paths)", params={"paths": paths}).fetchall()
    types = {row[0]: str(row[1]).upper() for row in desc}
    required = ["person_id", "year", "service_code", "fee"] + (["clinic_id"] if need_clinic else [])
    missing = [c for c in required if c not in types]
    if missing:
        raise InputError(
            f"service lines {paths[0] if len(paths) == 1 else paths}: missing column(s) {missing}; "
            f"found {sorted(types)}"
        )
    for c in STRING_COLUMNS:
        if c in types and types[c] != "VARCHAR":
            raise TypeError(
                f"service lines: column {c!r} is stored as {types[c]}, not as a string: IDs and codes "
                f"must be strings (a number loses leading zeros, e.g. '012345' -> 12345)"
            )
    if types["year"] not in INTEGER_TYPES:
        raise TypeError(f"service lines: column 'year' must be an integer, is {types['year']}")
    if "count" in types and types["count"] not in INTEGER_TYPES:
        raise TypeError(f"service lines: column 'count' must be an integer, is {types['count']}")
    return set(types)


def aggregate_sql(
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
    codes = ", ".join(sql_str(c) for c in local_codes) or "NULL"
    ccodes = ", ".join(sql_str(c) for c in contact_codes) or "NULL"
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
            body = """
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


class explain_out_of_memory:
    """Turn DuckDB's out-of-memory error into a ``MemoryError`` saying what to change."""

    def __init__(self, memory_limit, main_clinic):
        self.memory_limit, self.main_clinic = memory_limit, main_clinic

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, duckdb.OutOfMemoryException):
            hint = " or main_clinic=False (one aggregation level instead of two)" if self.main_clinic else ""
            raise MemoryError(
                f"the aggregation did not fit in memory_limit={self.memory_limit!r} even with spilling to "
                f"temp_dir; raise memory_limit (a national year of ~100 million lines needs about 1GB with "
                f"the main clinic, 512MB without){hint}. DuckDB said: {str(exc).splitlines()[0]}"
            ) from exc
        return False


class duckdb_session:
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
        self.con = connect(self.threads, self.memory_limit, tdir)
        return self.con

    def __exit__(self, *exc):
        try:
            self.con.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
        return False
