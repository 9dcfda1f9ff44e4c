"""Years of persons: which years a persons file holds, and one year's columns as arrays.

Reads only the columns the model uses (Arrow, one pass) and hands them on as
``{column: array}`` or ``{column: (codes, values)}`` for text columns; the
model's reduction to atoms is :func:`model.core.cells.build_year`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.config import ENGINE_OPTIONAL_COLUMNS, ENGINE_PERSON_COLUMNS, TEXT_PERSON_COLUMNS
from model.errors import InputError
from model.inputs.readers import check_parquet_columns


def panel_years(path: str | Path) -> list[int]:
    """The years present in a persons.parquet file (from row-group statistics where they are exact)."""
    f = pq.ParquetFile(path)
    md = f.metadata
    yi = md.schema.to_arrow_schema().get_field_index("year")
    years: set[int] = set()
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(yi).statistics
        if st is not None and st.has_min_max and st.min == st.max:
            years.add(int(st.min))
        else:
            years.update(int(y) for y in pc.unique(f.read_row_group(i, columns=["year"]).column("year")).to_pylist())
    return sorted(years)


def _read_table(path: Path, year: int) -> pa.Table:
    """The year's rows of persons.parquet (model columns, strings dictionary-encoded), row groups chosen by statistics."""
    f = pq.ParquetFile(path, read_dictionary=list(TEXT_PERSON_COLUMNS))
    md = f.metadata
    yi = md.schema.to_arrow_schema().get_field_index("year")
    groups, pure = [], True
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(yi).statistics
        if st is None or not st.has_min_max:
            groups.append(i)
            pure = False
        elif st.min <= year <= st.max:
            groups.append(i)
            pure = pure and st.min == st.max
    present = set(md.schema.to_arrow_schema().names)
    cols = [c for c in ENGINE_PERSON_COLUMNS if c in present or c not in ENGINE_OPTIONAL_COLUMNS] + ([] if pure else ["year"])
    # how the file stores its columns: duplicates, missing columns, numbers stored as text (named, not a KeyError)
    check_parquet_columns(path, "persons", cols).raise_if_errors()
    t = f.read_row_groups(groups, columns=cols, use_threads=True) if groups else None
    if t is not None and not pure:
        t = t.filter(pc.equal(t["year"], year)).drop_columns(["year"])
    if t is None or t.num_rows == 0:
        raise InputError(f"{path}: no persons for year {year}; years present: {panel_years(path)}")
    return t


def _table_columns(t: pa.Table, insurance_group: int) -> dict[str, Any]:
    """Arrays of the insurance group's persons; ``"_residents"``: (codes, values) of every group's municipality."""
    keep = t.column("insurance_group").to_numpy() == insurance_group
    all_kept = bool(keep.all())
    t = t.unify_dictionaries()
    cols: dict[str, Any] = {}
    for c in ENGINE_PERSON_COLUMNS:
        if c == "insurance_group" or c not in t.column_names:
            continue
        col = t.column(c)
        if c in TEXT_PERSON_COLUMNS:
            if not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            if arr.null_count:  # a missing value (e.g. no clinic on record) has code -1
                codes = np.where(arr.is_null().to_numpy(zero_copy_only=False), -1,
                                 pc.fill_null(arr.indices, 0).to_numpy(zero_copy_only=False)).astype(np.int64)
            else:
                codes = arr.indices.to_numpy(zero_copy_only=False)
            cols[c] = (codes[keep] if not all_kept else codes, arr.dictionary.to_pylist())
            if c == "municipality_code":
                cols["_residents"] = (codes, cols[c][1])
        else:
            a = col.to_numpy()
            cols[c] = a[keep] if not all_kept else a
    if not keep.any():
        raise InputError(f"no persons in insurance group {insurance_group}")
    cols["chronic"] = np.asarray(cols["chronic_fee"], dtype=np.float64) > 0
    return cols


# =============================================================================
# For the notebook and the annual report: the summary table and the figure
# =============================================================================


