"""One annex sheet of a region's capacity report: cells read as text and checked against the annex's rules.

In: a worksheet of a workbook (:func:`read_xlsx`) or a CSV file of one annex
(:func:`read_csv`), every cell as text as the user sees it ("012345" stays
"012345"; a number shown with a zero-padding format is taken as displayed).
Out (:func:`check_annex`): the annex as a DataFrame with English column
names (:data:`HEADING_TO_COLUMN`), indexed by the row number in the sheet,
and one :class:`model.inputs.contracts.Failure` per broken rule, with the
sheet, the Excel row and column letter, a stable rule identifier and the
explanation for the region (:func:`report_failure`).

Danish terms: *ydernummer* -- provider number, the clinic's ID (6 digits);
*udmøntede kapaciteter* -- capacities allocated to the clinic; *ledige
kapaciteter* -- vacant ones (not held by a specialist in general medicine);
*tilmeldte patienter* -- listed patients (annex 2, island doctors,
*ø-læger*); *praksisform* -- practice form; *Bilag* -- annex.

The rules here and the annex contracts (``data_schema/capacity_report_annex*.schema.yaml``,
checked by :func:`model.inputs.contracts.validate_folder` on the workbooks in
``capacity_reports/``) overlap: required cells, the digit patterns, unique
provider numbers, non-negative capacities, vacant <= allocated. They are
kept apart on purpose: this module reads the sheet as the region laid it out
(headings below a title row, misspelt or repeated headings, numbers that lost
their leading zeros) and names every failure by Excel row, column letter and
a rule identifier the evaluation's tables and the regions' feedback use,
which the contracts' table view (headings in row 1, contract rule texts)
cannot do.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.artifacts import content_key, kept
from model.inputs.contracts.decoding import decode_bytes, sniff_delimiter
from model.inputs.contracts.report import Failure
from model.inputs.contracts.spec import ERROR

#: Columns of a table of capacity-report failures (:meth:`model.inputs.capacity_reports.CapacityReport.failures_frame`,
#: the evaluation's failure table), in order.
REPORT_FAILURE_COLUMNS: tuple[str, ...] = ("file", "sheet", "row", "column", "value", "rule", "message",
                                           "column_letter")


def report_failure(file: str, sheet: str | None, row: int | None, column: str | None, value: str | None, rule: str,
                   message: str, column_letter: str | None = None, *, severity: str = ERROR) -> Failure:
    """One broken rule of a capacity report, as the package's failure record.

    In: the file, the sheet (``None`` for file-level rules), the Excel row as
    the user sees it (headings in row 1) or the CSV record number, the annex
    heading concerned (or the sheet's own heading for extra/misspelt
    columns), the value as read, a stable rule identifier (e.g.
    ``"extra_column"``), the explanation for the region and the spreadsheet
    column letter. Out: a :class:`~model.inputs.contracts.Failure`.
    """
    return Failure(file=file, column=column, row=row, value=value, rule=rule, severity=severity, sheet=sheet,
                   message=message, column_letter=column_letter)


#: Headings of annex 1, exactly as the guidance's template spells them, in order.
ANNEX1_HEADINGS: tuple[str, ...] = (
    "Ydernummer",
    "Praksisbetegnelse",
    "Adresse",
    "Praksiskommune",
    "Praksiskommunekode",
    "Postnummer",
    "Praksisform",
    "Antal udmøntede kapaciteter",
    "Antal ledige kapaciteter",
)
#: Annex 2 (island doctors): annex 1's headings plus listed patients.
ANNEX2_HEADINGS: tuple[str, ...] = ANNEX1_HEADINGS + ("Antal tilmeldte patienter",)

#: Danish heading -> English column name of the DataFrames.
HEADING_TO_COLUMN: dict[str, str] = {
    "Ydernummer": "clinic_id",
    "Praksisbetegnelse": "name",
    "Adresse": "address",
    "Praksiskommune": "municipality",
    "Praksiskommunekode": "municipality_code",
    "Postnummer": "postcode",
    "Praksisform": "practice_form",
    "Antal udmøntede kapaciteter": "allocated_capacities",
    "Antal ledige kapaciteter": "vacant_capacities",
    "Antal tilmeldte patienter": "listed_patients",
}

#: Danish practice forms (case-insensitive) -> English codes used in the model.
PRACTICE_FORMS: dict[str, str] = {
    "solopraksis": "solo",
    "kompagniskabspraksis": "partnership",
    "samarbejdspraksis": "collaboration",
    "regionsklinik": "regional",
    "udbudsklinik": "tender",
}


SHEET_ANNEX1 = "Bilag 1"
SHEET_ANNEX2 = "Bilag 2"

_NUMERIC_HEADINGS = ("Antal udmøntede kapaciteter", "Antal ledige kapaciteter")


def empty_annex(headings: Sequence[str]) -> pd.DataFrame:
    """An annex table with no rows: the columns of ``headings`` with their types (a copy of one made once)."""
    return _empty_annex(tuple(headings)).copy()


@functools.lru_cache(maxsize=64)
def _empty_annex(headings: tuple[str, ...]) -> pd.DataFrame:
    cols = [HEADING_TO_COLUMN[h] for h in headings]
    df = pd.DataFrame({c: pd.Series([], dtype="str") for c in cols})
    for c in ("allocated_capacities", "vacant_capacities"):
        df[c] = df[c].astype("float64")
    if "listed_patients" in df:
        df["listed_patients"] = df["listed_patients"].astype("Int64")
    df.index = pd.Index([], dtype="int64", name="row")
    return df



def col_letter(i: int) -> str:
    """0-based column index -> spreadsheet letter (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s



# -----------------------------------------------------------------------------
# reading cells as text


@dataclass
class Cell:
    text: str
    numeric: bool = False  # the spreadsheet stored a number (not text)
    raw: Any = None
    error: bool = False  # an error value (#DIV/0!, #REF!, ...): its text is kept, pandas reads it as missing


@dataclass
class Sheet:
    file: str
    sheet: str
    rows: list[tuple[int, list[Cell]]]  # (row number as the user sees it, cells)


def _cell_text(value: Any, number_format: str | None = None, data_type: str | None = None) -> Cell:
    if value is None:
        return Cell("")
    if data_type == "e":
        return Cell(str(value), raw=value, error=True)
    if isinstance(value, bool):
        return Cell("TRUE" if value else "FALSE", raw=value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if np.isfinite(v) and v.is_integer():
            text = str(int(v))
            # A number shown with a zero-padding format (e.g. "000000") is displayed
            # with its leading zeros: take the text as the user sees it.
            if number_format and re.fullmatch(r"0+", number_format) and not text.startswith("-"):
                text = text.zfill(len(number_format))
        else:
            text = repr(v)
        return Cell(text, numeric=True, raw=value)
    if isinstance(value, dt.datetime):
        return Cell(value.date().isoformat() if value.time() == dt.time() else value.isoformat(), raw=value)
    if isinstance(value, dt.date):
        return Cell(value.isoformat(), raw=value)
    return Cell(str(value), raw=value)


def read_xlsx(path: Path) -> tuple[dict[str, Sheet], list[str]]:
    """All sheets of a workbook as text cells; returns ({sheet title: sheet}, titles in order).

    Parsing a workbook is the slow part of reading a capacity report (openpyxl, about 0.1 s each), and
    the reports are read again by every year, verb and kernel that needs them; the parse is therefore kept
    by the content of the file (with this module's code and openpyxl's version) in this process and in the
    user's cache folder (:func:`model.artifacts.kept`, part ``sheets``; ``FORDELINGSMODEL_NO_CACHE=1`` turns
    it off).  A changed byte is parsed again.
    """
    import openpyxl

    path = Path(path)
    key = content_key(path, openpyxl.__version__, Path(__file__).read_bytes())
    sheets, titles = kept("sheets", key, lambda: _parse_xlsx(path))
    for sh in sheets.values():  # the same bytes under another name: the sheets name this file
        sh.file = path.name
    return sheets, titles


def _parse_xlsx(path: Path) -> tuple[dict[str, Sheet], list[str]]:
    """:func:`read_xlsx` without the cache: openpyxl, read-only, the values as displayed."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets: dict[str, Sheet] = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # a declared size can be wrong: read the rows there are (as pandas does)
            rows = []
            for r in ws.iter_rows():
                cells = []
                rownum = None
                for c in r:
                    if rownum is None and getattr(c, "row", None) is not None:
                        rownum = c.row
                    cells.append(_cell_text(c.value, getattr(c, "number_format", None), getattr(c, "data_type", None)))
                if rownum is None:
                    rownum = (rows[-1][0] + 1) if rows else 1
                rows.append((rownum, cells))
            sheets[ws.title] = Sheet(path.name, ws.title, rows)
        return sheets, list(sheets)
    finally:
        wb.close()


def decode_csv(data: bytes) -> str:
    """The one decoding of :mod:`model.inputs.contracts.decoding` (UTF-8, BOM, UTF-16, Windows-1252 as Danish Excel's
    "CSV (semikolonsepareret)", Latin-1 for anything else): the same text validation reads."""
    return decode_bytes(data)[0]


def read_csv(path: Path, sheet: str) -> Sheet:
    text = decode_csv(path.read_bytes())
    first = text.split("\n", 1)[0]
    delim = sniff_delimiter(first) if first.strip() else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows = [(i + 1, [Cell(v) for v in rec]) for i, rec in enumerate(reader)]
    return Sheet(path.name, sheet, rows)


# -----------------------------------------------------------------------------
# checking one annex sheet


@functools.lru_cache(maxsize=4096)
def _norm_heading(h: str) -> str:
    s = unicodedata.normalize("NFKC", h).casefold()
    s = s.replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    return re.sub(r"[^a-z0-9]", "", s)


def _closest(heading: str, candidates: Sequence[str]) -> tuple[str | None, float]:
    """The candidate heading closest to ``heading`` and the similarity (1.0: equal once normalised). The reports
    repeat the same heading rows, so the answers are remembered."""
    return _closest_cached(heading, tuple(candidates))


@functools.lru_cache(maxsize=4096)
def _closest_cached(heading: str, candidates: tuple[str, ...]) -> tuple[str | None, float]:
    n = _norm_heading(heading)
    best, score = None, 0.0
    for c in candidates:
        r = 1.0 if _norm_heading(c) == n else difflib.SequenceMatcher(None, n, _norm_heading(c)).ratio()
        if r > score:
            best, score = c, r
    return best, score


_MISSPELT_THRESHOLD = 0.8


def is_empty_row(cells: list[Cell]) -> bool:
    return all(c.text.strip() == "" for c in cells)


def _parse_number(text: str) -> float | None:
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if not re.fullmatch(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)", t):
        return None
    return float(t.replace(",", "."))


def check_annex(
    sh: Sheet,
    headings: Sequence[str],
    annex: int,
    failures: list[Failure],
    *,
    known_municipalities: Mapping[str, str] | set[str] | None,
    clinic_register: set[str] | None,
) -> pd.DataFrame:
    """Check one annex sheet; append failures; return its DataFrame."""

    def fail(row, column, value, rule, message, col_idx=None):
        failures.append(report_failure(sh.file, sh.sheet, row, column, value, rule, message,
                                       col_letter(col_idx) if col_idx is not None else None))

    rows = sh.rows
    nonempty = [(n, cells) for n, cells in rows if not is_empty_row(cells)]
    if not nonempty:
        for h in headings:
            fail(1, h, None, "missing_heading", f"the sheet is empty; heading '{h}' is missing")
        return empty_annex(headings)

    # heading row: the first non-empty row, unless a later one (within 20) looks like the headings
    def looks_like_headings(cells):
        return sum(1 for c in cells if c.text and _closest(c.text, headings)[1] >= _MISSPELT_THRESHOLD) >= 2

    head_pos = 0
    if not looks_like_headings(nonempty[0][1]):
        for i, (_, cells) in enumerate(nonempty[:20]):
            if looks_like_headings(cells):
                head_pos = i
                break
    for n, cells in nonempty[:head_pos]:
        first = next(i for i, c in enumerate(cells) if c.text.strip())
        fail(n, None, cells[first].text, "extra_content",
             "content above the headings: the sheet may hold nothing but what the annex specifies", first)
    head_row, head_cells = nonempty[head_pos]
    data = [(n, cells) for n, cells in rows if n > head_row and not is_empty_row(cells)]

    # --- map columns to headings
    width = max([len(head_cells)] + [len(c) for _, c in data])
    colmap: dict[str, int] = {}
    unresolved: list[int] = []
    for i, c in enumerate(head_cells):
        h = c.text
        if h == "":
            continue
        if h in headings and h not in colmap:
            colmap[h] = i
        else:
            unresolved.append(i)
    for i in unresolved:
        h = head_cells[i].text
        missing_now = [x for x in headings if x not in colmap]
        if h in headings:  # exact duplicate
            if annex == 2 and h == "Antal udmøntede kapaciteter" and "Antal ledige kapaciteter" in missing_now:
                # the guidance prints annex 2 with this heading twice (R§3, bilag 2): a sheet laid out as
                # printed is valid, and its second "Antal udmøntede kapaciteter" is the vacant capacities
                colmap["Antal ledige kapaciteter"] = i
                continue
            msg = f"heading '{h}' appears twice (first in column {col_letter(colmap[h])})"
            fail(head_row, h, h, "duplicate_heading", msg, i)
            continue
        best, score = _closest(h, missing_now)
        if best is not None and score >= _MISSPELT_THRESHOLD:
            hint = " (leading or trailing spaces)" if h.strip() == best else ""
            fail(head_row, h, h, "misspelt_heading",
                 f"heading is spelt differently from the annex{hint}: write exactly '{best}'", i)
            colmap[best] = i
        else:
            other = "" if annex == 2 or h.strip() != "Antal tilmeldte patienter" else \
                " ('Antal tilmeldte patienter' belongs in annex 2, sheet 'Bilag 2')"
            fail(head_row, h, h, "extra_column",
                 f"extra column '{h}': the sheet may hold nothing but what the annex specifies{other}", i)
    headed = {i for i, c in enumerate(head_cells) if c.text != ""}
    for i in range(width):
        if i in headed:
            continue
        first = next(((n, cells[i].text) for n, cells in data if i < len(cells) and cells[i].text.strip()), None)
        if first:
            fail(first[0], None, first[1], "extra_column",
                 f"column {col_letter(i)} has no heading but holds values: the sheet may hold nothing "
                 f"but what the annex specifies", i)
    for h in headings:
        if h not in colmap:
            fail(head_row, h, None, "missing_heading", f"heading '{h}' is missing", None)

    # --- rows
    def cell(cells, h) -> Cell | None:
        i = colmap.get(h)
        if i is None:
            return None
        return cells[i] if i < len(cells) else Cell("")

    records = []
    first_seen: dict[str, int] = {}
    for n, cells in data:
        rec: dict[str, Any] = {}
        for h in headings:
            c = cell(cells, h)
            if c is None:
                rec[HEADING_TO_COLUMN[h]] = None
                continue
            t = c.text.strip()
            ci = colmap[h]
            if t == "":
                fail(n, h, "", "required", f"'{h}' is empty; every column of the annex must be filled in", ci)
                rec[HEADING_TO_COLUMN[h]] = None
                continue
            if h == "Ydernummer":
                if c.numeric and re.fullmatch(r"\d{1,5}", t):
                    fail(n, h, t, "leading_zeros_lost",
                         f"Ydernummer is stored as a number ({t}) and has lost its leading zero(s): it must "
                         f"be 6 digits, e.g. '{t.zfill(6)}'; format the column as text", ci)
                elif not re.fullmatch(r"\d{6}", t):
                    hint = " (a leading zero lost?)" if re.fullmatch(r"\d{1,5}", t) else ""
                    fail(n, h, t, "ydernummer_format", f"Ydernummer must be exactly 6 digits{hint}", ci)
                else:
                    if t in first_seen:
                        fail(n, h, t, "duplicate_ydernummer",
                             f"Ydernummer {t} appears again (first in row {first_seen[t]}); one row per "
                             f"provider number", ci)
                    else:
                        first_seen[t] = n
                    if clinic_register is not None and t not in clinic_register:
                        fail(n, h, t, "ydernummer_unknown", f"Ydernummer {t} is not in the clinic register", ci)
                rec["clinic_id"] = t
            elif h == "Praksiskommunekode":
                if not re.fullmatch(r"\d{3}", t):
                    fail(n, h, t, "municipality_code_format", "Praksiskommunekode must be exactly 3 digits", ci)
                elif known_municipalities is not None and t not in known_municipalities:
                    fail(n, h, t, "municipality_code_unknown", f"no municipality has code {t}", ci)
                elif isinstance(known_municipalities, Mapping):
                    name_cell = cell(cells, "Praksiskommune")
                    expected = known_municipalities[t]
                    if name_cell is not None and name_cell.text.strip() and \
                            name_cell.text.strip().casefold() != str(expected).casefold():
                        fail(n, "Praksiskommune", name_cell.text.strip(), "municipality_name_mismatch",
                             f"municipality code {t} is {expected}, not '{name_cell.text.strip()}'",
                             colmap.get("Praksiskommune"))
                rec["municipality_code"] = t
            elif h == "Postnummer":
                if c.numeric and re.fullmatch(r"\d{1,3}", t):
                    fail(n, h, t, "leading_zeros_lost",
                         f"Postnummer is stored as a number ({t}) and has lost its leading zero(s): it must "
                         f"be 4 digits, e.g. '{t.zfill(4)}'", ci)
                elif not re.fullmatch(r"\d{4}", t):
                    fail(n, h, t, "postcode_format", "Postnummer must be exactly 4 digits", ci)
                rec["postcode"] = t
            elif h == "Praksisform":
                code = PRACTICE_FORMS.get(" ".join(t.split()).casefold())
                if code is None:
                    fail(n, h, t, "practice_form_unknown",
                         "Praksisform must be one of: Solopraksis, Kompagniskabspraksis, Samarbejdspraksis, "
                         "Regionsklinik, Udbudsklinik", ci)
                rec["practice_form"] = code
            elif h in _NUMERIC_HEADINGS:
                v = _parse_number(t)
                if v is None:
                    fail(n, h, t, "capacity_invalid", f"'{h}' must be a number (0 or more)", ci)
                elif v < 0:
                    fail(n, h, t, "capacity_invalid", f"'{h}' must not be negative", ci)
                    v = None
                rec[HEADING_TO_COLUMN[h]] = v
            elif h == "Antal tilmeldte patienter":
                v = _parse_number(t)
                if v is None or not float(v).is_integer():
                    fail(n, h, t, "listed_patients_invalid",
                         "'Antal tilmeldte patienter' must be a whole number (no thousands separators)", ci)
                    v = None
                elif v < 0:
                    fail(n, h, t, "listed_patients_invalid", "'Antal tilmeldte patienter' must not be negative", ci)
                    v = None
                rec["listed_patients"] = None if v is None else int(v)
            else:
                rec[HEADING_TO_COLUMN[h]] = t
        a, v = rec.get("allocated_capacities"), rec.get("vacant_capacities")
        if a is not None and v is not None and v > a:
            fail(n, "Antal ledige kapaciteter", f"{cell(cells, 'Antal ledige kapaciteter').text.strip()}",
                 "vacant_exceeds_allocated",
                 f"more vacant capacities ({v:g}) than allocated ones ({a:g})", colmap["Antal ledige kapaciteter"])
        records.append((n, rec))

    df = empty_annex(headings)
    if records:
        body = pd.DataFrame([r for _, r in records], columns=df.columns)
        body.index = pd.Index([n for n, _ in records], dtype="int64", name="row")
        for c in df.columns:
            if c in ("allocated_capacities", "vacant_capacities"):
                body[c] = pd.to_numeric(body[c], errors="coerce").astype("float64")
            elif c == "listed_patients":
                body[c] = pd.array(body[c].tolist(), dtype="Int64")
            else:
                body[c] = body[c].astype("str")
        df = body
    return df
