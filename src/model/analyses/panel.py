"""A panel of years ready for the model: read (:mod:`model.inputs.panel`) and reduced to atoms
(:mod:`model.core.cells`), cached per year.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from model.analyses import year_cache
from model.artifacts import sha256_file
from model.core.cells import YearData, _build_year
from model.errors import InputError
from model.inputs.panel import _read_table, _table_columns, panel_years
from model.inputs.tables import INPUT_FILES, price_factor, read_clinics, read_island_reports, read_municipalities, read_projection


def read_year(data_dir: str | Path, year: int, price_year: int | None = None, insurance_group: int = 1,
              hashes: bool = False, table: pa.Table | None = None, planning_year: int | None = None,
              cache: bool = True, table_from_file: bool = False) -> YearData:
    """Read one year of a data folder into a :class:`YearData`, fees at ``price_year``'s price level.

    The persons are read as Arrow arrays (only the model's columns, one pass) and reduced to atoms
    directly, without a pandas frame of persons. ``hashes``: record each input file's sha256 in
    ``files`` (the run's manifest). ``planning_year`` (default ``year + 1``) chooses the island-doctor
    reports that can cover its 1 January.

    ``cache``: keep the prepared year in the user's cache (:mod:`model.analyses.year_cache`), keyed by
    the content of every file it was built from, the arguments and the package's code; a later call
    with the same key loads it (a fraction of a second at national scale) instead of reading the
    persons again. ``FORDELINGSMODEL_NO_CACHE=1`` turns it off. A ``table`` handed in is cached only when
    ``table_from_file`` says it is the year's persons as read from the folder's ``persons.parquet`` (e.g.
    read ahead by :class:`Panel`); any other table is not.
    """
    d = Path(data_dir)
    missing = [f for f in INPUT_FILES if not (d / f).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing input file(s): {', '.join(missing)}")
    plan = int(year) + 1 if planning_year is None else int(planning_year)
    cacheable = cache and (table is None or table_from_file)
    key = year_cache.key(d, int(year), price_year, insurance_group, plan) if cacheable else None
    if key is not None:
        yd = year_cache.load(key)
        if yd is not None and yd.year != int(year):
            yd = None
        if yd is not None:
            if hashes:
                yd.files = {f: sha256_file(d / f) for f in INPUT_FILES}
            return yd
    factor = price_factor(d, year, price_year)
    t = table if table is not None else _read_table(d / "persons.parquet", int(year))
    cols = _table_columns(t, insurance_group)
    del t
    residents = cols.pop("_residents")
    files = {f: sha256_file(d / f) for f in INPUT_FILES} if hashes else {}
    clinics = read_clinics(d / "clinics.csv")
    yd = _build_year(year, factor, cols, read_municipalities(d / "municipalities.csv"), clinics,
                     read_projection(d / "population_projection.csv"), files, residents=residents,
                     island_reports=read_island_reports(d, clinics, planning_year=plan))
    if key is not None:
        year_cache.save(key, yd)
    return yd


class Panel:
    """The years of one data folder, each read once (fees at ``price_year``'s price level) and kept.

    ``Panel(data_dir, years)`` reads lazily; :meth:`get` returns a year,
    reading the next requested years in a background thread while the
    caller works on the current one.  ``price_year`` defaults to the latest
    year of ``years``.
    """

    def __init__(self, data_dir: str | Path, years: Iterable[int] | None = None, price_year: int | None = None,
                 insurance_group: int = 1, prefetch: bool = True):
        self.data_dir = Path(data_dir)
        all_years = panel_years(self.data_dir / "persons.parquet")
        self.years = sorted(int(y) for y in (years if years is not None else all_years))
        absent = sorted(set(self.years) - set(all_years))
        if absent:
            raise InputError(f"{self.data_dir / 'persons.parquet'}: no persons for year(s) {absent}; years present: {all_years}")
        self.price_year = int(price_year) if price_year is not None else max(self.years)
        self.insurance_group = insurance_group
        self.prefetch = prefetch
        self._data: dict[int, YearData] = {}
        self._pending: dict[int, Any] = {}
        self._pool = ThreadPoolExecutor(max_workers=1) if prefetch else None
        self.files = {f: sha256_file(self.data_dir / f) for f in INPUT_FILES if (self.data_dir / f).exists()}
        if (self.data_dir / "fee_index.csv").exists():
            self.files["fee_index.csv"] = sha256_file(self.data_dir / "fee_index.csv")
        self.read_seconds = 0.0

    @classmethod
    def from_years(cls, data: dict[int, YearData], price_year: int | None = None) -> Panel:
        """A panel of years already in memory (e.g. built with :func:`year_from_inputs`)."""
        self = cls.__new__(cls)
        self.data_dir = None
        self.years = sorted(int(y) for y in data)
        self.price_year = int(price_year) if price_year is not None else max(self.years)
        self.insurance_group = 1
        self.prefetch = False
        self._data = {int(y): v for y, v in data.items()}
        self._pending = {}
        self._pool = None
        self.files = {}
        for v in data.values():
            self.files.update(v.files)
        self.read_seconds = 0.0
        return self

    def want(self, years: Iterable[int]) -> None:
        """Start reading these years in the background (one at a time, in order)."""
        if self._pool is None:
            return
        for y in years:
            y = int(y)
            if y not in self._data and y not in self._pending and not self._cached(y):
                self._pending[y] = self._pool.submit(_read_table, self.data_dir / "persons.parquet", y)

    def _cached(self, year: int) -> bool:
        """True when the prepared year is in the user's cache (nothing to prefetch)."""
        key = year_cache.key(self.data_dir, year, self.price_year, self.insurance_group, year + 1)
        return key is not None and year_cache.exists(key)

    def get(self, year: int) -> YearData:
        year = int(year)
        if year not in self._data:
            t0 = time.perf_counter()
            table = self._pending.pop(year).result() if year in self._pending else None
            self._data[year] = read_year(self.data_dir, year, self.price_year, self.insurance_group, table=table,
                                         table_from_file=True)
            self.read_seconds += time.perf_counter() - t0
        return self._data[year]

    def drop(self, year: int) -> None:
        """Forget a year read from disk (kept when the panel was built from data in memory)."""
        if self.data_dir is not None:
            self._data.pop(int(year), None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
