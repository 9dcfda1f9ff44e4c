"""Templates for real data and the shipped example folder (issue 15).

``python -m model templates --out DIR`` writes a header-only, typed file per contract of ``data_schema/``, the
regions' capacity-report workbook and a README of every column; ``examples/small`` (shipped) validates and fits.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model import cli
from model.inputs.capacity_sheets import ANNEX1_HEADINGS, ANNEX2_HEADINGS
from model.inputs.contracts import validate_folder
from model.inputs.contracts.reading import arrow_kind
from model.inputs.contracts.spec import FOLDER_TABLES, load_schema
from model.inputs.templates import WORKBOOK

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "small"
KIND = {"string": "text", "integer": "int", "number": "float", "boolean": "bool", "date": "date"}


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("t") / "templates"
    assert cli.main(["templates", "--out", str(out)]) == 0
    return out


def test_one_typed_header_only_file_per_table(templates):
    tabular = [n for n in FOLDER_TABLES if load_schema(n)["format"] in ("csv", "parquet")]
    assert {p.name for p in templates.iterdir()} == {load_schema(n)["path"] for n in tabular} | {WORKBOOK, "README.md"}
    for name in tabular:
        schema = load_schema(name)
        path = templates / schema["path"]
        names = [f["name"] for f in schema["fields"]]
        if schema["format"] == "csv":
            rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
            assert rows == [names], name
        else:
            t = pq.read_table(path)
            assert t.num_rows == 0 and t.schema.names == names, name
            for f in schema["fields"]:
                assert arrow_kind(t.schema.field(f["name"]).type) == KIND[f["type"]], (name, f["name"])
    persons = pq.read_schema(templates / "persons.parquet")
    assert persons.field("year").type == pa.int64() and persons.field("person_id").type == pa.string()
    assert persons.field("psychiatric").type == pa.bool_() and persons.field("gross_fee").type == pa.float64()


def test_the_capacity_report_workbook_is_the_guidance_template(templates):
    from openpyxl import load_workbook

    wb = load_workbook(templates / WORKBOOK)
    assert wb.sheetnames == ["Bilag 1", "Bilag 2"]
    assert tuple(c.value for c in wb["Bilag 1"][1]) == ANNEX1_HEADINGS
    assert tuple(c.value for c in wb["Bilag 2"][1]) == ANNEX2_HEADINGS
    ws = wb["Bilag 1"]
    assert ws.max_row == 1 or all(c.value is None for row in ws.iter_rows(min_row=2) for c in row)
    # codes as text (leading zeros survive typing), Praksisform offered as the guidance's list
    for col in ("A", "E", "F"):
        assert ws[f"{col}2"].number_format == "@"
    forms = ws.data_validations.dataValidation[0].formula1
    assert "Solopraksis" in forms and "Udbudsklinik" in forms


def test_the_readme_explains_every_column(templates):
    text = (templates / "README.md").read_text(encoding="utf-8")
    for name in FOLDER_TABLES:
        for f in load_schema(name)["fields"]:
            assert f"| `{f['name']}` |" in text, (name, f["name"])
    assert "| `sex` | integer (Arrow `int64`) | yes | one of `1`, `2` |" in text
    assert "capacity_reports/<region>_<YYYY-MM-DD>.xlsx" in text


def test_templates_are_the_same_bytes_and_never_overwrite(templates, tmp_path, capsys):
    again = tmp_path / "again"
    assert cli.main(["templates", "--out", str(again)]) == 0

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    assert {p.name: digest(p) for p in templates.iterdir()} == {p.name: digest(p) for p in again.iterdir()}
    (again / "persons.parquet").write_bytes(b"filled in")
    capsys.readouterr()
    assert cli.main(["templates", "--out", str(again)]) == 3
    assert "it would be replaced: give a new or empty folder, or --force" in capsys.readouterr().err
    assert (again / "persons.parquet").read_bytes() == b"filled in"
    assert cli.main(["templates", "--out", str(again), "--force"]) == 0
    assert digest(again / "persons.parquet") == digest(templates / "persons.parquet")


def test_templates_filled_with_the_example_validate_and_fit(templates, tmp_path, capsys):
    """The example's citizens written in the template's types: the model takes them and gives the same fit."""
    import shutil

    filled = tmp_path / "filled"
    shutil.copytree(EXAMPLE, filled)
    target = pq.read_schema(templates / "persons.parquet")
    t = pq.read_table(EXAMPLE / "persons.parquet")
    cols = {n: (t[n].cast(pa.string()) if pa.types.is_dictionary(t[n].type) else t[n]) for n in target.names}
    pq.write_table(pa.table(cols).cast(target), filled / "persons.parquet")
    assert validate_folder(filled, years=[2025], planning_year=2026).ok
    assert cli.main(["fit", "--data", str(filled), "--out", str(tmp_path / "run"), "--no-validate"]) == 0
    assert cli.main(["fit", "--data", str(EXAMPLE), "--out", str(tmp_path / "run0"), "--no-validate"]) == 0
    a = (tmp_path / "run" / "capacity_by_health_council.csv").read_text(encoding="utf-8")
    assert a == (tmp_path / "run0" / "capacity_by_health_council.csv").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# the shipped example


def test_the_example_is_small_and_synthetic():
    size = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file())
    assert size < 600_000, size
    assert (EXAMPLE / "synthetic_manifest.json").is_file()
    assert pq.read_metadata(EXAMPLE / "persons.parquet").num_rows < 10_000


def test_the_example_validates_and_fits(tmp_path, capsys):
    assert cli.main(["validate", str(EXAMPLE), "--year", "2025"]) == 0
    assert "OK: 0 errors" in capsys.readouterr().out
    assert cli.main(["fit", "--data", str(EXAMPLE), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "in 17 health councils" in out
    import pandas as pd

    hc = pd.read_csv(tmp_path / "run" / "capacity_by_health_council.csv")
    assert len(hc) == 17 and hc["capacities"].sum() > 3000
