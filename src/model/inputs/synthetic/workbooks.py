"""File formats of the capacity reports: deterministic xlsx workbooks and Danish-Excel CSV pairs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.inputs.synthetic.clinics import PRACTICE_FORM_DANISH
from model.inputs.synthetic.population import _Context


def _deterministic_xlsx(data: bytes, stamp: str) -> bytes:
    """Rewrite an xlsx (zip) with fixed entry dates and fixed document timestamps."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            elif info.filename.startswith("xl/worksheets/sheet") and b"<dimension" not in content:
                content = _with_dimension(content)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, content)
    return out.getvalue()


def _with_dimension(sheet: bytes) -> bytes:
    """A worksheet's XML with the ``<dimension ref="A1:..."/>`` element Excel writes before the rows.

    openpyxl's write-only mode leaves it out; a reader then has to parse the whole sheet to learn its
    size before reading it (openpyxl's read-only mode does), twice the work for every reader."""
    from openpyxl.utils import column_index_from_string, get_column_letter

    rows = [int(r) for r in re.findall(rb'<row r="(\d+)"', sheet)]
    cols = [column_index_from_string(c.decode()) for c in re.findall(rb'<c r="([A-Z]+)\d+"', sheet)]
    if not rows or not cols:
        return sheet

    ref = f"A1:{get_column_letter(max(cols))}{max(rows)}".encode()
    dim = b'<dimension ref="' + ref + b'" />'
    m = re.search(rb"</sheetPr>|<sheetPr[^>]*/>", sheet)
    at = m.end() if m else re.search(rb"<worksheet[^>]*>", sheet).end()
    return sheet[:at] + dim + sheet[at:]


_HEADS1 = ["Ydernummer", "Praksisbetegnelse", "Adresse", "Praksiskommune", "Praksiskommunekode", "Postnummer",
           "Praksisform", "Antal udmøntede kapaciteter", "Antal ledige kapaciteter"]
_HEADS2 = _HEADS1 + ["Antal tilmeldte patienter"]
_TEXT_COLS = frozenset({0, 4, 5})  # Ydernummer, Praksiskommunekode, Postnummer: text, so leading zeros survive


def _report_workbook(rows1: list[list[Any]], rows2: list[list[Any]], report_date: dt.date,
                     heads1: list[str] | None = None, heads2: list[str] | None = None,
                     numeric_id_rows: Iterable[int] = (), extra_sheet: tuple[str, list[list[Any]]] | None = None) -> bytes:
    """Bytes of one capacity-report workbook (sheets 'Bilag 1' and 'Bilag 2'), deterministic.

    ``numeric_id_rows``: 0-based data rows of annex 1 whose Ydernummer is written as a number (as
    Excel does to a column not formatted as text); ``extra_sheet``: (title, rows) of a further sheet.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    heads1 = _HEADS1 if heads1 is None else heads1
    heads2 = _HEADS2 if heads2 is None else heads2
    numeric_ids = set(numeric_id_rows)
    iso = report_date.isoformat()
    wb = Workbook(write_only=True)
    wb.properties.creator = "model.synthetic (SYNTHETIC DATA)"
    wb.properties.created = dt.datetime(report_date.year, report_date.month, report_date.day)
    ws1 = wb.create_sheet("Bilag 1")
    ws2 = wb.create_sheet("Bilag 2")
    for ws, heads in ((ws1, heads1), (ws2, heads2)):
        for i, h in enumerate(heads):
            ws.column_dimensions[get_column_letter(i + 1)].width = max(12, len(h) + 2)
        ws.append(heads)

    def cells(ws, values, numeric_id=False):
        out = []
        for i, v in enumerate(values):
            if i == 0 and numeric_id:
                out.append(WriteOnlyCell(ws, value=int(v)))
                continue
            c = WriteOnlyCell(ws, value=v)
            if i in _TEXT_COLS:
                c.number_format = "@"
            out.append(c)
        return out

    for k, row in enumerate(rows1):
        ws1.append(cells(ws1, row, k in numeric_ids))
    for row in rows2:
        ws2.append(cells(ws2, row))
    if extra_sheet is not None:
        ws3 = wb.create_sheet(extra_sheet[0])
        for row in extra_sheet[1]:
            ws3.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_xlsx(buf.getvalue(), f"{iso}T00:00:00Z")


def _num(x: float):
    """``x`` as an int when it is whole (as a region types it), else as a float."""
    return int(x) if float(x).is_integer() else float(x)


def _report_rows(plan: pd.DataFrame, ctx: _Context, sel: np.ndarray, allocated: np.ndarray, vacant: np.ndarray,
                 listed: np.ndarray) -> tuple[list[list[Any]], list[list[Any]]]:
    """Annex 1 and annex 2 rows of the clinics ``sel`` (sorted by provider number)."""
    cols = {k: plan[k].tolist() for k in ("clinic_id", "name", "address", "muni", "municipality_code", "postcode",
                                           "practice_form", "island_doctor")}
    sel = sel[np.argsort(plan["clinic_id"].to_numpy()[sel], kind="stable")]
    rows1, rows2 = [], []
    for c in sel:
        row = [cols["clinic_id"][c], cols["name"][c], cols["address"][c], ctx.names[cols["muni"][c]],
               cols["municipality_code"][c], cols["postcode"][c], PRACTICE_FORM_DANISH[cols["practice_form"][c]],
               _num(allocated[c]), _num(vacant[c])]
        rows1.append(row)
        if cols["island_doctor"][c]:
            rows2.append(row + [int(listed[c])])
    return rows1, rows2


def _write_csv_pair(path1: Path, rows1: list[list[Any]], rows2: list[list[Any]]) -> Path:
    """Annex 1 and 2 as Danish Excel writes 'CSV (semikolonsepareret)': ';', CRLF, Windows-1252."""
    path2 = path1.with_name(path1.name.replace("_bilag1", "_bilag2"))
    for p, heads, rows in ((path1, _HEADS1, rows1), (path2, _HEADS2, rows2)):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        w.writerow(heads)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        p.write_bytes(buf.getvalue().encode("cp1252"))
    return path1
