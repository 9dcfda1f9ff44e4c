"""The data-generating process of use: true coefficients, the design, and each year's fees.

``E[y | X] = X @ coefficients x index_t / 100`` with multiplicative noise of
mean 1 (a Bernoulli "any use" rescaled by its probability times a Gamma);
regional and tender clinics record :data:`REGIONAL_TENDER_RECORDING_FACTOR`
of it; the chronic-care fee (*kroniker-ydelse*) replaces the contact part.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from model.inputs.synthetic.curves import _use_probability_table
from model.inputs.synthetic.evaluation_years import (
    CONTACT_BUDGET_SHARE_2027,
    FEE_STRUCTURE_YEAR,
    _structure_coefficients,
)
from model.inputs.synthetic.population import _Context
from model.inputs.synthetic.services import CONTACT_BUDGET_SHARE
from model.inputs.synthetic.truth import (
    _BAND_LABELS,
    AGE_BANDS,
    CHRONIC_FEE_SHARE_RANGE,
    DEFAULT_YEARS,
    FEE_INDEX_GROWTH,
    REGIONAL_TENDER_RECORDING_FACTOR,
    TRUE_COEFFICIENTS,
    ULTRASOUND_FEE_2025,
    ULTRASOUND_PATIENT_RATE,
    ULTRASOUND_YEARS,
    USE_GAMMA_SHAPE,
    age_band,
    fee_index,
)

_TERMS = tuple(TRUE_COEFFICIENTS)


def _agesex_coef_table(coefs: dict[str, float] | None = None) -> np.ndarray:
    """(2 sexes, 11 bands) of intercept + age-sex coefficient."""
    c = TRUE_COEFFICIENTS if coefs is None else coefs
    tab = np.zeros((2, len(AGE_BANDS)))
    for s, sname in ((0, "male"), (1, "female")):
        for b, lab in enumerate(_BAND_LABELS):
            tab[s, b] = c["Intercept"] + c.get(f"{sname}_{lab}", 0.0)
    return tab


def _extra_table(coefs: dict[str, float] | None = None) -> np.ndarray:
    """Sum of the non-age-sex terms for each of the 256 codes of :func:`_extra_code`."""
    c = TRUE_COEFFICIENTS if coefs is None else coefs
    code = np.arange(256)
    lab = (code >> 2) & 3
    som = (code >> 4) & 3
    return (c["origin_menapt"] * (code & 1) + c["widowed_divorced"] * ((code >> 1) & 1)
            + c["labour_temporarily_outside"] * (lab == 1) + c["labour_permanently_outside"] * (lab == 2)
            + c["somatic_2"] * (som == 1) + c["somatic_3plus"] * (som == 2)
            + c["psychiatric"] * ((code >> 6) & 1) + c["cancer_5y"] * ((code >> 7) & 1))


def _extra_code(menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric, cancer_5y) -> np.ndarray:
    """Code 0-255 packing the non-age-sex terms of each person (see :func:`_extra_table`)."""
    u8 = np.uint8
    som = np.asarray(somatic)
    code = np.asarray(menapt).astype(u8)
    code |= np.asarray(widowed_divorced).astype(u8) << u8(1)
    code |= (np.asarray(labour_temp).astype(u8) | (np.asarray(labour_perm).astype(u8) << u8(1))) << u8(2)
    code |= ((som == 2).astype(u8) | ((som >= 3).astype(u8) << u8(1))) << u8(4)
    code |= np.asarray(psychiatric).astype(u8) << u8(6)
    code |= np.asarray(cancer_5y).astype(u8) << u8(7)
    return code


def _true_mean(sex, age, origin_menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric,
               cancer_5y, coefs: dict[str, float] | None = None) -> np.ndarray:
    """X @ coefficients (default :data:`TRUE_COEFFICIENTS`, latest year's prices) from the characteristics."""
    tab = _agesex_coef_table(coefs)
    s = np.asarray(sex).astype(np.int64) - 1
    code = _extra_code(origin_menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric, cancer_5y)
    return tab[s, age_band(age)] + _extra_table(coefs)[code]


def true_coefficients(year: int, years: Iterable[int] = DEFAULT_YEARS) -> dict[str, float]:
    """The true coefficients in ``year``'s prices (scaled by the fee index of the panel ``years``).

    Before :data:`FEE_STRUCTURE_YEAR` these are :data:`TRUE_COEFFICIENTS`; from
    2027 each term is multiplied by :data:`FEE_STRUCTURE_2027` (the new fee
    structure: more capitation, lower consultation fees).
    """
    f = fee_index(years)[int(year)] / 100.0
    return {k: v * f for k, v in _structure_coefficients(year).items()}


def true_design(persons: pd.DataFrame) -> pd.DataFrame:
    """The base model's design matrix of ``persons`` (columns = :data:`TRUE_COEFFICIENTS` keys, floats)."""
    sex = persons["sex"].to_numpy().astype(np.int64)
    band = age_band(persons["age"].to_numpy())
    out = {"Intercept": np.ones(len(persons))}
    for s, sname in ((1, "male"), (2, "female")):
        for b, lab in enumerate(_BAND_LABELS):
            key = f"{sname}_{lab}"
            if key in TRUE_COEFFICIENTS:
                out[key] = ((sex == s) & (band == b)).astype(float)
    civ = persons["civil_status"].astype(str).to_numpy()
    lab = persons["labour_status"].astype(str).to_numpy()
    som = persons["somatic_diseases"].to_numpy().astype(np.int64)
    out["origin_menapt"] = (persons["origin_group"].astype(str).to_numpy() == "menapt").astype(float)
    out["widowed_divorced"] = np.isin(civ, ["E", "F", "L", "O"]).astype(float)
    out["labour_temporarily_outside"] = (lab == "temporarily_outside").astype(float)
    out["labour_permanently_outside"] = (lab == "permanently_outside").astype(float)
    out["somatic_2"] = (som == 2).astype(float)
    out["somatic_3plus"] = (som >= 3).astype(float)
    out["psychiatric"] = persons["psychiatric"].to_numpy().astype(float)
    out["cancer_5y"] = persons["cancer_5y"].to_numpy().astype(float)
    return pd.DataFrame({k: out[k] for k in _TERMS}, index=persons.index)


def true_expected_use(persons: pd.DataFrame, index: float | pd.Series | np.ndarray = 100.0,
                      year: int | None = None) -> np.ndarray:
    """E[gross_fee - local_services_fee + chronic_fee | X] for non-regional/tender patients (DKK).

    ``index`` is the fee index of each row's year (latest year = 100).
    ``year``: the fee structure to use (from :data:`FEE_STRUCTURE_YEAR` on, the
    coefficients times :data:`FEE_STRUCTURE_2027`); None: the ``year`` column
    of ``persons`` when it has one, else the structure before 2027.  Persons
    of years from 2027 must be described by their *true* somatic disease
    count: the recorded count of patients of :data:`UPCODING_CLINIC_SHARE`'s
    clinics is inflated (see ``synthetic_manifest.json``).
    """
    X = true_design(persons).to_numpy()
    if year is None and "year" in persons.columns:
        yrs = persons["year"].to_numpy().astype(np.int64)
        out = np.empty(len(persons))
        for y in np.unique(yrs):
            sel = yrs == y
            beta = np.array([_structure_coefficients(int(y))[k] for k in _TERMS])
            out[sel] = X[sel] @ beta
        return out * np.asarray(index, dtype=float) / 100.0
    c = _structure_coefficients(year if year is not None else FEE_STRUCTURE_YEAR - 1)
    beta = np.array([c[k] for k in _TERMS])
    return X @ beta * np.asarray(index, dtype=float) / 100.0


_USE_P = _use_probability_table()


def _use_probability(age: np.ndarray, sex: np.ndarray, sick: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """Probability of any use in the year: by sex and age, higher for the sick, times the municipal factor.

    ``contact``: the municipality's contact share over the share its age and sex structure predicts
    (``_Context.contact_factor``), so the contact share is met without counting the municipality's ages twice."""
    p = _USE_P[sex.astype(np.int64) - 1, age]
    p = np.where(sick, 1 - (1 - p) * 0.3, p)
    return np.clip(p * contact, 0.3, 0.995)


def _fees(rng: np.random.Generator, ch: dict[str, np.ndarray], ctx: _Context, muni: np.ndarray,
          clinic: np.ndarray, plan_arrays: dict[str, np.ndarray], year: int, idx_t: float,
          uptake: np.ndarray) -> dict[str, np.ndarray]:
    """One year's use and fees (øre) of persons with characteristics ``ch``.

    Returns ``base`` (gross fee without local services), ``chronic`` (the
    chronic-care lump sum), ``local`` (ultrasound), ``n_scans``,
    ``scan_unit``, ``y_true`` (use before the recording factor), ``enrolled``
    (on the chronic-care fee), ``unbilled`` (the contacts that fee replaced) and ``mu`` (true expected use, DKK)."""
    n = len(muni)
    age = ch["age"].astype(np.int64)
    sex = ch["sex"]
    civ = ch["civil"]
    widdiv = (civ >= 2) & (civ != 4)  # F, E, O, L (codes 2, 3, 5, 6)
    mu = _true_mean(sex, age, ch["origin"] == 1, widdiv, ch["labour"] == 2, ch["labour"] == 3,
                    ch["somatic"], ch["psychiatric"], ch["cancer_5y"], coefs=_structure_coefficients(year))
    mu *= idx_t / 100.0
    sick = (ch["somatic"] > 0) | ch["psychiatric"] | ch["cancer_5y"]
    p = _use_probability(age, sex, sick, ctx.contact_factor[muni])
    use = rng.random(n) < p
    g = rng.standard_gamma(USE_GAMMA_SHAPE, n, dtype=np.float32) / np.float32(USE_GAMMA_SHAPE)
    y_true = np.rint(np.where(use, mu * 100.0 / p * g, 0.0)).astype(np.int64)
    rt = plan_arrays["regional_tender"][clinic]
    y = np.where(rt, np.rint(y_true * REGIONAL_TENDER_RECORDING_FACTOR).astype(np.int64), y_true)
    enrolled = (ch["insurance"] == 1) & ch["t2d_copd"] & uptake
    frac = rng.uniform(*CHRONIC_FEE_SHARE_RANGE, n)
    # the chronic-care fee replaces the contact services: an enrolled citizen bills none of them, so the
    # observed gross fee lacks the contact part of their use (which the base model imputes, §4.4.3); the
    # lump sum pays for that part, give or take (frac)
    share = CONTACT_BUDGET_SHARE_2027 if int(year) >= FEE_STRUCTURE_YEAR else CONTACT_BUDGET_SHARE
    unbilled = np.where(enrolled, np.floor(y * share).astype(np.int64), 0)
    chronic = np.where(enrolled, np.floor(unbilled * frac).astype(np.int64), 0)
    # ultrasound: extra use at participating clinics in the agreement's years
    us_ok = plan_arrays["ultrasound"][clinic] & (year in ULTRASOUND_YEARS) & (y > 0)
    rate = ULTRASOUND_PATIENT_RATE * np.where(age < 16, 0.3, np.where((sex == 2) & (age >= 20) & (age < 45), 1.6,
                                                                     np.where(age >= 65, 1.3, 1.0)))
    scan = us_ok & (rng.random(n) < rate)
    n_scans = np.where(scan, 1 + rng.poisson(0.25, n), 0).astype(np.int64)
    unit = int(round(ULTRASOUND_FEE_2025 * 100 * idx_t / _index_2025(year, idx_t)))
    local = n_scans * unit
    base = y - unbilled
    return dict(base=base, chronic=chronic, local=local, n_scans=n_scans, scan_unit=unit, y_true=y_true,
                enrolled=enrolled, unbilled=unbilled, mu=mu)


def _index_2025(year: int, idx_t: float) -> float:
    """Fee index of 2025 on the same scale as ``idx_t`` (the ultrasound fee is a 2025 price)."""
    return idx_t * (1.0 + FEE_INDEX_GROWTH) ** (2025 - year)
