"""Features: from person rows to the model's 0/1 regressors, via cells.

docs/method.md step 2.  Every regressor is a dummy, so citizens with identical
characteristics form a *cell*; the regression only needs, per cell, the
number of citizens and the sums of use and squared use (see
:mod:`model.core.regression`).  This module

1. turns each person into a few small integer *factors* (age band, sex,
   origin term, civil status, labour-market status, somatic-disease bin,
   psychiatric, cancer) -- :func:`person_factors`;
2. packs the factors into one integer cell key per person and aggregates
   to cells with :func:`numpy.bincount` -- :func:`build_cells`;
3. expands the factors of the (few thousand) cells into the named dummy
   columns of the design -- :func:`design_matrix`, with names from
   :func:`term_names`.

Term names (base model): ``Intercept``; age x sex ``female_0-2`` ...
``male_85+`` (reference: ``male_25-34``); ``origin_menapt``;
``widowed_divorced``; ``labour_temporarily_outside``,
``labour_permanently_outside``; ``somatic_2``, ``somatic_3plus``;
``psychiatric``; ``cancer_5y``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import VARIANTS, ModelConfig, band_label
from model.errors import ConfigError, EstimationError, InputError

#: Factor columns, in the order they are packed into the cell key.
FACTORS = ("age_band", "sex", "origin", "civil", "labour", "somatic", "psychiatric", "cancer")
LABOUR_CODES = {"temporarily_outside": 1, "permanently_outside": 2}
CIVIL_AGE_GROUPS = ((16, "16-44"), (45, "45-64"), (65, "65+"))
SEX_LABEL = {1: "male", 2: "female"}


def _origin_unions(config: ModelConfig) -> list[set[str]]:
    return [set(t.split("+")) for t in config.origin_terms]


def origin_term_name(term: str) -> str:
    """``'menapt+other_non_western' -> 'origin_menapt_other_non_western'``."""
    return "origin_" + "_".join(term.split("+"))


def somatic_term_names(config: ModelConfig) -> list[str]:
    """Names of the somatic-disease dummies: bins (2, 3) give somatic_2, somatic_3plus."""
    b = config.somatic_bins
    names = []
    for i, lo in enumerate(b):
        hi = b[i + 1] - 1 if i + 1 < len(b) else None
        names.append(f"somatic_{lo}plus" if hi is None else (f"somatic_{lo}" if hi == lo else f"somatic_{lo}-{hi}"))
    return names


def civil_term_names(config: ModelConfig) -> list[str]:
    """Names of the civil-status dummies (one, or one per age group)."""
    if config.civil_status_by_age:
        return [f"{config.civil_status_term}_{label}" for _, label in CIVIL_AGE_GROUPS]
    return [config.civil_status_term]


def age_sex_term_names(config: ModelConfig) -> list[str]:
    """Names of the age(-by-sex) dummies, in cell order, reference included."""
    labels = config.age_band_labels()
    if config.include_sex:
        return [f"{SEX_LABEL[s]}_{lab}" for s in (1, 2) for lab in labels]
    return [f"age_{lab}" for lab in labels]


def reference_term(config: ModelConfig) -> str:
    """The age(-sex) cell absorbed by the intercept, e.g. ``male_25-34``."""
    i = config.age_bands.index(config.reference_age_band)
    lab = config.age_band_labels()[i]
    return f"{SEX_LABEL[config.reference_sex]}_{lab}" if config.include_sex else f"age_{lab}"


def term_names(config: ModelConfig) -> list[str]:
    """All regressors of the design, in order, starting with ``Intercept``."""
    ref = reference_term(config)
    names = ["Intercept"] + [t for t in age_sex_term_names(config) if t != ref]
    names += [origin_term_name(t) for t in config.origin_terms]
    names += civil_term_names(config)
    names += ["labour_temporarily_outside", "labour_permanently_outside"]
    names += somatic_term_names(config)
    names += [config.psychiatric_column, config.cancer_column]
    return names


def _isin(series: pd.Series, values) -> np.ndarray:
    """Boolean array: is each value in ``values``?  Works on the category codes
    of a categorical column (no per-row Python strings at 6 million rows)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        hit = np.append(series.cat.categories.astype(str).isin(list(values)), False)  # code -1 (missing) -> False
        return hit[codes]
    return series.astype(str).isin(list(values)).to_numpy()


def person_factors(persons: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Small-integer factors per person (same index as ``persons``).

    In: persons with the columns of ``data_schema/persons.schema.yaml``.
    Out: int8 columns :data:`FACTORS`:

    * ``age_band``: index into ``config.age_bands``;
    * ``sex``: 0 male / 1 female (0 for all when ``include_sex`` is False);
    * ``origin``: 0 none, k = k-th entry of ``config.origin_terms``;
    * ``civil``: 0 no, 1 yes, or 1..3 = age group of the civil term when by age;
    * ``labour``: 0 none, 1 temporarily outside, 2 permanently outside (only
      inside the labour-market age limits);
    * ``somatic``: 0 reference, k = k-th bin of ``config.somatic_bins``;
    * ``psychiatric``, ``cancer``: 0/1 from the configured columns.
    """
    age = persons["age"].to_numpy()
    out = {}
    out["age_band"] = (np.searchsorted(np.asarray(config.age_bands), age, side="right") - 1).astype(np.int8)
    out["sex"] = ((persons["sex"].to_numpy() == 2) & config.include_sex).astype(np.int8)

    origin = np.zeros(len(persons), dtype=np.int8)
    for k, groups in enumerate(_origin_unions(config), start=1):
        origin[_isin(persons["origin_group"], groups) & (origin == 0)] = k
    out["origin"] = origin

    civ = _isin(persons["civil_status"], config.civil_status_codes)
    if config.civil_status_by_age:
        grp = np.zeros(len(persons), dtype=np.int8)
        for k, (lo, _) in enumerate(CIVIL_AGE_GROUPS, start=1):
            grp[age >= lo] = k
        out["civil"] = np.where(civ, grp, 0).astype(np.int8)
    else:
        out["civil"] = civ.astype(np.int8)

    in_ages = age >= config.labour_age_min
    if config.labour_age_max is not None:
        in_ages &= age <= config.labour_age_max
    lab = np.zeros(len(persons), dtype=np.int8)
    lab[_isin(persons["labour_status"], ["temporarily_outside"]) & in_ages] = 1
    lab[_isin(persons["labour_status"], ["permanently_outside"]) & in_ages] = 2
    out["labour"] = lab

    som = persons["somatic_diseases"].to_numpy()
    out["somatic"] = np.searchsorted(np.asarray(config.somatic_bins), som, side="right").astype(np.int8)
    out["psychiatric"] = persons[config.psychiatric_column].to_numpy().astype(np.int8)
    out["cancer"] = persons[config.cancer_column].to_numpy().astype(np.int8)
    return pd.DataFrame(out, index=persons.index)


def _radices(config: ModelConfig) -> np.ndarray:
    return np.array([
        len(config.age_bands), 2, len(config.origin_terms) + 1,
        (len(CIVIL_AGE_GROUPS) if config.civil_status_by_age else 1) + 1,
        3, len(config.somatic_bins) + 1, 2, 2,
    ], dtype=np.int64)


def cell_keys(factors: pd.DataFrame, config: ModelConfig) -> np.ndarray:
    """One int64 key per person: the mixed-radix packing of its factors."""
    rad = _radices(config)
    key = np.zeros(len(factors), dtype=np.int64)
    for col, r in zip(FACTORS, rad):
        key = key * r + factors[col].to_numpy().astype(np.int64)
    return key


def unpack_keys(keys: np.ndarray, config: ModelConfig) -> pd.DataFrame:
    """Inverse of :func:`cell_keys`: factor columns for each key."""
    rad = _radices(config)
    keys = np.asarray(keys, dtype=np.int64).copy()
    cols = {}
    for col, r in zip(reversed(FACTORS), reversed(rad)):
        cols[col] = (keys % r).astype(np.int8)
        keys //= r
    return pd.DataFrame({c: cols[c] for c in FACTORS})


def design_matrix(factors: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """The 0/1 design (columns :func:`term_names`) for rows of factors (usually cells)."""
    names = term_names(config)
    X = pd.DataFrame(0, index=factors.index, columns=names, dtype=np.int8)
    X["Intercept"] = 1
    nb = len(config.age_bands)
    agesex = factors["age_band"].to_numpy().astype(int) + nb * factors["sex"].to_numpy().astype(int)
    all_as = age_sex_term_names(config)
    for i, name in enumerate(all_as):
        if name in X.columns:
            X.loc[agesex == i, name] = 1
    for k, t in enumerate(config.origin_terms, start=1):
        X[origin_term_name(t)] = (factors["origin"] == k).astype(np.int8)
    for k, name in enumerate(civil_term_names(config), start=1):
        X[name] = (factors["civil"] == k).astype(np.int8)
    X["labour_temporarily_outside"] = (factors["labour"] == 1).astype(np.int8)
    X["labour_permanently_outside"] = (factors["labour"] == 2).astype(np.int8)
    for k, name in enumerate(somatic_term_names(config), start=1):
        X[name] = (factors["somatic"] == k).astype(np.int8)
    X[config.psychiatric_column] = factors["psychiatric"].astype(np.int8)
    X[config.cancer_column] = factors["cancer"].astype(np.int8)
    return X


def describe_cells(factors: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Readable labels of each cell's characteristics (for the price list)."""
    labels = config.age_band_labels()
    out = pd.DataFrame(index=factors.index)
    out["age_band"] = [labels[i] for i in factors["age_band"]]
    out["sex"] = np.where(factors["sex"] == 1, "female", "male") if config.include_sex else "all"
    origin_names = ["other"] + list(config.origin_terms)
    out["origin"] = [origin_names[i] for i in factors["origin"]]
    civ_names = ["no"] + civil_term_names(config)
    out["civil_status"] = [civ_names[i] for i in factors["civil"]]
    out["labour"] = np.array(["-", "temporarily_outside", "permanently_outside"])[factors["labour"].to_numpy()]
    som_names = [f"0-{config.somatic_bins[0] - 1}"] + [n.removeprefix("somatic_") for n in somatic_term_names(config)]
    out["somatic_diseases"] = [som_names[i] for i in factors["somatic"]]
    out["psychiatric"] = factors["psychiatric"].astype(bool).to_numpy()
    out["cancer"] = factors["cancer"].astype(bool).to_numpy()
    return out


#: Somatic-disease groups of the chronic-care fee imputation: lower bounds of 2 and 3+ (0-1 is the first group;
#: one disease weighs as none, as in the regression's base terms).
IMPUTATION_SOMATIC_BINS = (2, 3)


def imputation_groups(age: np.ndarray, sex: np.ndarray, somatic: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, int]:
    """Comparison group of each citizen for the chronic-care fee imputation, and the number of groups.

    In: age (years), sex (1/2), number of selected somatic diseases.
    Out: ``(group, n_groups)``: age band (``config.age_bands``) x sex x somatic
    group (0-1, 2, 3+) with ``chronic_impute_by='age_sex_somatic'``; one group
    (0) with ``'national'``.
    """
    n = len(age)
    if config.chronic_impute_by == "national":
        return np.zeros(n, dtype=np.int64), 1
    band = np.searchsorted(np.asarray(config.age_bands), np.asarray(age), side="right") - 1
    som = np.searchsorted(np.asarray(IMPUTATION_SOMATIC_BINS), np.asarray(somatic), side="right")
    k = len(IMPUTATION_SOMATIC_BINS) + 1
    group = (band.astype(np.int64) * 2 + (np.asarray(sex).astype(np.int64) - 1)) * k + som
    return group, len(config.age_bands) * 2 * k


def contact_means(group: np.ndarray, n_groups: int, comparison_n: np.ndarray, comparison_contact: np.ndarray) -> np.ndarray:
    """Mean contact-service fee of the comparison citizens per imputation group (§4.4.3).

    In: each row's group, the number of comparison citizens in the row (in the
    estimation sample and not on the chronic-care fee; 0/1 for persons,
    counts for aggregated rows) and the sum of their ``contact_fee``.
    Out: one mean per group; a group without comparison citizens takes the
    mean of all comparison citizens (so no chronic-fee citizen is left at 0).
    """
    n = np.bincount(group, weights=comparison_n, minlength=n_groups)
    s = np.bincount(group, weights=comparison_contact, minlength=n_groups)
    if n.sum() <= 0:
        raise EstimationError("no citizens without the chronic-care fee in the estimation sample to impute contacts from")
    national = s.sum() / n.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, national)


def imputed_contact_fee(persons: pd.DataFrame, in_sample: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Per citizen: the contact-service fee imputed for citizens on the chronic-care fee (0 for the others).

    In: persons with ``age``, ``sex``, ``somatic_diseases``, ``chronic_fee``
    and ``contact_fee``; ``in_sample`` marks the estimation sample.
    Out: the mean ``contact_fee`` of comparable citizens without the fee
    (:func:`imputation_groups`, :func:`contact_means`) for each citizen with
    ``chronic_fee > 0``; 0 elsewhere.
    """
    if "contact_fee" not in persons.columns:
        raise InputError(missing_contact_fee_message())
    chronic = persons["chronic_fee"].to_numpy(dtype=np.float64) > 0
    group, k = imputation_groups(persons["age"].to_numpy(), persons["sex"].to_numpy(),
                                 persons["somatic_diseases"].to_numpy(), config)
    comp = (in_sample & ~chronic).astype(np.float64)
    means = contact_means(group, k, comp, comp * persons["contact_fee"].to_numpy(dtype=np.float64))
    return np.where(chronic, means[group], 0.0)


def missing_contact_fee_message() -> str:
    """What to say when the base model needs ``contact_fee`` and the persons table lacks it."""
    lump = [k for k, v in VARIANTS.items() if v["changes"].get("chronic_fee_treatment") == "lump_sum"]
    return ("persons: column 'contact_fee' is missing; the base model needs it to impute the contact services of "
            "citizens on the chronic-care fee (§4.4.3; derive it from services.parquet with `python -m model ingest`). "
            f"Variants that run without it: {', '.join(lump)}")


def outcome(persons: pd.DataFrame, config: ModelConfig, in_sample: np.ndarray | None = None) -> np.ndarray:
    """Dependent variable y of each citizen (DKK), docs/method.md step 1.

    ``chronic_fee_treatment='impute_contacts'`` (base): gross_fee + the
    contact fee imputed for citizens on the chronic-care fee
    (:func:`imputed_contact_fee`; ``in_sample`` marks the estimation sample the
    comparison citizens come from, default everyone).  ``'lump_sum'``:
    gross_fee + chronic_fee_share x chronic_fee.  Less local services when
    ``exclude_local_services``.
    """
    imputed = None
    if config.chronic_fee_treatment == "impute_contacts":
        mask = np.ones(len(persons), bool) if in_sample is None else np.asarray(in_sample, bool)
        imputed = imputed_contact_fee(persons, mask, config)
    def fee(c: str, needed: bool) -> np.ndarray | None:
        return persons[c].to_numpy(dtype=np.float64) if needed else None

    return outcome_from_fees(fee("gross_fee", True), fee("chronic_fee", imputed is None),
                             fee("local_services_fee", config.exclude_local_services), imputed, config)


def outcome_from_fees(gross: np.ndarray, chronic: np.ndarray | None, local: np.ndarray | None, imputed: np.ndarray | None,
                      config: ModelConfig) -> np.ndarray:
    """The rule of docs/method.md step 1 on arrays: y = gross fee + the chronic-care part - [local services].

    The chronic-care part is the imputed contact fee ``imputed`` (base,
    ``chronic_fee_treatment='impute_contacts'``) or ``chronic_fee_share`` x
    the chronic-care fee (``'lump_sum'``); local services are subtracted when
    ``exclude_local_services``.  Used on persons (:func:`outcome`) and on a
    year's arrays (:func:`model.core.cells.outcome`).
    """
    if config.chronic_fee_treatment == "impute_contacts":
        if imputed is None:
            raise ConfigError("the imputed contact fee is needed for chronic_fee_treatment='impute_contacts'")
        y = gross + imputed
    else:
        y = gross + float(config.chronic_fee_share) * chronic
    if config.exclude_local_services:
        y = y - local
    return y


__all__ = [
    "FACTORS", "cell_keys", "unpack_keys", "design_matrix", "describe_cells",
    "outcome", "outcome_from_fees", "person_factors", "term_names", "reference_term", "band_label", "imputation_groups",
    "contact_means", "imputed_contact_fee", "IMPUTATION_SOMATIC_BINS",
]
