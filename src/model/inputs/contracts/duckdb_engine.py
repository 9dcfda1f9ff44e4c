"""The DuckDB engine: parquet inputs validated out of core, never loaded into pandas.

The parquet inputs (persons.parquet: 6 million rows a year; services.parquet:
up to 100 million service lines a year) are validated in DuckDB, never
loaded into pandas. The contract is translated into SQL: a typed view over
``read_parquet`` (one typed column per contract field, plus the raw value
and a "could not be typed" flag where typing can fail), one predicate per
rule, and then

* one scan of the file counting, for every rule, the failing rows
  (``count(*) FILTER``), and only when some fail a scan of those rows for the
  first ``max_examples`` of each (``min_by(..., n)``: bounded memory whatever
  the number of failures);
* ``primaryKey``/``unique``: the keys are hashed to 64 bits and the hashes
  sorted (numpy) or grouped (DuckDB, for the largest files); only rows whose
  hash repeats are compared exactly;
* ``group_sum_minimum`` rules: a GROUP BY with ``fsum`` (compensated
  summation, as pandas' groupby sum);
* foreign keys: anti-joins (NOT EXISTS) against the parent table, which is
  a small pandas table (clinics, municipalities) or another parquet view
  (services -> persons).

DuckDB works within ``memory_limit`` and spills to a temporary folder, so
the memory does not grow with the number of rows or years. Row numbers are
the 1-based rows of the file (``file_row_number`` + 1), also when the file
is filtered to some years.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from model.inputs.contracts.coercion import check_columns
from model.inputs.contracts.duck import quiet_connect, repeated_hashes
from model.inputs.contracts.duckdb_sql import (
    REQUIRED_RULE,
    examples_sql,
    show_values,
    sql_ident,
    sql_literal,
    sql_type,
    sql_value,
    sql_value_checks,
)
from model.inputs.contracts.reading import arrow_kind, parquet_schema_failures
from model.inputs.contracts.report import ValidationReport, py_value
from model.inputs.contracts.spec import ERROR, WARNING, as_list, cached_schema, field_map, fk_rule_text, rule_text, severity_of

#: Memory DuckDB may use for validation (it spills beyond that); the
#: environment variable ``MODEL_VALIDATE_MEMORY_LIMIT`` overrides it.
DUCKDB_MEMORY_LIMIT = "1500MB"
#: Up to this many rows the hashes of a key are checked for repeats by sorting them in numpy (8 bytes a
#: row in memory); beyond, DuckDB groups them (within ``memory_limit``, spilling).
SORT_HASHES_MAX_ROWS = 20_000_000

class DuckSession:
    """A DuckDB connection for validation: ``memory_limit``, a temporary
    folder to spill to (removed on close) and one thread per core."""

    def __init__(self, memory_limit: str | None = None, threads: int | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="model-validate-duckdb-")
        self.con = quiet_connect(":memory:")
        limit = memory_limit or os.environ.get("MODEL_VALIDATE_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
        self.con.execute(f"SET memory_limit = {sql_literal(limit)}")
        self.con.execute(f"SET temp_directory = {sql_literal(self._tmp.name)}")
        self.con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
        self.con.execute("SET preserve_insertion_order = false")
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def one(self, sql: str) -> tuple:
        return self.con.execute(sql).fetchall()[0]

    def run(self, sql: str) -> None:
        self.con.execute(sql).fetchall()

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._tmp.cleanup()

    def __enter__(self) -> DuckSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class SqlTable:
    """A parquet table validated in DuckDB.

    ``base``: view of the file's contract columns as stored, with ``__row``
    (the 1-based row of the file), filtered to the years asked for.
    ``view``: the typed view (columns ``__row``, the contract's fields
    present, ``__raw_<field>``/``__bad_<field>`` where typing can fail).
    ``profile``: a small table of the distinct values of the profiled
    columns (one GROUPING SET each, plus any extra sets), with their count
    ``__n`` and first row ``__first``; ``gids`` maps a set to its
    ``__gid``. ``key_aggs``: per key (set of columns) a temporary table of
    the distinct keys with ``__n`` and sums (``__sum_<col>``, ``__cnt_<col>``).
    """

    name: str
    file: str
    base: str
    view: str
    columns: list[str]
    fields: dict[str, dict]
    kinds: dict[str, str]
    n_rows: int = 0
    profile: str | None = None
    gids: dict[tuple, int] | None = None
    key_aggs: dict[frozenset, tuple[str, set]] | None = None

    def typed(self, c: str, alias: str) -> str:
        """The typed expression of field ``c`` over the raw column ``alias.c``."""
        return sql_type(self.fields[c], f"{alias}.{sql_ident(c)}", self.kinds[c])[0]

    def profile_view(self, c: str) -> str | None:
        """A subquery over the distinct values of ``c`` with the typed view's
        column names, or ``None`` if ``c`` is not profiled."""
        if not self.gids or (c,) not in self.gids:
            return None
        typed, bad, note, _ = sql_type(self.fields[c], f"p.{sql_ident(c)}", self.kinds[c])
        cols = [f"{typed} AS {sql_ident(c)}"]
        if bad or note:
            cols.append(f"p.{sql_ident(c)} AS {sql_ident(f'__raw_{c}')}")
        if bad:
            cols.append(f"coalesce({bad}, FALSE) AS {sql_ident(f'__bad_{c}')}")
        return (f"(SELECT p.__n, p.__first, {', '.join(cols)} FROM {self.profile} AS p "
                f"WHERE p.__gid = {self.gids[(c,)]})")


def _parquet_null_counts(meta: pq.FileMetaData) -> dict[str, int | None]:
    """Missing values per column from the row groups' statistics (``None``
    where a row group has no null count)."""
    out: dict[str, int | None] = {}
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            name = col.path_in_schema
            st = col.statistics
            n = st.null_count if st is not None and st.has_null_count else None
            if name not in out:
                out[name] = n
            elif out[name] is not None:
                out[name] = None if n is None else out[name] + n
    return out


def sql_validate_parquet(db: DuckSession, path: Path, name: str, report: ValidationReport, file: str,
                          years: Sequence[int] | None = None,
                          extra_sets: Sequence[Sequence[str]] = ()) -> SqlTable | None:
    """Validate one parquet file against its contract in DuckDB (see
    :func:`_sql_validate_parquet_checks`). A file DuckDB cannot read is
    reported; running out of ``memory_limit`` raises ``MemoryError``."""
    import duckdb

    try:
        return _sql_validate_parquet_checks(db, path, name, report, file, years, extra_sets)
    except duckdb.OutOfMemoryException as exc:
        raise MemoryError(
            f"validating {file} did not fit in DuckDB's memory_limit even with spilling to disk; raise it "
            f"(validate_folder(memory_limit=...) or the environment variable MODEL_VALIDATE_MEMORY_LIMIT, "
            f"default {DUCKDB_MEMORY_LIMIT}). DuckDB said: {str(exc).splitlines()[0]}") from exc
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        report.add(file, None, f"file unreadable as parquet: {str(exc).splitlines()[0]}")
        return None


def _sql_validate_parquet_checks(db: DuckSession, path: Path, name: str, report: ValidationReport, file: str,
                                 years: Sequence[int] | None = None,
                                 extra_sets: Sequence[Sequence[str]] = ()) -> SqlTable | None:
    """Validate one parquet file against its contract in DuckDB.

    In: the connection, the file, the contract name, the report, the file
    name to report, optionally the years to keep (rows of other years are
    skipped while reading) and extra grouping sets to count (for
    :func:`sql_persons_summary`). Out: the :class:`SqlTable` for the
    checks across tables, ``None`` if the file could not be read
    (reported). Every rule of :func:`validate_table` is checked, with the
    same :class:`Failure` records:

    1. the columns from the file's schema (missing, extra, near misses);
    2. the *profile*: one scan counting the distinct values of every column
       with a value rule (types, enum, ranges, pattern, lengths,
       plausibility, single-column foreign keys; ``number`` fields, whose
       values hardly repeat, are left to step 3). Each rule is then evaluated
       on the distinct values, a few thousand instead of 100 million rows;
    3. the other rules (``required`` of the unprofiled columns - skipped
       where the parquet statistics count no missing value -, ``number``
       ranges and the ``x-rules`` across columns) in one scan counting the
       rows that break each of them (filtered to rows that break any, so the
       counting touches only those);
    4. only if something failed: one scan of the failing rows fetching, for
       every failing rule, its first ``max_examples`` rows (``min_by``);
    5. ``unique``/``primaryKey`` (the keys' 64-bit hashes sorted in numpy up
       to :data:`SORT_HASHES_MAX_ROWS` rows, grouped in DuckDB beyond; only
       repeated hashes are compared exactly), the table's own foreign keys
       and the ``group_sum_minimum`` rules (a GROUP BY of the key, kept for
       the foreign keys of the same columns).
    """
    schema = cached_schema(name)
    if not path.exists():
        report.add(file, None, f"file missing (expected {path})")
        return None
    if path.is_dir():
        report.add(file, None, "expected a file, found a folder")
        return None
    if path.stat().st_size == 0:
        report.add(file, None, "file is empty (0 bytes)")
        return None
    try:
        pfile = pq.ParquetFile(path)
        arrow, meta = pfile.schema_arrow, pfile.metadata
    except Exception as exc:  # pyarrow raises several types for a broken file
        report.add(file, None, f"file unreadable as parquet: {exc}")
        return None
    if not parquet_schema_failures(arrow, schema, file, report):
        return None
    names = list(arrow.names)
    present = check_columns(pd.DataFrame(columns=names), schema, file, report)
    fields = field_map(schema)
    kinds = {c: arrow_kind(arrow.field(c).type) for c in present}
    types = {c: sql_type(fields[c], f"r.{sql_ident(c)}", kinds[c]) for c in present}
    where = ""
    if years is not None and "year" in names and pyarrow.types.is_integer(arrow.field("year").type):
        where = f" WHERE r.{sql_ident('year')} IN ({', '.join(str(int(y)) for y in years) or 'NULL'})"
    base, view = db.name(f"raw_{name}"), db.name(f"t_{name}")
    db.run(f"CREATE TEMP VIEW {base} AS SELECT r.file_row_number + 1 AS __row"
           f"{''.join(', r.' + sql_ident(c) for c in present)} "
           f"FROM read_parquet({sql_literal(str(path))}, file_row_number = true) AS r{where}")
    select = ["r.__row"]
    for c in present:
        typed, bad, note, _ = types[c]
        select.append(f"{typed} AS {sql_ident(c)}")
        if bad or note:
            select.append(f"r.{sql_ident(c)} AS {sql_ident(f'__raw_{c}')}")
        if bad:
            select.append(f"coalesce({bad}, FALSE) AS {sql_ident(f'__bad_{c}')}")
    db.run(f"CREATE TEMP VIEW {view} AS SELECT {', '.join(select)} FROM {base} AS r")
    table = SqlTable(name, file, base, view, present, {c: fields[c] for c in present}, kinds, key_aggs={})
    checks = sql_value_checks(schema, present, types)

    # 2. the profile: distinct values of the columns with value rules
    fk_cols = {as_list(fk["fields"])[0] for fk in schema.get("foreignKeys") or [] if len(as_list(fk["fields"])) == 1}
    profiled = [c for c in present if fields[c]["type"] != "number"
                and (c in fk_cols or any(ch.source == c and ch.rule != REQUIRED_RULE for ch in checks))]
    sets = list(dict.fromkeys([(c,) for c in profiled]
                              + [tuple(s) for s in extra_sets if s and set(s) <= set(present)]))
    if sets:
        pcols = list(dict.fromkeys(c for s in sets for c in s))
        table.profile = db.name(f"profile_{name}")
        table.gids = {s: sum(1 << (len(pcols) - 1 - i) for i, c in enumerate(pcols) if c not in s) for s in sets}
        cols = ", ".join(sql_ident(c) for c in pcols)
        grouping = ", ".join("(" + ", ".join(sql_ident(c) for c in s) + ")" for s in sets)
        db.run(f"CREATE TEMP TABLE {table.profile} AS SELECT {cols}, GROUPING({cols}) AS __gid, "
               f"count(*) AS __n, min(__row) AS __first FROM {base} GROUP BY GROUPING SETS ({grouping})")
        table.n_rows = int(db.one(f"SELECT coalesce(sum(__n), 0) FROM {table.profile} "
                                  f"WHERE __gid = {table.gids[sets[0]]}")[0])
    else:
        table.n_rows = int(db.one(f"SELECT count(*) FROM {base}")[0])

    counts: dict[int, int] = {}
    firsts: dict[int, Any] = {}
    for c in profiled:
        idx = [i for i, ch in enumerate(checks) if ch.source == c]
        if not idx:
            continue
        aggs = [f"arg_min({sql_ident(f'__raw_{c}')}, __first) FILTER (WHERE {checks[i].pred})" if checks[i].note
                else f"coalesce(sum(__n) FILTER (WHERE {checks[i].pred}), 0)" for i in idx]
        res = db.one(f"SELECT {', '.join(aggs)} FROM {table.profile_view(c)}")
        for i, v in zip(idx, res):
            if checks[i].note:
                firsts[i], counts[i] = v, 1
            else:
                counts[i] = int(v)

    # 3. the other rules: one scan counting rows that break any of them. Missing
    # values are counted without it where the parquet statistics count them
    # or where a key table (below) reads the column anyway.
    nulls = _parquet_null_counts(meta)
    if table.n_rows:
        for rule in schema.get("x-rules") or []:
            group, cols = as_list(rule.get("group")), as_list(rule.get("fields"))
            if rule["kind"] == "group_sum_minimum" and set(group + cols[:1]) <= set(present):
                _key_agg(db, table, group, cols[:1])
    rest = []
    for i, ch in enumerate(checks):
        if i in counts:
            continue
        if ch.rule == REQUIRED_RULE and types[ch.source][1] is None:  # missing as stored = missing typed
            c = ch.source
            if nulls.get(c) == 0:
                counts[i] = 0
                continue
            agg = next(((name, k, sums) for k, (name, sums) in table.key_aggs.items() if c in k or c in sums), None)
            if agg is not None:
                name_, k, sums = agg
                expr = f"sum(__n) FILTER (WHERE {sql_ident(c)} IS NULL)" if c in k else f"sum(__n - {sql_ident(f'__cnt_{c}')})"
                counts[i] = int(db.one(f"SELECT coalesce({expr}, 0) FROM {name_}")[0])
                continue
        rest.append(i)
    if rest and table.n_rows:
        # one scan counting every rule; the filter keeps the aggregation to the failing rows
        res = db.one(f"SELECT {', '.join(f'count(*) FILTER (WHERE {checks[i].pred})' for i in rest)} "
                     f"FROM {view} WHERE " + " OR ".join(f"({checks[i].pred})" for i in rest))
        counts.update({i: int(v or 0) for i, v in zip(rest, res)})
    else:
        counts.update({i: 0 for i in rest})

    # 4. examples only for what failed, read from the failing rows alone
    wanted = [i for i in range(len(checks)) if counts.get(i, 0) > 0 and not checks[i].note]
    examples: dict[int, list] = {}
    if wanted:
        aggs = [examples_sql(checks[i].values, "__row", report.max_examples, checks[i].pred) for i in wanted]
        res = list(db.one(f"SELECT {', '.join(aggs)} FROM {view} WHERE "
                          + " OR ".join(f"({checks[i].pred})" for i in wanted)))
        examples = {i: r or [] for i, r in zip(wanted, res)}

    n_type = sum(1 for ch in checks if ch.note or ch.rule.startswith("type: "))
    for i, ch in enumerate(checks):
        if i == n_type and table.n_rows == 0:
            break
        if ch.note:
            report.add(file, ch.column, ch.rule, value=sql_value(firsts.get(i)), severity=ch.severity)
        elif counts.get(i, 0):
            ex = examples.get(i, [])
            report.add_found(file, ch.column, ch.rule, [e["r"] for e in ex], [show_values(ch.values, e) for e in ex],
                             counts[i], severity=ch.severity)
    if table.n_rows == 0:
        if years is not None and schema.get("x-optional"):
            # an optional table (e.g. services for one year only) with no rows in the selected years
            report.add(file, None, f"no data rows for the selected years {sorted(years)}", severity=WARNING)
        elif not schema.get("x-allow-empty"):
            report.add(file, None, "file has no data rows")
        return table

    # 5. keys, own foreign keys, group sums
    for fdef in schema["fields"]:
        if (fdef.get("constraints") or {}).get("unique") and fdef["name"] in present:
            if as_list(schema.get("primaryKey")) != [fdef["name"]]:
                _sql_unique(db, table, [fdef["name"]], report, "unique", severity_of(fdef, "unique"))
    pk = as_list(schema.get("primaryKey"))
    if pk and set(pk) <= set(present):
        _sql_unique(db, table, pk, report, f"primaryKey: ({', '.join(pk)}) duplicated")
    for fk in schema.get("foreignKeys") or []:
        if fk["reference"].get("resource", "") == "":
            sql_fk(db, table, fk, table, report, name)
    for rule in schema.get("x-rules") or []:
        if rule["kind"] == "group_sum_minimum":
            _sql_group_sum(db, table, rule, report)
    return table


def _sql_unique(db: DuckSession, t: SqlTable, cols: Sequence[str], report: ValidationReport, rule: str,
                severity: str = ERROR) -> None:
    """:func:`check_unique` in DuckDB: group the keys' 64-bit hashes, then
    compare exactly only the rows whose hash repeats."""
    keys = ", ".join(sql_ident(c) for c in cols)
    notnull = " AND ".join(f"{sql_ident(c)} IS NOT NULL" for c in cols)
    cand = db.name("dup_hashes")
    if t.n_rows <= SORT_HASHES_MAX_ROWS:
        dup = repeated_hashes(db.con.execute(f"SELECT hash({keys}) AS h FROM {t.view} WHERE {notnull}").fetchnumpy()["h"])
        if not len(dup):
            return
        db.con.register(f"{cand}_np", pd.DataFrame({"h": dup}))
        db.run(f"CREATE TEMP TABLE {cand} AS SELECT h FROM {cand}_np")
        db.con.unregister(f"{cand}_np")
    else:
        db.run(f"CREATE TEMP TABLE {cand} AS SELECT h FROM (SELECT hash({keys}) AS h FROM {t.view} "
               f"WHERE {notnull}) GROUP BY h HAVING count(*) > 1")
    try:
        if db.one(f"SELECT count(*) FROM {cand}")[0] == 0:
            return
        values = tuple((c, sql_ident(c)) for c in cols) + (("__first", "__first"),)
        count, ex = db.one(
            f"SELECT count(*), {examples_sql(values, '__row', report.max_examples)} FROM ("
            f"SELECT __row, {keys}, min(__row) OVER (PARTITION BY {keys}) AS __first FROM {t.view} "
            f"WHERE {notnull} AND hash({keys}) IN (SELECT h FROM {cand})) WHERE __row > __first")
    finally:
        db.run(f"DROP TABLE IF EXISTS {cand}")
    ex = ex or []
    shown = []
    for e in ex:
        k = [sql_value(e[f"v{i}"]) for i in range(len(cols))]
        key = k[0] if len(cols) == 1 else "; ".join(f"{c}={v}" for c, v in zip(cols, k))
        shown.append(f"{key} (first in row {int(e[f'v{len(cols)}'])})")
    report.add_found(t.file, ", ".join(cols), rule, [e["r"] for e in ex], shown, int(count), severity=severity)


def _key_agg(db: DuckSession, t: SqlTable, keys: Sequence[str], sums: Sequence[str] = ()) -> str:
    """A temporary table of the distinct values of ``keys`` in ``t`` (keys
    with missing parts included: users filter them) with ``__n`` rows,
    and for each of ``sums`` the compensated sum
    ``__sum_<col>`` (as pandas) and ``__cnt_<col>``, its non-missing
    values; built once per key."""
    k = frozenset(keys)
    have = t.key_aggs.get(k)
    if have is not None and set(sums) <= have[1]:
        return have[0]
    sums = sorted(set(sums) | (have[1] if have else set()))
    name = db.name("keys")
    cols = ", ".join(sql_ident(c) for c in keys)
    extra = "".join(f", fsum({sql_ident(c)}) AS {sql_ident(f'__sum_{c}')}, count({sql_ident(c)}) AS {sql_ident(f'__cnt_{c}')}"
                    for c in sums)
    db.run(f"CREATE TEMP TABLE {name} AS SELECT {cols}, count(*) AS __n{extra} FROM {t.view} GROUP BY {cols}")
    if have is not None:
        db.run(f"DROP TABLE IF EXISTS {have[0]}")
    t.key_aggs[k] = (name, set(sums))
    return name


def _sql_group_sum(db: DuckSession, t: SqlTable, rule: Mapping, report: ValidationReport) -> None:
    """:func:`check_group_sum` in DuckDB, on the key table of :func:`_key_agg`."""
    group, col = as_list(rule["group"]), as_list(rule["fields"])[0]
    if not set(group + [col]) <= set(t.columns):
        return
    agg = _key_agg(db, t, group, [col])
    keys = ", ".join(sql_ident(g) for g in group)
    notnull = " AND ".join(f"{sql_ident(g)} IS NOT NULL" for g in group)
    total = sql_ident(f"__sum_{col}")
    parts = [f"v{i} := {sql_ident(g)}" for i, g in enumerate(group)] + [f"total := {total}"]
    count, ex = db.one(
        f"SELECT count(*), min_by(struct_pack({', '.join(parts)}), struct_pack({keys}), {report.max_examples}) "
        f"FROM {agg} WHERE {notnull} AND {total} < {sql_literal(rule.get('minimum', 0))}")
    sev = rule.get("severity", ERROR)
    vals = [("; ".join(f"{g}={sql_value(e[f'v{i}'])}" for i, g in enumerate(group))
             + f": sum {py_value(e['total']):.2f}") for e in (ex or [])]
    report.add_found(t.file, col, rule_text(rule), [None] * len(vals), vals, int(count), severity=sev)


def sql_fk(db: DuckSession, child: SqlTable, fk: Mapping, parent: SqlTable | pd.DataFrame, report: ValidationReport,
            table: str) -> None:
    """:func:`check_fk` in DuckDB: rows of ``child`` whose key (all parts
    present) is not in ``parent`` (a typed pandas table or another parquet
    view). The distinct keys are anti-joined first (from the profile or
    :func:`_key_agg`); the rows are read only if some key is unknown."""
    cfields, pfields = as_list(fk["fields"]), as_list(fk["reference"]["fields"])
    pcols = parent.columns if isinstance(parent, SqlTable) else [str(c) for c in parent.columns]
    if not set(cfields) <= set(child.columns) or not set(pfields) <= set(pcols):
        return
    if isinstance(parent, SqlTable):
        prel = parent.view
    else:
        prel = db.name("parent")
        db.con.register(prel, parent[pfields].reset_index(drop=True))
    try:
        # ANTI JOIN, not NOT EXISTS: DuckDB plans the latter as a slower delim join here
        on = " AND ".join(f"c.{sql_ident(a)} = p.{sql_ident(b)}" for a, b in zip(cfields, pfields))
        notnull = " AND ".join(f"c.{sql_ident(a)} IS NOT NULL" for a in cfields)
        missing = f"ANTI JOIN {prel} AS p ON {on} WHERE {notnull}"
        keys = child.profile_view(cfields[0]) if len(cfields) == 1 else None
        keys = keys or _key_agg(db, child, cfields)
        count = int(db.one(f"SELECT coalesce(sum(c.__n), 0) FROM {keys} AS c {missing}")[0])
        values = tuple((a, f"c.{sql_ident(a)}") for a in cfields)
        ex = []
        if count:
            ex = db.one(f"SELECT {examples_sql(values, 'c.__row', report.max_examples)} "
                        f"FROM {child.view} AS c {missing}")[0] or []
    finally:
        if not isinstance(parent, SqlTable):
            db.con.unregister(prel)
    report.add_found(child.file, ", ".join(cfields), fk_rule_text(fk, table), [e["r"] for e in ex],
                     [show_values(values, e) for e in ex], count, severity=fk.get("x-severity", ERROR))


#: The grouping of persons.parquet behind the plausibility warnings.
PERSONS_SUMMARY_SET = ("year", "municipality_code", "clinic_id", "insurance_group")


def sql_persons_summary(db: DuckSession, t: SqlTable) -> pd.DataFrame:
    """Citizens per (year, municipality_code, clinic_id) and how many of them
    are in insurance group 2 (columns n and g2), for :func:`_plausibility`;
    from the profile when it holds that grouping set."""
    keys = [c for c in PERSONS_SUMMARY_SET[:3] if c in t.columns]
    s = tuple(c for c in PERSONS_SUMMARY_SET if c in t.columns)
    if t.gids and s in t.gids and keys:
        typed = ", ".join(f"{t.typed(c, 'p')} AS {sql_ident(c)}" for c in s)
        src = f"(SELECT {typed}, p.__n FROM {t.profile} AS p WHERE p.__gid = {t.gids[s]})"
        n = "sum(__n)"
        g2 = "coalesce(sum(__n) FILTER (WHERE insurance_group = 2), 0)" if "insurance_group" in s else "0"
    else:
        src, n = t.view, "count(*)"
        g2 = "count(*) FILTER (WHERE insurance_group = 2)" if "insurance_group" in t.columns else "0"
    cols = ", ".join(sql_ident(c) for c in keys)
    sql = (f"SELECT {cols}, {n} AS n, {g2} AS g2 FROM {src} GROUP BY {cols}" if keys
           else f"SELECT {n} AS n, {g2} AS g2 FROM {src}")
    return db.con.execute(sql).df()

