"""The model chain, docs/method.md steps 3-6: coefficients -> weights -> capacities -> clinic numbers.

The one implementation: the annual fit, every stability year, every sensitivity
variant, the bootstrap and the evaluation call :func:`chain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from model.config import ModelConfig
from model.core import capacity as cap
from model.core import clinics as cl
from model.core import weights as wt
from model.core.cells import FeatureCells, YearData, _feature_key, clinic_cells, design, features
from model.errors import ConfigError, EstimationError


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
    #: the national mean predicted use of the weight base (DKK): the price list's normaliser
    mean_predicted_use: float = float("nan")


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
        yd.cache[key] = wt.citizen_factors(_le(yd, config), yd.muni_codes, yd.pm, yd.sex, config)
    return yd.cache[key]


def cell_predictions(fc: FeatureCells, config: ModelConfig, params: pd.Series) -> np.ndarray:
    """Predicted use of each cell: x'b (for clinic fixed effects the intercept is the mean clinic effect)."""
    X = design(fc, config)
    missing = [t for t in params.index if t not in X.columns]
    if missing:
        raise ConfigError(f"coefficients for terms the configuration does not have: {missing}")
    return X[list(params.index)].to_numpy(dtype=np.float64) @ params.to_numpy(dtype=np.float64)


@dataclass
class AreaSums:
    """The coefficient-free part of steps 3-4 for one year and configuration.

    Per cell of the configuration's features (``C`` cells): ``n_cell``
    persons; per municipality x cell: ``muni_n`` persons and ``muni_f`` the
    sum of their life-expectancy factors (dense, municipalities x C); per
    clinic x cell (listed citizens only): ``clinic_n`` and ``clinic_f``
    (sparse, clinics x C).  Every weight sum of the chain is one of these
    matrices times the cells' predicted use, for one coefficient vector or
    for a matrix of bootstrap draws alike.
    """

    n_cell: np.ndarray
    muni_n: np.ndarray
    muni_f: np.ndarray
    clinic_n: sparse.csr_matrix
    clinic_f: sparse.csr_matrix

    @property
    def persons(self) -> int:
        return int(self.n_cell.sum())


def area_sums(yd: YearData, config: ModelConfig) -> AreaSums:
    """:class:`AreaSums` of the year for ``config``'s features and life-expectancy correction (cached on ``yd``)."""
    key = ("area_sums", _feature_key(config), config.life_expectancy_column, config.life_expectancy_by_sex,
           config.life_expectancy_correction)
    if key not in yd.cache:
        fc = features(yd, config)
        C, M, K = fc.n_cells, len(yd.muni_codes), len(yd.clinic_ids)
        factor = person_le_factor(yd, config)
        cell_p = fc.cell_of_atom[yd.atom].astype(np.int64)
        idx = yd.pm.astype(np.int64) * C + cell_p
        cc = clinic_cells(yd, config)
        f_rows = np.bincount(cc.person_row, weights=factor, minlength=len(cc.cell))
        listed = cc.clinic < K  # the slot after the last clinic holds the citizens with no clinic on record
        shape = (K, C)
        yd.cache[key] = AreaSums(
            n_cell=np.bincount(cell_p, minlength=C).astype(np.float64),
            muni_n=np.bincount(idx, minlength=M * C).reshape(M, C).astype(np.float64),
            muni_f=np.bincount(idx, weights=factor, minlength=M * C).reshape(M, C),
            clinic_n=sparse.csr_matrix((cc.moments[listed, 0], (cc.clinic[listed], cc.cell[listed])), shape=shape),
            clinic_f=sparse.csr_matrix((f_rows[listed], (cc.clinic[listed], cc.cell[listed])), shape=shape),
        )
    return yd.cache[key]


@dataclass
class WeightSums:
    """Step 3 summed to areas, for ``B`` coefficient vectors at once (last axis).

    ``mean_predicted`` (B): the national mean predicted use of the weight
    base; per municipality (M x B) and per clinic (clinics x B): the sums of
    ``predicted`` use, ``normalised`` weights (predicted / national mean) and
    ``weight`` (the life-expectancy-corrected weight, mean 1 nationally when
    normalising, :func:`model.core.weights.disease_weights`).  ``valid`` (B):
    every populated cell's predicted use is positive.
    """

    mean_predicted: np.ndarray
    predicted_municipality: np.ndarray
    normalised_municipality: np.ndarray
    weight_municipality: np.ndarray
    predicted_clinic: np.ndarray
    normalised_clinic: np.ndarray
    weight_clinic: np.ndarray
    valid: np.ndarray


def weight_sums(yd: YearData, config: ModelConfig, pred: np.ndarray) -> WeightSums:
    """Sums of predicted use and disease weights per municipality and clinic (docs/method.md step 3).

    In: the year, the configuration and the cells' predicted use ``pred``
    (cells, or cells x B for B coefficient draws).  Out: :class:`WeightSums`.
    The rule is :func:`model.core.weights.disease_weights`: weight =
    predicted x factor / mean(predicted x factor) when normalising, else /
    mean(predicted).  One coefficient vector is applied to the persons and
    summed with ``bincount`` (the annual fit's figures, summed in the
    persons' order); many at once go through :func:`area_sums` as matrix
    products (the bootstrap), the same sums in another order.
    """
    pred = np.asarray(pred, dtype=np.float64)
    fc = features(yd, config)
    if pred.ndim == 1 or pred.shape[1] == 1:
        p_cell = pred.reshape(-1)
        nm, nc = len(yd.muni_codes), len(yd.clinic_ids)
        predicted = p_cell[fc.cell_of_atom][yd.atom]
        w = wt.disease_weights(predicted, person_le_factor(yd, config), config)
        per_person = (predicted, w["normalised_weight"], w["weight"])
        by_m = [np.bincount(yd.pm, weights=v, minlength=nm)[:, None] for v in per_person]
        by_c = [np.bincount(yd.pc, weights=v, minlength=nc + 1)[:nc, None] for v in per_person]
        n_cell = np.bincount(fc.cell_of_atom, weights=yd.atom_moments[:, :, 0].sum(axis=1), minlength=fc.n_cells)
        return WeightSums(mean_predicted=np.array([predicted.mean()]), predicted_municipality=by_m[0],
                          normalised_municipality=by_m[1], weight_municipality=by_m[2], predicted_clinic=by_c[0],
                          normalised_clinic=by_c[1], weight_clinic=by_c[2],
                          valid=np.array([bool((p_cell[n_cell > 0] > 0).all())]))
    sums = area_sums(yd, config)
    N = float(sums.persons)
    mean_pred = (sums.n_cell @ pred) / N
    corrected_m = sums.muni_f @ pred
    scale = N / (corrected_m.sum(axis=0) if config.normalise_weights else sums.n_cell @ pred)
    pred_c = np.asarray(sums.clinic_n @ pred)
    return WeightSums(
        mean_predicted=mean_pred,
        predicted_municipality=sums.muni_n @ pred,
        normalised_municipality=(sums.muni_n @ pred) / mean_pred,
        weight_municipality=corrected_m * scale,
        predicted_clinic=pred_c,
        normalised_clinic=pred_c / mean_pred,
        weight_clinic=np.asarray(sums.clinic_f @ pred) * scale,
        valid=(pred[sums.n_cell > 0] > 0).all(axis=0),
    )


def chain(yd: YearData, config: ModelConfig, params: pd.Series) -> ChainResult:
    """docs/method.md steps 3-6 for the coefficients ``params`` on the year's population: the one implementation.

    In: the year (:class:`~model.core.cells.YearData`), the configuration and
    the coefficients.  Out: :class:`ChainResult` with the tables of
    ``capacity_by_municipality.csv``, ``capacity_by_health_council.csv`` and
    ``clinic_minimums.csv``.  Steps: predicted use per cell ->
    :func:`weight_sums` (step 3) -> :func:`model.core.capacity.capacity_by_municipality`
    (step 4) -> :func:`model.core.clinics.clinic_table` (step 6) ->
    :func:`model.core.capacity.capacity_by_health_council` (step 5).  The
    annual fit, every stability year, every sensitivity variant and the
    evaluation call it; the bootstrap calls :func:`draws`, which runs the
    same steps on a matrix of coefficient draws.
    """
    fc = features(yd, config)
    pred = cell_predictions(fc, config, params)
    if (pred[features(yd, config).cell_of_atom] <= 0).any():
        raise EstimationError("the coefficients predict non-positive use for some cells; weights would be meaningless")
    w = weight_sums(yd, config, pred)
    if not w.valid[0]:
        raise EstimationError("the coefficients predict non-positive use for some cells; weights would be meaningless")
    le = _le(yd, config)
    nm = len(yd.muni_codes)
    citizens = yd.citizens_by_municipality()
    unlisted = np.bincount(yd.pm[~yd.listed()], minlength=nm)
    by_muni = pd.DataFrame({"municipality_code": yd.muni_codes, "citizens": citizens, "residents": yd.residents,
                            "sum_weight": w.weight_municipality[:, 0]})
    bm = cap.capacity_by_municipality(by_muni, yd.municipalities, yd.projection, le, config)
    order = pd.Index(yd.muni_codes).get_indexer(bm["municipality_code"])
    bm.insert(bm.columns.get_loc("residents") + 1, "unlisted_citizens", unlisted[order])
    with np.errstate(invalid="ignore", divide="ignore"):
        n_m = np.where(citizens > 0, citizens, np.nan)[order]
        bm.insert(4, "mean_predicted_use", w.predicted_municipality[order, 0] / n_m)
        bm.insert(5, "mean_normalised_weight", w.normalised_municipality[order, 0] / n_m)
        bm.insert(6, "mean_weight", w.weight_municipality[order, 0] / n_m)
    muni_mean_w = pd.Series(w.weight_municipality[:, 0] / np.where(citizens > 0, citizens, np.nan), index=yd.muni_codes)
    listed_n = yd.listed_by_clinic()
    listed = pd.DataFrame({"clinic_id": yd.clinic_ids, "listed_patients": listed_n,
                           "sum_weight": w.weight_clinic[:, 0]})
    has = listed_n > 0
    listed = listed[has]
    ct = cl.clinic_table(yd.clinics, listed, muni_mean_w, yd.municipalities, config, island_reports=yd.island_reports)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_c = pd.Series(listed_n[has], index=listed["clinic_id"])
        ct.insert(ct.columns.get_loc("mean_weight"), "mean_predicted_use",
                  ct["clinic_id"].map(pd.Series(w.predicted_clinic[has, 0], index=listed["clinic_id"]) / n_c))
        ct.insert(ct.columns.get_loc("mean_weight"), "mean_normalised_weight",
                  ct["clinic_id"].map(pd.Series(w.normalised_clinic[has, 0], index=listed["clinic_id"]) / n_c))
    hc = cap.capacity_by_health_council(bm, yd.municipalities, ct, config)
    return ChainResult(year=yd.year, config=config, params=params, by_municipality=bm, by_health_council=hc,
                       clinics=ct, life_expectancy=le, mean_predicted_use=float(w.mean_predicted[0]))


@dataclass
class Draws:
    """Steps 3-6 for ``B`` coefficient draws (columns): the bootstrap's numbers beside a point :class:`ChainResult`.

    ``council_exact`` (health councils of ``point.by_health_council`` x B) and
    ``council`` (rounded); ``clinic_ids`` (clinics whose number comes from at
    least ``config.min_cell_size`` own listed patients), ``clinic_exact`` and
    ``clinic`` (rounded minimum patient numbers, clinics x B); ``valid`` (B).
    """

    council_exact: np.ndarray
    council: np.ndarray
    clinic_ids: list[str]
    clinic_exact: np.ndarray
    clinic: np.ndarray
    valid: np.ndarray


def draws(yd: YearData, config: ModelConfig, point: ChainResult, params: np.ndarray, terms: list[str]) -> Draws:
    """Steps 3-6 of :func:`chain` for many coefficient vectors at once (``params``: B x terms).

    The same rules as :func:`chain`, on matrices: :func:`weight_sums` (step 3),
    :func:`model.core.capacity.indicative_numbers` and
    :func:`model.core.capacity.round_capacity` (steps 4-5),
    :func:`model.core.clinics.minimum_patients` (step 6).  The projection
    factors, area floors and clinics' capacities are those of ``point``.
    """
    fc = features(yd, config)
    X = design(fc, config)[list(terms)].to_numpy(dtype=np.float64)
    pred = X @ np.asarray(params, dtype=np.float64).T  # cells x B
    w = weight_sums(yd, config, pred)
    bm = point.by_municipality.set_index("municipality_code").reindex(yd.muni_codes)
    weighted = w.weight_municipality * bm["projection_factor"].to_numpy()[:, None]
    _, indicative = cap.indicative_numbers(weighted, bm["area_floor"].to_numpy(dtype=np.float64)[:, None], config)
    names = point.by_health_council["health_council"].tolist()
    council = pd.Index(names).get_indexer(bm["health_council"])
    exact = np.zeros((len(names), pred.shape[1]))
    np.add.at(exact, council, indicative)
    rounded = cap.round_capacity(exact, config)
    exact[:, ~w.valid] = np.nan
    ct = point.clinics
    sel = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= config.min_cell_size)]
    ci = pd.Index(yd.clinic_ids).get_indexer(sel["clinic_id"])
    mean_w = w.weight_clinic[ci] / sel["listed_patients"].to_numpy(dtype=np.float64)[:, None]
    c_exact, c_round = cl.minimum_patients(sel["capacities"].to_numpy(dtype=np.float64)[:, None], mean_w, config)
    c_exact[:, ~w.valid] = np.nan
    return Draws(council_exact=exact, council=rounded, clinic_ids=sel["clinic_id"].tolist(), clinic_exact=c_exact,
                 clinic=c_round, valid=w.valid)
