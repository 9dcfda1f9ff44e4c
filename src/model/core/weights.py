"""Disease weights (*sygdomsvægte*): docs/method.md step 3.

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

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.errors import InputError

#: Derived municipal life-expectancy figures (by sex, remaining at 65) for the sensitivity variants of
#: §4.4.2.4; the file's header says how they are derived (:func:`model.analyses.sensitivity.derive_life_expectancy_variants`).
LIFE_EXPECTANCY_VARIANTS = Path(__file__).resolve().parents[1] / "data" / "life_expectancy_variants.csv"


@lru_cache(maxsize=1)
def _life_expectancy_variants() -> pd.DataFrame:
    return pd.read_csv(LIFE_EXPECTANCY_VARIANTS, comment="#", dtype={"municipality_code": str})


def life_expectancy_columns(config: ModelConfig) -> list[str]:
    """The municipal columns the correction reads: the pooled figure, then men's and women's when by sex."""
    c = config.life_expectancy_column
    return [c, f"{c}_men", f"{c}_women"] if config.life_expectancy_by_sex else [c]


def _with_variant_columns(municipalities: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Add the derived life-expectancy columns the configuration needs when the table lacks them."""
    need = [c for c in life_expectancy_columns(config) if c not in municipalities.columns]
    if not need:
        return municipalities
    extra = _life_expectancy_variants()
    unknown = [c for c in need if c not in extra.columns]
    if unknown:
        raise InputError(f"no municipal life-expectancy column(s) {unknown} in municipalities.csv "
                         f"or {LIFE_EXPECTANCY_VARIANTS.name}")
    return municipalities.merge(extra[["municipality_code"] + need], on="municipality_code", how="left")


def _national_and_imputed(m: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series, float]:
    """(figure with missing ones imputed from the health council, imputed flag, national figure)."""
    le = pd.to_numeric(m[column], errors="coerce")
    pop = m["population_2026_01_01"].astype(float)
    have = le.notna()
    hc = (
        pd.DataFrame({"hc": m["sundhedsraad"], "wle": (le * pop).where(have), "w": pop.where(have)})
        .groupby("hc")[["wle", "w"]].sum()
    )
    hc_le = hc["wle"] / hc["w"]
    if hc_le.isna().any():
        raise InputError(f"health council(s) without any life-expectancy figure: {sorted(hc_le[hc_le.isna()].index)}")
    national = float((le[have] * pop[have]).sum() / pop[have].sum())
    return le.where(have, m["sundhedsraad"].map(hc_le)), ~have, national


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

    Columns missing from ``municipalities`` (the derived remaining life
    expectancy at 65 and the figures by sex) are taken from
    :data:`LIFE_EXPECTANCY_VARIANTS`.  With ``config.life_expectancy_by_sex``
    the table also has ``life_expectancy_factor_men`` and
    ``life_expectancy_factor_women`` (national / municipal figure of that
    sex, each sex's national figure weighted by total population, as
    populations by sex and municipality are not in the reference data); a
    citizen gets the factor of their own sex, and ``life_expectancy_factor``
    is then the mean of the two (for display only).
    """
    src = _with_variant_columns(municipalities, config)
    col = config.life_expectancy_column
    m = src[["municipality_code", "sundhedsraad", "population_2026_01_01"]].copy()
    m["life_expectancy"], m["life_expectancy_imputed"], national = _national_and_imputed(src, col)
    if config.life_expectancy_correction:
        m["life_expectancy_factor"] = national / m["life_expectancy"]
    else:
        m["life_expectancy_factor"] = 1.0
    cols = ["municipality_code", "life_expectancy", "life_expectancy_imputed", "life_expectancy_factor"]
    if config.life_expectancy_by_sex:
        for sex in ("men", "women"):
            le_s, _, national_s = _national_and_imputed(src, f"{col}_{sex}")
            m[f"life_expectancy_factor_{sex}"] = national_s / le_s if config.life_expectancy_correction else 1.0
        m["life_expectancy_factor"] = (m["life_expectancy_factor_men"] + m["life_expectancy_factor_women"]) / 2
        cols += ["life_expectancy_factor_men", "life_expectancy_factor_women"]
    m = m[cols]
    m.attrs["national_life_expectancy"] = national
    return m


def citizen_factors(le: pd.DataFrame, muni_codes: list[str], muni_index: np.ndarray, sex: np.ndarray | None,
                   config: ModelConfig) -> np.ndarray:
    """Life-expectancy factor of each citizen: of the municipality of residence (and own sex when by sex).

    In: the table of :func:`life_expectancy_factors`, the municipality codes in
    the order ``muni_index`` refers to, each citizen's index into them and sex
    (1 male, 2 female; needed only by sex).
    """
    t = le.set_index("municipality_code")
    if not config.life_expectancy_by_sex:
        return t["life_expectancy_factor"].reindex(muni_codes).to_numpy()[muni_index]
    men = t["life_expectancy_factor_men"].reindex(muni_codes).to_numpy()
    women = t["life_expectancy_factor_women"].reindex(muni_codes).to_numpy()
    return np.where(np.asarray(sex) == 2, women[muni_index], men[muni_index])


def weight_normaliser(predicted_use: np.ndarray, factor: np.ndarray) -> tuple[float, float]:
    """(mean predicted use, mean life-expectancy-corrected use) of the weight base: the national normalisation
    of :func:`disease_weights`, to be held fixed when a few citizens' predicted use changes."""
    predicted_use = np.asarray(predicted_use, dtype=np.float64)
    return float(predicted_use.mean()), float((predicted_use * np.asarray(factor, dtype=np.float64)).mean())


def disease_weights(predicted_use: np.ndarray, factor: np.ndarray, config: ModelConfig | None = None,
                    normaliser: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Weights of the citizens of the weight base (group 1).

    In: predicted use per citizen (DKK), the life-expectancy factor of the
    citizen's municipality of residence and the configuration.
    ``normaliser``: the national (mean predicted, mean corrected) use of
    :func:`weight_normaliser` to divide by, e.g. the fitted year's when only
    some citizens are given (the coding stress test); default: the means of
    the arrays given, which then are the whole weight base.
    Out: ``normalised_weight`` (predicted use / national mean: mean 1 before
    the factor) and ``weight``: with ``config.normalise_weights`` (default)
    the corrected use scaled so the national mean is exactly 1 (the
    correction moves weight between areas, never adds to the total); without
    it, normalised weight x factor (the correction may change the national
    total of weighted citizens).
    """
    predicted_use = np.asarray(predicted_use, dtype=np.float64)
    corrected = predicted_use * np.asarray(factor, dtype=np.float64)
    normalise = True if config is None else config.normalise_weights
    mean_pred, mean_corrected = (normaliser if normaliser is not None
                                 else (predicted_use.mean(), corrected.mean()))
    return {
        "normalised_weight": predicted_use / mean_pred,
        "weight": corrected / (mean_corrected if normalise else mean_pred),
    }
