"""Reading one input file as text-safe columns (CSV, parquet, an Excel sheet), before typing.

CSV: every column read as text (so "012345" stays "012345"), in any
encoding and delimiter (:mod:`.decoding`), a Danish-Excel file flagged with a
warning. Parquet: the contract's columns with their stored types, after
checking how the file stores them. Excel: the contract's sheet, cells as
objects. What reading finds goes into a :class:`~.report.ValidationReport`.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute
import pyarrow.parquet as pq

from model.artifacts import content_key, kept
from model.inputs.contracts.decoding import danish_conventions, decode_bytes, sniff_delimiter
from model.inputs.contracts.report import InputRejected, ValidationReport
from model.inputs.contracts.spec import WARNING, field_map, load_schema, severity_of


def arrow_kind(t: pyarrow.DataType) -> str:
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


def read_csv(path: Path, schema: Mapping, report: ValidationReport, file: str) -> pd.DataFrame | None:
    raw = path.read_bytes()
    if not raw.strip():
        report.add(file, None, "file is empty (0 bytes)" if not raw else "file is empty (no header, no rows)")
        return None
    text, notes = decode_bytes(raw)
    header = text.splitlines()[0] if text else ""
    sep = sniff_delimiter(header)
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
    notes += danish_conventions(df, schema, danish)
    if notes:
        report.add(file, None, "file looks saved by (Danish) Excel: read with those conventions ("
                   + ", ".join(dict.fromkeys(notes)) + "); check that numbers and codes came through",
                   severity=WARNING)
    return df


def parquet_schema_failures(arrow: pyarrow.Schema, schema: Mapping, file: str, report: ValidationReport) -> bool:
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
        if c in names and typ != "string" and arrow_kind(arrow.field(c).type) == "text":
            report.add(file, c, f"stored as text in the parquet file, but the contract's type is {typ}: "
                                f"the model reads the stored type, so write the column as {typ}",
                       severity=severity_of(fdef, "type"))
    return True


def read_parquet(path: Path, schema: Mapping, report: ValidationReport, file: str,
                  years: Iterable[int] | None) -> pd.DataFrame | None:
    if path.stat().st_size == 0:
        report.add(file, None, "file is empty (0 bytes)")
        return None
    try:
        pfile = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        report.add(file, None, f"file unreadable as parquet: {exc}")
        return None
    if not parquet_schema_failures(pfile.schema_arrow, schema, file, report):
        return None
    names = pfile.schema_arrow.names
    wanted = [f["name"] for f in schema["fields"] if f["name"] in names]
    extra = [c for c in names if c not in field_map(schema)]
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


def read_xlsx(path: Path, name: str) -> pd.DataFrame:
    """The contract's sheet of a workbook, cells as Python objects, headings
    in row 1. For ``capacity_report_annex<n>`` the sheet named "Bilag <n>"
    (or "Annex <n>") is used when there is one, else the first sheet.

    The workbook is loaded once for all its sheets (:func:`workbook_frames`)."""
    frames, titles = workbook_frames(path)
    sheet = titles[0] if titles else None
    m = re.search(r"annex(\d)$", name)
    if m:
        for title in titles:
            if re.fullmatch(rf"\s*(bilag|annex)\s*{m.group(1)}\s*", title, flags=re.IGNORECASE):
                sheet = title
    if sheet is None:
        raise ValueError("the workbook has no sheet")
    if isinstance(frames[sheet], Exception):
        raise frames[sheet]
    return frames[sheet]


def workbook_frames(path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every sheet of a workbook as ``pandas.read_excel(..., dtype=object, header=0)`` reads it (cells as
    Python objects, headings in row 1, blank text as None) and the sheet titles in order.

    The workbook is parsed once, by :func:`model.inputs.capacity_sheets.read_xlsx`, the parse the capacity
    reports are read from (openpyxl; kept by content in this process and the user's cache folder); pandas
    then makes the frames from those cells with its own Excel parser (:func:`_parsed_reader_class`), so the
    frames equal ``read_excel``'s. The frames are kept too (:func:`model.artifacts.kept`, part ``workbooks``).
    """
    import openpyxl

    from model.inputs import capacity_sheets

    def blank_as_none(df: pd.DataFrame) -> pd.DataFrame:
        return df.map(lambda v: None if isinstance(v, str) and v.strip() == "" else v)

    def build() -> tuple[dict[str, pd.DataFrame | Exception], list[str]]:
        sheets, titles = capacity_sheets.read_xlsx(path)
        book = _parsed_reader_class()(sheets, titles)
        frames: dict[str, pd.DataFrame | Exception] = {}
        for t in titles:
            try:
                frames[t] = blank_as_none(book.parse(sheet_name=t, dtype=object, header=0))
            except Exception as exc:  # a sheet that cannot be read fails only when it is asked for
                frames[t] = ValueError(f"sheet {t!r}: {exc}")
        return frames, titles

    key = content_key(path, pd.__version__, openpyxl.__version__, Path(__file__).read_bytes(),
                      Path(capacity_sheets.__file__).read_bytes())
    return kept("workbooks", key, build)


@functools.cache
def _parsed_reader_class() -> type:
    """pandas' openpyxl reader over sheets already parsed (:class:`model.inputs.capacity_sheets.Sheet`).

    Only the reading of cells is replaced (:meth:`get_sheet_data`, as pandas' own: numbers whole become
    int, errors missing, trailing blanks trimmed, rows padded); the headings, missing values and
    duplicate names are pandas' ``read_excel`` code (``BaseExcelReader.parse``)."""
    from pandas.io.excel._openpyxl import OpenpyxlReader

    class ParsedWorkbook(OpenpyxlReader):
        def __init__(self, sheets: Mapping, titles: list[str]):  # nothing to open: the cells are parsed
            self._sheets, self._titles = sheets, titles

        @property
        def sheet_names(self) -> list[str]:
            return list(self._titles)

        def get_sheet_by_name(self, name: str):
            self.raise_if_bad_sheet_by_name(name)
            return self._sheets[name]

        def get_sheet_data(self, sheet, file_rows_needed: int | None = None) -> list[list]:
            data: list[list] = []
            last = -1
            for i, (_, cells) in enumerate(sheet.rows):
                row = [_cell_value(c) for c in cells]
                while row and isinstance(row[-1], str) and row[-1] == "":
                    row.pop()
                if row:
                    last = i
                data.append(row)
                if file_rows_needed is not None and len(data) >= file_rows_needed:
                    break
            data = data[:last + 1]
            if data:
                width = max(len(r) for r in data)
                data = [r + [""] * (width - len(r)) for r in data]
            return data

    return ParsedWorkbook


def _cell_value(c) -> Any:
    """A parsed cell as pandas' openpyxl reader gives it (``OpenpyxlReader._convert_cell``)."""
    if c.raw is None:
        return ""
    if c.error:
        return np.nan
    if c.numeric:
        v = int(c.raw)
        return v if v == c.raw else float(c.raw)
    return c.raw


def read_frame(path: str | Path, name: str, report: ValidationReport, *, years: Iterable[int] | None = None,
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
            df = reader(path) if reader is not None else read_xlsx(path, name)
        except Exception as exc:  # openpyxl / a user hook may raise anything
            report.add(file, None, f"file unreadable: {exc}")
            return None
    elif suffix == ".parquet":
        df = read_parquet(path, schema, report, file, years)
    else:
        df = read_csv(path, schema, report, file)
    if df is None:
        return None
    df = repeated_heading(df, schema, report, file)
    if years is not None and "year" in df.columns and suffix != ".parquet":
        yr = pd.to_numeric(df["year"], errors="coerce")
        df = df[yr.isin(list(years)) | yr.isna()].reset_index(drop=True)
    df.attrs["source_file"] = file
    return df


def repeated_heading(df: pd.DataFrame, schema: Mapping, report: ValidationReport, file: str) -> pd.DataFrame:
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
    the capacity reports' Excel reader, :mod:`model.inputs.capacity_sheets`).

    Out: a DataFrame with the file's columns. CSV: every column is read as
    text (``dtype=str`` before any parsing, so "012345" stays "012345");
    decimal commas and (in a Danish Excel file) thousands separators are
    rewritten to the contract's form in number/integer columns (day-first
    dates stay as written; typing reads them). Parquet: the contract's columns with their
    stored types (nullable pandas dtypes; columns outside the contract are
    not loaded and are listed in ``attrs["extra_columns"]``). Excel: cell
    values as objects. ``attrs["read_report"]`` holds what reading found
    (e.g. the Danish-Excel warning); :func:`validate_table` includes it.

    Raises :class:`model.errors.ValidationFailed` if the file is missing, empty or
    unreadable. Use :func:`load_table` for a typed, validated table.
    """
    report = ValidationReport()
    df = read_frame(path, name, report, years=years, reader=reader)
    if df is None:
        raise InputRejected(report)
    if report.counts:  # small: only what reading found (format notes)
        df.attrs["read_report"] = report
    return df

