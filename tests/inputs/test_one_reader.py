"""One reader (issue 10): what validation accepts, the model reads identically.

Validation (model.inputs.contracts) and the model's readers (tables.read_clinics,
read_projection, read_persons, reference.municipalities,
services.read_fee_index, the capacity-report CSVs) decode files the same way
(model.inputs.contracts.decoding). The tests write each CSV input in three more forms - as
Danish Excel saves it (semicolons, Windows-1252, decimal commas, CRLF), with
a UTF-8 byte-order mark, and in the alternative formats (SAND/FALSK and
ja/nej booleans, day-first dates) - and check that validation passes, that
the model reads the same frame as from the canonical file, and that a fit
gives identical output tables. Then the cases of issue 10 where validation
said OK and the model did something else, the non-finite and implausible
numbers, and the inputs that gave tracebacks, each as a small fixture.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # binds pa.compute (the year stored as text below)
import pyarrow.parquet as pq
import pytest

from model.analyses import fit as afit
from model.config import ModelConfig
from model.errors import ValidationFailed
from model.inputs import capacity_reports, capacity_sheets, readers, reference, services, synthetic, tables
from model.inputs import contracts as S
from model.inputs.contracts import decoding

YEAR = 2025
CSV_TABLES = {  # contract -> file
    "clinics": "clinics.csv",
    "municipalities": "municipalities.csv",
    "population_projection": "population_projection.csv",
    "fee_index": "fee_index.csv",
}
VARIANTS = ("danish_excel", "utf8_bom", "alternative_formats")


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canonical(tmp_path_factory) -> Path:
    """A small synthetic data folder (3,000 citizens, 2024-2025), as the generator writes it."""
    d = tmp_path_factory.mktemp("one_reader") / "canonical"
    synthetic.generate(d, persons=3000, years=[2024, YEAR], services=False)
    return d


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def text_table(path: Path) -> pd.DataFrame:
    """A CSV as text, exactly as written (no parsing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def field_types(name: str) -> dict[str, str]:
    return {f["name"]: f["type"] for f in S.load_schema(name)["fields"]}


def variant_bytes(t: pd.DataFrame, name: str, variant: str) -> bytes:
    """The bytes of table ``t`` (text, contract ``name``) written in one of :data:`VARIANTS`."""
    t = t.copy()
    types = field_types(name)
    if variant == "danish_excel":
        for c in t.columns:
            if types.get(c) == "number":
                t[c] = t[c].str.replace(".", ",", regex=False)
            elif types.get(c) == "boolean":
                t[c] = t[c].str.lower().map({"true": "SAND", "false": "FALSK"}).fillna(t[c])
            elif types.get(c) == "date":
                d = pd.to_datetime(t[c].replace("", None), format="%Y-%m-%d")
                t[c] = d.dt.strftime("%d-%m-%Y").fillna("")
        return t.to_csv(index=False, sep=";", lineterminator="\r\n").encode("cp1252")
    if variant == "utf8_bom":
        return b"\xef\xbb\xbf" + t.to_csv(index=False).encode("utf-8")
    if variant == "alternative_formats":
        for c in t.columns:
            if types.get(c) == "boolean":  # SAND/FALSK, ja/nej, Yes/No, 1/0 by turns
                forms = [("SAND", "FALSK"), ("ja", "nej"), ("Yes", "No"), ("1", "0")]
                t[c] = [forms[i % 4][0] if v.lower() == "true" else forms[i % 4][1] if v.lower() == "false" else v
                        for i, v in enumerate(t[c])]
            elif types.get(c) == "date":
                d = pd.to_datetime(t[c].replace("", None), format="%Y-%m-%d")
                forms = ["%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d"]
                t[c] = [("" if pd.isna(v) else v.strftime(forms[i % 4])) for i, v in enumerate(d)]
        return t.to_csv(index=False).encode("utf-8")
    raise ValueError(variant)


def write_variant(src: Path, dst: Path, variant: str) -> Path:
    """A copy of folder ``src`` with every CSV input rewritten in ``variant``."""
    copy_folder(src, dst)
    for name, f in CSV_TABLES.items():
        (dst / f).write_bytes(variant_bytes(text_table(src / f), name, variant))
    return dst


def model_reads(folder: Path) -> dict[str, object]:
    """What the model's readers give for each CSV input of ``folder``."""
    return {
        "clinics": tables.read_clinics(folder / "clinics.csv"),
        "municipalities": tables.read_municipalities(folder / "municipalities.csv"),
        "population_projection": tables.read_projection(folder / "population_projection.csv"),
        "fee_index": services.read_fee_index(folder / "fee_index.csv"),
    }


def fit_tables(folder: Path) -> dict[str, pd.DataFrame]:
    inputs = tables.load_inputs(folder, YEAR, hashes=False, insurance_group=1)
    return afit.run_model(inputs, ModelConfig(year=YEAR, planning_year=YEAR + 1)).tables


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *args], capture_output=True, text=True, timeout=600)


def errors(report: S.ValidationReport, rule_part: str, column: str | None = None) -> list[S.Failure]:
    return [f for f in report.errors if rule_part in f.rule and (column is None or f.column == column)]


@pytest.fixture(scope="module")
def canonical_reads(canonical):
    return model_reads(canonical)


@pytest.fixture(scope="module")
def canonical_fit(canonical):
    return fit_tables(canonical)


# --------------------------------------------------------------------------
# The decoding layer
# --------------------------------------------------------------------------


def test_booleans_every_accepted_form_and_nothing_else():
    s = pd.Series(["true", "FALSE", "1", "0", "yes", "No", "ja", "NEJ", "SAND", "falsk", " Sand ", None, "",
                   "maybe", "2", "t"])
    values, bad = decoding.parse_booleans(s)
    assert values.iloc[:11].tolist() == [True, False, True, False, True, False, True, False, True, False, True]
    assert values.iloc[11:].isna().all()
    assert bad.tolist() == [False] * 13 + [True] * 3


def test_dates_iso_and_day_first_parse_to_the_same_day():
    s = pd.Series(["2021-03-04", "04-03-2021", "4.3.2021", "04/03/2021", "  04-03-2021 ", None, ""])
    values, bad = decoding.parse_dates(s)
    assert values.iloc[:5].tolist() == [pd.Timestamp("2021-03-04")] * 5
    assert values.iloc[5:].isna().all() and not bad.any()


def test_dates_day_first_always_and_impossible_dates_rejected():
    """03-04-2020 is 3 April (day first, the Danish convention), never 4 March; 13-25-2020 is no date."""
    values, bad = decoding.parse_dates(pd.Series(["03-04-2020", "13-25-2020", "31-02-2020", "2020/13/01", "04-2020"]))
    assert values.iloc[0] == pd.Timestamp("2020-04-03")
    assert bad.tolist() == [False, True, True, True, True]


def test_decoding_any_bytes():
    assert decoding.decode_bytes("æøå".encode()) == ("æøå", [])
    assert decoding.decode_bytes(b"\xef\xbb\xbf" + "æ".encode()) == ("æ", ["a UTF-8 byte-order mark (BOM)"])
    assert decoding.decode_bytes("æøå".encode("cp1252"))[0] == "æøå"
    assert decoding.decode_bytes(b"\x81\x8d")[1] == ["Latin-1 encoding (not UTF-8)"]  # undefined in cp1252
    assert [decoding.sniff_delimiter(h) for h in ("a;b;c", "a,b;c,d", "a\tb", "a")] == [";", ",", "\t", ","]


def test_capacity_report_csv_decoding_is_the_one_reader():
    assert capacity_sheets.decode_csv("Ærø;Læsø".encode("cp1252")) == decoding.decode_bytes("Ærø;Læsø".encode("cp1252"))[0]
    assert capacity_sheets.decode_csv(b"\x81") == "\x81"  # was a UnicodeDecodeError


# --------------------------------------------------------------------------
# Every CSV contract in every variant: validation passes, the model reads the same, the fit is identical
# --------------------------------------------------------------------------


def test_the_canonical_folder_is_valid(canonical):
    report = S.validate_folder(canonical, years=[YEAR], planning_year=YEAR + 1)
    assert report.ok, report.format()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", sorted(CSV_TABLES))
def test_each_contract_in_each_variant_validates_and_reads_identically(canonical, canonical_reads, tmp_path,
                                                                       name, variant):
    f = CSV_TABLES[name]
    path = tmp_path / f
    path.write_bytes(variant_bytes(text_table(canonical / f), name, variant))
    report = S.validate_file(path, name)
    assert report.ok, report.format()
    reader = {"clinics": tables.read_clinics, "municipalities": tables.read_municipalities,
              "population_projection": tables.read_projection, "fee_index": services.read_fee_index}[name]
    got = reader(path)
    want = canonical_reads[name]
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want)
    else:
        assert got == want
    # and validation types the values the model reads: the same typed table as from the canonical file
    pd.testing.assert_frame_equal(readers.read_typed(path, name), readers.read_typed(canonical / f, name))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fit_on_each_variant_gives_identical_output_tables(canonical, canonical_fit, tmp_path, variant):
    folder = write_variant(canonical, tmp_path / variant, variant)
    report = S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1)
    assert report.ok, report.format()
    tables = fit_tables(folder)
    assert set(tables) == set(canonical_fit)
    for name in canonical_fit:
        pd.testing.assert_frame_equal(tables[name], canonical_fit[name], obj=name)


def test_capacity_report_csv_variants_validate_and_read_identically(tmp_path):
    """The annex contracts: a region's report as CSV pair, canonical and as Danish Excel saves it."""
    head1 = list(capacity_reports.ANNEX1_HEADINGS)
    head2 = list(capacity_reports.ANNEX2_HEADINGS)
    rows1 = [["012345", "Lægehuset Nørrebro", "Nørrebrogade 1", "København", "101", "2200", "Solopraksis", "1.5", "0"],
             ["023456", "Frederiksberg Lægerne", "Falkoner Allé 2", "Frederiksberg", "147", "2000",
              "Kompagniskabspraksis", "3", "0.5"]]
    rows2 = [["034567", "Ærø Lægehus", "Vestergade 1", "Ærø", "492", "5970", "Solopraksis", "1", "0", "412"]]
    rows2 = [r[:len(head2)] for r in rows2]
    results = {}
    for variant in ("canonical", "danish_excel"):
        d = tmp_path / variant / "capacity_reports"
        d.mkdir(parents=True)
        for k, (head, rows) in enumerate(((head1, rows1), (head2, rows2)), start=1):
            t = pd.DataFrame(rows, columns=head)
            p = d / f"hovedstaden_2026-01-01_bilag{k}.csv"
            if variant == "canonical":
                p.write_bytes(t.to_csv(index=False).encode("utf-8"))
            else:
                for c in ("Antal udmøntede kapaciteter", "Antal ledige kapaciteter"):
                    t[c] = t[c].str.replace(".", ",", regex=False)
                p.write_bytes(t.to_csv(index=False, sep=";", lineterminator="\r\n").encode("cp1252"))
            typed = readers.read_typed(p, f"capacity_report_annex{k}")
            results.setdefault(k, []).append(typed)
        rep = capacity_reports.read_capacity_report(d / "hovedstaden_2026-01-01_bilag1.csv")
        results.setdefault("ingest", []).append(rep)
    for k in (1, 2):
        pd.testing.assert_frame_equal(results[k][0], results[k][1])
    a, b = results["ingest"]
    assert a.ok and b.ok, (a.failures, b.failures)
    pd.testing.assert_frame_equal(a.annex1, b.annex1)
    pd.testing.assert_frame_equal(a.annex2, b.annex2)


# --------------------------------------------------------------------------
# The known failures: validation said OK, the model read something else
# --------------------------------------------------------------------------


def test_island_doctor_sand_falsk_is_read_as_validation_reads_it(canonical, tmp_path):
    """Was: SAND/FALSK passed validation and the reader took every SAND as false."""
    folder = copy_folder(canonical, tmp_path / "d")
    c = text_table(canonical / "clinics.csv")
    c["island_doctor"] = np.where(c.index < 10, "SAND", "FALSK")
    c.to_csv(folder / "clinics.csv", index=False)
    assert S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1).ok
    read = tables.read_clinics(folder / "clinics.csv")
    assert read["island_doctor"].dtype == bool
    assert read["island_doctor"].tolist() == [True] * 10 + [False] * (len(c) - 10)
    typed = S.load_table(folder / "clinics.csv", "clinics")
    assert typed["island_doctor"].tolist() == read["island_doctor"].tolist()


def test_boolean_that_is_no_boolean_is_an_error_in_validation_and_the_reader(canonical, tmp_path):
    c = text_table(canonical / "clinics.csv")
    c.loc[3, "island_doctor"] = "maybe"
    c.to_csv(tmp_path / "clinics.csv", index=False)
    f = errors(S.validate_file(tmp_path / "clinics.csv", "clinics"), "type: boolean")[0]
    assert (f.file, f.column, f.row, f.value) == ("clinics.csv", "island_doctor", 4, "maybe")
    with pytest.raises(ValidationFailed, match=r"island_doctor .* maybe .*type: boolean"):
        tables.read_clinics(tmp_path / "clinics.csv")


def test_opened_day_first_keeps_split_clinics_on_their_parents_weight(canonical, canonical_fit, tmp_path):
    """Was: dd-mm-yyyy passed with a warning, the fit parsed it month first, two split clinics lost their
    parent's weight."""
    folder = copy_folder(canonical, tmp_path / "d")
    c = text_table(canonical / "clinics.csv")
    c["opened"] = pd.to_datetime(c["opened"]).dt.strftime("%d-%m-%Y")
    c.to_csv(folder / "clinics.csv", index=False)
    assert S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1).ok
    assert tables.read_clinics(folder / "clinics.csv")["opened"].tolist() == text_table(canonical / "clinics.csv")[
        "opened"].tolist()
    ct = fit_tables(folder)["clinic_minimums"]
    want = canonical_fit["clinic_minimums"]
    assert (ct["weight_source"] == "split_from").sum() == (want["weight_source"] == "split_from").sum() > 0
    pd.testing.assert_frame_equal(ct, want)


def test_impossible_date_is_an_error_in_validation_and_the_reader(canonical, tmp_path):
    c = text_table(canonical / "clinics.csv")
    c.loc[0, "opened"] = "31-02-2020"
    c.to_csv(tmp_path / "clinics.csv", index=False)
    f = errors(S.validate_file(tmp_path / "clinics.csv", "clinics"), "type: date")[0]
    assert (f.column, f.row, f.value) == ("opened", 1, "31-02-2020")
    with pytest.raises(ValidationFailed, match="opened"):
        tables.read_clinics(tmp_path / "clinics.csv")


def test_danish_excel_folder_fits_from_the_command_line(canonical, tmp_path):
    """Was: validate OK, then fit failed with "'utf-8' codec can't decode byte 0xe6" and no file named."""
    folder = write_variant(canonical, tmp_path / "d", "danish_excel")
    r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR))
    assert r.returncode == 0, r.stderr
    assert "looks saved by (Danish) Excel" in r.stderr  # the warning stays: check the numbers
    assert (tmp_path / "run" / "clinic_minimums.csv").exists()


def test_quoted_decimal_comma_in_clinics_is_read_as_a_number(canonical, tmp_path):
    """Was: validation read "1,5" as 1.5, the model's reader kept the text and the fit raised TypeError."""
    folder = copy_folder(canonical, tmp_path / "d")
    c = text_table(canonical / "clinics.csv")
    c.loc[0, "capacities"] = "1,5"
    c.to_csv(folder / "clinics.csv", index=False)
    assert '"1,5"' in (folder / "clinics.csv").read_text(encoding="utf-8")
    assert S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1).ok
    read = tables.read_clinics(folder / "clinics.csv")
    assert read["capacities"].dtype == np.float64 and read["capacities"].iloc[0] == 1.5
    assert fit_tables(folder)["clinic_minimums"].set_index("clinic_id").loc[c.loc[0, "clinic_id"], "capacities"] == 1.5


# --------------------------------------------------------------------------
# Validation answers for what the verb will need
# --------------------------------------------------------------------------


def test_projection_without_the_planning_year_is_an_error(canonical, tmp_path):
    folder = copy_folder(canonical, tmp_path / "d")
    p = text_table(canonical / "population_projection.csv")
    p[p["year"] != str(YEAR + 1)].to_csv(folder / "population_projection.csv", index=False)
    f = errors(S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1), "planning year missing")[0]
    assert (f.file, f.column, f.value) == ("population_projection.csv", "year", YEAR + 1)
    # the default of `validate`: the latest persons year + 1
    assert errors(S.validate_folder(folder, planning_year="latest"), "planning year missing")
    r = cli("validate", str(folder))
    assert r.returncode == 1 and "planning year missing" in r.stdout
    r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR))
    assert r.returncode == 1 and "planning year missing" in r.stderr and "Traceback" not in r.stderr
    # one municipality missing in the planning year is named
    p[~((p["year"] == str(YEAR + 1)) & (p["municipality_code"] == "101"))].to_csv(
        folder / "population_projection.csv", index=False)
    f = errors(S.validate_folder(folder, planning_year=YEAR + 1), "planning year missing")[0]
    assert (f.column, f.value) == ("municipality_code", f"101 ({YEAR + 1})")


def test_the_year_asked_for_must_be_in_persons(canonical):
    assert S.validate_folder(canonical, planning_year="latest").ok  # the data are fine for their latest year
    r = cli("validate", str(canonical), "--year", "2023")
    assert r.returncode == 1 and "year requested but no rows for it" in r.stdout


def test_year_stored_as_text_in_persons_is_caught_by_validate_and_the_reader(canonical, tmp_path):
    folder = copy_folder(canonical, tmp_path / "d")
    t = pq.read_table(canonical / "persons.parquet")
    i = t.schema.get_field_index("year")
    pq.write_table(t.set_column(i, "year", pa.compute.cast(t.column("year"), pa.string())), folder / "persons.parquet")
    for engine in ("duckdb", "pandas"):
        f = errors(S.validate_folder(folder, years=[YEAR], engine=engine), "stored as text")[0]
        assert (f.file, f.column) == ("persons.parquet", "year") and "contract's type is integer" in f.rule
    with pytest.raises(ValidationFailed, match=r"persons.parquet +year .*stored as text"):
        tables.read_persons(folder / "persons.parquet", YEAR)


def test_duplicated_parquet_column_is_a_failure_report_not_a_key_error(canonical, tmp_path):
    folder = copy_folder(canonical, tmp_path / "d")
    t = pq.read_table(canonical / "persons.parquet")
    pq.write_table(t.append_column("age", t.column("age")), folder / "persons.parquet")
    for engine in ("duckdb", "pandas"):
        f = errors(S.validate_folder(folder, years=[YEAR], engine=engine), "more than once")[0]
        assert (f.file, f.column, f.value) == ("persons.parquet", "age", 2)
    with pytest.raises(ValidationFailed, match="age .*more than once"):
        tables.read_persons(folder / "persons.parquet", YEAR)
    r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR), "--no-validate")
    assert r.returncode == 2 and "more than once" in r.stderr and "Traceback" not in r.stderr


def test_header_only_municipalities_is_a_failure_report(canonical, tmp_path):
    folder = copy_folder(canonical, tmp_path / "d")
    header = (canonical / "municipalities.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / "municipalities.csv").write_text(header + "\n", encoding="utf-8")
    f = errors(S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1), "no data rows")[0]
    assert f.file == "municipalities.csv"
    with pytest.raises(ValidationFailed, match="municipalities.csv .*no data rows"):
        reference.municipalities(folder / "municipalities.csv")
    for args in ((), ("--no-validate",)):
        r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR), *args)
        assert r.returncode in (1, 2) and "no data rows" in r.stderr + r.stdout and "Traceback" not in r.stderr


# --------------------------------------------------------------------------
# Finite and plausible numbers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
def test_non_finite_capacities_are_errors_in_validation_and_the_reader(canonical, tmp_path, value):
    c = text_table(canonical / "clinics.csv")
    c.loc[0, "capacities"] = value
    c.to_csv(tmp_path / "clinics.csv", index=False)
    f = errors(S.validate_file(tmp_path / "clinics.csv", "clinics"), "type: number", "capacities")[0]
    assert (f.row, f.value) == (1, value)
    with pytest.raises(ValidationFailed, match="capacities"):
        tables.read_clinics(tmp_path / "clinics.csv")


def test_capacities_inf_never_reaches_a_minimum_patient_number(canonical, tmp_path):
    """Was: capacities = inf gave minimum patient number -9223372036854775808."""
    folder = copy_folder(canonical, tmp_path / "d")
    c = text_table(canonical / "clinics.csv")
    c.loc[0, "capacities"] = "inf"
    c.to_csv(folder / "clinics.csv", index=False)
    for args in ((), ("--no-validate",)):
        r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR), *args)
        assert r.returncode in (1, 2), r.stdout
        assert "capacities" in r.stderr and "type: number" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_capacities_above_the_contract_maximum_are_errors(canonical, tmp_path):
    c = text_table(canonical / "clinics.csv")
    c.loc[0, "capacities"] = "1e12"
    c.loc[1, "capacities"] = "15"  # above the plausible 12: a warning only
    c.to_csv(tmp_path / "clinics.csv", index=False)
    report = S.validate_file(tmp_path / "clinics.csv", "clinics")
    f = errors(report, "maximum: 20")[0]
    assert (f.column, f.row, f.value) == ("capacities", 1, 1e12)
    w = [x for x in report.warnings if x.rule == "plausible maximum: 12"]
    assert [(x.row, x.value) for x in w] == [(2, 15.0)]


def test_projection_far_from_the_population_is_an_error(canonical, tmp_path):
    """Was: a projection of 1e12 gave "597,386,265 capacities"."""
    folder = copy_folder(canonical, tmp_path / "d")
    p = text_table(canonical / "population_projection.csv")
    row = p.index[(p["municipality_code"] == "101") & (p["year"] == str(YEAR + 1))][0]
    p.loc[row, "population_end_of_year"] = "1000000000000"
    small = p.index[(p["municipality_code"] == "147") & (p["year"] == str(YEAR + 1))][0]
    p.loc[small, "population_end_of_year"] = "1061"  # a tenth of Frederiksberg: a missing digit
    p.to_csv(folder / "population_projection.csv", index=False)
    report = S.validate_folder(folder, years=[YEAR], planning_year=YEAR + 1)
    assert [(f.row, f.value) for f in errors(report, "maximum: 2000000")] == [(row + 1, 1_000_000_000_000)]
    ratio = errors(report, "projection outside 0.5-2 times")
    assert [f.row for f in ratio] == sorted([row + 1, small + 1])
    assert any(f.value.startswith(f"147 ({YEAR + 1}): 1,061 vs 106,150") for f in ratio)
    r = cli("fit", "--data", str(folder), "--out", str(tmp_path / "run"), "--year", str(YEAR))
    assert r.returncode == 1 and not (tmp_path / "run").exists()


def test_projection_nan_is_a_type_error(canonical, tmp_path):
    p = text_table(canonical / "population_projection.csv")
    p.loc[0, "population_end_of_year"] = "nan"
    p.to_csv(tmp_path / "population_projection.csv", index=False)
    f = errors(S.validate_file(tmp_path / "population_projection.csv", "population_projection"), "type: integer")[0]
    assert (f.row, f.value) == (1, "nan")
    with pytest.raises(ValidationFailed):
        tables.read_projection(tmp_path / "population_projection.csv")


def test_fee_index_far_from_the_previous_year_is_an_error(canonical, tmp_path):
    """Was: an index of 1e12 scaled the 2024 coefficients to 6e-8 DKK."""
    folder = copy_folder(canonical, tmp_path / "d")
    (folder / "fee_index.csv").write_text("year,index\n2023,95.1\n2024,97.56\n2025,1e12\n")
    f = errors(S.validate_folder(folder, years=[YEAR]), "times the previous year's")[0]
    assert (f.file, f.column, f.row) == ("fee_index.csv", "index", 3)
    assert f.value.startswith("2025: 1e+12 =")
    with pytest.raises(ValueError, match=r"fee_index.csv: year 2025: index 1e\+12 is .* times 2024's 97.56"):
        tables.price_factor(folder, 2024, 2025)
    with pytest.raises(ValueError, match="allowed ratio 0.5-2"):
        services.read_fee_index({2024: 100.0, 2025: 49.0})
    assert services.read_fee_index({2024: 100.0, 2025: 103.0}) == {2024: 100.0, 2025: 103.0}


def test_fee_index_inf_is_an_error(tmp_path):
    (tmp_path / "fee_index.csv").write_text("year,index\n2024,100\n2025,inf\n")
    f = errors(S.validate_file(tmp_path / "fee_index.csv", "fee_index"), "type: number")[0]
    assert (f.column, f.row, f.value) == ("index", 2, "inf")
    with pytest.raises(ValidationFailed, match="index"):
        services.read_fee_index(tmp_path / "fee_index.csv")


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_non_finite_fees_in_persons_are_errors(canonical, tmp_path, engine):
    folder = copy_folder(canonical, tmp_path / "d")
    t = pq.read_table(canonical / "persons.parquet")
    years = t.column("year").to_numpy()
    g = t.column("gross_fee").to_numpy().copy()
    first = int(np.flatnonzero(years == YEAR)[0])
    g[first], g[first + 1] = np.inf, np.nan
    # a NaN written as a value, not as a missing value
    arr = pa.array(g, from_pandas=False)
    pq.write_table(t.set_column(t.schema.get_field_index("gross_fee"), "gross_fee", arr), folder / "persons.parquet")
    report = S.validate_folder(folder, years=[YEAR], engine=engine)
    row = first + 1 if engine == "duckdb" else 1  # pandas counts rows within the selected years
    inf = errors(report, "type: number", "gross_fee")
    assert [(f.row, f.value) for f in inf] == [(row, float("inf"))]
    assert [f.row for f in errors(report, "required: value missing", "gross_fee")] == [row + 1]  # nan: missing
    with pytest.raises(ValidationFailed, match="gross_fee"):
        tables.read_persons(folder / "persons.parquet", YEAR)


def test_inf_fee_in_services_is_caught_before_ingest(canonical, tmp_path):
    """Was: inf fees passed the contract and then crashed DuckDB's aggregation."""
    folder = copy_folder(canonical, tmp_path / "d")
    p = pq.read_table(canonical / "persons.parquet").to_pandas()
    p = p[(p["year"] == YEAR) & p["clinic_id"].notna()].head(20)
    s = pd.DataFrame({"person_id": p["person_id"].to_numpy(), "clinic_id": p["clinic_id"].to_numpy(), "year": YEAR,
                      "week": 10, "service_code": "0101", "count": 1, "fee": p["gross_fee"].to_numpy()})
    s.loc[2, "fee"] = np.inf
    pq.write_table(pa.Table.from_pandas(s, preserve_index=False), folder / "services.parquet")
    f = errors(S.validate_folder(folder, years=[YEAR]), "type: number", "fee")[0]
    assert (f.file, f.row, f.value) == ("services.parquet", 3, float("inf"))
    r = cli("ingest", "--data", str(folder), "--year", str(YEAR), "--out", str(tmp_path / "persons.parquet"))
    assert r.returncode == 1 and "services.parquet" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "persons.parquet").exists()


def test_non_finite_number_in_a_capacity_report_is_an_error(tmp_path):
    d = tmp_path / "capacity_reports"
    d.mkdir()
    t = pd.DataFrame([["012345", "Lægehuset", "Gade 1", "København", "101", "2200", "Solopraksis", "inf", "0"]],
                     columns=list(capacity_reports.ANNEX1_HEADINGS))
    t.to_csv(d / "hovedstaden_2026-01-01_bilag1.csv", index=False)
    report = S.validate_folder(tmp_path, tables="capacity_reports")
    f = errors(report, "type: number")[0]
    assert (f.column, f.row, f.value) == ("Antal udmøntede kapaciteter", 1, "inf")
    assert not capacity_reports.read_capacity_report(d / "hovedstaden_2026-01-01_bilag1.csv").ok


# --------------------------------------------------------------------------
# Outputs are checked before they are written
# --------------------------------------------------------------------------


def test_check_outputs_passes_a_real_run(canonical_fit):
    afit.check_outputs(canonical_fit)


@pytest.mark.parametrize("table, column, value, why", [
    ("clinic_minimums", "minimum_patients", np.iinfo(np.int64).min, "negative"),
    ("clinic_minimums", "minimum_patients_exact", np.inf, "not finite"),
    ("capacity_by_health_council", "capacities_exact", np.nan, "not finite"),
    ("capacity_by_municipality", "need", -np.inf, "not finite"),
    ("coefficients", "estimate", np.nan, "not finite"),
])
def test_check_outputs_rejects_absurd_values(canonical_fit, table, column, value, why):
    tables = {k: v.copy() for k, v in canonical_fit.items()}
    t = tables[table]
    if t[column].dtype.kind == "i" and not np.isfinite(value):
        t[column] = t[column].astype(float)
    t.loc[t.index[0], column] = value
    with pytest.raises(afit.OutputCheckFailed, match=rf"{table}.csv / {column}: 1 row\(s\).*\({why}\)"):
        afit.check_outputs(tables)


def test_write_run_writes_nothing_when_the_outputs_are_absurd(canonical, tmp_path):
    inputs = tables.load_inputs(canonical, YEAR, hashes=False, insurance_group=1)
    run = afit.run_model(inputs, ModelConfig(year=YEAR, planning_year=YEAR + 1))
    run.tables["clinic_minimums"].loc[0, "minimum_patients"] = -5
    with pytest.raises(afit.OutputCheckFailed):
        afit.write_run(run, tmp_path / "run", inputs)
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == []
