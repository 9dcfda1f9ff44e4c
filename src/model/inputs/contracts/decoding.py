"""Decoding: how every input file's bytes and text become values, for validation and the model alike.

Pure functions that need no contract, used by the contracts' reading and
typing (:mod:`model.inputs.contracts.reading`, :mod:`.coercion`), by the
typed readers of :mod:`model.inputs.readers` and by the capacity-report
sheets (:mod:`model.inputs.capacity_sheets`): what validation accepts is what
the model reads, value for value.

* **Encoding**: UTF-8; a UTF-8 byte-order mark is dropped; UTF-16 with a
  byte-order mark is decoded; anything else that is not UTF-8 is read as
  Windows-1252 (Danish Excel's "CSV (semikolonsepareret)"), and bytes
  Windows-1252 leaves undefined as Latin-1 (:func:`decode_bytes`).
* **Delimiter**: ``,``, ``;`` or tab, whichever the header line holds most
  of (a tie goes to ``,``) (:func:`sniff_delimiter`).
* **Decimal mark**: in ``number`` columns a decimal comma ("1,5", "1.234,5")
  is read as a number; "1,5" in a comma-separated file must then be quoted
  (:func:`danish_conventions`, from the contract).
* **Booleans**: true/false, 1/0, yes/no, ja/nej and Danish Excel's
  SAND/FALSK (*sand* = true, *falsk* = false), in any case
  (:data:`TRUE_TOKENS`, :data:`FALSE_TOKENS`). Anything else is a validation
  error (:data:`BOOLEAN_RULE`), never read as false.
* **Dates**: ISO ``YYYY-MM-DD`` and the Danish day-first forms
  ``DD-MM-YYYY``, ``DD.MM.YYYY`` and ``DD/MM/YYYY`` are parsed to the same
  date everywhere (:func:`parse_dates`). The day-first forms are always
  read day first (Danish convention; "03-04-2020" is 3 April 2020, never
  4 March); a day above 31 or a month above 12 is an error
  (:data:`DATE_RULE`). Nothing else is accepted.
* **Numbers** must be finite: ``inf``, ``-inf`` and ``nan`` are type errors
  in every number and integer column (:data:`FINITE_NOTE`).
* **IDs** (contract type ``string``) are text as written: "00123" stays
  "00123"; cells Excel stored as numbers become text without a trailing
  ".0" (:func:`to_text`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute

#: Text read as true / false in a boolean column (compared in lower case).
TRUE_TOKENS: frozenset[str] = frozenset({"true", "1", "yes", "ja", "sand"})
FALSE_TOKENS: frozenset[str] = frozenset({"false", "0", "no", "nej", "falsk"})
BOOLEAN_RULE = "type: boolean (true/false, 1/0, yes/no, ja/nej or SAND/FALSK)"
DATE_RULE = "type: date (YYYY-MM-DD, or day first DD-MM-YYYY / DD.MM.YYYY / DD/MM/YYYY)"
#: Appended to the type rule of number/integer columns: why inf/nan fail.
FINITE_NOTE = "finite; inf, -inf and nan are not allowed"

DANISH_DATE = re.compile(r"^\s*(\d{1,2})[-./](\d{1,2})[-./](\d{4})\s*$")


# --------------------------------------------------------------------------
# Bytes -> text
# --------------------------------------------------------------------------


def decode_bytes(raw: bytes) -> tuple[str, list[str]]:
    """Decode a text file's bytes.

    In: the raw bytes. Out: ``(text, notes)``; ``notes`` names what was not
    plain UTF-8 ("a UTF-8 byte-order mark (BOM)", "UTF-16 encoding",
    "Windows-1252 encoding (not UTF-8)", "Latin-1 encoding (not UTF-8)").
    Never raises for any bytes.
    """
    notes: list[str] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        notes.append("a UTF-8 byte-order mark (BOM)")
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append("UTF-16 encoding")
        return raw.decode("utf-16"), notes
    try:
        return raw.decode("utf-8"), notes
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
            notes.append("Windows-1252 encoding (not UTF-8)")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            notes.append("Latin-1 encoding (not UTF-8)")
        return text, notes


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: ``,``, ``;`` or tab, whichever
    occurs most (a tie, e.g. a one-column header, goes to ``,``)."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: (counts[s], s == ","))


# --------------------------------------------------------------------------
# Text -> values
# --------------------------------------------------------------------------


def parse_booleans(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans from text.

    In: a text column (missing values allowed). Out: ``(values, bad)``: a
    nullable ``boolean`` column (missing where the text is missing or not a
    boolean) and a numpy mask of present values that are not one of
    :data:`TRUE_TOKENS` / :data:`FALSE_TOKENS` (case-insensitive, spaces
    around ignored).
    """
    low = text.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[low.isin(TRUE_TOKENS).to_numpy(bool)] = True
    out[low.isin(FALSE_TOKENS).to_numpy(bool)] = False
    present = (low.notna() & (low != "")).to_numpy(bool)
    return out, present & out.isna().to_numpy(bool)


def parse_dates(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates from text, ISO or Danish day first, to the same value.

    In: a text column. Out: ``(values, bad)``: ``datetime64[us]`` (NaT where
    missing or invalid) and a numpy mask of present values that are not a
    valid date in one of the accepted forms (see module docstring).
    ``"2021-03-04"``, ``"04-03-2021"``, ``"4.3.2021"`` and ``"04/03/2021"``
    all give 4 March 2021.
    """
    txt = text.astype("str").str.strip()
    present = (txt.notna() & (txt != "")).to_numpy(bool)
    m = txt.str.extract(DANISH_DATE)
    dmy = m[0].notna().to_numpy(bool)
    iso = txt.copy()
    if dmy.any():
        iso[dmy] = m.loc[dmy, 2] + "-" + m.loc[dmy, 1].str.zfill(2) + "-" + m.loc[dmy, 0].str.zfill(2)
    out = pd.to_datetime(iso, format="ISO8601", errors="coerce").astype("datetime64[us]")
    return out, present & out.isna().to_numpy(bool)


DANISH_NUMBER = re.compile(r"^\s*[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?\s*$")
DANISH_THOUSANDS_INT = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})+\s*$")
INTEGER_TEXT = re.compile(r"^\s*[-+]?\d+(\.0)?\s*$")


def danish_conventions(df: pd.DataFrame, schema: Mapping, danish: bool) -> list[str]:
    """Rewrite Danish-Excel number text to the contract's form, in place, for
    number/integer fields, and note day-first dates (typed by
    :func:`model.inputs.contracts.decoding.parse_dates`, which reads them in every file
    format); returns notes on what was found."""
    notes: list[str] = []
    for fdef in schema["fields"]:
        name, typ = fdef["name"], fdef["type"]
        if name not in df.columns or typ not in ("number", "integer", "date"):
            continue
        s = df[name]
        if typ == "number":
            has_comma = s.str.contains(",", regex=False).fillna(False)
            if has_comma.any():
                ok = has_comma & s.str.match(DANISH_NUMBER).fillna(False)
                plain = s[ok].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
                df.loc[ok, name] = plain.str.strip()
                if ok.any():
                    notes.append("decimal commas")
        elif typ == "integer" and danish:
            ok = s.str.match(DANISH_THOUSANDS_INT).fillna(False)
            if ok.any():
                df.loc[ok, name] = s[ok].str.replace(".", "", regex=False).str.strip()
                notes.append("thousands separators")
        elif typ == "date":  # noted only: parse_dates reads day-first dates (failures show the text)
            if s.str.match(DANISH_DATE).fillna(False).any():
                notes.append("dates written day-month-year")
    return list(dict.fromkeys(notes))


# --------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------


def num_text(v: Any) -> Any:
    """A cell as text: numbers without a trailing .0 (12345.0 -> "12345")."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def to_text(s: pd.Series) -> pd.Series:
    """Any column as a "str" column. String and numeric columns are
    converted in Arrow (integral floats become "12345", not "12345.0");
    only object columns (mixed Excel cells) go value by value."""
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
        return s.astype("str")
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        arr = pyarrow.compute.cast(pyarrow.array(s, from_pandas=True), pyarrow.string())
        return pd.Series(pd.array(arr, dtype=TEXT_DTYPE), index=s.index, name=s.name)
    return s.astype(object).map(num_text).astype("str")


def is_text(s: pd.Series) -> bool:
    if s.dtype == object:
        vals = s.dropna()
        return bool(vals.map(lambda v: isinstance(v, str)).all()) if len(vals) else True
    return pd.api.types.is_string_dtype(s.dtype)

