"""One reader: how every input file is decoded, for validation and for the model alike.

Validation (:mod:`model.schema`) and the model's readers
(:func:`model.pipeline.read_clinics`, :func:`model.pipeline.read_projection`,
:func:`model.pipeline.read_persons`, :func:`model.reference.municipalities`,
:func:`model.ingest.read_fee_index`, the capacity-report CSVs of
:mod:`model.ingest`) read files through this module, so what validation
accepts is what the model reads, value for value.

Why a module of its own: the decoding rules are small pure functions that
need no contract (encoding, delimiter, booleans, dates), and
:mod:`model.ingest` (which must not depend on the contracts) and
:mod:`model.schema` both use them; the typed readers for the model
(:func:`read_typed`, :func:`model_frame`) sit on top and use the contract's
reading and typing in :mod:`model.schema` (imported lazily, so importing
this module stays cheap).

The decoding, in one place
--------------------------
* **Encoding**: UTF-8; a UTF-8 byte-order mark is dropped; UTF-16 with a
  byte-order mark is decoded; anything else that is not UTF-8 is read as
  Windows-1252 (Danish Excel's "CSV (semikolonsepareret)"), and bytes
  Windows-1252 leaves undefined as Latin-1 (:func:`decode_bytes`).
* **Delimiter**: ``,``, ``;`` or tab, whichever the header line holds most
  of (a tie goes to ``,``) (:func:`sniff_delimiter`).
* **Decimal mark**: in ``number`` columns a decimal comma ("1,5", "1.234,5")
  is read as a number; "1,5" in a comma-separated file must then be quoted
  (done in :func:`model.schema._danish_conventions` from the contract).
* **Booleans**: true/false, 1/0, yes/no, ja/nej and Danish Excel's
  SAND/FALSK, in any case (:data:`TRUE_TOKENS`, :data:`FALSE_TOKENS`).
  Anything else is a validation error (:data:`BOOLEAN_RULE`), never read as
  false.
* **Dates**: ISO ``YYYY-MM-DD`` and the Danish day-first forms
  ``DD-MM-YYYY``, ``DD.MM.YYYY`` and ``DD/MM/YYYY`` are parsed to the same
  date everywhere (:func:`parse_dates`). The day-first forms are always
  read day first (Danish convention; "03-04-2020" is 3 April 2020, never
  4 March); a day above 31 or a month above 12 is an error
  (:data:`DATE_RULE`). Nothing else is accepted.
* **Numbers** must be finite: ``inf``, ``-inf`` and ``nan`` are type errors
  in every number and integer column (:data:`FINITE_NOTE`).
* **IDs** (contract type ``string``) are text as written: "00123" stays
  "00123".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from model.inputs.contracts import ValidationReport

__all__ = [
    "TRUE_TOKENS",
    "FALSE_TOKENS",
    "BOOLEAN_RULE",
    "DATE_RULE",
    "FINITE_NOTE",
    "decode_bytes",
    "sniff_delimiter",
    "parse_booleans",
    "parse_dates",
    "read_typed",
    "model_frame",
    "check_parquet_columns",
]

#: Text read as true / false in a boolean column (compared in lower case).
TRUE_TOKENS: frozenset[str] = frozenset({"true", "1", "yes", "ja", "sand"})
FALSE_TOKENS: frozenset[str] = frozenset({"false", "0", "no", "nej", "falsk"})
BOOLEAN_RULE = "type: boolean (true/false, 1/0, yes/no, ja/nej or SAND/FALSK)"
DATE_RULE = "type: date (YYYY-MM-DD, or day first DD-MM-YYYY / DD.MM.YYYY / DD/MM/YYYY)"
#: Appended to the type rule of number/integer columns: why inf/nan fail.
FINITE_NOTE = "finite; inf, -inf and nan are not allowed"

_DAY_FIRST = re.compile(r"^\s*(\d{1,2})[-./](\d{1,2})[-./](\d{4})\s*$")


# --------------------------------------------------------------------------
# Bytes -> text
# --------------------------------------------------------------------------


def decode_bytes(raw: bytes) -> tuple[str, list[str]]:
    """Decode a text file's bytes.

    In: the raw bytes. Out: ``(text, notes)``; ``notes`` names what was not
    plain UTF-8 ("a UTF-8 byte-order mark (BOM)", "UTF-16 encoding",
    "Windows-1252 encoding (not UTF-8)", "Latin-1 encoding (not UTF-8)").
    Never raises for any bytes.
    """
    notes: list[str] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        notes.append("a UTF-8 byte-order mark (BOM)")
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append("UTF-16 encoding")
        return raw.decode("utf-16"), notes
    try:
        return raw.decode("utf-8"), notes
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
            notes.append("Windows-1252 encoding (not UTF-8)")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            notes.append("Latin-1 encoding (not UTF-8)")
        return text, notes


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: ``,``, ``;`` or tab, whichever
    occurs most (a tie, e.g. a one-column header, goes to ``,``)."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: (counts[s], s == ","))


# --------------------------------------------------------------------------
# Text -> values
# --------------------------------------------------------------------------


def parse_booleans(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans from text.

    In: a text column (missing values allowed). Out: ``(values, bad)``: a
    nullable ``boolean`` column (missing where the text is missing or not a
    boolean) and a numpy mask of present values that are not one of
    :data:`TRUE_TOKENS` / :data:`FALSE_TOKENS` (case-insensitive, spaces
    around ignored).
    """
    low = text.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[low.isin(TRUE_TOKENS).to_numpy(bool)] = True
    out[low.isin(FALSE_TOKENS).to_numpy(bool)] = False
    present = (low.notna() & (low != "")).to_numpy(bool)
    return out, present & out.isna().to_numpy(bool)


def parse_dates(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates from text, ISO or Danish day first, to the same value.

    In: a text column. Out: ``(values, bad)``: ``datetime64[us]`` (NaT where
    missing or invalid) and a numpy mask of present values that are not a
    valid date in one of the accepted forms (see module docstring).
    ``"2021-03-04"``, ``"04-03-2021"``, ``"4.3.2021"`` and ``"04/03/2021"``
    all give 4 March 2021.
    """
    txt = text.astype("str").str.strip()
    present = (txt.notna() & (txt != "")).to_numpy(bool)
    m = txt.str.extract(_DAY_FIRST)
    dmy = m[0].notna().to_numpy(bool)
    iso = txt.copy()
    if dmy.any():
        iso[dmy] = m.loc[dmy, 2] + "-" + m.loc[dmy, 1].str.zfill(2) + "-" + m.loc[dmy, 0].str.zfill(2)
    out = pd.to_datetime(iso, format="ISO8601", errors="coerce").astype("datetime64[us]")
    return out, present & out.isna().to_numpy(bool)


# --------------------------------------------------------------------------
# Typed reading for the model
# --------------------------------------------------------------------------


def read_typed(path: str | Path, name: str, *, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Read one input file exactly as validation reads it, typed by its contract.

    In: the file (CSV, parquet or Excel sheet) and its contract name
    (``"clinics"``, ``"population_projection"``, ``"municipalities"``,
    ``"fee_index"``, ...); optionally the years to keep. Out: the contract's
    columns present, in the file's order, with the dtypes of
    :func:`model.schema.coerce_table` (str, Int64, Float64, boolean,
    datetime64[us]). Raises :class:`model.schema.ValidationFailed` (a
    ``ValueError``) naming file, column, row and rule when the file is
    missing, empty or unreadable, a contract column is missing, a value
    cannot be typed (including non-finite numbers and booleans that are not
    booleans) or a required value is missing. Range, enum and cross-table
    rules are left to :func:`model.schema.validate_folder`.
    """
    from model.inputs import contracts as S

    path = Path(path)
    report = S.ValidationReport()
    df = S._read(path, name, report, years=years)
    if df is None:
        raise S.ValidationFailed(report)
    contract = S.load_schema(name)
    typed, bad = S._coerce(df, contract, path.name, report)
    S._check_required(typed, contract, path.name, report, bad)
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
                          report: "ValidationReport | None" = None) -> "ValidationReport":
    """Check a parquet file's schema before the model reads ``columns`` of it.

    In: the file, its contract name, the columns the model reads, optionally
    a report to add to. Out: the report with an error (file, column, rule)
    for a column name stored more than once, a column missing, and a
    number/integer/boolean/date column stored as text (a year column of
    strings). The caller raises on errors (``report.raise_if_errors()``).
    """
    import pyarrow.parquet as pq

    from model.inputs import contracts as S

    path = Path(path)
    report = report if report is not None else S.ValidationReport()
    try:
        arrow = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # pyarrow raises several types for a broken file
        report.add(path.name, None, f"file unreadable as parquet: {exc}")
        return report
    S._parquet_schema_failures(arrow, S.load_schema(name), path.name, report)
    names = list(arrow.names)
    for c in columns:
        if c not in names:
            report.add(path.name, c, "column missing")
    return report
