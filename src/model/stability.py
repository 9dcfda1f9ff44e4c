"""Stability across years (docs/method.md step 7), the cluster bootstrap, and the fast model chain.

The ministry's answer to a consultation objection is a number: how much the
result moves.  This module refits the model on every year of a panel (fees
brought to the latest year's price level with ``fee_index.csv``) and reports
how coefficients, capacities per health council, indicative numbers per
municipality and clinic minimum numbers move from one year to the next; how
much capacity would move between health councils and why (new coefficients
or a new population); and how uncertain this year's numbers are (a cluster
bootstrap that resamples clinics).

It also holds the *engine* that :mod:`model.sensitivity` shares, built so
that every year and every variant runs at national scale in seconds:

1. **Reading** (:class:`Panel`, :func:`read_year`): each year's persons are
   read once, straight from parquet into small integer arrays (group 1
   only).  Persons with identical raw characteristics (age in years, sex,
   civil status, origin, labour status, number of somatic diseases,
   psychiatric, extended psychiatric, cancer 5 and 10 years) form an *atom*;
   there are a few hundred thousand atoms against six million persons.
   Per atom and practice form the count and the first and second moments
   of the three fee components are summed once, so the outcome of any
   configuration (share of the chronic-care fee, local services in or out)
   has exact cell sums without touching persons again.
2. **Features** (:func:`features`): a configuration's factors and cell keys
   are computed on the atoms, once per distinct feature configuration.
3. **Fits** (:func:`fit`): exact OLS on cells (:func:`model.regression.fit_cells`);
   cells split by clinic (:func:`clinic_cells`) for clustered standard errors,
   clinic fixed effects (:func:`fit_within`) and the bootstrap.
4. **Chain** (:func:`chain`): weights -> capacities -> clinic numbers for any
   coefficient vector, through the same functions as
   :func:`model.pipeline.run_model` (:mod:`model.weights`,
   :mod:`model.capacity`, :mod:`model.clinics`), so the base fit reproduces
   the run folder's numbers.
5. **Bootstrap** (:func:`bootstrap`): clinics are resampled by reweighting
   per-clinic sums of X'X and X'y (multinomial clinic counts), and the
   chain is evaluated for all draws at once with matrices of per-(area,
   cell) and per-(clinic, cell) sums of life-expectancy factors.

Outputs of :func:`run_stability` (written by :func:`write_stability` to a
folder with a manifest): ``summary.csv``, ``coefficients_by_year.csv``,
``fit_by_year.csv``, ``capacity_by_year.csv``, ``reallocation.csv``,
``clinic_changes.csv``, ``rounding_step_effect.csv``,
``bootstrap_health_council.csv``, ``bootstrap_clinics.csv``.  Columns are
described in :data:`TABLE_COLUMNS`.  No table holds a count of persons below
``config.min_cell_size``: clinic comparisons and clinic bootstrap rows keep
only clinics with at least that many listed patients.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import sparse
from scipy import stats as sstats

from . import capacity as cap
from . import clinics as cl
from . import features as ft
from . import measures as ms
from . import weights as wt
from .config import ModelConfig
from .pipeline import (
    INPUT_FILES, AtomicFolder, Inputs, git_commit, package_versions, price_factor, read_clinics, read_island_reports,
    read_municipalities, read_projection, sha256_file, write_csv,
)
from .regression import CellOLSResults, _row_codes, fit_cells

__all__ = [
    "PRACTICE_FORMS", "FEATURE_FIELDS", "YearData", "Panel", "read_year", "year_from_inputs", "panel_years",
    "features", "design", "fit", "fit_within", "clinic_cells", "chain", "ChainResult", "bootstrap",
    "BootstrapResult", "year_config", "run_stability", "StabilityResult", "write_stability", "summary_table",
    "appendix_tables", "check_parameters", "parse_years", "read_tables",
    "figure_stability", "reallocation_share", "TABLE_COLUMNS",
]

#: Practice forms of clinics.csv, in the order of the per-form sums.
PRACTICE_FORMS = ("solo", "partnership", "collaboration", "regional", "tender")
#: The per-form sums' slots: the practice forms, then citizens with no clinic on record (always in the fit).
FORM_SLOTS = PRACTICE_FORMS + ("no_clinic",)
#: Configuration fields that change factors or cell keys (one feature computation per distinct set).
FEATURE_FIELDS = ("age_bands", "include_sex", "origin_terms", "civil_status_codes", "civil_status_by_age",
                  "labour_age_min", "labour_age_max", "somatic_bins", "psychiatric_column", "cancer_column")
#: Raw person columns that make up an atom (everything any feature configuration reads; ``chronic`` is
#: derived: on the chronic-care fee, chronic_fee > 0, which the outcome's imputation needs).
ATOM_COLUMNS = ("age", "sex", "civil_status", "origin_group", "labour_status", "somatic_diseases",
                "psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y", "chronic")
_STRING_COLUMNS = ("municipality_code", "clinic_id", "civil_status", "origin_group", "labour_status")
_READ_COLUMNS = ["municipality_code", "sex", "age", "civil_status", "origin_group", "insurance_group", "labour_status",
                 "somatic_diseases", "psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y", "clinic_id",
                 "gross_fee", "chronic_fee", "local_services_fee", "contact_fee"]
#: Read when present: without it only the lump-sum treatments of the chronic-care fee can run.
_OPTIONAL_COLUMNS = ("contact_fee",)
#: Moments kept per (atom, practice form): count, sums of gross (g), chronic (c) and local (l) fees, and
#: the sums of their squares and cross products; h: sum of the contact-service fee (the imputation's source).
_MOMENTS = ("n", "g", "c", "l", "gg", "cc", "ll", "gc", "gl", "cl", "h")


# =============================================================================
# Reading: one year of persons -> integer arrays and atoms
# =============================================================================


@dataclass
class YearData:
    """One year of group-1 persons reduced to arrays, with the reference tables.

    Person-level arrays (same order as the persons file): ``pm`` municipality
    index into ``muni_codes``, ``pc`` clinic index into ``clinic_ids`` (a
    citizen with no clinic on record has ``len(clinic_ids)``: use
    :meth:`listed` to select the listed), ``sex`` (1/2), ``form`` index into
    :data:`FORM_SLOTS` of the clinic, ``atom`` index into ``atoms``,
    ``fees`` (four arrays: gross, chronic, local services, contact services;
    brought to the panel's price level).  ``atom_moments`` has shape (atoms,
    form slots, moments) with :data:`_MOMENTS`.  ``residents``: residents of
    every insurance group per municipality (the group-1 share's denominator).
    """

    year: int
    price_factor: float
    municipalities: pd.DataFrame
    clinics: pd.DataFrame
    projection: pd.DataFrame
    muni_codes: list[str]
    clinic_ids: list[str]
    clinic_form: np.ndarray
    pm: np.ndarray
    pc: np.ndarray
    sex: np.ndarray
    form: np.ndarray
    atom: np.ndarray
    atoms: pd.DataFrame
    fees: list[np.ndarray]
    atom_moments: np.ndarray
    files: dict[str, str] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    residents: np.ndarray | None = None
    has_contact_fee: bool = True
    island_reports: pd.DataFrame | None = None

    @property
    def persons(self) -> int:
        return int(len(self.atom))

    def listed(self) -> np.ndarray:
        """Boolean per person: listed with a clinic of the register."""
        key = ("listed",)
        if key not in self.cache:
            self.cache[key] = self.pc < len(self.clinic_ids)
        return self.cache[key]

    def citizens_by_municipality(self) -> np.ndarray:
        key = ("citizens_m",)
        if key not in self.cache:
            self.cache[key] = np.bincount(self.pm, minlength=len(self.muni_codes))
        return self.cache[key]

    def listed_by_clinic(self) -> np.ndarray:
        key = ("listed_c",)
        if key not in self.cache:
            self.cache[key] = np.bincount(self.pc, minlength=len(self.clinic_ids) + 1)[:len(self.clinic_ids)]
        return self.cache[key]


def _codes_against(values: Sequence[str], reference: Sequence[str]) -> np.ndarray:
    """Position of each value in ``reference`` (-1 where absent)."""
    return pd.Index(list(reference)).get_indexer(list(values)).astype(np.int64)


def _build_year(year: int, factor: float, cols: dict[str, Any], municipalities: pd.DataFrame, clinics: pd.DataFrame,
                projection: pd.DataFrame, files: dict[str, str] | None = None, residents: Any = None,
                island_reports: pd.DataFrame | None = None) -> YearData:
    """Common constructor: ``cols`` maps string columns to (codes, values) and the others to arrays.

    ``residents``: (codes, values) of every insurance group's municipality codes, or a table
    (municipality_code, residents); None counts the persons in ``cols``.
    """
    muni_codes = municipalities["municipality_code"].tolist()
    clinic_ids = clinics["clinic_id"].tolist()
    mcodes, mvals = cols["municipality_code"]
    ccodes, cvals = cols["clinic_id"]
    mmap = _codes_against(mvals, muni_codes)
    cmap = np.append(_codes_against(cvals, clinic_ids), -1)  # [-1]: a missing clinic_id (code -1)
    pm, pcl = mmap[mcodes], cmap[ccodes]
    if (mcodes < 0).any() or (pm < 0).any():
        raise ValueError("persons refer to unknown municipalities: validate the data folder first")
    # no clinic on record (or one the register does not know): the slot after the last clinic
    pcl = np.where(pcl < 0, len(clinic_ids), pcl)
    if residents is None:
        res = np.bincount(pm, minlength=len(muni_codes))
    elif isinstance(residents, pd.DataFrame):
        res = residents.assign(municipality_code=residents["municipality_code"].astype(str)).set_index(
            "municipality_code")["residents"].reindex(muni_codes).fillna(0).to_numpy(np.int64)
    else:
        rc, rv = residents
        rm = _codes_against(rv, muni_codes)[rc]
        res = np.bincount(rm[rm >= 0], minlength=len(muni_codes))
    forms = clinics["practice_form"].astype(str).to_numpy()
    clinic_form = pd.Index(PRACTICE_FORMS).get_indexer(forms)
    if (clinic_form < 0).any():
        bad = sorted(set(forms[clinic_form < 0]))
        raise ValueError(f"clinics.csv: unknown practice form(s) {bad}; expected {PRACTICE_FORMS}")
    clinic_form = np.append(clinic_form, FORM_SLOTS.index("no_clinic"))
    n = len(pm)
    if n == 0:
        raise ValueError(f"no persons in {year}")

    # --- atoms: mixed-radix key of the raw characteristics, indexed densely when small
    digits, radices, decode = [], [], {}
    for c in ATOM_COLUMNS:
        if c in _STRING_COLUMNS:
            codes, vals = cols[c]
            if (codes < 0).any():
                raise ValueError(f"persons: missing values in {c}")
            digits.append(codes)
            radices.append(max(len(vals), 1))
            decode[c] = np.asarray(vals, dtype=object)
        else:
            a = np.asarray(cols[c])
            if a.dtype == bool:
                a = a.view(np.int8)
            if a.min() < 0:
                raise ValueError(f"persons: negative values in {c}")
            digits.append(a)
            radices.append(int(a.max()) + 1)
    total = int(np.prod(np.asarray(radices, dtype=np.float64)))
    key = np.zeros(n, dtype=np.int32 if total < 2**31 else np.int64)
    for d, r in zip(digits, radices):
        key *= r
        key += d
    atom_keys, atom = _dense_unique(key, total)
    rest = atom_keys.copy()
    parts = {}
    for c, r in zip(reversed(ATOM_COLUMNS), reversed(radices)):
        parts[c] = rest % r
        rest //= r
    atoms = pd.DataFrame({c: (decode[c][parts[c]] if c in decode else parts[c]) for c in ATOM_COLUMNS})
    for c in ("psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y", "chronic"):
        atoms[c] = atoms[c].astype(bool)
    atoms["sex"] = atoms["sex"].astype(np.int8)
    atoms["age"] = atoms["age"].astype(np.int16)
    atoms["somatic_diseases"] = atoms["somatic_diseases"].astype(np.int8)

    has_contact = "contact_fee" in cols
    if not has_contact:
        cols = {**cols, "contact_fee": np.zeros(n)}
    fees = [np.asarray(cols[c], dtype=np.float64) for c in ("gross_fee", "chronic_fee", "local_services_fee", "contact_fee")]
    if factor != 1.0:
        fees = [f * factor for f in fees]
    form = clinic_form[pcl].astype(np.int8)
    F = len(FORM_SLOTS)
    idx = atom * F + form
    m = len(atom_keys) * F
    moments = _moments(idx, m, fees)
    return YearData(
        year=int(year), price_factor=float(factor), municipalities=municipalities, clinics=clinics,
        projection=projection, muni_codes=muni_codes, clinic_ids=clinic_ids, clinic_form=clinic_form,
        pm=pm.astype(np.int32), pc=pcl.astype(np.int32), sex=np.asarray(cols["sex"]).astype(np.int8), form=form,
        atom=atom, atoms=atoms, fees=fees, atom_moments=moments.reshape(len(atom_keys), F, len(_MOMENTS)),
        files=files or {}, residents=res, has_contact_fee=has_contact, island_reports=island_reports,
    )


def _dense_unique(key: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, int32 index of each key among them); by counting when the key range is small."""
    if total <= 64_000_000:
        present = np.bincount(key, minlength=total) > 0
        lookup = np.cumsum(present, dtype=np.int32) - 1
        return np.flatnonzero(present), lookup[key]
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq, inv.astype(np.int32)


def _moments(idx: np.ndarray, m: int, fees: Sequence[np.ndarray]) -> np.ndarray:
    """Per group of ``idx``: count and the sums of the fees, their squares and cross products (:data:`_MOMENTS`)."""
    g, c_, l_, h = fees
    out = np.empty((m, len(_MOMENTS)))
    out[:, 0] = np.bincount(idx, minlength=m)
    out[:, 1] = np.bincount(idx, weights=g, minlength=m)
    out[:, 2] = np.bincount(idx, weights=c_, minlength=m)
    out[:, 3] = np.bincount(idx, weights=l_, minlength=m)
    out[:, 4] = np.bincount(idx, weights=g * g, minlength=m)
    out[:, 5] = np.bincount(idx, weights=c_ * c_, minlength=m)
    nz = np.flatnonzero(l_)  # local services are rare: their moments from the few persons who have them
    li, ll = idx[nz], l_[nz]
    out[:, 6] = np.bincount(li, weights=ll * ll, minlength=m)
    out[:, 7] = np.bincount(idx, weights=g * c_, minlength=m)
    out[:, 8] = np.bincount(li, weights=g[nz] * ll, minlength=m)
    out[:, 9] = np.bincount(li, weights=c_[nz] * ll, minlength=m)
    out[:, 10] = np.bincount(idx, weights=h, minlength=m)
    return out


def year_from_inputs(inputs: Inputs, year: int, insurance_group: int = 1, factor: float = 1.0) -> YearData:
    """:class:`YearData` from an :class:`~model.pipeline.Inputs` (data frames; used by tests and notebooks)."""
    p = inputs.persons
    if "year" in p.columns:
        p = p[p["year"] == year]
    residents = inputs.residents
    if residents is None:
        rc, rv = pd.factorize(p["municipality_code"].astype(str), sort=True)
        residents = (rc, list(rv))
    p = p[p["insurance_group"] == insurance_group]
    if p.empty:
        raise ValueError(f"no persons in insurance group {insurance_group} in {year}")
    cols: dict[str, Any] = {}
    for c in _READ_COLUMNS:
        if c == "insurance_group" or (c in _OPTIONAL_COLUMNS and c not in p.columns):
            continue
        if c in _STRING_COLUMNS:
            v = p[c].astype(object).where(p[c].notna(), "").astype(str)
            codes, uniques = pd.factorize(v.where(v != "", None), sort=True)
            cols[c] = (codes, list(uniques))
        else:
            cols[c] = p[c].to_numpy()
    cols["chronic"] = np.asarray(cols["chronic_fee"], dtype=np.float64) > 0
    return _build_year(year, factor, cols, inputs.municipalities, inputs.clinics, inputs.projection, inputs.files,
                       residents=residents, island_reports=inputs.island_reports)


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
    f = pq.ParquetFile(path, read_dictionary=list(_STRING_COLUMNS))
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
    cols = [c for c in _READ_COLUMNS if c in present or c not in _OPTIONAL_COLUMNS] + ([] if pure else ["year"])
    t = f.read_row_groups(groups, columns=cols, use_threads=True) if groups else None
    if t is not None and not pure:
        t = t.filter(pc.equal(t["year"], year)).drop_columns(["year"])
    if t is None or t.num_rows == 0:
        raise ValueError(f"{path}: no persons for year {year}; years present: {panel_years(path)}")
    return t


def _table_columns(t: pa.Table, insurance_group: int) -> dict[str, Any]:
    """Arrays of the insurance group's persons; ``"_residents"``: (codes, values) of every group's municipality."""
    keep = t.column("insurance_group").to_numpy() == insurance_group
    all_kept = bool(keep.all())
    t = t.unify_dictionaries()
    cols: dict[str, Any] = {}
    for c in _READ_COLUMNS:
        if c == "insurance_group" or c not in t.column_names:
            continue
        col = t.column(c)
        if c in _STRING_COLUMNS:
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
        raise ValueError(f"no persons in insurance group {insurance_group}")
    cols["chronic"] = np.asarray(cols["chronic_fee"], dtype=np.float64) > 0
    return cols


def read_year(data_dir: str | Path, year: int, price_year: int | None = None, insurance_group: int = 1,
              hashes: bool = False, table: pa.Table | None = None) -> YearData:
    """Read one year of a data folder into a :class:`YearData`, fees at ``price_year``'s price level."""
    d = Path(data_dir)
    missing = [f for f in INPUT_FILES if not (d / f).exists()]
    if missing:
        raise FileNotFoundError(f"{d}: missing input file(s): {', '.join(missing)}")
    factor = price_factor(d, year, price_year)
    t = table if table is not None else _read_table(d / "persons.parquet", int(year))
    cols = _table_columns(t, insurance_group)
    del t
    residents = cols.pop("_residents")
    files = {f: sha256_file(d / f) for f in INPUT_FILES} if hashes else {}
    clinics = read_clinics(d / "clinics.csv")
    return _build_year(year, factor, cols, read_municipalities(d / "municipalities.csv"), clinics,
                       read_projection(d / "population_projection.csv"), files, residents=residents,
                       island_reports=read_island_reports(d, clinics, planning_year=int(year) + 1))


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
            raise ValueError(f"{self.data_dir / 'persons.parquet'}: no persons for year(s) {absent}; years present: {all_years}")
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
    def from_years(cls, data: dict[int, YearData], price_year: int | None = None) -> "Panel":
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
            if y not in self._data and y not in self._pending:
                self._pending[y] = self._pool.submit(_read_table, self.data_dir / "persons.parquet", y)

    def get(self, year: int) -> YearData:
        year = int(year)
        if year not in self._data:
            t0 = time.perf_counter()
            table = self._pending.pop(year).result() if year in self._pending else None
            self._data[year] = read_year(self.data_dir, year, self.price_year, self.insurance_group, table=table)
            self.read_seconds += time.perf_counter() - t0
        return self._data[year]

    def drop(self, year: int) -> None:
        """Forget a year read from disk (kept when the panel was built from data in memory)."""
        if self.data_dir is not None:
            self._data.pop(int(year), None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


# =============================================================================
# Features, design, fits
# =============================================================================


def _feature_key(config: ModelConfig) -> tuple:
    return tuple(getattr(config, f) for f in FEATURE_FIELDS)


@dataclass
class FeatureCells:
    """A feature configuration's cells among a year's atoms: sorted keys, their factors, atom -> cell."""

    keys: np.ndarray
    factors: pd.DataFrame
    cell_of_atom: np.ndarray

    @property
    def n_cells(self) -> int:
        return len(self.keys)


def features(yd: YearData, config: ModelConfig) -> FeatureCells:
    """Cells of ``config``'s features in the year (computed on atoms, cached per feature configuration)."""
    key = ("features", _feature_key(config))
    if key not in yd.cache:
        f = ft.person_factors(yd.atoms, config)
        k = ft.cell_keys(f, config)
        uk, inv = np.unique(k, return_inverse=True)
        yd.cache[key] = FeatureCells(keys=uk, factors=ft.unpack_keys(uk, config), cell_of_atom=inv.astype(np.int32))
    return yd.cache[key]


def design(fc: FeatureCells, config: ModelConfig) -> pd.DataFrame:
    """The 0/1 design (columns :func:`model.features.term_names`) of the cells (cached on the cells)."""
    key = (_feature_key(config), config.reference_age_band, config.reference_sex)
    cache = fc.__dict__.setdefault("_design", {})
    if key not in cache:
        cache[key] = ft.design_matrix(fc.factors, config)
    return cache[key]


def _imputing(config: ModelConfig) -> bool:
    return config.chronic_fee_treatment == "impute_contacts"


def outcome_sums(moments: np.ndarray, config: ModelConfig, imputed: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, sum y, sum y²) of ``config``'s outcome from moment sums (last axis :data:`_MOMENTS`).

    Lump sum: y = gross + share x chronic - [local].  Imputed contacts: y =
    gross + a - [local], where ``imputed`` (one value per row, broadcast over
    the middle axes) is the amount a every person of the row carries (rows
    must then be atoms, or parts of atoms: a is constant within an atom).
    """
    L = 1.0 if config.exclude_local_services else 0.0
    m = moments
    n = m[..., 0]
    if _imputing(config):
        if imputed is None:
            raise ValueError("the imputed contact fee per row is needed for chronic_fee_treatment='impute_contacts'")
        a = imputed.reshape(imputed.shape + (1,) * (m.ndim - 1 - imputed.ndim))
        base_sy = m[..., 1] - L * m[..., 3]
        base_syy = m[..., 4] + L * L * m[..., 6] - 2 * L * m[..., 8]
        return n, base_sy + a * n, base_syy + 2 * a * base_sy + a * a * n
    s = float(config.chronic_fee_share)
    sy = m[..., 1] + s * m[..., 2] - L * m[..., 3]
    syy = m[..., 4] + s * s * m[..., 5] + L * L * m[..., 6] + 2 * s * m[..., 7] - 2 * L * m[..., 8] - 2 * s * L * m[..., 9]
    return n, sy, syy


def imputed_by_atom(yd: YearData, config: ModelConfig) -> np.ndarray:
    """Per atom: the contact fee imputed to its persons (0 for atoms not on the chronic-care fee, §4.4.3).

    The comparison citizens are the atoms without the fee in ``config``'s
    estimation sample (:func:`model.features.imputation_groups`,
    :func:`model.features.contact_means`, as :func:`model.features.outcome`).
    """
    key = ("imputed", config.chronic_impute_by, tuple(config.age_bands), tuple(config.excluded_practice_forms))
    if key not in yd.cache:
        if not yd.has_contact_fee:
            raise ValueError(ft.missing_contact_fee_message())
        at = yd.atoms
        group, k = ft.imputation_groups(at["age"].to_numpy(), at["sex"].to_numpy(), at["somatic_diseases"].to_numpy(), config)
        am = yd.atom_moments[:, forms_in_fit(config), :].sum(axis=1)
        chronic = at["chronic"].to_numpy()
        comp = np.where(chronic, 0.0, 1.0)
        means = ft.contact_means(group, k, comp * am[:, 0], comp * am[:, _MOMENTS.index("h")])
        yd.cache[key] = np.where(chronic, means[group], 0.0)
    return yd.cache[key]


def atom_outcome_sums(yd: YearData, config: ModelConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, sum y, sum y²) per atom over ``config``'s estimation sample."""
    am = yd.atom_moments[:, forms_in_fit(config), :].sum(axis=1)
    return outcome_sums(am, config, imputed_by_atom(yd, config) if _imputing(config) else None)


def outcome(yd: YearData, config: ModelConfig) -> np.ndarray:
    """Per-person y of ``config`` (as :func:`model.features.outcome`, at the panel's price level)."""
    g, c, l_, _ = yd.fees
    if _imputing(config):
        y = g + imputed_by_atom(yd, config)[yd.atom]
    else:
        y = g + float(config.chronic_fee_share) * c
    if config.exclude_local_services:
        y -= l_
    return y


def clinic_cell_sums(yd: YearData, cc: "ClinicCells", config: ModelConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, sum y, sum y²) per (clinic, cell) row of ``cc`` (all rows; select the sample with the rows' forms)."""
    if not _imputing(config):
        return outcome_sums(cc.moments, config)
    y = outcome(yd, config)
    m = len(cc.clinic)
    return (cc.moments[:, 0], np.bincount(cc.person_row, weights=y, minlength=m),
            np.bincount(cc.person_row, weights=y * y, minlength=m))


def forms_in_fit(config: ModelConfig) -> np.ndarray:
    """Boolean per form slot (:data:`FORM_SLOTS`): are its persons in the fit?  (No clinic: always.)"""
    return ~np.isin(np.asarray(FORM_SLOTS), list(config.excluded_practice_forms))


def sample_mask(yd: YearData, config: ModelConfig) -> np.ndarray:
    """Per-person: in the estimation sample (practice form not excluded)."""
    return forms_in_fit(config)[yd.form]


@dataclass
class ClinicCells:
    """Persons of a year aggregated to (clinic, cell) rows of a feature configuration.

    ``clinic``/``cell``: the row's clinic index and cell index; ``moments``
    (rows x :data:`_MOMENTS`); ``person_row``: each person's row.
    """

    clinic: np.ndarray
    cell: np.ndarray
    moments: np.ndarray
    person_row: np.ndarray

    def form(self, yd: YearData) -> np.ndarray:
        return yd.clinic_form[self.clinic]


def clinic_cells(yd: YearData, config: ModelConfig) -> ClinicCells:
    """(clinic, cell) rows of the year for ``config``'s features (cached); one sort of the persons."""
    key = ("clinic_cells", _feature_key(config))
    if key not in yd.cache:
        fc = features(yd, config)
        cell_p = fc.cell_of_atom[yd.atom].astype(np.int64)
        combined = yd.pc.astype(np.int64) * fc.n_cells + cell_p
        uniq, inv = _dense_unique(combined, (len(yd.clinic_ids) + 1) * fc.n_cells)
        mom = _moments(inv, len(uniq), yd.fees)
        yd.cache[key] = ClinicCells(clinic=(uniq // fc.n_cells).astype(np.int32), cell=(uniq % fc.n_cells).astype(np.int32),
                                    moments=mom, person_row=inv.astype(np.int32))
    return yd.cache[key]


def cell_sums(yd: YearData, fc: FeatureCells, config: ModelConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, sum y, sum y²) per cell of the estimation sample, from the atoms' sums."""
    sums = atom_outcome_sums(yd, config)
    return tuple(np.bincount(fc.cell_of_atom, weights=a, minlength=fc.n_cells) for a in sums)


def fit(yd: YearData, config: ModelConfig) -> CellOLSResults:
    """Fit ``config`` on the year: exact OLS on cells (split by clinic for clustered SEs or clinic fixed effects)."""
    fc = features(yd, config)
    X = design(fc, config)
    terms = ft.term_names(config)
    if config.clinic_fixed_effects or config.cov_type == "cluster":
        cc = clinic_cells(yd, config)
        keep = forms_in_fit(config)[cc.form(yd)] & (cc.moments[:, 0] > 0)
        n, sy, syy = (a[keep] for a in clinic_cell_sums(yd, cc, config))
        if config.clinic_fixed_effects:
            return _fit_within_cells(X[terms].to_numpy(dtype=np.float64), cc.cell[keep], cc.clinic[keep], n, sy, syy,
                                     terms, config.cov_type)
        frame = X.iloc[cc.cell[keep]].reset_index(drop=True)
        frame = frame.assign(n=n, sum_y=sy, sum_y2=syy, cluster=cc.clinic[keep])
        res = fit_cells(frame, terms, cov_type="cluster", cluster_col="cluster")
        # the coefficients of the pooled cells: bit-identical to the other covariance types (the clinic-split
        # cells sum in another order and differ in the last digits), so clustering changes standard errors only
        res._params = fit(yd, config.replace(cov_type="HC1"))._params.copy()
        return res
    if config.person_year_weights:
        raise ValueError("the person-year weighted fit runs in `python -m model fit --variant person_year_weighted`, "
                         "not in the stability and sensitivity engine")
    n, sy, syy = cell_sums(yd, fc, config)
    frame = X.assign(n=n, sum_y=sy, sum_y2=syy)
    return fit_cells(frame, terms, cov_type=config.cov_type)


# --- clinic fixed effects: within-clinic (Frisch-Waugh) estimator on (clinic, cell) sums -------------------


def fit_within(X: pd.DataFrame, n, sum_y, sum_y2, cluster, terms: list[str], cov_type: str = "HC1") -> CellOLSResults:
    """OLS with clinic fixed effects from (clinic, cell) rows, exactly as person-level OLS with clinic dummies.

    In: ``X`` the design of each row (columns ``terms``; an ``Intercept``
    column, if among the terms, is absorbed by the clinic effects), the
    rows' ``n``, ``sum_y``, ``sum_y2`` and clinic labels ``cluster``.
    Out: :class:`~model.regression.CellOLSResults` whose ``Intercept`` is the
    patient-weighted mean clinic effect ᾱ = ȳ - x̄'β, so ``predict`` averages
    the clinic effects out (as in Anselmi et al.'s person-based GP workload
    formula).  The other coefficients and their HC0/HC1/cluster/nonrobust
    covariance equal statsmodels' OLS on persons with one dummy per clinic
    (degrees of freedom N - K - G).  The intercept's variance is x̄'Vx̄
    (conditional on the clinic means); R² is that of the full dummy model.
    """
    terms = list(terms)
    cluster_codes, _ = pd.factorize(np.asarray(cluster), sort=True)
    cols = [X[t].to_numpy() for t in terms]
    codes, n_u = _row_codes(cols, len(X))
    first = np.empty(n_u, dtype=np.intp)
    first[codes] = np.arange(len(codes))
    Xu = np.column_stack([c[first] for c in cols]).astype(np.float64)
    return _fit_within_cells(Xu, codes, cluster_codes, np.asarray(n, float), np.asarray(sum_y, float),
                             np.asarray(sum_y2, float), terms, cov_type)


def _fit_within_cells(Xc: np.ndarray, cell: np.ndarray, clinic: np.ndarray, n: np.ndarray, sy: np.ndarray,
                      syy: np.ndarray, terms: list[str], cov_type: str) -> CellOLSResults:
    """The within estimator on rows (cell index, clinic index, n, sum y, sum y²); ``Xc`` distinct cell rows."""
    keep = n > 0
    cell, clinic, n, sy, syy = cell[keep], clinic[keep], n[keep], sy[keep], syy[keep]
    gcodes, glabels = pd.factorize(clinic, sort=True)
    G, C = len(glabels), Xc.shape[0]
    has_icpt = "Intercept" in terms
    slope = [j for j, t in enumerate(terms) if t != "Intercept"]
    Xs = Xc[:, slope]
    K = len(slope)
    N = float(n.sum())
    A = sparse.csr_matrix((n, (gcodes, cell)), shape=(G, C))
    n_g = np.asarray(A.sum(axis=1)).ravel()
    sy_g = np.bincount(gcodes, weights=sy, minlength=G)
    Sx = A @ Xs  # G x K: sums of x per clinic
    xbar = Sx / n_g[:, None]
    n_c = np.asarray(A.sum(axis=0)).ravel()
    sy_c = np.bincount(cell, weights=sy, minlength=C)
    XtX = (Xs * n_c[:, None]).T @ Xs - (xbar * n_g[:, None]).T @ xbar
    Xty = Xs.T @ sy_c - xbar.T @ sy_g
    XtX = (XtX + XtX.T) / 2
    w, V = np.linalg.eigh(XtX)
    if w.min() <= w.max() * max(XtX.shape) * np.finfo(float).eps * 10:
        bad = [terms[slope[j]] for j in range(K) if XtX[j, j] <= 1e-12 * max(N, 1)]
        raise ValueError("design with clinic fixed effects is rank deficient"
                         + (f"; terms constant within every clinic: {bad}" if bad else ""))
    bread = np.linalg.inv(XtX)
    bread = (bread + bread.T) / 2
    beta = bread @ Xty
    alpha_g = sy_g / n_g - xbar @ beta
    fitted = alpha_g[gcodes] + (Xs @ beta)[cell]
    ssr_r = np.clip(syy - 2 * fitted * sy + n * fitted**2, 0.0, None)
    within_r = np.clip(syy - sy * sy / n, 0.0, None)
    ssr = float(ssr_r.sum())
    ybar = sy.sum() / N
    centered_tss = float((within_r + n * (sy / n - ybar) ** 2).sum())
    df_resid = N - K - G
    if df_resid <= 0:
        raise ValueError(f"need more persons than terms and clinics (N={N:g}, K={K}, G={G})")
    n_clusters = None
    df_inf = float(df_resid)
    if cov_type == "nonrobust":
        cov = ssr / df_resid * bread
    elif cov_type in ("HC0", "HC1"):
        S = sparse.csr_matrix((ssr_r, (gcodes, cell)), shape=(G, C))
        s_c = np.asarray(S.sum(axis=0)).ravel()
        s_g = np.asarray(S.sum(axis=1)).ravel()
        SX = S @ Xs
        meat = (Xs * s_c[:, None]).T @ Xs - xbar.T @ SX - SX.T @ xbar + (xbar * s_g[:, None]).T @ xbar
        cov = bread @ meat @ bread
        if cov_type == "HC1":
            cov *= N / df_resid
    elif cov_type == "cluster":
        e = sy - n * fitted
        E = sparse.csr_matrix((e, (gcodes, cell)), shape=(G, C))
        scores = E @ Xs - xbar * np.asarray(E.sum(axis=1)).ravel()[:, None]
        cov = bread @ (scores.T @ scores) @ bread
        cov *= G / (G - 1) * (N - 1) / df_resid
        n_clusters, df_inf = G, float(G - 1)
    else:
        raise ValueError(f"unknown cov_type {cov_type!r}")
    cov = (cov + cov.T) / 2
    xbar_all = Sx.sum(axis=0) / N
    alpha = float(sy.sum() / N - xbar_all @ beta)
    if has_icpt:
        params = np.empty(len(terms))
        params[slope] = beta
        i0 = terms.index("Intercept")
        params[i0] = alpha
        full = np.zeros((len(terms), len(terms)))
        full[np.ix_(slope, slope)] = cov
        cross = -(xbar_all @ cov)
        full[i0, slope] = cross
        full[slope, i0] = cross
        full[i0, i0] = float(xbar_all @ cov @ xbar_all)
        cov = full
    else:
        params = beta
    res = CellOLSResults(
        terms=terms, params=params, cov=cov, cov_type=cov_type, use_t=(cov_type == "nonrobust"), nobs=int(round(N)),
        df_resid_inference=df_inf, k_constant=1, const_idx=(terms.index("Intercept") if has_icpt else None), ssr=ssr,
        centered_tss=centered_tss, uncentered_tss=float(syy.sum()), n_cells=int(len(n)), n_clusters=n_clusters,
    )
    res.df_resid = float(df_resid)
    res.df_model = float(K + G - 1)
    res.clinic_fixed_effects = True
    res.n_clinics = G
    return res


# =============================================================================
# The chain: coefficients -> weights -> capacities -> clinic numbers
# =============================================================================


@dataclass
class ChainResult:
    """The model's numbers for one coefficient vector on one year's population."""

    year: int
    config: ModelConfig
    params: pd.Series
    by_municipality: pd.DataFrame
    by_health_council: pd.DataFrame
    clinics: pd.DataFrame
    life_expectancy: pd.DataFrame


def year_config(config: ModelConfig, year: int) -> ModelConfig:
    """``config`` moved to ``year`` (planning year moved with it)."""
    return config.replace(year=int(year), planning_year=int(year) + (config.planning_year - config.year))


def _le(yd: YearData, config: ModelConfig) -> pd.DataFrame:
    key = ("le", config.life_expectancy_column, config.life_expectancy_by_sex, config.life_expectancy_correction)
    if key not in yd.cache:
        yd.cache[key] = wt.life_expectancy_factors(yd.municipalities, config)
    return yd.cache[key]


def person_le_factor(yd: YearData, config: ModelConfig) -> np.ndarray:
    """Each citizen's life-expectancy factor (cached per life-expectancy configuration)."""
    key = ("le_p", config.life_expectancy_column, config.life_expectancy_by_sex, config.life_expectancy_correction)
    if key not in yd.cache:
        yd.cache[key] = wt.person_factors(_le(yd, config), yd.muni_codes, yd.pm, yd.sex, config)
    return yd.cache[key]


def cell_predictions(fc: FeatureCells, config: ModelConfig, params: pd.Series) -> np.ndarray:
    """Predicted use of each cell: x'b (for clinic fixed effects the intercept is the mean clinic effect)."""
    X = design(fc, config)
    missing = [t for t in params.index if t not in X.columns]
    if missing:
        raise ValueError(f"coefficients for terms the configuration does not have: {missing}")
    return X[list(params.index)].to_numpy(dtype=np.float64) @ params.to_numpy(dtype=np.float64)


def chain(yd: YearData, config: ModelConfig, params: pd.Series) -> ChainResult:
    """docs/method.md steps 3-6 for the coefficients ``params`` on the year's population (vectorised, no loops).

    Uses :func:`model.weights.life_expectancy_factors`,
    :func:`model.capacity.capacity_by_municipality`,
    :func:`model.clinics.clinic_table` and
    :func:`model.capacity.capacity_by_health_council` as
    :func:`model.pipeline.run_model` does.
    """
    fc = features(yd, config)
    pred_cell = cell_predictions(fc, config, params)
    pred_atom = pred_cell[fc.cell_of_atom]
    if (pred_atom <= 0).any():
        raise ValueError("the coefficients predict non-positive use for some cells; weights would be meaningless")
    le = _le(yd, config)
    weight = wt.disease_weights(pred_atom[yd.atom], person_le_factor(yd, config), config)["weight"]
    nm, nc = len(yd.muni_codes), len(yd.clinic_ids)
    citizens = yd.citizens_by_municipality()
    by_muni = pd.DataFrame({"municipality_code": yd.muni_codes, "citizens": citizens, "residents": yd.residents,
                            "sum_weight": np.bincount(yd.pm, weights=weight, minlength=nm)})
    listed_n = yd.listed_by_clinic()
    listed = pd.DataFrame({"clinic_id": yd.clinic_ids, "listed_patients": listed_n,
                           "sum_weight": np.bincount(yd.pc, weights=weight, minlength=nc + 1)[:nc]})
    listed = listed[listed["listed_patients"] > 0]
    bm = cap.capacity_by_municipality(by_muni, yd.municipalities, yd.projection, le, config)
    extra = by_muni.set_index("municipality_code")
    with np.errstate(invalid="ignore", divide="ignore"):
        muni_mean_w = extra["sum_weight"] / extra["citizens"].where(extra["citizens"] > 0)
        bm["mean_weight"] = bm["municipality_code"].map(muni_mean_w)
    ct = cl.clinic_table(yd.clinics, listed, muni_mean_w, yd.municipalities, config, island_reports=yd.island_reports)
    hc = cap.capacity_by_health_council(bm, yd.municipalities, ct, config)
    return ChainResult(year=yd.year, config=config, params=params, by_municipality=bm, by_health_council=hc,
                       clinics=ct, life_expectancy=le)


# =============================================================================
# Cluster bootstrap
# =============================================================================


@dataclass
class BootstrapResult:
    """Bootstrap draws of the capacities (health councils x draws) and clinic numbers (clinics x draws)."""

    year: int
    draws: int
    failed: int
    alpha: float
    params: np.ndarray
    health_council: pd.DataFrame
    clinics: pd.DataFrame
    hc_exact: np.ndarray
    hc_rounded: np.ndarray
    clinic_exact: np.ndarray


def _pair_matrix(Xc: np.ndarray) -> sparse.csr_matrix:
    """Sparse (cells x K²) matrix of the products x_j x_k of each cell's 0/1 design row."""
    C, K = Xc.shape
    rows, cols, vals = [], [], []
    nz = [np.flatnonzero(Xc[:, j]) for j in range(K)]
    for j in range(K):
        for k in range(K):
            both = np.intersect1d(nz[j], nz[k], assume_unique=True) if j != k else nz[j]
            if len(both):
                rows.append(both)
                cols.append(np.full(len(both), j * K + k))
                vals.append(Xc[both, j] * Xc[both, k])
    if not rows:
        return sparse.csr_matrix((C, K * K))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(C, K * K))


def bootstrap_params(yd: YearData, config: ModelConfig, draws: int = 200, seed: int = 20250630) -> tuple[np.ndarray, list[str], int]:
    """Coefficients of ``draws`` cluster-bootstrap resamples of clinics (draws x terms), the terms, failed draws.

    Each draw gives every clinic of the estimation sample a multinomial count
    (resampling clinics with replacement); X'X and X'y are the count-weighted
    sums of the clinics' own X'X and X'y, built once from the (clinic, cell)
    sums.  With clinic fixed effects the clinics' within-clinic X'X and X'y
    are reweighted the same way.  Draws in which a term has no person are
    dropped (counted in ``failed``).
    """
    fc = features(yd, config)
    terms = ft.term_names(config)
    Xc = design(fc, config)[terms].to_numpy(dtype=np.float64)
    cc = clinic_cells(yd, config)
    keep = forms_in_fit(config)[cc.form(yd)] & (cc.moments[:, 0] > 0)
    n, sy, _ = (a[keep] for a in clinic_cell_sums(yd, cc, config))
    gcodes, glabels = pd.factorize(cc.clinic[keep], sort=True)
    G, C, K = len(glabels), fc.n_cells, len(terms)
    cell = cc.cell[keep]
    A = sparse.csr_matrix((n, (gcodes, cell)), shape=(G, C))
    Ay = sparse.csr_matrix((sy, (gcodes, cell)), shape=(G, C))
    XX_g = np.asarray((A @ _pair_matrix(Xc)).todense())  # G x K²
    Xy_g = Ay @ Xc  # G x K
    n_g = np.asarray(A.sum(axis=1)).ravel()
    sy_g = np.asarray(Ay.sum(axis=1)).ravel()
    fe = config.clinic_fixed_effects
    if fe:
        slope = [j for j, t in enumerate(terms) if t != "Intercept"]
        Sx = A @ Xc[:, slope]
        Ks = len(slope)
        idx = np.ix_(slope, slope)
        XX_full = XX_g.reshape(G, K, K)[:, idx[0], idx[1]]
        XX_w = XX_full - Sx[:, :, None] * Sx[:, None, :] / n_g[:, None, None]
        Xy_w = Xy_g[:, slope] - Sx * (sy_g / n_g)[:, None]
        M, v, Kb = XX_w.reshape(G, Ks * Ks), Xy_w, Ks
    else:
        M, v, Kb = XX_g, Xy_g, K
    rng = np.random.default_rng(seed)
    W = rng.multinomial(G, np.full(G, 1.0 / G), size=draws).astype(np.float64)
    XX = (W @ M).reshape(draws, Kb, Kb)
    Xy = W @ v
    diag = np.einsum("bkk->bk", XX)
    ok = (diag > 0).all(axis=1)
    beta = np.full((draws, Kb), np.nan)
    for b in np.flatnonzero(ok):
        try:
            beta[b] = np.linalg.solve(XX[b], Xy[b])
        except np.linalg.LinAlgError:
            ok[b] = False
    if fe:
        params = np.full((draws, K), np.nan)
        params[:, slope] = beta
        if "Intercept" in terms:
            wn = W @ n_g
            alpha = (W @ sy_g - np.einsum("bk,bk->b", W @ Sx, beta)) / wn
            params[:, terms.index("Intercept")] = alpha
    else:
        params = beta
    ok &= np.isfinite(params).all(axis=1)
    return params[ok], terms, int(draws - ok.sum())


def _threshold_distance(x: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Distance from each exact capacity to the nearest value where its rounded number changes."""
    x = np.asarray(x, dtype=np.float64)
    if config.rounding == "up":
        frac = x - np.floor(x)
    else:
        frac = x + 0.5 - np.floor(x + 0.5)
    return np.minimum(frac, 1 - frac)


def bootstrap(yd: YearData, config: ModelConfig, point: ChainResult | None = None, draws: int = 200,
              seed: int = 20250630, alpha: float = 0.05, params: np.ndarray | None = None) -> BootstrapResult:
    """Cluster-bootstrap intervals of capacities per health council and clinic minimum numbers.

    The coefficients are re-estimated on resampled clinics
    (:func:`bootstrap_params`, or the given ``params`` rows); each draw's
    coefficients then go through the chain for the year's whole population,
    all draws at once: the life-expectancy-corrected predicted use per
    municipality and per clinic is a matrix product of per-(area, cell) sums
    of life-expectancy factors with the cells' predictions.

    Tables: ``health_council`` (one row per health council; point values,
    bootstrap mean, standard error, percentile interval of
    ``capacities_exact``, the probability that the rounded capacity differs
    from the point estimate, the distance to the nearest rounding threshold,
    and ``near_threshold`` when the interval crosses one) and ``clinics``
    (clinics whose number comes from at least ``config.min_cell_size`` own
    listed patients).
    """
    point = point or chain(yd, config, fit(yd, config).params)
    fc = features(yd, config)
    terms = list(point.params.index)
    failed = 0
    if params is None:
        params, pterms, failed = bootstrap_params(yd, config, draws, seed)
        params = pd.DataFrame(params, columns=pterms)[terms].to_numpy()
    B = len(params)
    Xc = design(fc, config)[terms].to_numpy(dtype=np.float64)
    pred = Xc @ params.T  # cells x B
    factor = person_le_factor(yd, config)
    cell_p = fc.cell_of_atom[yd.atom].astype(np.int64)
    M, C = len(yd.muni_codes), fc.n_cells
    F_m = np.bincount(yd.pm.astype(np.int64) * C + cell_p, weights=factor, minlength=M * C).reshape(M, C)
    corr_m = F_m @ pred  # munis x B
    n_cell = np.bincount(cell_p, minlength=C)
    valid = (pred[n_cell > 0] > 0).all(axis=0)
    # as model.weights.disease_weights: mean weight 1 after the correction, or before it when not normalising
    scale = yd.persons / (corr_m.sum(axis=0) if config.normalise_weights else n_cell @ pred)
    sum_w_m = corr_m * scale
    bm = point.by_municipality.set_index("municipality_code").reindex(yd.muni_codes)
    weighted = sum_w_m * bm["projection_factor"].to_numpy()[:, None]
    need = weighted / config.citizens_per_capacity
    indicative = np.maximum(need, bm["area_floor"].to_numpy(dtype=np.float64)[:, None])
    hc_point = point.by_health_council
    hc_names = hc_point["health_council"].tolist()
    hc_idx = pd.Index(hc_names).get_indexer(bm["health_council"])
    H = len(hc_names)
    hc_exact = np.zeros((H, B))
    np.add.at(hc_exact, hc_idx, indicative)
    hc_rounded = np.vstack([cap.round_capacity(hc_exact[:, b], config) for b in range(B)]).T if B else np.zeros((H, 0), int)
    hc_exact[:, ~valid] = np.nan

    q = [alpha / 2, 1 - alpha / 2]
    ex = hc_point["capacities_exact"].to_numpy(dtype=np.float64)
    rd = hc_point["capacities"].to_numpy()
    v = hc_exact[:, valid]
    lo, hi = (np.quantile(v, q, axis=1) if v.shape[1] else np.full((2, H), np.nan))
    hc_tab = pd.DataFrame({
        "year": yd.year, "health_council": hc_names,
        "region_from_2027": hc_point["region_from_2027"].to_numpy(),
        "capacities_exact": ex, "capacities": rd,
        "boot_mean": v.mean(axis=1) if v.shape[1] else np.nan,
        "boot_se": v.std(axis=1, ddof=1) if v.shape[1] > 1 else np.nan,
        "ci_low": lo, "ci_high": hi,
        "capacities_ci_low": cap.round_capacity(lo, config), "capacities_ci_high": cap.round_capacity(hi, config),
        "prob_rounded_differs": (hc_rounded[:, valid] != rd[:, None]).mean(axis=1) if v.shape[1] else np.nan,
        "distance_to_threshold": _threshold_distance(ex, config),
        "headroom": hc_point["headroom"].to_numpy(),
        "prob_headroom_sign_differs": ((hc_rounded[:, valid] - hc_point["counted_allocation"].to_numpy()[:, None] > 0)
                                       != (hc_point["headroom"].to_numpy() > 0)[:, None]).mean(axis=1) if v.shape[1] else np.nan,
    })
    hc_tab["near_threshold"] = hc_tab["capacities_ci_low"] != hc_tab["capacities_ci_high"]
    hc_tab.insert(2, "draws", int(valid.sum()))
    hc_tab["confidence"] = 1 - alpha

    # --- clinics: (clinic, cell) sums of factors x cell predictions
    cc = clinic_cells(yd, config)
    f_rows = np.bincount(cc.person_row, weights=factor, minlength=len(cc.cell))
    F_c = sparse.csr_matrix((f_rows, (cc.clinic, cc.cell)), shape=(len(yd.clinic_ids) + 1, C))
    ct = point.clinics
    sel = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= config.min_cell_size)]
    ci = pd.Index(yd.clinic_ids).get_indexer(sel["clinic_id"])
    sum_w_c = (F_c[ci] @ pred) * scale  # clinics x B
    mean_w = sum_w_c / sel["listed_patients"].to_numpy(dtype=np.float64)[:, None]
    c_exact = sel["capacities"].to_numpy(dtype=np.float64)[:, None] * config.citizens_per_capacity / mean_w
    c_exact[:, ~valid] = np.nan
    cv = c_exact[:, valid]
    c_round = cl.round_to_step(np.nan_to_num(cv), config.clinic_rounding_step)
    if config.clinic_cap is not None:
        c_round = np.minimum(c_round, int(config.clinic_cap))
    mp = sel["minimum_patients"].to_numpy()
    clo, chi = (np.quantile(cv, q, axis=1) if cv.shape[1] else np.full((2, len(sel)), np.nan))
    clin = pd.DataFrame({
        "year": yd.year, "clinic_id": sel["clinic_id"].to_numpy(), "health_council": sel["health_council"].to_numpy(),
        "practice_form": sel["practice_form"].to_numpy(), "capacities": sel["capacities"].to_numpy(),
        "mean_weight": sel["mean_weight"].to_numpy(), "minimum_patients_exact": sel["minimum_patients_exact"].to_numpy(),
        "minimum_patients": mp,
        "boot_se": cv.std(axis=1, ddof=1) if cv.shape[1] > 1 else np.nan,
        "ci_low": clo, "ci_high": chi,
        "prob_rounded_differs": (c_round != mp[:, None]).mean(axis=1) if cv.shape[1] else np.nan,
    })
    clin["near_threshold"] = (cl.round_to_step(np.nan_to_num(clo), config.clinic_rounding_step)
                              != cl.round_to_step(np.nan_to_num(chi), config.clinic_rounding_step))
    return BootstrapResult(year=yd.year, draws=int(valid.sum()), failed=int(failed + (~valid).sum()), alpha=alpha,
                           params=params, health_council=hc_tab, clinics=clin, hc_exact=hc_exact, hc_rounded=hc_rounded,
                           clinic_exact=c_exact)


# =============================================================================
# Stability across years
# =============================================================================


def reallocation_share(a: np.ndarray, b: np.ndarray) -> float:
    """D = ½ Σ |s_b - s_a| with s the areas' shares: the share of all capacity that would move
    (:func:`model.measures.reallocation`; ``a`` and ``b`` are aligned area totals)."""
    return ms.reallocation(a, b)


def _clinic_pairs(a: pd.DataFrame, b: pd.DataFrame, min_listed: int) -> pd.DataFrame:
    """Clinics with a number from their own patients (at least ``min_listed``) in both tables."""
    cols = ["clinic_id", "health_council", "capacities", "listed_patients", "mean_weight", "minimum_patients_exact",
            "minimum_patients"]

    def ok(t):
        return t.loc[(t["weight_source"] == "own_patients") & (t["listed_patients"] >= min_listed), cols]

    return ok(a).merge(ok(b), on="clinic_id", suffixes=("_a", "_b"))


def clinic_change_stats(pairs: pd.DataFrame, step: int | None = None, cap_: float | None = None) -> dict[str, float]:
    """Distribution of the change in clinic minimum numbers between two tables (a -> b).

    With ``step`` the numbers are re-rounded from the exact ones at that step.
    """
    if step is None:
        a = pairs["minimum_patients_a"].to_numpy(dtype=np.float64)
        b = pairs["minimum_patients_b"].to_numpy(dtype=np.float64)
    else:
        a = cl.round_to_step(pairs["minimum_patients_exact_a"].to_numpy(), step).astype(np.float64)
        b = cl.round_to_step(pairs["minimum_patients_exact_b"].to_numpy(), step).astype(np.float64)
        if cap_ is not None:
            a, b = np.minimum(a, cap_), np.minimum(b, cap_)
    d = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(d) / a
    out = {"clinics": int(len(d))}
    if len(d) == 0:
        return out
    q = np.quantile(d, [0.05, 0.25, 0.5, 0.75, 0.95])
    out.update({
        "share_changed": float((d != 0).mean()), "mean_change": float(d.mean()), "mean_abs_change": float(np.abs(d).mean()),
        "p05": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4],
        "share_moved_50": float((np.abs(d) >= 50).mean()), "share_moved_5pct": float((rel >= 0.05).mean()),
    })
    if len(d) > 2:
        out["rank_corr_mean_weight"] = float(sstats.spearmanr(pairs["mean_weight_a"], pairs["mean_weight_b"]).statistic)
    return out


@dataclass
class StabilityResult:
    """Result of :func:`run_stability`: the tables (see :data:`TABLE_COLUMNS`) and run facts."""

    config: ModelConfig
    years: list[int]
    price_year: int
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    facts: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def _coef_rows(year: int, f: CellOLSResults, alpha: float) -> pd.DataFrame:
    sf = f.summary_frame(alpha)
    sf.insert(0, "year", year)
    return sf


def run_stability(data: str | Path | Panel, years: Iterable[int] | None = None, config: ModelConfig | None = None,
                  bootstrap_draws: int = 200, bootstrap_years: Iterable[int] | None = None, seed: int = 20250630,
                  alpha: float = 0.05, rounding_steps: Sequence[int] = (10, 50, 100)) -> StabilityResult:
    """Refit every year of the panel and measure how the results move (docs/method.md step 7).

    In: a data folder (or a :class:`Panel`), the years (default: all in
    persons.parquet; fees brought to the latest year's price level), the
    configuration of the reference year (its ``year``/``planning_year``
    gap is kept for every year), the number of bootstrap draws (0: none)
    and the years to bootstrap (default: the latest), the seed, the
    two-sided ``alpha`` of every interval and the clinic rounding steps to
    compare.
    Out: :class:`StabilityResult` with the tables of :data:`TABLE_COLUMNS`.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    config = config or ModelConfig()
    own_panel = not isinstance(data, Panel)
    panel = Panel(data, years) if own_panel else data
    years = sorted(int(y) for y in (years if years is not None else panel.years))
    if len(years) < 2:
        raise ValueError("stability needs at least two years")
    boot_years = [max(years)] if bootstrap_years is None else sorted(int(y) for y in bootstrap_years)
    panel.want(years)

    fits: dict[int, CellOLSResults] = {}
    chains: dict[int, ChainResult] = {}
    coefs, fitstats = [], []
    cross: dict[tuple[int, int], ChainResult] = {}
    boots: dict[int, BootstrapResult] = {}
    for i, t in enumerate(years):
        t0 = time.perf_counter()
        yd = panel.get(t)
        timings[f"read_{t}"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        cfg = year_config(config, t)
        f = fit(yd, cfg)
        fits[t] = f
        chains[t] = chain(yd, cfg, f.params)
        coefs.append(_coef_rows(t, f, alpha))
        n_, sy_ = (float(a.sum()) for a in atom_outcome_sums(yd, cfg)[:2])
        fitstats.append({"year": t, "persons": int(f.nobs), "cells": int(f.n_cells), "terms": len(f.params),
                         "r_squared": float(f.rsquared), "price_factor": yd.price_factor, "mean_use": float(sy_ / n_)})
        if i > 0:
            prev = years[i - 1]
            # old fit, new population; new fit, old population
            cross[(prev, t)] = chain(yd, cfg, fits[prev].params)
            cross[(t, prev)] = chain(panel.get(prev), year_config(config, prev), f.params)
        timings[f"fit_chain_{t}"] = round(time.perf_counter() - t0, 3)
        if t in boot_years and bootstrap_draws > 0:
            t0 = time.perf_counter()
            boots[t] = bootstrap(yd, cfg, chains[t], draws=bootstrap_draws, seed=seed + t, alpha=alpha)
            timings[f"bootstrap_{t}"] = round(time.perf_counter() - t0, 3)
        if i > 0 and years[i - 1] not in boot_years:
            panel.drop(years[i - 1])  # keep memory flat: a year is needed only by its successor
    if own_panel:
        panel.close()
    t0 = time.perf_counter()
    tables = _stability_tables(config, years, fits, chains, cross, boots, coefs, fitstats, alpha, rounding_steps)
    timings["tables"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    facts = {"years": years, "price_year": panel.price_year, "bootstrap_draws": bootstrap_draws,
             "bootstrap_years": boot_years if bootstrap_draws else [], "seed": seed, "alpha": alpha,
             "rounding_steps": list(rounding_steps),
             "bootstrap_failed_draws": {str(t): b.failed for t, b in boots.items()},
             "persons_in_fit": {str(t): int(fits[t].nobs) for t in years}}
    return StabilityResult(config=config, years=years, price_year=panel.price_year, tables=tables, timings=timings,
                           facts=facts, files=dict(panel.files))


def _stability_tables(config, years, fits, chains, cross, boots, coefs, fitstats, alpha, rounding_steps):
    k = config.min_cell_size
    # --- coefficients by year, with the change from the year before
    cb = pd.concat(coefs, ignore_index=True)
    prev = cb.assign(year=cb["year"].map({a: b for a, b in zip(years[:-1], years[1:])}))
    prev = prev.dropna(subset=["year"]).astype({"year": int})[["year", "term", "estimate", "ci_low", "ci_high"]]
    cb = cb.merge(prev.rename(columns={"estimate": "previous_estimate", "ci_low": "previous_ci_low",
                                       "ci_high": "previous_ci_high"}), on=["year", "term"], how="left")
    cb["change"] = cb["estimate"] - cb["previous_estimate"]
    with np.errstate(invalid="ignore", divide="ignore"):
        cb["change_pct"] = 100 * cb["change"] / cb["previous_estimate"].abs()
    cb["previous_outside_ci"] = np.where(cb["previous_estimate"].isna(), np.nan,
                                         ((cb["previous_estimate"] < cb["ci_low"]) | (cb["previous_estimate"] > cb["ci_high"])).astype(float))
    cb["intervals_overlap"] = np.where(cb["previous_estimate"].isna(), np.nan,
                                       ((cb["previous_ci_low"] <= cb["ci_high"]) & (cb["previous_ci_high"] >= cb["ci_low"])).astype(float))
    cb = cb.drop(columns=["previous_ci_low", "previous_ci_high"])

    # --- capacities by year: health councils and municipalities
    rows = []
    for t in years:
        hc = chains[t].by_health_council
        rows.append(pd.DataFrame({
            "level": "health_council", "year": t, "area_code": hc["health_council"], "name": hc["health_council"],
            "health_council": hc["health_council"], "weighted_citizens": hc["weighted_citizens"],
            "share_weighted_citizens": hc["weighted_citizens"] / hc["weighted_citizens"].sum(),
            "capacities_exact": hc["capacities_exact"], "capacities": hc["capacities"].astype(float),
            "headroom": hc["headroom"].astype(float)}))
        bm = chains[t].by_municipality
        rows.append(pd.DataFrame({
            "level": "municipality", "year": t, "area_code": bm["municipality_code"], "name": bm["name"],
            "health_council": bm["health_council"], "weighted_citizens": bm["weighted_citizens"],
            "share_weighted_citizens": bm["weighted_citizens"] / bm["weighted_citizens"].sum(),
            "capacities_exact": bm["indicative"], "capacities": np.nan, "headroom": np.nan}))
    cy = pd.concat(rows, ignore_index=True)
    decomp = []
    for a, b in zip(years[:-1], years[1:]):
        for level, key in (("health_council", "health_council"), ("municipality", "municipality_code")):
            tab = "by_health_council" if level == "health_council" else "by_municipality"
            val = "capacities_exact" if level == "health_council" else "indicative"
            base_a = getattr(chains[a], tab).set_index(key)[val]
            base_b = getattr(chains[b], tab).set_index(key)[val]
            coef_only = getattr(cross[(b, a)], tab).set_index(key)[val]  # new fit, old population
            pop_only = getattr(cross[(a, b)], tab).set_index(key)[val]  # old fit, new population
            d = pd.DataFrame({"level": level, "year": b, "area_code": base_b.index,
                              "change_exact": (base_b - base_a).to_numpy(),
                              "change_due_to_coefficients": (coef_only - base_a).reindex(base_b.index).to_numpy(),
                              "change_due_to_population": (pop_only - base_a).reindex(base_b.index).to_numpy()})
            d["change_interaction"] = d["change_exact"] - d["change_due_to_coefficients"] - d["change_due_to_population"]
            decomp.append(d)
    cy = cy.merge(pd.concat(decomp, ignore_index=True), on=["level", "year", "area_code"], how="left")
    cy = cy.sort_values(["level", "area_code", "year"]).reset_index(drop=True)
    cy["change"] = cy.groupby(["level", "area_code"])["capacities"].diff()
    cy = cy.sort_values(["level", "year", "area_code"]).reset_index(drop=True)

    # --- reallocation between areas, and its split
    re_rows = []
    for a, b in zip(years[:-1], years[1:]):
        for level, tab, key in (("health_council", "by_health_council", "health_council"),
                                ("municipality", "by_municipality", "municipality_code")):
            wa = getattr(chains[a], tab).set_index(key)["weighted_citizens"]
            wb = getattr(chains[b], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            wc = getattr(cross[(b, a)], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            wp = getattr(cross[(a, b)], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            row = {"year_from": a, "year_to": b, "level": level, "areas": len(wa),
                   "reallocation_share": reallocation_share(wa, wb),
                   "reallocation_coefficients": reallocation_share(wa, wc),
                   "reallocation_population": reallocation_share(wa, wp)}
            if level == "health_council":
                ca = chains[a].by_health_council.set_index(key)["capacities"]
                row.update({
                    "capacities_from": int(ca.sum()), "capacities_to": int(chains[b].by_health_council["capacities"].sum()),
                    "areas_rounded_changed": int((chains[b].by_health_council.set_index(key)["capacities"].reindex(ca.index) != ca).sum()),
                    "areas_rounded_changed_coefficients": int((cross[(b, a)].by_health_council.set_index(key)["capacities"].reindex(ca.index) != ca).sum()),
                    "areas_rounded_changed_population": int((cross[(a, b)].by_health_council.set_index(key)["capacities"].reindex(ca.index) != ca).sum()),
                    "capacities_moved": int(0.5 * (chains[b].by_health_council.set_index(key)["capacities"].reindex(ca.index) - ca).abs().sum()),
                })
            re_rows.append(row)
    realloc = pd.DataFrame(re_rows)

    # --- clinic minimum numbers: year on year, and the effect of the rounding step
    cc_rows, rs_rows = [], []
    steps = sorted(set([1, *rounding_steps, config.clinic_rounding_step]))
    for a, b in zip(years[:-1], years[1:]):
        pairs = _clinic_pairs(chains[a].clinics, chains[b].clinics, k)
        st = clinic_change_stats(pairs)
        cc_rows.append({"year_from": a, "year_to": b, "rounding_step": config.clinic_rounding_step, **st})
        for s in steps:
            st = clinic_change_stats(pairs, step=s, cap_=config.clinic_cap)
            rs_rows.append({"year_from": a, "year_to": b, "rounding_step": s,
                            **{c: st.get(c, np.nan) for c in ("clinics", "share_changed", "mean_abs_change",
                                                               "share_moved_50", "share_moved_5pct")}})
    clinic_changes = pd.DataFrame(cc_rows)
    rounding = pd.DataFrame(rs_rows)

    # --- bootstrap
    bhc = pd.concat([b.health_council for b in boots.values()], ignore_index=True) if boots else pd.DataFrame(columns=TABLE_COLUMNS["bootstrap_health_council"])
    bcl = pd.concat([b.clinics for b in boots.values()], ignore_index=True) if boots else pd.DataFrame(columns=TABLE_COLUMNS["bootstrap_clinics"])

    fit_by_year = pd.DataFrame(fitstats)
    summary = _summary(realloc, clinic_changes, bhc, bcl)
    return {"summary": summary, "coefficients_by_year": cb, "fit_by_year": fit_by_year, "capacity_by_year": cy,
            "reallocation": realloc, "clinic_changes": clinic_changes, "rounding_step_effect": rounding,
            "bootstrap_health_council": bhc, "bootstrap_clinics": bcl}


def _summary(realloc: pd.DataFrame, clinic_changes: pd.DataFrame, bhc: pd.DataFrame, bcl: pd.DataFrame) -> pd.DataFrame:
    """One row per year pair: the headline numbers of stability (the report's summary table)."""
    hc = realloc[realloc["level"] == "health_council"].set_index(["year_from", "year_to"])
    mu = realloc[realloc["level"] == "municipality"].set_index(["year_from", "year_to"])
    cc = clinic_changes.set_index(["year_from", "year_to"])
    s = pd.DataFrame({
        "reallocation_share": hc["reallocation_share"],
        "reallocation_coefficients": hc["reallocation_coefficients"],
        "reallocation_population": hc["reallocation_population"],
        "reallocation_share_municipalities": mu["reallocation_share"],
        "capacities_from": hc["capacities_from"], "capacities_to": hc["capacities_to"],
        "health_councils_changed": hc["areas_rounded_changed"],
        "clinics_compared": cc["clinics"],
        "clinic_share_moved_50": cc.get("share_moved_50"), "clinic_share_moved_5pct": cc.get("share_moved_5pct"),
        "clinic_rank_corr_mean_weight": cc.get("rank_corr_mean_weight"),
        "clinic_mean_abs_change": cc.get("mean_abs_change"),
    }).reset_index()
    if len(bhc):
        last = bhc[bhc["year"] == bhc["year"].max()]
        s["bootstrap_year"] = int(last["year"].iloc[0])
        s["health_councils_near_threshold"] = int(last["near_threshold"].sum())
        s["mean_prob_rounded_differs"] = float(last["prob_rounded_differs"].mean())
        if len(bcl):
            lc = bcl[bcl["year"] == bcl["year"].max()]
            s["clinics_prob_rounded_differs_over_half"] = float((lc["prob_rounded_differs"] > 0.5).mean())
    return s


#: Columns of every output table (the annual report's section 7 reads these).
TABLE_COLUMNS: dict[str, list[str]] = {
    "summary": ["year_from", "year_to", "reallocation_share", "reallocation_coefficients", "reallocation_population",
                "reallocation_share_municipalities", "capacities_from", "capacities_to", "health_councils_changed",
                "clinics_compared", "clinic_share_moved_50", "clinic_share_moved_5pct", "clinic_rank_corr_mean_weight",
                "clinic_mean_abs_change", "bootstrap_year", "health_councils_near_threshold", "mean_prob_rounded_differs",
                "clinics_prob_rounded_differs_over_half"],
    "coefficients_by_year": ["year", "term", "estimate", "std_error", "t", "p", "ci_low", "ci_high", "previous_estimate",
                             "change", "change_pct", "previous_outside_ci", "intervals_overlap"],
    "fit_by_year": ["year", "persons", "cells", "terms", "r_squared", "price_factor", "mean_use"],
    "capacity_by_year": ["level", "year", "area_code", "name", "health_council", "weighted_citizens",
                         "share_weighted_citizens", "capacities_exact", "capacities", "headroom", "change_exact",
                         "change_due_to_coefficients", "change_due_to_population", "change_interaction", "change"],
    "reallocation": ["year_from", "year_to", "level", "areas", "reallocation_share", "reallocation_coefficients",
                     "reallocation_population", "capacities_from", "capacities_to", "areas_rounded_changed",
                     "areas_rounded_changed_coefficients", "areas_rounded_changed_population", "capacities_moved"],
    "clinic_changes": ["year_from", "year_to", "rounding_step", "clinics", "share_changed", "mean_change",
                       "mean_abs_change", "p05", "p25", "median", "p75", "p95", "share_moved_50", "share_moved_5pct",
                       "rank_corr_mean_weight"],
    "rounding_step_effect": ["year_from", "year_to", "rounding_step", "clinics", "share_changed", "mean_abs_change",
                             "share_moved_50", "share_moved_5pct"],
    "bootstrap_health_council": ["year", "health_council", "draws", "region_from_2027", "capacities_exact", "capacities",
                                 "boot_mean", "boot_se", "ci_low", "ci_high", "capacities_ci_low", "capacities_ci_high",
                                 "prob_rounded_differs", "distance_to_threshold", "headroom", "prob_headroom_sign_differs",
                                 "near_threshold", "confidence"],
    "bootstrap_clinics": ["year", "clinic_id", "health_council", "practice_form", "capacities", "mean_weight",
                          "minimum_patients_exact", "minimum_patients", "boot_se", "ci_low", "ci_high",
                          "prob_rounded_differs", "near_threshold"],
}


def write_stability(result: StabilityResult, out: str | Path, extra: dict | None = None) -> Path:
    """Write the stability tables (CSV) and a manifest to ``out`` atomically (temporary folder, one rename)."""
    return _write_tables("stability", result.tables, TABLE_COLUMNS, result.config, result.files, result.timings,
                         result.facts, out, extra)


def _write_tables(command: str, tables: dict[str, pd.DataFrame], columns: dict[str, list[str]], config: ModelConfig,
                  files: dict[str, str], timings: dict[str, float], facts: dict[str, Any], out: str | Path,
                  extra: dict | None = None) -> Path:
    t0 = time.perf_counter()
    with AtomicFolder(Path(out)) as tmp:
        for name, cols in columns.items():
            df = tables[name]
            df = df.reindex(columns=cols) if set(cols) >= set(df.columns) else df
            write_csv(df, tmp / f"{name}.csv")
        manifest = {
            "command": command, "config": config.to_dict(), "inputs": files, "facts": facts,
            "versions": package_versions(), "commit": git_commit(),
            "timings_seconds": {**timings, "write": round(time.perf_counter() - t0, 4)},
            "outputs": {},
        }
        if extra:
            manifest.update(extra)
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return Path(out)


def read_tables(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read a stability or sensitivity output folder back: ``{table name: DataFrame}``."""
    d = Path(folder)
    return {p.stem: pd.read_csv(p, dtype={"clinic_id": str, "area_code": str}) for p in sorted(d.glob("*.csv"))}


# =============================================================================
# For the notebook and the annual report: the summary table and the figure
# =============================================================================


def parse_years(text: str | Iterable[int]) -> list[int]:
    """'2021-2025' -> [2021, ..., 2025]; '2023,2025' -> [2023, 2025]; a list stays a list."""
    if not isinstance(text, str):
        return sorted(int(y) for y in text)
    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return sorted(set(out))


def check_parameters(years: str | Iterable[int], bootstrap_draws: int = 200, seed: int = 20250630, alpha: float = 0.05,
                     rounding_steps: str | Iterable[int] = "10,50,100") -> dict[str, Any]:
    """Validate the stability notebook's/CLI's parameters; returns them parsed (years and steps as lists)."""
    try:
        ys = parse_years(years)
    except ValueError:
        raise ValueError(f"years must look like '2021-2025' or '2023,2025', got {years!r}") from None
    if len(ys) < 2:
        raise ValueError(f"stability needs at least two years, got {ys}")
    if isinstance(bootstrap_draws, bool) or not isinstance(bootstrap_draws, int) or bootstrap_draws < 0:
        raise ValueError(f"bootstrap_draws must be an integer >= 0, got {bootstrap_draws!r}")
    if 0 < bootstrap_draws < 20:
        raise ValueError("bootstrap_draws: use 0 (no bootstrap) or at least 20 draws")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ValueError(f"alpha must be between 0 and 0.5 (e.g. 0.05 for 95 % intervals), got {alpha!r}")
    steps = parse_years(rounding_steps)
    if not steps or min(steps) < 1:
        raise ValueError(f"rounding_steps must be positive integers, got {rounding_steps!r}")
    return {"years": ys, "bootstrap_draws": bootstrap_draws, "seed": seed, "alpha": float(alpha), "rounding_steps": steps}


def appendix_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The detail behind the summary, as readable tables: {caption: table} (no person counts below 5)."""
    out: dict[str, pd.DataFrame] = {}
    cb = tables["coefficients_by_year"]
    est = cb.pivot(index="term", columns="year", values="estimate")
    est = est.reindex(cb["term"].drop_duplicates())
    last = int(cb["year"].max())
    ci = cb[cb["year"] == last].set_index("term")
    est[f"{last} 95 % interval"] = [f"{ci.loc[t, 'ci_low']:,.0f} to {ci.loc[t, 'ci_high']:,.0f}" for t in est.index]
    est["years outside the previous year's interval"] = cb.groupby("term")["previous_outside_ci"].sum().reindex(est.index)
    out["A. Coefficients by year (DKK at the latest year's prices)"] = est.reset_index()
    fy = tables["fit_by_year"].rename(columns={"year": "Year", "persons": "Persons", "cells": "Cells", "terms": "Terms",
                                                "r_squared": "R²", "price_factor": "Price factor", "mean_use": "Mean use (DKK)"})
    out["B. Fit by year"] = fy
    cy = tables["capacity_by_year"]
    hc = cy[cy["level"] == "health_council"]
    t = hc.pivot(index="health_council", columns="year", values="capacities").astype("Int64")
    t.columns = [f"{c}" for c in t.columns]
    out["C. Capacities per health council by year (rounded up)"] = t.reset_index()
    d = hc.dropna(subset=["change_exact"])[["year", "health_council", "change_exact", "change_due_to_coefficients",
                                             "change_due_to_population", "change_interaction", "change"]]
    out["D. Change in capacities per health council and its split (exact capacities)"] = d
    mu = cy[cy["level"] == "municipality"]
    t = mu.pivot(index=["area_code", "name"], columns="year", values="capacities_exact").round(1)
    t.columns = [f"{c}" for c in t.columns]
    out["E. Indicative capacities per municipality by year"] = t.reset_index()
    out["F. Capacity moved between areas, and its split"] = tables["reallocation"]
    out["G. Clinic minimum numbers: year-on-year change (clinics with at least 5 listed patients)"] = tables["clinic_changes"]
    out["H. The clinic rounding step and how often numbers move"] = tables["rounding_step_effect"]
    bhc = tables.get("bootstrap_health_council")
    if bhc is not None and len(bhc):
        out["I. Cluster bootstrap: capacities per health council"] = bhc.drop(columns=["region_from_2027"], errors="ignore")
        bc = tables["bootstrap_clinics"]
        g = bc.groupby("health_council").agg(
            clinics=("clinic_id", "size"), median_se=("boot_se", "median"),
            share_near_threshold=("near_threshold", "mean"), mean_prob_rounded_differs=("prob_rounded_differs", "mean"))
        out["J. Cluster bootstrap: clinic minimum numbers by health council"] = g.reset_index()
    return out


def summary_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Readable summary (one row per year pair) for the report."""
    s = tables["summary"]
    out = pd.DataFrame({
        "Years": s["year_from"].astype(int).astype(str) + "→" + s["year_to"].astype(int).astype(str),
        "Capacity moved between health councils (%)": 100 * s["reallocation_share"],
        "… due to coefficients (%)": 100 * s["reallocation_coefficients"],
        "… due to population (%)": 100 * s["reallocation_population"],
        "Health councils whose number changes": s["health_councils_changed"],
        "Clinics compared": s["clinics_compared"],
        "Clinics moving ≥ 50 patients (%)": 100 * s["clinic_share_moved_50"],
        "Clinics moving ≥ 5 % (%)": 100 * s["clinic_share_moved_5pct"],
        "Rank correlation of clinic mean weights": s["clinic_rank_corr_mean_weight"],
    })
    return out


def figure_stability(tables: dict[str, pd.DataFrame]):
    """Capacities per health council, each year relative to the latest, with the latest year's bootstrap interval."""
    import matplotlib.pyplot as plt

    cy = tables["capacity_by_year"]
    hc = cy[cy["level"] == "health_council"]
    last = int(hc["year"].max())
    ref = hc[hc["year"] == last].set_index("health_council")["capacities_exact"]
    order = ref.sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(order) + 1.2))
    years = sorted(hc["year"].unique())
    cmap = plt.get_cmap("viridis", max(len(years), 2))
    bhc = tables.get("bootstrap_health_council")
    if bhc is not None and len(bhc) and (bhc["year"] == last).any():
        b = bhc[bhc["year"] == last].set_index("health_council").reindex(order)
        lo = 100 * (b["ci_low"] / ref.reindex(order) - 1)
        hi = 100 * (b["ci_high"] / ref.reindex(order) - 1)
        ax.hlines(range(len(order)), lo, hi, color="0.6", lw=6, alpha=0.6,
                  label=f"{last}: {100 * float(b['confidence'].iloc[0]):.0f} % bootstrap interval")
    for i, t in enumerate(years):
        v = hc[hc["year"] == t].set_index("health_council")["capacities_exact"].reindex(order)
        ax.plot(100 * (v / ref.reindex(order) - 1), range(len(order)), "o", ms=5, color=cmap(i), label=str(t))
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order)
    ax.set_xlabel(f"Capacities (exact) relative to {last} (%)")
    ax.set_title("Capacities per health council, refitted each year")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
