"""Data contracts: read, type and validate the model's input tables.

The contracts live in ``data_schema/<table>.schema.yaml`` (Frictionless Table
Schema vocabulary; keys prefixed ``x-`` are this project's extensions). They
are the data dictionary. This module

* reads a table (:func:`read_table`): CSV, parquet or an Excel sheet, every
  column read as text before any parsing so that "012345" stays "012345";
  a CSV saved by Danish Excel (semicolons, decimal commas, a byte-order mark,
  Windows-1252) is read with those conventions and flagged with a warning;
* types it against its contract (:func:`coerce_table`) and validates it
  (:func:`validate_table`, :func:`validate_file`), translating the contract
  into a pandera ``DataFrameSchema`` (:func:`to_pandera`) run with
  ``lazy=True``;
* validates a whole data folder with the checks across tables: foreign keys
  and plausibility (:func:`validate_folder`);
* collects every failure into a :class:`ValidationReport` of
  :class:`Failure` (file, column, row, value, rule, severity), never stopping
  at the first, and listing at most ``max_examples`` (default 20) examples
  per (file, column, rule) together with the full count;
* raises :class:`ValidationFailed` (from :func:`load_table` or
  :meth:`ValidationReport.raise_if_errors`) so a pipeline writes nothing
  from bad inputs.

Row convention
--------------
``Failure.row`` is the 1-based number of the *data* row: the first record
after the header is row 1. In a CSV file or an Excel sheet the header is
line (sheet row) 1, so data row r is line r + 1; in a parquet file row r is
the r-th record. ``None`` means the failure concerns a whole file or column.
For a DataFrame passed in directly, row r is position r - 1 (the index is
ignored).

Who checks what
---------------
pandera runs the value constraints on the typed frame (``enum``,
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``,
``pattern``, ``minLength``/``maxLength``, the ``x-plausible`` warnings and
the row-wise ``x-rules``), each check capped at 20 failure cases; the full
count comes from the check's boolean output. Typing, ``required``, ``unique``
and ``primaryKey`` are done here with vectorised pandas/Arrow instead:
pandera reports every null or duplicate as a separate failure case and took
10-15 s per column on 6 million rows when a column failed systematically.
Keys are hashed in DuckDB and only rows with a repeated hash are compared
exactly; the digit patterns ``^[0-9]{n}$`` are checked as length + ASCII
digits in Arrow. Foreign keys across tables and the plausibility checks are
plain pandas (single-column keys) or a DuckDB anti-join (composite keys).

Parquet files out of core
-------------------------
:func:`validate_folder` and :func:`validate_file` do not load the parquet
inputs (persons.parquet, 6 million rows a year; services.parquet, up to
100 million service lines a year) into pandas: the contract is translated
into SQL and run by DuckDB over ``read_parquet`` within a memory limit
(:data:`DUCKDB_MEMORY_LIMIT`, spilling to a temporary folder beyond it),
with the same :class:`Failure` records as the pandas path (see
:func:`_sql_validate_parquet_checks`). Value rules are evaluated on the
distinct values of each column, row rules in one scan, and the failing rows
are read only when something failed. The pandas path stays the reference
(``validate_folder(engine="pandas")``, :func:`validate_table`,
:func:`load_table`); ``tables=`` limits a folder check to some tables.

Danish Excel
------------
A CSV saved by Danish Excel is read, not refused: the delimiter is sniffed
from the header (``;`` or tab), a UTF-8 byte-order mark is dropped, text
that is not UTF-8 is decoded as Windows-1252, decimal commas (with ``.``
thousands separators) in number columns and ``.`` thousands separators in
integer columns are rewritten, day-first dates (DD-MM-YYYY, DD.MM.YYYY,
DD/MM/YYYY) are read as dates, and SAND/FALSK (and ja/nej, yes/no) are read
as booleans. The file then gets one warning naming what was found ("file
looks saved by (Danish) Excel: read with those conventions (...)"), so the
user can check the numbers.

One reader
----------
The decoding (encoding, delimiter, booleans, dates) is
:mod:`model.readers`, and the model's readers read through this module's
reading and typing (:func:`model.readers.read_typed`): what validation
accepts is what the model reads. Numbers must be finite: ``inf``, ``-inf``
and ``nan`` text, and inf in a parquet float column, are type errors (a NaN
stored in a parquet float column reads as missing). A parquet column of a
number, integer, boolean or date field stored as text, and a column name
stored twice, are errors: the model reads the stored types.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import functools
from importlib import resources
import io
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow
import pyarrow.compute  # noqa: F401  (pyarrow.compute.cast)
import pyarrow.parquet as pq
import yaml

from model.inputs import readers as _readers

__all__ = [
    "Failure",
    "ValidationReport",
    "ValidationFailed",
    "schema_dir",
    "schema_names",
    "load_schema",
    "to_pandera",
    "read_table",
    "coerce_table",
    "validate_table",
    "validate_file",
    "load_table",
    "validate_folder",
    "FOLDER_TABLES",
    "TABLE_ALIASES",
    "DUCKDB_MEMORY_LIMIT",
    "ROW_CONVENTION",
]

#: Tables a data folder is checked for, in this order (optional ones carry
#: ``x-optional: true`` in their contract and are validated when present).
FOLDER_TABLES: tuple[str, ...] = (
    "municipalities",
    "clinics",
    "persons",
    "population_projection",
    "services",
    "fee_index",
    "capacity_report_annex1",
    "capacity_report_annex2",
)

ROW_CONVENTION = (
    "row = data row counted from 1 (the first record after the header); in a CSV "
    "file or Excel sheet the header is line 1, so row r is line r+1"
)

DEFAULT_MAX_EXAMPLES = 20

ERROR = "error"
WARNING = "warning"

#: pandas dtype each Frictionless type is coerced to before validation.
PANDAS_DTYPES: dict[str, str] = {
    "string": "str",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[us]",
}

# One decoding for validation and the model: see model.readers
_TRUE = _readers.TRUE_TOKENS  # true/1/yes/ja/SAND, case-insensitive
_FALSE = _readers.FALSE_TOKENS  # false/0/no/nej/FALSK
_DANISH_NUMBER = re.compile(r"^\s*[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?\s*$")
_DANISH_THOUSANDS_INT = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})+\s*$")
_DANISH_DATE = re.compile(r"^\s*(\d{1,2})[-./](\d{1,2})[-./](\d{4})\s*$")
_INTEGER_TEXT = re.compile(r"^\s*[-+]?\d+(\.0)?\s*$")


# --------------------------------------------------------------------------
# Contracts
# --------------------------------------------------------------------------


def schema_dir() -> Path:
    """Return the folder holding the ``<table>.schema.yaml`` contracts.

    In: nothing. Out: the contracts shipped with the package
    (``model/data_schema``: package data of every install; in the repository
    a link to the top-level ``data_schema/``).  Raises ``FileNotFoundError``
    if they are missing (a broken install).
    """
    folder = Path(str(resources.files("model").joinpath("data_schema")))
    if not folder.is_dir():
        raise FileNotFoundError(f"data_schema/ not found at {folder}: the package was installed without its contracts")
    return folder


def schema_names() -> list[str]:
    """Return the names of all contracts in :func:`schema_dir`, sorted."""
    return sorted(p.name[: -len(".schema.yaml")] for p in schema_dir().glob("*.schema.yaml"))


@functools.lru_cache(maxsize=None)
def _load_schema_cached(name: str) -> dict:
    path = schema_dir() / f"{name}.schema.yaml"
    if not path.is_file():
        raise KeyError(f"no contract {path.name} in {path.parent} (known: {', '.join(schema_names())})")
    with path.open(encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    if schema.get("name") != name:
        raise ValueError(f"{path.name}: name is {schema.get('name')!r}, expected {name!r}")
    return schema


def load_schema(name: str) -> dict:
    """Read the contract of one table.

    In: a table name such as ``"persons"``. Out: the parsed
    ``data_schema/<name>.schema.yaml`` as a dict (a fresh copy each call, so
    callers may modify it). Raises ``KeyError`` for an unknown name.
    """
    return copy.deepcopy(_load_schema_cached(name))


def _fields(schema: Mapping) -> dict[str, dict]:
    return {f["name"]: f for f in schema["fields"]}


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _severity(fdef: Mapping, constraint: str) -> str:
    """Severity of one constraint of a field: ``x-severity`` may be a string
    (all constraints) or a mapping constraint -> severity; default error."""
    sev = fdef.get("x-severity", ERROR)
    if isinstance(sev, Mapping):
        sev = sev.get(constraint, ERROR)
    return sev


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One failed check.

    file: file name (or the name given to :func:`validate_table`).
    column: column name; for rules over several columns, the names joined by
    ", "; ``None`` for a failure of the whole file.
    row: 1-based data row (see :data:`ROW_CONVENTION`), ``None`` for a whole
    file or column. value: the offending value as found (text as read, or a
    description such as ``"vacant_capacities=3; capacities=2"``).
    rule: the contract rule in the contract's words, e.g. ``"maximum: 125"``.
    severity: ``"error"`` or ``"warning"``.
    """

    file: str | None
    column: str | None
    row: int | None
    value: Any
    rule: str
    severity: str = ERROR


class ValidationReport:
    """All failures found in one table or data folder.

    ``failures`` lists the examples (at most ``max_examples`` per file,
    column, rule and severity); ``counts`` holds the full number of failures
    per (severity, file, column, rule), so a rule broken in 6 million rows is
    listed with 20 examples and the count 6,000,000.
    """

    def __init__(self, max_examples: int = DEFAULT_MAX_EXAMPLES, source: str | None = None):
        self.max_examples = max_examples
        self.source = source
        self.failures: list[Failure] = []
        self.counts: dict[tuple, int] = {}
        self._shown: dict[tuple, int] = {}

    # -- building ---------------------------------------------------------
    def add(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        *,
        row: int | None = None,
        value: Any = None,
        severity: str = ERROR,
        count: int = 1,
    ) -> None:
        """Record one failure (counted ``count`` times)."""
        key = (severity, file, column, rule)
        self.counts[key] = self.counts.get(key, 0) + count
        if self._shown.get(key, 0) < self.max_examples:
            self._shown[key] = self._shown.get(key, 0) + 1
            self.failures.append(Failure(file, column, row, value, rule, severity))

    def add_rows(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        positions: np.ndarray | Sequence[int],
        values: Sequence[Any] | Callable[[np.ndarray], Sequence[Any]],
        *,
        severity: str = ERROR,
    ) -> None:
        """Record failures at 0-based ``positions`` (reported as rows
        position + 1). ``values`` is either aligned with ``positions`` or a
        function of the first ``max_examples`` positions (so 6 million values
        are never formatted)."""
        positions = np.asarray(positions)
        n = len(positions)
        if n == 0:
            return
        key = (severity, file, column, rule)
        room = max(self.max_examples - self._shown.get(key, 0), 0)
        shown = positions[:room]
        vals = values(shown) if callable(values) else list(values)[:room]
        for pos, val in zip(shown, vals):
            self.failures.append(Failure(file, column, int(pos) + 1, _py(val), rule, severity))
        self._shown[key] = self._shown.get(key, 0) + len(shown)
        self.counts[key] = self.counts.get(key, 0) + n

    def add_found(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        rows: Sequence[int | None],
        values: Sequence[Any],
        count: int,
        *,
        severity: str = ERROR,
    ) -> None:
        """Record ``count`` failures of which ``rows`` (1-based data rows,
        ascending) with ``values`` are the first ones; used where the
        failures were counted elsewhere (the DuckDB path) and only the
        examples were fetched."""
        if count <= 0:
            return
        key = (severity, file, column, rule)
        room = max(self.max_examples - self._shown.get(key, 0), 0)
        shown = list(zip(rows, values))[:room]
        for row, val in shown:
            self.failures.append(Failure(file, column, None if row is None else int(row), _py(val), rule, severity))
        self._shown[key] = self._shown.get(key, 0) + len(shown)
        self.counts[key] = self.counts.get(key, 0) + int(count)

    def extend(self, other: "ValidationReport | None") -> "ValidationReport":
        """Merge another report into this one (examples stay capped)."""
        if other is None:
            return self
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        for f in other.failures:
            key = (f.severity, f.file, f.column, f.rule)
            if self._shown.get(key, 0) < self.max_examples:
                self._shown[key] = self._shown.get(key, 0) + 1
                self.failures.append(f)
        return self

    # -- reading ----------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def errors(self) -> list[Failure]:
        """The listed error examples."""
        return [f for f in self.failures if f.severity == ERROR]

    @property
    def warnings(self) -> list[Failure]:
        """The listed warning examples."""
        return [f for f in self.failures if f.severity == WARNING]

    @property
    def n_errors(self) -> int:
        """Total number of errors, including those not listed."""
        return sum(n for (sev, *_), n in self.counts.items() if sev == ERROR)

    @property
    def n_warnings(self) -> int:
        """Total number of warnings, including those not listed."""
        return sum(n for (sev, *_), n in self.counts.items() if sev == WARNING)

    @property
    def files(self) -> list[str]:
        """Files with at least one failure, in order of first appearance."""
        return list(dict.fromkeys(f for (_, f, _, _) in self.counts if f is not None))

    def to_frame(self) -> pd.DataFrame:
        """The listed failures as a DataFrame with columns file, column, row,
        value, rule, severity (errors first); ``row`` is nullable Int64."""
        cols = ["file", "column", "row", "value", "rule", "severity"]
        rows = [asdict(f) for f in self._sorted()]
        out = pd.DataFrame(rows, columns=cols).astype({"row": "Int64", "value": object})
        return out

    def summary_frame(self) -> pd.DataFrame:
        """One row per (severity, file, column, rule) with the full count and
        the number of examples listed."""
        rows = [
            {"severity": s, "file": f, "column": c, "rule": r, "count": n, "listed": self._shown.get((s, f, c, r), 0)}
            for (s, f, c, r), n in self.counts.items()
        ]
        out = pd.DataFrame(rows, columns=["severity", "file", "column", "rule", "count", "listed"])
        return out.sort_values("severity", kind="stable", key=lambda s: s != ERROR).reset_index(drop=True)

    def summary_line(self) -> str:
        """One line: verdict, error and warning counts, and the files
        concerned, e.g. ``Data validation FAILED: 3 errors (3 rules), 1
        warning (1 rule) in clinics.csv, persons.parquet``."""
        verdict = "OK" if self.ok else "FAILED"
        ne, nw = self.n_errors, self.n_warnings
        re_ = sum(1 for k in self.counts if k[0] == ERROR)
        rw = sum(1 for k in self.counts if k[0] == WARNING)

        def part(n: int, word: str, rules: int) -> str:
            s = f"{n:,} {word}{'s' if n != 1 else ''}"
            return s + (f" ({rules} rule{'s' if rules != 1 else ''})" if n else "")

        where = f" in {', '.join(self.files)}" if self.files else ""
        src = f" of {self.source}" if self.source else ""
        return f"Data validation{src} {verdict}: {part(ne, 'error', re_)}, {part(nw, 'warning', rw)}{where}"

    def format(self, max_rows: int = 60, per_rule: int = 5, value_width: int = 60) -> str:
        """A readable report: the summary line, the row convention, and a
        table of severity, file, column, row, value and rule, errors first,
        with at most ``per_rule`` examples per (file, column, rule) followed
        by a "... N more" line with the full count, and at most ``max_rows``
        example lines in all (:meth:`to_frame` has every listed example)."""
        lines = [self.summary_line()]
        if not self.counts:
            return lines[0]
        lines.append(f"({ROW_CONVENTION}; '-' = whole file or column)")
        body: list[tuple[str, ...]] = []
        more: dict[int, str] = {}
        printed: dict[tuple, int] = {}
        omitted = 0
        for f in self._sorted():
            key = (f.severity, f.file, f.column, f.rule)
            if printed.get(key, 0) >= per_rule:
                continue
            if len(body) >= max_rows:
                omitted += 1
                continue
            body.append((
                f.severity,
                f.file or "-",
                f.column or "-",
                "-" if f.row is None else str(f.row),
                _short(f.value, value_width) if (f.value is not None or f.row is not None) else "-",
                f.rule,
            ))
            printed[key] = printed.get(key, 0) + 1
            rest = self.counts[key] - printed[key]
            more[len(body) - 1] = (
                f"... {rest:,} more failing {'rows' if f.row is not None else 'cases'} for "
                f"{f.file} / {f.column or '-'} / {f.rule}" if rest > 0 else ""
            )
        head = ("severity", "file", "column", "row", "value", "rule")
        widths = [max(len(head[i]), *(len(r[i]) for r in body)) for i in range(5)]
        fmt = lambda r: "  ".join(  # noqa: E731
            [r[i].rjust(widths[i]) if i == 3 else r[i].ljust(widths[i]) for i in range(5)] + [r[5]]
        )
        lines.append(fmt(head))
        lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
        for i, r in enumerate(body):
            lines.append(fmt(r))
            nxt_same = i + 1 < len(body) and body[i + 1][:3] == r[:3] and body[i + 1][5] == r[5]
            if more.get(i) and not nxt_same:
                lines.append(" " * (sum(widths[:3]) + 6) + more[i])
        if omitted:
            lines.append(f"... {omitted:,} more listed failures not printed (max_rows={max_rows}); see .to_frame()")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationFailed` if the report holds an error."""
        if not self.ok:
            raise ValidationFailed(self)

    def _sorted(self) -> list[Failure]:
        """Errors first; the examples of one (file, column, rule) together,
        in order of first appearance."""
        order: dict[tuple, int] = {}
        for f in self.failures:
            order.setdefault((f.severity, f.file, f.column, f.rule), len(order))
        return sorted(self.failures, key=lambda f: (f.severity != ERROR, order[(f.severity, f.file, f.column, f.rule)]))

    def __repr__(self) -> str:
        return f"<ValidationReport {self.summary_line()}>"

    def __str__(self) -> str:
        return self.format()


class ValidationFailed(ValueError):
    """Raised by pipeline commands when the inputs break their contracts, so
    nothing is written. ``.report`` holds the :class:`ValidationReport`. A
    ``ValueError``, so the command line prints the report as the failure
    report (exit code 2), never a traceback."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.format(max_rows=40))


def _py(v: Any) -> Any:
    """A plain Python value for the report (None for missing values)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _short(v: Any, width: int) -> str:
    if v is None:
        return "<missing>" if width else ""
    s = repr(v) if isinstance(v, str) and (v != v.strip() or v == "") else str(v)
    return s if len(s) <= width else s[: width - 1] + "…"


# --------------------------------------------------------------------------
# Contract -> pandera
# --------------------------------------------------------------------------


def _rule_mask(rule: Mapping, df: pd.DataFrame) -> pd.Series:
    """True where a row passes an ``x-rules`` entry (row-wise kinds only)."""
    kind, cols = rule["kind"], _as_list(rule.get("fields"))
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
        raise ValueError(f"unknown x-rules kind {kind!r}")
    return ~pd.Series(np.asarray(bad, dtype=bool), index=df.index)


def _rule_text(rule: Mapping) -> str:
    kind, cols = rule["kind"], _as_list(rule.get("fields"))
    sym = {
        "less_or_equal": f"{cols[0]} <= {cols[-1]}",
        "implies": f"{cols[0]} implies {cols[-1]}",
        "not_equal": f"{cols[0]} != {cols[-1]}",
        "required_if": f"{cols[0]} required when "
        + " and ".join(f"{k} = {v}" for k, v in (rule.get("when") or {}).items()),
        "group_sum_minimum": f"sum of {cols[0]} per ({', '.join(_as_list(rule.get('group')))})"
        f" >= {rule.get('minimum')}",
    }.get(kind, kind)
    return f"rule {rule['name']}: {sym}"


ROW_RULE_KINDS = {"less_or_equal", "implies", "not_equal", "required_if"}


def _pattern_ok(pattern: str, s: pd.Series) -> pd.Series:
    """True where the whole value matches a Frictionless ``pattern``. The
    common code pattern ``^[0-9]{n}$`` is checked as "n bytes, all ASCII
    digits" in Arrow, about eight times faster than the regular expression
    on millions of rows; any other pattern uses ``str.fullmatch``."""
    digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pattern)
    if digits:
        arr = pyarrow.array(_to_text(s), from_pandas=True)
        ok = pyarrow.compute.and_(pyarrow.compute.equal(pyarrow.compute.binary_length(arr), int(digits.group(1))),
                                  pyarrow.compute.ascii_is_decimal(arr))
        return pd.Series(ok.fill_null(False).to_numpy(zero_copy_only=False), index=s.index)
    return s.str.fullmatch(pattern).fillna(False).astype(bool)


def _plausible(key: str, limit: Any, hard: Any, s: pd.Series) -> pd.Series:
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
            checks.append((pa.Check.isin(con["enum"], n_failure_cases=n), f"enum: {enum}", _severity(fdef, "enum")))
        for key, make in (("minimum", pa.Check.ge), ("maximum", pa.Check.le),
                          ("exclusiveMinimum", pa.Check.gt), ("exclusiveMaximum", pa.Check.lt)):
            if key in con:
                checks.append((make(lim(con[key]), n_failure_cases=n), f"{key}: {con[key]}", _severity(fdef, key)))
        if "pattern" in con:
            checks.append((pa.Check(functools.partial(_pattern_ok, con["pattern"]), name="pattern",
                                    n_failure_cases=n), f"pattern: {con['pattern']}", _severity(fdef, "pattern")))
        for key, kw in (("minLength", "min_value"), ("maxLength", "max_value")):
            if key in con:
                checks.append((pa.Check.str_length(**{kw: con[key]}, n_failure_cases=n), f"{key}: {con[key]}",
                               _severity(fdef, key)))
        for key in ("minimum", "maximum"):
            if key in (fdef.get("x-plausible") or {}):
                v = fdef["x-plausible"][key]
                hard = None if con.get(key) is None else lim(con[key])
                checks.append((pa.Check(functools.partial(_plausible, key, lim(v), hard), name=f"plausible_{key}",
                                        n_failure_cases=n), f"plausible {key}: {v}", WARNING))
        for i, (_, text, sev) in enumerate(checks):
            rules[(name, i)] = (text, sev, name)
        cols[name] = pa.Column(PANDAS_DTYPES[fdef["type"]], [c for c, _, _ in checks], nullable=True,
                               required=True, coerce=False)
    table_checks = []
    for rule in schema.get("x-rules") or []:
        used = set(_as_list(rule.get("fields"))) | set((rule.get("when") or {}).keys())
        if rule["kind"] not in ROW_RULE_KINDS or not used <= present:
            continue
        label = ", ".join(_as_list(rule["fields"]))
        rules[(None, len(table_checks))] = (_rule_text(rule), rule.get("severity", ERROR), label)
        table_checks.append(pa.Check(functools.partial(_rule_mask, rule), name=rule["name"], n_failure_cases=n))
    return pa.DataFrameSchema(cols, checks=table_checks, strict=False, name=schema["name"]), rules


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


_sniff_delimiter = _readers.sniff_delimiter  # the one decoding layer (model.readers)
_decode = _readers.decode_bytes


def _danish_conventions(df: pd.DataFrame, schema: Mapping, danish: bool) -> list[str]:
    """Rewrite Danish-Excel number text to the contract's form, in place, for
    number/integer fields, and note day-first dates (typed by
    :func:`model.readers.parse_dates`, which reads them in every file
    format); returns notes on what was found."""
    notes: list[str] = []
    for fdef in schema["fields"]:
        name, typ = fdef["name"], fdef["type"]
        if name not in df.columns or typ not in ("number", "integer", "date"):
            continue
        s = df[name]
        if typ == "number":
            has_comma = s.str.contains(",", regex=False).fillna(False)
            if has_comma.any():
                ok = has_comma & s.str.match(_DANISH_NUMBER).fillna(False)
                plain = s[ok].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
                df.loc[ok, name] = plain.str.strip()
                if ok.any():
                    notes.append("decimal commas")
        elif typ == "integer" and danish:
            ok = s.str.match(_DANISH_THOUSANDS_INT).fillna(False)
            if ok.any():
                df.loc[ok, name] = s[ok].str.replace(".", "", regex=False).str.strip()
                notes.append("thousands separators")
        elif typ == "date":  # noted only: model.readers.parse_dates reads day-first dates (failures show the text)
            if s.str.match(_DANISH_DATE).fillna(False).any():
                notes.append("dates written day-month-year")
    return list(dict.fromkeys(notes))


def _read_csv(path: Path, schema: Mapping, report: ValidationReport, file: str) -> pd.DataFrame | None:
    raw = path.read_bytes()
    if not raw.strip():
        report.add(file, None, "file is empty (0 bytes)" if not raw else "file is empty (no header, no rows)")
        return None
    text, notes = _decode(raw)
    header = text.splitlines()[0] if text else ""
    sep = _sniff_delimiter(header)
    if sep == ";":
        notes.insert(0, "semicolon separators")
    elif sep == "\t":
        notes.insert(0, "tab separators")
    names = next(csv.reader([header], delimiter=sep))
    repeated = (schema.get("x-repeated-heading") or {}).get("heading")
    dups = [c for c in dict.fromkeys(names) if names.count(c) > (2 if c == repeated else 1)]
    for c in dups:
        report.add(file, c, "column name appears more than once in the header", value=names.count(c))
    na = [str(v) for v in schema.get("missingValues", [""])]
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=na,
                         skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as exc:
        report.add(file, None, f"file unreadable as CSV: {str(exc).strip()}")
        return None
    danish = bool(notes)  # separators or encoding already say "Excel"
    notes += _danish_conventions(df, schema, danish)
    if notes:
        report.add(file, None, "file looks saved by (Danish) Excel: read with those conventions ("
                   + ", ".join(dict.fromkeys(notes)) + "); check that numbers and codes came through",
                   severity=WARNING)
    return df


def _parquet_schema_failures(arrow: pyarrow.Schema, schema: Mapping, file: str, report: ValidationReport) -> bool:
    """Check how a parquet file stores its columns, before reading them.

    In: the file's Arrow schema, the contract, the file name, the report.
    Reports (errors, per column): a column name stored more than once (then
    nothing else of the file can be read reliably: returns False), and a
    contract column of type integer, number, boolean or date stored as text,
    e.g. a year column of strings: validation could type the text, but the
    model reads the stored type (and filters years on it), so the extract
    must write the type. Out: True when the columns can be read.
    """
    names = list(arrow.names)
    dups = [c for c in dict.fromkeys(names) if names.count(c) > 1]
    for c in dups:
        report.add(file, c, "column name appears more than once in the parquet file", value=names.count(c))
    if dups:
        return False
    for fdef in schema["fields"]:
        c, typ = fdef["name"], fdef["type"]
        if c in names and typ != "string" and _arrow_kind(arrow.field(c).type) == "text":
            report.add(file, c, f"stored as text in the parquet file, but the contract's type is {typ}: "
                                f"the model reads the stored type, so write the column as {typ}",
                       severity=_severity(fdef, "type"))
    return True


def _read_parquet(path: Path, schema: Mapping, report: ValidationReport, file: str,
                  years: Iterable[int] | None) -> pd.DataFrame | None:
    if path.stat().st_size == 0:
        report.add(file, None, "file is empty (0 bytes)")
        return None
    try:
        pfile = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        report.add(file, None, f"file unreadable as parquet: {exc}")
        return None
    if not _parquet_schema_failures(pfile.schema_arrow, schema, file, report):
        return None
    names = pfile.schema_arrow.names
    wanted = [f["name"] for f in schema["fields"] if f["name"] in names]
    extra = [c for c in names if c not in _fields(schema)]
    filters = None
    if years is not None and "year" in names and pyarrow.types.is_integer(pfile.schema_arrow.field("year").type):
        filters = [("year", "in", [int(y) for y in years])]
    table = pq.read_table(path, columns=wanted, filters=filters)
    for i, fld in enumerate(table.schema):  # dictionary-encoded columns: plain values, not categoricals
        if pyarrow.types.is_dictionary(fld.type):
            table = table.set_column(i, fld.name, pyarrow.compute.cast(table.column(i), fld.type.value_type))

    def mapper(t: pyarrow.DataType):
        if pyarrow.types.is_integer(t):
            return pd.Int64Dtype()
        if pyarrow.types.is_floating(t):
            return pd.Float64Dtype()
        if pyarrow.types.is_boolean(t):
            return pd.BooleanDtype()
        if pyarrow.types.is_string(t) or pyarrow.types.is_large_string(t) or pyarrow.types.is_string_view(t):
            return pd.StringDtype("pyarrow", na_value=np.nan)
        return None

    df = table.to_pandas(types_mapper=mapper, self_destruct=True)
    # Columns outside the contract are not loaded; they are reported here.
    df.attrs["extra_columns"] = extra
    return df


def _read_xlsx(path: Path, name: str) -> pd.DataFrame:
    """The contract's sheet of a workbook, cells as Python objects, headings
    in row 1. For ``capacity_report_annex<n>`` the sheet named "Bilag <n>"
    (or "Annex <n>") is used when there is one, else the first sheet."""
    sheet: str | int = 0
    m = re.search(r"annex(\d)$", name)
    if m:
        with pd.ExcelFile(path) as book:
            for title in book.sheet_names:
                if re.fullmatch(rf"\s*(bilag|annex)\s*{m.group(1)}\s*", title, flags=re.IGNORECASE):
                    sheet = title
    df = pd.read_excel(path, sheet_name=sheet, dtype=object, header=0)
    return df.map(lambda v: None if isinstance(v, str) and v.strip() == "" else v)


def _read(path: str | Path, name: str, report: ValidationReport, *, years: Iterable[int] | None = None,
          reader: Callable[[Path], pd.DataFrame] | None = None, file: str | None = None) -> pd.DataFrame | None:
    path = Path(path)
    schema = load_schema(name)
    file = file or path.name
    if not path.exists():
        report.add(file, None, f"file missing (expected {path})")
        return None
    if path.is_dir():
        report.add(file, None, "expected a file, found a folder")
        return None
    suffix = path.suffix.lower()
    if reader is not None or suffix in (".xlsx", ".xlsm", ".xls"):
        if path.stat().st_size == 0:
            report.add(file, None, "file is empty (0 bytes)")
            return None
        try:
            df = reader(path) if reader is not None else _read_xlsx(path, name)
        except Exception as exc:  # openpyxl / a user hook may raise anything
            report.add(file, None, f"file unreadable: {exc}")
            return None
    elif suffix == ".parquet":
        df = _read_parquet(path, schema, report, file, years)
    else:
        df = _read_csv(path, schema, report, file)
    if df is None:
        return None
    df = _repeated_heading(df, schema, report, file)
    if years is not None and "year" in df.columns and suffix != ".parquet":
        yr = pd.to_numeric(df["year"], errors="coerce")
        df = df[yr.isin(list(years)) | yr.isna()].reset_index(drop=True)
    df.attrs["source_file"] = file
    return df


def _repeated_heading(df: pd.DataFrame, schema: Mapping, report: ValidationReport, file: str) -> pd.DataFrame:
    """A sheet laid out as the guidance prints it: annex 2 repeats "Antal udmøntede kapaciteter" where the
    vacant capacities go (contract key ``x-repeated-heading``: ``heading``, ``second_is``).  The second
    occurrence (pandas names it ``<heading>.1``) is read as ``second_is``, with a note."""
    rule = schema.get("x-repeated-heading")
    if not rule:
        return df
    second, target = f"{rule['heading']}.1", rule["second_is"]
    if second in df.columns and target not in df.columns:
        report.add(file, target, f"the heading '{rule['heading']}' appears twice, as the guidance prints the "
                   f"template: the second is read as '{target}'", severity=WARNING)
        return df.rename(columns={second: target})
    return df


def read_table(path: str | Path, name: str, *, years: Iterable[int] | None = None,
               reader: Callable[[Path], pd.DataFrame] | None = None) -> pd.DataFrame:
    """Read one input file as text-safe columns, not yet typed.

    In: the file's path (``.csv``, ``.parquet``, or ``.xlsx`` for the
    capacity-report annexes), the contract name, optionally the years to keep
    (parquet files are filtered while reading) and ``reader``, a function
    ``path -> DataFrame`` that replaces the built-in reader (e.g.
    ``model.ingest``'s Excel reader).

    Out: a DataFrame with the file's columns. CSV: every column is read as
    text (``dtype=str`` before any parsing, so "012345" stays "012345");
    decimal commas and (in a Danish Excel file) thousands separators are
    rewritten to the contract's form in number/integer columns (day-first
    dates stay as written; typing reads them). Parquet: the contract's columns with their
    stored types (nullable pandas dtypes; columns outside the contract are
    not loaded and are listed in ``attrs["extra_columns"]``). Excel: cell
    values as objects. ``attrs["read_report"]`` holds what reading found
    (e.g. the Danish-Excel warning); :func:`validate_table` includes it.

    Raises :class:`ValidationFailed` if the file is missing, empty or
    unreadable. Use :func:`load_table` for a typed, validated table.
    """
    report = ValidationReport()
    df = _read(path, name, report, years=years, reader=reader)
    if df is None:
        raise ValidationFailed(report)
    if report.counts:  # small: only what reading found (format notes)
        df.attrs["read_report"] = report
    return df


# --------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------


def _num_text(v: Any) -> Any:
    """A cell as text: numbers without a trailing .0 (12345.0 -> "12345")."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def _to_text(s: pd.Series) -> pd.Series:
    """Any column as a "str" column. String and numeric columns are
    converted in Arrow (integral floats become "12345", not "12345.0");
    only object columns (mixed Excel cells) go value by value."""
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
        return s.astype("str")
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        arr = pyarrow.compute.cast(pyarrow.array(s, from_pandas=True), pyarrow.string())
        return pd.Series(pd.array(arr, dtype=_STR), index=s.index, name=s.name)
    return s.astype(object).map(_num_text).astype("str")


def _is_text(s: pd.Series) -> bool:
    if s.dtype == object:
        vals = s.dropna()
        return bool(vals.map(lambda v: isinstance(v, str)).all()) if len(vals) else True
    return pd.api.types.is_string_dtype(s.dtype)


def _coerce_column(s: pd.Series, fdef: Mapping, file: str,
                   report: ValidationReport) -> tuple[pd.Series, np.ndarray | None]:
    """Type one column to the contract's dtype.

    In: the column, its field definition, the file name and the report.
    Out: ``(typed column, mask)``: ``mask`` marks rows whose value could not
    be typed (reported here as ``type: ...``, missing in the typed column),
    ``None`` if there were none. Columns already of the right type pass
    through without a copy (the parquet case)."""
    typ, name = fdef["type"], fdef["name"]
    target = PANDAS_DTYPES[typ]
    sev = _severity(fdef, "type")
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    dt = s.dtype
    text = _is_text(s)

    def fail(bad: np.ndarray, rule: str) -> np.ndarray | None:
        if not bad.any():
            return None
        report.add_rows(file, name, rule, np.flatnonzero(bad), lambda p: s.iloc[p].tolist(), severity=sev)
        return bad

    if typ == "string":
        if text:
            return (s if dt == target else s.astype(target)), None
        if dt == object:  # mixed cells, e.g. an Excel column with some numbers
            nonstr = s.map(lambda v: v is not None and not isinstance(v, str) and not pd.isna(v)).to_numpy(bool)
            fail(nonstr, "type: string required, got a number - leading zeros may have been lost")
            return _to_text(s), None
        first = s.dropna()
        report.add(file, name, f"type: string required, got {str(dt).lower()} - leading zeros may have been lost",
                   value=_py(first.iloc[0]) if len(first) else None, severity=sev)
        return _to_text(s), None

    if typ in ("integer", "number"):
        if pd.api.types.is_bool_dtype(dt):
            report.add(file, name, f"type: {typ} required, got {dt}", severity=sev)
            return s.astype(target), None
        if pd.api.types.is_integer_dtype(dt):
            return (s if dt == target else s.astype(target)), None
        if pd.api.types.is_numeric_dtype(dt):
            num = s.astype("Float64")  # a NaN stored in a float column reads as missing (NA)
            present = num.notna().to_numpy(bool)
        else:
            txt = _to_text(s).str.strip()
            present = (txt.notna() & (txt != "")).to_numpy(bool)
            if typ == "integer":
                txt = txt.where(txt.str.match(_INTEGER_TEXT.pattern).fillna(False), None)
            num = pd.to_numeric(txt, errors="coerce").astype("Float64")
        # inf, -inf and nan are not numbers the model can use: type errors, in every engine
        with np.errstate(invalid="ignore"):
            nonfinite = ~np.isfinite(num.to_numpy(dtype="float64", na_value=np.nan))
        bad = present & (num.isna().to_numpy(bool) | nonfinite)
        num = num.mask(nonfinite)
        if typ == "integer":
            frac = (num % 1 != 0).fillna(False).to_numpy(bool)
            bad |= frac
            num = num.mask(frac)
            return num.round().astype("Int64"), fail(bad, "type: integer")
        return num, fail(bad, "type: number")

    if typ == "boolean":
        if pd.api.types.is_bool_dtype(dt):
            return (s if dt == target else s.astype(target)), None
        if pd.api.types.is_numeric_dtype(dt):
            out = pd.Series(pd.NA, index=s.index, dtype="boolean")
            num = s.astype("Float64")
            out[(num == 1).fillna(False)] = True
            out[(num == 0).fillna(False)] = False
            present = num.notna().to_numpy(bool)
            bad = present & out.isna().to_numpy(bool)
        else:  # the one decoding of booleans (model.readers): anything else is an error, never false
            out, bad = _readers.parse_booleans(_to_text(s))
        return out, fail(bad, _readers.BOOLEAN_RULE)

    if typ == "date":
        if pd.api.types.is_datetime64_any_dtype(dt):
            out = s.dt.tz_localize(None) if getattr(dt, "tz", None) else s
            return out.astype(target), None
        out, bad = _readers.parse_dates(_to_text(s))  # ISO and day-first Danish dates alike
        return out.astype(target), fail(bad, _readers.DATE_RULE)
    raise ValueError(f"{name}: unsupported type {typ!r} in the contract")


def _check_columns(df: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport) -> list[str]:
    """Report missing, extra and near-miss columns; return the contract's
    columns present in the frame."""
    fields = _fields(schema)
    cols = [str(c) for c in df.columns]
    extra = [c for c in cols if c not in fields] + list(df.attrs.get("extra_columns", []))
    norm = {" ".join(c.split()).casefold(): c for c in extra}
    strict = bool(schema.get("x-no-extra-columns"))
    for name, fdef in fields.items():
        if name in cols:
            continue
        near = norm.get(" ".join(name.split()).casefold())
        if near is not None:
            report.add(file, near, f"column name differs from the contract's {name!r} in spaces or case", value=near)
            extra.remove(near)
        elif not fdef.get("x-optional-column"):
            report.add(file, name, fdef.get("x-missing-message", "column missing"))
    for c in extra:
        if strict:
            report.add(file, c, "extra column: the sheet may hold only the annex's columns", value=c)
        else:
            report.add(file, c, "extra column not in the contract (ignored)", value=c, severity=WARNING)
    return [n for n in fields if n in cols]


def coerce_table(df: pd.DataFrame, name: str, file: str | None = None,
                 report: ValidationReport | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """Type a frame against its contract.

    In: a frame as from :func:`read_table` (or any DataFrame with the
    contract's column names), the contract name, the file name to report.
    Out: ``(typed frame, report)``. The typed frame has exactly the
    contract's columns that are present, in contract order, with dtypes str,
    Int64, Float64, boolean and datetime64[us]; values that cannot be typed
    become missing and are reported (rule ``type: ...``). A string field
    stored as numbers (parquet int64, Excel numeric cells) is reported as
    "leading zeros may have been lost" and converted to text.
    """
    schema = load_schema(name)
    file = file or df.attrs.get("source_file") or schema.get("path") or name
    report = report if report is not None else ValidationReport()
    typed, _ = _coerce(df, schema, file, report)
    return typed, report


def _coerce(df: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport):
    present = _check_columns(df, schema, file, report)
    fields = _fields(schema)
    out: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    plain = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
    for c in present:
        s = df[c] if plain else df[c].reset_index(drop=True)
        out[c], mask = _coerce_column(s, fields[c], file, report)
        if mask is not None:
            bad[c] = mask
    # copy=False: columns already of the right type are passed on, not copied
    typed = pd.DataFrame(out, index=pd.RangeIndex(len(df)), copy=False)
    return typed, bad


# --------------------------------------------------------------------------
# Validation of one table
# --------------------------------------------------------------------------


def _key_codes(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
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


def _check_required(typed, schema, file, report, bad):
    for fdef in schema["fields"]:
        name = fdef["name"]
        if name not in typed.columns or not (fdef.get("constraints") or {}).get("required"):
            continue
        miss = typed[name].isna().to_numpy(bool, copy=True)
        if name in bad:
            miss &= ~bad[name]  # already reported as a type failure
        if miss.any():
            report.add_rows(file, name, "required: value missing", np.flatnonzero(miss),
                            lambda p: [None] * len(p), severity=_severity(fdef, "required"))


def _duplicate_candidates(sub: pd.DataFrame, notnull: np.ndarray) -> np.ndarray:
    """Positions of rows whose key hash occurs more than once (a superset of
    the duplicated keys). DuckDB hashes the key columns in parallel and numpy
    sorts the 64-bit hashes: about 1 s for 6 million (person_id, year) keys,
    where factorising the strings in pandas or Arrow takes about 5 s.
    Tables under 200,000 rows skip the hashing."""
    if len(sub) < 200_000:  # small tables: compare every key exactly
        return np.flatnonzero(notnull)
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        con.register("keys", sub)  # no copy: DuckDB scans the pandas columns
        cols = ", ".join('"' + str(c).replace('"', '""') + '"' for c in sub.columns)
        h = con.execute(f"SELECT hash({cols}) AS h FROM keys").fetchnumpy()["h"]
    finally:
        con.close()
    h = np.asarray(h)[notnull]
    srt = np.sort(h)
    repeated = np.unique(srt[1:][srt[1:] == srt[:-1]])
    if len(repeated) == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(notnull)[np.isin(h, repeated)]


def _check_unique(typed, cols, file, report, rule, severity=ERROR):
    """Report every row whose key (all parts present) occurred in an earlier
    row; the value names the key and the row where it first occurred."""
    sub = typed[list(cols)]
    notnull = sub.notna().all(axis=1).to_numpy(bool)
    cand = _duplicate_candidates(sub, notnull)
    if len(cand) == 0:
        return
    codes = _key_codes(sub.iloc[cand], cols)  # exact comparison, only among the candidates
    dup = pd.Series(codes).duplicated(keep="first").to_numpy(bool)
    if not dup.any():
        return
    first = pd.Series(cand, index=codes)
    first = first[~first.index.duplicated(keep="first")]
    code_at = pd.Series(codes, index=cand)

    def values(p):
        out = []
        for i in p:
            k = [_py(v) for v in sub.iloc[i]]
            shown = k[0] if len(cols) == 1 else "; ".join(f"{c}={v}" for c, v in zip(cols, k))
            out.append(f"{shown} (first in row {int(first[code_at[i]]) + 1})")
        return out

    report.add_rows(file, ", ".join(cols), rule, cand[dup], values, severity=severity)


def _check_group_sum(typed, rule, file, report):
    group, col = _as_list(rule["group"]), _as_list(rule["fields"])[0]
    if not set(group + [col]) <= set(typed.columns):
        return
    sums = typed.groupby(group, dropna=True, observed=True)[col].sum()
    low = sums[sums < rule.get("minimum", 0)]
    if len(low) == 0:
        return
    sev = rule.get("severity", ERROR)
    vals = [("; ".join(f"{g}={_py(v)}" for g, v in zip(group, k if isinstance(k, tuple) else (k,)))
             + f": sum {_py(total):.2f}") for k, total in low.items()]
    for v in vals[: report.max_examples]:
        report.add(file, col, _rule_text(rule), value=v, severity=sev)
    if len(vals) > report.max_examples:
        report.counts[(sev, file, col, _rule_text(rule))] += len(vals) - report.max_examples


def _fk_rule(fk: Mapping, table: str) -> str:
    ref = fk["reference"]
    res = ref.get("resource") or table
    return f"foreignKey: {', '.join(_as_list(fk['fields']))} -> {res}.{', '.join(_as_list(ref['fields']))}"


def _check_fk(child: pd.DataFrame, fk: Mapping, parent: pd.DataFrame, file: str, report: ValidationReport,
              table: str) -> None:
    """Report rows of ``child`` (the table named ``table``) whose key, all
    parts present, is not in ``parent``; single keys with pandas ``isin``,
    composite keys with a DuckDB anti-join."""
    cfields, pfields = _as_list(fk["fields"]), _as_list(fk["reference"]["fields"])
    if not set(cfields) <= set(child.columns) or not set(pfields) <= set(parent.columns):
        return
    sev = fk.get("x-severity", ERROR)
    rule = _fk_rule(fk, table)
    if len(cfields) == 1:
        s = child[cfields[0]]
        bad = (s.notna() & ~s.isin(pd.unique(parent[pfields[0]].dropna()))).to_numpy(bool)
        report.add_rows(file, cfields[0], rule, np.flatnonzero(bad), lambda p: s.iloc[p].tolist(), severity=sev)
        return
    import duckdb  # composite keys: an anti-join in DuckDB beats a pandas merge at panel size

    c = child[cfields].copy()
    c.columns = [f"k{i}" for i in range(len(cfields))]
    c["pos"] = np.arange(len(c), dtype=np.int64)
    p = parent[pfields].copy()
    p.columns = [f"k{i}" for i in range(len(pfields))]
    on = " AND ".join(f"c.k{i} = p.k{i}" for i in range(len(cfields)))
    notnull = " AND ".join(f"c.k{i} IS NOT NULL" for i in range(len(cfields)))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("c", c)
        con.register("p", p)
        pos = con.execute(f"SELECT c.pos FROM c WHERE {notnull} AND NOT EXISTS "
                          f"(SELECT 1 FROM p WHERE {on}) ORDER BY c.pos").fetchnumpy()["pos"]
    finally:
        con.close()
    sub = child[cfields]
    report.add_rows(file, ", ".join(cfields), rule, pos,
                    lambda q: ["; ".join(f"{k}={_py(v)}" for k, v in zip(cfields, sub.iloc[i])) for i in q],
                    severity=sev)


def _run_pandera(typed: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport,
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
                                    lambda p: s.iloc[p].tolist(), severity=sev)
                    pos = pos[~short]
                report.add_rows(file, label, text, pos, lambda p: s.iloc[p].tolist(), severity=sev)
            else:
                cols = label.split(", ")
                report.add_rows(file, label, text, pos,
                                lambda p: ["; ".join(f"{c}={_py(typed[c].iat[i])}" for c in cols) for i in p],
                                severity=sev)


def _validate(df: pd.DataFrame, name: str, file: str | None, report: ValidationReport) -> pd.DataFrame:
    schema = load_schema(name)
    file = file or df.attrs.get("source_file") or schema.get("path") or name
    report.extend(df.attrs.get("read_report"))
    typed, bad = _coerce(df, schema, file, report)
    if len(typed) == 0:
        if not schema.get("x-allow-empty"):
            report.add(file, None, "file has no data rows")
        return typed
    _check_required(typed, schema, file, report, bad)
    _run_pandera(typed, schema, file, report, bad)
    for fdef in schema["fields"]:
        if (fdef.get("constraints") or {}).get("unique") and fdef["name"] in typed.columns:
            if _as_list(schema.get("primaryKey")) != [fdef["name"]]:
                _check_unique(typed, [fdef["name"]], file, report, "unique", _severity(fdef, "unique"))
    pk = _as_list(schema.get("primaryKey"))
    if pk and set(pk) <= set(typed.columns):
        _check_unique(typed, pk, file, report, f"primaryKey: ({', '.join(pk)}) duplicated")
    for fk in schema.get("foreignKeys") or []:
        if fk["reference"].get("resource", "") == "":
            _check_fk(typed, fk, typed, file, report, name)
    for rule in schema.get("x-rules") or []:
        if rule["kind"] == "group_sum_minimum":
            _check_group_sum(typed, rule, file, report)
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
    _validate(df, name, file, report)
    return report


def validate_file(path: str | Path, name: str | None = None, *,
                  max_examples: int = DEFAULT_MAX_EXAMPLES) -> ValidationReport:
    """Read and validate one file. In: its path and contract name (default:
    the contract whose ``path`` is the file's name). Out: the report (a
    missing or empty file is a failure in it, not an exception). A parquet
    file is validated out of core in DuckDB (as by :func:`validate_folder`)."""
    path = Path(path)
    name = name or _name_for(path)
    report = ValidationReport(max_examples)
    if path.suffix.lower() == ".parquet" and path.is_file():  # out of core, see validate_folder
        with _Duck() as db:
            _sql_validate_parquet(db, path, name, report, path.name)
        return report
    df = _read(path, name, report)
    if df is not None:
        _validate(df, name, path.name, report)
    return report


def load_table(path: str | Path, name: str | None = None, *, years: Iterable[int] | None = None,
               reader: Callable[[Path], pd.DataFrame] | None = None) -> pd.DataFrame:
    """Read, type and validate one file for use in the pipeline.

    In: path, contract name (default: from the file name), optional years
    and reader as for :func:`read_table`. Out: the typed frame (contract
    columns and dtypes) with its report (warnings) in
    ``attrs["validation"]``. Raises :class:`ValidationFailed` on any error.
    """
    path = Path(path)
    name = name or _name_for(path)
    report = ValidationReport()
    df = _read(path, name, report, years=years, reader=reader)
    if df is None:
        raise ValidationFailed(report)
    typed = _validate(df, name, path.name, report)
    report.raise_if_errors()
    typed.attrs["validation"] = report
    return typed


def _name_for(path: Path) -> str:
    for n in schema_names():
        if _load_schema_cached(n).get("path") == path.name:
            return n
    raise KeyError(f"no contract has path {path.name!r}; pass the contract name")


# --------------------------------------------------------------------------
# Out-of-core validation of parquet files (DuckDB)
# --------------------------------------------------------------------------
#
# The parquet inputs (persons.parquet: 6 million rows a year; services.parquet:
# up to 100 million service lines a year) are validated in DuckDB, never
# loaded into pandas. The contract is translated into SQL: a typed view over
# ``read_parquet`` (one typed column per contract field, plus the raw value
# and a "could not be typed" flag where typing can fail), one predicate per
# rule, and then
#
# * one scan of the file computing, for every rule, the number of failing
#   rows and the first ``max_examples`` of them (``count(*) FILTER`` and
#   ``min_by(..., n)``: bounded memory whatever the number of failures);
# * ``primaryKey``/``unique``: the keys are hashed and grouped on the 64-bit
#   hash; only rows whose hash repeats are compared exactly;
# * ``group_sum_minimum`` rules: a GROUP BY with ``fsum`` (compensated
#   summation, as pandas' groupby sum);
# * foreign keys: anti-joins (NOT EXISTS) against the parent table, which is
#   a small pandas table (clinics, municipalities) or another parquet view
#   (services -> persons).
#
# DuckDB works within ``memory_limit`` and spills to a temporary folder, so
# the memory does not grow with the number of rows or years. Row numbers are
# the 1-based rows of the file (``file_row_number`` + 1), also when the file
# is filtered to some years.

#: Memory DuckDB may use for validation (it spills beyond that); the
#: environment variable ``MODEL_VALIDATE_MEMORY_LIMIT`` overrides it.
DUCKDB_MEMORY_LIMIT = "1500MB"

_TYPE_KINDS = {"int": "int64", "float": "float64", "bool": "boolean", "date": "datetime64[us]"}
_WS = "' ' || chr(9) || chr(10) || chr(13)"


def _qi(name: Any) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _lit(v: Any) -> str:
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


def _sql_value(v: Any) -> Any:
    """A value fetched from DuckDB as :func:`_py` shows the pandas path's value."""
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if type(v).__name__ == "Decimal":
        return float(v)
    return _py(v)


def _arrow_kind(t: pyarrow.DataType) -> str:
    """int, float, bool, text or date: how a parquet column is stored."""
    if pyarrow.types.is_dictionary(t):
        t = t.value_type
    if pyarrow.types.is_integer(t):
        return "int"
    if pyarrow.types.is_floating(t) or pyarrow.types.is_decimal(t):
        return "float"
    if pyarrow.types.is_boolean(t):
        return "bool"
    if pyarrow.types.is_date(t) or pyarrow.types.is_timestamp(t):
        return "date"
    return "text"


def _sql_type(fdef: Mapping, raw: str, kind: str) -> tuple[str, str | None, str | None, str | None]:
    """Translate the typing of one field to SQL.

    In: the field, the SQL of its raw column and how it is stored
    (:func:`_arrow_kind`). Out: ``(typed, bad, note, rule)``: the typed
    expression (VARCHAR, BIGINT, DOUBLE, BOOLEAN or TIMESTAMP), a predicate
    true where a present value cannot be typed (reported per row with
    ``rule``), and ``note``, a failure of the whole column (a string field
    stored as numbers), reported once with the first value. Mirrors
    :func:`_coerce_column`.
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
        rule = _readers.BOOLEAN_RULE
        if kind == "bool":
            return raw, None, None, None
        if kind in ("int", "float"):
            typed = f"CASE WHEN {raw} = 1 THEN TRUE WHEN {raw} = 0 THEN FALSE END"
            return typed, f"({raw} IS NOT NULL AND ({typed}) IS NULL)", None, rule
        low = f"lower({text})"
        typed = (f"CASE WHEN {low} IN ({', '.join(map(_lit, sorted(_TRUE)))}) THEN TRUE "
                 f"WHEN {low} IN ({', '.join(map(_lit, sorted(_FALSE)))}) THEN FALSE END")
        return typed, f"({present} AND ({typed}) IS NULL)", None, rule
    if typ == "date":
        if kind == "date":
            return f"CAST({raw} AS TIMESTAMP)", None, None, None
        typed = f"TRY_CAST({text} AS TIMESTAMP)"  # parquet text dates: ISO only (stored text fails anyway)
        return typed, f"({present} AND {typed} IS NULL)", None, _readers.DATE_RULE
    raise ValueError(f"{fdef['name']}: unsupported type {typ!r} in the contract")


@dataclass
class _Check:
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


def _sql_value_checks(schema: Mapping, present: Sequence[str], types: Mapping[str, tuple]) -> list[_Check]:
    """The row-level rules of a contract as :class:`_Check` predicates over
    the typed view (columns ``<field>``, ``__raw_<field>`` and
    ``__bad_<field>``), in the order the pandas path reports them: typing,
    ``required``, the column constraints (as :func:`to_pandera`) and the
    row-wise ``x-rules``."""
    fields = _fields(schema)
    checks: list[_Check] = []
    for c in present:
        _, bad, note, trule = types[c]
        fdef = fields[c]
        raw = _qi(f"__raw_{c}")
        if note:
            checks.append(_Check(c, note, _severity(fdef, "type"), f"{raw} IS NOT NULL", ((c, raw),), c, note=True))
        if bad:
            checks.append(_Check(c, trule, _severity(fdef, "type"), _qi(f"__bad_{c}"), ((c, raw),), c))
    for c in present:
        fdef = fields[c]
        if (fdef.get("constraints") or {}).get("required"):
            pred = f"({_qi(c)} IS NULL" + (f" AND NOT {_qi(f'__bad_{c}')})" if types[c][1] else ")")
            checks.append(_Check(c, REQUIRED_RULE, _severity(fdef, "required"), pred, ((c, "NULL"),), c))
    for c in present:
        fdef = fields[c]
        con = fdef.get("constraints") or {}
        x = _qi(c)
        is_date = fdef["type"] == "date"
        lim = (lambda v: _lit(pd.Timestamp(v).to_pydatetime())) if is_date else _lit
        val = ((c, x),)

        def add(ok: str, rule: str, sev: str) -> None:
            # a missing value passes (pandera: nullable); NOT NULL is NULL, which a filter drops
            checks.append(_Check(c, rule, sev, f"(NOT ({ok}))", val, c))

        if "enum" in con:
            enum = "[" + ", ".join(map(str, con["enum"])) + "]"
            vals = [str(v) if fdef["type"] == "string" else v for v in con["enum"]]
            add(f"{x} IN ({', '.join(map(_lit, vals))})", f"enum: {enum}", _severity(fdef, "enum"))
        for key, op in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
            if key in con:
                add(f"{x} {op} {lim(con[key])}", f"{key}: {con[key]}", _severity(fdef, key))
        if "pattern" in con:
            pat = con["pattern"]
            text = f"pattern: {pat}"
            sev = _severity(fdef, "pattern")
            digits = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", pat)
            if digits:  # digit strings that are too short are reported apart: lost leading zeros
                n = int(digits.group(1))
                bad = f"NOT regexp_full_match({x}, '[0-9]{{{n}}}')"
                short = f"(regexp_full_match({x}, '[0-9]+') AND length({x}) < {n})"
                checks.append(_Check(c, text + " (too few digits - leading zeros lost?)", sev,
                                     f"({bad} AND {short})", val, c))
                checks.append(_Check(c, text, sev, f"({bad} AND NOT {short})", val, c))
            else:
                add(f"regexp_full_match({x}, {_lit(pat)})", text, sev)
        for key, op in (("minLength", ">="), ("maxLength", "<=")):
            if key in con:
                add(f"length({x}) {op} {int(con[key])}", f"{key}: {con[key]}", _severity(fdef, key))
        for key, op in (("minimum", "<"), ("maximum", ">")):
            if key in (fdef.get("x-plausible") or {}):
                v = fdef["x-plausible"][key]
                # only inside the hard range: outside it the value is an error, not also a warning
                hard = f" AND NOT coalesce({x} {op} {lim(con[key])}, FALSE)" if con.get(key) is not None else ""
                checks.append(_Check(c, f"plausible {key}: {v}", WARNING,
                                     f"(coalesce({x} {op} {lim(v)}, FALSE){hard})", val, c))
    for rule in schema.get("x-rules") or []:
        kind, cols = rule["kind"], _as_list(rule.get("fields"))
        used = set(cols) | set((rule.get("when") or {}).keys())
        if kind not in ROW_RULE_KINDS or not used <= set(present):
            continue
        a, b = _qi(cols[0]), _qi(cols[-1])
        if kind == "less_or_equal":
            pred = f"coalesce({a} > {b}, FALSE)"
        elif kind == "implies":
            pred = f"(coalesce({a}, FALSE) AND NOT coalesce({b}, TRUE))"
        elif kind == "not_equal":
            pred = f"coalesce({a} = {b}, FALSE)"
        else:  # required_if
            cond = " AND ".join(f"coalesce({_qi(k)} = {_lit(v)}, FALSE)" for k, v in rule["when"].items())
            pred = f"({cond} AND {a} IS NULL)"
        checks.append(_Check(", ".join(cols), _rule_text(rule), rule.get("severity", ERROR), pred,
                             tuple((k, _qi(k)) for k in cols)))
    return checks


def _examples_sql(values: Sequence[tuple[str, str]], order: str, k: int, pred: str | None = None) -> str:
    """``min_by`` of the row number and value expressions: the first ``k``
    failing rows in file order, as a list of structs (bounded memory)."""
    parts = [f"r := {order}"] + [f"v{i} := {expr}" for i, (_, expr) in enumerate(values)]
    filt = f" FILTER (WHERE {pred})" if pred else ""
    return f"min_by(struct_pack({', '.join(parts)}), {order}, {max(int(k), 1)}){filt}"


def _show(values: Sequence[tuple[str, str]], item: Mapping) -> Any:
    vals = [_sql_value(item[f"v{i}"]) for i in range(len(values))]
    if len(values) == 1:
        return vals[0]
    return "; ".join(f"{name}={v}" for (name, _), v in zip(values, vals))


class _Duck:
    """A DuckDB connection for validation: ``memory_limit``, a temporary
    folder to spill to (removed on close) and one thread per core."""

    def __init__(self, memory_limit: str | None = None, threads: int | None = None):
        import duckdb

        self._tmp = tempfile.TemporaryDirectory(prefix="model-validate-duckdb-")
        self.con = duckdb.connect(":memory:")
        limit = memory_limit or os.environ.get("MODEL_VALIDATE_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
        self.con.execute(f"SET memory_limit = {_lit(limit)}")
        self.con.execute(f"SET temp_directory = {_lit(self._tmp.name)}")
        self.con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")
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

    def __enter__(self) -> "_Duck":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class _SqlTable:
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
        return _sql_type(self.fields[c], f"{alias}.{_qi(c)}", self.kinds[c])[0]

    def profile_view(self, c: str) -> str | None:
        """A subquery over the distinct values of ``c`` with the typed view's
        column names, or ``None`` if ``c`` is not profiled."""
        if not self.gids or (c,) not in self.gids:
            return None
        typed, bad, note, _ = _sql_type(self.fields[c], f"p.{_qi(c)}", self.kinds[c])
        cols = [f"{typed} AS {_qi(c)}"]
        if bad or note:
            cols.append(f"p.{_qi(c)} AS {_qi(f'__raw_{c}')}")
        if bad:
            cols.append(f"coalesce({bad}, FALSE) AS {_qi(f'__bad_{c}')}")
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


def _sql_validate_parquet(db: _Duck, path: Path, name: str, report: ValidationReport, file: str,
                          years: Sequence[int] | None = None,
                          extra_sets: Sequence[Sequence[str]] = ()) -> _SqlTable | None:
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


def _sql_validate_parquet_checks(db: _Duck, path: Path, name: str, report: ValidationReport, file: str,
                                 years: Sequence[int] | None = None,
                                 extra_sets: Sequence[Sequence[str]] = ()) -> _SqlTable | None:
    """Validate one parquet file against its contract in DuckDB.

    In: the connection, the file, the contract name, the report, the file
    name to report, optionally the years to keep (rows of other years are
    skipped while reading) and extra grouping sets to count (for
    :func:`_sql_persons_summary`). Out: the :class:`_SqlTable` for the
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
       ranges and the ``x-rules`` across columns) in one scan that only
       counts rows breaking any of them;
    4. only if something failed: one scan fetching, for every failing rule,
       its count and first ``max_examples`` rows (``min_by``);
    5. ``unique``/``primaryKey`` (hashes grouped first), the table's own
       foreign keys and the ``group_sum_minimum`` rules (a GROUP BY of the
       key, kept for the foreign keys of the same columns).
    """
    schema = _load_schema_cached(name)
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
    if not _parquet_schema_failures(arrow, schema, file, report):
        return None
    names = list(arrow.names)
    present = _check_columns(pd.DataFrame(columns=names), schema, file, report)
    fields = _fields(schema)
    kinds = {c: _arrow_kind(arrow.field(c).type) for c in present}
    types = {c: _sql_type(fields[c], f"r.{_qi(c)}", kinds[c]) for c in present}
    where = ""
    if years is not None and "year" in names and pyarrow.types.is_integer(arrow.field("year").type):
        where = f" WHERE r.{_qi('year')} IN ({', '.join(str(int(y)) for y in years) or 'NULL'})"
    base, view = db.name(f"raw_{name}"), db.name(f"t_{name}")
    db.run(f"CREATE TEMP VIEW {base} AS SELECT r.file_row_number + 1 AS __row"
           f"{''.join(', r.' + _qi(c) for c in present)} "
           f"FROM read_parquet({_lit(str(path))}, file_row_number = true) AS r{where}")
    select = ["r.__row"]
    for c in present:
        typed, bad, note, _ = types[c]
        select.append(f"{typed} AS {_qi(c)}")
        if bad or note:
            select.append(f"r.{_qi(c)} AS {_qi(f'__raw_{c}')}")
        if bad:
            select.append(f"coalesce({bad}, FALSE) AS {_qi(f'__bad_{c}')}")
    db.run(f"CREATE TEMP VIEW {view} AS SELECT {', '.join(select)} FROM {base} AS r")
    table = _SqlTable(name, file, base, view, present, {c: fields[c] for c in present}, kinds, key_aggs={})
    checks = _sql_value_checks(schema, present, types)

    # 2. the profile: distinct values of the columns with value rules
    fk_cols = {_as_list(fk["fields"])[0] for fk in schema.get("foreignKeys") or [] if len(_as_list(fk["fields"])) == 1}
    profiled = [c for c in present if fields[c]["type"] != "number"
                and (c in fk_cols or any(ch.source == c and ch.rule != REQUIRED_RULE for ch in checks))]
    sets = list(dict.fromkeys([(c,) for c in profiled]
                              + [tuple(s) for s in extra_sets if s and set(s) <= set(present)]))
    if sets:
        pcols = list(dict.fromkeys(c for s in sets for c in s))
        table.profile = db.name(f"profile_{name}")
        table.gids = {s: sum(1 << (len(pcols) - 1 - i) for i, c in enumerate(pcols) if c not in s) for s in sets}
        cols = ", ".join(_qi(c) for c in pcols)
        grouping = ", ".join("(" + ", ".join(_qi(c) for c in s) + ")" for s in sets)
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
        aggs = [f"arg_min({_qi(f'__raw_{c}')}, __first) FILTER (WHERE {checks[i].pred})" if checks[i].note
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
            group, cols = _as_list(rule.get("group")), _as_list(rule.get("fields"))
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
                expr = f"sum(__n) FILTER (WHERE {_qi(c)} IS NULL)" if c in k else f"sum(__n - {_qi(f'__cnt_{c}')})"
                counts[i] = int(db.one(f"SELECT coalesce({expr}, 0) FROM {name_}")[0])
                continue
        rest.append(i)
    screened = 0
    if rest and table.n_rows:
        screened = int(db.one(f"SELECT count(*) FROM {view} WHERE "
                              + " OR ".join(checks[i].pred for i in rest))[0])
    if not screened:
        counts.update({i: 0 for i in rest})

    # 4. examples (and counts of step 3's rules) only for what failed
    wanted = [i for i in range(len(checks)) if (counts.get(i, 0) > 0 and not checks[i].note)
              or (screened and i in rest)]
    examples: dict[int, list] = {}
    if wanted:
        aggs = []
        for i in wanted:
            if i in rest:
                aggs.append(f"count(*) FILTER (WHERE {checks[i].pred})")
            aggs.append(_examples_sql(checks[i].values, "__row", report.max_examples, checks[i].pred))
        res = list(db.one(f"SELECT {', '.join(aggs)} FROM {view}"))
        for i in wanted:
            if i in rest:
                counts[i] = int(res.pop(0))
            examples[i] = res.pop(0) or []

    n_type = sum(1 for ch in checks if ch.note or ch.rule.startswith("type: "))
    for i, ch in enumerate(checks):
        if i == n_type and table.n_rows == 0:
            break
        if ch.note:
            report.add(file, ch.column, ch.rule, value=_sql_value(firsts.get(i)), severity=ch.severity)
        elif counts.get(i, 0):
            ex = examples.get(i, [])
            report.add_found(file, ch.column, ch.rule, [e["r"] for e in ex], [_show(ch.values, e) for e in ex],
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
            if _as_list(schema.get("primaryKey")) != [fdef["name"]]:
                _sql_unique(db, table, [fdef["name"]], report, "unique", _severity(fdef, "unique"))
    pk = _as_list(schema.get("primaryKey"))
    if pk and set(pk) <= set(present):
        _sql_unique(db, table, pk, report, f"primaryKey: ({', '.join(pk)}) duplicated")
    for fk in schema.get("foreignKeys") or []:
        if fk["reference"].get("resource", "") == "":
            _sql_fk(db, table, fk, table, report, name)
    for rule in schema.get("x-rules") or []:
        if rule["kind"] == "group_sum_minimum":
            _sql_group_sum(db, table, rule, report)
    return table


def _sql_unique(db: _Duck, t: _SqlTable, cols: Sequence[str], report: ValidationReport, rule: str,
                severity: str = ERROR) -> None:
    """:func:`_check_unique` in DuckDB: group the keys' 64-bit hashes, then
    compare exactly only the rows whose hash repeats."""
    keys = ", ".join(_qi(c) for c in cols)
    notnull = " AND ".join(f"{_qi(c)} IS NOT NULL" for c in cols)
    cand = db.name("dup_hashes")
    db.run(f"CREATE TEMP TABLE {cand} AS SELECT h FROM (SELECT hash({keys}) AS h FROM {t.view} "
           f"WHERE {notnull}) GROUP BY h HAVING count(*) > 1")
    try:
        if db.one(f"SELECT count(*) FROM {cand}")[0] == 0:
            return
        values = tuple((c, _qi(c)) for c in cols) + (("__first", "__first"),)
        count, ex = db.one(
            f"SELECT count(*), {_examples_sql(values, '__row', report.max_examples)} FROM ("
            f"SELECT __row, {keys}, min(__row) OVER (PARTITION BY {keys}) AS __first FROM {t.view} "
            f"WHERE {notnull} AND hash({keys}) IN (SELECT h FROM {cand})) WHERE __row > __first")
    finally:
        db.run(f"DROP TABLE IF EXISTS {cand}")
    ex = ex or []
    shown = []
    for e in ex:
        k = [_sql_value(e[f"v{i}"]) for i in range(len(cols))]
        key = k[0] if len(cols) == 1 else "; ".join(f"{c}={v}" for c, v in zip(cols, k))
        shown.append(f"{key} (first in row {int(e[f'v{len(cols)}'])})")
    report.add_found(t.file, ", ".join(cols), rule, [e["r"] for e in ex], shown, int(count), severity=severity)


def _key_agg(db: _Duck, t: _SqlTable, keys: Sequence[str], sums: Sequence[str] = ()) -> str:
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
    cols = ", ".join(_qi(c) for c in keys)
    extra = "".join(f", fsum({_qi(c)}) AS {_qi(f'__sum_{c}')}, count({_qi(c)}) AS {_qi(f'__cnt_{c}')}"
                    for c in sums)
    db.run(f"CREATE TEMP TABLE {name} AS SELECT {cols}, count(*) AS __n{extra} FROM {t.view} GROUP BY {cols}")
    if have is not None:
        db.run(f"DROP TABLE IF EXISTS {have[0]}")
    t.key_aggs[k] = (name, set(sums))
    return name


def _sql_group_sum(db: _Duck, t: _SqlTable, rule: Mapping, report: ValidationReport) -> None:
    """:func:`_check_group_sum` in DuckDB, on the key table of :func:`_key_agg`."""
    group, col = _as_list(rule["group"]), _as_list(rule["fields"])[0]
    if not set(group + [col]) <= set(t.columns):
        return
    agg = _key_agg(db, t, group, [col])
    keys = ", ".join(_qi(g) for g in group)
    notnull = " AND ".join(f"{_qi(g)} IS NOT NULL" for g in group)
    total = _qi(f"__sum_{col}")
    parts = [f"v{i} := {_qi(g)}" for i, g in enumerate(group)] + [f"total := {total}"]
    count, ex = db.one(
        f"SELECT count(*), min_by(struct_pack({', '.join(parts)}), struct_pack({keys}), {report.max_examples}) "
        f"FROM {agg} WHERE {notnull} AND {total} < {_lit(rule.get('minimum', 0))}")
    sev = rule.get("severity", ERROR)
    vals = [("; ".join(f"{g}={_sql_value(e[f'v{i}'])}" for i, g in enumerate(group))
             + f": sum {_py(e['total']):.2f}") for e in (ex or [])]
    report.add_found(t.file, col, _rule_text(rule), [None] * len(vals), vals, int(count), severity=sev)


def _sql_fk(db: _Duck, child: _SqlTable, fk: Mapping, parent: "_SqlTable | pd.DataFrame", report: ValidationReport,
            table: str) -> None:
    """:func:`_check_fk` in DuckDB: rows of ``child`` whose key (all parts
    present) is not in ``parent`` (a typed pandas table or another parquet
    view). The distinct keys are anti-joined first (from the profile or
    :func:`_key_agg`); the rows are read only if some key is unknown."""
    cfields, pfields = _as_list(fk["fields"]), _as_list(fk["reference"]["fields"])
    pcols = parent.columns if isinstance(parent, _SqlTable) else [str(c) for c in parent.columns]
    if not set(cfields) <= set(child.columns) or not set(pfields) <= set(pcols):
        return
    if isinstance(parent, _SqlTable):
        prel = parent.view
    else:
        prel = db.name("parent")
        db.con.register(prel, parent[pfields].reset_index(drop=True))
    try:
        # ANTI JOIN, not NOT EXISTS: DuckDB plans the latter as a slower delim join here
        on = " AND ".join(f"c.{_qi(a)} = p.{_qi(b)}" for a, b in zip(cfields, pfields))
        notnull = " AND ".join(f"c.{_qi(a)} IS NOT NULL" for a in cfields)
        missing = f"ANTI JOIN {prel} AS p ON {on} WHERE {notnull}"
        keys = child.profile_view(cfields[0]) if len(cfields) == 1 else None
        keys = keys or _key_agg(db, child, cfields)
        count = int(db.one(f"SELECT coalesce(sum(c.__n), 0) FROM {keys} AS c {missing}")[0])
        values = tuple((a, f"c.{_qi(a)}") for a in cfields)
        ex = []
        if count:
            ex = db.one(f"SELECT {_examples_sql(values, 'c.__row', report.max_examples)} "
                        f"FROM {child.view} AS c {missing}")[0] or []
    finally:
        if not isinstance(parent, _SqlTable):
            db.con.unregister(prel)
    report.add_found(child.file, ", ".join(cfields), _fk_rule(fk, table), [e["r"] for e in ex],
                     [_show(values, e) for e in ex], count, severity=fk.get("x-severity", ERROR))


#: The grouping of persons.parquet behind the plausibility warnings.
PERSONS_SUMMARY_SET = ("year", "municipality_code", "clinic_id", "insurance_group")


def _sql_persons_summary(db: _Duck, t: _SqlTable) -> pd.DataFrame:
    """Citizens per (year, municipality_code, clinic_id) and how many of them
    are in insurance group 2 (columns n and g2), for :func:`_plausibility`;
    from the profile when it holds that grouping set."""
    keys = [c for c in PERSONS_SUMMARY_SET[:3] if c in t.columns]
    s = tuple(c for c in PERSONS_SUMMARY_SET if c in t.columns)
    if t.gids and s in t.gids and keys:
        typed = ", ".join(f"{t.typed(c, 'p')} AS {_qi(c)}" for c in s)
        src = f"(SELECT {typed}, p.__n FROM {t.profile} AS p WHERE p.__gid = {t.gids[s]})"
        n = "sum(__n)"
        g2 = "coalesce(sum(__n) FILTER (WHERE insurance_group = 2), 0)" if "insurance_group" in s else "0"
    else:
        src, n = t.view, "count(*)"
        g2 = "count(*) FILTER (WHERE insurance_group = 2)" if "insurance_group" in t.columns else "0"
    cols = ", ".join(_qi(c) for c in keys)
    sql = (f"SELECT {cols}, {n} AS n, {g2} AS g2 FROM {src} GROUP BY {cols}" if keys
           else f"SELECT {n} AS n, {g2} AS g2 FROM {src}")
    return db.con.execute(sql).df()


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
            raise ValueError(f"tables: unknown table {t!r} (known: {', '.join(FOLDER_TABLES + tuple(TABLE_ALIASES))})")
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
        raise ValueError(f"engine must be 'duckdb' or 'pandas', not {engine!r}")
    folder = Path(folder)
    years = None if years is None else sorted({int(y) for y in years})
    selected = _selected_tables(tables)
    report = ValidationReport(max_examples, source=str(folder))
    if not folder.is_dir():
        report.add(str(folder), None, "data folder missing")
        return report
    frames: dict[str, pd.DataFrame] = {}
    views: dict[str, _SqlTable] = {}
    files: dict[str, str] = {}
    annexes: list[tuple[str, str, pd.DataFrame]] = []  # (contract, file label, typed sheet)
    db: _Duck | None = None
    try:
        for name in FOLDER_TABLES:
            if name not in selected:
                continue
            schema = _load_schema_cached(name)
            path = folder / schema["path"]
            if not path.exists() and schema.get("x-optional"):
                continue
            tyears = years if name in ("persons", "services") else None
            if engine == "duckdb" and path.suffix.lower() == ".parquet" and path.is_file():
                db = db or _Duck(memory_limit)
                view = _sql_validate_parquet(db, path, name, report, path.name, tyears,
                                             [PERSONS_SUMMARY_SET] if name == "persons" else ())
                if view is not None:
                    views[name], files[name] = view, path.name
                continue
            df = _read(path, name, report, years=tyears)
            if df is None:
                continue
            typed = _validate(df, name, path.name, report)
            del df
            if name.startswith("capacity_report_annex"):
                annexes.append((name, path.name, typed))
            else:
                frames[name], files[name] = typed, path.name
        for name, path, label in _capacity_report_sheets(folder / "capacity_reports"):
            if name not in selected:
                continue
            df = _read(path, name, report, file=label)
            if df is not None:
                annexes.append((name, label, _validate(df, name, label, report)))
        for name in FOLDER_TABLES:
            child = views.get(name, frames.get(name))
            if child is None:
                continue
            for fk in _load_schema_cached(name).get("foreignKeys") or []:
                res = fk["reference"].get("resource", "")
                parent = views.get(res, frames.get(res)) if res else None
                if parent is None or (parent.n_rows if isinstance(parent, _SqlTable) else len(parent)) == 0:
                    continue  # a parent without rows is reported as such, not once per child row
                if isinstance(child, _SqlTable):
                    _sql_fk(db, child, fk, parent, report, name)
                elif isinstance(parent, _SqlTable):  # a small table referring to a parquet table
                    _check_fk(child, fk, db.con.execute(
                        f"SELECT DISTINCT {', '.join(_qi(c) for c in _as_list(fk['reference']['fields']))} "
                        f"FROM {parent.view}").df(), files[name], report, name)
                else:
                    _check_fk(child, fk, parent, files[name], report, name)
        for name, label, typed in annexes:
            for fk in _load_schema_cached(name).get("foreignKeys") or []:
                res = fk["reference"].get("resource", "")
                if res in frames and len(frames[res]):
                    _check_fk(typed, fk, frames[res], label, report, name)
        summary = None
        if "persons" in views:
            summary = _sql_persons_summary(db, views["persons"])
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
            raise ValueError(f"planning_year must be a year, years, 'latest' or None, not {planning_year!r}")
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
    plaus = {p["name"]: p for p in _load_schema_cached("population_projection").get("x-plausibility") or []}
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
                        lambda p: [f"{proj['municipality_code'].iat[i]} ({_py(proj['year'].iat[i])}): "
                                   f"{_py(proj['population_end_of_year'].iat[i]):,} vs {_py(pop.iat[i]):,}"
                                   for i in p], severity=ratio.get("severity", ERROR))
    fplaus = {p["name"]: p for p in _load_schema_cached("fee_index").get("x-plausibility") or []}
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
    """:func:`_sql_persons_summary` of a typed pandas table."""
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
    plaus = {p["name"]: p for p in _load_schema_cached("persons").get("x-plausibility") or []}
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
