"""Clinic minimum patient numbers (*minimumspatienttal*): MODEL.md step 6.

minimum = capacities x 1,600 / mean weight of the clinic's listed patients,
rounded to the nearest ``clinic_rounding_step`` (50), capped if a cap is
set (§4.3.1, §4.3.6, §4.3.9).  Fallbacks (§4.3.7):

* a clinic with no listed patients takes the mean weight of the group-1
  citizens resident in its municipality (``weight_source='municipality'``);
* a clinic split off in the reference year or later takes the mean weight
  of the clinic it was split from (``weight_source='split_from'``).

Listed patients are the group-1 citizens whose ``clinic_id`` is the clinic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ModelConfig


def open_clinics(clinics: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Clinics open on 1 January of the planning year (opened before, not closed by then)."""
    day = pd.Timestamp(config.planning_year, 1, 1)
    opened = pd.to_datetime(clinics["opened"], errors="coerce")
    closed = pd.to_datetime(clinics.get("closed", pd.Series(pd.NaT, index=clinics.index)), errors="coerce")
    keep = (opened.isna() | (opened <= day)) & (closed.isna() | (closed > day))
    return clinics.loc[keep]


def round_to_step(x, step: int) -> np.ndarray:
    """Round to the nearest multiple of ``step``, halves up (1,625 -> 1,650 with step 50)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.floor(x / step + 0.5 + 1e-9) * step).astype(np.int64)


def clinic_table(
    clinics: pd.DataFrame,
    listed: pd.DataFrame,
    municipal_mean_weight: pd.Series,
    municipalities: pd.DataFrame,
    config: ModelConfig,
) -> pd.DataFrame:
    """Listed patients, mean weight and minimum patient number per open clinic.

    In: the clinics table; ``listed`` with one row per clinic that has
    group-1 patients (clinic_id, listed_patients, sum_weight); the mean
    weight of group-1 residents per municipality code; the municipalities
    reference table (for the health council).
    Out: one row per clinic open on 1 January of the planning year, sorted by
    clinic_id, with the columns of ``clinic_minimums.csv`` plus
    ``island_excluded`` and ``weight_source``, and last the practice ``name``
    (empty when clinics.csv has none).
    """
    c = open_clinics(clinics, config)[
        ["clinic_id", "municipality_code", "practice_form", "capacities", "island_doctor", "opened", "split_from"]
    ].copy()
    hc = municipalities.set_index("municipality_code")["sundhedsraad"]
    c.insert(2, "health_council", c["municipality_code"].map(hc))
    c = c.merge(listed, on="clinic_id", how="left")
    c["listed_patients"] = c["listed_patients"].fillna(0).astype(np.int64)
    own = c["sum_weight"] / c["listed_patients"].where(c["listed_patients"] > 0)
    mean_weight = own.copy()
    source = np.where(own.notna(), "own_patients", "municipality")

    parent_w = listed.set_index("clinic_id")
    parent_w = parent_w["sum_weight"] / parent_w["listed_patients"]
    split = c["split_from"].fillna("").astype(str)
    opened_year = pd.to_datetime(c["opened"], errors="coerce").dt.year
    is_split = (split != "") & (opened_year >= config.year) & split.map(parent_w).notna()
    mean_weight = mean_weight.where(~is_split, split.map(parent_w))
    source = np.where(is_split, "split_from", source)

    mean_weight = mean_weight.fillna(c["municipality_code"].map(municipal_mean_weight))
    c["mean_weight"] = mean_weight
    c["weight_source"] = source
    c["minimum_patients_exact"] = c["capacities"] * config.citizens_per_capacity / c["mean_weight"]
    mp = round_to_step(c["minimum_patients_exact"].to_numpy(), config.clinic_rounding_step)
    if config.clinic_cap is not None:
        mp = np.minimum(mp, int(config.clinic_cap))
    c["minimum_patients"] = mp
    c["island_excluded"] = c["island_doctor"].astype(bool) & (c["listed_patients"] < config.island_min_patients)
    # the practice name (Yderregisteret's praksisbetegnelse) for the clinic sheets; last, so columns stay put
    c["name"] = c["clinic_id"].map(clinics.set_index("clinic_id")["name"]) if "name" in clinics.columns else ""
    cols = ["clinic_id", "municipality_code", "health_council", "practice_form", "island_doctor", "island_excluded",
            "listed_patients", "weight_source", "mean_weight", "capacities", "minimum_patients_exact", "minimum_patients",
            "name"]
    return c[cols].sort_values("clinic_id").reset_index(drop=True)
