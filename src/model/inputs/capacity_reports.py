"""The regions' capacity reports (annex 1: capacities per municipality; annex 2: island doctors): one report
read and checked, and a region's series of reports.

The guidance on reporting allocated and vacant GP capacities and island
doctors ("R§" in docs/method.md) gives an Excel template: annex 1 (*Bilag 1*,
one row per provider number) and annex 2 (*Bilag 2*, island doctors,
*ø-læger*). :func:`read_capacity_report` reads one report, checks it against
the annex's rules (sheet by sheet in :mod:`model.inputs.capacity_sheets`)
and collects *every* failure (file, sheet, Excel row, column, value, rule)
instead of stopping at the first, as :class:`model.inputs.contracts.Failure`
records (the package's one failure record, with ``sheet``, ``message`` and
``column_letter`` filled in); :func:`check_report_schedule` checks that a
region's reports arrive monthly (quarterly before 1 January 2027).

Danish terms: *region* -- one of the five regions (Hovedstaden and Sjælland
merge into Østdanmark on 1 January 2027); *indberetningsdato* -- the
reporting date, the 1st of a month.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from model.errors import ConfigError, InputError
from model.inputs.capacity_sheets import (
    ANNEX1_HEADINGS,
    ANNEX2_HEADINGS,
    REPORT_FAILURE_COLUMNS,
    SHEET_ANNEX1,
    SHEET_ANNEX2,
    check_annex,
    empty_annex,
    is_empty_row,
    read_csv,
    read_xlsx,
    report_failure,
)
from model.inputs.contracts.report import Failure
from model.inputs.contracts.spec import ERROR, WARNING

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
    failures: list[Failure] = field(default_factory=list)
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

    def raise_for_failures(self) -> CapacityReport:
        """Raise :class:`CapacityReportError` listing every failure; return self if there are none."""
        if self.failures:
            raise CapacityReportError(self.failures, self)
        return self

    def failures_frame(self) -> pd.DataFrame:
        """The failures as a table (file, sheet, row, column, value, rule, message, column_letter)."""
        return pd.DataFrame([f.to_dict() for f in self.failures], columns=list(REPORT_FAILURE_COLUMNS))


class CapacityReportError(InputError):
    """A capacity report breaks the annex's rules; the message lists every failure."""

    def __init__(self, failures: Sequence[Failure], report: CapacityReport | None = None):
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
            raise ConfigError(f"{what}: {d!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"{what}: expected a date or an ISO date string, got {type(d).__name__}")


def _add_months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))



# -----------------------------------------------------------------------------
# the report


def default_municipality_codes() -> dict[str, str]:
    """The 98 municipalities' codes -> names, from the package's reference data."""
    with resources.files("model").joinpath("data/municipalities.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str)
    return dict(zip(df["kommunekode"].str.strip(), df["kommune"].str.strip()))


def _register_ids(clinic_register: Any) -> set[str] | None:
    if clinic_register is None:
        return None
    if isinstance(clinic_register, pd.DataFrame):
        col = next((c for c in ("clinic_id", "ydernummer", "Ydernummer") if c in clinic_register.columns), None)
        if col is None:
            raise ConfigError("clinic_register: a DataFrame needs a 'clinic_id' column")
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

    All failures are collected in ``report.failures``
    (:class:`model.inputs.contracts.Failure` records with sheet, row,
    column letter, rule identifier and message).  ``strict=True`` raises
    :class:`CapacityReportError` listing them all instead of returning.
    """
    failures: list[Failure] = []
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        pair = None
    else:
        items = [Path(x) for x in path]
        if len(items) not in (1, 2):
            raise ConfigError("path: give a workbook, a CSV file, or a pair (annex1_csv, annex2_csv)")
        p, pair = items[0], (items + [None])[:2]
    if not p.exists():
        raise FileNotFoundError(f"capacity report not found: {p}")
    fname = p.name

    def file_fail(rule, message, value=None, sheet=None, severity=ERROR):
        failures.append(report_failure(fname, sheet, None, None, value, rule, message, severity=severity))

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
                          f"{rdate.isoformat()} (deadline {deadline.isoformat()})", sub.isoformat(),
                          severity=WARNING)  # flagged, still data (R§2)

    # --- the sheets
    if known_municipality_codes is not None and not isinstance(known_municipality_codes, Mapping):
        known_municipality_codes = {str(c) for c in known_municipality_codes}
    register = _register_ids(clinic_register)
    kw = dict(known_municipalities=known_municipality_codes, clinic_register=register)
    annex1 = empty_annex(ANNEX1_HEADINGS)
    annex2 = empty_annex(ANNEX2_HEADINGS)
    has_annex2 = False

    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets, titles = read_xlsx(p)
        norm = {re.sub(r"\s+", "", t).casefold(): t for t in titles}
        t1 = norm.get("bilag1")
        t2 = norm.get("bilag2")
        if t1 is None:
            failures.append(report_failure(fname, SHEET_ANNEX1, None, None, None, "missing_sheet",
                                          f"no sheet '{SHEET_ANNEX1}'; the workbook has {titles}"))
        else:
            annex1 = check_annex(sheets[t1], ANNEX1_HEADINGS, 1, failures, **kw)
        if t2 is not None:
            has_annex2 = True
            annex2 = check_annex(sheets[t2], ANNEX2_HEADINGS, 2, failures, **kw)
        for t in titles:
            if t in (t1, t2):
                continue
            if any(not is_empty_row(cells) for _, cells in sheets[t].rows):
                failures.append(report_failure(fname, t, None, None, None, "extra_sheet",
                                              f"extra sheet '{t}': the workbook may hold nothing but the "
                                              f"annexes' sheets '{SHEET_ANNEX1}' and '{SHEET_ANNEX2}'"))
    elif suffix in (".csv", ".txt"):
        if pair is None:
            a1, a2 = _csv_pair(p)
            if not a1.exists():
                raise FileNotFoundError(f"annex 1 of the CSV pair not found: {a1}")
        else:
            a1, a2 = pair
        annex1 = check_annex(read_csv(a1, SHEET_ANNEX1), ANNEX1_HEADINGS, 1, failures, **kw)
        if a2 is not None:
            has_annex2 = True
            annex2 = check_annex(read_csv(Path(a2), SHEET_ANNEX2), ANNEX2_HEADINGS, 2, failures, **kw)
    elif suffix == ".xls":
        raise InputError(f"{fname}: the old .xls format is not read; save the workbook as .xlsx")
    else:
        raise InputError(f"{fname}: expected an .xlsx workbook or .csv files")

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
) -> list[Failure]:
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
    out: list[Failure] = []
    label = f"Region {reg}"
    for d in sorted(set(ds)):
        if d.day != 1:
            out.append(report_failure(label, None, None, None, d.isoformat(), "reporting_date_not_first_of_month",
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
                out.append(report_failure(label, None, None, None, d.isoformat(), "missing_monthly_report",
                                         f"no report per {d.isoformat()}: from 1 January 2027 reports are due "
                                         f"per the 1st of every month"))
        elif d.month in (1, 4, 7, 10) and d not in have:
            out.append(report_failure(label, None, None, None, d.isoformat(), "missing_quarterly_report",
                                     f"no report per {d.isoformat()}: until 1 January 2027 reports are due at "
                                     f"least per the 1st of every quarter"))
        d = _add_months(d, 1)
    return out
