"""Typing: a frame as read, typed against its contract (str, Int64, Float64, boolean, datetime64[us]).

In: a frame from :mod:`.reading` (or any frame with the contract's column
names). Out: the typed frame and, per column, the rows whose value could not
be typed (reported as ``type: ...`` failures). Also the column checks:
missing, extra and near-miss column names.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from model.errors import ConfigError
from model.inputs.contracts.decoding import BOOLEAN_RULE, DATE_RULE, INTEGER_TEXT, is_text, parse_booleans, parse_dates, to_text
from model.inputs.contracts.report import ValidationReport, py_value
from model.inputs.contracts.spec import PANDAS_DTYPES, WARNING, field_map, load_schema, severity_of


def coerce_column(s: pd.Series, fdef: Mapping, file: str,
                   report: ValidationReport) -> tuple[pd.Series, np.ndarray | None]:
    """Type one column to the contract's dtype.

    In: the column, its field definition, the file name and the report.
    Out: ``(typed column, mask)``: ``mask`` marks rows whose value could not
    be typed (reported here as ``type: ...``, missing in the typed column),
    ``None`` if there were none. Columns already of the right type pass
    through without a copy (the parquet case)."""
    typ, name = fdef["type"], fdef["name"]
    target = PANDAS_DTYPES[typ]
    sev = severity_of(fdef, "type")
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    dt = s.dtype
    text = is_text(s)

    def fail(bad: np.ndarray, rule: str) -> np.ndarray | None:
        if not bad.any():
            return None
        report.add_rows(file, name, rule, np.flatnonzero(bad), lambda p: s.iloc[p].tolist(), severity=sev)
        return bad

    if typ == "string":
        if text:
            return (s if dt == target else s.astype(target)), None
        if pd.api.types.is_object_dtype(dt):  # mixed cells, e.g. an Excel column with some numbers
            nonstr = s.map(lambda v: v is not None and not isinstance(v, str) and not pd.isna(v)).to_numpy(bool)
            fail(nonstr, "type: string required, got a number - leading zeros may have been lost")
            return to_text(s), None
        first = s.dropna()
        report.add(file, name, f"type: string required, got {str(dt).lower()} - leading zeros may have been lost",
                   value=py_value(first.iloc[0]) if len(first) else None, severity=sev)
        return to_text(s), None

    if typ in ("integer", "number"):
        if pd.api.types.is_bool_dtype(dt):
            report.add(file, name, f"type: {typ} required, got {dt}", severity=sev)
            return s.astype(target), None
        if pd.api.types.is_integer_dtype(dt):
            return (s if dt == target else s.astype(target)), None
        if pd.api.types.is_numeric_dtype(dt):
            num = s.astype("Float64")  # a NaN stored in a float column reads as missing (NA)
            present = num.notna().to_numpy(bool)
        else:
            txt = to_text(s).str.strip()
            present = (txt.notna() & (txt != "")).to_numpy(bool)
            if typ == "integer":
                txt = txt.where(txt.str.match(INTEGER_TEXT.pattern).fillna(False), None)
            num = pd.to_numeric(txt, errors="coerce").astype("Float64")
        # inf, -inf and nan are not numbers the model can use: type errors, in every engine
        with np.errstate(invalid="ignore"):
            nonfinite = ~np.isfinite(num.to_numpy(dtype="float64", na_value=np.nan))
        bad = present & (num.isna().to_numpy(bool) | nonfinite)
        num = num.mask(nonfinite)
        if typ == "integer":
            frac = (num % 1 != 0).fillna(False).to_numpy(bool)
            bad |= frac
            num = num.mask(frac)
            return num.round().astype("Int64"), fail(bad, "type: integer")
        return num, fail(bad, "type: number")

    if typ == "boolean":
        if pd.api.types.is_bool_dtype(dt):
            return (s if dt == target else s.astype(target)), None
        if pd.api.types.is_numeric_dtype(dt):
            out = pd.Series(pd.NA, index=s.index, dtype="boolean")
            num = s.astype("Float64")
            out[(num == 1).fillna(False)] = True
            out[(num == 0).fillna(False)] = False
            present = num.notna().to_numpy(bool)
            bad = present & out.isna().to_numpy(bool)
        else:  # the one decoding of booleans (model.inputs.contracts.decoding): anything else is an error, never false
            out, bad = parse_booleans(to_text(s))
        return out, fail(bad, BOOLEAN_RULE)

    if typ == "date":
        if pd.api.types.is_datetime64_any_dtype(dt):
            out = s.dt.tz_localize(None) if getattr(dt, "tz", None) else s
            return out.astype(target), None
        out, bad = parse_dates(to_text(s))  # ISO and day-first Danish dates alike
        return out.astype(target), fail(bad, DATE_RULE)
    raise ConfigError(f"{name}: unsupported type {typ!r} in the contract")


def check_columns(df: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport) -> list[str]:
    """Report missing, extra and near-miss columns; return the contract's
    columns present in the frame."""
    fields = field_map(schema)
    cols = [str(c) for c in df.columns]
    extra = [c for c in cols if c not in fields] + list(df.attrs.get("extra_columns", []))
    norm = {" ".join(c.split()).casefold(): c for c in extra}
    strict = bool(schema.get("x-no-extra-columns"))
    for name, fdef in fields.items():
        if name in cols:
            continue
        near = norm.get(" ".join(name.split()).casefold())
        if near is not None:
            report.add(file, near, f"column name differs from the contract's {name!r} in spaces or case", value=near)
            extra.remove(near)
        elif not fdef.get("x-optional-column"):
            report.add(file, name, fdef.get("x-missing-message", "column missing"))
    for c in extra:
        if strict:
            report.add(file, c, "extra column: the sheet may hold only the annex's columns", value=c)
        else:
            report.add(file, c, "extra column not in the contract (ignored)", value=c, severity=WARNING)
    return [n for n in fields if n in cols]


def coerce_table(df: pd.DataFrame, name: str, file: str | None = None,
                 report: ValidationReport | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """Type a frame against its contract.

    In: a frame as from :func:`read_table` (or any DataFrame with the
    contract's column names), the contract name, the file name to report.
    Out: ``(typed frame, report)``. The typed frame has exactly the
    contract's columns that are present, in contract order, with dtypes str,
    Int64, Float64, boolean and datetime64[us]; values that cannot be typed
    become missing and are reported (rule ``type: ...``). A string field
    stored as numbers (parquet int64, Excel numeric cells) is reported as
    "leading zeros may have been lost" and converted to text.
    """
    schema = load_schema(name)
    file = file or df.attrs.get("source_file") or schema.get("path") or name
    report = report if report is not None else ValidationReport()
    typed, _ = coerce_frame(df, schema, file, report)
    return typed, report


def coerce_frame(df: pd.DataFrame, schema: Mapping, file: str, report: ValidationReport):
    present = check_columns(df, schema, file, report)
    fields = field_map(schema)
    out: dict[str, pd.Series] = {}
    bad: dict[str, np.ndarray] = {}
    plain = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
    for c in present:
        s = df[c] if plain else df[c].reset_index(drop=True)
        out[c], mask = coerce_column(s, fields[c], file, report)
        if mask is not None:
            bad[c] = mask
    # copy=False: columns already of the right type are passed on, not copied
    typed = pd.DataFrame(out, index=pd.RangeIndex(len(df)), copy=False)
    return typed, bad


def check_required(typed, schema, file, report, bad):
    """Required fields: every missing value of a typed column is a failure (the type failures in ``bad``
    are not counted twice)."""
    for fdef in schema["fields"]:
        name = fdef["name"]
        if name not in typed.columns or not (fdef.get("constraints") or {}).get("required"):
            continue
        miss = typed[name].isna().to_numpy(bool, copy=True)
        if name in bad:
            miss &= ~bad[name]  # already reported as a type failure
        if miss.any():
            report.add_rows(file, name, "required: value missing", np.flatnonzero(miss),
                            lambda p: [None] * len(p), severity=severity_of(fdef, "required"))
