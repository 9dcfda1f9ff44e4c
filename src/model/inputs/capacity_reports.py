"""The regions' capacity reports (annex 1: capacities per municipality; annex 2: island doctors): reading and checking the sheets.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
import difflib
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


# =============================================================================
# 2. The regions' capacity reports (annex 1 and annex 2 of the guidance)
# =============================================================================

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

#: Regions and the period they exist in (Hovedstaden and Sjælland merge into
#: Østdanmark on 1 January 2027).  Value: (first day, last day or None).
REGIONS: dict[str, tuple[dt.date, dt.date | None]] = {
    "Hovedstaden": (dt.date(2007, 1, 1), dt.date(2026, 12, 31)),
    "Sjælland": (dt.date(2007, 1, 1), dt.date(2026, 12, 31)),
    "Syddanmark": (dt.date(2007, 1, 1), None),
    "Midtjylland": (dt.date(2007, 1, 1), None),
    "Nordjylland": (dt.date(2007, 1, 1), None),
    "Østdanmark": (dt.date(2027, 1, 1), None),
}

#: First reporting date from which reports are due every month (R§2).
MONTHLY_FROM = dt.date(2027, 1, 1)
#: Reports are due within this many months of the reporting date (R§1, R§2).
SUBMISSION_MONTHS = 3

SHEET_ANNEX1 = "Bilag 1"
SHEET_ANNEX2 = "Bilag 2"

_NUMERIC_HEADINGS = ("Antal udmøntede kapaciteter", "Antal ledige kapaciteter")


@dataclass(frozen=True)
class ReportFailure:
    """One broken rule in a capacity report.

    ``row`` is the Excel row number as the user sees it (headings in row 1),
    or the CSV record number (heading line 1); ``None`` for file-level rules.
    ``column`` is the annex heading concerned (or the sheet's own heading for
    extra/misspelt columns) and ``column_letter`` the spreadsheet column.
    ``rule`` is a stable identifier (e.g. ``"extra_column"``), ``message``
    the explanation for the region.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str
    column_letter: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'" + (f" ({self.column_letter})" if self.column_letter else ""))
        elif self.column_letter:
            where.append(f"column {self.column_letter}")
        val = f" value {self.value!r}:" if self.value is not None else ""
        return f"{', '.join(where)}:{val} {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _empty_annex(headings: Sequence[str]) -> pd.DataFrame:
    cols = [HEADING_TO_COLUMN[h] for h in headings]
    df = pd.DataFrame({c: pd.Series([], dtype="str") for c in cols})
    for c in ("allocated_capacities", "vacant_capacities"):
        df[c] = df[c].astype("float64")
    if "listed_patients" in df:
        df["listed_patients"] = df["listed_patients"].astype("Int64")
    df.index = pd.Index([], dtype="int64", name="row")
    return df


@dataclass
class CapacityReport:
    """One region's capacity report per a reporting date.

    ``annex1`` (allocated and vacant capacities per provider number) and
    ``annex2`` (island doctors; empty when the report has no annex 2) have the
    English columns of :data:`HEADING_TO_COLUMN`; their index is the row
    number in the sheet (as the user sees it).  Invalid cells are kept as read
    (text) or become NA (numbers, practice form); ``failures`` lists every
    broken rule.  ``practice_form`` holds the English codes of
    :data:`PRACTICE_FORMS`.
    """

    region: str | None
    reporting_date: dt.date | None
    annex1: pd.DataFrame
    annex2: pd.DataFrame
    failures: list[ReportFailure] = field(default_factory=list)
    source: str = ""
    submission_date: dt.date | None = None
    has_annex2: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def late(self) -> bool:
        """Submitted more than three months after the reporting date (R§2): flagged, still data."""
        return any(f.rule == "late_submission" for f in self.failures)

    @property
    def usable(self) -> bool:
        """Its figures can be used: no failure other than lateness (a late report is still data)."""
        return all(f.rule == "late_submission" for f in self.failures)

    def raise_for_failures(self) -> "CapacityReport":
        """Raise :class:`CapacityReportError` listing every failure; return self if there are none."""
        if self.failures:
            raise CapacityReportError(self.failures, self)
        return self

    def failures_frame(self) -> pd.DataFrame:
        """The failures as a table (file, sheet, row, column, value, rule, message, column_letter)."""
        cols = [f.name for f in dataclasses.fields(ReportFailure)]
        return pd.DataFrame([f.to_dict() for f in self.failures], columns=cols)


class CapacityReportError(ValueError):
    """A capacity report breaks the annex's rules; the message lists every failure."""

    def __init__(self, failures: Sequence[ReportFailure], report: CapacityReport | None = None):
        self.failures = list(failures)
        self.report = report
        files = sorted({f.file for f in self.failures if f.file})
        head = (
            f"{len(self.failures)} problem(s) in capacity report "
            f"{', '.join(files) if files else ''}".rstrip()
            + ":"
        )
        super().__init__("\n".join([head] + [f"  - {f}" for f in self.failures]))


# -----------------------------------------------------------------------------
# names and dates


_FILENAME_RE = re.compile(
    r"^(?P<region>[^\W\d_](?:[^\W\d]|-)*?)[_\- ](?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[_\- ]?(?:bilag|annex)[_\- ]?(?P<annex>[12]))?$",
    re.IGNORECASE,
)


def _slug(s: str) -> str:
    s = s.strip().casefold()
    s = re.sub(r"^region[\s_\-]*", "", s)
    s = s.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return re.sub(r"[^a-z]", "", s)


_REGION_SLUGS: dict[str, str] = {}


for _name in REGIONS:
    _REGION_SLUGS[_slug(_name)] = _name
_REGION_SLUGS.update({"sjalland": "Sjælland", "ostdanmark": "Østdanmark"})


def canonical_region(name: str) -> str | None:
    """'hovedstaden', 'Region Sjælland', 'sjaelland', 'oestdanmark' -> canonical name; None if unknown."""
    return _REGION_SLUGS.get(_slug(name))


def parse_report_filename(path: str | os.PathLike) -> tuple[str | None, dt.date | None, int | None]:
    """Region slug, reporting date and annex number from a name like ``hovedstaden_2026-01-01.xlsx``.

    Also ``sjaelland_2026-04-01_bilag1.csv`` (annex 1 of a CSV pair).  Parts
    that cannot be read are None (the region slug is returned as written).
    """
    stem = Path(path).stem
    m = _FILENAME_RE.match(stem)
    if not m:
        return None, None, None
    try:
        date = dt.date.fromisoformat(m["date"])
    except ValueError:
        date = None
    return m["region"], date, int(m["annex"]) if m["annex"] else None


def _to_date(d: Any, what: str) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    if isinstance(d, pd.Timestamp):
        return d.date()
    if isinstance(d, str):
        try:
            return dt.date.fromisoformat(d.strip())
        except ValueError:
            raise ValueError(f"{what}: {d!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"{what}: expected a date or an ISO date string, got {type(d).__name__}")


def _add_months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _col_letter(i: int) -> str:
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
class _Cell:
    text: str
    numeric: bool = False  # the spreadsheet stored a number (not text)
    raw: Any = None


@dataclass
class _Sheet:
    file: str
    sheet: str
    rows: list[tuple[int, list[_Cell]]]  # (row number as the user sees it, cells)


def _cell_text(value: Any, number_format: str | None = None) -> _Cell:
    if value is None:
        return _Cell("")
    if isinstance(value, bool):
        return _Cell("TRUE" if value else "FALSE", raw=value)
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
        return _Cell(text, numeric=True, raw=value)
    if isinstance(value, dt.datetime):
        return _Cell(value.date().isoformat() if value.time() == dt.time() else value.isoformat(), raw=value)
    if isinstance(value, dt.date):
        return _Cell(value.isoformat(), raw=value)
    return _Cell(str(value), raw=value)


def _read_xlsx(path: Path) -> tuple[dict[str, _Sheet], list[str]]:
    """All sheets of a workbook as text cells; returns ({sheet title: sheet}, titles in order)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets: dict[str, _Sheet] = {}
        for ws in wb.worksheets:
            rows = []
            for r in ws.iter_rows():
                cells = []
                rownum = None
                for c in r:
                    if rownum is None and getattr(c, "row", None) is not None:
                        rownum = c.row
                    cells.append(_cell_text(c.value, getattr(c, "number_format", None)))
                if rownum is None:
                    rownum = (rows[-1][0] + 1) if rows else 1
                rows.append((rownum, cells))
            sheets[ws.title] = _Sheet(path.name, ws.title, rows)
        return sheets, list(sheets)
    finally:
        wb.close()


def _decode_csv(data: bytes) -> str:
    """The one decoding of :mod:`model.readers` (UTF-8, BOM, UTF-16, Windows-1252 as Danish Excel's
    "CSV (semikolonsepareret)", Latin-1 for anything else): the same text validation reads."""
    from model.inputs.readers import decode_bytes

    return decode_bytes(data)[0]


def _read_csv(path: Path, sheet: str) -> _Sheet:
    from model.inputs.readers import sniff_delimiter

    text = _decode_csv(path.read_bytes())
    first = text.split("\n", 1)[0]
    delim = sniff_delimiter(first) if first.strip() else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows = [(i + 1, [_Cell(v) for v in rec]) for i, rec in enumerate(reader)]
    return _Sheet(path.name, sheet, rows)


# -----------------------------------------------------------------------------
# checking one annex sheet


def _norm_heading(h: str) -> str:
    s = unicodedata.normalize("NFKC", h).casefold()
    s = s.replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    return re.sub(r"[^a-z0-9]", "", s)


def _closest(heading: str, candidates: Sequence[str]) -> tuple[str | None, float]:
    n = _norm_heading(heading)
    best, score = None, 0.0
    for c in candidates:
        r = 1.0 if _norm_heading(c) == n else difflib.SequenceMatcher(None, n, _norm_heading(c)).ratio()
        if r > score:
            best, score = c, r
    return best, score


_MISSPELT_THRESHOLD = 0.8


def _is_empty_row(cells: list[_Cell]) -> bool:
    return all(c.text.strip() == "" for c in cells)


def _parse_number(text: str) -> float | None:
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if not re.fullmatch(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)", t):
        return None
    return float(t.replace(",", "."))


def _check_annex(
    sh: _Sheet,
    headings: Sequence[str],
    annex: int,
    failures: list[ReportFailure],
    *,
    known_municipalities: Mapping[str, str] | set[str] | None,
    clinic_register: set[str] | None,
) -> pd.DataFrame:
    """Check one annex sheet; append failures; return its DataFrame."""

    def fail(row, column, value, rule, message, col_idx=None):
        failures.append(
            ReportFailure(
                file=sh.file,
                sheet=sh.sheet,
                row=row,
                column=column,
                value=value,
                rule=rule,
                message=message,
                column_letter=_col_letter(col_idx) if col_idx is not None else None,
            )
        )

    rows = sh.rows
    nonempty = [(n, cells) for n, cells in rows if not _is_empty_row(cells)]
    if not nonempty:
        for h in headings:
            fail(1, h, None, "missing_heading", f"the sheet is empty; heading '{h}' is missing")
        return _empty_annex(headings)

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
    data = [(n, cells) for n, cells in rows if n > head_row and not _is_empty_row(cells)]

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
            msg = f"heading '{h}' appears twice (first in column {_col_letter(colmap[h])})"
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
                 f"column {_col_letter(i)} has no heading but holds values: the sheet may hold nothing "
                 f"but what the annex specifies", i)
    for h in headings:
        if h not in colmap:
            fail(head_row, h, None, "missing_heading", f"heading '{h}' is missing", None)

    # --- rows
    def cell(cells, h) -> _Cell | None:
        i = colmap.get(h)
        if i is None:
            return None
        return cells[i] if i < len(cells) else _Cell("")

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

    df = _empty_annex(headings)
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


# -----------------------------------------------------------------------------
# the report


def default_municipality_codes() -> dict[str, str]:
    """The 98 municipalities' codes -> names, from the package's reference data."""
    from importlib import resources

    with resources.files("model").joinpath("data/municipalities.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str)
    return dict(zip(df["kommunekode"].str.strip(), df["kommune"].str.strip()))


def _register_ids(clinic_register: Any) -> set[str] | None:
    if clinic_register is None:
        return None
    if isinstance(clinic_register, pd.DataFrame):
        col = next((c for c in ("clinic_id", "ydernummer", "Ydernummer") if c in clinic_register.columns), None)
        if col is None:
            raise ValueError("clinic_register: a DataFrame needs a 'clinic_id' column")
        values = clinic_register[col]
    else:
        values = clinic_register
    out = set()
    for v in values:
        if not isinstance(v, str):
            raise TypeError(f"clinic_register: IDs must be strings ('012345'), got {v!r}")
        out.add(v.strip())
    return out


def _csv_pair(path: Path) -> tuple[Path, Path | None]:
    """Annex 1 and annex 2 files of a CSV pair given either of them."""
    m = re.search(r"(bilag|annex)([_\- ]?)([12])", path.stem, re.IGNORECASE)
    if not m:
        return path, None
    def sibling(k):
        stem = path.stem[: m.start(3)] + k + path.stem[m.end(3):]
        return path.with_name(stem + path.suffix)
    a1, a2 = sibling("1"), sibling("2")
    return a1, (a2 if a2.exists() else None)


def read_capacity_report(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    region: str | None = None,
    reporting_date: dt.date | str | None = None,
    *,
    submission_date: dt.date | str | None = None,
    known_municipality_codes: Mapping[str, str] | Iterable[str] | None = None,
    clinic_register: Any = None,
    strict: bool = False,
) -> CapacityReport:
    """Read and check one region's capacity report (annex 1 and, if present, annex 2).

    ``path`` is an Excel workbook (sheet "Bilag 1" and optionally "Bilag 2"),
    a CSV file of annex 1 (its annex 2 is found beside it when the names say
    ``bilag1`` / ``bilag2``, e.g. ``hovedstaden_2026-01-01_bilag1.csv``), or
    a pair ``(annex1_csv, annex2_csv)``.  CSV files may be UTF-8 (with or
    without BOM) or Windows-1252, separated by ``;`` (Danish Excel), ``,`` or
    tab.  Every cell is read as text first (``"012345"`` stays ``"012345"``);
    a Ydernummer or Postnummer Excel stored as a number and so shortened is
    reported as ``leading_zeros_lost`` (a number displayed with a zero-padding
    format such as ``000000`` is taken as displayed).

    ``region`` and ``reporting_date`` default to the file name
    (``<region>_<YYYY-MM-DD>.xlsx``).  Optional checks: ``submission_date``
    (late if more than three months after the reporting date),
    ``known_municipality_codes`` (a set of codes, or a mapping code -> name
    which also checks Praksiskommune; :func:`default_municipality_codes` gives
    the 98), ``clinic_register`` (IDs as strings, or a DataFrame with
    ``clinic_id``): provider numbers not in it are failures.

    All failures are collected in ``report.failures`` (see
    :class:`ReportFailure`).  ``strict=True`` raises
    :class:`CapacityReportError` listing them all instead of returning.
    """
    failures: list[ReportFailure] = []
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        pair = None
    else:
        items = [Path(x) for x in path]
        if len(items) not in (1, 2):
            raise ValueError("path: give a workbook, a CSV file, or a pair (annex1_csv, annex2_csv)")
        p, pair = items[0], (items + [None])[:2]
    if not p.exists():
        raise FileNotFoundError(f"capacity report not found: {p}")
    fname = p.name

    def file_fail(rule, message, value=None, sheet=None):
        failures.append(ReportFailure(fname, sheet, None, None, value, rule, message))

    # --- region and reporting date
    slug, fdate, _ = parse_report_filename(p)
    reg = None
    if region is not None:
        reg = canonical_region(region)
        if reg is None:
            file_fail("region_unknown", f"unknown region; known: {', '.join(REGIONS)}", region)
            reg = region
        elif slug is not None and canonical_region(slug) not in (None, reg):
            file_fail("region_mismatch", f"the file name says region '{slug}' but the report is read as {reg}", slug)
    elif slug is not None:
        reg = canonical_region(slug)
        if reg is None:
            file_fail("region_unknown", f"region '{slug}' in the file name is unknown; known: {', '.join(REGIONS)}", slug)
            reg = slug
    else:
        file_fail("region_missing", "region unknown: pass region=... or name the file <region>_<YYYY-MM-DD>.xlsx")

    rdate = None
    if reporting_date is not None:
        rdate = _to_date(reporting_date, "reporting_date")
        if fdate is not None and fdate != rdate:
            file_fail("reporting_date_mismatch",
                      f"the file name says {fdate.isoformat()} but the reporting date is {rdate.isoformat()}",
                      fdate.isoformat())
    elif fdate is not None:
        rdate = fdate
    else:
        file_fail("reporting_date_missing",
                  "reporting date unknown: pass reporting_date=... or name the file <region>_<YYYY-MM-DD>.xlsx")
    if rdate is not None and rdate.day != 1:
        file_fail("reporting_date_not_first_of_month",
                  "reports are made per the 1st of a month (R§1, R§2)", rdate.isoformat())
    if rdate is not None and reg in REGIONS:
        first, last = REGIONS[reg]
        if rdate < first or (last is not None and rdate > last):
            span = f"{first.isoformat()} to {last.isoformat()}" if last else f"from {first.isoformat()}"
            file_fail("region_not_existing", f"Region {reg} exists {span}, not on {rdate.isoformat()}", reg)

    sub = None
    if submission_date is not None:
        sub = _to_date(submission_date, "submission_date")
        if rdate is not None:
            deadline = _add_months(rdate, SUBMISSION_MONTHS)
            if sub > deadline:
                file_fail("late_submission",
                          f"submitted {sub.isoformat()}, more than three months after the reporting date "
                          f"{rdate.isoformat()} (deadline {deadline.isoformat()})", sub.isoformat())

    # --- the sheets
    if known_municipality_codes is not None and not isinstance(known_municipality_codes, Mapping):
        known_municipality_codes = {str(c) for c in known_municipality_codes}
    register = _register_ids(clinic_register)
    kw = dict(known_municipalities=known_municipality_codes, clinic_register=register)
    annex1 = _empty_annex(ANNEX1_HEADINGS)
    annex2 = _empty_annex(ANNEX2_HEADINGS)
    has_annex2 = False

    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets, titles = _read_xlsx(p)
        norm = {re.sub(r"\s+", "", t).casefold(): t for t in titles}
        t1 = norm.get("bilag1")
        t2 = norm.get("bilag2")
        if t1 is None:
            failures.append(ReportFailure(fname, SHEET_ANNEX1, None, None, None, "missing_sheet",
                                          f"no sheet '{SHEET_ANNEX1}'; the workbook has {titles}"))
        else:
            annex1 = _check_annex(sheets[t1], ANNEX1_HEADINGS, 1, failures, **kw)
        if t2 is not None:
            has_annex2 = True
            annex2 = _check_annex(sheets[t2], ANNEX2_HEADINGS, 2, failures, **kw)
        for t in titles:
            if t in (t1, t2):
                continue
            if any(not _is_empty_row(cells) for _, cells in sheets[t].rows):
                failures.append(ReportFailure(fname, t, None, None, None, "extra_sheet",
                                              f"extra sheet '{t}': the workbook may hold nothing but the "
                                              f"annexes' sheets '{SHEET_ANNEX1}' and '{SHEET_ANNEX2}'"))
    elif suffix in (".csv", ".txt"):
        if pair is None:
            a1, a2 = _csv_pair(p)
            if not a1.exists():
                raise FileNotFoundError(f"annex 1 of the CSV pair not found: {a1}")
        else:
            a1, a2 = pair
        annex1 = _check_annex(_read_csv(a1, SHEET_ANNEX1), ANNEX1_HEADINGS, 1, failures, **kw)
        if a2 is not None:
            has_annex2 = True
            annex2 = _check_annex(_read_csv(Path(a2), SHEET_ANNEX2), ANNEX2_HEADINGS, 2, failures, **kw)
    elif suffix == ".xls":
        raise ValueError(f"{fname}: the old .xls format is not read; save the workbook as .xlsx")
    else:
        raise ValueError(f"{fname}: expected an .xlsx workbook or .csv files")

    report = CapacityReport(
        region=reg,
        reporting_date=rdate,
        annex1=annex1,
        annex2=annex2,
        failures=failures,
        source=str(p),
        submission_date=sub,
        has_annex2=has_annex2,
    )
    if strict:
        report.raise_for_failures()
    return report


def check_report_schedule(
    dates: Iterable[dt.date | str | CapacityReport],
    region: str,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    as_of: dt.date | str | None = None,
) -> list[ReportFailure]:
    """Missing reports in a region's series of reporting dates.

    Reports are due per the 1st of every month; until 1 January 2027 per the
    1st of every quarter (1 January, 1 April, 1 July, 1 October) is enough
    (R§2).  The expected dates run from ``start`` (default: the earliest date
    given) to ``end`` (default: the latest date given; with ``as_of``, the
    latest reporting date whose three-month deadline has passed by then),
    within the region's existence (Hovedstaden and Sjælland until 2026,
    Østdanmark from 2027).  Dates not on the 1st of a month are failures too.
    Returns the failures (empty list: complete); ``file`` names the region.
    """
    reg = canonical_region(region) or region
    ds: list[dt.date] = []
    for d in dates:
        if isinstance(d, CapacityReport):
            if d.reporting_date is None:
                continue
            d = d.reporting_date
        ds.append(_to_date(d, "dates"))
    out: list[ReportFailure] = []
    label = f"Region {reg}"
    for d in sorted(set(ds)):
        if d.day != 1:
            out.append(ReportFailure(label, None, None, None, d.isoformat(), "reporting_date_not_first_of_month",
                                     "reports are made per the 1st of a month"))
    if not ds and start is None:
        return out
    lo = _to_date(start, "start") if start is not None else min(ds)
    if as_of is not None:
        a = _to_date(as_of, "as_of")
        hi = dt.date(a.year, a.month, 1)
        while _add_months(hi, SUBMISSION_MONTHS) >= a:
            hi = _add_months(hi, -1)
        if end is not None:
            hi = min(hi, _to_date(end, "end"))
    else:
        hi = _to_date(end, "end") if end is not None else max(ds)
    if reg in REGIONS:
        first, last = REGIONS[reg]
        lo = max(lo, first)
        if last is not None:
            hi = min(hi, last)
    have = set(ds)
    d = dt.date(lo.year, lo.month, 1)
    if d < lo:
        d = _add_months(d, 1)
    while d <= hi:
        if d >= MONTHLY_FROM:
            if d not in have:
                out.append(ReportFailure(label, None, None, None, d.isoformat(), "missing_monthly_report",
                                         f"no report per {d.isoformat()}: from 1 January 2027 reports are due "
                                         f"per the 1st of every month"))
        elif d.month in (1, 4, 7, 10) and d not in have:
            out.append(ReportFailure(label, None, None, None, d.isoformat(), "missing_quarterly_report",
                                     f"no report per {d.isoformat()}: until 1 January 2027 reports are due at "
                                     f"least per the 1st of every quarter"))
        d = _add_months(d, 1)
    return out
