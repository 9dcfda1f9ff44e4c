"""The model's typed readers: every input file read exactly as validation reads it.

The model's readers (:func:`model.inputs.tables.read_clinics`,
:func:`model.inputs.tables.read_projection`,
:func:`model.inputs.tables.read_persons`,
:func:`model.inputs.reference.municipalities`,
:func:`model.inputs.services.read_fee_index`, the island doctors' annexes of
:func:`model.inputs.tables.read_island_reports`) read through this module,
which reads and types with the contracts (:mod:`model.inputs.contracts`):
what validation accepts is what the model reads, value for value. The
decoding rules themselves (encoding, delimiter, booleans, dates) are
:mod:`model.inputs.contracts.decoding`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from model.inputs.contracts.coercion import check_required, coerce_frame
from model.inputs.contracts.reading import parquet_schema_failures, read_frame
from model.inputs.contracts.report import InputRejected, ValidationReport
from model.inputs.contracts.spec import load_schema

__all__ = ["read_typed", "model_frame", "check_parquet_columns"]


# --------------------------------------------------------------------------


def read_typed(path: str | Path, name: str, *, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Read one input file exactly as validation reads it, typed by its contract.

    In: the file (CSV, parquet or Excel sheet) and its contract name
    (``"clinics"``, ``"population_projection"``, ``"municipalities"``,
    ``"fee_index"``, ...); optionally the years to keep. Out: the contract's
    columns present, in the file's order, with the dtypes of
    :func:`model.inputs.contracts.coerce_table` (str, Int64, Float64, boolean,
    datetime64[us]). Raises :class:`model.errors.ValidationFailed` (a
    ``ValueError``) naming file, column, row and rule when the file is
    missing, empty or unreadable, a contract column is missing, a value
    cannot be typed (including non-finite numbers and booleans that are not
    booleans) or a required value is missing. Range, enum and cross-table
    rules are left to :func:`model.inputs.contracts.validate_folder`.
    """
    path = Path(path)
    report = ValidationReport()
    df = read_frame(path, name, report, years=years)
    if df is None:
        raise InputRejected(report)
    contract = load_schema(name)
    typed, bad = coerce_frame(df, contract, path.name, report)
    check_required(typed, contract, path.name, report, bad)
    report.raise_if_errors()
    order = [c for c in df.columns if c in typed.columns]
    typed = typed[order]
    typed.attrs["source_file"] = path.name
    return typed


def model_frame(typed: pd.DataFrame, *, integral_numbers: bool = True, text_missing: Any = "") -> pd.DataFrame:
    """The frame the model's code works with, from a :func:`read_typed` frame.

    The model's readers used to be ``pandas.read_csv`` calls; this gives the
    same columns and dtypes for a well-formed UTF-8 file: text as ``str``
    (missing as ``text_missing``, "" by default), integers as ``int64``
    (``float64`` if any is missing), numbers as ``int64`` when every value
    is present and whole and ``integral_numbers`` (as ``read_csv`` infers)
    else ``float64``, booleans as ``bool`` (missing as false - validation
    reports missing required booleans), dates as ISO text "YYYY-MM-DD"
    (missing as ``text_missing``).
    """
    out = {}
    for c in typed.columns:
        s = typed[c]
        dt = s.dtype
        if isinstance(dt, pd.BooleanDtype):
            out[c] = s.fillna(False).astype(bool)
        elif pd.api.types.is_datetime64_any_dtype(dt):
            txt = s.dt.strftime("%Y-%m-%d").astype(object)
            out[c] = txt.where(s.notna(), text_missing).astype("str")
        elif isinstance(dt, pd.Int64Dtype):
            out[c] = s.astype("float64") if s.isna().any() else s.astype("int64")
        elif isinstance(dt, pd.Float64Dtype):
            f = s.astype("float64")
            whole = integral_numbers and not s.isna().any() and bool((f % 1 == 0).all())
            out[c] = f.astype("int64") if whole else f
        else:
            out[c] = s.astype(object).where(s.notna(), text_missing).astype("str")
    return pd.DataFrame(out, index=pd.RangeIndex(len(typed)))


def check_parquet_columns(path: str | Path, name: str, columns: Iterable[str],
                          report: ValidationReport | None = None) -> ValidationReport:
    """Check a parquet file's schema before the model reads ``columns`` of it.

    In: the file, its contract name, the columns the model reads, optionally
    a report to add to. Out: the report with an error (file, column, rule)
    for a column name stored more than once, a column missing, and a
    number/integer/boolean/date column stored as text (a year column of
    strings). The caller raises on errors (``report.raise_if_errors()``).
    """
    path = Path(path)
    report = report if report is not None else ValidationReport()
    try:
        arrow = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # pyarrow raises several types for a broken file
        report.add(path.name, None, f"file unreadable as parquet: {exc}")
        return report
    parquet_schema_failures(arrow, load_schema(name), path.name, report)
    names = list(arrow.names)
    for c in columns:
        if c not in names:
            report.add(path.name, c, "column missing")
    return report
