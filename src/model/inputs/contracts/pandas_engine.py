"""The pandas engine: one typed table validated in memory (the reference implementation).

pandera runs the value constraints (the contract translated by
:func:`to_pandera`, ``lazy=True``); typing, ``required``, ``unique``,
``primaryKey``, foreign keys and group sums are vectorised pandas/Arrow
(pandera reports every null or duplicate as a separate failure case, which
took 10-15 s per column on 6 million rows). Public: :func:`to_pandera`,
:func:`validate_table`, :func:`load_table`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute

from model.errors import ConfigError
from model.inputs.contracts.coercion import check_required, coerce_frame
from model.inputs.contracts.decoding import to_text
from model.inputs.contracts.duck import quiet_connect, repeated_hashes
from model.inputs.contracts.reading import read_frame
from model.inputs.contracts.report import InputRejected, ValidationReport, py_value
from model.inputs.contracts.spec import (
    DEFAULT_MAX_EXAMPLES,
    ERROR,
    PANDAS_DTYPES,
    ROW_RULE_KINDS,
    WARNING,
    as_list,
    contract_for_file,
    fk_rule_text,
    load_schema,
    rule_text,
    severity_of,
)


def rule_mask(rule: Mapping, df: pd.DataFrame) -> pd.Series:
    """True where a row passes an ``x-rules`` entry (row-wise kinds only)."""
    kind, cols = rule["kind"], as_list(rule.get("fields"))
    if kind == "less_or_equal":
        bad = (df[cols[0]] > df[cols[1]]).fillna(False)
    elif kind == "implies":
        bad = (df[cols[0]].fillna(False) & ~df[cols[1]].fillna(True)).astype(bool)
    elif kind == "not_equal":
        bad = (df[cols[0]] == df[cols[1]]).fillna(False)
    elif kind == "required_if":
        cond = pd.Series(True, index=df.index)
        for c, v in rule["when"].items():
            cond &= (df[c] == v).fillna(False)
        bad = cond & df[cols[0]].isna()
    else:
        raise ConfigError(f"unknown x-rules kind {kind!r}")
    return ~pd.Series(np.asarray(bad, dtype=bool), index=df.index)



def pattern_ok(pattern: str, s: pd.Series) -> pd.Series:
    """True where the whole value matches a Frictionless ``pattern``. The
    common code pattern ``^[0-9]{n}$`` is checked as "n bytes, all ASCII
    digits" in Arrow, about eight times faster than the regular expression
    on millions of rows; any other pattern uses ``str.fullmatch``."""
    digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pattern)
    if digits:
        arr = pyarrow.array(to_text(s), from_pandas=True)
        ok = pyarrow.compute.and_(pyarrow.compute.equal(pyarrow.compute.binary_length(arr), int(digits.group(1))),
                                  pyarrow.compute.ascii_is_decimal(arr))
        return pd.Series(ok.fill_null(False).to_numpy(zero_copy_only=False), index=s.index)
    return s.str.fullmatch(pattern).fillna(False).astype(bool)


def plausible(key: str, limit: Any, hard: Any, s: pd.Series) -> pd.Series:
    """True where a value is plausible (``x-plausible``) or already outside
    the hard range (then it is an error, not also a warning)."""
    if key == "minimum":
        return (s >= limit) | (False if hard is None else s < hard)
    return (s <= limit) | (False if hard is None else s > hard)


def to_pandera(schema: Mapping, columns: Iterable[str] | None = None) -> tuple[pa.DataFrameSchema, dict]:
    """Translate a contract into a pandera ``DataFrameSchema``.

    In: a contract from :func:`load_schema`; optionally the columns actually
    present (checks on absent columns are left out). Out: ``(schema, rules)``
    where ``rules`` maps ``(column or None, check_index)`` to
    ``(rule text, severity, columns)`` so that pandera's failures can be
    reported in the contract's words. Every column is ``nullable`` here and
    uniqueness is not set: ``required``, ``unique`` and ``primaryKey`` are
    checked by :func:`validate_table` directly (see module docstring). The
    frame must already be typed by :func:`coerce_table`.
    """
    present = set(columns) if columns is not None else {f["name"] for f in schema["fields"]}
    rules: dict[tuple, tuple] = {}
    cols: dict[str, pa.Column] = {}
    n = DEFAULT_MAX_EXAMPLES
    for fdef in schema["fields"]:
        name, con = fdef["name"], fdef.get("constraints") or {}
        if name not in present:
            continue
        is_date = fdef["type"] == "date"
        lim = (lambda v: pd.Timestamp(v)) if is_date else (lambda v: v)
        checks: list[tuple[pa.Check, str, str]] = []
        if "enum" in con:
            enum = "[" + ", ".join(map(str, con["enum"])) + "]"
            checks.append((pa.Check.isin(con["enum"], n_failure_cases=n), f"enum: {enum}", severity_of(fdef, "enum")))
        for key, make in (("minimum", pa.Check.ge), ("maximum", pa.Check.le),
                          ("exclusiveMinimum", pa.Check.gt), ("exclusiveMaximum", pa.Check.lt)):
            if key in con:
                checks.append((make(lim(con[key]), n_failure_cases=n), f"{key}: {con[key]}", severity_of(fdef, key)))
        if "pattern" in con:
            checks.append((pa.Check(functools.partial(pattern_ok, con["pattern"]), name="pattern",
                                    n_failure_cases=n), f"pattern: {con['pattern']}", severity_of(fdef, "pattern")))
        for key, kw in (("minLength", "min_value"), ("maxLength", "max_value")):
            if key in con:
                checks.append((pa.Check.str_length(**{kw: con[key]}, n_failure_cases=n), f"{key}: {con[key]}",
                               severity_of(fdef, key)))
        for key in ("minimum", "maximum"):
            if key in (fdef.get("x-plausible") or {}):
                v = fdef["x-plausible"][key]
                hard = None if con.get(key) is None else lim(con[key])
                checks.append((pa.Check(functools.partial(plausible, key, lim(v), hard), name=f"plausible_{key}",
                                        n_failure_cases=n), f"plausible {key}: {v}", WARNING))
        for i, (_, text, sev) in enumerate(checks):
            rules[(name, i)] = (text, sev, name)
        cols[name] = pa.Column(PANDAS_DTYPES[fdef["type"]], [c for c, _, _ in checks], nullable=True,
                               required=True, coerce=False)
    table_checks = []
    for rule in schema.get("x-rules") or []:
        used = set(as_list(rule.get("fields"))) | set((rule.get("when") or {}).keys())
        if rule["kind"] not in ROW_RULE_KINDS or not used <= present:
            continue
        label = ", ".join(as_list(rule["fields"]))
        rules[(None, len(table_checks))] = (rule_text(rule), rule.get("severity", ERROR), label)
        table_checks.append(pa.Check(functools.partial(rule_mask, rule), name=rule["name"], n_failure_cases=n))
    return pa.DataFrameSchema(cols, checks=table_checks, strict=False, name=schema["name"]), rules


# --------------------------------------------------------------------------
# Validation of one table
# --------------------------------------------------------------------------


def key_codes(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """One int64 code per row identifying its combination of ``cols``
    (missing values get a code of their own). Columns are factorised one at
    a time and the running key re-factorised, so it never overflows."""
    key = np.zeros(len(df), dtype=np.int64)
    for i, c in enumerate(cols):
        codes, uniques = pd.factorize(df[c], use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes
        if i < len(cols) - 1:
            key = pd.factorize(key)[0].astype(np.int64)
    return key


def duplicate_candidates(sub: pd.DataFrame, notnull: np.ndarray) -> np.ndarray:
    """Positions of rows whose key hash occurs more than once (a superset of
    the duplicated keys). DuckDB hashes the key columns in parallel and numpy
    sorts the 64-bit hashes: about 1 s for 6 million (person_id, year) keys,
    where factorising the strings in pandas or Arrow takes about 5 s.
    Tables under 200,000 rows skip the hashing."""
    if len(sub) < 200_000:  # small tables: compare every key exactly
        return np.flatnonzero(notnull)
    con = quiet_connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("keys", sub)  # no copy: DuckDB scans the pandas columns
        cols = ", ".join('"' + str(c).replace('"', '""') + '"' for c in sub.columns)
        h = con.execute(f"SELECT hash({cols}) AS h FROM keys").fetchnumpy()["h"]
    finally:
        con.close()
    h = np.asarray(h)[notnull]
    repeated = repeated_hashes(h)
    if len(repeated) == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(notnull)[np.isin(h, repeated)]


def check_unique(typed, cols, file, report, rule, severity=ERROR):
    """Report every row whose key (all parts present) occurred in an earlier
    row; the value names the key and the row where it first occurred."""
    sub = typed[list(cols)]
    notnull = sub.notna().all(axis=1).to_numpy(bool)
    cand = duplicate_candidates(sub, notnull)
    if len(cand) == 0:
        return
    codes = key_codes(sub.iloc[cand], cols)  # exact comparison, only among the candidates
    dup = pd.Series(codes).duplicated(keep="first").to_numpy(bool)
    if not dup.any():
        return
    first = pd.Series(cand, index=codes)
    first = first[~first.index.duplicated(keep="first")]
    code_at = pd.Series(codes, index=cand)

    def values(p):
        out = []
        for i in p:
            k = [py_value(v) for v in sub.iloc[i]]
            shown = k[0] if len(cols) == 1 else "; ".join(f"{c}={v}" for c, v in zip(cols, k))
            out.append(f"{shown} (first in row {int(first[code_at[i]]) + 1})")
        return out

    report.add_rows(file, ", ".join(cols), rule, cand[dup], values, severity=severity)


def check_group_sum(typed, rule, file, report):
    group, col = as_list(rule["group"]), as_list(rule["fields"])[0]
    if not set(group + [col]) <= set(typed.columns):
        return
    sums = typed.groupby(group, dropna=True, observed=True)[col].sum()
    low = sums[sums < rule.get("minimum", 0)]
    if len(low) == 0:
        return
    sev = rule.get("severity", ERROR)
    vals = [("; ".join(f"{g}={py_value(v)}" for g, v in zip(group, k if isinstance(k, tuple) else (k,)))
             + f": sum {py_value(total):.2f}") for k, total in low.items()]
    for v in vals[: report.max_examples]:
        report.add(file, col, rule_text(rule), value=v, severity=sev)
    if len(vals) > report.max_examples:
        report.counts[(sev, file, col, rule_text(rule))] += len(vals) - report.max_examples



def check_fk(child: pd.DataFrame, fk: Mapping, parent: pd.DataFrame, file: str, report: ValidationReport,
              table: str) -> None:
    """Report rows of ``child`` (the table named ``table``) whose key, all
    parts present, is not in ``parent``; single keys with pandas ``isin``,
    composite keys with a DuckDB anti-join."""
    cfields, pfields = as_list(fk["fields"]), as_list(fk["reference"]["fields"])
    if not set(cfields) <= set(child.columns) or not set(pfields) <= set(parent.columns):
        return
    sev = fk.get("x-severity", ERROR)
    rule = fk_rule_text(fk, table)
    if len(cfields) == 1:
        s = child[cfields[0]]
        bad = (s.notna() & ~s.isin(pd.unique(parent[pfields[0]].dropna()))).to_numpy(bool)
        report.add_rows(file, cfields[0], rule, np.flatnonzero(bad), lambda p: s.iloc[p].tolist(), severity=sev)
        return
    # composite keys: an anti-join in DuckDB beats a pandas merge at panel size

    c = child[cfields].copy()
    c.columns = [f"k{i}" for i in range(len(cfields))]
    c["pos"] = np.arange(len(c), dtype=np.int64)
    p = parent[pfields].copy()
    p.columns = [f"k{i}" for i in range(len(pfields))]
    on = " AND ".join(f"c.k{i} = p.k{i}" for i in range(len(cfields)))
    notnull = " AND ".join(f"c.k{i} IS NOT NULL" for i in range(len(cfields)))
    con = quiet_connect()
    try:
        con.register("c", c)
        con.register("p", p)
        pos = con.execute(f"SELECT c.pos FROM c WHERE {notnull} AND NOT EXISTS "
                          f"(SELECT 1 FROM p WHERE {on}) ORDER BY c.pos").fetchnumpy()["pos"]
    finally:
        con.close()
    sub = child[cfields]
    report.add_rows(file, ", ".join(cfields), rule, pos,
                    lambda q: ["; ".join(f"{k}={py_value(v)}" for k, v in zip(cfields, sub.iloc[i])) for i in q],
                    severity=sev)


def run_pandera(typed: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport,
                 bad: Mapping[str, np.ndarray]) -> None:
    pschema, rules = to_pandera(schema, typed.columns)
    try:
        pschema.validate(typed, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        for err in exc.schema_errors:
            col = err.column_name if isinstance(err.schema, pa.Column) or err.column_name else None
            meta = rules.get((col, err.check_index))
            if meta is None:  # e.g. a dtype failure, which coerce_table should have prevented
                report.add(file, col, f"pandera: {err.check}", value=str(err)[:200])
                continue
            text, sev, label = meta
            out = err.check_output
            if out is None:
                report.add(file, label, text, severity=sev)
                continue
            out = out.astype("boolean").fillna(True).to_numpy(bool)
            pos = np.asarray(err.check_output.index)[~out]
            if isinstance(err.schema, pa.Column):
                s = typed[col]
                digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", text.removeprefix("pattern: "))
                if digits:  # split off digit strings that are too short: lost leading zeros
                    vals = s.take(pos)
                    short = (vals.str.fullmatch(r"[0-9]+") & (vals.str.len() < int(digits.group(1)))).fillna(False)
                    short = short.to_numpy(bool)
                    report.add_rows(file, label, text + " (too few digits - leading zeros lost?)", pos[short],
                                    lambda p, s=s: s.iloc[p].tolist(), severity=sev)
                    pos = pos[~short]
                report.add_rows(file, label, text, pos, lambda p, s=s: s.iloc[p].tolist(), severity=sev)
            else:
                cols = label.split(", ")
                report.add_rows(file, label, text, pos,
                                lambda p, cols=cols: ["; ".join(f"{c}={py_value(typed[c].iat[i])}" for c in cols) for i in p],
                                severity=sev)


def validate_frame(df: pd.DataFrame, name: str, file: str | None, report: ValidationReport) -> pd.DataFrame:
    schema = load_schema(name)
    file = file or df.attrs.get("source_file") or schema.get("path") or name
    report.extend(df.attrs.get("read_report"))
    typed, bad = coerce_frame(df, schema, file, report)
    if len(typed) == 0:
        if not schema.get("x-allow-empty"):
            report.add(file, None, "file has no data rows")
        return typed
    check_required(typed, schema, file, report, bad)
    run_pandera(typed, schema, file, report, bad)
    for fdef in schema["fields"]:
        if (fdef.get("constraints") or {}).get("unique") and fdef["name"] in typed.columns:
            if as_list(schema.get("primaryKey")) != [fdef["name"]]:
                check_unique(typed, [fdef["name"]], file, report, "unique", severity_of(fdef, "unique"))
    pk = as_list(schema.get("primaryKey"))
    if pk and set(pk) <= set(typed.columns):
        check_unique(typed, pk, file, report, f"primaryKey: ({', '.join(pk)}) duplicated")
    for fk in schema.get("foreignKeys") or []:
        if fk["reference"].get("resource", "") == "":
            check_fk(typed, fk, typed, file, report, name)
    for rule in schema.get("x-rules") or []:
        if rule["kind"] == "group_sum_minimum":
            check_group_sum(typed, rule, file, report)
    return typed


def validate_table(df: pd.DataFrame, name: str, file: str | None = None, *,
                   max_examples: int = DEFAULT_MAX_EXAMPLES) -> ValidationReport:
    """Validate one table against its contract.

    In: a DataFrame (from :func:`read_table`, or built in memory; any index -
    rows are reported by position), the contract name, and the file name to
    report (default: the name :func:`read_table` recorded, else the
    contract's ``path``). Out: a :class:`ValidationReport` with every failure
    of this table: missing/extra columns, types (including IDs stored as
    numbers), ``required``, ``enum``, ranges, ``pattern``, ``unique``,
    ``primaryKey``, foreign keys within the table, the ``x-rules``
    cross-column rules and the ``x-plausible`` warnings. Foreign keys to
    other tables are checked by :func:`validate_folder`.
    """
    report = ValidationReport(max_examples)
    validate_frame(df, name, file, report)
    return report




def load_table(path: str | Path, name: str | None = None, *, years: Iterable[int] | None = None,
               reader: Callable[[Path], pd.DataFrame] | None = None) -> pd.DataFrame:
    """Read, type and validate one file for use in the pipeline.

    In: path, contract name (default: from the file name), optional years
    and reader as for :func:`read_table`. Out: the typed frame (contract
    columns and dtypes) with its report (warnings) in
    ``attrs["validation"]``. Raises :class:`model.errors.ValidationFailed` on any error.
    """
    path = Path(path)
    name = name or contract_for_file(path)
    report = ValidationReport()
    df = read_frame(path, name, report, years=years, reader=reader)
    if df is None:
        raise InputRejected(report)
    typed = validate_frame(df, name, path.name, report)
    report.raise_if_errors()
    typed.attrs["validation"] = report
    return typed

