"""Arrow and parquet plumbing: person IDs as strings, dictionary columns, the two file schemas
and a background writer that keeps the bytes deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_ROW_GROUP_SIZE = 1 << 20
_COMPRESSION = "zstd"
_COMPRESSION_LEVEL = 1
_INT8 = pa.int8()  # the default index type of dictionary columns


def _unique_ids(rng: np.random.Generator, n: int, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct random integers below ``space`` in ascending order, and a random rank for each of
    ``n`` items (item i gets ``ids[rank[i]]``)."""
    avg = max(2, int(0.9 * space / (n + 1)))
    ids = np.cumsum(rng.integers(1, 2 * avg, size=n, dtype=np.int64))
    if ids[-1] >= space:  # pragma: no cover - practically impossible with a 10 % margin
        ids = np.arange(n, dtype=np.int64) * (space // max(n, 1))
    rank = rng.permutation(n).astype(np.int64)
    return ids, rank


def _string_array(ids: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal strings of non-negative integers, built without Python loops."""
    rest = np.array(ids, dtype=np.int64)
    n = len(rest)
    digits = np.empty((n, width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        digits[:, j] = rest % 10
        rest //= 10
    digits += 48
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes()))


def _dict_array(codes: np.ndarray, values: Iterable[str], index_type: pa.DataType = _INT8) -> pa.DictionaryArray:
    """Dictionary array of ``codes`` (indices into ``values``) with string ``values``."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=index_type), pa.array(list(values), type=pa.string()))


def _person_schema() -> pa.Schema:
    """Arrow schema of ``persons.parquet`` (column order of :data:`PERSON_COLUMNS`)."""
    d8 = pa.dictionary(pa.int8(), pa.string())
    return pa.schema([
        ("person_id", pa.string()), ("year", pa.int16()), ("municipality_code", d8), ("sex", pa.int8()),
        ("age", pa.int16()), ("civil_status", d8), ("origin_group", d8), ("insurance_group", pa.int8()),
        ("labour_status", d8), ("somatic_diseases", pa.int8()), ("psychiatric", pa.bool_()),
        ("psychiatric_extended", pa.bool_()), ("cancer_5y", pa.bool_()), ("cancer_10y", pa.bool_()),
        ("clinic_id", pa.dictionary(pa.int16(), pa.string())), ("gross_fee", pa.float64()),
        ("chronic_fee", pa.float64()), ("local_services_fee", pa.float64()), ("contact_fee", pa.float64()),
        ("days_resident", pa.int16()),
    ])


def _service_schema() -> pa.Schema:
    """Arrow schema of ``services.parquet`` (column order of :data:`SERVICE_COLUMNS`)."""
    return pa.schema([
        ("person_id", pa.string()), ("clinic_id", pa.dictionary(pa.int16(), pa.string())), ("year", pa.int16()),
        ("week", pa.int8()), ("service_code", pa.dictionary(pa.int8(), pa.string())), ("count", pa.int16()),
        ("fee", pa.float64()),
    ])


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A parquet writer at ``path``: zstd level 1, dictionary columns encoded, statistics of ``year``."""
    dict_cols = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return pq.ParquetWriter(str(path), schema, compression=_COMPRESSION, compression_level=_COMPRESSION_LEVEL,
                            use_dictionary=dict_cols, write_statistics=["year"], store_schema=True)


class _BackgroundWriter:
    """Writes tables to a parquet writer in one background thread, in submission order.

    At most one table waits while the next is computed (double buffering), so
    writing overlaps the numpy work; the bytes written are the same as with
    synchronous writes.
    """

    def __init__(self, writer: pq.ParquetWriter) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.writer = writer
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending = None

    def write(self, table: pa.Table) -> None:
        """Queue ``table`` for writing (waits for the previous one first)."""
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self.writer.write_table, table, row_group_size=_ROW_GROUP_SIZE)

    def close(self) -> None:
        """Wait for the last table, stop the thread and close the file."""
        if self._pending is not None:
            self._pending.result()
        self._pool.shutdown(wait=True)
        self.writer.close()
