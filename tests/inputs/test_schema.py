"""Tests of the data contracts (data_schema/*.schema.yaml) and model.inputs.contracts.

Small valid tables are built by the factory functions below (three real
municipalities, three clinics, twenty persons); each test breaks one thing
and checks that the report names the file, column, row, value and rule.
Hand-made files for inputs that are about bytes on disk (Danish Excel CSVs,
provider numbers that lost their leading zeros) are in tests/inputs/fixtures/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow
import pyarrow.parquet as pq
import pytest

from model.errors import ValidationFailed
from model.inputs import contracts as S
from model.inputs.contracts import pandas_engine, spec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MUNICIPALITIES_CSV = REPO / "src" / "model" / "data" / "municipalities.csv"
CODES = ["101", "147", "751"]  # København, Frederiksberg, Aarhus
ANNEX1_COLUMNS = [
    "Ydernummer", "Praksisbetegnelse", "Adresse", "Praksiskommune", "Praksiskommunekode",
    "Postnummer", "Praksisform", "Antal udmøntede kapaciteter", "Antal ledige kapaciteter",
]


# --------------------------------------------------------------------------
# Factories: small valid tables
# --------------------------------------------------------------------------


def municipalities_df() -> pd.DataFrame:
    """Three rows of the shipped municipalities.csv, all columns as text."""
    m = pd.read_csv(MUNICIPALITIES_CSV, dtype=str, keep_default_na=False, na_values=[""])
    return m[m["kommunekode"].isin(CODES)].reset_index(drop=True)


def clinics_df() -> pd.DataFrame:
    """Three clinics, one in each municipality; the third split from the first."""
    return pd.DataFrame({
        "clinic_id": ["012345", "023456", "034567"],
        "name": ["Lægehuset Nørrebro", "Frederiksberg Lægerne", "Regionsklinikken Aarhus"],
        "municipality_code": CODES,
        "postcode": ["2200", "2000", "8000"],
        "practice_form": ["solo", "partnership", "regional"],
        "capacities": [1.5, 3.0, 2.0],
        "vacant_capacities": [0.0, 0.5, 1.0],
        "island_doctor": [False, False, False],
        "opened": ["2010-02-01", "2015-06-15", "2021-01-01"],
        "closed": [None, None, None],
        "split_from": [None, None, "012345"],
    })


def persons_df(n: int = 20, year: int = 2024) -> pd.DataFrame:
    """``n`` valid persons in one year, spread over the three municipalities
    and clinics (municipality i and clinic i go together)."""
    i = np.arange(n)
    psych = i % 7 == 0
    cancer5 = i % 9 == 0
    gross = 500.0 + 100.0 * i
    return pd.DataFrame({
        "person_id": [f"P{k:06d}" for k in i],
        "year": np.full(n, year, dtype=np.int64),
        "municipality_code": [CODES[k % 3] for k in i],
        "sex": 1 + i % 2,
        "age": (i * 5) % 100,
        "civil_status": [list("UGFEPOL")[k % 7] for k in i],
        "origin_group": [["danish", "menapt", "western", "other_non_western"][k % 4] for k in i],
        "insurance_group": np.ones(n, dtype=np.int64),
        "labour_status": [["in_work_or_education", "temporarily_outside", "permanently_outside"][k % 3]
                          if 16 <= (k * 5) % 100 <= 67 else "not_applicable" for k in i],
        "somatic_diseases": i % 3,
        "psychiatric": psych,
        "psychiatric_extended": psych | (i % 5 == 0),
        "cancer_5y": cancer5,
        "cancer_10y": cancer5 | (i % 4 == 0),
        "clinic_id": [["012345", "023456", "034567"][k % 3] for k in i],
        "gross_fee": gross,
        "chronic_fee": np.where(i % 6 == 0, 1600.0, 0.0),
        "local_services_fee": np.where(i % 10 == 0, 287.16, 0.0),
        "contact_fee": np.where(i % 6 == 0, 0.0, 0.4 * gross),
    })


POPULATION = {"101": 671_714, "147": 106_150, "751": 378_361}  # municipalities.csv, 1 January 2026


def projection_df(years=(2024, 2025)) -> pd.DataFrame:
    """The persons year 2024 and its planning year 2025, near each municipality's population (a
    projection outside 0.5-2 times it is an error)."""
    return pd.DataFrame([(c, y, POPULATION[c] + k) for y in years for k, c in enumerate(CODES)],
                        columns=["municipality_code", "year", "population_end_of_year"])


def services_df(year: int = 2024) -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": ["P000000", "P000000", "P000001", "P000002"],
        "clinic_id": ["012345", "012345", "023456", "034567"],
        "year": [year] * 4,
        "week": [3, 5, 10, 52],
        "service_code": ["0101", "0101", "4350", "0120"],
        "count": [2, -1, 1, 1],  # a correction reverses one consultation
        "fee": [300.0, -150.0, 287.16, 100.0],
    })


def fee_index_df() -> pd.DataFrame:
    return pd.DataFrame({"year": [2023, 2024], "index": [97.5, 100.0]})


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    pq.write_table(pyarrow.Table.from_pandas(df, preserve_index=False), path)
    return path


def write_folder(folder: Path, *, persons=None, clinics=None, municipalities=None, projection=None,
                 services=None, fee_index=None) -> Path:
    """Write a complete valid data folder; pass a frame to replace a table or
    ``False`` to leave its file out."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "municipalities.csv": municipalities_df() if municipalities is None else municipalities,
        "clinics.csv": clinics_df() if clinics is None else clinics,
        "population_projection.csv": projection_df() if projection is None else projection,
        "fee_index.csv": fee_index_df() if fee_index is None else fee_index,
        "persons.parquet": persons_df() if persons is None else persons,
        "services.parquet": services_df() if services is None else services,
    }
    for fname, df in tables.items():
        if df is False:
            continue
        if fname.endswith(".parquet"):
            write_parquet(df, folder / fname)
        else:
            df.to_csv(folder / fname, index=False)
    return folder


def annex_xlsx(path: Path, rows: list[list], columns: list[str] = ANNEX1_COLUMNS) -> Path:
    """An annex workbook as a region would send it: one sheet, headings in row 1."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Bilag 1"
    ws.append(columns)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


ANNEX_ROWS = [
    ["012345", "Lægehuset Nørrebro", "Nørrebrogade 1", "København", "101", "2200", "Solopraksis", 1.5, 0],
    ["023456", "Frederiksberg Lægerne", "Falkoner Allé 2", "Frederiksberg", "147", "2000", "Kompagniskabspraksis",
     3, 0.5],
]


def failures(report: S.ValidationReport, rule_part: str, column: str | None = None) -> list[S.Failure]:
    """The listed failures whose rule contains ``rule_part`` (and column)."""
    return [f for f in report.failures if rule_part in f.rule and (column is None or f.column == column)]


def only(report: S.ValidationReport, rule_part: str, column: str | None = None) -> S.Failure:
    found = failures(report, rule_part, column)
    assert len(found) == 1, f"expected one {rule_part!r} failure, got {found}\n{report.format()}"
    return found[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data")


# --------------------------------------------------------------------------
# The contracts themselves
# --------------------------------------------------------------------------


def test_schema_dir_holds_every_table_of_the_brief():
    assert S.schema_dir().resolve() == REPO / "data_schema"
    assert set(S.schema_names()) == {
        "persons", "clinics", "municipalities", "population_projection", "services", "fee_index",
        "capacity_report_annex1", "capacity_report_annex2",
    }
    assert set(S.FOLDER_TABLES) == set(S.schema_names())


@pytest.mark.parametrize("name", S.FOLDER_TABLES)
def test_contract_is_a_careful_data_dictionary(name):
    sc = S.load_schema(name)
    for key in ("name", "title", "description", "path", "fields"):
        assert sc.get(key), f"{name}: {key} missing"
    assert len(sc["description"]) > 200
    names = [f["name"] for f in sc["fields"]]
    assert len(names) == len(set(names))
    for f in sc["fields"]:
        assert f["type"] in {"string", "integer", "number", "boolean", "date"}, f
        assert f.get("title") and f.get("description"), f"{name}.{f['name']} undocumented"
        for k in (f.get("constraints") or {}):
            assert k in {"required", "unique", "enum", "minimum", "maximum", "exclusiveMinimum",
                         "exclusiveMaximum", "pattern", "minLength", "maxLength"}, (name, f["name"], k)
        assert set(f) <= {"name", "type", "title", "description", "constraints", "format",
                          "x-severity", "x-plausible", "x-optional-column", "x-missing-message"}, (name, f["name"])
    assert set(spec.as_list(sc.get("primaryKey"))) <= set(names)
    for fk in sc.get("foreignKeys") or []:
        assert set(spec.as_list(fk["fields"])) <= set(names)
        res = fk["reference"]["resource"] or name
        target = [f["name"] for f in S.load_schema(res)["fields"]]
        assert set(spec.as_list(fk["reference"]["fields"])) <= set(target)
    for rule in sc.get("x-rules") or []:
        assert set(spec.as_list(rule["fields"])) <= set(names)
        assert rule["kind"] in spec.ROW_RULE_KINDS | {"group_sum_minimum"}
    # the translation gives a pandera schema with a column per field
    pschema, _ = S.to_pandera(sc)
    assert isinstance(pschema, pa.DataFrameSchema)
    assert list(pschema.columns) == names


def test_contract_documents_register_variables_and_code_lists():
    persons = {f["name"]: f for f in S.load_schema("persons")["fields"]}
    assert "KOM" in persons["municipality_code"]["description"]
    assert "KOEN" in persons["sex"]["description"]
    assert "CIVST" in persons["civil_status"]["description"]
    assert "SIKGRUP" in persons["insurance_group"]["description"]
    assert "DREAM" in persons["labour_status"]["description"]
    origin = persons["origin_group"]["description"]
    assert "IE_TYPE" in origin and "OPR_LAND" in origin and "Israel" in origin
    for country in ("Afghanistan", "Djibouti", "Mauritania", "Turkey", "United Arab Emirates", "Yemen"):
        assert country in origin
    for code in "UGFEPOL":
        assert f"{code} = " in persons["civil_status"]["description"]
    assert persons["clinic_id"]["constraints"]["pattern"] == "^[0-9]{6}$"
    annex2 = [f["name"] for f in S.load_schema("capacity_report_annex2")["fields"]]
    assert annex2 == ANNEX1_COLUMNS + ["Antal tilmeldte patienter"]
    assert S.load_schema("capacity_report_annex1")["x-no-extra-columns"] is True


def test_load_schema_returns_a_copy_and_rejects_unknown_names():
    a = S.load_schema("clinics")
    a["fields"].clear()
    assert S.load_schema("clinics")["fields"]
    with pytest.raises(KeyError):
        S.load_schema("no_such_table")


def test_shipped_municipalities_file_meets_its_contract():
    report = S.validate_file(MUNICIPALITIES_CSV, "municipalities")
    assert report.ok and report.n_warnings == 0, report.format()


# --------------------------------------------------------------------------
# A valid folder, and reading
# --------------------------------------------------------------------------


def test_valid_folder_passes_without_warnings(folder):
    report = S.validate_folder(folder)
    assert report.ok, report.format()
    assert report.n_warnings == 0, report.format()
    assert "OK" in report.summary_line()


def test_read_table_keeps_leading_zeros_as_text(folder):
    clinics = S.read_table(folder / "clinics.csv", "clinics")
    assert clinics["clinic_id"].tolist() == ["012345", "023456", "034567"]
    typed = S.load_table(folder / "clinics.csv")
    assert typed["clinic_id"].tolist() == ["012345", "023456", "034567"]
    assert str(typed["capacities"].dtype) == "Float64"
    assert str(typed["island_doctor"].dtype) == "boolean"
    assert typed["opened"].dtype.kind == "M"
    persons = S.load_table(folder / "persons.parquet")
    assert str(persons["age"].dtype) == "Int64" and persons["person_id"].iloc[0] == "P000000"


# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------


def test_missing_file(folder):
    (folder / "persons.parquet").unlink()
    report = S.validate_folder(folder)
    f = only(report, "file missing")
    assert f.file == "persons.parquet" and f.row is None and f.severity == "error"
    with pytest.raises(ValidationFailed) as exc:
        S.read_table(folder / "persons.parquet", "persons")
    assert "persons.parquet" in str(exc.value) and not exc.value.report.ok


def test_missing_optional_file_is_fine(tmp_path):
    folder = write_folder(tmp_path / "d", services=False, fee_index=False)
    assert S.validate_folder(folder).ok


def test_missing_column(tmp_path):
    folder = write_folder(tmp_path / "d", clinics=clinics_df().drop(columns=["postcode"]))
    report = S.validate_folder(folder)
    f = only(report, "column missing")
    assert (f.file, f.column, f.row) == ("clinics.csv", "postcode", None)


def test_wrong_type_in_parquet_column(tmp_path):
    p = persons_df()
    p["age"] = p["age"].astype(str)
    p.loc[4, "age"] = "abc"
    folder = write_folder(tmp_path / "d", persons=p)
    report = S.validate_folder(folder)
    f = only(report, "type: integer")
    assert (f.file, f.column, f.row, f.value) == ("persons.parquet", "age", 5, "abc")
    assert not failures(report, "required", "age")  # not reported twice


def test_wrong_type_in_csv(tmp_path):
    c = clinics_df().astype({"capacities": object})
    c.loc[1, "capacities"] = "two"
    folder = write_folder(tmp_path / "d", clinics=c)
    f = only(S.validate_folder(folder), "type: number")
    assert (f.file, f.column, f.row, f.value) == ("clinics.csv", "capacities", 2, "two")


def test_ids_that_lost_leading_zeros_in_csv_without_quoting():
    """Hand-made CSV: provider numbers and a postcode written as numbers."""
    report = S.validate_file(FIXTURES / "clinics_ids_lost_zeros.csv", "clinics")
    lost = failures(report, "leading zeros lost", "clinic_id")
    assert [(f.row, f.value) for f in lost] == [(1, "12345"), (3, "34567")]
    assert lost[0].rule.startswith("pattern: ^[0-9]{6}$")
    assert only(report, "leading zeros lost", "postcode").value == "800"
    assert only(report, "leading zeros lost", "split_from").row == 3
    assert not report.ok


def test_ids_stored_as_integers_in_parquet(tmp_path):
    p = persons_df()
    p["clinic_id"] = p["clinic_id"].astype(np.int64)  # 012345 -> 12345
    folder = write_folder(tmp_path / "d", persons=p)
    report = S.validate_folder(folder)
    f = only(report, "type: string required, got int64")
    assert f.column == "clinic_id" and f.file == "persons.parquet" and "leading zeros" in f.rule
    assert f.value == 12345
    # ... and the rows whose number is now too short are named
    short = failures(report, "leading zeros lost?", "clinic_id")
    assert short and short[0].row == 1 and short[0].value == "12345"


def test_unknown_municipality_and_clinic(tmp_path):
    p = persons_df()
    p.loc[2, "municipality_code"] = "999"
    p.loc[7, "clinic_id"] = "099999"
    c = clinics_df()
    c.loc[0, "municipality_code"] = "998"
    folder = write_folder(tmp_path / "d", persons=p, clinics=c)
    report = S.validate_folder(folder)
    fks = failures(report, "foreignKey: municipality_code -> municipalities.kommunekode", "municipality_code")
    assert {(f.file, f.row, f.value) for f in fks} == {("persons.parquet", 3, "999"), ("clinics.csv", 1, "998")}
    f = only(report, "foreignKey: clinic_id -> clinics.clinic_id", "clinic_id")
    assert (f.file, f.row, f.value, f.severity) == ("persons.parquet", 8, "099999", "error")


def test_split_from_must_be_a_known_clinic():
    c = clinics_df()
    c.loc[2, "split_from"] = "054321"
    f = only(S.validate_table(c, "clinics", file="clinics.csv"), "foreignKey: split_from")
    assert (f.row, f.value) == (3, "054321") and f.rule == "foreignKey: split_from -> clinics.clinic_id"


def test_duplicate_person_in_a_year(tmp_path):
    p = persons_df()
    p.loc[9, "person_id"] = p.loc[2, "person_id"]
    other_year = persons_df(year=2023)  # the same persons in another year are fine
    folder = write_folder(tmp_path / "d", persons=pd.concat([p, other_year], ignore_index=True),
                          projection=projection_df((2023, 2024)))
    report = S.validate_folder(folder)
    f = only(report, "primaryKey")
    assert f.file == "persons.parquet" and f.column == "person_id, year" and f.row == 10
    assert f.value == "person_id=P000002; year=2024 (first in row 3)"
    assert report.n_errors == 1, report.format()


def test_negative_fee_and_age_out_of_range():
    p = persons_df()
    p.loc[0, "gross_fee"] = -5.0
    p.loc[3, "age"] = 130
    report = S.validate_table(p, "persons", file="persons.parquet")
    f = only(report, "minimum: 0", "gross_fee")
    assert (f.row, f.value, f.severity) == (1, -5.0, "error")
    f = only(report, "maximum: 125", "age")
    assert (f.row, f.value) == (4, 130)


def test_codes_outside_their_lists():
    p = persons_df()
    p.loc[1, "civil_status"] = "X"
    p.loc[2, "sex"] = 3
    p.loc[3, "origin_group"] = "nordic"
    report = S.validate_table(p, "persons", file="persons.parquet")
    assert only(report, "enum", "civil_status").value == "X"
    assert only(report, "enum", "sex").rule == "enum: [1, 2]"
    assert only(report, "enum", "origin_group").row == 4


def test_empty_files(tmp_path):
    folder = write_folder(tmp_path / "d")
    (folder / "clinics.csv").write_bytes(b"")
    (folder / "population_projection.csv").write_text("municipality_code,year,population_end_of_year\n")
    write_parquet(persons_df().iloc[:0], folder / "persons.parquet")
    report = S.validate_folder(folder)
    assert only(report, "empty (0 bytes)").file == "clinics.csv"
    assert {f.file for f in failures(report, "no data rows")} == {"population_projection.csv", "persons.parquet"}


def test_unreadable_parquet(tmp_path):
    folder = write_folder(tmp_path / "d")
    (folder / "persons.parquet").write_bytes(b"this is not parquet")
    assert only(S.validate_folder(folder), "unreadable").file == "persons.parquet"


@pytest.mark.parametrize("fixture", ["clinics_danish_excel.csv", "clinics_cp1252.csv"])
def test_csv_saved_by_danish_excel_is_read_with_a_warning(fixture):
    """Semicolons, decimal commas, dd-mm-yyyy dates, SAND/FALSK, and a UTF-8
    BOM (or Windows-1252 text): read correctly, flagged as a warning."""
    df = S.load_table(FIXTURES / fixture, "clinics")
    assert df.columns[0] == "clinic_id"  # no BOM glued to the first heading
    assert df["clinic_id"].tolist() == ["012345", "023456", "034567"]
    assert df["name"].iloc[0] == "Lægehuset Nørrebro"
    assert df["capacities"].tolist() == [1.5, 3.0, 2.25]
    assert df["vacant_capacities"].tolist() == [0.0, 0.5, 1.0]
    assert df["island_doctor"].tolist() == [False, False, True]
    assert df["opened"].iloc[1] == pd.Timestamp("2015-06-15")
    report = df.attrs["validation"]
    assert report.ok and report.n_errors == 0
    w = only(report, "Danish) Excel")
    assert w.severity == "warning" and w.file == fixture
    assert "semicolon" in w.rule and "decimal commas" in w.rule
    assert ("byte-order mark" in w.rule) == (fixture == "clinics_danish_excel.csv")
    assert ("Windows-1252" in w.rule) == (fixture == "clinics_cp1252.csv")


def test_danish_thousands_separators_in_integers(tmp_path):
    path = tmp_path / "population_projection.csv"
    path.write_bytes("\ufeffmunicipality_code;year;population_end_of_year\n101;2024;671.714\n147;2024;106150\n"
                     .encode("utf-8"))
    df = S.load_table(path)
    assert df["population_end_of_year"].tolist() == [671714, 106150]


def test_extra_column_is_a_warning_in_ordinary_tables(tmp_path):
    c = clinics_df().assign(note="x")
    folder = write_folder(tmp_path / "d", clinics=c)
    report = S.validate_folder(folder)
    assert report.ok
    f = only(report, "extra column")
    assert (f.file, f.column, f.severity) == ("clinics.csv", "note", "warning")


def test_annex_sheet_valid_and_with_an_extra_column(tmp_path):
    good = annex_xlsx(tmp_path / "capacity_report_annex1.xlsx", ANNEX_ROWS)
    assert S.validate_file(good).ok, S.validate_file(good).format()
    bad = annex_xlsx(tmp_path / "bad.xlsx", [r + ["husk at ringe"] for r in ANNEX_ROWS],
                     ANNEX1_COLUMNS + ["Bemærkning"])
    report = S.validate_file(bad, "capacity_report_annex1")
    f = only(report, "extra column")
    assert (f.file, f.column, f.severity) == ("bad.xlsx", "Bemærkning", "error")
    assert "annex" in f.rule


def test_annex_heading_with_stray_spaces_and_numeric_provider_number(tmp_path):
    cols = ANNEX1_COLUMNS[:-1] + ["Antal ledige  kapaciteter "]
    rows = [list(ANNEX_ROWS[0]), list(ANNEX_ROWS[1])]
    rows[0][0] = 12345  # typed as a number in Excel: the leading zero is gone
    report = S.validate_file(annex_xlsx(tmp_path / "a.xlsx", rows, cols), "capacity_report_annex1")
    f = only(report, "differs from the contract's")
    assert f.column == "Antal ledige  kapaciteter " and "Antal ledige kapaciteter" in f.rule
    f = only(report, "type: string required, got a number")
    assert (f.column, f.row, f.value) == ("Ydernummer", 1, 12345)


def test_annex2_and_the_folder_checks_annex_municipalities(tmp_path):
    folder = write_folder(tmp_path / "d")
    rows = [ANNEX_ROWS[0] + [420], ["034567", "Ø-lægen", "Havnen 1", "Frederiksberg", "751", "8000",
                                    "Solopraksis", 1, 2, 300]]
    annex_xlsx(folder / "capacity_report_annex2.xlsx", rows, ANNEX1_COLUMNS + ["Antal tilmeldte patienter"])
    report = S.validate_folder(folder)
    f = only(report, "rule vacant_within_allocated")
    assert (f.file, f.row) == ("capacity_report_annex2.xlsx", 2)
    f = only(report, "municipality name does not match")
    assert f.severity == "warning" and f.row == 2 and "Aarhus" in f.value


# --------------------------------------------------------------------------
# Cross-column rules
# --------------------------------------------------------------------------


def test_vacant_capacities_within_capacities():
    c = clinics_df()
    c.loc[1, "vacant_capacities"] = 4.0
    f = only(S.validate_table(c, "clinics", file="clinics.csv"), "rule vacant_within_capacities")
    assert f.column == "vacant_capacities, capacities" and f.row == 2
    assert f.value == "vacant_capacities=4.0; capacities=3.0"


def test_closed_not_before_opened_and_not_split_from_itself():
    c = clinics_df()
    c.loc[0, "closed"] = "2009-12-31"
    c.loc[2, "split_from"] = "034567"
    report = S.validate_table(c, "clinics")
    assert only(report, "rule closed_not_before_opened").value == "opened=2010-02-01; closed=2009-12-31"
    assert only(report, "rule not_split_from_itself").row == 3


def test_local_services_within_gross_fee():
    p = persons_df()
    p.loc[5, "local_services_fee"] = p.loc[5, "gross_fee"] + 1
    f = only(S.validate_table(p, "persons"), "rule local_services_within_gross_fee")
    assert f.row == 6 and f.rule == "rule local_services_within_gross_fee: local_services_fee <= gross_fee"


@pytest.mark.parametrize("base, wider", [("psychiatric", "psychiatric_extended"), ("cancer_5y", "cancer_10y")])
def test_implications(base, wider):
    p = persons_df()
    p.loc[11, base] = True
    p.loc[11, wider] = False
    f = only(S.validate_table(p, "persons"), f"{base} implies {wider}")
    assert f.row == 12 and f.value == f"{base}=True; {wider}=False"


def test_group_1_citizen_without_clinic_is_a_warning_group_2_is_fine():
    p = persons_df()
    p.loc[0, "clinic_id"] = None
    p.loc[1, ["clinic_id", "insurance_group"]] = [None, 2]
    report = S.validate_table(p, "persons")
    assert report.ok
    f = only(report, "rule group_1_listed")
    assert (f.row, f.severity) == (1, "warning")


def test_services_corrections_allowed_but_not_a_negative_year_total(tmp_path):
    s = services_df()
    assert S.validate_table(s, "services").ok
    s.loc[3, "fee"] = -100.0
    report = S.validate_table(s, "services", file="services.parquet")
    f = only(report, "rule person_year_fee_not_negative")
    assert f.file == "services.parquet" and f.value == "person_id=P000002; year=2024: sum -100.00"


def test_services_of_unknown_persons_warn_and_unknown_clinics_fail(tmp_path):
    s = services_df()
    s.loc[0, "person_id"] = "P999999"
    s.loc[2, "clinic_id"] = "099999"
    report = S.validate_folder(write_folder(tmp_path / "d", services=s))
    f = only(report, "foreignKey: person_id, year -> persons.person_id, year")
    assert (f.severity, f.row, f.value) == ("warning", 1, "person_id=P999999; year=2024")
    f = only(report, "foreignKey: clinic_id", "clinic_id")
    assert (f.file, f.severity, f.row) == ("services.parquet", "error", 3)


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


def test_all_failures_are_collected_three_errors_three_failures():
    p = persons_df()
    p.loc[0, "age"] = -1
    p.loc[1, "municipality_code"] = "1O1"  # letter O
    p.loc[2, "labour_status"] = "retired"
    report = S.validate_table(p, "persons", file="persons.parquet")
    assert len(report.errors) == 3 and report.n_errors == 3, report.format()
    assert {(f.column, f.row) for f in report.errors} == {("age", 1), ("municipality_code", 2), ("labour_status", 3)}


def test_format_names_file_column_row_value_and_rule():
    c = clinics_df()
    c.loc[2, "postcode"] = "80000"
    report = S.validate_table(c, "clinics", file="clinics.csv")
    text = report.format()
    line = next(ln for ln in text.splitlines() if "80000" in ln)
    for part in ("error", "clinics.csv", "postcode", " 3 ", "80000", "pattern: ^[0-9]{4}$"):
        assert part in line, (part, line)
    assert "header is line 1" in text
    assert report.summary_line().startswith("Data validation FAILED: 1 error (1 rule), 0 warnings in clinics.csv")
    frame = report.to_frame()
    assert list(frame.columns) == ["file", "column", "row", "value", "rule", "severity"]
    assert frame.loc[0, "row"] == 3 and frame.loc[0, "value"] == "80000"


def test_systematic_error_is_capped_with_a_count():
    p = persons_df(n=60)
    p["age"] = 200
    report = S.validate_table(p, "persons", file="persons.parquet")
    assert report.n_errors == 60
    listed = failures(report, "maximum: 125")
    assert len(listed) == S.DEFAULT_MAX_EXAMPLES
    assert [f.row for f in listed] == list(range(1, 21))
    assert "... 55 more failing rows for persons.parquet / age / maximum: 125" in report.format()
    assert "... 40 more failing rows" in report.format(per_rule=20)
    summary = report.summary_frame()
    assert summary.loc[summary["rule"] == "maximum: 125", "count"].item() == 60


def test_format_respects_max_rows():
    p = persons_df(n=60)
    p["age"] = 200
    p["sex"] = 7
    text = S.validate_table(p, "persons").format(max_rows=5)
    assert "more listed failures not printed (max_rows=5)" in text


def test_required_value_missing(tmp_path):
    p = persons_df()
    p.loc[6, "municipality_code"] = None
    f = only(S.validate_table(p, "persons"), "required")
    assert (f.column, f.row, f.value) == ("municipality_code", 7, None)


def test_load_table_raises_validation_failed_so_nothing_is_written(folder):
    c = clinics_df()
    c.loc[0, "practice_form"] = "group"
    c.to_csv(folder / "clinics.csv", index=False)
    with pytest.raises(ValidationFailed) as exc:
        S.load_table(folder / "clinics.csv")
    assert exc.value.report.n_errors == 1
    assert "practice_form" in str(exc.value) and "group" in str(exc.value)
    with pytest.raises(ValidationFailed):
        S.validate_folder(folder).raise_if_errors()


# --------------------------------------------------------------------------
# Plausibility and years
# --------------------------------------------------------------------------


def test_plausibility_warnings(tmp_path):
    p = persons_df(n=1800)
    p = p[p["municipality_code"] != "751"].copy()  # no citizens in Aarhus
    in_101 = p.index[p["municipality_code"] == "101"][:18]  # 18 of 600: 3 % in group 2
    p.loc[in_101, ["insurance_group", "clinic_id"]] = [2, None]
    in_147 = p.index[p["municipality_code"] == "147"]
    p = p.drop(in_147[10:])  # 10 citizens left in Frederiksberg, half in group 2: too few to warn
    p.loc[in_147[:5], ["insurance_group", "clinic_id"]] = [2, None]
    folder = write_folder(tmp_path / "d", persons=p)
    report = S.validate_folder(folder)
    assert report.ok, report.format()
    w = only(report, "municipality has no citizens")
    assert w.severity == "warning" and w.value == "751 Aarhus (2024)"
    w = only(report, "open clinic has no listed patients")
    assert w.file == "clinics.csv" and w.value == "034567 (2024)"
    w = only(report, "share of insurance group 2 above 2%")
    assert w.value == "101 København: 3.0% of 600 (2024)"


def test_closed_clinic_is_not_expected_to_have_patients(tmp_path):
    p = persons_df()
    p = p[p["clinic_id"] != "034567"]
    c = clinics_df()
    c.loc[2, "closed"] = "2023-06-30"
    report = S.validate_folder(write_folder(tmp_path / "d", persons=p, clinics=c))
    assert not failures(report, "no listed patients")


def test_years_filter_and_missing_year(tmp_path):
    both = pd.concat([persons_df(year=2023), persons_df(year=2024)], ignore_index=True)
    both.loc[0, "age"] = 999  # broken in 2023 only
    folder = write_folder(tmp_path / "d", persons=both, projection=projection_df((2023, 2024)))
    assert not S.validate_folder(folder).ok
    assert S.validate_folder(folder, years=[2024]).ok
    report = S.validate_folder(folder, years=[2022])
    assert only(report, "year requested but no rows").value == 2022
    assert only(report, "no population projection").severity == "warning"


def test_several_years_without_fee_index_warns(tmp_path):
    both = pd.concat([persons_df(year=2023), persons_df(year=2024)], ignore_index=True)
    folder = write_folder(tmp_path / "d", persons=both, fee_index=False, projection=projection_df((2023, 2024)))
    report = S.validate_folder(folder)
    assert report.ok
    assert only(report, "no fee_index.csv").severity == "warning"


# --------------------------------------------------------------------------
# Internals that matter at national scale
# --------------------------------------------------------------------------


def test_plausibility_warning_only_inside_the_hard_range():
    p = persons_df()
    p.loc[0, "age"] = 115  # possible but rare: a warning
    p.loc[1, "age"] = 130  # impossible: an error, and not also a warning
    report = S.validate_table(p, "persons")
    w = only(report, "plausible maximum: 110")
    assert (w.row, w.value, w.severity) == (1, 115, "warning")
    assert only(report, "maximum: 125").row == 2


def test_duplicates_found_through_the_hash_path_in_large_tables():
    n = 200_010  # above the size where keys are hashed in DuckDB first
    df = pd.DataFrame({"person_id": pd.Series([f"P{k:07d}" for k in range(n)], dtype="str"),
                       "year": pd.array(np.where(np.arange(n) % 2 == 0, 2023, 2024), dtype="Int64")})
    df.loc[n - 1, ["person_id", "year"]] = ["P0000004", 2023]  # row 5 again
    df.loc[n - 2, ["person_id", "year"]] = ["P0000004", 2024]  # same person, other year: fine
    report = S.ValidationReport()
    pandas_engine.check_unique(df, ["person_id", "year"], "persons.parquet", report, "primaryKey")
    assert [(f.row, f.value) for f in report.failures] == [(n, "person_id=P0000004; year=2023 (first in row 5)")]


def test_to_pandera_schema_validates_a_typed_frame_directly():
    typed, report = S.coerce_table(clinics_df(), "clinics", file="clinics.csv")
    assert report.ok
    pschema, rules = S.to_pandera(S.load_schema("clinics"))
    pschema.validate(typed, lazy=True)
    assert ("capacities", 0) in rules and rules[("capacities", 0)][0] == "minimum: 0"
    bad = typed.assign(capacities=typed["capacities"] * -1)
    with pytest.raises(pa.errors.SchemaErrors):
        pschema.validate(bad, lazy=True)


def test_fast_digit_pattern_agrees_with_the_regular_expression():
    s = pd.Series(["012345", "12345", "0123456", "01234a", "٠١٢٣٤٥", "", " 12345", "12345 "], dtype="str")
    assert pandas_engine.pattern_ok("^[0-9]{6}$", s).tolist() == s.str.fullmatch("^[0-9]{6}$").tolist()


def test_capacity_reports_folder_with_both_annexes_in_one_workbook(tmp_path):
    """A region's workbook as model.inputs.synthetic writes it: sheets "Bilag 1"
    and "Bilag 2"; an annex 2 without rows (no island doctors) is fine."""
    folder = write_folder(tmp_path / "d")
    reports = folder / "capacity_reports"
    reports.mkdir()
    wb = openpyxl.Workbook()
    ws1 = wb.active
    ws1.title = "Bilag 1"
    ws1.append(ANNEX1_COLUMNS)
    for r in ANNEX_ROWS:
        ws1.append(r)
    wb.create_sheet("Bilag 2").append(ANNEX1_COLUMNS + ["Antal tilmeldte patienter"])
    wb.save(reports / "hovedstaden_2026-01-01.xlsx")
    wb = openpyxl.Workbook()
    ws1 = wb.active
    ws1.title = "Bilag 1"
    ws1.append(ANNEX1_COLUMNS)
    ws1.append(["034567", "Regionsklinikken", "Vej 3", "Aarhus", "999", "8000", "Regionsklinik", 2, 0])
    ws2 = wb.create_sheet("Bilag 2")
    ws2.append(ANNEX1_COLUMNS + ["Antal tilmeldte patienter", "Note"])
    ws2.append(["034567", "Ø-lægen", "Havnen 1", "Aarhus", "751", "8000", "Solopraksis", 1, 0, 420, "x"])
    wb.save(reports / "midtjylland_2026-01-01.xlsx")
    report = S.validate_folder(folder)
    assert {f.file for f in report.failures} == {"capacity_reports/midtjylland_2026-01-01.xlsx [Bilag 1]",
                                                 "capacity_reports/midtjylland_2026-01-01.xlsx [Bilag 2]"}
    f = only(report, "foreignKey: Praksiskommunekode")
    assert (f.file, f.row, f.value) == ("capacity_reports/midtjylland_2026-01-01.xlsx [Bilag 1]", 1, "999")
    f = only(report, "extra column")
    assert (f.file, f.column) == ("capacity_reports/midtjylland_2026-01-01.xlsx [Bilag 2]", "Note")
    assert report.n_errors == 2, report.format()


def test_dictionary_encoded_parquet_strings_read_as_text(tmp_path):
    t = pyarrow.Table.from_pandas(persons_df(), preserve_index=False)
    i = t.schema.get_field_index("civil_status")
    t = t.set_column(i, "civil_status", t.column(i).dictionary_encode())
    pq.write_table(t, tmp_path / "persons.parquet")
    df = S.read_table(tmp_path / "persons.parquet", "persons")
    assert str(df["civil_status"].dtype) == "str"
    assert S.validate_table(df, "persons").ok


# --------------------------------------------------------------------------
# Parquet out of core (DuckDB) against the pandas reference
# --------------------------------------------------------------------------


def _records(report: S.ValidationReport) -> list[tuple]:
    return [(f.file, f.column, f.row, repr(f.value), f.rule, f.severity) for f in report.failures]


def assert_engines_agree(folder: Path, **kw) -> S.ValidationReport:
    """validate_folder through DuckDB finds exactly what the pandas path
    finds: the same failures (file, column, row, value, rule, severity) in
    the same order, and the same full count per rule."""
    duck = S.validate_folder(folder, engine="duckdb", **kw)
    ref = S.validate_folder(folder, engine="pandas", **kw)
    assert _records(duck) == _records(ref), f"DuckDB:\n{duck.format()}\n\npandas:\n{ref.format()}"
    assert duck.counts == ref.counts
    return duck


def services_many(n_persons: int = 20, copies: int = 10, year: int = 2024) -> pd.DataFrame:
    """``copies`` x 4 valid service lines spread over the persons and clinics of persons_df."""
    s = pd.concat([services_df(year)] * copies, ignore_index=True)
    k = np.arange(len(s))
    s["person_id"] = [f"P{i % n_persons:06d}" for i in k]
    s["clinic_id"] = [["012345", "023456", "034567"][i % 3] for i in k]
    s["fee"] = np.abs(s["fee"])  # no corrections: every person-year total is positive
    return s


def test_valid_services_pass_through_duckdb(tmp_path):
    folder = write_folder(tmp_path / "d", services=services_many())
    report = assert_engines_agree(folder)
    assert report.ok and report.n_warnings == 0, report.format()


@pytest.mark.parametrize("breakage, column, rule, rows, value, severity", [
    (lambda s: s.assign(person_id=np.arange(len(s), dtype=np.int64)), "person_id",
     "type: string required, got int64 - leading zeros may have been lost", [None], 0, "error"),
    (lambda s: s.assign(fee=np.where(s["person_id"] == "P000003", -10.0, s["fee"])), "fee",
     "rule person_year_fee_not_negative: sum of fee per (person_id, year) >= 0", [None],
     "person_id=P000003; year=2024: sum -20.00", "error"),
    (lambda s: s.assign(week=np.where(np.arange(len(s)) == 6, 54, s["week"])), "week", "maximum: 53", [7], 54,
     "error"),
    (lambda s: s.assign(service_code=np.where(np.arange(len(s)) == 2, "01A1", s["service_code"])), "service_code",
     "pattern: ^[0-9]{4}$", [3], "01A1", "error"),
    (lambda s: s.assign(service_code=np.where(np.arange(len(s)) == 4, "101", s["service_code"])), "service_code",
     "pattern: ^[0-9]{4}$ (too few digits - leading zeros lost?)", [5], "101", "error"),
    (lambda s: s.assign(clinic_id=np.where(np.arange(len(s)) == 9, "099999", s["clinic_id"])), "clinic_id",
     "foreignKey: clinic_id -> clinics.clinic_id", [10], "099999", "error"),
    (lambda s: s.assign(person_id=np.where(np.arange(len(s)) == 11, "P999999", s["person_id"])), "person_id, year",
     "foreignKey: person_id, year -> persons.person_id, year", [12], "person_id=P999999; year=2024", "warning"),
    (lambda s: s.assign(count=np.where(np.arange(len(s)) == 12, 500, s["count"])), "count", "plausible maximum: 100",
     [13], 500, "warning"),
    (lambda s: s.assign(fee=np.where(np.arange(len(s)) == 13, np.nan, s["fee"])), "fee", "required: value missing",
     [14], None, "error"),
    (lambda s: s.assign(week=s["week"].astype(str).where(np.arange(len(s)) != 15, "uge 3")), "week", "type: integer",
     [16], "uge 3", "error"),
])
def test_duckdb_finds_each_services_breach_the_pandas_path_finds(tmp_path, breakage, column, rule, rows, value,
                                                                 severity):
    folder = write_folder(tmp_path / "d", services=breakage(services_many()))
    report = assert_engines_agree(folder)
    found = failures(report, rule, column)
    assert found, report.format()
    assert [f.row for f in found[:len(rows)]] == rows
    assert (found[0].file, found[0].value, found[0].severity) == ("services.parquet", value, severity)


def test_numeric_person_ids_in_services_are_text_to_the_foreign_key(tmp_path):
    s = services_many()
    s["person_id"] = np.arange(len(s), dtype=np.int64)  # P000000 can never match 0
    report = assert_engines_agree(write_folder(tmp_path / "d", services=s))
    fk = failures(report, "foreignKey: person_id, year")
    assert fk[0].value == "person_id=0; year=2024" and fk[0].row == 1
    assert report.summary_frame().set_index("rule").loc[
        "foreignKey: person_id, year -> persons.person_id, year", "count"] == len(s)


def test_duplicate_service_lines_are_allowed(tmp_path):
    """The contract has no primary key: an original and a correction may share every key column."""
    s = services_many()
    s = pd.concat([s, s.iloc[[0, 1, 2]]], ignore_index=True)
    assert S.load_schema("services").get("primaryKey") is None
    report = assert_engines_agree(write_folder(tmp_path / "d", services=s))
    assert report.ok and report.n_warnings == 0, report.format()


def test_duckdb_caps_examples_and_counts_every_failing_line(tmp_path):
    s = services_many(copies=30)  # 120 lines
    s["week"] = 54
    s.loc[7, "week"] = 3
    report = assert_engines_agree(write_folder(tmp_path / "d", services=s))
    listed = failures(report, "maximum: 53", "week")
    assert [f.row for f in listed] == [r for r in range(1, 22) if r != 8]
    assert report.summary_frame().set_index("rule").loc["maximum: 53", "count"] == 119


def test_all_services_breaches_together_with_rows(tmp_path):
    s = services_many()
    s.loc[3, "week"] = 54
    s.loc[4, "service_code"] = "101"
    s.loc[5, "service_code"] = "01A1"
    s.loc[6, "clinic_id"] = "099999"
    s.loc[7, "person_id"] = "P999999"
    s.loc[8, "fee"] = -5000.0
    s.loc[10, "fee"] = None
    s.loc[11, "year"] = 2006
    s.loc[13, "person_id"] = None
    s.loc[14, "clinic_id"] = "12345"
    report = assert_engines_agree(write_folder(tmp_path / "d", services=s))
    got = {(f.column, f.row, f.rule.split(" (")[0]) for f in report.failures if f.row is not None}
    assert got >= {("week", 4, "maximum: 53"), ("service_code", 5, "pattern: ^[0-9]{4}$"),
                   ("service_code", 6, "pattern: ^[0-9]{4}$"),
                   ("clinic_id", 7, "foreignKey: clinic_id -> clinics.clinic_id"),
                   ("person_id, year", 8, "foreignKey: person_id, year -> persons.person_id, year"),
                   ("fee", 11, "required: value missing"), ("year", 12, "minimum: 2007"),
                   ("person_id", 14, "required: value missing"), ("clinic_id", 15, "pattern: ^[0-9]{6}$")}
    assert only(report, "person_year_fee_not_negative").value.startswith("person_id=P000008; year=2024: sum -")


def test_duckdb_finds_each_persons_breach_the_pandas_path_finds(tmp_path):
    p = persons_df(60)
    p["age"] = p["age"].astype(str)
    p.loc[4, "age"] = "abc"
    p.loc[5, "age"] = "130"
    p.loc[6, "age"] = "115"
    p["clinic_id"] = p["clinic_id"].astype(np.int64)  # leading zeros lost
    p.loc[7, "person_id"] = p.loc[2, "person_id"]
    p.loc[8, "civil_status"] = "X"
    p.loc[9, "local_services_fee"] = 1e9
    p.loc[11, ["psychiatric", "psychiatric_extended"]] = [True, False]
    p.loc[12, "municipality_code"] = "999"
    p.loc[13, "municipality_code"] = None
    p.loc[15, "gross_fee"] = -1.0
    p.loc[16, "gross_fee"] = 300000.0
    p["psychiatric"] = p["psychiatric"].astype(object)
    p.loc[17, "psychiatric"] = None
    report = assert_engines_agree(write_folder(tmp_path / "d", persons=p))
    assert only(report, "primaryKey").value == "person_id=P000002; year=2024 (first in row 3)"
    assert only(report, "type: integer", "age").row == 5
    assert only(report, "type: string required, got int64", "clinic_id").value == 12345


def test_duckdb_rows_are_rows_of_the_file_when_years_are_selected(tmp_path):
    both = pd.concat([persons_df(year=2023), persons_df(year=2024)], ignore_index=True)
    both.loc[25, "age"] = 999  # the 26th row of the file, the 6th of 2024
    folder = write_folder(tmp_path / "d", persons=both, projection=projection_df((2023, 2024)), services=False)
    f = only(S.validate_folder(folder, years=[2024]), "maximum: 125")
    assert (f.row, f.value) == (26, 999)
    assert S.validate_folder(folder, years=[2023]).ok


def test_validate_file_reads_parquet_out_of_core(tmp_path):
    s = services_many()
    s.loc[2, "week"] = 0
    path = write_parquet(s, tmp_path / "services.parquet")
    f = only(S.validate_file(path), "minimum: 1")
    assert (f.file, f.column, f.row, f.value) == ("services.parquet", "week", 3, 0)


def test_tables_selects_what_is_validated(tmp_path):
    s = services_many()
    s.loc[0, "week"] = 54
    c = clinics_df()
    c.loc[0, "postcode"] = "22000"
    folder = write_folder(tmp_path / "d", services=s, clinics=c)
    everything = S.validate_folder(folder)
    assert set(everything.files) == {"services.parquet", "clinics.csv"}
    no_services = S.validate_folder(folder, tables=["persons", "clinics", "municipalities"])
    assert no_services.files == ["clinics.csv"]
    only_services = S.validate_folder(folder, tables="services")
    assert only_services.files == ["services.parquet"]  # no clinics or persons: no foreign keys to check
    assert not failures(only_services, "foreignKey")
    with pytest.raises(ValueError, match="unknown table"):
        S.validate_folder(folder, tables=["service"])
    (folder / "persons.parquet").unlink()
    assert not failures(S.validate_folder(folder, tables=["clinics"]), "file missing")
    assert failures(S.validate_folder(folder, tables=["clinics", "persons"]), "file missing")


def test_tables_capacity_reports_selects_both_annexes(tmp_path):
    folder = write_folder(tmp_path / "d")
    rows = [ANNEX_ROWS[0] + [420], ["034567", "Ø-lægen", "Havnen 1", "Frederiksberg", "751", "8000",
                                    "Solopraksis", 1, 2, 300]]
    annex_xlsx(folder / "capacity_report_annex2.xlsx", rows, ANNEX1_COLUMNS + ["Antal tilmeldte patienter"])
    assert failures(S.validate_folder(folder, tables=["municipalities", "capacity_reports"]),
                    "rule vacant_within_allocated")
    assert not failures(S.validate_folder(folder, tables=["municipalities", "persons"]),
                        "rule vacant_within_allocated")


def test_report_validates_what_the_report_reads_not_the_service_lines(tmp_path):
    from model.analyses.data_checks import validate_data

    s = services_many()
    s.loc[0, "week"] = 54
    folder = write_folder(tmp_path / "d", services=s)
    assert validate_data(folder, 2024)["ok"]  # the broken service lines are not read by the report
    assert not S.validate_folder(folder, years=[2024]).ok
    p = persons_df()
    p.loc[0, "age"] = 200
    write_parquet(p, folder / "persons.parquet")
    with pytest.raises(ValueError, match="maximum: 125"):
        validate_data(folder, 2024)


def test_duckdb_connection_works_where_the_progress_bar_cannot_be_set(monkeypatch):
    """In a notebook kernel without ipywidgets DuckDB refuses SET enable_progress_bar; validation still runs."""
    import duckdb

    from model.inputs.contracts import duck

    class Refusing:
        closed = False

        def execute(self, sql):
            if "progress_bar" in sql:
                raise duckdb.InvalidInputException(
                    "Invalid Input Error: Could not change the progress bar setting because: 'required package "
                    "'ipywidgets' is missing, which is needed to render progress bars in Jupyter'")
            return self

        def close(self):
            self.closed = True

    monkeypatch.setattr(duck.duckdb, "connect", lambda database=":memory:": Refusing())
    con = duck.quiet_connect()
    assert isinstance(con, Refusing) and not con.closed

    class Broken(Refusing):
        def execute(self, sql):
            raise duckdb.InvalidInputException("Invalid Input Error: something else")

    monkeypatch.setattr(duck.duckdb, "connect", lambda database=":memory:": Broken())
    with pytest.raises(duckdb.InvalidInputException, match="something else"):
        duck.quiet_connect()
