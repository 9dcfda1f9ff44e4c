"""One year of persons reduced to atoms and cells: the sufficient statistics of every fit.

A citizen's *atom* is the combination of raw characteristics the model can use
(age, sex, civil status, origin, labour status, diseases, chronic-care fee) and
their clinic's practice form; every feature configuration's cells are unions of
atoms, so one pass over the persons serves every fit, variant and bootstrap draw.
In: column arrays of one year (from :mod:`model.inputs.panel`) or data frames.
Out: :class:`YearData`, :class:`FeatureCells`, :class:`ClinicCells` and the
engine's exact cell-level fit :func:`fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from model.config import ENGINE_OPTIONAL_COLUMNS, ENGINE_PERSON_COLUMNS, PRACTICE_FORMS, TEXT_PERSON_COLUMNS, ModelConfig
from model.core import features as ft
from model.core.regression import CellOLSResults, fit_cells
from model.core.within import _fit_within_cells
from model.errors import ConfigError, EstimationError, InputError

#: The per-form sums' slots: the practice forms, then citizens with no clinic on record (always in the fit).
FORM_SLOTS = PRACTICE_FORMS + ("no_clinic",)
#: Configuration fields that change factors or cell keys (one feature computation per distinct set).
FEATURE_FIELDS = ("age_bands", "include_sex", "origin_terms", "civil_status_codes", "civil_status_by_age",
                  "labour_age_min", "labour_age_max", "somatic_bins", "psychiatric_column", "cancer_column")
#: Raw person columns that make up an atom (everything any feature configuration reads; ``chronic`` is
#: derived: on the chronic-care fee, chronic_fee > 0, which the outcome's imputation needs).
ATOM_COLUMNS = ("age", "sex", "civil_status", "origin_group", "labour_status", "somatic_diseases",
                "psychiatric", "psychiatric_extended", "cancer_5y", "cancer_10y", "chronic")
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
    #: days resident in the year per person (``days_resident``), when the persons table has it
    days: np.ndarray | None = None
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

    def unlisted_by_municipality(self) -> np.ndarray:
        """Citizens with no clinic on record per municipality (they count in the need, not in clinic figures)."""
        key = ("unlisted_m",)
        if key not in self.cache:
            self.cache[key] = np.bincount(self.pm[~self.listed()], minlength=len(self.muni_codes))
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
        raise InputError("persons refer to unknown municipalities: validate the data folder first")
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
        raise InputError(f"clinics.csv: unknown practice form(s) {bad}; expected {PRACTICE_FORMS}")
    clinic_form = np.append(clinic_form, FORM_SLOTS.index("no_clinic"))
    n = len(pm)
    if n == 0:
        raise InputError(f"no persons in {year}")

    # --- atoms: mixed-radix key of the raw characteristics, indexed densely when small
    digits, radices, decode = [], [], {}
    for c in ATOM_COLUMNS:
        if c in TEXT_PERSON_COLUMNS:
            codes, vals = cols[c]
            if (codes < 0).any():
                raise InputError(f"persons: missing values in {c}")
            digits.append(codes)
            radices.append(max(len(vals), 1))
            decode[c] = np.asarray(vals, dtype=object)
        else:
            a = np.asarray(cols[c])
            if a.dtype == bool:
                a = a.view(np.int8)
            if a.min() < 0:
                raise InputError(f"persons: negative values in {c}")
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
        days=(np.asarray(cols["days_resident"]) if "days_resident" in cols else None),
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


def text_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(integer code per row, the values) of a text column; a missing or empty value has code -1.

    A categorical column is read through its categories, not its rows.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        values = [str(v) for v in s.cat.categories]
    else:
        codes, uniques = pd.factorize(s, sort=True)
        codes = codes.astype(np.int64)
        values = [str(v) for v in uniques]
    if "" in values:
        codes = np.where(codes == values.index(""), -1, codes)
    return codes, values


def year_from_inputs(inputs: Any, year: int, insurance_group: int = 1, factor: float = 1.0) -> YearData:
    """:class:`YearData` from data frames: ``inputs`` has the attributes of :class:`model.inputs.tables.Inputs`
    (``persons``, ``municipalities``, ``clinics``, ``projection``, ``residents``, ``island_reports``, ``files``)."""
    p = inputs.persons
    in_year = (p["year"] == year).to_numpy() if "year" in p.columns else np.ones(len(p), bool)
    municipality = text_codes(p["municipality_code"])  # read once: the residents' count and the persons' codes
    residents = inputs.residents if inputs.residents is not None else (municipality[0][in_year], municipality[1])
    keep = in_year & (p["insurance_group"] == insurance_group).to_numpy()
    if not keep.any():
        raise EstimationError(f"no persons in insurance group {insurance_group} in {year}")
    every = bool(keep.all())
    cols: dict[str, Any] = {}
    for c in ENGINE_PERSON_COLUMNS:
        if c == "insurance_group" or (c in ENGINE_OPTIONAL_COLUMNS and c not in p.columns):
            continue
        if c in TEXT_PERSON_COLUMNS:
            codes, values = municipality if c == "municipality_code" else text_codes(p[c])
            cols[c] = (codes if every else codes[keep], values)
        else:
            v = p[c].to_numpy()
            cols[c] = v if every else v[keep]
    cols["chronic"] = np.asarray(cols["chronic_fee"], dtype=np.float64) > 0
    return _build_year(year, factor, cols, inputs.municipalities, inputs.clinics, inputs.projection, inputs.files,
                       residents=residents, island_reports=inputs.island_reports)


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


def cell_persons(yd: YearData, fc: FeatureCells) -> np.ndarray:
    """Persons per cell of ``fc`` (summed from the atoms: no pass over the persons)."""
    return np.bincount(fc.cell_of_atom, weights=yd.atom_moments[:, :, 0].sum(axis=1), minlength=fc.n_cells)


def design(fc: FeatureCells, config: ModelConfig) -> pd.DataFrame:
    """The 0/1 design (columns :func:`model.core.features.term_names`) of the cells (cached on the cells)."""
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
            raise ConfigError("the imputed contact fee per row is needed for chronic_fee_treatment='impute_contacts'")
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
    estimation sample (:func:`model.core.features.imputation_groups`,
    :func:`model.core.features.contact_means`, as :func:`model.core.features.outcome`).
    """
    key = ("imputed", config.chronic_impute_by, tuple(config.age_bands), tuple(config.excluded_practice_forms))
    if key not in yd.cache:
        if not yd.has_contact_fee:
            raise InputError(ft.missing_contact_fee_message())
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
    """Per-person y of ``config`` (:func:`model.core.features.outcome_from_fees`, at the panel's price level)."""
    g, c, l_, _ = yd.fees
    return ft.outcome_from_fees(g, c, l_, imputed_by_atom(yd, config)[yd.atom] if _imputing(config) else None, config)


def clinic_cell_sums(yd: YearData, cc: ClinicCells, config: ModelConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def person_year_shares(days: np.ndarray | None, year: int) -> np.ndarray:
    """Each citizen's share of ``year`` resident: ``days_resident`` / days in the year (docs/method.md step 1).

    Raises :class:`~model.errors.InputError` when the column is absent or a
    value lies outside 1..days in the year.
    """
    if days is None:
        raise InputError("persons: column 'days_resident' is missing; the person-year weighted fit "
                         "(person_year_weights) needs it")
    days = np.asarray(days, dtype=np.float64)
    year_days = 366.0 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365.0
    if not np.isfinite(days).all() or (days <= 0).any() or (days > year_days).any():
        raise InputError(f"persons: days_resident must be between 1 and {year_days:.0f} in {year}")
    return days / year_days


def _fit_person_years(yd: YearData, fc: FeatureCells, X: pd.DataFrame, terms: list[str], config: ModelConfig) -> CellOLSResults:
    """The person-year weighted fit (``config.person_year_weights``): use per year at risk, weighted by the share.

    Weighted least squares on cells: n = sum of shares, sum_y = sum of use,
    sum_y2 = sum of use² / share over the estimation sample; standard errors
    then treat the person-years as observations.
    """
    if config.clinic_fixed_effects or config.cov_type == "cluster":
        raise ConfigError("the person-year weighted fit is not combined with clinic fixed effects or clustered errors")
    share = person_year_shares(yd.days, config.year)
    mask = sample_mask(yd, config)
    y = np.where(mask, outcome(yd, config), 0.0)
    w = np.where(mask, share, 0.0)
    cell_p = fc.cell_of_atom[yd.atom]
    n = np.bincount(cell_p, weights=w, minlength=fc.n_cells)
    sy = np.bincount(cell_p, weights=y, minlength=fc.n_cells)
    syy = np.bincount(cell_p, weights=y * y / share, minlength=fc.n_cells)
    return fit_cells(X.assign(n=n, sum_y=sy, sum_y2=syy), terms, cov_type=config.cov_type)


def fit(yd: YearData, config: ModelConfig) -> CellOLSResults:
    """Fit ``config`` on the year: exact OLS on cells (split by clinic for clustered SEs or clinic fixed effects)."""
    fc = features(yd, config)
    X = design(fc, config)
    terms = ft.term_names(config)
    if config.person_year_weights:
        return _fit_person_years(yd, fc, X, terms, config)
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
    n, sy, syy = cell_sums(yd, fc, config)
    frame = X.assign(n=n, sum_y=sy, sum_y2=syy)
    return fit_cells(frame, terms, cov_type=config.cov_type)
