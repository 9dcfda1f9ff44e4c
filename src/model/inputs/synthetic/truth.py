"""The "truth" of the synthetic data: public constants, true coefficients, column layouts, codes.

Everything the generator plants and a test or an analysis may compare against
(:data:`TRUE_COEFFICIENTS`, the recording factor of regional and tender
clinics, the ultrasound agreement, the fee index) plus the small helpers on
them (:func:`age_band`, :func:`fee_index`).  No random draws here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from model.inputs import reference

NATIONAL_POPULATION = 6_025_511
"""Population of Denmark on 1 January 2026 (FOLK1A); the default ``persons``."""
DEFAULT_SEED = 20250630
DEFAULT_YEARS = range(2021, 2026)
NATIONAL_LIFE_EXPECTANCY = 81.6
"""National life expectancy at birth (HISBK, period ending 2023)."""
#: Age bands of the base model: (lower, upper or None) -> label.
AGE_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 2), (3, 5), (6, 15), (16, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 84), (85, None),
)
_BAND_LABELS = tuple(f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in AGE_BANDS)
_BAND_OF_AGE = np.array([next(i for i, (lo, hi) in enumerate(AGE_BANDS) if a >= lo and (hi is None or a <= hi))
                         for a in range(126)], dtype=np.int8)
#: True coefficients of use (DKK a year, latest panel year's prices) in the
#: base model's parametrisation: intercept + dummies, reference = men aged
#: 25-34 with no other characteristic.  Calibrated (offline, at national
#: scale) so that mean use is about 1,540 DKK per citizen a year, about 971
#: at ages 10-19 and about 3,234 at 80+.
TRUE_COEFFICIENTS: dict[str, float] = {
    "Intercept": 624.0,
    "male_0-2": 1261.0,
    "male_3-5": 483.0,
    "male_6-15": 201.0,
    "male_16-24": 11.0,
    "male_35-44": 104.0,
    "male_45-54": 244.0,
    "male_55-64": 442.0,
    "male_65-74": 905.0,
    "male_75-84": 1685.0,
    "male_85+": 2373.0,
    "female_0-2": 1155.0,
    "female_3-5": 435.0,
    "female_6-15": 222.0,
    "female_16-24": 713.0,
    "female_25-34": 888.0,
    "female_35-44": 791.0,
    "female_45-54": 743.0,
    "female_55-64": 797.0,
    "female_65-74": 1048.0,
    "female_75-84": 1789.0,
    "female_85+": 2417.0,
    "origin_menapt": 300.0,
    "widowed_divorced": 250.0,
    "labour_temporarily_outside": 1500.0,
    "labour_permanently_outside": 1100.0,
    "somatic_2": 900.0,
    "somatic_3plus": 2100.0,
    "psychiatric": 1300.0,
    "cancer_5y": 1000.0,
}
#: Regional and tender clinics record this share of their patients' true use.
REGIONAL_TENDER_RECORDING_FACTOR = 0.75
#: Yearly growth of the fee index (assumed): index_t = 100 x 1.025^(t - latest).
FEE_INDEX_GROWTH = 0.025
#: Share of group-1 citizens with no practice on record in a year (assumed: a few thousand nationally).
UNLISTED_SHARE = 0.0005
#: Share of eligible group-1 patients (type 2 diabetes and/or COPD) on the chronic-care fee.
CHRONIC_FEE_UPTAKE = 0.63
#: Range of the chronic-care lump sum relative to the contacts it replaces (assumed: the fee pays for them
#: on average, so counting the lump sum in full measures use without bias, with noise).
CHRONIC_FEE_SHARE_RANGE = (0.85, 1.15)
#: Ultrasound fee codes of Region Sjælland's local agreement.
ULTRASOUND_CODES: tuple[str, ...] = tuple(str(c) for c in range(4350, 4361))
#: Fee per scan, 2025 level (DKK); other years follow the fee index.
ULTRASOUND_FEE_2025 = 287.16
#: Years the agreement runs (from signature to 31 December 2026).
ULTRASOUND_YEARS: tuple[int, ...] = (2025, 2026)
#: Codes of the 12 municipalities of the agreement (by the clinic's municipality).
ULTRASOUND_MUNICIPALITIES: tuple[str, ...] = reference.SJAELLAND_ULTRASOUND_MUNICIPALITIES
#: Share of eligible clinics (12 municipalities, not island, regional or tender) that join the agreement (assumed).
ULTRASOUND_CLINIC_UPTAKE = 0.6
#: Yearly probability that a user of a participating clinic has at least one scan (assumed; by age).
ULTRASOUND_PATIENT_RATE = 0.04
#: Shape of the Gamma noise of use (mean 1).
USE_GAMMA_SHAPE = 1.4
PERSON_COLUMNS: tuple[str, ...] = (
    "person_id", "year", "municipality_code", "sex", "age", "civil_status", "origin_group",
    "insurance_group", "labour_status", "somatic_diseases", "psychiatric", "psychiatric_extended",
    "cancer_5y", "cancer_10y", "clinic_id", "gross_fee", "chronic_fee", "local_services_fee", "contact_fee",
    "days_resident",
)
SERVICE_COLUMNS: tuple[str, ...] = ("person_id", "clinic_id", "year", "week", "service_code", "count", "fee")
CLINIC_COLUMNS: tuple[str, ...] = (
    "clinic_id", "name", "municipality_code", "postcode", "practice_form", "capacities",
    "vacant_capacities", "island_doctor", "opened", "closed", "split_from",
)
_ORIGINS = ("danish", "menapt", "western", "other_non_western")
_CIVIL = ("U", "G", "F", "E", "P", "O", "L")
_LABOUR = ("not_applicable", "in_work_or_education", "temporarily_outside", "permanently_outside")
_MAX_AGE = 125
_NEVER = 255


def age_band(age: Any) -> np.ndarray:
    """Index (0-10) of the base model's age band of each age."""
    a = np.clip(np.asarray(age, dtype=np.int64), 0, _MAX_AGE)
    return _BAND_OF_AGE[a]


def fee_index(years: Iterable[int]) -> dict[int, float]:
    """Fee index per year: the latest year is 100, each earlier year 2.5 % lower (rounded to 0.01)."""
    ys = sorted(set(int(y) for y in years))
    last = ys[-1]
    return {y: round(100.0 * (1.0 + FEE_INDEX_GROWTH) ** (y - last), 2) for y in ys}
