"""Disease weights (*sygdomsvægte*): MODEL.md step 3.

Named stages, in order (each kept as a column so users can follow them):

1. ``predicted_use`` -- the fitted use (DKK) of the citizen's cell;
2. ``normalised_weight`` -- predicted use / national mean predicted use;
3. ``life_expectancy_factor`` -- national / municipal life expectancy for
   the municipality of residence (design choice, §4.4.2.4);
4. ``weight`` -- the life-expectancy-corrected weight, predicted use x
   factor scaled so that the national mean over group-1 citizens is
   exactly 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ModelConfig


def life_expectancy_factors(municipalities: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Life-expectancy factor per municipality.

    In: the municipalities reference table (``municipality_code``,
    ``sundhedsraad``, ``population_2026_01_01`` and the column named by
    ``config.life_expectancy_column``).
    Out: one row per municipality with ``life_expectancy`` (imputed where
    missing), ``life_expectancy_imputed`` (bool), ``life_expectancy_factor``.

    Rules: the national figure is the population-weighted mean of the
    municipal figures; a municipality without a figure takes its health
    council's population-weighted figure.  With
    ``config.life_expectancy_correction`` False every factor is 1.
    """
    m = municipalities[["municipality_code", "sundhedsraad", "population_2026_01_01", config.life_expectancy_column]].copy()
    m = m.rename(columns={config.life_expectancy_column: "life_expectancy"})
    le = pd.to_numeric(m["life_expectancy"], errors="coerce")
    pop = m["population_2026_01_01"].astype(float)
    have = le.notna()
    hc = (
        pd.DataFrame({"hc": m["sundhedsraad"], "wle": (le * pop).where(have), "w": pop.where(have)})
        .groupby("hc")[["wle", "w"]].sum()
    )
    hc_le = hc["wle"] / hc["w"]
    if hc_le.isna().any():
        raise ValueError(f"health council(s) without any life-expectancy figure: {sorted(hc_le[hc_le.isna()].index)}")
    m["life_expectancy_imputed"] = ~have
    m["life_expectancy"] = le.where(have, m["sundhedsraad"].map(hc_le))
    national = float((le[have] * pop[have]).sum() / pop[have].sum())
    if config.life_expectancy_correction:
        m["life_expectancy_factor"] = national / m["life_expectancy"]
    else:
        m["life_expectancy_factor"] = 1.0
    m.attrs["national_life_expectancy"] = national
    return m[["municipality_code", "life_expectancy", "life_expectancy_imputed", "life_expectancy_factor"]]


def disease_weights(predicted_use: np.ndarray, factor: np.ndarray) -> dict[str, np.ndarray]:
    """Weights of the citizens of the weight base (group 1).

    In: predicted use per citizen (DKK) and the life-expectancy factor of the
    citizen's municipality of residence.
    Out: ``normalised_weight`` (mean 1 before the factor) and ``weight``
    (after the factor, scaled to mean exactly 1).
    """
    predicted_use = np.asarray(predicted_use, dtype=np.float64)
    corrected = predicted_use * np.asarray(factor, dtype=np.float64)
    return {
        "normalised_weight": predicted_use / predicted_use.mean(),
        "weight": corrected / corrected.mean(),
    }
