"""The regions' capacity reports (*kapacitetsindberetninger*): one per region per 1 January, or
the reports over time with their submission log and the planted mistakes.

*Bilag 1* (annex 1) lists each clinic's allocated (*udmøntede*) and vacant
(*ledige*) capacities; *bilag 2* (annex 2) adds the listed patients of island
doctors.  From 1 January 2027 Hovedstaden and Sjælland report as Østdanmark.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.inputs.synthetic.clinics import _VACANCY_PROB
from model.inputs.synthetic.population import _REGION_ORDER, _REGION_SLUG, _Context
from model.inputs.synthetic.workbooks import (
    _HEADS1,
    _num,
    _report_rows,
    _report_workbook,
    _write_csv_pair,
)

#: First reporting date of the capacity reports over time (the executive order took effect 1 July 2025).
FIRST_REPORT_DATE = dt.date(2025, 7, 1)
#: Reports are quarterly before this date and monthly from it (R§2).
MONTHLY_REPORTS_FROM = dt.date(2027, 1, 1)
#: New capacities allocated per year as a share of the region's allocated capacities (assumed; by the
#: 2007-2026 region index).  About 2 % a year nationally: short of the 2.9 % a year that 5,000 GPs
#: in 2035 would take.
CAPACITY_GROWTH = {0: 0.015, 1: 0.030, 2: 0.020, 3: 0.020, 4: 0.030}
#: Monthly probability that a vacant capacity is filled (mean vacancy about 8 months; assumed).
VACANCY_FILL_RATE = 0.12
#: The mistakes planted in ``capacity_reports/with_mistakes/`` (one per file): kind -> the rule of
#: :func:`model.inputs.capacity_reports.read_capacity_report` that must catch it.
REPORT_MISTAKES: dict[str, str] = {
    "extra_column": "extra_column",
    "misspelt_heading": "misspelt_heading",
    "ydernummer_lost_leading_zero": "leading_zeros_lost",
    "reporting_date_not_first": "reporting_date_not_first_of_month",
    "late_submission": "late_submission",
    "unknown_ydernummer": "ydernummer_unknown",
    "old_region_after_merger": "region_not_existing",
    "vacant_exceeds_allocated": "vacant_exceeds_allocated",
    "extra_sheet": "extra_sheet",
    "csv_ydernummer_lost_leading_zero": "ydernummer_format",
}


def _open_on(plan: pd.DataFrame, day: dt.date) -> np.ndarray:
    """Clinics open on a reporting date (opened by then, not closed before)."""
    iso = day.isoformat()
    closed = plan["closed"].to_numpy()
    return (plan["opened"].to_numpy() <= iso) & ((closed == "") | (closed >= iso))


def _write_capacity_reports(out_dir: Path, plan: pd.DataFrame, ctx: _Context, report_date: dt.date,
                            listed: np.ndarray) -> list[Path]:
    """One workbook per region per ``report_date`` into ``capacity_reports/``; returns the paths."""
    rep_dir = out_dir / "capacity_reports"
    rep_dir.mkdir(parents=True, exist_ok=True)
    iso = report_date.isoformat()
    open_ = _open_on(plan, report_date)
    alloc = plan["capacities"].to_numpy(dtype=float)
    vac = plan["vacant_capacities"].to_numpy(dtype=float)
    paths = []
    for r, rname in enumerate(_REGION_ORDER):
        sel = np.where(open_ & (ctx.region[plan["muni"].to_numpy()] == r))[0]
        rows1, rows2 = _report_rows(plan, ctx, sel, alloc, vac, listed)
        path = rep_dir / f"{_REGION_SLUG[rname]}_{iso}.xlsx"
        path.write_bytes(_report_workbook(rows1, rows2, report_date))
        paths.append(path)
    return paths


#: Regions from 1 January 2027 (Hovedstaden and Sjælland merge into Østdanmark) over the 2007-2026 indices.
_REGIONS_2027: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("Østdanmark", "oestdanmark", (0, 1)), ("Syddanmark", "syddanmark", (2,)),
    ("Midtjylland", "midtjylland", (3,)), ("Nordjylland", "nordjylland", (4,)),
)
#: Region that sends its reports as CSV pairs (Danish Excel: ';', Windows-1252) from 1 January 2028.
_CSV_REGION, _CSV_FROM = "Nordjylland", dt.date(2028, 1, 1)


def _add_month(d: dt.date, k: int = 1) -> dt.date:
    """The 1st of the month ``k`` months after ``d``'s month."""
    m = d.month - 1 + k
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def report_dates(years: Iterable[int]) -> list[dt.date]:
    """Reporting dates of the capacity reports over time for a panel of ``years``.

    Per the 1st of every quarter from :data:`FIRST_REPORT_DATE` until
    :data:`MONTHLY_REPORTS_FROM`, then per the 1st of every month, up to and
    including 1 January after the latest panel year (R§2).
    """
    last = max(int(y) for y in years)
    end = dt.date(last + 1, 1, 1)
    out, d = [], FIRST_REPORT_DATE
    while d <= end:
        if d >= MONTHLY_REPORTS_FROM or d.month in (1, 4, 7, 10):
            out.append(d)
        d = _add_month(d)
    return out or [end]


def _regions_on(day: dt.date) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, file slug, 2007-2026 region indices) of the regions that report on ``day``."""
    if day >= MONTHLY_REPORTS_FROM:
        return list(_REGIONS_2027)
    return [(name, _REGION_SLUG[name], (i,)) for i, name in enumerate(_REGION_ORDER)]


def _simulate_capacities(rng: np.random.Generator, plan: pd.DataFrame, ctx: _Context,
                         dates: list[dt.date]) -> dict[str, Any]:
    """Allocated and vacant capacities per clinic, month by month from the first reporting date.

    Start: the clinic table's capacities and vacancies.  Each month, while a
    clinic is open: a filled capacity falls vacant with a probability that
    keeps the clinic's vacancy share near its long-run level (the share the
    clinic table's vacancies are drawn with), a vacant one is filled with
    :data:`VACANCY_FILL_RATE`, and each region allocates new capacities
    (:data:`CAPACITY_GROWTH` a year) to its open ordinary and regional
    clinics in proportion to their capacities; a new capacity starts vacant.
    Out: ``states`` {date: (allocated, vacant, open)} and the final arrays.
    """
    region = ctx.region[plan["muni"].to_numpy()].astype(np.int64)
    island = plan["island_doctor"].to_numpy(dtype=bool)
    rt = plan["practice_form"].isin(["regional", "tender"]).to_numpy()
    p_vac = np.where(rt, 0.25, np.where(island, 0.10, np.array([_VACANCY_PROB[int(r)] for r in region])))
    q = VACANCY_FILL_RATE * p_vac / (1.0 - p_vac)
    alloc = np.rint(plan["capacities"].to_numpy(dtype=float)).astype(np.int64)
    vac = np.minimum(np.rint(plan["vacant_capacities"].to_numpy(dtype=float)).astype(np.int64), alloc)
    want = set(dates)
    states: dict[dt.date, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    month = min(dates)
    while True:
        open_ = _open_on(plan, month)
        if month in want:
            states[month] = (alloc.astype(float), vac.astype(float), open_.copy())
        if month >= max(dates):
            break
        filled = alloc - vac
        leave = rng.binomial(filled, q)
        fill = rng.binomial(vac, VACANCY_FILL_RATE)
        vac = vac + np.where(open_, leave - fill, 0)
        for r in sorted(CAPACITY_GROWTH):
            elig = np.flatnonzero(open_ & (region == r) & ~island)
            if not len(elig):
                continue
            k = int(rng.poisson(CAPACITY_GROWTH[r] / 12.0 * alloc[elig].sum()))
            if k:
                w = alloc[elig].astype(float)
                pick = elig[rng.choice(len(elig), size=k, p=w / w.sum())]
                np.add.at(alloc, pick, 1)
                np.add.at(vac, pick, 1)
        month = _add_month(month)
    return {"states": states, "allocated": alloc.astype(float), "vacant": vac.astype(float)}


def _submission_date(rng: np.random.Generator, day: dt.date) -> dt.date:
    """A region's report arrives 5 to 75 days after the reporting date (within the three months)."""
    return day + dt.timedelta(days=int(rng.integers(5, 76)))


def _write_report_history(out_dir: Path, plan: pd.DataFrame, ctx: _Context, sim: dict[str, Any],
                          listed_by_year: dict[int, np.ndarray], scale_up: float, rng: np.random.Generator
                          ) -> tuple[list[Path], list[Path]]:
    """The reports over time in ``capacity_reports/`` and the planted mistakes in ``with_mistakes/``.

    Also writes ``capacity_reports/submissions.csv`` (file, region, reporting
    date, date received: SDS's log of when each report arrived) and
    ``with_mistakes/mistakes.json`` (file, kind, the rule that must catch
    it, where) with its own ``submissions.csv``.
    """
    rep_dir = out_dir / "capacity_reports"
    rep_dir.mkdir(parents=True, exist_ok=True)
    bad_dir = rep_dir / "with_mistakes"
    bad_dir.mkdir(parents=True, exist_ok=True)
    years = sorted(listed_by_year)
    region_of = ctx.region[plan["muni"].to_numpy()]
    paths: list[Path] = []
    subs: list[tuple[str, str, str, str]] = []
    content: dict[tuple[str, dt.date], tuple[list, list]] = {}
    for day in sorted(sim["states"]):
        alloc, vac, open_ = sim["states"][day]
        y = min(max(day.year - 1 if day.month == 1 else day.year, years[0]), years[-1])
        listed = np.rint(listed_by_year[y] * scale_up).astype(np.int64)
        for name, slug, idx in _regions_on(day):
            sel = np.flatnonzero(open_ & np.isin(region_of, idx))
            rows1, rows2 = _report_rows(plan, ctx, sel, alloc, vac, listed)
            content[(name, day)] = (rows1, rows2)
            if name == _CSV_REGION and day >= _CSV_FROM:
                path = _write_csv_pair(rep_dir / f"{slug}_{day.isoformat()}_bilag1.csv", rows1, rows2)
            else:
                path = rep_dir / f"{slug}_{day.isoformat()}.xlsx"
                path.write_bytes(_report_workbook(rows1, rows2, day))
            paths.append(path)
            subs.append((path.name, name, day.isoformat(), _submission_date(rng, day).isoformat()))
    pd.DataFrame(subs, columns=["file", "region", "reporting_date", "submission_date"]).to_csv(
        rep_dir / "submissions.csv", index=False, lineterminator="\n")
    bad = _write_mistakes(bad_dir, plan, ctx, sim, content, rng)
    return paths, bad


def _write_mistakes(bad_dir: Path, plan: pd.DataFrame, ctx: _Context, sim: dict[str, Any],
                    content: dict[tuple[str, dt.date], tuple[list, list]], rng: np.random.Generator) -> list[Path]:
    """One report per kind of :data:`REPORT_MISTAKES`, each a good report with one realistic mistake."""
    days = sorted(sim["states"])
    pre = [d for d in days if d < MONTHLY_REPORTS_FROM] or days
    post = [d for d in days if d >= MONTHLY_REPORTS_FROM] or days

    def at(lst, i):
        return lst[min(i, len(lst) - 1)]

    known = set(plan["clinic_id"])
    slug = {name: s for name, s, _ in _REGIONS_2027} | {n: _REGION_SLUG[n] for n in _REGION_ORDER}

    def with_zero(day):  # a region with a provider number starting with 0 on that date, and the row
        for name, _, _ in _regions_on(day):
            for k, row in enumerate(content[(name, day)][0]):
                if str(row[0]).startswith("0"):
                    return name, k
        raise RuntimeError("no provider number with a leading zero")  # pragma: no cover

    records: list[dict[str, Any]] = []
    subs: list[tuple[str, str, str, str]] = []
    paths: list[Path] = []

    def emit(kind, name, day, data: bytes | None, rule_row, column, description, file_day=None, sheet="Bilag 1",
             submitted=None, path=None):
        fday = file_day or day
        if path is None:
            path = bad_dir / f"{slug[name]}_{fday.isoformat()}.xlsx"
            path.write_bytes(data)
        paths.append(path)
        records.append({"file": path.name, "kind": kind, "rule": REPORT_MISTAKES[kind], "region": name,
                        "reporting_date": fday.isoformat(), "sheet": sheet, "row": rule_row, "column": column,
                        "description": description})
        subs.append((path.name, name, fday.isoformat(), (submitted or _submission_date(rng, day)).isoformat()))

    # 1. an extra column of remarks (Hovedstaden, a quarterly report)
    day = at(pre, 2)
    r1, r2 = content[("Hovedstaden", day)]
    rows = [row + (["Ny kapacitet udmøntet"] if k % 7 == 0 else [None]) for k, row in enumerate(r1)]
    emit("extra_column", "Hovedstaden", day, _report_workbook(rows, r2, day, heads1=_HEADS1 + ["Bemærkninger"]),
         1, "Bemærkninger", "a column 'Bemærkninger' (remarks) added after the annex's columns")
    # 2. a misspelt heading (Sjælland)
    day = at(pre, 3)
    r1, r2 = content[("Sjælland", day)]
    heads = _HEADS1[:8] + ["Antal ledige kapacitet"]
    emit("misspelt_heading", "Sjælland", day, _report_workbook(r1, r2, day, heads1=heads),
         1, "Antal ledige kapacitet", "heading 'Antal ledige kapacitet' for 'Antal ledige kapaciteter'")
    # 3. a Ydernummer stored as a number: its leading zero is lost
    day = at(post, 1)
    name, k = with_zero(day)
    r1, r2 = content[(name, day)]
    emit("ydernummer_lost_leading_zero", name, day, _report_workbook(r1, r2, day, numeric_id_rows=[k]),
         k + 2, "Ydernummer", f"Ydernummer {r1[k][0]} typed into a cell formatted as a number: {int(r1[k][0])}")
    # 4. a reporting date that is not the 1st of a month
    day = at(post, 2)
    r1, r2 = content[("Midtjylland", day)]
    wrong = day.replace(day=15)
    emit("reporting_date_not_first", "Midtjylland", day, _report_workbook(r1, r2, wrong), None, None,
         f"report made per {wrong.isoformat()} instead of the 1st of the month", file_day=wrong, sheet=None)
    # 5. a late submission (the report itself is right)
    day = at(post, 4)
    r1, r2 = content[("Nordjylland", day)]
    late = _add_month(day, 4) + dt.timedelta(days=19)
    emit("late_submission", "Nordjylland", day, _report_workbook(r1, r2, day), None, None,
         f"received {late.isoformat()}, more than three months after the reporting date", sheet=None,
         submitted=late)
    # 6. an unknown Ydernummer (digits transposed into a number no clinic has)
    day = at(post, 5)
    r1, r2 = content[("Østdanmark", day)]
    k = len(r1) // 2
    cid = str(r1[k][0])
    cand = cid[:4] + cid[5] + cid[4]
    while cand in known:
        cand = f"{int(rng.integers(1, 999_999)):06d}"
    rows = [list(r) for r in r1]
    rows[k][0] = cand
    emit("unknown_ydernummer", "Østdanmark", day, _report_workbook(rows, r2, day), k + 2, "Ydernummer",
         f"Ydernummer {cand} does not exist (the clinic's number is {cid})")
    # 7. the old region's name after the merger of 1 January 2027
    day = at(post, 0)
    r1, r2 = content[("Østdanmark", day)]
    hov = set(ctx.codes[np.flatnonzero(ctx.region == 0)])
    rows1 = [r for r in r1 if r[4] in hov]
    rows2 = [r for r in r2 if r[4] in hov]
    emit("old_region_after_merger", "Hovedstaden", day, _report_workbook(rows1, rows2, day), None, None,
         "reported as Region Hovedstaden, which merged into Region Østdanmark on 1 January 2027", sheet=None)
    # 8. more vacant than allocated capacities
    day = at(post, 6)
    r1, r2 = content[("Syddanmark", day)]
    k = len(r1) // 3
    rows = [list(r) for r in r1]
    rows[k][8] = _num(float(rows[k][7]) + 1)
    emit("vacant_exceeds_allocated", "Syddanmark", day, _report_workbook(rows, r2, day), k + 2,
         "Antal ledige kapaciteter", "more vacant capacities than allocated ones in one row")
    # 9. an extra sheet of notes
    day = at(post, 7)
    r1, r2 = content[("Midtjylland", day)]
    emit("extra_sheet", "Midtjylland", day,
         _report_workbook(r1, r2, day, extra_sheet=("Noter", [["Bemærkning"], ["Tal opgjort af regionen"]])),
         None, None, "a third sheet 'Noter' with the region's notes", sheet="Noter")
    # 10. a CSV export whose Ydernummer lost its leading zero
    day = at(post, 8)
    name, k = with_zero(day)
    r1, r2 = content[(name, day)]
    rows = [list(r) for r in r1]
    rows[k][0] = str(int(rows[k][0]))
    path = _write_csv_pair(bad_dir / f"{slug[name]}_{day.isoformat()}_bilag1.csv", rows, r2)
    emit("csv_ydernummer_lost_leading_zero", name, day, None, k + 2, "Ydernummer",
         f"CSV export in which Ydernummer {r1[k][0]} became {rows[k][0]}", path=path)

    (bad_dir / "mistakes.json").write_text(json.dumps({
        "description": "SYNTHETIC capacity reports, each with one planted mistake that model.ingest must catch. "
                       "Validate with the clinic register (clinics.csv), the 98 municipality codes and the "
                       "submission dates of submissions.csv in this folder.",
        "mistakes": records}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    pd.DataFrame(subs, columns=["file", "region", "reporting_date", "submission_date"]).to_csv(
        bad_dir / "submissions.csv", index=False, lineterminator="\n")
    return paths
