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
* raises :class:`model.errors.ValidationFailed` (from :func:`load_table` or
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
:mod:`.duckdb_engine`). Value rules are evaluated on the
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
:mod:`.decoding`, and the model's readers read through this package's
reading and typing (:func:`model.inputs.readers.read_typed`): what
validation accepts is what the model reads. Numbers must be finite: ``inf``, ``-inf``
and ``nan`` text, and inf in a parquet float column, are type errors (a NaN
stored in a parquet float column reads as missing). A parquet column of a
number, integer, boolean or date field stored as text, and a column name
stored twice, are errors: the model reads the stored types.

The package
-----------
=====================  ====================================================
:mod:`.spec`           the contracts: loading, field helpers, rule texts
:mod:`.report`         :class:`Failure` and :class:`ValidationReport`
:mod:`.decoding`       bytes and text to values (shared with the model's readers)
:mod:`.reading`        one file read as text-safe columns (CSV, parquet, Excel)
:mod:`.coercion`       typing a frame against its contract
:mod:`.pandas_engine`  pandera translation and the pandas checks of one table
:mod:`.duckdb_sql`     a contract translated into SQL
:mod:`.duckdb_engine`  parquet files validated out of core in DuckDB
:mod:`.duck`           a DuckDB connection that works in a notebook kernel
:mod:`.folder`         a data folder: every table, foreign keys, plausibility
=====================  ====================================================
"""

from __future__ import annotations

import importlib

#: where each public name lives; a submodule is imported when one of its names is first used, so that
#: reading a table (``coercion``, ``reading``) does not import pandera and DuckDB (about 0.2 s), which
#: only validation needs
_WHERE = {
    "coerce_table": "coercion", "DUCKDB_MEMORY_LIMIT": "duckdb_engine", "TABLE_ALIASES": "folder",
    "validate_file": "folder", "validate_folder": "folder", "load_table": "pandas_engine",
    "to_pandera": "pandas_engine", "validate_table": "pandas_engine", "read_table": "reading",
    "Failure": "report", "InputRejected": "report", "ValidationReport": "report",
    "DEFAULT_MAX_EXAMPLES": "spec", "FOLDER_TABLES": "spec", "ROW_CONVENTION": "spec", "load_schema": "spec",
    "schema_dir": "spec", "schema_names": "spec",
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "Failure",
    "ValidationReport",
    "InputRejected",
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
    "DEFAULT_MAX_EXAMPLES",
    "DUCKDB_MEMORY_LIMIT",
    "ROW_CONVENTION",
]
