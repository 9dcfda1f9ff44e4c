"""A contract's typing and row rules translated into SQL for DuckDB (used by :mod:`.duckdb_engine`).

In: a contract's fields and how the parquet file stores each column
(:func:`~.reading.arrow_kind`). Out: SQL expressions: the typed value of a
column, a predicate true where a value cannot be typed, and one
:class:`SqlCheck` predicate per rule, mirroring the pandas engine rule for
rule, with the same rule texts.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.errors import ConfigError
from model.inputs.contracts.decoding import BOOLEAN_RULE, DATE_RULE, FALSE_TOKENS, TRUE_TOKENS
from model.inputs.contracts.report import py_value
from model.inputs.contracts.spec import ERROR, ROW_RULE_KINDS, WARNING, as_list, field_map, rule_text, severity_of

_TYPE_KINDS = {"int": "int64", "float": "float64", "bool": "boolean", "date": "datetime64[us]"}
_WS = "' ' || chr(9) || chr(10) || chr(13)"


def sql_ident(name: Any) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(v: Any) -> str:
    """A SQL literal for a contract value."""
    if v is None:
        return "NULL"
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"CAST('{float(v)!r}' AS DOUBLE)" if not np.isfinite(v) else repr(float(v))
    if isinstance(v, (_dt.datetime, _dt.date)):
        return f"TIMESTAMP '{pd.Timestamp(v).isoformat(sep=' ')}'"
    return "'" + str(v).replace("'", "''") + "'"


def sql_value(v: Any) -> Any:
    """A value fetched from DuckDB as :func:`py_value` shows the pandas path's value."""
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if type(v).__name__ == "Decimal":
        return float(v)
    return py_value(v)


def sql_type(fdef: Mapping, raw: str, kind: str) -> tuple[str, str | None, str | None, str | None]:
    """Translate the typing of one field to SQL.

    In: the field, the SQL of its raw column and how it is stored
    (:func:`arrow_kind`). Out: ``(typed, bad, note, rule)``: the typed
    expression (VARCHAR, BIGINT, DOUBLE, BOOLEAN or TIMESTAMP), a predicate
    true where a present value cannot be typed (reported per row with
    ``rule``), and ``note``, a failure of the whole column (a string field
    stored as numbers), reported once with the first value. Mirrors
    :func:`coerce_column`.
    """
    typ = fdef["type"]
    text = f"trim(CAST({raw} AS VARCHAR), {_WS})"
    present = f"coalesce({text} <> '', FALSE)"
    if typ == "string":
        if kind == "text":
            return raw, None, None, None
        note = f"type: string required, got {_TYPE_KINDS[kind]} - leading zeros may have been lost"
        if kind == "float":
            typed = (f"CASE WHEN isfinite({raw}) AND {raw} = trunc({raw}) THEN CAST(CAST({raw} AS HUGEINT) AS VARCHAR)"
                     f" ELSE CAST({raw} AS VARCHAR) END")
        else:
            typed = f"CAST({raw} AS VARCHAR)"
        return typed, None, note, None
    if typ == "integer":
        if kind == "int":
            return f"CAST({raw} AS BIGINT)", None, None, None
        if kind == "bool":
            return f"CAST({raw} AS BIGINT)", None, "type: integer required, got boolean", None
        if kind == "float":  # inf and fractions fail; nan is missing (as pandas reads it)
            bad = f"({raw} IS NOT NULL AND NOT isnan({raw}) AND (NOT isfinite({raw}) OR {raw} <> trunc({raw})))"
            return f"CASE WHEN {bad} THEN NULL ELSE TRY_CAST(round({raw}) AS BIGINT) END", bad, None, "type: integer"
        typed = (f"CASE WHEN regexp_full_match({text}, '[-+]?[0-9]+(\\.0)?') "
                 f"THEN TRY_CAST(round(TRY_CAST({text} AS DOUBLE)) AS BIGINT) END")
        return typed, f"({present} AND ({typed}) IS NULL)", None, "type: integer"
    if typ == "number":
        if kind == "int":
            return f"CAST({raw} AS DOUBLE)", None, None, None
        if kind == "float":  # inf and -inf are not numbers the model can use; nan is missing (as pandas reads it)
            bad = f"({raw} IS NOT NULL AND isinf({raw}))"
            return f"CASE WHEN isfinite({raw}) THEN CAST({raw} AS DOUBLE) END", bad, None, "type: number"
        if kind == "bool":
            return f"CAST({raw} AS DOUBLE)", None, "type: number required, got boolean", None
        typed = f"CASE WHEN isfinite(TRY_CAST({text} AS DOUBLE)) THEN TRY_CAST({text} AS DOUBLE) END"
        return typed, f"({present} AND ({typed}) IS NULL)", None, "type: number"
    if typ == "boolean":
        rule = BOOLEAN_RULE
        if kind == "bool":
            return raw, None, None, None
        if kind in ("int", "float"):
            typed = f"CASE WHEN {raw} = 1 THEN TRUE WHEN {raw} = 0 THEN FALSE END"
            return typed, f"({raw} IS NOT NULL AND ({typed}) IS NULL)", None, rule
        low = f"lower({text})"
        typed = (f"CASE WHEN {low} IN ({', '.join(map(sql_literal, sorted(TRUE_TOKENS)))}) THEN TRUE "
                 f"WHEN {low} IN ({', '.join(map(sql_literal, sorted(FALSE_TOKENS)))}) THEN FALSE END")
        return typed, f"({present} AND ({typed}) IS NULL)", None, rule
    if typ == "date":
        if kind == "date":
            return f"CAST({raw} AS TIMESTAMP)", None, None, None
        typed = f"TRY_CAST({text} AS TIMESTAMP)"  # parquet text dates: ISO only (stored text fails anyway)
        return typed, f"({present} AND {typed} IS NULL)", None, DATE_RULE
    raise ConfigError(f"{fdef['name']}: unsupported type {typ!r} in the contract")


@dataclass
class SqlCheck:
    """One rule as SQL: rows where ``pred`` holds fail; ``values`` are the
    SQL expressions shown as the failing value (one: the value itself;
    several: ``name=value; ...``). ``source`` is the one column the rule
    reads (``None`` for the rules across columns)."""

    column: str | None
    rule: str
    severity: str
    pred: str
    values: tuple[tuple[str, str], ...]
    source: str | None = None
    note: bool = False  # a whole-column failure reported once, with the first value


REQUIRED_RULE = "required: value missing"


def sql_value_checks(schema: Mapping, present: Sequence[str], types: Mapping[str, tuple]) -> list[SqlCheck]:
    """The row-level rules of a contract as :class:`SqlCheck` predicates over
    the typed view (columns ``<field>``, ``__raw_<field>`` and
    ``__bad_<field>``), in the order the pandas path reports them: typing,
    ``required``, the column constraints (as :func:`to_pandera`) and the
    row-wise ``x-rules``."""
    fields = field_map(schema)
    checks: list[SqlCheck] = []
    for c in present:
        _, bad, note, trule = types[c]
        fdef = fields[c]
        raw = sql_ident(f"__raw_{c}")
        if note:
            checks.append(SqlCheck(c, note, severity_of(fdef, "type"), f"{raw} IS NOT NULL", ((c, raw),), c, note=True))
        if bad:
            checks.append(SqlCheck(c, trule, severity_of(fdef, "type"), sql_ident(f"__bad_{c}"), ((c, raw),), c))
    for c in present:
        fdef = fields[c]
        if (fdef.get("constraints") or {}).get("required"):
            pred = f"({sql_ident(c)} IS NULL" + (f" AND NOT {sql_ident(f'__bad_{c}')})" if types[c][1] else ")")
            checks.append(SqlCheck(c, REQUIRED_RULE, severity_of(fdef, "required"), pred, ((c, "NULL"),), c))
    for c in present:
        fdef = fields[c]
        con = fdef.get("constraints") or {}
        x = sql_ident(c)
        is_date = fdef["type"] == "date"
        lim = (lambda v: sql_literal(pd.Timestamp(v).to_pydatetime())) if is_date else sql_literal
        val = ((c, x),)

        def add(ok: str, rule: str, sev: str, c: str = c, val: tuple = val) -> None:
            # a missing value passes (pandera: nullable); NOT NULL is NULL, which a filter drops.
            # c and val are bound as defaults (this column's); add is only called in this iteration
            checks.append(SqlCheck(c, rule, sev, f"(NOT ({ok}))", val, c))

        if "enum" in con:
            enum = "[" + ", ".join(map(str, con["enum"])) + "]"
            vals = [str(v) if fdef["type"] == "string" else v for v in con["enum"]]
            add(f"{x} IN ({', '.join(map(sql_literal, vals))})", f"enum: {enum}", severity_of(fdef, "enum"))
        for key, op in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
            if key in con:
                add(f"{x} {op} {lim(con[key])}", f"{key}: {con[key]}", severity_of(fdef, key))
        if "pattern" in con:
            pat = con["pattern"]
            text = f"pattern: {pat}"
            sev = severity_of(fdef, "pattern")
            digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pat)
            if digits:  # digit strings that are too short are reported apart: lost leading zeros
                n = int(digits.group(1))
                bad = f"NOT regexp_full_match({x}, '[0-9]{{{n}}}')"
                short = f"(regexp_full_match({x}, '[0-9]+') AND length({x}) < {n})"
                checks.append(SqlCheck(c, text + " (too few digits - leading zeros lost?)", sev,
                                     f"({bad} AND {short})", val, c))
                checks.append(SqlCheck(c, text, sev, f"({bad} AND NOT {short})", val, c))
            else:
                add(f"regexp_full_match({x}, {sql_literal(pat)})", text, sev)
        for key, op in (("minLength", ">="), ("maxLength", "<=")):
            if key in con:
                add(f"length({x}) {op} {int(con[key])}", f"{key}: {con[key]}", severity_of(fdef, key))
        for key, op in (("minimum", "<"), ("maximum", ">")):
            if key in (fdef.get("x-plausible") or {}):
                v = fdef["x-plausible"][key]
                # only inside the hard range: outside it the value is an error, not also a warning
                hard = f" AND NOT coalesce({x} {op} {lim(con[key])}, FALSE)" if con.get(key) is not None else ""
                checks.append(SqlCheck(c, f"plausible {key}: {v}", WARNING,
                                     f"(coalesce({x} {op} {lim(v)}, FALSE){hard})", val, c))
    for rule in schema.get("x-rules") or []:
        kind, cols = rule["kind"], as_list(rule.get("fields"))
        used = set(cols) | set((rule.get("when") or {}).keys())
        if kind not in ROW_RULE_KINDS or not used <= set(present):
            continue
        a, b = sql_ident(cols[0]), sql_ident(cols[-1])
        if kind == "less_or_equal":
            pred = f"coalesce({a} > {b}, FALSE)"
        elif kind == "implies":
            pred = f"(coalesce({a}, FALSE) AND NOT coalesce({b}, TRUE))"
        elif kind == "not_equal":
            pred = f"coalesce({a} = {b}, FALSE)"
        else:  # required_if
            cond = " AND ".join(f"coalesce({sql_ident(k)} = {sql_literal(v)}, FALSE)" for k, v in rule["when"].items())
            pred = f"({cond} AND {a} IS NULL)"
        checks.append(SqlCheck(", ".join(cols), rule_text(rule), rule.get("severity", ERROR), pred,
                             tuple((k, sql_ident(k)) for k in cols)))
    return checks


def examples_sql(values: Sequence[tuple[str, str]], order: str, k: int, pred: str | None = None) -> str:
    """``min_by`` of the row number and value expressions: the first ``k``
    failing rows in file order, as a list of structs (bounded memory)."""
    parts = [f"r := {order}"] + [f"v{i} := {expr}" for i, (_, expr) in enumerate(values)]
    filt = f" FILTER (WHERE {pred})" if pred else ""
    return f"min_by(struct_pack({', '.join(parts)}), {order}, {max(int(k), 1)}){filt}"


def show_values(values: Sequence[tuple[str, str]], item: Mapping) -> Any:
    vals = [sql_value(item[f"v{i}"]) for i in range(len(values))]
    if len(values) == 1:
        return vals[0]
    return "; ".join(f"{name}={v}" for (name, _), v in zip(values, vals))

