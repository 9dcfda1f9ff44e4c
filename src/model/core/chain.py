"""The model chain, docs/method.md steps 3-6: coefficients -> weights -> capacities -> clinic numbers.

The one implementation: the annual fit, every stability year, every sensitivity
variant, the bootstrap and the evaluation call :func:`chain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.core import capacity as cap
from model.core import clinics as cl
from model.core import weights as wt
from model.config import ModelConfig
from model.core.cells import FeatureCells
from model.core.cells import YearData
from model.core.cells import design
from model.core.cells import features


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
