"""The price list (*takstliste*) and each clinic's own calculation: the fit in terms a GP can follow.

The price list has one row per admissible combination of characteristics
(a cell of the model's features) with its predicted use and normalised
weight; a clinic's profile counts its listed patients carrying each term of
the regression, so coefficient x patients / listed patients adds up to the
clinic's mean predicted use.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.core import features as ft


def price_list_keys(config: ModelConfig) -> np.ndarray:
    """Cell keys of every admissible combination of characteristics (the price list's rows)."""
    rad = ft._radices(config)
    grid = pd.DataFrame(list(itertools.product(*[range(r) for r in rad])), columns=list(ft.FACTORS)).astype(np.int8)
    if not config.include_sex:
        grid = grid[grid["sex"] == 0]
    bands = np.asarray(config.age_bands)
    lo = bands[grid["age_band"].to_numpy()]
    hi = np.append(bands[1:] - 1, 200)[grid["age_band"].to_numpy()]
    lab_max = config.labour_age_max if config.labour_age_max is not None else 200
    labour_ok = (grid["labour"] == 0) | ((hi >= config.labour_age_min) & (lo <= lab_max))
    if config.civil_status_by_age:
        glo = np.array([0] + [a for a, _ in ft.CIVIL_AGE_GROUPS])
        ghi = np.array([200] + [a - 1 for a, _ in ft.CIVIL_AGE_GROUPS[1:]] + [200])
        c = grid["civil"].to_numpy()
        civil_ok = (c == 0) | ((hi >= glo[c]) & (lo <= ghi[c]))
    else:
        civil_ok = np.ones(len(grid), bool)
    grid = grid[labour_ok & civil_ok]
    return np.sort(ft.cell_keys(grid, config))


def price_list(fit, config: ModelConfig, cell_keys: np.ndarray, persons: np.ndarray, mean_predicted_use: float
               ) -> pd.DataFrame:
    """The price list: every admissible cell with its persons, predicted use and normalised weight.

    In: the fit, the configuration, the populated cells' keys and persons per
    cell (group 1), and the national mean predicted use (the normaliser).
    Out: ``weights_by_cell.csv``: cell, the cell's characteristics
    (:func:`model.core.features.describe_cells`), persons, predicted_use,
    normalised_weight (predicted use / national mean).
    """
    pk = price_list_keys(config)
    pf = ft.unpack_keys(pk, config)
    pred = np.asarray(fit.predict(ft.design_matrix(pf, config)), dtype=np.float64)
    n = pd.Series(np.asarray(persons), index=cell_keys).reindex(pk).fillna(0).astype(np.int64).to_numpy()
    price = ft.describe_cells(pf, config)
    price.insert(0, "cell", pk)
    price["persons"] = n
    price["predicted_use"] = pred
    price["normalised_weight"] = pred / mean_predicted_use
    return price


def clinic_profiles(counts, fc, clinic_ids: list[str], fit, config: ModelConfig) -> pd.DataFrame:
    """How many of each clinic's listed patients carry each term of the price list.

    In: listed patients per clinic x cell (:func:`model.core.chain.listed_cell_counts`), the year's feature cells
    (:class:`model.core.cells.FeatureCells`), the clinic IDs and the fit.
    Out: long table clinic_id, term, patients, coefficient, contribution
    (= coefficient x patients / listed patients).  The contributions of a
    clinic add up to its mean predicted use: the clinic's own calculation
    in terms a GP can follow.  Counts below 5 are kept here (the run folder
    stays on the secure server); the clinic sheets suppress them.
    """
    X = ft.design_matrix(fc.factors, config).to_numpy(dtype=np.float64)  # cells x terms
    by_term = np.rint(np.asarray(counts @ X)).astype(np.int64)  # clinics x terms: patients carrying each term
    terms = ft.term_names(config)
    listed = by_term[:, 0]
    clinic, term = np.nonzero(by_term)
    ids = np.asarray(clinic_ids, dtype=object)
    patients = by_term[clinic, term]
    coef = fit.params.reindex(terms).to_numpy()[term]
    return pd.DataFrame({
        "clinic_id": ids[clinic], "term": np.asarray(terms, dtype=object)[term], "patients": patients,
        "coefficient": coef, "contribution": coef * patients / listed[clinic],
    })
