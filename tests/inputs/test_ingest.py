"""Tests of model.inputs.services (service-line aggregation) and model.inputs.capacity_reports (the regions' capacity reports)."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest

from model.inputs import capacity_reports, services
from model.inputs.capacity_reports import (
    ANNEX1_HEADINGS,
    ANNEX2_HEADINGS,
    CapacityReportError,
    check_report_schedule,
    read_capacity_report,
)
from model.inputs.services import NegativeFeeError, UnknownPersonsWarning, aggregate_services, ingest, ingest_persons

# =============================================================================
# service lines
# =============================================================================


def _lines(rows):
    df = pd.DataFrame(
        rows, columns=["person_id", "clinic_id", "year", "week", "service_code", "count", "fee"]
    )
    return df.astype({"person_id": "str", "clinic_id": "str", "service_code": "str",
                      "year": "int64", "week": "int64", "count": "int64", "fee": "float64"})


SERVICES = _lines(
    [
        # person 0001 (leading zeros): two clinics, local ultrasound 4350 and 4360
        ("0001", "000101", 2024, 1, "0101", 1, 145.50),
        ("0001", "000101", 2024, 2, "4350", 1, 287.16),
        ("0001", "000202", 2024, 3, "4360", 1, 287.16),
        ("0001", "000202", 2024, 9, "0101", 1, 100.00),
        # person 0002: 4349 and 4361 are NOT local services
        ("0002", "000202", 2024, 5, "4349", 1, 150.00),
        ("0002", "000202", 2024, 6, "4361", 2, 150.00),
        ("0002", "000101", 2024, 7, "0105", 1, 30.25),
        # person 0003: a correction inside the year (total stays positive)
        ("0003", "000101", 2024, 8, "0101", 1, 145.50),
        ("0003", "000101", 2024, 9, "0101", 1, -145.50),
        ("0003", "000101", 2024, 10, "0120", 1, 60.10),
        # other years
        ("0001", "000101", 2023, 1, "0101", 1, 100.00),
        ("0004", "000303", 2023, 4, "4355", 1, 200.00),
        ("0001", "000101", 2022, 1, "0101", 1, 50.00),
    ]
)


@pytest.fixture
def services_file(tmp_path):
    p = tmp_path / "services.parquet"
    SERVICES.sample(frac=1.0, random_state=3).to_parquet(p, index=False)  # shuffled on purpose
    return p


def test_aggregate_exact_sums_local_codes_and_ids(services_file, tmp_path):
    df = aggregate_services(services_file, 2024, temp_dir=tmp_path / "duck", memory_limit="200MB", threads=2)
    assert list(df.columns) == ["person_id", "year", "gross_fee", "local_services_fee", "contact_fee", "n_lines",
                                "n_services", "main_clinic_id"]
    assert df["person_id"].tolist() == ["0001", "0002", "0003"]  # sorted, zeros kept
    assert df["year"].tolist() == [2024, 2024, 2024]
    # exact sums (øre-integer arithmetic): equality, not approximation
    assert df["gross_fee"].tolist() == [145.50 + 287.16 + 287.16 + 100.00, 150.00 + 150.00 + 30.25, 60.10]
    assert df["gross_fee"].tolist() == [819.82, 330.25, 60.10]
    # 4350 and 4360 count as local; 4349 and 4361 do not
    assert df["local_services_fee"].tolist() == [574.32, 0.0, 0.0]
    # contact services (0101 consultation, 0105 e-mail; 0120 is not one): the fee the chronic-care fee replaces
    assert df["contact_fee"].tolist() == [245.50, 30.25, 0.0]
    assert df["n_lines"].tolist() == [4, 3, 3]
    assert df["n_services"].tolist() == [4, 4, 3]
    # main clinic: most fee (000101: 432.66 vs 000202: 387.16); IDs stay 6-digit strings
    assert df["main_clinic_id"].tolist() == ["000101", "000202", "000101"]
    assert df.attrs["indexed"] is False and df.attrs["years"] == [2024]


def test_local_service_codes_parameter(services_file):
    df = aggregate_services(services_file, 2024, local_service_codes=[4349, "4361"])
    assert df.set_index("person_id")["local_services_fee"].to_dict() == {"0001": 0.0, "0002": 300.0, "0003": 0.0}


def test_fee_index_brings_earlier_years_to_latest_price_level(services_file, tmp_path):
    idx = tmp_path / "fee_index.csv"
    idx.write_text("year,index\n2022,90\n2023,100\n2024,110\n2025,121\n")
    df = aggregate_services(services_file, [2023, 2024], fee_index=idx)
    # latest = max year of the index (2025): factors 121/100 and 121/110
    got = df.set_index(["person_id", "year"])["gross_fee"]
    assert got[("0001", 2023)] == pytest.approx(100.00 * 1.21, rel=1e-15)
    assert got[("0001", 2024)] == pytest.approx(819.82 * 1.1, rel=1e-15)
    assert got[("0004", 2023)] == pytest.approx(200.0 * 1.21, rel=1e-15)
    assert df.set_index(["person_id", "year"])["local_services_fee"][("0004", 2023)] == pytest.approx(242.0)
    assert df.attrs["price_year"] == 2025 and df.attrs["indexed"]
    assert [tuple(x) for x in df[["person_id", "year"]].to_numpy()] == [
        ("0001", 2023), ("0001", 2024), ("0002", 2024), ("0003", 2024), ("0004", 2023)]

    # explicit price year
    df = aggregate_services(services_file, [2023, 2024], fee_index=idx, price_year=2024)
    got = df.set_index(["person_id", "year"])["gross_fee"]
    assert got[("0001", 2023)] == pytest.approx(110.0) and got[("0001", 2024)] == 819.82

    # one year without price_year: its own price level
    df = aggregate_services(services_file, 2023, fee_index=idx)
    assert df.set_index("person_id")["gross_fee"]["0001"] == 100.0

    # pooled: one row per person, summed after indexing
    df = aggregate_services(services_file, [2022, 2023, 2024], fee_index=idx, by_year=False)
    row = df.set_index("person_id").loc["0001"]
    assert row["gross_fee"] == pytest.approx(50 * 121 / 90 + 100 * 1.21 + 819.82 * 1.1)
    assert row["year"] == 2025 and row["n_lines"] == 6

    with pytest.raises(ValueError, match=r"no value for year\(s\) \[2021\]"):
        aggregate_services(services_file, [2021, 2024], fee_index=idx)


def test_deterministic_and_sorted(services_file, tmp_path):
    a = aggregate_services(services_file, [2022, 2023, 2024], threads=1)
    b = aggregate_services(services_file, [2022, 2023, 2024], threads=2, main_clinic=True)
    pd.testing.assert_frame_equal(a, b)
    assert a["person_id"].is_monotonic_increasing
    # two files in another order give the same result
    p1, p2 = tmp_path / "a.parquet", tmp_path / "b.parquet"
    SERVICES.iloc[::2].to_parquet(p1, index=False)
    SERVICES.iloc[1::2].to_parquet(p2, index=False)
    c = aggregate_services([p2, p1], [2022, 2023, 2024], threads=2)
    pd.testing.assert_frame_equal(a, c, check_like=False)


def test_write_aggregated_services(services_file, tmp_path):
    out = tmp_path / "out" / "fees.parquet"
    s = services.write_aggregated_services(services_file, 2024, out)
    assert s["rows"] == 3 and s["lines"] == 10
    got = pd.read_parquet(out)
    pd.testing.assert_frame_equal(
        got[["person_id", "gross_fee"]], aggregate_services(services_file, 2024)[["person_id", "gross_fee"]]
    )
    assert [p.name for p in out.parent.iterdir()] == ["fees.parquet"]  # no temp left behind


def test_numeric_ids_in_service_lines_refused(tmp_path):
    p = tmp_path / "s.parquet"
    SERVICES.assign(person_id=SERVICES["person_id"].astype(int)).to_parquet(p, index=False)
    with pytest.raises(TypeError, match="person_id.*leading zeros"):
        aggregate_services(p, 2024)


def _persons(ids=("0001", "0002", "0003", "0005")):
    return pd.DataFrame(
        {
            "person_id": pd.Series(list(ids), dtype="str"),
            "age": [40, 50, 60, 70][: len(ids)],
            "gross_fee": [9.0] * len(ids),
            "local_services_fee": [9.0] * len(ids),
        }
    )


def test_ingest_persons_replaces_fees_and_zero_for_no_lines(services_file):
    fees = aggregate_services(services_file, 2024)
    out = ingest_persons(_persons(), fees)
    assert out["person_id"].tolist() == ["0001", "0002", "0003", "0005"]
    assert pd.api.types.is_string_dtype(out["person_id"])
    assert out["gross_fee"].tolist() == [819.82, 330.25, 60.10, 0.0]  # 0005 has no lines -> 0
    assert out["local_services_fee"].tolist() == [574.32, 0.0, 0.0, 0.0]
    assert out["age"].tolist() == [40, 50, 60, 70]
    assert out.attrs["ingest_report"]["unknown_persons"] == 0


def test_ingest_persons_reports_unknown_persons(services_file):
    fees = aggregate_services(services_file, 2024)
    with pytest.warns(UnknownPersonsWarning, match=r"1 person\(s\).*3 lines.*'0002'"):
        out = ingest_persons(_persons(("0001", "0003")), fees)
    rep = out.attrs["ingest_report"]
    assert rep["unknown_persons"] == 1 and rep["unknown_lines"] == 3
    assert rep["unknown_examples"] == ["0002"] and rep["unknown_gross_fee"] == 330.25
    with pytest.raises(ValueError, match="not in persons"):
        ingest_persons(_persons(("0001", "0003")), fees, on_unknown="raise")


def test_ingest_persons_negative_total_raises(tmp_path):
    p = tmp_path / "s.parquet"
    _lines([("0001", "000101", 2024, 1, "0101", 1, 100.0),
            ("0042", "000101", 2024, 1, "0101", 1, 100.0),
            ("0042", "000101", 2024, 2, "0101", 1, -150.0)]).to_parquet(p, index=False)
    fees = aggregate_services(p, 2024)
    with pytest.raises(NegativeFeeError, match=r"person_id='0042'.*persons row 3.*-50\.00"):
        ingest_persons(_persons(("0001", "0042")), fees)


def test_ingest_persons_panel_with_year_column(services_file):
    fees = aggregate_services(services_file, [2023, 2024])
    persons = pd.DataFrame({"person_id": pd.Series(["0001", "0001", "0001", "0004"], dtype="str"),
                            "year": [2022, 2023, 2024, 2023], "gross_fee": [1.0, 1.0, 1.0, 1.0],
                            "local_services_fee": [0.0, 0.0, 0.0, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0002 and 0003 (2024) are not in persons -> warns
        with pytest.raises(UnknownPersonsWarning):
            ingest_persons(persons, fees)
    out = ingest_persons(persons, fees, on_unknown="ignore")
    assert out["gross_fee"].tolist() == [1.0, 100.0, 819.82, 200.0]  # 2022 row untouched
    with pytest.raises(ValueError, match="no 'year' column but fees cover several years"):
        ingest_persons(persons.drop(columns="year").iloc[:1], fees)


def test_ingest_persons_numeric_ids_refused(services_file):
    fees = aggregate_services(services_file, 2024)
    with pytest.raises(TypeError, match="IDs must be strings"):
        ingest_persons(_persons().assign(person_id=[1, 2, 3, 5]), fees)


def test_ingest_end_to_end_atomic(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    SERVICES.to_parquet(data / "services.parquet", index=False)
    _persons().to_parquet(data / "persons.parquet", index=False)
    (data / "fee_index.csv").write_text("year,index\n2023,100\n2024,110\n")
    out = tmp_path / "run" / "persons.parquet"
    s = ingest(data, 2024, out)
    assert s["lines"] == 10 and s["persons"] == 4 and s["persons_with_lines"] == 3 and s["seconds"] >= 0
    got = pd.read_parquet(out)
    assert got["person_id"].tolist() == ["0001", "0002", "0003", "0005"]
    assert got["gross_fee"].tolist() == [819.82, 330.25, 60.10, 0.0]
    assert sorted(p.name for p in out.parent.iterdir()) == ["persons.parquet"]

    # a failing run leaves the previous output as it was and no temp file
    before = out.read_bytes()
    bad = _lines([("0001", "000101", 2024, 1, "0101", 1, -5.0)])
    bad.to_parquet(data / "services.parquet", index=False)
    with pytest.raises(NegativeFeeError):
        ingest(data, 2024, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["persons.parquet"]

    with pytest.raises(ValueError, match="input file"):
        ingest(data, 2024, data / "persons.parquet")


# =============================================================================
# capacity reports
# =============================================================================

ROWS1 = [
    ["012345", "Lægehuset Nord", "Nørregade 1", "København", "101", "1165", "Solopraksis", 1, 0],
    ["023456", "Kompagniskabet", "Torvet 2", "Frederiksberg", "147", "2000", "KOMPAGNISKABSPRAKSIS", 3, 1],
    ["034567", "Regionsklinikken", "Vej 3", "Ballerup", "151", "2750", "regionsklinik", 2.5, 0.5],
]
ROWS2 = [
    ["045678", "Ølægen", "Havnen 1", "København", "101", "1165", "Udbudsklinik", 1, 0, 420],
]


def write_workbook(path, rows1=ROWS1, headings1=ANNEX1_HEADINGS, rows2=None, headings2=ANNEX2_HEADINGS,
                   extra_sheet=None, text_ids=True, id_format=None):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Bilag 1"
    ws.append(list(headings1))
    for r in rows1:
        ws.append(list(r))
    if id_format:
        for row in ws.iter_rows(min_row=2, max_col=1):
            row[0].number_format = id_format
    if rows2 is not None:
        ws2 = wb.create_sheet("Bilag 2")
        ws2.append(list(headings2))
        for r in rows2:
            ws2.append(list(r))
    if extra_sheet:
        ws3 = wb.create_sheet(extra_sheet)
        ws3["A1"] = "noter"
    wb.save(path)
    return path


def only(failures, rule):
    got = [f for f in failures if f.rule == rule]
    assert len(got) == 1, (rule, [str(f) for f in failures])
    return got[0]


def test_valid_workbook(tmp_path):
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows2=ROWS2)
    r = read_capacity_report(p, known_municipality_codes=capacity_reports.default_municipality_codes(),
                             clinic_register=["012345", "023456", "034567", "045678"],
                             submission_date="2026-03-15", strict=True)
    assert r.ok and r.failures == []
    assert r.region == "Hovedstaden" and r.reporting_date == dt.date(2026, 1, 1) and r.has_annex2
    a1 = r.annex1
    assert list(a1.columns) == ["clinic_id", "name", "address", "municipality", "municipality_code",
                                "postcode", "practice_form", "allocated_capacities", "vacant_capacities"]
    assert a1.index.tolist() == [2, 3, 4] and a1.index.name == "row"  # Excel row numbers
    assert a1["clinic_id"].tolist() == ["012345", "023456", "034567"]
    assert a1["practice_form"].tolist() == ["solo", "partnership", "regional"]
    assert a1["allocated_capacities"].tolist() == [1.0, 3.0, 2.5]
    assert a1["vacant_capacities"].tolist() == [0.0, 1.0, 0.5]
    assert a1["municipality_code"].tolist() == ["101", "147", "151"]
    assert a1["postcode"].tolist() == ["1165", "2000", "2750"]
    a2 = r.annex2
    assert a2.columns[-1] == "listed_patients" and a2["listed_patients"].tolist() == [420]
    assert str(a2["listed_patients"].dtype) == "Int64" and a2["practice_form"].tolist() == ["tender"]


def test_workbook_without_annex2(tmp_path):
    r = read_capacity_report(write_workbook(tmp_path / "x.xlsx"), region="Region Sjælland",
                             reporting_date=dt.date(2026, 4, 1))
    assert r.ok and r.region == "Sjælland" and not r.has_annex2 and len(r.annex2) == 0
    assert list(r.annex2.columns)[-1] == "listed_patients"


def test_extra_column(tmp_path):
    rows = [r + ["bemærkning"] for r in ROWS1]
    p = write_workbook(tmp_path / "syddanmark_2026-01-01.xlsx", rows1=rows,
                       headings1=list(ANNEX1_HEADINGS) + ["Kommentar"])
    r = read_capacity_report(p)
    f = only(r.failures, "extra_column")
    assert (f.file, f.sheet, f.row, f.column, f.column_letter) == (p.name, "Bilag 1", 1, "Kommentar", "J")
    assert "nothing but what the annex specifies" in f.message
    assert len(r.failures) == 1


def test_values_in_column_without_heading(tmp_path):
    rows = [ROWS1[0], ROWS1[1] + ["x"], ROWS1[2]]
    r = read_capacity_report(write_workbook(tmp_path / "syddanmark_2026-01-01.xlsx", rows1=rows))
    f = only(r.failures, "extra_column")
    assert (f.row, f.column, f.column_letter, f.value) == (3, None, "J", "x")


def test_misspelt_heading(tmp_path):
    h = list(ANNEX1_HEADINGS)
    h[7] = "Antal udmontede kapaciteter"
    p = write_workbook(tmp_path / "midtjylland_2026-01-01.xlsx", headings1=h)
    r = read_capacity_report(p)
    f = only(r.failures, "misspelt_heading")
    assert (f.sheet, f.row, f.column, f.column_letter) == ("Bilag 1", 1, "Antal udmontede kapaciteter", "H")
    assert "'Antal udmøntede kapaciteter'" in f.message  # suggests the right one
    assert len(r.failures) == 1
    assert r.annex1["allocated_capacities"].tolist() == [1.0, 3.0, 2.5]  # still read


def test_missing_heading(tmp_path):
    h = [x for x in ANNEX1_HEADINGS if x != "Postnummer"]
    rows = [r[:5] + r[6:] for r in ROWS1]
    p = write_workbook(tmp_path / "nordjylland_2026-01-01.xlsx", rows1=rows, headings1=h)
    r = read_capacity_report(p)
    f = only(r.failures, "missing_heading")
    assert (f.file, f.sheet, f.row, f.column) == (p.name, "Bilag 1", 1, "Postnummer")


def test_lost_leading_zeros_numeric_cell(tmp_path):
    rows = [[12345] + ROWS1[0][1:], ROWS1[1], ROWS1[2]]
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows1=rows)
    r = read_capacity_report(p)
    f = only(r.failures, "leading_zeros_lost")
    assert (f.sheet, f.row, f.column, f.column_letter, f.value) == ("Bilag 1", 2, "Ydernummer", "A", "12345")
    assert "'012345'" in f.message
    assert len(r.failures) == 1


def test_zero_padded_number_format_is_read_as_displayed(tmp_path):
    rows = [[12345] + ROWS1[0][1:], [23456] + ROWS1[1][1:], ROWS1[2]]
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows1=rows, id_format="000000")
    r = read_capacity_report(p)
    assert r.ok, [str(f) for f in r.failures]
    assert r.annex1["clinic_id"].tolist() == ["012345", "023456", "034567"]


def test_vacant_exceeds_allocated(tmp_path):
    rows = [ROWS1[0], ROWS1[1][:7] + [1, 2], ROWS1[2]]
    r = read_capacity_report(write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows1=rows))
    f = only(r.failures, "vacant_exceeds_allocated")
    assert (f.sheet, f.row, f.column, f.column_letter) == ("Bilag 1", 3, "Antal ledige kapaciteter", "I")
    assert len(r.failures) == 1


def test_duplicate_ydernummer(tmp_path):
    rows = ROWS1 + [["023456"] + ROWS1[0][1:]]
    r = read_capacity_report(write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows1=rows))
    f = only(r.failures, "duplicate_ydernummer")
    assert (f.row, f.column, f.value) == (5, "Ydernummer", "023456") and "row 3" in f.message


def test_reporting_date_not_first_of_month(tmp_path):
    r = read_capacity_report(write_workbook(tmp_path / "hovedstaden_2026-01-15.xlsx"))
    f = only(r.failures, "reporting_date_not_first_of_month")
    assert (f.file, f.sheet, f.row, f.column, f.value) == ("hovedstaden_2026-01-15.xlsx", None, None, None,
                                                           "2026-01-15")
    r = read_capacity_report(write_workbook(tmp_path / "x.xlsx"), region="hovedstaden",
                             reporting_date="2026-02-02")
    assert only(r.failures, "reporting_date_not_first_of_month").value == "2026-02-02"


def test_unknown_ydernummer(tmp_path):
    register = pd.DataFrame({"clinic_id": pd.Series(["012345", "034567"], dtype="str")})
    r = read_capacity_report(write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx"), clinic_register=register)
    f = only(r.failures, "ydernummer_unknown")
    assert (f.sheet, f.row, f.column, f.value) == ("Bilag 1", 3, "Ydernummer", "023456")


def test_late_submission(tmp_path):
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx")
    assert read_capacity_report(p, submission_date="2026-04-01").ok  # exactly three months: in time
    r = read_capacity_report(p, submission_date=dt.date(2026, 4, 2))
    f = only(r.failures, "late_submission")
    assert (f.file, f.row, f.value) == (p.name, None, "2026-04-02") and "2026-04-01" in f.message


def test_other_value_rules_collected_not_stop_at_first(tmp_path):
    rows = [
        ["12345", "A", "B", "København", "1010", "116", "Gruppepraksis", "to", -1],
        ["056789", "", "C", "Lejre", "999", "4320", "Solopraksis", 1, 0],
    ]
    p = write_workbook(tmp_path / "sjaelland_2026-01-01.xlsx", rows1=rows,
                       rows2=[["045678", "Ø", "Havn", "Ø-kommune", "101", "1165", "Solopraksis", 1, 0, 12.5]])
    r = read_capacity_report(p, known_municipality_codes={"101", "350"})
    rules = sorted((f.sheet, f.row, f.rule) for f in r.failures)
    assert rules == sorted([
        ("Bilag 1", 2, "ydernummer_format"),
        ("Bilag 1", 2, "municipality_code_format"),
        ("Bilag 1", 2, "postcode_format"),
        ("Bilag 1", 2, "practice_form_unknown"),
        ("Bilag 1", 2, "capacity_invalid"),
        ("Bilag 1", 2, "capacity_invalid"),
        ("Bilag 1", 3, "required"),
        ("Bilag 1", 3, "municipality_code_unknown"),
        ("Bilag 2", 2, "listed_patients_invalid"),
    ])
    with pytest.raises(CapacityReportError) as e:
        r.raise_for_failures()
    msg = str(e.value)
    assert msg.startswith("9 problem(s) in capacity report sjaelland_2026-01-01.xlsx:")
    assert len(msg.splitlines()) == 10 and "sheet 'Bilag 1', row 2, column 'Ydernummer' (A)" in msg
    assert e.value.failures == r.failures
    with pytest.raises(CapacityReportError):
        read_capacity_report(p, strict=True)


def test_annex2_as_the_guidance_prints_it_validates(tmp_path):
    h2 = list(ANNEX2_HEADINGS)
    h2[8] = "Antal udmøntede kapaciteter"  # as printed in the guidance's annex 2: the heading repeated
    p = write_workbook(tmp_path / "sjaelland_2026-01-01.xlsx", rows2=ROWS2, headings2=h2)
    r = read_capacity_report(p)
    assert r.ok, [str(f) for f in r.failures]
    # the second "Antal udmøntede kapaciteter" is read as the vacant capacities
    assert r.annex2["vacant_capacities"].tolist() == [float(x[8]) for x in ROWS2]
    # a heading repeated anywhere else is still a failure
    h1 = list(ANNEX2_HEADINGS)
    h1[1] = "Ydernummer"
    r = read_capacity_report(write_workbook(tmp_path / "sjaelland_2026-02-01.xlsx", rows2=ROWS2, headings2=h1))
    assert only(r.failures, "duplicate_heading").column == "Ydernummer"


def test_late_report_is_kept_and_flagged(tmp_path):
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx")
    r = read_capacity_report(p, submission_date=dt.date(2026, 5, 1))
    assert r.late and r.usable and not r.ok
    assert len(r.annex1) > 0  # its annex 1 is kept


def test_title_above_headings_and_listed_patients_in_annex1(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Bilag 1"
    ws.append(["Indberetningsskabelon"])
    ws.append(list(ANNEX1_HEADINGS) + ["Antal tilmeldte patienter"])
    ws.append(ROWS1[0] + [900])
    p = tmp_path / "hovedstaden_2026-01-01.xlsx"
    wb.save(p)
    r = read_capacity_report(p)
    f = only(r.failures, "extra_content")
    assert (f.row, f.column_letter, f.value) == (1, "A", "Indberetningsskabelon")
    f = only(r.failures, "extra_column")
    assert (f.row, f.column_letter) == (2, "J") and "belongs in annex 2" in f.message
    assert r.annex1.index.tolist() == [3] and r.annex1["clinic_id"].tolist() == ["012345"]


def test_extra_sheet_and_municipality_name(tmp_path):
    rows = [ROWS1[0][:3] + ["Aarhus"] + ROWS1[0][4:]]
    p = write_workbook(tmp_path / "hovedstaden_2026-01-01.xlsx", rows1=rows, extra_sheet="Noter")
    r = read_capacity_report(p, known_municipality_codes=capacity_reports.default_municipality_codes())
    assert only(r.failures, "extra_sheet").sheet == "Noter"
    f = only(r.failures, "municipality_name_mismatch")
    assert (f.row, f.column, f.value) == (2, "Praksiskommune", "Aarhus") and "København" in f.message


def test_region_rules(tmp_path):
    r = read_capacity_report(write_workbook(tmp_path / "hovedstaden_2027-01-01.xlsx"))
    assert only(r.failures, "region_not_existing").value == "Hovedstaden"
    r = read_capacity_report(write_workbook(tmp_path / "oestdanmark_2027-02-01.xlsx"))
    assert r.ok and r.region == "Østdanmark"
    r = read_capacity_report(write_workbook(tmp_path / "report.xlsx"))
    assert {f.rule for f in r.failures} == {"region_missing", "reporting_date_missing"}
    assert capacity_reports.parse_report_filename("sjaelland_2026-04-01_bilag2.csv") == ("sjaelland", dt.date(2026, 4, 1), 2)


def _csv_text(headings, rows, sep=";", decimal_comma=True):
    def fmt(v):
        if isinstance(v, float) and decimal_comma:
            return str(v).replace(".", ",")
        return str(v)
    return "\r\n".join([sep.join(headings)] + [sep.join(fmt(v) for v in r) for r in rows]) + "\r\n"


def test_csv_danish_excel_semicolon_bom_pair(tmp_path):
    a1 = tmp_path / "hovedstaden_2026-01-01_bilag1.csv"
    a2 = tmp_path / "hovedstaden_2026-01-01_bilag2.csv"
    a1.write_bytes(b"\xef\xbb\xbf" + _csv_text(ANNEX1_HEADINGS, ROWS1).encode("utf-8"))
    a2.write_bytes(_csv_text(ANNEX2_HEADINGS, ROWS2).encode("cp1252"))  # Windows-1252, no BOM
    r = read_capacity_report(a1, strict=True)
    assert r.region == "Hovedstaden" and r.reporting_date == dt.date(2026, 1, 1) and r.has_annex2
    assert r.annex1["clinic_id"].tolist() == ["012345", "023456", "034567"]
    assert r.annex1["allocated_capacities"].tolist() == [1.0, 3.0, 2.5]  # "2,5" decimal comma
    assert r.annex1["vacant_capacities"].tolist() == [0.0, 1.0, 0.5]
    assert r.annex1.index.tolist() == [2, 3, 4]
    assert r.annex2["name"].tolist() == ["Ølægen"] and r.annex2["listed_patients"].tolist() == [420]
    # the same via annex 2's name or an explicit pair
    assert read_capacity_report(a2).annex1["clinic_id"].tolist() == ["012345", "023456", "034567"]
    assert read_capacity_report((a1, a2)).ok


def test_csv_comma_utf8_failures(tmp_path):
    h = list(ANNEX1_HEADINGS)
    h[1] = "Praksisbetegnelse "  # trailing space
    rows = [["12345"] + ROWS1[0][1:], ROWS1[1]]
    p = tmp_path / "syddanmark_2026-01-01.csv"
    p.write_text(_csv_text(h, rows, sep=",", decimal_comma=False), encoding="utf-8")
    r = read_capacity_report(p)
    f = only(r.failures, "misspelt_heading")
    assert (f.file, f.sheet, f.row, f.column_letter) == (p.name, "Bilag 1", 1, "B")
    assert "spaces" in f.message
    f = only(r.failures, "ydernummer_format")
    assert (f.row, f.value) == (2, "12345") and "leading zero" in f.message


def test_check_report_schedule():
    q = ["2025-10-01", "2026-01-01", "2026-07-01", "2026-10-01"]  # 2026-04-01 missing
    months = [f"2027-{m:02d}-01" for m in (1, 2, 3, 5)]  # 2027-04-01 missing
    out = check_report_schedule(q + months, "syddanmark")
    assert [(f.rule, f.value) for f in out] == [
        ("missing_quarterly_report", "2026-04-01"),
        ("missing_monthly_report", "2027-04-01"),
    ]
    assert out[0].file == "Region Syddanmark"
    # monthly reports before 2027 are fine; a non-first date is flagged
    assert check_report_schedule(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"], "Midtjylland") == []
    bad = check_report_schedule(["2026-01-01", "2026-04-15"], "Midtjylland")
    assert [f.rule for f in bad] == ["reporting_date_not_first_of_month", "missing_quarterly_report"]
    # as_of: reports whose three-month deadline has passed are due
    out = check_report_schedule(["2027-01-01"], "Nordjylland", as_of="2027-06-15")
    assert [f.value for f in out] == ["2027-02-01", "2027-03-01"]
    # Hovedstaden ends with 2026; Østdanmark starts in 2027
    assert check_report_schedule(["2026-10-01"], "hovedstaden", end="2027-06-01") == []
    assert [f.value for f in check_report_schedule([], "Østdanmark", start="2026-10-01", end="2027-02-01")] == [
        "2027-01-01", "2027-02-01"]
