"""Clinic minimum patient numbers (*minimumspatienttal*): docs/method.md step 6.

minimum = capacities x 1,600 / mean weight of the clinic's listed patients,
rounded to the nearest ``clinic_rounding_step`` (50), capped if a cap is
set (§4.3.1, §4.3.6, §4.3.9).  Fallbacks (§4.3.7):

* a split clinic (``split_from`` set) takes the mean weight of the clinic
  it was split from only while it has no full year of its own listed
  patients: it opened after 1 January of the data year (``config.year``)
  and its parent had listed patients in that year
  (``weight_source='split_from'``); a split clinic open on 1 January of the
  data year has a full year and uses its own patients;
* a clinic with no listed patients (and no parent to take from) takes the
  need of its area: the mean weight of the group-1 citizens resident in its
  municipality (``weight_source='municipality'``).

Listed patients are the group-1 citizens whose ``clinic_id`` is the clinic.

Island doctors (*ø-læger*, §4.2.4, R§3): a clinic is left out of the counted
allocation when an annex-2 report of its region covers it on 1 January of
the planning year (reported at a date, valid from it and one year on) and
reports fewer than 500 listed patients; for a clinic no such report covers,
the clinic register's ``island_doctor`` flag with the listed count is the
fallback.  ``island_source`` says which applied (:func:`island_deductions`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import ModelConfig


def open_clinics(clinics: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Clinics open on 1 January of the planning year (opened before, not closed by then)."""
    day = pd.Timestamp(config.planning_year, 1, 1)
    opened = pd.to_datetime(clinics["opened"], errors="coerce")
    closed = pd.to_datetime(clinics.get("closed", pd.Series(pd.NaT, index=clinics.index)), errors="coerce")
    keep = (opened.isna() | (opened <= day)) & (closed.isna() | (closed > day))
    return clinics.loc[keep]


def island_deductions(clinics: pd.DataFrame, island_reports: pd.DataFrame | None, config: ModelConfig) -> pd.DataFrame:
    """Which clinics are island doctors left out of the counted allocation, and on what source.

    In: ``clinics`` with clinic_id, island_doctor (bool) and listed_patients;
    the annex-2 rows of :func:`model.inputs.tables.read_island_reports` (clinic_id,
    region, reporting_date, reported_patients, source), or None.
    Out: the same rows (same order) with ``island_excluded`` (bool),
    ``island_source`` ('annex 2: <file>' / 'clinic register' / '') and
    ``island_patients`` (the count the decision used).

    Rule: a report at date D covers 1 January of the planning year when
    D <= that day < D + 1 year (R§3: "from the report date and one year on");
    of several covering reports the latest decides.  A covered clinic is
    excluded when it reported fewer than ``island_min_patients`` patients;
    a clinic no report covers falls back on its ``island_doctor`` flag and
    its listed group-1 patients.
    """
    day = pd.Timestamp(config.planning_year, 1, 1)
    out = clinics[["clinic_id"]].copy()
    flag = clinics["island_doctor"].astype(bool).to_numpy()
    listed = clinics["listed_patients"].to_numpy()
    excluded = flag & (listed < config.island_min_patients)
    source = np.where(excluded, "clinic register", "").astype(object)
    patients = np.where(flag, listed, 0).astype(np.int64)
    if island_reports is not None and len(island_reports):
        r = island_reports.copy()
        d = pd.to_datetime(r["reporting_date"], errors="coerce")
        covers = (d <= day) & (day < d + pd.DateOffset(years=1))
        r = r[covers.to_numpy()].assign(_d=d[covers]).sort_values(["clinic_id", "_d", "source"])
        latest = r.drop_duplicates("clinic_id", keep="last").set_index("clinic_id")
        hit = out["clinic_id"].isin(latest.index).to_numpy()
        if hit.any():
            rep = latest.reindex(out["clinic_id"][hit])
            n = rep["reported_patients"].to_numpy(dtype=np.int64)
            excluded[hit] = n < config.island_min_patients
            patients[hit] = n
            source[hit] = np.where(excluded[hit], "annex 2: " + rep["source"].astype(str).to_numpy(),
                                   "annex 2 (500 or more patients): " + rep["source"].astype(str).to_numpy())
    out["island_excluded"] = excluded
    out["island_source"] = source
    out["island_patients"] = patients
    return out


def round_to_step(x, step: int) -> np.ndarray:
    """Round to the nearest multiple of ``step``, halves up (1,625 -> 1,650 with step 50)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.floor(x / step + 0.5 + 1e-9) * step).astype(np.int64)


def minimum_patients(capacities, mean_weight, config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(exact, rounded) minimum patient numbers from a clinic's capacities and its patients' mean weight (step 6).

    exact = capacities x ``config.citizens_per_capacity`` / mean weight;
    rounded to ``config.clinic_rounding_step`` (halves up) and capped at
    ``config.clinic_cap`` when set.  Arrays of any matching shape (a missing
    exact number rounds as 0).
    """
    exact = np.asarray(capacities, dtype=np.float64) * config.citizens_per_capacity / np.asarray(mean_weight, dtype=np.float64)
    rounded = round_to_step(np.nan_to_num(exact), config.clinic_rounding_step)
    if config.clinic_cap is not None:
        rounded = np.minimum(rounded, int(config.clinic_cap))
    return exact, rounded


def clinic_table(
    clinics: pd.DataFrame,
    listed: pd.DataFrame,
    municipal_mean_weight: pd.Series,
    municipalities: pd.DataFrame,
    config: ModelConfig,
    island_reports: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Listed patients, mean weight and minimum patient number per open clinic.

    In: the clinics table; ``listed`` with one row per clinic that has
    group-1 patients (clinic_id, listed_patients, sum_weight); the mean
    weight of group-1 residents per municipality code; the municipalities
    reference table (for the health council).
    ``island_reports``: the regions' annex-2 rows (:func:`island_deductions`).
    Out: one row per clinic open on 1 January of the planning year, sorted by
    clinic_id, with the columns of ``clinic_minimums.csv``: among them
    ``weight_source`` (own_patients / split_from / municipality),
    ``island_excluded`` and ``island_source``, and last the practice ``name``
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
    opened = pd.to_datetime(c["opened"], errors="coerce")
    no_full_year = (opened > pd.Timestamp(config.year, 1, 1)).fillna(False).to_numpy()  # opened after 1 Jan of the data year
    is_split = (split != "").to_numpy() & no_full_year & split.map(parent_w).notna().to_numpy()
    mean_weight = mean_weight.where(~is_split, split.map(parent_w))
    source = np.where(is_split, "split_from", source)

    mean_weight = mean_weight.fillna(c["municipality_code"].map(municipal_mean_weight))
    c["mean_weight"] = mean_weight
    c["weight_source"] = source
    c["minimum_patients_exact"], c["minimum_patients"] = minimum_patients(c["capacities"].to_numpy(),
                                                                          c["mean_weight"].to_numpy(), config)
    isl = island_deductions(c, island_reports, config)
    c["island_excluded"] = isl["island_excluded"].to_numpy()
    c["island_source"] = isl["island_source"].to_numpy()
    # the practice name (Yderregisteret's praksisbetegnelse) for the clinic sheets; last, so columns stay put
    c["name"] = c["clinic_id"].map(clinics.set_index("clinic_id")["name"]) if "name" in clinics.columns else ""
    cols = ["clinic_id", "municipality_code", "health_council", "practice_form", "island_doctor", "island_excluded",
            "island_source", "listed_patients", "weight_source", "mean_weight", "capacities", "minimum_patients_exact",
            "minimum_patients", "name"]
    return c[cols].sort_values("clinic_id").reset_index(drop=True)
