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
from model.core.cells import FeatureCells, YearData, _feature_key, cell_persons, clinic_cells, design, features
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
    persons; the sums of the life-expectancy factors per municipality x cell
    (``muni_f``, dense) and per clinic x cell of the listed (``clinic_f``,
    sparse).  A matrix of draws' weight sums is one of these matrices times
    the cells' predicted use (:func:`weight_sums`).
    """

    n_cell: np.ndarray
    muni_f: np.ndarray
    clinic_f: sparse.csr_matrix

    @property
    def persons(self) -> int:
        return int(self.n_cell.sum())


def listed_cell_counts(yd: YearData, config: ModelConfig) -> sparse.csr_matrix:
    """Listed citizens per clinic x cell of ``config``'s features (sparse; from :func:`~model.core.cells.clinic_cells`)."""
    fc, cc = features(yd, config), clinic_cells(yd, config)
    listed = cc.clinic < len(yd.clinic_ids)  # the slot after the last clinic: citizens with no clinic on record
    return sparse.csr_matrix((cc.moments[listed, 0], (cc.clinic[listed], cc.cell[listed])),
                             shape=(len(yd.clinic_ids), fc.n_cells))


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
        yd.cache[key] = AreaSums(
            n_cell=cell_persons(yd, fc),
            muni_f=np.bincount(idx, weights=factor, minlength=M * C).reshape(M, C),
            clinic_f=sparse.csr_matrix((f_rows[listed], (cc.clinic[listed], cc.cell[listed])), shape=(K, C)),
        )
    return yd.cache[key]


@dataclass
class WeightSums:
    """Step 3 summed to areas, for ``B`` coefficient vectors at once (last axis).

    ``mean_predicted`` (B): the national mean predicted use of the weight
    base; ``municipality`` (M x B) and ``clinic`` (clinics x B): the sums of
    the life-expectancy-corrected weights (mean 1 nationally when
    normalising, :func:`model.core.weights.disease_weights`).  ``valid``
    (B): every populated cell's predicted use is positive.
    """

    mean_predicted: np.ndarray
    municipality: np.ndarray
    clinic: np.ndarray
    valid: np.ndarray


def weight_sums(yd: YearData, config: ModelConfig, pred: np.ndarray) -> WeightSums:
    """Sums of the disease weights per municipality and clinic (docs/method.md step 3).

    In: the year, the configuration and the cells' predicted use ``pred``
    (cells, or cells x B for B coefficient draws).  Out: :class:`WeightSums`.
    The rule is :func:`model.core.weights.disease_weights`: weight =
    predicted x factor / mean(predicted x factor) when normalising, else /
    mean(predicted).  One coefficient vector is applied to the persons and
    summed with ``bincount`` (summed in the persons' order); many at once go
    through :func:`area_sums` as matrix products (the bootstrap), the same
    sums in another order.
    """
    pred = np.asarray(pred, dtype=np.float64)
    fc = features(yd, config)
    if pred.ndim == 1 or pred.shape[1] == 1:
        p_cell = pred.reshape(-1)
        predicted = p_cell[fc.cell_of_atom][yd.atom]
        weight = wt.disease_weights(predicted, person_le_factor(yd, config), config)["weight"]
        nc = len(yd.clinic_ids)
        return WeightSums(mean_predicted=np.array([predicted.mean()]),
                          municipality=np.bincount(yd.pm, weights=weight, minlength=len(yd.muni_codes))[:, None],
                          clinic=np.bincount(yd.pc, weights=weight, minlength=nc + 1)[:nc, None],
                          valid=np.array([bool((p_cell[cell_persons(yd, fc) > 0] > 0).all())]))
    sums = area_sums(yd, config)
    N = float(sums.persons)
    corrected_m = sums.muni_f @ pred
    scale = N / (corrected_m.sum(axis=0) if config.normalise_weights else sums.n_cell @ pred)
    return WeightSums(mean_predicted=(sums.n_cell @ pred) / N, municipality=corrected_m * scale,
                      clinic=np.asarray(sums.clinic_f @ pred) * scale, valid=(pred[sums.n_cell > 0] > 0).all(axis=0))


#: ModelConfig fields that act only after the weights (steps 4-6): changing them needs no refit and no pass
#: over the persons (:func:`what_if`). Every other field changes the fit or the weights.
CAPACITY_STAGE_FIELDS: tuple[str, ...] = ("citizens_per_capacity", "km2_per_capacity", "rounding", "rounding_tolerance",
                                          "island_min_patients", "clinic_rounding_step", "clinic_cap",
                                          "national_goal_gps", "min_cell_size")


@dataclass(frozen=True)
class AreaWeights:
    """Step 3's result summed to areas: everything steps 4-6 need, without a person-level array.

    Per municipality (in ``muni_codes`` order): ``citizens``, ``residents``,
    ``unlisted``, ``sum_weight``; per clinic (``clinic_ids`` order):
    ``listed`` and ``sum_weight_clinic``; the life-expectancy table, the
    reference tables and the national mean predicted use. A few hundred KB
    at national scale: :func:`capacity_tables` turns it into the output
    tables in milliseconds (the what-if path).
    """

    year: int
    muni_codes: list[str]
    clinic_ids: list[str]
    citizens: np.ndarray
    residents: np.ndarray
    unlisted: np.ndarray
    sum_weight: np.ndarray
    listed: np.ndarray
    sum_weight_clinic: np.ndarray
    life_expectancy: pd.DataFrame
    municipalities: pd.DataFrame
    projection: pd.DataFrame
    clinics: pd.DataFrame
    island_reports: pd.DataFrame | None
    mean_predicted_use: float
    params: pd.Series


def area_weights(yd: YearData, config: ModelConfig, params: pd.Series) -> AreaWeights:
    """docs/method.md step 3 for the coefficients ``params``, summed per municipality and clinic.

    In: the year, the configuration, the coefficients. Out: :class:`AreaWeights`.
    Raises :class:`~model.errors.EstimationError` when a populated cell's predicted use is not positive.
    """
    pred = cell_predictions(features(yd, config), config, params)
    w = weight_sums(yd, config, pred)
    if not w.valid[0]:
        raise EstimationError("the coefficients predict non-positive use for some cells; weights would be meaningless")
    return AreaWeights(
        year=yd.year, muni_codes=list(yd.muni_codes), clinic_ids=list(yd.clinic_ids),
        citizens=yd.citizens_by_municipality(), residents=yd.residents, unlisted=yd.unlisted_by_municipality(),
        sum_weight=w.municipality[:, 0], listed=yd.listed_by_clinic(), sum_weight_clinic=w.clinic[:, 0],
        life_expectancy=_le(yd, config), municipalities=yd.municipalities, projection=yd.projection,
        clinics=yd.clinics, island_reports=yd.island_reports, mean_predicted_use=float(w.mean_predicted[0]),
        params=params)


def capacity_tables(aw: AreaWeights, config: ModelConfig) -> ChainResult:
    """docs/method.md steps 4-6 from the area sums of step 3: capacities per municipality and health council,
    clinic minimum patient numbers.

    In: :class:`AreaWeights` and the configuration (only its capacity-stage
    fields, :data:`CAPACITY_STAGE_FIELDS`, may differ from the configuration
    the weights were computed with). Out: :class:`ChainResult`.
    """
    citizens = aw.citizens
    by_muni = pd.DataFrame({"municipality_code": aw.muni_codes, "citizens": citizens, "residents": aw.residents,
                            "sum_weight": aw.sum_weight})
    bm = cap.capacity_by_municipality(by_muni, aw.municipalities, aw.projection, aw.life_expectancy, config)
    order = pd.Index(aw.muni_codes).get_indexer(bm["municipality_code"])
    bm.insert(bm.columns.get_loc("residents") + 1, "unlisted_citizens", aw.unlisted[order])
    with np.errstate(invalid="ignore", divide="ignore"):
        muni_mean_w = aw.sum_weight / np.where(citizens > 0, citizens, np.nan)
    bm.insert(4, "mean_weight", muni_mean_w[order])
    listed = pd.DataFrame({"clinic_id": aw.clinic_ids, "listed_patients": aw.listed, "sum_weight": aw.sum_weight_clinic})
    listed = listed[aw.listed > 0]
    ct = cl.clinic_table(aw.clinics, listed, pd.Series(muni_mean_w, index=aw.muni_codes), aw.municipalities, config,
                         island_reports=aw.island_reports)
    hc = cap.capacity_by_health_council(bm, aw.municipalities, ct, config)
    return ChainResult(year=aw.year, config=config, params=aw.params, by_municipality=bm, by_health_council=hc,
                       clinics=ct, life_expectancy=aw.life_expectancy, mean_predicted_use=aw.mean_predicted_use)


def chain(yd: YearData, config: ModelConfig, params: pd.Series) -> ChainResult:
    """docs/method.md steps 3-6 for the coefficients ``params`` on the year's population: the one implementation.

    In: the year (:class:`~model.core.cells.YearData`), the configuration and
    the coefficients.  Out: :class:`ChainResult` with the tables of
    ``capacity_by_municipality.csv``, ``capacity_by_health_council.csv`` and
    ``clinic_minimums.csv``.  Steps: predicted use per cell ->
    :func:`weight_sums` (step 3, :func:`area_weights`) -> :func:`capacity_tables`:
    :func:`model.core.capacity.capacity_by_municipality` (step 4) ->
    :func:`model.core.clinics.clinic_table` (step 6) ->
    :func:`model.core.capacity.capacity_by_health_council` (step 5).  The
    annual fit, every stability year, every sensitivity variant and the
    evaluation call it; the bootstrap calls :func:`draws`, which runs the
    same steps on a matrix of coefficient draws; :func:`what_if` reruns steps 4-6 alone.
    """
    return capacity_tables(area_weights(yd, config, params), config)


def what_if(aw: AreaWeights, config: ModelConfig, **changes) -> ChainResult:
    """Steps 4-6 again with capacity-stage settings changed: the what-if path (milliseconds, no persons).

    In: the area sums of a fit (:func:`area_weights`), the configuration they
    were computed with and the changes, e.g. ``citizens_per_capacity=1500,
    km2_per_capacity=None, rounding="nearest", island_min_patients=300,
    clinic_rounding_step=100, clinic_cap=2000`` (fields of
    :data:`CAPACITY_STAGE_FIELDS`, validated by ModelConfig). Out: the
    :class:`ChainResult` with the changed configuration, equal to a full run
    with those settings. Raises :class:`~model.errors.ConfigError` for a field
    that changes the weights (those need a refit).
    """
    other = sorted(set(changes) - set(CAPACITY_STAGE_FIELDS))
    if other:
        raise ConfigError(f"what_if: {', '.join(other)} change(s) the fit or the weights and need a refit; "
                          f"the what-if path takes {', '.join(CAPACITY_STAGE_FIELDS)}")
    return capacity_tables(aw, config.replace(**changes))


def with_predicted_use(yd: YearData, result: ChainResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chain's municipality and clinic tables with ``mean_predicted_use`` and ``mean_normalised_weight``.

    The annual fit's tables show the stages of step 3 a GP can follow: mean
    predicted use (DKK) and mean normalised weight (predicted / national
    mean) before the life-expectancy correction, beside ``mean_weight``.
    In: the year and the :class:`ChainResult` of its coefficients.  Out:
    (capacity by municipality, clinic minimums), columns inserted before
    ``mean_weight``.
    """
    fc = features(yd, result.config)
    predicted = cell_predictions(fc, result.config, result.params)[fc.cell_of_atom][yd.atom]
    normalised = predicted / predicted.mean()
    nm, nc = len(yd.muni_codes), len(yd.clinic_ids)
    bm, ct = result.by_municipality.copy(), result.clinics.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        citizens = yd.citizens_by_municipality().astype(np.float64)
        order = pd.Index(yd.muni_codes).get_indexer(bm["municipality_code"])
        listed = yd.listed_by_clinic().astype(np.float64)
        at = pd.Index(yd.clinic_ids).get_indexer(ct["clinic_id"])
        for name, v in (("mean_predicted_use", predicted), ("mean_normalised_weight", normalised)):
            by_m = np.bincount(yd.pm, weights=v, minlength=nm) / np.where(citizens > 0, citizens, np.nan)
            bm.insert(bm.columns.get_loc("mean_weight"), name, by_m[order])
            by_c = np.bincount(yd.pc, weights=v, minlength=nc + 1)[:nc] / np.where(listed > 0, listed, np.nan)
            ct.insert(ct.columns.get_loc("mean_weight"), name, by_c[at])
    return bm, ct


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
    weighted = w.municipality * bm["projection_factor"].to_numpy()[:, None]
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
    mean_w = w.clinic[ci] / sel["listed_patients"].to_numpy(dtype=np.float64)[:, None]
    c_exact, c_round = cl.minimum_patients(sel["capacities"].to_numpy(dtype=np.float64)[:, None], mean_w, config)
    c_exact[:, ~w.valid] = np.nan
    return Draws(council_exact=exact, council=rounded, clinic_ids=sel["clinic_id"].tolist(), clinic_exact=c_exact,
                 clinic=c_round, valid=w.valid)
