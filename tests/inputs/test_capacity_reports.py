"""The regions' capacity reports over time: the synthetic series, its planted mistakes, and their validation.

The synthetic generator writes the reports over time when the panel reaches
2026 (quarterly from 1 July 2025 for the five regions, monthly from
1 January 2027 for the four), a submissions log, and ``with_mistakes/``:
one report per realistic mistake, each listed in ``mistakes.json`` with the
rule of :func:`model.inputs.capacity_reports.read_capacity_report` that must catch it.  Every
bad sheet is checked here: it fails exactly that rule, and the failure names
the file, the sheet, the row and the rule.  :func:`model.analyses.evaluation_capacity.load_capacity_reports`
(the evaluation's reader) is tested on small folders built from the series.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.analyses import evaluation_capacity as ev
from model.inputs import synthetic
from model.inputs.capacity_reports import (
    ANNEX1_HEADINGS,
    CapacityReportError,
    check_report_schedule,
    default_municipality_codes,
    read_capacity_report,
)
from model.inputs.synthetic.workbooks import _report_workbook


@pytest.fixture(scope="module")
def data(history_data) -> Path:
    return history_data


@pytest.fixture(scope="module")
def clinics(data) -> pd.DataFrame:
    return pd.read_csv(data / "clinics.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def mistakes(data) -> list[dict]:
    return json.loads((data / "capacity_reports" / "with_mistakes" / "mistakes.json").read_text(encoding="utf-8"))["mistakes"]


def _subs(folder: Path) -> dict[str, str]:
    return pd.read_csv(folder / "submissions.csv", dtype=str).set_index("file")["submission_date"].to_dict()


def _copy_report(src: Path, dst_dir: Path) -> None:
    shutil.copy(src, dst_dir / src.name)
    if src.name.endswith("_bilag1.csv"):
        two = src.with_name(src.name.replace("_bilag1", "_bilag2"))
        shutil.copy(two, dst_dir / two.name)


def _subset(data: Path, dst: Path, names: list[str], submissions: bool = True) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    rep = data / "capacity_reports"
    for n in names:
        _copy_report(rep / n, dst)
    if submissions:
        s = pd.read_csv(rep / "submissions.csv", dtype=str)
        s[s["file"].isin(names)].to_csv(dst / "submissions.csv", index=False)
    return dst


# --------------------------------------------------------------------------- the series


def test_report_dates():
    d = synthetic.report_dates([2026, 2027])
    assert d[0] == dt.date(2025, 7, 1) and d[-1] == dt.date(2028, 1, 1)
    before = [x for x in d if x < dt.date(2027, 1, 1)]
    assert [x.month for x in before] == [7, 10, 1, 4, 7, 10]  # quarterly before 2027
    after = [x for x in d if x >= dt.date(2027, 1, 1)]
    assert len(after) == 13 and all(x.day == 1 for x in after)  # monthly from 1 January 2027


def test_series_layout(data):
    rep = data / "capacity_reports"
    files = ev.find_capacity_reports(rep)
    names = [p.name for p in files]
    assert not any("with_mistakes" in str(p) for p in files)  # the sub-folder is not part of the series
    by_region: dict[str, list[str]] = {}
    for n in names:
        region, date = n.split("_")[0], n.split("_")[1].removesuffix(".xlsx")
        by_region.setdefault(region, []).append(date)
    assert set(by_region) == {"hovedstaden", "sjaelland", "syddanmark", "midtjylland", "nordjylland", "oestdanmark"}
    assert len(by_region["hovedstaden"]) == len(by_region["sjaelland"]) == 6  # until 2026, quarterly
    assert min(by_region["oestdanmark"]) == "2027-01-01" and len(by_region["oestdanmark"]) == 13
    for r in ("syddanmark", "midtjylland", "nordjylland"):
        assert len(by_region[r]) == 19
    # Nordjylland reports as CSV pairs (Danish Excel) from 2028
    assert "nordjylland_2028-01-01_bilag1.csv" in names
    assert (rep / "nordjylland_2028-01-01_bilag2.csv").exists()
    assert (rep / "nordjylland_2028-01-01_bilag1.csv").read_bytes().startswith("Ydernummer;".encode("cp1252"))
    subs = _subs(rep)
    assert set(subs) == set(names)
    for n, s in subs.items():
        day = dt.date.fromisoformat(n.split("_")[1][:10])
        assert day < dt.date.fromisoformat(s) <= day + dt.timedelta(days=92)


def test_clinics_csv_holds_the_last_report(data, clinics):
    last = read_capacity_report(data / "capacity_reports" / "oestdanmark_2028-01-01.xlsx")
    c = clinics.set_index("clinic_id")
    a = last.annex1.set_index("clinic_id")
    assert (a["allocated_capacities"] == c.loc[a.index, "capacities"].astype(float)).all()
    assert (a["vacant_capacities"] == c.loc[a.index, "vacant_capacities"].astype(float)).all()


def test_capacities_evolve(data):
    m = json.loads((data / "synthetic_manifest.json").read_text(encoding="utf-8"))["evaluation_truth"]
    nat = m["capacity_reports"]["national"]
    alloc = [v["allocated"] for v in nat.values()]
    vac = [v["vacant"] for v in nat.values()]
    assert alloc[-1] > alloc[0] * 1.03  # about 2 % a year of new capacity over 2.5 years
    assert 0 < min(vac) and max(vac) < 0.08 * max(alloc)
    assert len(set(vac)) > 3  # vacancies move


# --------------------------------------------------------------------------- every bad sheet


def test_every_kind_of_mistake_is_planted(mistakes):
    assert sorted(m["kind"] for m in mistakes) == sorted(synthetic.REPORT_MISTAKES)
    required = {"extra_column", "misspelt_heading", "ydernummer_lost_leading_zero", "reporting_date_not_first",
                "late_submission", "unknown_ydernummer"}  # the list
    assert required <= {m["kind"] for m in mistakes}


@pytest.mark.parametrize("kind", sorted(synthetic.REPORT_MISTAKES))
def test_bad_sheet_is_caught_with_file_sheet_row_and_rule(kind, data, clinics, mistakes):
    m = next(x for x in mistakes if x["kind"] == kind)
    bad = data / "capacity_reports" / "with_mistakes"
    r = read_capacity_report(bad / m["file"], submission_date=_subs(bad)[m["file"]],
                             known_municipality_codes=default_municipality_codes(), clinic_register=clinics)
    assert {f.rule for f in r.failures} == {m["rule"]}, [str(f) for f in r.failures]
    f = r.failures[0]
    assert f.file == m["file"]
    assert f.sheet == m["sheet"] and f.row == m["row"] and f.column == m["column"]
    text = str(f)
    assert m["file"] in text and f"[{m['rule']}]" in text
    if m["sheet"]:
        assert f"sheet '{m['sheet']}'" in text
    if m["row"] is not None:
        assert f"row {m['row']}" in text
    with pytest.raises(CapacityReportError) as e:
        r.raise_for_failures()
    assert m["file"] in str(e.value) and m["rule"] in str(e.value)


def test_the_good_twins_of_the_bad_sheets_pass(data, clinics, mistakes):
    """Each mistake is the only difference: the same region's report of that date in the series is clean."""
    rep = data / "capacity_reports"
    subs = _subs(rep)
    munis = default_municipality_codes()
    for m in mistakes:
        if m["kind"] in ("reporting_date_not_first", "old_region_after_merger"):
            continue  # no twin under that name
        twin = m["file"] if (rep / m["file"]).exists() else m["file"].replace("_bilag1.csv", ".xlsx")
        r = read_capacity_report(rep / twin, submission_date=subs[twin], known_municipality_codes=munis,
                                 clinic_register=clinics)
        assert r.ok, [str(f) for f in r.failures]


def test_bad_sheet_details(data, clinics, mistakes):
    bad = data / "capacity_reports" / "with_mistakes"
    by = {m["kind"]: m for m in mistakes}
    # the misspelt heading is named with the annex's spelling to use
    r = read_capacity_report(bad / by["misspelt_heading"]["file"])
    assert "write exactly 'Antal ledige kapaciteter'" in r.failures[0].message
    # the number that lost its zero is shown with the six digits it should have
    r = read_capacity_report(bad / by["ydernummer_lost_leading_zero"]["file"])
    f = r.failures[0]
    assert f.value.isdigit() and len(f.value) < 6 and f"'{f.value.zfill(6)}'" in f.message
    # late: the deadline is named
    m = by["late_submission"]
    r = read_capacity_report(bad / m["file"], submission_date=_subs(bad)[m["file"]])
    assert "deadline" in r.failures[0].message
    # an old region's name after the merger
    r = read_capacity_report(bad / by["old_region_after_merger"]["file"])
    assert "Hovedstaden" in str(r.failures[0]) and "2026-12-31" in r.failures[0].message


def test_headings_exactly_as_the_annex(tmp_path):
    """A heading in other case or with a trailing space is a failure (headings exactly as the annexes name them)."""
    rows = [["012345", "Læge A", "Algade 1", "København", "101", "1050", "Solopraksis", 1, 0]]
    heads = list(ANNEX1_HEADINGS)
    heads[1] = "praksisbetegnelse"
    heads[2] = "Adresse "
    p = tmp_path / "hovedstaden_2026-01-01.xlsx"
    p.write_bytes(_report_workbook(rows, [], dt.date(2026, 1, 1), heads1=heads))
    r = read_capacity_report(p)
    assert [(f.rule, f.column, f.row) for f in r.failures] == [
        ("misspelt_heading", "praksisbetegnelse", 1), ("misspelt_heading", "Adresse ", 1)]


# --------------------------------------------------------------------------- the evaluation's reader


GOOD = ["hovedstaden_2026-10-01.xlsx", "sjaelland_2026-10-01.xlsx", "syddanmark_2026-10-01.xlsx",
        "midtjylland_2026-10-01.xlsx", "nordjylland_2026-10-01.xlsx",
        "oestdanmark_2027-01-01.xlsx", "syddanmark_2027-01-01.xlsx", "midtjylland_2027-01-01.xlsx",
        "nordjylland_2027-01-01.xlsx", "oestdanmark_2027-02-01.xlsx", "syddanmark_2027-02-01.xlsx",
        "midtjylland_2027-02-01.xlsx", "nordjylland_2027-02-01.xlsx"]


def test_load_a_clean_folder(data, clinics, tmp_path):
    folder = _subset(data, tmp_path / "reports", GOOD)
    rs = ev.load_capacity_reports(folder, clinics, workers=1)
    assert rs.ok and rs.submissions_checked
    assert len(rs.reports) == len(GOOD) and (rs.index["failures"] == 0).all()
    t = ev.capacity_table(rs, _munis(data))
    assert (t["filled"] == t["allocated"] - t["vacant"]).all()
    assert t["health_council"].notna().all() and t["health_council"].nunique() == 17
    # island doctors under 500 listed patients are not counted
    isl = t[t["island_doctor"]]
    assert len(isl) and (isl["counted"] <= isl["allocated"]).all()
    small = rs.reports[0].annex2
    assert len(small) == 0 or "listed_patients" in small


def _munis(data: Path) -> pd.DataFrame:
    from model.inputs.tables import read_municipalities

    return read_municipalities(data / "municipalities.csv")


def test_a_bad_sheet_stops_the_folder_with_file_sheet_row_and_rule(data, clinics, mistakes, tmp_path):
    m = next(x for x in mistakes if x["kind"] == "unknown_ydernummer")
    folder = _subset(data, tmp_path / "reports", GOOD[:5])
    shutil.copy(data / "capacity_reports" / "with_mistakes" / m["file"], folder / m["file"])
    s = pd.read_csv(folder / "submissions.csv", dtype=str)
    s.loc[len(s)] = [m["file"], m["region"], m["reporting_date"], "2027-07-01"]
    s.to_csv(folder / "submissions.csv", index=False)
    with pytest.raises(CapacityReportError) as e:
        ev.load_capacity_reports(folder, clinics, workers=1)
    msg = str(e.value)
    assert m["file"] in msg and "sheet 'Bilag 1'" in msg and f"row {m['row']}" in msg and "[ydernummer_unknown]" in msg
    rs = ev.load_capacity_reports(folder, clinics, strict=False, workers=1)
    assert not rs.ok and set(rs.failures["rule"]) >= {"ydernummer_unknown"}
    assert int(rs.index.set_index("file").loc[m["file"], "failures"]) >= 1


def test_schedule_duplicates_and_submission_log(data, clinics, tmp_path):
    # a missing monthly report in the middle of the series
    names = [n for n in GOOD if n != "midtjylland_2027-01-01.xlsx"]
    rs = ev.load_capacity_reports(_subset(data, tmp_path / "a", names), clinics, strict=False, workers=1)
    miss = rs.failures[rs.failures["rule"] == "missing_monthly_report"]
    assert list(miss["value"]) == ["2027-01-01"] and "Midtjylland" in miss["file"].iloc[0]
    # the same region and date twice (the file name differs only in case)
    folder = _subset(data, tmp_path / "b", GOOD[:5])
    shutil.copy(folder / "syddanmark_2026-10-01.xlsx", folder / "Syddanmark_2026-10-01.xlsx")
    rs = ev.load_capacity_reports(folder, clinics, strict=False, submissions=None, workers=1)
    assert list(rs.failures["rule"]) == ["duplicate_report"]
    assert not rs.submissions_checked
    # a report the submissions log does not know
    folder = _subset(data, tmp_path / "c", GOOD[:5])
    s = pd.read_csv(folder / "submissions.csv", dtype=str)
    s.iloc[1:].to_csv(folder / "submissions.csv", index=False)
    rs = ev.load_capacity_reports(folder, clinics, strict=False, workers=1)
    assert list(rs.failures["rule"]) == ["submission_date_unknown"]


def test_schedule_rule_directly():
    quarterly = [dt.date(2026, m, 1) for m in (1, 4, 10)]
    f = check_report_schedule(quarterly, "Syddanmark")
    assert [x.rule for x in f] == ["missing_quarterly_report"] and f[0].value == "2026-07-01"
    assert check_report_schedule([dt.date(2026, 12, 1), dt.date(2027, 1, 1)], "Hovedstaden") == []


@pytest.mark.slow
def test_whole_series_reads_clean_in_parallel(data, clinics):
    rs = ev.load_capacity_reports(data / "capacity_reports", clinics, workers=2)
    assert rs.ok, rs.failures.head().to_string()
    assert len(rs.reports) == len(ev.find_capacity_reports(data / "capacity_reports"))
    assert np.array_equal(rs.index["file"], [p.name for p in ev.find_capacity_reports(data / "capacity_reports")])


@pytest.mark.slow
def test_validate_folder_accepts_the_series(data):
    """model.inputs.contracts reads the top level of capacity_reports/ (the series), not with_mistakes/: no errors."""
    from model.inputs.contracts import validate_folder

    report = validate_folder(data, years=[2026])
    assert report.ok, report.format()


def test_a_parsed_workbook_is_kept_by_its_content(data, tmp_path, monkeypatch):
    """The parse of a workbook is kept by content: the same bytes under another name are named for their file,
    a changed byte and a damaged cache entry are parsed again, and the cache off parses every time."""
    from model import artifacts
    from model.inputs import capacity_sheets as cs

    monkeypatch.setenv("FORDELINGSMODEL_CACHE", str(tmp_path / "cache"))
    src = sorted((data / "capacity_reports").glob("*.xlsx"))[0]
    a, b = tmp_path / "a" / src.name, tmp_path / "b" / "nordjylland_2026-01-01.xlsx"
    for p in (a, b):
        p.parent.mkdir()
        shutil.copyfile(src, p)
    parses = []
    real = cs._parse_xlsx
    monkeypatch.setattr(cs, "_parse_xlsx", lambda path: parses.append(path) or real(path))
    monkeypatch.setattr(artifacts, "_KEPT", {})
    first, titles = cs.read_xlsx(a)
    again, _ = cs.read_xlsx(b)
    assert parses == [a], "the same bytes are parsed once"
    assert {sh.file for sh in again.values()} == {b.name} and {sh.file for sh in first.values()} == {a.name}
    assert [sh.rows for sh in again.values()] == [sh.rows for sh in first.values()]
    again[titles[0]].rows.clear()  # a caller's change does not reach the kept parse
    assert cs.read_xlsx(a)[0][titles[0]].rows == first[titles[0]].rows
    monkeypatch.setattr(artifacts, "_KEPT", {})  # a new process: from the cache folder
    assert cs.read_xlsx(a)[0][titles[0]].rows == first[titles[0]].rows and parses == [a]
    for f in (tmp_path / "cache" / "sheets").glob("*.pickle"):
        f.write_bytes(b"damaged")
    monkeypatch.setattr(artifacts, "_KEPT", {})
    assert cs.read_xlsx(a)[0][titles[0]].rows == first[titles[0]].rows and parses == [a, a]
    import openpyxl  # a changed byte: another key
    wb = openpyxl.load_workbook(a)
    wb.worksheets[0]["A1"] = "changed"
    wb.save(a)
    cs.read_xlsx(a)
    assert parses == [a, a, a]
    monkeypatch.setenv("FORDELINGSMODEL_NO_CACHE", "1")
    cs.read_xlsx(b)
    cs.read_xlsx(b)
    assert parses[-2:] == [b, b]
