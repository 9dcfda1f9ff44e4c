"""Empty input files to fill with real data: ``python -m model templates --out DIR``.

In: the data contracts (``data_schema/*.schema.yaml``).  Out, in one folder
(:func:`write_templates`):

* one header-only file per table in the contract's format: ``<table>.csv``
  (UTF-8, comma-separated, the header line only) and ``<table>.parquet``
  (no rows, each column stored with the Arrow type of its contract type:
  string -> ``string``, integer -> ``int64``, number -> ``float64``,
  boolean -> ``bool``, date -> ``date32``; :data:`ARROW_TYPES`);
* ``capacity_report_template.xlsx``: the regions' capacity report as the
  reporting guidance prints it, sheet "Bilag 1" (annex 1) and "Bilag 2"
  (annex 2, island doctors) with the exact Danish headings in row 1; the
  code columns (Ydernummer, Praksiskommunekode, Postnummer) formatted as
  text so that leading zeros survive, and Praksisform offered as a list;
* ``README.md``: every table and column explained from the contracts (the
  data dictionary): type, whether required, allowed values, description.

The bytes are the same on every run (fixed workbook timestamps).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model.inputs.capacity_sheets import ANNEX1_HEADINGS, ANNEX2_HEADINGS, SHEET_ANNEX1, SHEET_ANNEX2
from model.inputs.contracts.spec import FOLDER_TABLES, load_schema

#: Arrow type of each contract type in a parquet template.
ARROW_TYPES = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool", "date": "date32"}
#: Name of the capacity-report workbook template.
WORKBOOK = "capacity_report_template.xlsx"
#: Capacity-report headings stored as text (codes with leading zeros).
TEXT_HEADINGS = ("Ydernummer", "Praksiskommunekode", "Postnummer")
#: Empty rows of the workbook template formatted for typing (text codes, numbers).
FORMATTED_ROWS = 2000
_STAMP = "2025-07-10T00:00:00Z"  # the reporting guidance's date: fixed, so the bytes do not change


def table_files() -> list[tuple[str, str]]:
    """``(table, file name)`` of the tabular inputs (every contract but the capacity-report annexes)."""
    out = []
    for name in FOLDER_TABLES:
        schema = load_schema(name)
        if schema["format"] in ("csv", "parquet"):
            out.append((name, schema["path"]))
    return out


def arrow_schema(schema: Mapping[str, Any]):
    """The Arrow schema of a parquet template: one field per contract column, typed by :data:`ARROW_TYPES`."""
    import pyarrow as pa

    return pa.schema([(f["name"], pa.type_for_alias(ARROW_TYPES[f["type"]])) for f in schema["fields"]])


def write_table_template(name: str, folder: Path) -> Path:
    """Write the header-only template of table ``name`` into ``folder``; return its path."""
    schema = load_schema(name)
    path = folder / schema["path"]
    if schema["format"] == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(arrow_schema(schema).empty_table(), path)
    else:
        path.write_text(",".join(f["name"] for f in schema["fields"]) + "\n", encoding="utf-8")
    return path


def _fixed_zip(data: bytes) -> bytes:
    """An xlsx (zip) rewritten with fixed entry dates and document timestamps: the same bytes every run."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + _STAMP.encode() + rb"\g<2>", content)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, content)
    return out.getvalue()


def write_workbook_template(path: Path) -> Path:
    """The capacity-report workbook: sheets "Bilag 1" and "Bilag 2" with the guidance's headings; return ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    forms = next(f for f in load_schema("capacity_report_annex1")["fields"] if f["name"] == "Praksisform")
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "fordelingsmodel (python -m model templates)"
    for title, heads in ((SHEET_ANNEX1, ANNEX1_HEADINGS), (SHEET_ANNEX2, ANNEX2_HEADINGS)):
        ws = wb.create_sheet(title)
        ws.append(list(heads))
        for i, h in enumerate(heads, start=1):
            letter = get_column_letter(i)
            ws.cell(row=1, column=i).font = Font(bold=True)
            ws.column_dimensions[letter].width = max(12, len(h) + 2)
            fmt = "@" if h in TEXT_HEADINGS else ("0" if h == "Antal tilmeldte patienter" else
                                                  ("0.##" if h.startswith("Antal") else None))
            if fmt:
                for r in range(2, FORMATTED_ROWS + 2):
                    ws.cell(row=r, column=i).number_format = fmt
            if h == "Praksisform":
                dv = DataValidation(type="list", formula1='"' + ",".join(forms["constraints"]["enum"]) + '"',
                                    allow_blank=True)
                dv.add(f"{letter}2:{letter}{FORMATTED_ROWS + 1}")
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_fixed_zip(buf.getvalue()))
    return path


def _constraint_text(fdef: Mapping[str, Any]) -> str:
    c = dict(fdef.get("constraints") or {})
    parts = []
    if "enum" in c:
        parts.append("one of " + ", ".join(f"`{v}`" for v in c["enum"]))
    if "pattern" in c:
        parts.append(f"pattern `{c['pattern']}`")
    for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in c:
            parts.append(f"{sym} {c[key]}")
    if c.get("unique"):
        parts.append("unique")
    return "; ".join(parts)


def _cell(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def readme_text() -> str:
    """The templates' README: how to fill them, then every table and column from the contracts."""
    lines = [
        "# Templates for real data",
        "",
        "Written by `python -m model templates`. Each file is empty but for its header and has the columns, names",
        "and types the model's data contracts (`data_schema/`) ask for. Fill them from the registers (the extract on",
        "Statistics Denmark's research servers; see each table's description), put them in one folder and check it:",
        "",
        "    python -m model validate DATA_FOLDER --year 2025",
        "",
        "Parquet files keep the types shown below (write integers as integers, codes as text); CSV files are",
        "UTF-8 with a comma between columns (Danish Excel's semicolons and Windows-1252 are read too, with a warning).",
        f"The regions' capacity reports: copy `{WORKBOOK}` to `capacity_reports/<region>_<YYYY-MM-DD>.xlsx`",
        "(e.g. `hovedstaden_2026-01-01.xlsx`), one row per provider number on \"Bilag 1\", island doctors also on",
        "\"Bilag 2\"; add no other columns or sheets. `examples/small/` in the repository is a filled example",
        "(synthetic).",
        "",
    ]
    for name in FOLDER_TABLES:
        schema = load_schema(name)
        where = WORKBOOK + (f' (sheet "{SHEET_ANNEX1}")' if name.endswith("annex1") else f' (sheet "{SHEET_ANNEX2}")') \
            if schema["format"] == "xlsx" else schema["path"]
        lines += [f"## {where}: {schema.get('title', name)}", "",
                  ("Optional: the model runs without it." if schema.get("x-optional") else "Required.")
                  + f" Contract: `data_schema/{name}.schema.yaml`.", "",
                  _cell(schema.get("description", "")), "",
                  "| column | type | required | allowed values | description |",
                  "|---|---|---|---|---|"]
        for f in schema["fields"]:
            typ = f["type"] + (f" (Arrow `{ARROW_TYPES[f['type']]}`)" if schema["format"] == "parquet" else "")
            req = "yes" if (f.get("constraints") or {}).get("required") else "no"
            desc = _cell(f.get("title", "")) + (": " + _cell(f.get("description")) if f.get("description") else "")
            lines.append(f"| `{f['name']}` | {typ} | {req} | {_cell(_constraint_text(f))} | {desc} |")
        lines.append("")
    return "\n".join(lines)


def write_templates(folder: str | Path) -> list[Path]:
    """Write every template and the README into ``folder`` (which must exist); return the paths written.

    The caller guards the folder (:func:`model.artifacts.guard_output`, :class:`model.artifacts.AtomicFolder`).
    """
    folder = Path(folder)
    paths = [write_table_template(name, folder) for name, _ in table_files()]
    paths.append(write_workbook_template(folder / WORKBOOK))
    readme = folder / "README.md"
    readme.write_text(readme_text() + "\n", encoding="utf-8")
    paths.append(readme)
    return paths
