"""GP capacities per municipality and health council: docs/method.md steps 4-5.

Named stages: weighted citizens -> need -> capacities.

* weighted citizens per municipality = mean weight of its group-1
  citizens x projected end-of-year population in the planning year x its
  group-1 share (group-1 citizens / all residents in the data year), i.e.
  sum of weights x projection / residents (§4.2.2, §4.6.2: the model keeps
  the number of group-1 citizens up to date, so a change in group 2 flows
  in by itself);
* need = weighted citizens / 1,600 (§4.6.4);
* area floor = area_km2 / 35 (§4.2.2, §4.5.3); indicative number = the larger
  of need and floor (design choice: the floor applies per municipality);
* per health council: capacities = the sum of the indicative numbers,
  rounded up (or to nearest) with a tolerance, the exact value kept beside;
* counted allocation = clinics' allocated capacities less those of island
  doctors with fewer than 500 listed patients (§4.2.4); headroom =
  capacities - counted allocation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.errors import InputError


def round_capacity(x, config: ModelConfig):
    """Round health-council capacities as configured, with a tolerance.

    ``rounding='up'``: ceil(x - tol), so 449.0000000001 stays 449 and 449.2
    becomes 450.  ``rounding='nearest'``: halves round up (449.5 -> 450).
    """
    x = np.asarray(x, dtype=np.float64)
    tol = config.rounding_tolerance
    if config.rounding == "up":
        r = np.ceil(x - tol)
    else:
        r = np.floor(x + 0.5 + tol)
    return r.astype(np.int64)


def indicative_numbers(weighted, area_floor, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(need, indicative number) from weighted citizens and the area floor (arrays of any matching shape).

    need = weighted citizens / ``config.citizens_per_capacity`` (§4.6.4);
    indicative = the larger of need and the area floor (§4.5.3).
    """
    need = np.asarray(weighted, dtype=np.float64) / config.citizens_per_capacity
    return need, np.maximum(need, area_floor)


def area_floors(area_km2, config: ModelConfig):
    """The area floor, area_km2 / ``config.km2_per_capacity`` (0 when the floor is switched off)."""
    return area_km2 / config.km2_per_capacity if config.km2_per_capacity else 0.0


def capacity_by_municipality(
    weights_by_municipality: pd.DataFrame,
    municipalities: pd.DataFrame,
    projection: pd.DataFrame,
    le: pd.DataFrame,
    config: ModelConfig,
) -> pd.DataFrame:
    """Weighted citizens, need, area floor and indicative number per municipality.

    In: ``weights_by_municipality`` (municipality_code, citizens = group-1
    residents, residents = residents of every insurance group in the data
    year, sum_weight), the municipalities reference table, the
    population projection (municipality_code, year, population_end_of_year)
    and the life-expectancy table of :func:`model.core.weights.life_expectancy_factors`.
    Out: one row per municipality (all 98, sorted by code) with the columns of
    ``capacity_by_municipality.csv``.
    """
    m = municipalities[["municipality_code", "kommune", "sundhedsraad", "area_km2"]].rename(
        columns={"kommune": "name", "sundhedsraad": "health_council"})
    if "residents" not in weights_by_municipality.columns:
        raise InputError("weights_by_municipality needs 'residents' (all insurance groups) for the group-1 share")
    m = m.merge(weights_by_municipality, on="municipality_code", how="left")
    m[["citizens", "residents", "sum_weight"]] = m[["citizens", "residents", "sum_weight"]].fillna(0)
    proj = projection.loc[projection["year"] == config.planning_year, ["municipality_code", "population_end_of_year"]]
    if proj.empty:
        raise InputError(f"population_projection has no rows for the planning year {config.planning_year}")
    m = m.merge(proj, on="municipality_code", how="left")
    missing = m.loc[m["population_end_of_year"].isna(), "municipality_code"].tolist()
    if missing:
        raise InputError(f"population_projection: no {config.planning_year} figure for municipality code(s) {missing}")
    m = m.merge(le, on="municipality_code", how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        # mean weight x projection x group-1 share = sum_weight / citizens x projection x citizens / residents
        scale = np.where(m["residents"] > 0, m["population_end_of_year"] / m["residents"], 0.0)
        m["group1_share"] = np.where(m["residents"] > 0, m["citizens"] / m["residents"], np.nan)
    m["projection_factor"] = scale
    m["weighted_citizens"] = m["sum_weight"] * scale
    m["area_floor"] = area_floors(m["area_km2"], config)
    m["need"], m["indicative"] = indicative_numbers(m["weighted_citizens"].to_numpy(), m["area_floor"].to_numpy(), config)
    m["floor_binds"] = m["area_floor"] > m["need"]
    cols = ["municipality_code", "name", "health_council", "citizens", "residents", "group1_share",
            "population_end_of_year", "projection_factor",
            "weighted_citizens", "life_expectancy", "life_expectancy_factor", "life_expectancy_imputed",
            "need", "area_km2", "area_floor", "floor_binds", "indicative"]
    return m[cols].sort_values("municipality_code").reset_index(drop=True)


def capacity_by_health_council(
    by_municipality: pd.DataFrame,
    municipalities: pd.DataFrame,
    clinic_table: pd.DataFrame,
    config: ModelConfig,
) -> pd.DataFrame:
    """Binding capacities, counted allocation and headroom per health council.

    In: :func:`capacity_by_municipality`'s table, the municipalities reference
    table (for region_from_2027) and the clinic table of
    :func:`model.core.clinics.clinic_table` (health_council, capacities,
    island_excluded).
    Out: the columns of ``capacity_by_health_council.csv``.
    """
    g = by_municipality.groupby("health_council").agg(
        weighted_citizens=("weighted_citizens", "sum"),
        need_exact=("need", "sum"),
        area_floor=("area_floor", "sum"),
        capacities_exact=("indicative", "sum"),
        municipalities_floor_binds=("floor_binds", "sum"),
    )
    g["capacities"] = round_capacity(g["capacities_exact"].to_numpy(), config)
    region = municipalities.groupby("sundhedsraad")["region_from_2027"].first()
    g.insert(0, "region_from_2027", region.reindex(g.index))
    c = clinic_table.assign(island_cap=np.where(clinic_table["island_excluded"], clinic_table["capacities"], 0.0))
    alloc = c.groupby("health_council").agg(allocated=("capacities", "sum"), island_excluded=("island_cap", "sum"))
    g = g.join(alloc, how="left").fillna({"allocated": 0.0, "island_excluded": 0.0})
    g["counted_allocation"] = g["allocated"] - g["island_excluded"]
    g["headroom"] = g["capacities"] - g["counted_allocation"]
    g["may_allocate_new"] = g["headroom"] > 0
    g = g.reset_index().rename(columns={"index": "health_council"})
    cols = ["health_council", "region_from_2027", "weighted_citizens", "need_exact", "area_floor", "capacities_exact",
            "capacities", "allocated", "island_excluded", "counted_allocation", "headroom", "may_allocate_new",
            "municipalities_floor_binds"]
    return g[cols].sort_values("health_council").reset_index(drop=True)
