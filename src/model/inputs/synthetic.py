"""Synthetic national-scale input data for the GP capacity model.

**THE DATA MADE HERE ARE SYNTHETIC.**  No person, clinic, fee or diagnosis in
them is real.  They exist so that the whole pipeline can be run, tested and
demonstrated openly, at the scale of Denmark, without access to the register
data on Statistics Denmark's research servers.

Usage (command line)::

    python -m model.synthetic OUT_DIR [--persons 6025511] [--years 2021-2025]
                              [--seed 20250630] [--no-services]
                              [--services-years 2025]

or from Python::

    from model import synthetic
    info = synthetic.generate("data/synthetic", persons=50_000, years=range(2023, 2026))

Files written to ``OUT_DIR`` (IDs are strings everywhere):

``persons.parquet``
    One row per citizen per panel year, sorted by year then ``person_id``;
    each year is written in its own row groups, so one year is read cheaply
    with ``pyarrow.parquet.read_table(path, filters=[("year", "=", 2025)])``.
``clinics.csv``
    One row per provider number (*ydernummer*) that existed in any panel year.
``municipalities.csv``
    A byte copy of the embedded reference table.
``population_projection.csv``
    Group-1 population at the end of each panel year and the two planning
    years after the last, per municipality.
``fee_index.csv``
    Fee price index per panel year (latest year = 100).
``services.parquet``
    Service lines (only for ``services_years``, by default the latest year)
    whose per-person sums reproduce ``gross_fee`` and ``local_services_fee``
    exactly (to the øre).
``capacity_reports/<region>_<YYYY-MM-DD>.xlsx``
    The regions' capacity reports (annex 1 and 2 of the reporting guidance)
    per 1 January of the year after the last panel year.  When the panel
    reaches 2026 (``capacity_history``): the reports over time instead,
    quarterly from 1 July 2025 and monthly from 1 January 2027 (four regions
    from then: Hovedstaden and Sjælland become Østdanmark), one region's
    from 2028 as CSV pairs (``_bilag1.csv``/``_bilag2.csv``, as Danish Excel
    saves them), ``submissions.csv`` (when each report arrived) and
    ``with_mistakes/``: reports with one realistic mistake each and
    ``mistakes.json`` naming the rule that must catch it (kept out of the
    folder's top level, which is what is read and validated).
``synthetic_manifest.json``
    The generator's parameters, the true coefficients and summary figures
    (and ``evaluation_truth`` for panels that reach 2026: the 2027 fee
    structure, the clinics that record more sickness than there is, the
    capacity reports' dates and national totals).

Years after the model's fit year (the 2028 evaluation)
------------------------------------------------------
``generate(..., years=range(2024, 2029))`` extends the panel through
2027-2028 (the latest year still matches the real populations of 1 January
2026).  From :data:`FEE_STRUCTURE_YEAR` (2027) use follows a new fee
structure, :data:`FEE_STRUCTURE_2027` (more capitation, lower consultation
fees: the young and healthy use more, the old and chronically ill less, at
about the same national mean), and :data:`UPCODING_CLINIC_SHARE` of the
clinics record one more chronic disease than their patients have (use is
unaffected).  Years before 2027 are generated exactly as before.

What is calibrated to real public figures
-----------------------------------------
* Citizens per municipality in the latest panel year: Statistics Denmark
  FOLK1A, 1 January 2026 (scaled proportionally when ``persons`` is smaller,
  at least one citizen per municipality).
* National age and sex structure: FOLK1A 1 January 2025, 5-year bands, spread
  to single years (about 58,000-61,000 per year of age at 0-4).
* From ``CALIBRATION.md``: origin (MENAPT about 5.1 %, western 5.9 %, other
  non-western 5.3 %, more in the capital region, about 7 % in Morsø,
  Jammerbugt, Læsø and Rebild); disability pension about 5.9 % and
  temporarily outside the labour market about 4 % of ages 16-67; about one
  million with at least one of seven selected somatic chronic diseases (half
  of those aged 80+); type 2 diabetes and COPD, and the 63 % uptake of the
  chronic-care fee; cancer incidence of about 48,000 a year; health-insurance
  group 2 about 0.5 %; about 1,540 DKK of GP fees per citizen a year (about
  971 at 10-19, about 3,234 at 80+, women above men at 16-64); about 15 %
  without a GP contact in a year (municipal shares from SYGP1); about 7
  contacts per citizen a year; about 1,600 citizens per capacity; over
  200,000 citizens in regional and tender clinics, concentrated in
  Nordjylland and Sjælland; the 12 municipalities and the fee (287.16 DKK,
  2025) of Region Sjælland's ultrasound agreement (codes 4350-4360,
  2025-2026, island doctors excepted); the small islands with island doctors.
* Municipal life expectancy at birth (HISBK) drives municipal differences in
  disease, labour-market attachment and mortality.

What is assumed (not calibrated; every number below is a modelling choice)
--------------------------------------------------------------------------
* The single-year spread of the 5-year bands and the age tail of 85+ (to 110).
* Municipal age structure: older in thinly populated and island
  municipalities, younger in the cities (a tilt by population density).
* Civil-status life courses (marriage, divorce, remarriage, widowhood ages)
  and the tiny share of registered partnerships.
* The age profiles of every disease, of the labour-market statuses and of
  psychiatric disease; the correlation between them (a shared frailty); the
  size of the municipal life-expectancy effect on them.
* Mortality (Gompertz, higher where life expectancy is lower, higher for the
  frail), migration between municipalities (about 4 % a year), immigration
  and emigration rates, and the life expectancy of Ærø, Fanø, Samsø and Læsø
  (missing in HISBK: the mean of their health council).
* The clinic structure: capacities per clinic, practice forms, names,
  addresses, provider numbers, postcodes, vacancies, opening, closing and
  splitting, cross-border listing, and which clinics join the ultrasound
  agreement.  The clinic structure is always national (about 1,700 clinics
  and 3,700 capacities); with fewer ``persons`` the citizens are a
  proportional sample of Denmark, so each clinic lists a sample of its
  patients.  Counts that the files report at national scale (the
  projection, island doctors' listed patients in the capacity reports) are
  the sample's counts scaled up by 6,025,511 / ``persons``.
* The whole data-generating process of use (below), the fee index (2.5 % a
  year), the service codes and their fees (except ultrasound), the split
  between contacts and capitation, and the chronic-care fee's share of use.

The data-generating process of use
----------------------------------
Total use ``y`` (DKK, the year's prices; ``gross_fee`` plus, for citizens on
the chronic-care fee, the contacts the fee replaced) has
conditional mean ``E[y | X] = X @ TRUE_COEFFICIENTS x index_t / 100``
*exactly* (up to rounding to the øre) for citizens of clinics that are not
regional or tender clinics, where ``X`` is the base model's design
(intercept; age band x sex with men aged 25-34 as reference; MENAPT origin;
widowed/divorced; labour-market status at 16-67; 2 or 3+ somatic diseases;
psychiatric disease; cancer within 5 years).  The noise is multiplicative
with mean 1: a Bernoulli "any use" with probability ``p`` (rescaled by
``1/p``; ``p`` varies by age, sex, disease and municipality) times a Gamma
of mean 1.  Patients of regional and tender clinics record
:data:`REGIONAL_TENDER_RECORDING_FACTOR` times their true use (the reason the
model is fitted without them).  For group-1 patients with type 2 diabetes or
COPD on the chronic-care fee the contact part of ``y``
(:data:`CONTACT_BUDGET_SHARE`) is not billed: ``gross_fee`` lacks it, no
contact lines are written, ``contact_fee`` is 0, and ``chronic_fee`` (the
lump sum) is that part times a draw from :data:`CHRONIC_FEE_SHARE_RANGE`
(mean 1).  So ``gross_fee + chronic_fee`` measures ``y`` without bias (the
``chronic_fee_full`` variant), while the base model's imputation from
comparable citizens without the fee (§4.4.3) measures it as the memo assumes.
``contact_fee`` is the sum of the contact lines (codes 0101, 0105, 0201,
0411) of every other citizen.  A few group-1 citizens
(:data:`UNLISTED_SHARE`) have no practice on record; citizens born in the
year have ``days_resident`` below the whole year.  Locally agreed ultrasound
services (Region Sjælland, 12 municipalities, 2025-2026) are *extra* use on
top: they are part of ``gross_fee`` and recorded in ``local_services_fee``,
so the true coefficients apply to use less ``local_services_fee``; the base
fit carries a small ultrasound bias that the ``without_local_services``
variant removes.
Group-2 citizens use general practice too (they are not in the fit).

The panel
---------
The latest year is drawn first (it matches the real populations); earlier
years are built backwards: survivors are a year younger, some lived in
another municipality (about 4 % a year; doubly constrained flows, mostly
short moves), the newly born and the year's immigrants were not there, and
persons who died or emigrated during the year are added (mortality rises
with age and is higher where life expectancy is lower; the dead are frailer).
Characteristics come from persistent person traits (onset ages of each
disease and labour-market status, civil-status life course, cancer
diagnosis year), so a person's somatic disease count never falls and
``cancer_5y`` follows the diagnosis year.  Listing persists unless the
person moves or the clinic closes (or a new or split clinic takes patients).
The clinic table holds every provider number open in some panel year:
openings and splits after the first year, closures in every year (a clinic
closing in the latest year has patients that year but is not in the
capacity reports of 1 January after).

Figures achieved at national scale (default arguments)
------------------------------------------------------
Mean use 1,538 DKK (10-19: 971; 80+: 3,252); 14.2 % without use; 7.0
contacts per citizen; 211,651 citizens (3.5 %) in regional and tender
clinics; 1,697 clinics open in 2025 (3,765 capacities, 1,600 citizens per
capacity, 121 vacant); island doctors listing 134-1,671 patients (two above
500); MENAPT 5.2 %, western 5.9 %, other non-western 5.3 %; permanently /
temporarily outside the labour market 5.9 % / 4.2 % of ages 16-67; 16.0 %
(966,000) with a somatic disease, 50.7 % of those aged 80+; psychiatric
4.6 %; cancer within 5 years 2.7 %; 22 % of those aged 65+ widowed; about
272,000 on the chronic-care fee; about 11,900 with ultrasound services.
About 29.9 million person-year rows (persons.parquet 385 MB) and 45 million
service lines (services.parquet 170 MB); about 56 s of CPU and 2.3 GB peak
memory (``benchmarks/synth_national.py``).

Determinism: the same arguments give byte-identical files (no timestamps;
fixed row-group sizes; deterministic zip entries in the workbooks; one
background writer thread that writes in submission order).
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import io
import json
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr, ndtri

from model.inputs import reference
from model.artifacts import finish_synth_folder, prepare_synth_folder

__all__ = [
    "NATIONAL_POPULATION",
    "DEFAULT_SEED",
    "DEFAULT_YEARS",
    "TRUE_COEFFICIENTS",
    "REGIONAL_TENDER_RECORDING_FACTOR",
    "FEE_INDEX_GROWTH",
    "CHRONIC_FEE_UPTAKE",
    "CHRONIC_FEE_SHARE_RANGE",
    "USE_GAMMA_SHAPE",
    "CONTACT_BUDGET_SHARE",
    "ULTRASOUND_CLINIC_UPTAKE",
    "ULTRASOUND_PATIENT_RATE",
    "ULTRASOUND_CODES",
    "ULTRASOUND_FEE_2025",
    "ULTRASOUND_YEARS",
    "ULTRASOUND_MUNICIPALITIES",
    "ISLAND_CLINICS",
    "SERVICE_CODES",
    "AGE_BANDS",
    "PRACTICE_FORM_DANISH",
    "PERSON_COLUMNS",
    "SERVICE_COLUMNS",
    "CLINIC_COLUMNS",
    "generate",
    "plan_clinics",
    "fee_index",
    "true_coefficients",
    "true_design",
    "true_expected_use",
    "age_band",
    "main",
    "FEE_STRUCTURE_YEAR",
    "FEE_STRUCTURE_2027",
    "CONSULTATION_FEE_MULTIPLIER_2027",
    "CONTACT_BUDGET_SHARE_2027",
    "UPCODING_CLINIC_SHARE",
    "UPCODING_RATE",
    "FIRST_REPORT_DATE",
    "MONTHLY_REPORTS_FROM",
    "CAPACITY_GROWTH",
    "VACANCY_FILL_RATE",
    "REPORT_MISTAKES",
    "fee_structure_multipliers",
    "report_dates",
]

# =============================================================================
# Public constants: the "truth" of the synthetic data
# =============================================================================

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

# -----------------------------------------------------------------------------
# The panel after the model's fit year: the 2027 fee structure, "sickness on
# paper", and the regions' capacity reports over time (the 2028 evaluation).
# All assumed; each is the synthetic "truth" that model.evaluation should find.
# -----------------------------------------------------------------------------

#: First year of the new fee structure (the health reform's fee agreement, docs/method.md step 9).
FEE_STRUCTURE_YEAR = 2027
#: The 2027 fee structure as multipliers of :data:`TRUE_COEFFICIENTS` (assumed): the capitation part
#: of the fee (flat per listed citizen, the intercept) rises and consultation fees fall, so use that
#: comes from contacts (age, disease, labour-market status) falls.  Roughly budget neutral: the
#: national mean use changes by less than 1 % at constant prices.  Young citizens without disease gain
#: (men aged 25-34: +24 %), the old and the chronically ill lose (a woman of 85+ with 3+ somatic
#: diseases: about -12 %), so weights fitted on use before 2027 over-predict the heavy groups after.
FEE_STRUCTURE_2027: dict[str, float] = {
    "Intercept": 1.24,
    **{k: 0.85 for k in TRUE_COEFFICIENTS if k.startswith(("male_", "female_"))},
    "origin_menapt": 0.90,
    "widowed_divorced": 0.90,
    "labour_temporarily_outside": 0.80,
    "labour_permanently_outside": 0.80,
    "somatic_2": 0.80,
    "somatic_3plus": 0.80,
    "psychiatric": 0.80,
    "cancer_5y": 0.80,
}
#: From 2027 the consultation fees of ``services.parquet`` (codes 0101-0411) are this share of before,
#: and contacts take this (lower) share of a user's gross fee; the rest is capitation (code 8080).
CONSULTATION_FEE_MULTIPLIER_2027 = 0.85
CONTACT_BUDGET_SHARE_2027 = 0.45
#: "More sickness on paper" (§4.4.2.3): from :data:`FEE_STRUCTURE_YEAR`, this share of the ordinary
#: clinics (not island, regional or tender; open in 2027) records one more chronic somatic disease
#: than the patient has, for patients with at least one already (where one more raises the weight).
#: Each year a further :data:`UPCODING_RATE` of those patients is affected; once recorded it stays.
#: Use is not affected (it follows the true count).  The clinics are listed in synthetic_manifest.json.
UPCODING_CLINIC_SHARE = 0.02
UPCODING_RATE = 0.25
#: First reporting date of the capacity reports over time (the executive order took effect 1 July 2025).
FIRST_REPORT_DATE = dt.date(2025, 7, 1)
#: Reports are quarterly before this date and monthly from it (R§2).
MONTHLY_REPORTS_FROM = dt.date(2027, 1, 1)
#: New capacities allocated per year as a share of the region's allocated capacities (assumed; by the
#: 2007-2026 region index).  About 2 % a year nationally: short of the 2.9 % a year that 5,000 GPs
#: in 2035 would take.
CAPACITY_GROWTH = {0: 0.015, 1: 0.030, 2: 0.020, 3: 0.020, 4: 0.030}
#: Monthly probability that a vacant capacity is filled (mean vacancy about 8 months; assumed).
VACANCY_FILL_RATE = 0.12
#: The mistakes planted in ``capacity_reports/with_mistakes/`` (one per file): kind -> the rule of
#: :func:`model.ingest.read_capacity_report` that must catch it.
REPORT_MISTAKES: dict[str, str] = {
    "extra_column": "extra_column",
    "misspelt_heading": "misspelt_heading",
    "ydernummer_lost_leading_zero": "leading_zeros_lost",
    "reporting_date_not_first": "reporting_date_not_first_of_month",
    "late_submission": "late_submission",
    "unknown_ydernummer": "ydernummer_unknown",
    "old_region_after_merger": "region_not_existing",
    "vacant_exceeds_allocated": "vacant_exceeds_allocated",
    "extra_sheet": "extra_sheet",
    "csv_ydernummer_lost_leading_zero": "ydernummer_format",
}

#: Island doctors (*ø-læger*): island, municipality code, listed patients at
#: national scale, postcode, capacities.  Læsø's doctor serves its whole
#: municipality.  Lists are both below and above the 500-patient limit.
ISLAND_CLINICS: tuple[tuple[str, str, int, str, int], ...] = (
    ("Agersø", "330", 170, "4241", 1),
    ("Omø", "330", 160, "4245", 1),
    ("Fejø", "360", 470, "4944", 1),
    ("Femø", "360", 130, "4930", 1),
    ("Orø", "316", 880, "4300", 1),
    ("Sejerø", "326", 340, "4592", 1),
    ("Anholt", "707", 150, "8592", 1),
    ("Læsø", "825", 1650, "9940", 1),
    ("Endelave", "615", 160, "8789", 1),
    ("Strynø", "482", 190, "5900", 1),
)

#: Service codes of ``services.parquet``: code -> (description, fee per service
#: in DKK at the latest year's prices, or None where the fee varies).
SERVICE_CODES: dict[str, tuple[str, float | None]] = {
    "0101": ("Consultation (konsultation)", 165.00),
    "0105": ("E-mail consultation (e-mailkonsultation)", 55.00),
    "0201": ("Telephone consultation (telefonkonsultation)", 35.00),
    "0411": ("Home visit (sygebesøg)", 450.00),
    "8080": ("Capitation, practice-cost and other fees (synthetic code; amount varies)", None),
    **{c: ("Ultrasound scan, Region Sjælland local agreement", ULTRASOUND_FEE_2025) for c in ULTRASOUND_CODES},
}
_CONTACT_CODES = ("0101", "0105", "0201", "0411")
_CONTACT_FEES_DKK = np.array([SERVICE_CODES[c][1] for c in _CONTACT_CODES])
#: Mix of contact types by age group (<65, 65-79, 80+).
_CONTACT_MIX = np.array([
    [0.52, 0.18, 0.30, 0.00],
    [0.52, 0.14, 0.31, 0.03],
    [0.48, 0.08, 0.34, 0.10],
])
#: Share of a user's gross fee (without local services) spent on contacts; the rest is capitation etc.
CONTACT_BUDGET_SHARE = 0.53
_SERVICE_CODE_LIST = ("0101", "0105", "0201", "0411", "8080") + ULTRASOUND_CODES
_CAPITATION_CODE_IDX = 4

PRACTICE_FORM_DANISH: dict[str, str] = {
    "solo": "Solopraksis",
    "partnership": "Kompagniskabspraksis",
    "collaboration": "Samarbejdspraksis",
    "regional": "Regionsklinik",
    "tender": "Udbudsklinik",
}

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
_ROW_GROUP_SIZE = 1 << 20
_SERVICE_CHUNK_PERSONS = 400_000
_COMPRESSION = "zstd"
_COMPRESSION_LEVEL = 1

# =============================================================================
# Small helpers
# =============================================================================


def age_band(age: Any) -> np.ndarray:
    """Index (0-10) of the base model's age band of each age."""
    a = np.clip(np.asarray(age, dtype=np.int64), 0, _MAX_AGE)
    return _BAND_OF_AGE[a]


def fee_index(years: Iterable[int]) -> dict[int, float]:
    """Fee index per year: the latest year is 100, each earlier year 2.5 % lower (rounded to 0.01)."""
    ys = sorted(set(int(y) for y in years))
    last = ys[-1]
    return {y: round(100.0 * (1.0 + FEE_INDEX_GROWTH) ** (y - last), 2) for y in ys}


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _interp_curve(points: list[tuple[float, float]]) -> np.ndarray:
    """Values at ages 0..125 linearly interpolated between (age, value) points."""
    xs, ys = zip(*points)
    return np.interp(np.arange(_MAX_AGE + 1), xs, ys)


def _onset(curve: np.ndarray, u: np.ndarray) -> np.ndarray:
    """First age at which a non-decreasing cumulative curve reaches ``u``; 255 if never."""
    o = np.searchsorted(curve, u, side="left")
    return np.where(o > _MAX_AGE, _NEVER, o).astype(np.uint8)


# Onsets from a standard-normal score s: the first age a with curve(a) >= Phi(-s).  A lookup table
# on a fine grid of s (resolution 1/2048 over [-8, 8]) replaces Phi and the binary search per person.
_LUT_LO, _LUT_STEP, _LUT_N = -8.0, 1.0 / 2048.0, 32768


def _onset_lut(curves: np.ndarray) -> np.ndarray:
    """(n_curves * _LUT_N,) uint8 lookup table of onsets for grid points of the score."""
    grid = _LUT_LO + (np.arange(_LUT_N) + 0.5) * _LUT_STEP
    u = ndtr(-grid)
    return np.concatenate([_onset(c, u) for c in np.atleast_2d(curves)])


def _lut_index(score: np.ndarray) -> np.ndarray:
    q = ((score - _LUT_LO) * (1.0 / _LUT_STEP)).astype(np.int32)
    return np.clip(q, 0, _LUT_N - 1, out=q)


def _onset_by_sex(lut: np.ndarray, score: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Onset ages from a two-sex lookup table (men first) and scores."""
    q = _lut_index(score)
    q += (sex.astype(np.int32) - 1) * _LUT_N
    return lut[q]


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


def _apportion(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, each at least ``minimum`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    if total < minimum * len(w):
        raise ValueError(f"persons must be at least {minimum * len(w)} (one per municipality)")
    q = w / w.sum() * total
    base = np.maximum(minimum, np.floor(q)).astype(np.int64)
    rem = int(total - base.sum())
    frac = q - np.floor(q)
    if rem > 0:
        order = np.lexsort((np.arange(len(w)), -frac))
        base[order[:rem]] += 1
    while rem < 0:
        cand = np.where(base > minimum)[0]
        j = cand[np.lexsort((cand, frac[cand]))][: -rem]
        base[j] -= 1
        rem = int(total - base.sum())
    return base


# =============================================================================
# Reference context
# =============================================================================

_ISLAND_MUNICIPALITIES = ("825", "741", "492", "563", "482", "400")  # Læsø, Samsø, Ærø, Fanø, Langeland, Bornholm
_LOW_ORIGIN_MUNICIPALITIES = ("773", "849", "825", "840")  # Morsø, Jammerbugt, Læsø, Rebild: about 7 %
_REGION_ORDER = ("Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland")
_REGION_SLUG = {"Hovedstaden": "hovedstaden", "Sjælland": "sjaelland", "Syddanmark": "syddanmark",
                "Midtjylland": "midtjylland", "Nordjylland": "nordjylland"}


@dataclass
class _Context:
    codes: np.ndarray          # (98,) str
    names: np.ndarray          # (98,) str
    region: np.ndarray         # (98,) int: index into _REGION_ORDER
    pop: np.ndarray            # (98,) real population 1 Jan 2026
    le: np.ndarray             # (98,) life expectancy, imputed where missing
    delta: np.ndarray          # (98,) years of life expectancy below national
    contact: np.ndarray        # (98,) share with a GP contact (0-1)
    rural: np.ndarray          # (98,) standardised rurality
    nondk: np.ndarray          # (98,) share of non-Danish origin
    comp: np.ndarray           # (98, 3) composition menapt / western / other
    compcum: np.ndarray        # (98, 2) float32 cumulative composition (menapt, menapt + western)
    ins2: np.ndarray           # (98,) probability of insurance group 2
    pcross: np.ndarray         # (98,) probability of listing across the border
    mort_mult: np.ndarray      # (98,) mortality multiplier from life expectancy
    nb: np.ndarray             # (98, 3) neighbour municipality indices (-1 none)
    nbcum: np.ndarray          # (98, 3) cumulative neighbour weights
    lat: np.ndarray
    lon: np.ndarray


def _context() -> _Context:
    m = reference.municipalities()
    codes = m["municipality_code"].to_numpy(dtype=object).astype(str)
    pop = m["population_2026_01_01"].to_numpy(dtype=float)
    le = m["life_expectancy_at_birth"].to_numpy(dtype=float).copy()
    council = m["sundhedsraad"].to_numpy(dtype=object)
    for i in np.where(np.isnan(le))[0]:
        same = (council == council[i]) & ~np.isnan(m["life_expectancy_at_birth"].to_numpy())
        le[i] = float(np.average(le[same], weights=pop[same]))
    delta = NATIONAL_LIFE_EXPECTANCY - le
    region = np.array([_REGION_ORDER.index(r) for r in m["region_2007_2026"]], dtype=np.int8)
    contact = m["gp_contact_share_pct"].to_numpy(dtype=float) / 100.0
    area = m["area_km2"].to_numpy(dtype=float)
    dens = np.log(area / pop)
    rural = (dens - dens.mean()) / dens.std()
    island = np.isin(codes, _ISLAND_MUNICIPALITIES)
    rural = rural + 0.7 * island
    lat, lon = m["lat"].to_numpy(dtype=float), m["lon"].to_numpy(dtype=float)

    # origin: capital region about 23 % immigrants and descendants, elsewhere 10-14 %, 7 % in four
    ldens = -dens
    zd = (ldens - np.average(ldens, weights=pop)) / ldens.std()
    base = np.where(region == 0, 0.23, 0.125) * np.exp(0.18 * zd)
    base = np.where(np.isin(codes, _LOW_ORIGIN_MUNICIPALITIES), 0.07, base)
    base = np.clip(base, 0.05, 0.45)
    rel = base / np.average(base, weights=pop)
    fm = np.clip(0.313 * (1 + 0.7 * (rel - 1)), 0.10, 0.60)
    fw = np.clip(0.362 * (1 - 0.25 * (rel - 1)), 0.20, 0.60)
    fo = np.clip(1.0 - fm - fw, 0.15, None)
    comp = np.stack([fm, fw, fo], axis=1)
    comp /= comp.sum(axis=1, keepdims=True)
    # national calibration of each group's share (targets 5.1 / 5.9 / 5.3 %)
    target = np.array([0.051, 0.059, 0.053])
    base = base * target.sum() / np.average(base, weights=pop)
    target = target * np.array([0.965, 1.0, 1.0])  # offsets the younger (more MENAPT) cities
    for _ in range(60):
        share = (base[:, None] * comp * pop[:, None]).sum(0) / pop.sum()
        comp = comp * (target / share)
        comp /= comp.sum(axis=1, keepdims=True)
    # the age profile of origin is applied relative to its national mean
    nat = _national_age_sex().sum(axis=0)
    base = 0.965 * base / float((nat * _ORIGIN_AGE).sum())
    ins2 = 0.004 * np.where(le >= 83.0, 2.0, 1.0)

    pcross = np.where(region == 0, 0.10, 0.07)
    pcross = np.where(island, 0.01, pcross)
    # neighbours: three nearest within 45 km
    n = len(codes)
    d = _haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(d, np.inf)
    nb = np.full((n, 3), -1, dtype=np.int64)
    nbcum = np.ones((n, 3))
    for i in range(n):
        order = np.argsort(d[i], kind="stable")[:3]
        ok = d[i, order] <= 45.0
        cand = order[ok]
        if len(cand) == 0:
            pcross[i] = 0.0
            continue
        w = pop[cand] / np.maximum(d[i, cand], 5.0)
        c = np.cumsum(w) / w.sum()
        nb[i, : len(cand)] = cand
        nbcum[i, : len(cand)] = c
        nbcum[i, len(cand):] = 1.0
    compcum = np.cumsum(comp, axis=1)[:, :2].astype(np.float32)
    return _Context(codes=codes, names=m["kommune"].to_numpy(dtype=object).astype(str), region=region, pop=pop,
                    le=le, delta=delta, contact=contact, rural=rural, nondk=base, comp=comp, compcum=compcum,
                    ins2=ins2,
                    pcross=pcross, mort_mult=np.exp(0.10 * delta), nb=nb, nbcum=nbcum, lat=lat, lon=lon)


# =============================================================================
# Population: national single-year structure and municipal tilt
# =============================================================================


def _national_age_sex() -> np.ndarray:
    """National shares by sex (2) x single year of age (0..125), from the 5-year bands."""
    p = reference.population_age_sex()
    out = np.zeros((2, _MAX_AGE + 1))
    for s in (1, 2):
        d = p[p["sex"] == s].sort_values("age_from")
        lows = d["age_from"].to_numpy()
        tot = d["population"].to_numpy(dtype=float)
        mids = lows[:-1] + 2.0
        dens = tot[:-1] / 5.0
        ages = np.arange(0, 85)
        w = np.interp(ages, mids, dens)
        for lo, t in zip(lows[:-1], tot[:-1]):
            seg = w[lo: lo + 5]
            out[s - 1, lo: lo + 5] = seg / seg.sum() * t
        # 0-4: about 58,000 a year at 0-2, more at 3-4 (the 2021 birth peak)
        out[s - 1, 0:5] = np.array([0.965, 0.97, 0.975, 1.05, 1.04]) / 5.0 * tot[0]
        # 85+: geometric tail to 110 (mean age about 89)
        k = np.arange(0, 26)
        tail = 0.79 ** k
        out[s - 1, 85:111] = tail / tail.sum() * tot[-1]
    return out / out.sum()


def _age_tilt() -> np.ndarray:
    return _interp_curve([(0, 0.0), (15, 0.05), (20, -0.15), (25, -0.45), (30, -0.4), (40, -0.05),
                          (50, 0.10), (60, 0.25), (70, 0.35), (80, 0.30), (125, 0.25)])


def _expected_age_sex(ctx: _Context, n_m: np.ndarray) -> np.ndarray:
    """Expected counts municipality x sex x age (IPF: municipal totals and the national structure)."""
    nat = _national_age_sex()
    tilt = _age_tilt()
    m = nat[None, :, :] * np.exp(0.7 * ctx.rural[:, None, None] * tilt[None, None, :])
    col_target = nat * n_m.sum()
    for _ in range(40):
        m *= (n_m / m.sum(axis=(1, 2)))[:, None, None]
        cs = m.sum(axis=0)
        m *= np.divide(col_target, cs, out=np.zeros_like(cs), where=cs > 0)[None, :, :]
    m *= (n_m / m.sum(axis=(1, 2)))[:, None, None]
    return m


def _draw_population(rng: np.random.Generator, ctx: _Context, n_m: np.ndarray):
    exp = _expected_age_sex(ctx, n_m)
    ncell = exp.shape[1] * exp.shape[2]
    muni, cell = [], []
    for i in range(len(n_m)):
        p = exp[i].ravel()
        counts = rng.multinomial(int(n_m[i]), p / p.sum())
        c = np.repeat(np.arange(ncell), counts)
        cell.append(c)
        muni.append(np.full(len(c), i, dtype=np.int16))
    cell = np.concatenate(cell)
    sex = (cell // exp.shape[2] + 1).astype(np.int8)
    age = (cell % exp.shape[2]).astype(np.int16)
    return np.concatenate(muni), sex, age


# =============================================================================
# Latent person traits (persistent across years)
# =============================================================================


def _somatic_curves() -> np.ndarray:
    """Cumulative prevalence by age of the 7 selected somatic diseases: (7, 2 sexes, 126 ages).

    0 type 2 diabetes, 1 COPD, 2 heart failure, 3 osteoporosis, 4 asthma,
    5 rheumatoid arthritis, 6 type 1 diabetes (labels only; assumed shapes).
    """
    a = np.arange(_MAX_AGE + 1)
    spec = [  # (pmax, a50, width) men, women
        ((0.32, 67, 9), (0.25, 69, 9)),
        ((0.17, 72, 8), (0.16, 72, 8)),
        ((0.23, 82, 7), (0.19, 86, 7)),
        ((0.10, 80, 8), (0.42, 77, 8)),
        ((0.075, 10, 5), (0.085, 14, 6)),
        ((0.014, 58, 10), (0.032, 55, 10)),
        ((0.0065, 16, 7), (0.0055, 16, 7)),
    ]
    out = np.zeros((7, 2, _MAX_AGE + 1))
    for k, per_sex in enumerate(spec):
        for s, (pm, a50, w) in enumerate(per_sex):
            out[k, s] = pm * _logistic((a - a50) / w)
    return np.maximum.accumulate(out, axis=2)


def _psych_curves() -> dict[str, np.ndarray]:
    a = np.arange(_MAX_AGE + 1)
    return {
        # chronic severe mental illness (schizophrenia, bipolar ...): persistent
        "chronic": np.stack([0.022 * _logistic((a - 24) / 4), 0.018 * _logistic((a - 27) / 5)]),
        # dementia (ICD-10 F00-F03): persistent
        "dementia": np.stack([0.20 * _logistic((a - 87) / 5), 0.22 * _logistic((a - 87) / 5)]),
        # episodic disorder: a diagnosis counts for 5 years from its onset
        "episode": np.stack([0.36 * _logistic((a - 31) / 9), 0.46 * _logistic((a - 29) / 9)]),
        # extended scope only (F21-F29, F60-F69): persistent
        "extended": np.stack([0.025 * _logistic((a - 22) / 4), 0.030 * _logistic((a - 21) / 4)]),
    }


def _perm_curve() -> np.ndarray:
    """Cumulative share permanently outside the labour market (disability pension) by age."""
    c = _interp_curve([(0, 0.0), (15, 0.0), (16, 0.002), (20, 0.008), (25, 0.016), (30, 0.024), (35, 0.033),
                       (40, 0.043), (45, 0.056), (50, 0.074), (55, 0.094), (60, 0.112), (67, 0.122), (125, 0.122)])
    return np.maximum.accumulate(c)


def _temp_threshold() -> np.ndarray:
    p = _interp_curve([(0, 0.042), (16, 0.047), (25, 0.047), (40, 0.042), (55, 0.042), (67, 0.042), (125, 0.042)])
    return ndtri(1.0 - p)


def _cancer_cumhazard() -> np.ndarray:
    """Cumulative hazard of a first cancer diagnosis by age: (2 sexes, 126)."""
    men = _interp_curve([(0, 0.0002), (19, 0.0002), (25, 0.0004), (35, 0.0009), (45, 0.0022), (55, 0.0060),
                         (65, 0.0135), (75, 0.0230), (85, 0.0270), (95, 0.0250), (125, 0.02)])
    women = _interp_curve([(0, 0.0002), (19, 0.0002), (25, 0.0006), (35, 0.0015), (45, 0.0035), (55, 0.0065),
                           (65, 0.0110), (75, 0.0165), (85, 0.0190), (95, 0.0180), (125, 0.015)])
    return np.cumsum(1.35 * np.stack([men, women]), axis=1)


#: Civil-status life course (assumed): share ever married (men, women), age at (first) marriage
#: 19 (+1.5 for men) + Gamma(shape, scale), share of marriages ending in divorce.
_CIVIL_EVER = (0.82, 0.85)
_CIVIL_MAR_SHAPE, _CIVIL_MAR_SCALE = 2.2, 4.8
_CIVIL_DIVORCE = 0.28

_SOMATIC = _somatic_curves()
_PSYCH = _psych_curves()
_PERM = _perm_curve()
_SOMATIC_LUT = [_onset_lut(_SOMATIC[k]) for k in range(7)]
_PSYCH_LUT = {k: _onset_lut(v) for k, v in _PSYCH.items()}
_PERM_LUT = _onset_lut(np.stack([_PERM, _PERM]))
_TEMP_C = _temp_threshold()
_CANCER_H = _cancer_cumhazard()
_ORIGIN_AGE = _interp_curve([(0, 0.9), (17, 0.9), (20, 1.2), (27, 1.7), (38, 1.55), (48, 1.05), (58, 0.75),
                             (68, 0.45), (78, 0.25), (125, 0.2)])


def _draw_latent(rng: np.random.Generator, ctx: _Context, muni: np.ndarray, sex: np.ndarray,
                 birth_year: np.ndarray, ref_year: int, kind: str) -> dict[str, np.ndarray]:
    """Persistent traits of a batch of new persons.

    ``kind``: ``"base"`` (the latest year's citizens), ``"dead"`` (died in
    ``ref_year``: frailer) or ``"emigrant"`` (left in ``ref_year``).
    """
    n = len(muni)
    f32 = np.float32
    age = np.clip(ref_year - birth_year.astype(np.int64), 0, _MAX_AGE)
    shift = {"base": 0.0, "dead": 0.8, "emigrant": -0.2}[kind]
    z = rng.standard_normal(n, dtype=f32) + f32(shift)
    delta = ctx.delta[muni].astype(f32)

    # origin
    if kind == "emigrant":
        p_nd = np.full(n, 0.55, dtype=f32)
        cum = np.broadcast_to(np.array([0.12, 0.67], dtype=f32), (n, 2))
    else:
        p_nd = (ctx.nondk[muni] * _ORIGIN_AGE[age]).astype(f32)
        cum = ctx.compcum[muni]
    u1, u2 = rng.random(n, dtype=f32), rng.random(n, dtype=f32)
    grp = 1 + (u2 > cum[:, 0]).astype(np.int8) + (u2 > cum[:, 1]).astype(np.int8)
    origin = np.where(u1 < p_nd, grp, 0).astype(np.int8)
    menapt = (origin == 1).astype(f32)

    ins2 = rng.random(n, dtype=f32) < ctx.ins2[muni]

    # civil status life course (ages; 255 = never)
    men = sex == 1
    ever = rng.random(n, dtype=f32) < np.where(men, f32(_CIVIL_EVER[0]), f32(_CIVIL_EVER[1]))
    mar = 19.0 + rng.gamma(_CIVIL_MAR_SHAPE, _CIVIL_MAR_SCALE, n) + 1.5 * men
    div = ever & (rng.random(n, dtype=f32) < f32(_CIVIL_DIVORCE))
    dage = mar + 1.0 + rng.gamma(1.8, 7.0, n)
    rem = div & (rng.random(n, dtype=f32) < f32(0.42))
    rage = dage + 1.0 + rng.exponential(6.0, n)
    wage = rng.normal(0.0, 9.0, n) + np.where(men, 84.0, 80.0)
    partner = ever & (rng.random(n, dtype=f32) < f32(0.004))

    def _age_u8(x, ok):
        x = np.minimum(np.floor(x), 254.0)
        return np.where(ok & (x <= _MAX_AGE), np.clip(x, 0, _MAX_AGE), _NEVER).astype(np.uint8)

    out: dict[str, np.ndarray] = {
        "origin": origin,
        "ins2": ins2,
        "mar": _age_u8(mar, ever),
        "div": _age_u8(dage, div),
        "rem": _age_u8(rage, rem),
        "wid": _age_u8(wage, ever),
        "partner": partner,
    }

    def normal():
        return rng.standard_normal(n, dtype=f32)

    # labour market
    s_perm = f32(0.5) * z + f32(0.866) * normal() + f32(0.35) * menapt + f32(0.10) * delta
    out["perm"] = _onset_by_sex(_PERM_LUT, s_perm, sex)
    out["temp_base"] = (f32(0.45) * z + f32(0.55) * normal() + f32(0.45) * menapt + f32(0.08) * delta)

    # somatic diseases
    dz = f32(0.5) * z + f32(0.08) * delta
    for k in range(7):
        out[f"som{k}"] = _onset_by_sex(_SOMATIC_LUT[k], dz + f32(0.866) * normal(), sex)

    # psychiatric
    for key, rho in (("chronic", 0.35), ("dementia", 0.30), ("episode", 0.35), ("extended", 0.35)):
        sc = f32(rho) * z + f32(np.sqrt(1 - rho ** 2)) * normal() + f32(0.06) * delta
        out["psy_" + key] = _onset_by_sex(_PSYCH_LUT[key], sc, sex)

    # cancer: age at first diagnosis (cumulative-hazard inversion)
    e = rng.exponential(1.0, n) * np.exp(-(0.20 * z + 0.03 * delta))
    on = np.where(men, np.searchsorted(_CANCER_H[0], e), np.searchsorted(_CANCER_H[1], e))
    out["cancer"] = np.where(on > _MAX_AGE, _NEVER, on).astype(np.uint8)

    out["uptake"] = rng.random(n, dtype=f32) < f32(CHRONIC_FEE_UPTAKE)
    return out


class _People:
    """All persons ever present in the panel: core arrays and latent traits, appended in batches."""

    def __init__(self) -> None:
        self._batches: list[dict[str, np.ndarray]] = []
        self.n = 0
        self.birth_year = np.zeros(0, dtype=np.int16)
        self.sex = np.zeros(0, dtype=np.int8)
        self.origin = np.zeros(0, dtype=np.int8)
        self.home = np.zeros(0, dtype=np.int16)

    def add(self, muni: np.ndarray, sex: np.ndarray, birth_year: np.ndarray, latent: dict[str, np.ndarray]) -> np.ndarray:
        start = self.n
        b = dict(latent)
        b["home"] = muni.astype(np.int16)
        b["sex"] = sex.astype(np.int8)
        b["birth_year"] = birth_year.astype(np.int16)
        self._batches.append(b)
        self.n += len(muni)
        self.birth_year = np.concatenate([self.birth_year, b["birth_year"]])
        self.sex = np.concatenate([self.sex, b["sex"]])
        self.origin = np.concatenate([self.origin, b["origin"]])
        self.home = np.concatenate([self.home, b["home"]])
        return np.arange(start, self.n, dtype=np.int32)

    def finalise(self) -> dict[str, np.ndarray]:
        keys = self._batches[0].keys()
        out = {k: np.concatenate([b[k] for b in self._batches]) for k in keys}
        self._batches = []
        return out


# =============================================================================
# Clinics
# =============================================================================

_LIST_PER_CAPACITY = {0: 1580.0, 1: 1720.0, 2: 1600.0, 3: 1620.0, 4: 1700.0}
_CAPACITY_DIST = (np.arange(1, 9), np.array([0.42, 0.22, 0.15, 0.10, 0.06, 0.03, 0.01, 0.01]))
#: Target share of each region's citizens in regional and tender clinics (assumed from the 2017 split).
_REGIONAL_SHARE = {0: 0.004, 1: 0.07, 2: 0.022, 3: 0.014, 4: 0.17}
_TENDER_PROB = {0: 0.0, 1: 0.4, 2: 0.3, 3: 0.3, 4: 0.5}
_REGIONAL_CANDIDATES = {
    0: ("400", "101"),
    1: ("360", "376", "390", "306", "326", "330", "370", "320"),
    2: ("550", "482", "580", "540", "510"),
    3: ("665", "671", "779", "707", "760"),
    4: ("813", "860", "810", "787", "773", "820", "849", "846", "851"),
}
_VACANCY_PROB = {0: 0.012, 1: 0.045, 2: 0.015, 3: 0.015, 4: 0.05}

_POSTCODES: dict[str, tuple[str, ...]] = {
    "101": ("1050", "1360", "1620", "2100", "2200", "2300", "2400", "2450", "2500", "2700", "2720"),
    "147": ("1820", "1850", "2000"), "151": ("2750",), "153": ("2605", "2660"), "155": ("2791",),
    "157": ("2820", "2900", "2920", "2930"), "159": ("2860", "2880"), "161": ("2600",), "163": ("2730",),
    "165": ("2620",), "167": ("2650",), "169": ("2630", "2640"), "173": ("2800", "2830"), "175": ("2610",),
    "183": ("2635",), "185": ("2770",), "187": ("2625",), "190": ("3500", "3520"), "201": ("3450",),
    "210": ("3480", "2990", "3050"), "217": ("3000", "3100", "3140"), "219": ("3400",), "223": ("2970",),
    "230": ("2840", "2850", "2950"), "240": ("3650", "3660", "3670"), "250": ("3600", "3630"), "253": ("2670",),
    "259": ("4600", "4681"), "260": ("3300", "3390"), "265": ("4000", "4040", "4130"), "269": ("2680",),
    "270": ("3200", "3230", "3250"), "306": ("4500", "4550", "4573"), "316": ("4300", "4340", "4450"),
    "320": ("4640", "4690", "4654"), "326": ("4400", "4490", "4470"), "329": ("4100",),
    "330": ("4200", "4220", "4230"), "336": ("4660", "4652"), "340": ("4180", "4190"), "350": ("4320", "4330"),
    "360": ("4900", "4930", "4960"), "370": ("4700", "4160", "4750"), "376": ("4800", "4850", "4873"),
    "390": ("4760", "4720", "4780"), "400": ("3700", "3730", "3770"), "410": ("5500", "5592"),
    "420": ("5610", "5620", "5631"), "430": ("5600", "5750", "5762"), "440": ("5300", "5330"),
    "450": ("5800", "5853"), "461": ("5000", "5200", "5210", "5220", "5230", "5260", "5270"),
    "479": ("5700", "5771"), "480": ("5400", "5450", "5471"), "482": ("5900", "5953"), "492": ("5970", "5960"),
    "510": ("6100", "6500", "6560"), "530": ("7190", "7200", "7250"), "540": ("6400", "6430", "6440"),
    "550": ("6270", "6240", "6780"), "561": ("6700", "6705", "6710", "6715", "6740"), "563": ("6720",),
    "573": ("6800", "6830", "6862"), "575": ("6600", "6630", "6650"), "580": ("6200", "6230", "6360"),
    "607": ("7000",), "615": ("8700", "8751"), "621": ("6000", "6040", "6070"),
    "630": ("7100", "7120", "7300", "8763"), "657": ("7400", "7441", "7451"), "661": ("7500", "7570"),
    "665": ("7620", "7650"), "671": ("7600", "7790"), "706": ("8400", "8410", "8420"), "707": ("8500", "8585"),
    "710": ("8370", "8382", "8450"), "727": ("8300",), "730": ("8900", "8920", "8930", "8960"),
    "740": ("8600", "8653", "8883"), "741": ("8305",), "746": ("8660", "8680", "8362"),
    "751": ("8000", "8200", "8210", "8220", "8230", "8240", "8260", "8270"), "756": ("7430", "7330"),
    "760": ("6950", "6900", "6880"), "766": ("8722", "7160", "8781"), "773": ("7900",), "779": ("7800", "7860"),
    "787": ("7700", "7760"), "791": ("8800", "8830", "8850"), "810": ("9700", "9740"),
    "813": ("9900", "9990", "9970"), "820": ("9600", "9640", "9670"), "825": ("9940",), "840": ("9530", "9520"),
    "846": ("9500", "9550"), "849": ("9440", "9490", "9460"), "851": ("9000", "9200", "9210", "9220", "9400"),
    "860": ("9800", "9850", "9870"),
}
_STREETS = ("Algade", "Bredgade", "Jernbanegade", "Kirkevej", "Nørregade", "Østergade", "Søndergade", "Vestergade",
            "Stationsvej", "Skolevej", "Torvet", "Parkvej", "Møllevej", "Sygehusvej", "Hovedgaden", "Strandvejen",
            "Lindevej", "Enghavevej", "Bygaden", "Sundhedsvej")
_FIRST = ("Anne", "Peter", "Mette", "Jens", "Hanne", "Lars", "Susanne", "Søren", "Camilla", "Morten", "Louise",
          "Thomas", "Maria", "Henrik", "Sofie", "Mikkel", "Ida", "Rasmus", "Karen", "Ahmad")
_LAST = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
         "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen", "Johansen", "Møller",
         "Mortensen", "Holm")


def _random_date(rng: np.random.Generator, y0: int, y1: int) -> str:
    y0 = min(y0, y1)
    start = dt.date(y0, 1, 1).toordinal()
    end = dt.date(y1, 12, 31).toordinal()
    return dt.date.fromordinal(int(rng.integers(start, end + 1))).isoformat()


def _plan_clinics_internal(rng: np.random.Generator, ctx: _Context, years: list[int]) -> pd.DataFrame:
    """The national clinic structure over the panel years (independent of the number of persons)."""
    first = years[0]
    nmun = len(ctx.codes)
    code_idx = {c: i for i, c in enumerate(ctx.codes)}
    rows: list[dict[str, Any]] = []

    def row(**kw) -> dict[str, Any]:
        d = dict(muni=0, capacities=1.0, form="", island=False, island_name="", postcode="", opened="", closed="",
                 parent=-1, w=1.0, island_list=0.0)
        d.update(kw)
        return d

    # island doctors
    island_list = np.zeros(nmun)
    for name, code, lst, pc, cap in ISLAND_CLINICS:
        i = code_idx[code]
        island_list[i] += lst
        rows.append(row(muni=i, capacities=float(cap), form="solo", island=True, island_name=name, postcode=pc,
                        opened=_random_date(rng, 1985, first - 1), island_list=float(lst)))

    # regular clinics, municipality by municipality: capacities drawn until the municipality's need is met
    caps_v, caps_p = _CAPACITY_DIST
    for i in range(nmun):
        n_reg = ctx.pop[i] - island_list[i]
        lpc = _LIST_PER_CAPACITY[int(ctx.region[i])] * float(np.exp(rng.normal(0.0, 0.04)))
        k = int(round(n_reg / lpc))
        if n_reg > 0.3 * lpc:
            k = max(k, 1)
        draws = rng.choice(caps_v, size=2 * k + 5, p=caps_p)
        cs = np.cumsum(draws)
        j = int(np.searchsorted(cs, k, side="left"))
        caps = draws[: j + 1].astype(float)
        if k == 0:
            caps = caps[:0]
        elif len(caps):
            caps[-1] = k - (cs[j - 1] if j > 0 else 0)
        for c in caps:
            rows.append(row(muni=i, capacities=float(c), w=float(np.exp(rng.normal(0.0, 0.2)))))

    # regional and tender clinics, in each region's peripheral municipalities, until the target share
    for r, share in _REGIONAL_SHARE.items():
        target = share * ctx.pop[ctx.region == r].sum()
        cand_m = {code_idx[c] for c in _REGIONAL_CANDIDATES[r]}
        cand = np.array([c for c, d in enumerate(rows) if not d["island"] and d["muni"] in cand_m], dtype=np.int64)
        cand = cand[rng.permutation(len(cand))]
        got = 0.0
        for c in cand:
            if got >= target:
                break
            d = rows[c]
            unconverted = sum(1 for e in rows if e["muni"] == d["muni"] and not e["island"] and e["form"] == "")
            if unconverted <= 1:  # never convert a municipality's last ordinary clinic
                continue
            if d["capacities"] < 2:
                d["capacities"] = float(rng.integers(2, 5))
            d["form"] = "tender" if rng.random() < _TENDER_PROB[r] else "regional"
            d["opened"] = _random_date(rng, 2008, first - 1)
            got += d["capacities"] * _LIST_PER_CAPACITY[r]

    # practice forms of the others, and opening dates
    for d in rows:
        if d["form"] == "":
            u = rng.random()
            if d["capacities"] <= 1:
                d["form"] = "solo" if u < 0.9 else "collaboration"
            else:
                d["form"] = "partnership" if u < 0.85 else "collaboration"
        if d["opened"] == "":
            d["opened"] = _random_date(rng, 1978, first - 1)

    # events: openings and splits in each year after the first; closures in every year
    n_base = len(rows)
    base_regular = [c for c in range(n_base) if not rows[c]["island"]]
    n_regular = len(base_regular)
    per_muni = np.bincount([rows[c]["muni"] for c in base_regular], minlength=nmun)
    used_muni: set[int] = set()
    parents: set[int] = set()
    for t in years[1:]:
        n_open = max(1, int(round(0.006 * n_regular)))
        cand = np.array([c for c in base_regular
                         if per_muni[rows[c]["muni"]] >= 2 and rows[c]["muni"] not in used_muni
                         and rows[c]["parent"] < 0 and c not in parents and rows[c]["opened"] < f"{first}"],
                        dtype=np.int64)
        pick = rng.choice(cand, size=min(n_open, len(cand)), replace=False) if len(cand) else []
        for c in sorted(int(x) for x in pick):
            if rows[c]["muni"] in used_muni:
                continue
            used_muni.add(rows[c]["muni"])
            rows[c]["opened"] = _random_date(rng, t, t)
        n_split = max(1, int(round(0.002 * n_regular)))
        cand = np.array([c for c in base_regular
                         if rows[c]["capacities"] >= 3 and rows[c]["form"] in ("partnership", "collaboration")
                         and rows[c]["opened"] < f"{first}" and c not in parents], dtype=np.int64)
        pick = rng.choice(cand, size=min(n_split, len(cand)), replace=False) if len(cand) else []
        for p in sorted(int(x) for x in pick):
            parents.add(p)
            take = 1.0 if rows[p]["capacities"] < 5 else 2.0
            rows[p]["capacities"] -= take
            rows.append(row(muni=rows[p]["muni"], capacities=take, form="solo" if take == 1 else "partnership",
                            opened=_random_date(rng, t, t), parent=p, w=rows[p]["w"]))
    has_regular = per_muni > 0
    for t in years:
        n_close = max(1, int(round(0.008 * n_regular)))
        for m in sorted(int(x) for x in rng.choice(nmun, size=n_close, p=ctx.pop / ctx.pop.sum())):
            if not has_regular[m]:
                continue
            cap = 1.0 if rng.random() < 0.8 else 2.0
            rows.append(row(muni=m, capacities=cap, form="solo" if cap == 1 else "partnership",
                            opened=_random_date(rng, 1978, first - 1), closed=_random_date(rng, t, t),
                            w=float(np.exp(rng.normal(0.0, 0.2)))))
    n = len(rows)

    # identities: provider numbers, names, addresses, postcodes; vacancies; the ultrasound agreement
    ids = rng.choice(999_999, size=n, replace=False) + 1
    for c, d in enumerate(rows):
        d["clinic_id"] = f"{int(ids[c]):06d}"
        m = d["muni"]
        town = ctx.names[m]
        street = _STREETS[int(rng.integers(len(_STREETS)))]
        d["address"] = f"{street} {int(rng.integers(1, 121))}"
        f = d["form"]
        if d["island"]:
            d["name"] = f"Ølægen på {d['island_name']}"
        else:
            if f == "solo":
                d["name"] = f"Læge {_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
            elif f == "partnership":
                d["name"] = f"Lægerne {street}" if rng.random() < 0.5 else f"Lægehuset {town}"
            elif f == "collaboration":
                d["name"] = f"Samarbejdspraksis {town}, {_LAST[int(rng.integers(len(_LAST)))]}"
            elif f == "regional":
                d["name"] = f"Regionsklinik {town}"
            else:
                d["name"] = f"Udbudsklinik {town}"
            opts = _POSTCODES[ctx.codes[m]]
            d["postcode"] = opts[int(rng.integers(len(opts)))]
        r = int(ctx.region[m])
        pv = 0.25 if f in ("regional", "tender") else (0.10 if d["island"] else _VACANCY_PROB[r])
        d["vacant_capacities"] = float(rng.binomial(int(d["capacities"]), pv))
        d["ultrasound"] = bool(ctx.codes[m] in ULTRASOUND_MUNICIPALITIES and not d["island"]
                               and f not in ("regional", "tender") and rng.random() < ULTRASOUND_CLINIC_UPTAKE)
    for d in rows:
        d["split_from"] = "" if d["parent"] < 0 else rows[d["parent"]]["clinic_id"]
    df = pd.DataFrame(rows)
    df["municipality_code"] = ctx.codes[df["muni"].to_numpy()]
    df["practice_form"] = df["form"]
    df["island_doctor"] = df["island"].astype(bool)
    df["opened_year"] = np.array([int(o[:4]) for o in df["opened"]], dtype=np.int64)
    df["closed_year"] = np.array([int(c[:4]) if c else 9999 for c in df["closed"]], dtype=np.int64)
    df["parent"] = df["parent"].astype(np.int64)
    df["capacities"] = df["capacities"].astype(float)
    return df


def _open_mask(plan: pd.DataFrame, year: int) -> np.ndarray:
    return (plan["opened_year"].to_numpy() <= year) & (plan["closed_year"].to_numpy() >= year)


@dataclass
class _RuleTables:
    own_keys: np.ndarray
    own_clin: np.ndarray
    cross_keys: np.ndarray
    cross_clin: np.ndarray
    own_share: np.ndarray      # (nclinics,) probability for a resident of the clinic's municipality (own draw)
    cross_share: np.ndarray    # (nclinics,) probability given a cross-border draw into the municipality
    has_cross: np.ndarray      # (nmun,) the municipality has regular clinics (can take cross-border patients)


def _rule_tables(plan: pd.DataFrame, ctx: _Context, year: int) -> _RuleTables:
    nmun = len(ctx.codes)
    open_ = _open_mask(plan, year)
    muni = plan["muni"].to_numpy()
    island = plan["island_doctor"].to_numpy()
    w = (plan["capacities"].to_numpy() * plan["w"].to_numpy()).clip(0.05, None)
    own_share = np.zeros(len(plan))
    cross_share = np.zeros(len(plan))
    for m in range(nmun):
        here = open_ & (muni == m)
        isl = np.where(here & island)[0]
        regc = np.where(here & ~island)[0]
        denom = ctx.pop[m] * (1 - ctx.pcross[m])
        s_isl = plan["island_list"].to_numpy()[isl] / denom
        if len(regc) == 0:
            own_share[isl] = s_isl / s_isl.sum()
            continue
        s_isl = np.minimum(s_isl, 0.97 / max(len(isl), 1))
        own_share[isl] = s_isl
        own_share[regc] = (1 - s_isl.sum()) * w[regc] / w[regc].sum()
        cross_share[regc] = w[regc] / w[regc].sum()

    def table(share):
        idx = np.where(share > 0)[0]
        idx = idx[np.lexsort((idx, muni[idx]))]
        keys = np.empty(len(idx))
        for m in np.unique(muni[idx]):
            sel = muni[idx] == m
            c = np.cumsum(share[idx[sel]])
            c /= c[-1]
            keys[sel] = m + c
        return keys, idx.astype(np.int32)

    ok, oc = table(own_share)
    ck, cc = table(cross_share)
    has_cross = np.zeros(nmun, dtype=bool)
    has_cross[muni[cross_share > 0]] = True
    return _RuleTables(ok, oc, ck, cc, own_share, cross_share, has_cross)


def _assign(rng: np.random.Generator, ctx: _Context, tables: _RuleTables, muni: np.ndarray) -> np.ndarray:
    """Draw a clinic for each person living in ``muni`` (index array), by the listing rule."""
    n = len(muni)
    u1, u2, u3 = rng.random(n), rng.random(n), np.minimum(rng.random(n), 1.0 - 1e-9)
    cross = u1 < ctx.pcross[muni]
    k = (u2[:, None] > ctx.nbcum[muni]).sum(axis=1).clip(0, 2)
    target = np.where(cross, ctx.nb[muni, k], muni)
    cross &= target >= 0
    cross &= tables.has_cross[np.maximum(target, 0)]
    target = np.where(cross, target, muni)
    out = np.empty(n, dtype=np.int32)
    own = ~cross
    j = np.searchsorted(tables.own_keys, target[own] + u3[own], side="right")
    out[own] = tables.own_clin[np.minimum(j, len(tables.own_clin) - 1)]
    j = np.searchsorted(tables.cross_keys, target[cross] + u3[cross], side="right")
    out[cross] = tables.cross_clin[np.minimum(j, len(tables.cross_clin) - 1)]
    return out


def _expected_lists(plan: pd.DataFrame, ctx: _Context, year: int, pop: np.ndarray | None = None) -> np.ndarray:
    """Expected list size per clinic in ``year`` when municipality m has ``pop[m]`` residents."""
    pop = ctx.pop if pop is None else pop
    t = _rule_tables(plan, ctx, year)
    muni = plan["muni"].to_numpy()
    own_in = pop * (1 - ctx.pcross)
    cross_in = np.zeros(len(pop))
    for m in range(len(pop)):
        prev = 0.0
        for k in range(3):
            j = ctx.nb[m, k]
            if j < 0:
                break
            flow = pop[m] * ctx.pcross[m] * (ctx.nbcum[m, k] - prev)
            if t.has_cross[j]:
                cross_in[j] += flow
            else:
                own_in[m] += flow
            prev = ctx.nbcum[m, k]
    return t.own_share * own_in[muni] + t.cross_share * cross_in[muni]


def plan_clinics(years: Iterable[int] = DEFAULT_YEARS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The clinic table :func:`generate` writes (same ``years`` and ``seed``), plus planning columns.

    Besides :data:`CLINIC_COLUMNS` it has ``address``, ``ultrasound`` (joins
    the ultrasound agreement), ``open_latest`` (open in the latest year) and
    ``expected_list`` (expected listed patients in the latest year at national
    scale).  The clinic structure does not depend on the number of persons.
    """
    years = sorted(set(int(y) for y in years))
    ctx = _context()
    streams = np.random.SeedSequence(seed).spawn(7)
    plan = _plan_clinics_internal(np.random.default_rng(streams[2]), ctx, years)
    plan["open_latest"] = _open_mask(plan, years[-1])
    plan["expected_list"] = _expected_lists(plan, ctx, years[-1])
    cols = list(CLINIC_COLUMNS) + ["address", "ultrasound", "open_latest", "expected_list"]
    return plan[cols].sort_values("clinic_id", kind="stable").reset_index(drop=True)


# =============================================================================
# The panel: backwards from the latest year
# =============================================================================


def _mortality_table() -> np.ndarray:
    """Yearly probability of death by sex (men, women) and age, at national life expectancy (assumed Gompertz)."""
    a = np.arange(_MAX_AGE + 1, dtype=float)
    q = np.exp(-10.8 + 0.098 * a)
    q = np.where(a < 30, np.where(a == 0, 0.003, np.where(a < 15, 0.0001, 0.0004)), q)
    return np.minimum(np.stack([q * 1.2, q * 0.82]), 0.5)


_MORTALITY = _mortality_table()
_AGES = np.arange(_MAX_AGE + 1)
_MOVE_RATE = np.select([_AGES < 18, _AGES < 25, _AGES < 35, _AGES < 50, _AGES < 65],
                       [0.03, 0.11, 0.08, 0.03, 0.018], 0.012)
_EMIGRATION_RATE = np.select([_AGES < 20, _AGES < 35, _AGES < 50], [0.004, 0.02, 0.008], 0.002)
#: Immigration rate by origin (Danish, then the three other groups alike) and age (assumed).
_IMMIGRATION_RATE = np.stack([
    np.where((_AGES >= 20) & (_AGES < 40), 0.004, 0.0015),
    np.select([_AGES < 18, _AGES < 25, _AGES < 35, _AGES < 50, _AGES < 65], [0.045, 0.12, 0.10, 0.05, 0.02], 0.006),
])


def _mortality(age: np.ndarray, sex: np.ndarray, muni: np.ndarray, ctx: _Context) -> np.ndarray:
    """Probability of death in the year: higher where life expectancy is lower (x exp(0.1 x years below))."""
    return np.minimum(_MORTALITY[sex.astype(np.int64) - 1, age] * ctx.mort_mult[muni], 0.5)


def _migration_kernel(ctx: _Context) -> np.ndarray:
    """Relative attraction of a move between two municipalities: mostly short moves, some long (assumed)."""
    d = _haversine_km(ctx.lat[:, None], ctx.lon[:, None], ctx.lat[None, :], ctx.lon[None, :])
    k = np.exp(-d / 40.0) + 0.03
    np.fill_diagonal(k, 0.0)
    return k


def _previous_municipality(rng: np.random.Generator, ctx: _Context, cur: np.ndarray,
                           movers_mass: np.ndarray) -> np.ndarray:
    """Municipality in the year before for persons who moved into ``cur``.

    The flows are doubly constrained (Sinkhorn scaling of a distance kernel):
    every municipality sends and receives its expected number of movers
    (``movers_mass``), so moving does not drift municipal populations apart.
    """
    k = _migration_kernel(ctx)
    m = np.maximum(movers_mass, 1e-9)
    a = np.ones(len(m))
    b = np.ones(len(m))
    for _ in range(200):
        a = m / (k @ b)
        b = m / (k.T @ a)
    flow = a[:, None] * k * b[None, :]          # flow[j, i]: into j (now) from i (before)
    cum = np.cumsum(flow, axis=1)
    cum /= cum[:, -1:]
    keys = (np.arange(len(m))[:, None] + cum).ravel()
    u = np.minimum(rng.random(len(cur)), 1.0 - 1e-9)
    j = np.searchsorted(keys, cur + u, side="right")
    return (j % len(m)).astype(np.int16)


@dataclass
class _Year:
    idx: np.ndarray     # global person indices (int32)
    muni: np.ndarray    # int16
    clinic: np.ndarray  # int32 index into the plan


def _build_panel(rng_panel, rng_lat, ctx: _Context, plan: pd.DataFrame, people: _People,
                 latest_idx: np.ndarray, latest_muni: np.ndarray, years: list[int]) -> dict[int, _Year]:
    last = years[-1]
    panel: dict[int, _Year] = {}
    tables = {t: _rule_tables(plan, ctx, t) for t in years}
    panel[last] = _Year(latest_idx, latest_muni, _assign(rng_panel, ctx, tables[last], latest_muni))
    parent = plan["parent"].to_numpy()
    island = plan["island_doctor"].to_numpy()
    pmuni = plan["muni"].to_numpy()
    closed_year = plan["closed_year"].to_numpy()
    for t in range(last - 1, years[0] - 1, -1):
        nxt = panel[t + 1]
        by = people.birth_year[nxt.idx].astype(np.int64)
        age1 = (t + 1) - by
        born = age1 == 0
        imm = ~born & (rng_panel.random(len(by)) < _IMMIGRATION_RATE[(people.origin[nxt.idx] > 0).astype(np.int64), age1])
        keep = ~born & ~imm
        s_idx = nxt.idx[keep]
        s_age = age1[keep] - 1
        s_mu1 = nxt.muni[keep]
        s_cl1 = nxt.clinic[keep]
        s_sex = people.sex[s_idx]
        moved = rng_panel.random(len(s_idx)) < _MOVE_RATE[s_age]
        s_mu = s_mu1.copy()
        mass = np.bincount(s_mu1.astype(np.int64), weights=_MOVE_RATE[s_age], minlength=len(ctx.codes))
        s_mu[moved] = _previous_municipality(rng_panel, ctx, s_mu1[moved].astype(np.int64), mass)
        moved = s_mu != s_mu1

        # clinics of the survivors in year t
        open_t = _open_mask(plan, t)
        cl = s_cl1.copy()
        shut = ~open_t[cl]
        split_back = ~moved & shut & (parent[cl] >= 0)
        cl[split_back] = parent[cl[split_back]]
        need = moved | (shut & ~split_back)
        cl[need] = _assign(rng_panel, ctx, tables[t], s_mu[need].astype(np.int64))
        # clinics that close during year t had patients who are listed elsewhere in t+1
        closing = np.where(closed_year == t)[0]
        u = rng_panel.random(len(cl))
        if len(closing):
            tb = tables[t]
            pi = np.zeros(len(ctx.codes))
            np.add.at(pi, pmuni[closing], tb.own_share[closing])
            elig = ~moved & ~need & ~island[cl] & (pmuni[cl] == s_mu)
            hit = elig & (u < pi[s_mu])
            if hit.any():
                # choose among the municipality's closing clinics by their share
                order = closing[np.lexsort((closing, pmuni[closing]))]
                keys = np.empty(len(order))
                for m in np.unique(pmuni[order]):
                    sel = pmuni[order] == m
                    c = np.cumsum(tb.own_share[order[sel]])
                    keys[sel] = m + c / c[-1]
                v = np.minimum(u[hit] / pi[s_mu[hit]], 1 - 1e-9)
                j = np.searchsorted(keys, s_mu[hit] + v, side="right")
                cl[hit] = order[np.minimum(j, len(order) - 1)]

        # those who died or emigrated during year t: new persons, cloned from the survivors' cells
        q = _mortality(s_age, s_sex, s_mu, ctx)
        dead = rng_panel.random(len(s_idx)) < q / (1 - q)
        e = _EMIGRATION_RATE[s_age]
        emig = rng_panel.random(len(s_idx)) < e / (1 - e)
        new_idx, new_mu = [], []
        for flag, kind in ((dead, "dead"), (emig, "emigrant")):
            mu = s_mu[flag].astype(np.int64)
            sx = s_sex[flag]
            byr = (t - s_age[flag]).astype(np.int64)
            lat = _draw_latent(rng_lat, ctx, mu, sx, byr, t, kind)
            new_idx.append(people.add(mu, sx, byr, lat))
            new_mu.append(mu.astype(np.int16))
        new_mu_all = np.concatenate(new_mu)
        new_cl = _assign(rng_panel, ctx, tables[t], new_mu_all.astype(np.int64))
        panel[t] = _Year(np.concatenate([s_idx] + new_idx).astype(np.int32),
                         np.concatenate([s_mu, new_mu_all]).astype(np.int16),
                         np.concatenate([cl, new_cl]).astype(np.int32))
    return panel


# =============================================================================
# Characteristics and fees of one year
# =============================================================================


_PARTNER_CODE = np.array([0, 4, 5, 6], dtype=np.int8)


def _civil_status(lat: dict[str, np.ndarray], idx: np.ndarray, a8: np.ndarray) -> np.ndarray:
    """CIVST code index (into _CIVIL) at age ``a8`` (uint8) from the life-course ages (255 = never)."""
    mar = lat["mar"][idx]
    div = lat["div"][idx]
    rem = lat["rem"][idx]
    wid = lat["wid"][idx]
    married = mar <= a8
    # widowed at age wid if married then: (mar <= wid < div) or (rem <= wid)
    widowed = married & (wid <= a8) & (mar <= wid) & ((wid < div) | (rem <= wid))
    divorced = married & (div <= a8) & (rem > a8) & ~widowed
    code = married.astype(np.int8)           # 0 U, 1 G
    code[divorced] = 2                       # F
    code[widowed] = 3                        # E
    partner = lat["partner"][idx] & married  # registered partnership: G->P, F->O, E->L
    if partner.any():
        code[partner] = _PARTNER_CODE[code[partner]]
    return code


def _characteristics(lat: dict[str, np.ndarray], ctx: _Context, idx: np.ndarray, year: int,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    sex = lat["sex"][idx]
    age = (year - lat["birth_year"][idx].astype(np.int64)).astype(np.int16)
    a = age.astype(np.int64)
    working = (a >= 16) & (a <= 67)
    perm = working & (lat["perm"][idx] <= a)
    score = lat["temp_base"][idx] + 0.70 * rng.standard_normal(len(idx)).astype(np.float32)
    temp = working & ~perm & (score > _TEMP_C[a])
    labour = np.where(~working, 0, np.where(perm, 3, np.where(temp, 2, 1))).astype(np.int8)
    a8 = age.astype(np.uint8)
    somatic = np.zeros(len(idx), dtype=np.int8)
    for k in range(7):
        hit = lat[f"som{k}"][idx] <= a8
        somatic += hit
        if k == 0:
            t2d_copd = hit
        elif k == 1:
            t2d_copd = t2d_copd | hit
    ep = lat["psy_episode"][idx].astype(np.int64)
    psych = (lat["psy_chronic"][idx] <= a) | (lat["psy_dementia"][idx] <= a) | ((ep <= a) & (a < ep + 5))
    psych_ext = psych | (lat["psy_extended"][idx] <= a)
    can = lat["cancer"][idx].astype(np.int64)
    diag_year = np.where(can == _NEVER, -10_000, lat["birth_year"][idx].astype(np.int64) + can)
    cancer5 = (diag_year <= year) & (diag_year >= year - 4)
    cancer10 = (diag_year <= year) & (diag_year >= year - 9)
    return dict(sex=sex, age=age, civil=_civil_status(lat, idx, a8), origin=lat["origin"][idx],
                insurance=np.where(lat["ins2"][idx], 2, 1).astype(np.int8), labour=labour, somatic=somatic,
                psychiatric=psych, psychiatric_extended=psych_ext, cancer_5y=cancer5, cancer_10y=cancer10,
                t2d_copd=t2d_copd)


_TERMS = tuple(TRUE_COEFFICIENTS)


def _agesex_coef_table(coefs: dict[str, float] | None = None) -> np.ndarray:
    """(2 sexes, 11 bands) of intercept + age-sex coefficient."""
    c = TRUE_COEFFICIENTS if coefs is None else coefs
    tab = np.zeros((2, len(AGE_BANDS)))
    for s, sname in ((0, "male"), (1, "female")):
        for b, lab in enumerate(_BAND_LABELS):
            tab[s, b] = c["Intercept"] + c.get(f"{sname}_{lab}", 0.0)
    return tab


def _extra_table(coefs: dict[str, float] | None = None) -> np.ndarray:
    """Sum of the non-age-sex terms for each of the 256 codes of :func:`_extra_code`."""
    c = TRUE_COEFFICIENTS if coefs is None else coefs
    code = np.arange(256)
    lab = (code >> 2) & 3
    som = (code >> 4) & 3
    return (c["origin_menapt"] * (code & 1) + c["widowed_divorced"] * ((code >> 1) & 1)
            + c["labour_temporarily_outside"] * (lab == 1) + c["labour_permanently_outside"] * (lab == 2)
            + c["somatic_2"] * (som == 1) + c["somatic_3plus"] * (som == 2)
            + c["psychiatric"] * ((code >> 6) & 1) + c["cancer_5y"] * ((code >> 7) & 1))


def _extra_code(menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric, cancer_5y) -> np.ndarray:
    u8 = np.uint8
    som = np.asarray(somatic)
    code = np.asarray(menapt).astype(u8)
    code |= np.asarray(widowed_divorced).astype(u8) << u8(1)
    code |= (np.asarray(labour_temp).astype(u8) | (np.asarray(labour_perm).astype(u8) << u8(1))) << u8(2)
    code |= ((som == 2).astype(u8) | ((som >= 3).astype(u8) << u8(1))) << u8(4)
    code |= np.asarray(psychiatric).astype(u8) << u8(6)
    code |= np.asarray(cancer_5y).astype(u8) << u8(7)
    return code


def _true_mean(sex, age, origin_menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric,
               cancer_5y, coefs: dict[str, float] | None = None) -> np.ndarray:
    """X @ coefficients (default :data:`TRUE_COEFFICIENTS`, latest year's prices) from the characteristics."""
    tab = _agesex_coef_table(coefs)
    s = np.asarray(sex).astype(np.int64) - 1
    code = _extra_code(origin_menapt, widowed_divorced, labour_temp, labour_perm, somatic, psychiatric, cancer_5y)
    return tab[s, age_band(age)] + _extra_table(coefs)[code]


def fee_structure_multipliers(year: int) -> dict[str, float]:
    """Multiplier of each true coefficient in ``year``: all 1 before :data:`FEE_STRUCTURE_YEAR`, then
    :data:`FEE_STRUCTURE_2027` (terms it does not name keep 1)."""
    if int(year) < FEE_STRUCTURE_YEAR:
        return {k: 1.0 for k in TRUE_COEFFICIENTS}
    return {k: float(FEE_STRUCTURE_2027.get(k, 1.0)) for k in TRUE_COEFFICIENTS}


def _structure_coefficients(year: int) -> dict[str, float]:
    """The true coefficients of ``year``'s fee structure in the latest panel year's prices."""
    if int(year) < FEE_STRUCTURE_YEAR:
        return TRUE_COEFFICIENTS
    m = fee_structure_multipliers(year)
    return {k: v * m[k] for k, v in TRUE_COEFFICIENTS.items()}


def true_coefficients(year: int, years: Iterable[int] = DEFAULT_YEARS) -> dict[str, float]:
    """The true coefficients in ``year``'s prices (scaled by the fee index of the panel ``years``).

    Before :data:`FEE_STRUCTURE_YEAR` these are :data:`TRUE_COEFFICIENTS`; from
    2027 each term is multiplied by :data:`FEE_STRUCTURE_2027` (the new fee
    structure: more capitation, lower consultation fees).
    """
    f = fee_index(years)[int(year)] / 100.0
    return {k: v * f for k, v in _structure_coefficients(year).items()}


def true_design(persons: pd.DataFrame) -> pd.DataFrame:
    """The base model's design matrix of ``persons`` (columns = :data:`TRUE_COEFFICIENTS` keys, floats)."""
    sex = persons["sex"].to_numpy().astype(np.int64)
    band = age_band(persons["age"].to_numpy())
    out = {"Intercept": np.ones(len(persons))}
    for s, sname in ((1, "male"), (2, "female")):
        for b, lab in enumerate(_BAND_LABELS):
            key = f"{sname}_{lab}"
            if key in TRUE_COEFFICIENTS:
                out[key] = ((sex == s) & (band == b)).astype(float)
    civ = persons["civil_status"].astype(str).to_numpy()
    lab = persons["labour_status"].astype(str).to_numpy()
    som = persons["somatic_diseases"].to_numpy().astype(np.int64)
    out["origin_menapt"] = (persons["origin_group"].astype(str).to_numpy() == "menapt").astype(float)
    out["widowed_divorced"] = np.isin(civ, ["E", "F", "L", "O"]).astype(float)
    out["labour_temporarily_outside"] = (lab == "temporarily_outside").astype(float)
    out["labour_permanently_outside"] = (lab == "permanently_outside").astype(float)
    out["somatic_2"] = (som == 2).astype(float)
    out["somatic_3plus"] = (som >= 3).astype(float)
    out["psychiatric"] = persons["psychiatric"].to_numpy().astype(float)
    out["cancer_5y"] = persons["cancer_5y"].to_numpy().astype(float)
    return pd.DataFrame({k: out[k] for k in _TERMS}, index=persons.index)


def true_expected_use(persons: pd.DataFrame, index: float | pd.Series | np.ndarray = 100.0,
                      year: int | None = None) -> np.ndarray:
    """E[gross_fee - local_services_fee + chronic_fee | X] for non-regional/tender patients (DKK).

    ``index`` is the fee index of each row's year (latest year = 100).
    ``year``: the fee structure to use (from :data:`FEE_STRUCTURE_YEAR` on, the
    coefficients times :data:`FEE_STRUCTURE_2027`); None: the ``year`` column
    of ``persons`` when it has one, else the structure before 2027.  Persons
    of years from 2027 must be described by their *true* somatic disease
    count: the recorded count of patients of :data:`UPCODING_CLINIC_SHARE`'s
    clinics is inflated (see ``synthetic_manifest.json``).
    """
    X = true_design(persons).to_numpy()
    if year is None and "year" in persons.columns:
        yrs = persons["year"].to_numpy().astype(np.int64)
        out = np.empty(len(persons))
        for y in np.unique(yrs):
            sel = yrs == y
            beta = np.array([_structure_coefficients(int(y))[k] for k in _TERMS])
            out[sel] = X[sel] @ beta
        return out * np.asarray(index, dtype=float) / 100.0
    c = _structure_coefficients(year if year is not None else FEE_STRUCTURE_YEAR - 1)
    beta = np.array([c[k] for k in _TERMS])
    return X @ beta * np.asarray(index, dtype=float) / 100.0


def _use_probability_table() -> np.ndarray:
    """Probability of any use in the year by sex (men, women) and age, before disease and municipality."""
    men = _interp_curve([(0, 0.99), (2, 0.99), (3, 0.93), (5, 0.93), (6, 0.82), (15, 0.82), (16, 0.72), (24, 0.72),
                         (25, 0.70), (34, 0.70), (35, 0.74), (44, 0.74), (45, 0.78), (54, 0.78), (55, 0.83),
                         (64, 0.83), (65, 0.90), (74, 0.90), (75, 0.95), (125, 0.95)])
    women = _interp_curve([(0, 0.99), (2, 0.99), (3, 0.93), (5, 0.93), (6, 0.82), (15, 0.82), (16, 0.88),
                           (24, 0.88), (25, 0.90), (64, 0.90), (65, 0.93), (74, 0.93), (75, 0.96), (125, 0.96)])
    return np.stack([men, women])


_USE_P = _use_probability_table()


def _use_probability(age: np.ndarray, sex: np.ndarray, sick: np.ndarray, contact: np.ndarray) -> np.ndarray:
    p = _USE_P[sex.astype(np.int64) - 1, age]
    p = np.where(sick, 1 - (1 - p) * 0.3, p)
    return np.clip(p * contact / 0.85, 0.3, 0.995)


def _fees(rng: np.random.Generator, ch: dict[str, np.ndarray], ctx: _Context, muni: np.ndarray,
          clinic: np.ndarray, plan_arrays: dict[str, np.ndarray], year: int, idx_t: float,
          uptake: np.ndarray) -> dict[str, np.ndarray]:
    n = len(muni)
    age = ch["age"].astype(np.int64)
    sex = ch["sex"]
    civ = ch["civil"]
    widdiv = (civ >= 2) & (civ != 4)  # F, E, O, L (codes 2, 3, 5, 6)
    mu = _true_mean(sex, age, ch["origin"] == 1, widdiv, ch["labour"] == 2, ch["labour"] == 3,
                    ch["somatic"], ch["psychiatric"], ch["cancer_5y"], coefs=_structure_coefficients(year))
    mu *= idx_t / 100.0
    sick = (ch["somatic"] > 0) | ch["psychiatric"] | ch["cancer_5y"]
    p = _use_probability(age, sex, sick, ctx.contact[muni])
    use = rng.random(n) < p
    g = rng.gamma(USE_GAMMA_SHAPE, 1.0 / USE_GAMMA_SHAPE, n)
    y_true = np.rint(np.where(use, mu * 100.0 / p * g, 0.0)).astype(np.int64)
    rt = plan_arrays["regional_tender"][clinic]
    y = np.where(rt, np.rint(y_true * REGIONAL_TENDER_RECORDING_FACTOR).astype(np.int64), y_true)
    enrolled = (ch["insurance"] == 1) & ch["t2d_copd"] & uptake
    frac = rng.uniform(*CHRONIC_FEE_SHARE_RANGE, n)
    # the chronic-care fee replaces the contact services: an enrolled citizen bills none of them, so the
    # observed gross fee lacks the contact part of their use (which the base model imputes, §4.4.3); the
    # lump sum pays for that part, give or take (frac)
    share = CONTACT_BUDGET_SHARE_2027 if int(year) >= FEE_STRUCTURE_YEAR else CONTACT_BUDGET_SHARE
    unbilled = np.where(enrolled, np.floor(y * share).astype(np.int64), 0)
    chronic = np.where(enrolled, np.floor(unbilled * frac).astype(np.int64), 0)
    # ultrasound: extra use at participating clinics in the agreement's years
    us_ok = plan_arrays["ultrasound"][clinic] & (year in ULTRASOUND_YEARS) & (y > 0)
    rate = ULTRASOUND_PATIENT_RATE * np.where(age < 16, 0.3, np.where((sex == 2) & (age >= 20) & (age < 45), 1.6,
                                                                     np.where(age >= 65, 1.3, 1.0)))
    scan = us_ok & (rng.random(n) < rate)
    n_scans = np.where(scan, 1 + rng.poisson(0.25, n), 0).astype(np.int64)
    unit = int(round(ULTRASOUND_FEE_2025 * 100 * idx_t / _index_2025(year, idx_t)))
    local = n_scans * unit
    base = y - unbilled
    return dict(base=base, chronic=chronic, local=local, n_scans=n_scans, scan_unit=unit, y_true=y_true,
                enrolled=enrolled, unbilled=unbilled)


def _plan_upcoding(rng: np.random.Generator, plan: pd.DataFrame) -> np.ndarray:
    """Which clinics record more sickness than there is from :data:`FEE_STRUCTURE_YEAR` (bool per plan row).

    :data:`UPCODING_CLINIC_SHARE` of the ordinary clinics (not island,
    regional or tender) open throughout 2027, drawn at random.
    """
    ok = (~plan["island_doctor"].to_numpy(dtype=bool) & ~plan["practice_form"].isin(["regional", "tender"]).to_numpy()
          & (plan["opened_year"].to_numpy() < FEE_STRUCTURE_YEAR)
          & (plan["closed_year"].to_numpy() > FEE_STRUCTURE_YEAR))
    cand = np.flatnonzero(ok)
    k = max(1, int(round(UPCODING_CLINIC_SHARE * len(cand))))
    out = np.zeros(len(plan), dtype=bool)
    out[np.sort(rng.choice(cand, size=min(k, len(cand)), replace=False))] = True
    return out


def _upcode(rng: np.random.Generator, upcoding: np.ndarray, recorded_extra: np.ndarray, idx: np.ndarray,
            clinic: np.ndarray, somatic: np.ndarray) -> np.ndarray:
    """Recorded somatic disease counts of one year: the true count plus one for the affected patients.

    Patients of an upcoding clinic with at least one disease become affected
    with probability :data:`UPCODING_RATE` a year; once affected they stay so
    (``recorded_extra``, by person, updated in place), so recorded counts never fall.
    """
    u = rng.random(len(idx))
    newly = upcoding[clinic] & (somatic >= 1) & ~recorded_extra[idx] & (u < UPCODING_RATE)
    recorded_extra[idx[newly]] = True
    return (somatic + recorded_extra[idx]).astype(somatic.dtype)


def _index_2025(year: int, idx_t: float) -> float:
    """Fee index of 2025 on the same scale as ``idx_t`` (the ultrasound fee is a 2025 price)."""
    return idx_t * (1.0 + FEE_INDEX_GROWTH) ** (2025 - year)


# =============================================================================
# Writing
# =============================================================================


def _unique_ids(rng: np.random.Generator, n: int, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct random integers below ``space`` in ascending order, and a random rank for each of
    ``n`` items (item i gets ``ids[rank[i]]``)."""
    avg = max(2, int(0.9 * space / (n + 1)))
    ids = np.cumsum(rng.integers(1, 2 * avg, size=n, dtype=np.int64))
    if ids[-1] >= space:  # pragma: no cover - practically impossible with a 10 % margin
        ids = np.arange(n, dtype=np.int64) * (space // max(n, 1))
    rank = rng.permutation(n).astype(np.int64)
    return ids, rank


def _string_array(ids: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal strings of non-negative integers, built without Python loops."""
    rest = np.array(ids, dtype=np.int64)
    n = len(rest)
    digits = np.empty((n, width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        digits[:, j] = rest % 10
        rest //= 10
    digits += 48
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes()))


def _dict_array(codes: np.ndarray, values: Iterable[str], index_type=pa.int8()) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=index_type), pa.array(list(values), type=pa.string()))


def _person_schema() -> pa.Schema:
    d8 = pa.dictionary(pa.int8(), pa.string())
    return pa.schema([
        ("person_id", pa.string()), ("year", pa.int16()), ("municipality_code", d8), ("sex", pa.int8()),
        ("age", pa.int16()), ("civil_status", d8), ("origin_group", d8), ("insurance_group", pa.int8()),
        ("labour_status", d8), ("somatic_diseases", pa.int8()), ("psychiatric", pa.bool_()),
        ("psychiatric_extended", pa.bool_()), ("cancer_5y", pa.bool_()), ("cancer_10y", pa.bool_()),
        ("clinic_id", pa.dictionary(pa.int16(), pa.string())), ("gross_fee", pa.float64()),
        ("chronic_fee", pa.float64()), ("local_services_fee", pa.float64()), ("contact_fee", pa.float64()),
        ("days_resident", pa.int16()),
    ])


def _service_schema() -> pa.Schema:
    return pa.schema([
        ("person_id", pa.string()), ("clinic_id", pa.dictionary(pa.int16(), pa.string())), ("year", pa.int16()),
        ("week", pa.int8()), ("service_code", pa.dictionary(pa.int8(), pa.string())), ("count", pa.int16()),
        ("fee", pa.float64()),
    ])


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    dict_cols = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return pq.ParquetWriter(str(path), schema, compression=_COMPRESSION, compression_level=_COMPRESSION_LEVEL,
                            use_dictionary=dict_cols, write_statistics=["year"], store_schema=True)


class _BackgroundWriter:
    """Writes tables to a parquet writer in one background thread, in submission order.

    At most one table waits while the next is computed (double buffering), so
    writing overlaps the numpy work; the bytes written are the same as with
    synchronous writes.
    """

    def __init__(self, writer: pq.ParquetWriter) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.writer = writer
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending = None

    def write(self, table: pa.Table) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self.writer.write_table, table, row_group_size=_ROW_GROUP_SIZE)

    def close(self) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pool.shutdown(wait=True)
        self.writer.close()


def _contact_counts(rng: np.random.Generator, base: np.ndarray, age: np.ndarray, idx_t: float,
                    year: int | None = None, enrolled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Contacts per person and type (n x 4, :data:`_CONTACT_CODES`) and the fee per contact type (øre).

    A user's gross fee without local services (``base``, øre) is spent on
    contacts (about :data:`CONTACT_BUDGET_SHARE` of it, by the age group's
    contact mix); the rest is capitation etc.  Citizens on the chronic-care
    fee (``enrolled``) bill no contacts.  From :data:`FEE_STRUCTURE_YEAR` the
    consultation fees are :data:`CONSULTATION_FEE_MULTIPLIER_2027` of before
    and contacts take :data:`CONTACT_BUDGET_SHARE_2027` of the fee.
    ``contact_fee`` = counts @ unit; :func:`_service_lines` writes the same
    contacts as lines.
    """
    new_structure = year is not None and int(year) >= FEE_STRUCTURE_YEAR
    fees_dkk = _CONTACT_FEES_DKK * CONSULTATION_FEE_MULTIPLIER_2027 if new_structure else _CONTACT_FEES_DKK
    unit = np.rint(fees_dkk * idx_t).astype(np.int64)  # øre: DKK x 100 x index / 100
    n = len(base)
    grp = np.where(age < 65, 0, np.where(age < 80, 1, 2))
    exp_unit = _CONTACT_MIX @ unit
    users = base > 0
    if enrolled is not None:
        users = users & ~enrolled
    budget = (CONTACT_BUDGET_SHARE_2027 if new_structure else CONTACT_BUDGET_SHARE) * base
    n_contacts = np.where(users, np.floor(budget / exp_unit[grp] + rng.random(n)), 0).astype(np.int64)
    # multinomial split of the contacts over the types, as a chain of binomials
    counts = np.zeros((n, 4), dtype=np.int64)
    left = n_contacts.copy()
    rest = np.ones(n)
    for k in range(3):
        pk = _CONTACT_MIX[grp, k]
        q = np.divide(pk, rest, out=np.zeros(n), where=rest > 1e-12).clip(0.0, 1.0)
        counts[:, k] = rng.binomial(left, q)
        left -= counts[:, k]
        rest = rest - pk
    counts[:, 3] = left
    nominal = counts @ unit
    over = nominal > base
    if over.any():
        f = base[over] / nominal[over]
        counts[over] = np.floor(counts[over] * f[:, None]).astype(np.int64)
    return counts, unit


def _service_lines(rng: np.random.Generator, base: np.ndarray, n_scans: np.ndarray, scan_unit: int,
                   counts: np.ndarray, unit: np.ndarray):
    """Service lines of a block of persons: (row, week, code index, count, fee in øre), sorted.

    The contacts of :func:`_contact_counts` (``counts``, fee ``unit`` per
    type) each in a random week, a capitation/remainder line (code 8080) that
    makes the lines sum to the gross fee without local services (``base``,
    øre) exactly, and the ultrasound scans on top.
    """
    n = len(base)
    nominal = counts @ unit
    remainder = base - nominal
    tot = counts.sum(axis=1)
    # one key per contact (random week), per scan (random week and code) and per capitation line (week 1);
    # key = (row * 53 + week) * 16 + code; sorting and counting equal keys aggregates to (person, week, code)
    kt = np.int64 if n * 53 * 16 >= 2 ** 31 else np.int32
    rows_c = np.repeat(np.arange(n, dtype=kt) * (53 * 16), tot)
    code_c = np.repeat(np.tile(np.arange(4, dtype=kt), n), counts.ravel())
    rows_s = np.repeat(np.arange(n, dtype=kt) * (53 * 16), n_scans)
    cap_rows = np.flatnonzero(remainder > 0)
    key = np.concatenate([
        rows_c + rng.integers(1, 53, size=len(rows_c), dtype=kt) * 16 + code_c,
        rows_s + rng.integers(1, 53, size=len(rows_s), dtype=kt) * 16 + 5
        + rng.integers(0, len(ULTRASOUND_CODES), size=len(rows_s), dtype=kt),
        (cap_rows.astype(kt) * 53 + 1) * 16 + _CAPITATION_CODE_IDX,
    ])
    del rows_c, code_c, rows_s
    key.sort()
    if len(key):
        starts = np.concatenate([[0], np.flatnonzero(key[1:] != key[:-1]) + 1])
        cnt = np.diff(np.append(starts, len(key)))
        key = key[starts]
    else:
        cnt = key
    key = key.astype(np.int64)
    code = key % 16
    week = (key // 16) % 53
    row = key // (16 * 53)
    line_unit = np.where(code < 4, unit[np.minimum(code, 3)], scan_unit)
    fee = np.where(code == _CAPITATION_CODE_IDX, remainder[row], cnt * line_unit)
    return row, week, code, cnt, fee, tot


def _write_services_year(writer: "_BackgroundWriter", rng: np.random.Generator, year: int, pid_str: pa.Array,
                         clinic_codes: np.ndarray, clinic_dict: pa.Array, fees: dict[str, np.ndarray]) -> dict[str, float]:
    n = len(pid_str)
    n_lines = 0
    n_contacts = 0
    code_dict = pa.array(list(_SERVICE_CODE_LIST), type=pa.string())
    for start in range(0, n, _SERVICE_CHUNK_PERSONS):
        stop = min(n, start + _SERVICE_CHUNK_PERSONS)
        row, week, code, cnt, fee, tot = _service_lines(rng, fees["base"][start:stop], fees["n_scans"][start:stop],
                                                        fees["scan_unit"], fees["contacts"][start:stop], fees["unit"])
        n_contacts += int(tot.sum())
        if not len(row):
            continue
        g = row + start
        tbl = pa.table({
            "person_id": pid_str.take(pa.array(g)),
            "clinic_id": pa.DictionaryArray.from_arrays(pa.array(clinic_codes[g].astype(np.int16)), clinic_dict),
            "year": pa.array(np.full(len(row), year, dtype=np.int16)),
            "week": pa.array(week.astype(np.int8)),
            "service_code": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int8)), code_dict),
            "count": pa.array(cnt.astype(np.int16)),
            "fee": pa.array(fee / 100.0),
        }, schema=_service_schema())
        writer.write(tbl)
        n_lines += len(row)
    return {"lines": n_lines, "contacts": n_contacts}


def _deterministic_xlsx(data: bytes, stamp: str) -> bytes:
    """Rewrite an xlsx (zip) with fixed entry dates and fixed document timestamps."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, content)
    return out.getvalue()


_HEADS1 = ["Ydernummer", "Praksisbetegnelse", "Adresse", "Praksiskommune", "Praksiskommunekode", "Postnummer",
           "Praksisform", "Antal udmøntede kapaciteter", "Antal ledige kapaciteter"]
_HEADS2 = _HEADS1 + ["Antal tilmeldte patienter"]
_TEXT_COLS = frozenset({0, 4, 5})  # Ydernummer, Praksiskommunekode, Postnummer: text, so leading zeros survive


def _report_workbook(rows1: list[list[Any]], rows2: list[list[Any]], report_date: dt.date,
                     heads1: list[str] | None = None, heads2: list[str] | None = None,
                     numeric_id_rows: Iterable[int] = (), extra_sheet: tuple[str, list[list[Any]]] | None = None) -> bytes:
    """Bytes of one capacity-report workbook (sheets 'Bilag 1' and 'Bilag 2'), deterministic.

    ``numeric_id_rows``: 0-based data rows of annex 1 whose Ydernummer is written as a number (as
    Excel does to a column not formatted as text); ``extra_sheet``: (title, rows) of a further sheet.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    heads1 = _HEADS1 if heads1 is None else heads1
    heads2 = _HEADS2 if heads2 is None else heads2
    numeric_ids = set(numeric_id_rows)
    iso = report_date.isoformat()
    wb = Workbook(write_only=True)
    wb.properties.creator = "model.synthetic (SYNTHETIC DATA)"
    wb.properties.created = dt.datetime(report_date.year, report_date.month, report_date.day)
    ws1 = wb.create_sheet("Bilag 1")
    ws2 = wb.create_sheet("Bilag 2")
    for ws, heads in ((ws1, heads1), (ws2, heads2)):
        for i, h in enumerate(heads):
            ws.column_dimensions[get_column_letter(i + 1)].width = max(12, len(h) + 2)
        ws.append(heads)

    def cells(ws, values, numeric_id=False):
        out = []
        for i, v in enumerate(values):
            if i == 0 and numeric_id:
                out.append(WriteOnlyCell(ws, value=int(v)))
                continue
            c = WriteOnlyCell(ws, value=v)
            if i in _TEXT_COLS:
                c.number_format = "@"
            out.append(c)
        return out

    for k, row in enumerate(rows1):
        ws1.append(cells(ws1, row, k in numeric_ids))
    for row in rows2:
        ws2.append(cells(ws2, row))
    if extra_sheet is not None:
        ws3 = wb.create_sheet(extra_sheet[0])
        for row in extra_sheet[1]:
            ws3.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_xlsx(buf.getvalue(), f"{iso}T00:00:00Z")


def _num(x: float):
    return int(x) if float(x).is_integer() else float(x)


def _report_rows(plan: pd.DataFrame, ctx: _Context, sel: np.ndarray, allocated: np.ndarray, vacant: np.ndarray,
                 listed: np.ndarray) -> tuple[list[list[Any]], list[list[Any]]]:
    """Annex 1 and annex 2 rows of the clinics ``sel`` (sorted by provider number)."""
    cols = {k: plan[k].tolist() for k in ("clinic_id", "name", "address", "muni", "municipality_code", "postcode",
                                           "practice_form", "island_doctor")}
    sel = sel[np.argsort(plan["clinic_id"].to_numpy()[sel], kind="stable")]
    rows1, rows2 = [], []
    for c in sel:
        row = [cols["clinic_id"][c], cols["name"][c], cols["address"][c], ctx.names[cols["muni"][c]],
               cols["municipality_code"][c], cols["postcode"][c], PRACTICE_FORM_DANISH[cols["practice_form"][c]],
               _num(allocated[c]), _num(vacant[c])]
        rows1.append(row)
        if cols["island_doctor"][c]:
            rows2.append(row + [int(listed[c])])
    return rows1, rows2


def _open_on(plan: pd.DataFrame, day: dt.date) -> np.ndarray:
    """Clinics open on a reporting date (opened by then, not closed before)."""
    iso = day.isoformat()
    closed = plan["closed"].to_numpy()
    return (plan["opened"].to_numpy() <= iso) & ((closed == "") | (closed >= iso))


def _write_capacity_reports(out_dir: Path, plan: pd.DataFrame, ctx: _Context, report_date: dt.date,
                            listed: np.ndarray) -> list[Path]:
    rep_dir = out_dir / "capacity_reports"
    rep_dir.mkdir(parents=True, exist_ok=True)
    iso = report_date.isoformat()
    open_ = _open_on(plan, report_date)
    alloc = plan["capacities"].to_numpy(dtype=float)
    vac = plan["vacant_capacities"].to_numpy(dtype=float)
    paths = []
    for r, rname in enumerate(_REGION_ORDER):
        sel = np.where(open_ & (ctx.region[plan["muni"].to_numpy()] == r))[0]
        rows1, rows2 = _report_rows(plan, ctx, sel, alloc, vac, listed)
        path = rep_dir / f"{_REGION_SLUG[rname]}_{iso}.xlsx"
        path.write_bytes(_report_workbook(rows1, rows2, report_date))
        paths.append(path)
    return paths


# -----------------------------------------------------------------------------
# capacity reports over time (written when the panel reaches 2027)

#: Regions from 1 January 2027 (Hovedstaden and Sjælland merge into Østdanmark) over the 2007-2026 indices.
_REGIONS_2027: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("Østdanmark", "oestdanmark", (0, 1)), ("Syddanmark", "syddanmark", (2,)),
    ("Midtjylland", "midtjylland", (3,)), ("Nordjylland", "nordjylland", (4,)),
)
#: Region that sends its reports as CSV pairs (Danish Excel: ';', Windows-1252) from 1 January 2028.
_CSV_REGION, _CSV_FROM = "Nordjylland", dt.date(2028, 1, 1)


def _add_month(d: dt.date, k: int = 1) -> dt.date:
    m = d.month - 1 + k
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def report_dates(years: Iterable[int]) -> list[dt.date]:
    """Reporting dates of the capacity reports over time for a panel of ``years``.

    Per the 1st of every quarter from :data:`FIRST_REPORT_DATE` until
    :data:`MONTHLY_REPORTS_FROM`, then per the 1st of every month, up to and
    including 1 January after the latest panel year (R§2).
    """
    last = max(int(y) for y in years)
    end = dt.date(last + 1, 1, 1)
    out, d = [], FIRST_REPORT_DATE
    while d <= end:
        if d >= MONTHLY_REPORTS_FROM or d.month in (1, 4, 7, 10):
            out.append(d)
        d = _add_month(d)
    return out or [end]


def _regions_on(day: dt.date) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, file slug, 2007-2026 region indices) of the regions that report on ``day``."""
    if day >= MONTHLY_REPORTS_FROM:
        return list(_REGIONS_2027)
    return [(name, _REGION_SLUG[name], (i,)) for i, name in enumerate(_REGION_ORDER)]


def _simulate_capacities(rng: np.random.Generator, plan: pd.DataFrame, ctx: _Context,
                         dates: list[dt.date]) -> dict[str, Any]:
    """Allocated and vacant capacities per clinic, month by month from the first reporting date.

    Start: the clinic table's capacities and vacancies.  Each month, while a
    clinic is open: a filled capacity falls vacant with a probability that
    keeps the clinic's vacancy share near its long-run level (the share the
    clinic table's vacancies are drawn with), a vacant one is filled with
    :data:`VACANCY_FILL_RATE`, and each region allocates new capacities
    (:data:`CAPACITY_GROWTH` a year) to its open ordinary and regional
    clinics in proportion to their capacities; a new capacity starts vacant.
    Out: ``states`` {date: (allocated, vacant, open)} and the final arrays.
    """
    region = ctx.region[plan["muni"].to_numpy()].astype(np.int64)
    island = plan["island_doctor"].to_numpy(dtype=bool)
    rt = plan["practice_form"].isin(["regional", "tender"]).to_numpy()
    p_vac = np.where(rt, 0.25, np.where(island, 0.10, np.array([_VACANCY_PROB[int(r)] for r in region])))
    q = VACANCY_FILL_RATE * p_vac / (1.0 - p_vac)
    alloc = np.rint(plan["capacities"].to_numpy(dtype=float)).astype(np.int64)
    vac = np.minimum(np.rint(plan["vacant_capacities"].to_numpy(dtype=float)).astype(np.int64), alloc)
    want = set(dates)
    states: dict[dt.date, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    month = min(dates)
    while True:
        open_ = _open_on(plan, month)
        if month in want:
            states[month] = (alloc.astype(float), vac.astype(float), open_.copy())
        if month >= max(dates):
            break
        filled = alloc - vac
        leave = rng.binomial(filled, q)
        fill = rng.binomial(vac, VACANCY_FILL_RATE)
        vac = vac + np.where(open_, leave - fill, 0)
        for r in sorted(CAPACITY_GROWTH):
            elig = np.flatnonzero(open_ & (region == r) & ~island)
            if not len(elig):
                continue
            k = int(rng.poisson(CAPACITY_GROWTH[r] / 12.0 * alloc[elig].sum()))
            if k:
                w = alloc[elig].astype(float)
                pick = elig[rng.choice(len(elig), size=k, p=w / w.sum())]
                np.add.at(alloc, pick, 1)
                np.add.at(vac, pick, 1)
        month = _add_month(month)
    return {"states": states, "allocated": alloc.astype(float), "vacant": vac.astype(float)}


def _write_csv_pair(path1: Path, rows1: list[list[Any]], rows2: list[list[Any]]) -> Path:
    """Annex 1 and 2 as Danish Excel writes 'CSV (semikolonsepareret)': ';', CRLF, Windows-1252."""
    path2 = path1.with_name(path1.name.replace("_bilag1", "_bilag2"))
    for p, heads, rows in ((path1, _HEADS1, rows1), (path2, _HEADS2, rows2)):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        w.writerow(heads)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        p.write_bytes(buf.getvalue().encode("cp1252"))
    return path1


def _submission_date(rng: np.random.Generator, day: dt.date) -> dt.date:
    """A region's report arrives 5 to 75 days after the reporting date (within the three months)."""
    return day + dt.timedelta(days=int(rng.integers(5, 76)))


def _write_report_history(out_dir: Path, plan: pd.DataFrame, ctx: _Context, sim: dict[str, Any],
                          listed_by_year: dict[int, np.ndarray], scale_up: float, rng: np.random.Generator
                          ) -> tuple[list[Path], list[Path]]:
    """The reports over time in ``capacity_reports/`` and the planted mistakes in ``with_mistakes/``.

    Also writes ``capacity_reports/submissions.csv`` (file, region, reporting
    date, date received: SDS's log of when each report arrived) and
    ``with_mistakes/mistakes.json`` (file, kind, the rule that must catch
    it, where) with its own ``submissions.csv``.
    """
    rep_dir = out_dir / "capacity_reports"
    rep_dir.mkdir(parents=True, exist_ok=True)
    bad_dir = rep_dir / "with_mistakes"
    bad_dir.mkdir(parents=True, exist_ok=True)
    years = sorted(listed_by_year)
    region_of = ctx.region[plan["muni"].to_numpy()]
    paths: list[Path] = []
    subs: list[tuple[str, str, str, str]] = []
    content: dict[tuple[str, dt.date], tuple[list, list]] = {}
    for day in sorted(sim["states"]):
        alloc, vac, open_ = sim["states"][day]
        y = min(max(day.year - 1 if day.month == 1 else day.year, years[0]), years[-1])
        listed = np.rint(listed_by_year[y] * scale_up).astype(np.int64)
        for name, slug, idx in _regions_on(day):
            sel = np.flatnonzero(open_ & np.isin(region_of, idx))
            rows1, rows2 = _report_rows(plan, ctx, sel, alloc, vac, listed)
            content[(name, day)] = (rows1, rows2)
            if name == _CSV_REGION and day >= _CSV_FROM:
                path = _write_csv_pair(rep_dir / f"{slug}_{day.isoformat()}_bilag1.csv", rows1, rows2)
            else:
                path = rep_dir / f"{slug}_{day.isoformat()}.xlsx"
                path.write_bytes(_report_workbook(rows1, rows2, day))
            paths.append(path)
            subs.append((path.name, name, day.isoformat(), _submission_date(rng, day).isoformat()))
    pd.DataFrame(subs, columns=["file", "region", "reporting_date", "submission_date"]).to_csv(
        rep_dir / "submissions.csv", index=False, lineterminator="\n")
    bad = _write_mistakes(bad_dir, plan, ctx, sim, content, rng)
    return paths, bad


def _write_mistakes(bad_dir: Path, plan: pd.DataFrame, ctx: _Context, sim: dict[str, Any],
                    content: dict[tuple[str, dt.date], tuple[list, list]], rng: np.random.Generator) -> list[Path]:
    """One report per kind of :data:`REPORT_MISTAKES`, each a good report with one realistic mistake."""
    days = sorted(sim["states"])
    pre = [d for d in days if d < MONTHLY_REPORTS_FROM] or days
    post = [d for d in days if d >= MONTHLY_REPORTS_FROM] or days

    def at(lst, i):
        return lst[min(i, len(lst) - 1)]

    known = set(plan["clinic_id"])
    slug = {name: s for name, s, _ in _REGIONS_2027} | {n: _REGION_SLUG[n] for n in _REGION_ORDER}

    def with_zero(day):  # a region with a provider number starting with 0 on that date, and the row
        for name, _, _ in _regions_on(day):
            for k, row in enumerate(content[(name, day)][0]):
                if str(row[0]).startswith("0"):
                    return name, k
        raise RuntimeError("no provider number with a leading zero")  # pragma: no cover

    records: list[dict[str, Any]] = []
    subs: list[tuple[str, str, str, str]] = []
    paths: list[Path] = []

    def emit(kind, name, day, data: bytes | None, rule_row, column, description, file_day=None, sheet="Bilag 1",
             submitted=None, path=None):
        fday = file_day or day
        if path is None:
            path = bad_dir / f"{slug[name]}_{fday.isoformat()}.xlsx"
            path.write_bytes(data)
        paths.append(path)
        records.append({"file": path.name, "kind": kind, "rule": REPORT_MISTAKES[kind], "region": name,
                        "reporting_date": fday.isoformat(), "sheet": sheet, "row": rule_row, "column": column,
                        "description": description})
        subs.append((path.name, name, fday.isoformat(), (submitted or _submission_date(rng, day)).isoformat()))

    # 1. an extra column of remarks (Hovedstaden, a quarterly report)
    day = at(pre, 2)
    r1, r2 = content[("Hovedstaden", day)]
    rows = [row + (["Ny kapacitet udmøntet"] if k % 7 == 0 else [None]) for k, row in enumerate(r1)]
    emit("extra_column", "Hovedstaden", day, _report_workbook(rows, r2, day, heads1=_HEADS1 + ["Bemærkninger"]),
         1, "Bemærkninger", "a column 'Bemærkninger' (remarks) added after the annex's columns")
    # 2. a misspelt heading (Sjælland)
    day = at(pre, 3)
    r1, r2 = content[("Sjælland", day)]
    heads = _HEADS1[:8] + ["Antal ledige kapacitet"]
    emit("misspelt_heading", "Sjælland", day, _report_workbook(r1, r2, day, heads1=heads),
         1, "Antal ledige kapacitet", "heading 'Antal ledige kapacitet' for 'Antal ledige kapaciteter'")
    # 3. a Ydernummer stored as a number: its leading zero is lost
    day = at(post, 1)
    name, k = with_zero(day)
    r1, r2 = content[(name, day)]
    emit("ydernummer_lost_leading_zero", name, day, _report_workbook(r1, r2, day, numeric_id_rows=[k]),
         k + 2, "Ydernummer", f"Ydernummer {r1[k][0]} typed into a cell formatted as a number: {int(r1[k][0])}")
    # 4. a reporting date that is not the 1st of a month
    day = at(post, 2)
    r1, r2 = content[("Midtjylland", day)]
    wrong = day.replace(day=15)
    emit("reporting_date_not_first", "Midtjylland", day, _report_workbook(r1, r2, wrong), None, None,
         f"report made per {wrong.isoformat()} instead of the 1st of the month", file_day=wrong, sheet=None)
    # 5. a late submission (the report itself is right)
    day = at(post, 4)
    r1, r2 = content[("Nordjylland", day)]
    late = _add_month(day, 4) + dt.timedelta(days=19)
    emit("late_submission", "Nordjylland", day, _report_workbook(r1, r2, day), None, None,
         f"received {late.isoformat()}, more than three months after the reporting date", sheet=None,
         submitted=late)
    # 6. an unknown Ydernummer (digits transposed into a number no clinic has)
    day = at(post, 5)
    r1, r2 = content[("Østdanmark", day)]
    k = len(r1) // 2
    cid = str(r1[k][0])
    cand = cid[:4] + cid[5] + cid[4]
    while cand in known:
        cand = f"{int(rng.integers(1, 999_999)):06d}"
    rows = [list(r) for r in r1]
    rows[k][0] = cand
    emit("unknown_ydernummer", "Østdanmark", day, _report_workbook(rows, r2, day), k + 2, "Ydernummer",
         f"Ydernummer {cand} does not exist (the clinic's number is {cid})")
    # 7. the old region's name after the merger of 1 January 2027
    day = at(post, 0)
    r1, r2 = content[("Østdanmark", day)]
    hov = set(ctx.codes[np.flatnonzero(ctx.region == 0)])
    rows1 = [r for r in r1 if r[4] in hov]
    rows2 = [r for r in r2 if r[4] in hov]
    emit("old_region_after_merger", "Hovedstaden", day, _report_workbook(rows1, rows2, day), None, None,
         "reported as Region Hovedstaden, which merged into Region Østdanmark on 1 January 2027", sheet=None)
    # 8. more vacant than allocated capacities
    day = at(post, 6)
    r1, r2 = content[("Syddanmark", day)]
    k = len(r1) // 3
    rows = [list(r) for r in r1]
    rows[k][8] = _num(float(rows[k][7]) + 1)
    emit("vacant_exceeds_allocated", "Syddanmark", day, _report_workbook(rows, r2, day), k + 2,
         "Antal ledige kapaciteter", "more vacant capacities than allocated ones in one row")
    # 9. an extra sheet of notes
    day = at(post, 7)
    r1, r2 = content[("Midtjylland", day)]
    emit("extra_sheet", "Midtjylland", day,
         _report_workbook(r1, r2, day, extra_sheet=("Noter", [["Bemærkning"], ["Tal opgjort af regionen"]])),
         None, None, "a third sheet 'Noter' with the region's notes", sheet="Noter")
    # 10. a CSV export whose Ydernummer lost its leading zero
    day = at(post, 8)
    name, k = with_zero(day)
    r1, r2 = content[(name, day)]
    rows = [list(r) for r in r1]
    rows[k][0] = str(int(rows[k][0]))
    path = _write_csv_pair(bad_dir / f"{slug[name]}_{day.isoformat()}_bilag1.csv", rows, r2)
    emit("csv_ydernummer_lost_leading_zero", name, day, None, k + 2, "Ydernummer",
         f"CSV export in which Ydernummer {r1[k][0]} became {rows[k][0]}", path=path)

    (bad_dir / "mistakes.json").write_text(json.dumps({
        "description": "SYNTHETIC capacity reports, each with one planted mistake that model.ingest must catch. "
                       "Validate with the clinic register (clinics.csv), the 98 municipality codes and the "
                       "submission dates of submissions.csv in this folder.",
        "mistakes": records}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    pd.DataFrame(subs, columns=["file", "region", "reporting_date", "submission_date"]).to_csv(
        bad_dir / "submissions.csv", index=False, lineterminator="\n")
    return paths


# =============================================================================
# generate()
# =============================================================================


def generate(
    out_dir: str | Path,
    persons: int = NATIONAL_POPULATION,
    years: Iterable[int] = DEFAULT_YEARS,
    seed: int = DEFAULT_SEED,
    services: bool = True,
    services_years: Iterable[int] | None = None,
    verbose: bool = False,
    capacity_history: bool | None = None,
) -> dict[str, Any]:
    """Write a complete synthetic input data set to ``out_dir``; return paths and summary figures.

    Parameters
    ----------
    out_dir:
        Folder to write to (created; files in it are overwritten).
    persons:
        Citizens in the latest panel year (default: Denmark's 6,025,511).  At
        least 98 (one per municipality); smaller numbers are a proportional
        sample of Denmark (the clinic structure stays national).
    years:
        Consecutive panel years; the latest matches the real populations of
        1 January 2026.  Default 2021-2025.
    seed:
        Seed of every random draw; the same arguments give identical bytes.
    services:
        Write ``services.parquet`` (service lines).
    services_years:
        Years to write service lines for (default: the latest panel year).
    capacity_history:
        Write the regions' capacity reports over time (quarterly from
        :data:`FIRST_REPORT_DATE`, monthly from 1 January 2027, up to 1
        January after the latest year; four regions from 2027), the
        submissions log and the reports with planted mistakes
        (``capacity_reports/with_mistakes/``); ``clinics.csv`` then holds the
        capacities and vacancies of the last report.  None (default): only
        when the panel reaches 2026, so that the reports run into the four
        regions of 2027; otherwise one report per region per 1 January after
        the latest year, as before.

    Years from :data:`FEE_STRUCTURE_YEAR` (2027) use the new fee structure
    (:data:`FEE_STRUCTURE_2027`) and carry the planted "sickness on paper"
    (:data:`UPCODING_CLINIC_SHARE`); years before are unchanged by them.

    Returns
    -------
    dict with ``files`` (name -> path), ``summary`` (calibration figures) and
    ``timings`` / ``cpu_timings`` (wall-clock / CPU seconds per stage).
    """
    import resource

    def _cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    t0, c0 = time.perf_counter(), _cpu()
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}

    def tick(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)
        cpu_timings[name] = round(_cpu() - c0 - sum(cpu_timings.values()), 3)
        if verbose:
            print(f"[synthetic] {name}: {timings[name]:.1f} s (cpu {cpu_timings[name]:.1f} s)", file=sys.stderr,
                  flush=True)

    years = sorted(set(int(y) for y in years))
    if not years:
        raise ValueError("years must not be empty")
    if years != list(range(years[0], years[-1] + 1)):
        raise ValueError(f"years must be consecutive, got {years}")
    persons = int(persons)
    last = years[-1]
    s_years = [last] if services_years is None else sorted(set(int(y) for y in services_years))
    if not set(s_years) <= set(years):
        raise ValueError(f"services_years {s_years} must be panel years {years}")
    if not services:
        s_years = []
    out = Path(out_dir)
    prepare_synth_folder(out)  # refuses a non-empty folder synth did not write; marks it as being written

    ctx = _context()
    streams = np.random.SeedSequence(seed).spawn(7)
    rng_pop, rng_lat, rng_clin, rng_panel, rng_fee, rng_serv, rng_id = (np.random.default_rng(s) for s in streams)
    rng_contact = np.random.default_rng([int(seed), 975])  # contacts, unlisted citizens, days resident
    plan = _plan_clinics_internal(rng_clin, ctx, years)
    tick("clinics")

    n_m = _apportion(ctx.pop, persons, minimum=1)
    muni, sex, age = _draw_population(rng_pop, ctx, n_m)
    people = _People()
    by = (last - age.astype(np.int64))
    lat0 = _draw_latent(rng_lat, ctx, muni.astype(np.int64), sex, by, last, "base")
    latest_idx = people.add(muni.astype(np.int64), sex, by, lat0)
    del lat0
    tick("population")

    panel = _build_panel(rng_panel, rng_lat, ctx, plan, people, latest_idx, muni.astype(np.int16), years)
    tick("panel")
    lat = people.finalise()
    n_ever = len(lat["sex"])
    # pseudonymous person IDs: unique random 10-digit numbers, assigned in random order; the person
    # store is then reordered by ID so that each year's rows (sorted by ID) are read sequentially
    ids_sorted, rank = _unique_ids(rng_id, n_ever, 10 ** 10)
    inv = np.empty(n_ever, dtype=np.int64)
    inv[rank] = np.arange(n_ever)
    for k in list(lat):
        lat[k] = lat[k][inv]
    del inv
    for t in years:
        panel[t].idx = rank[panel[t].idx].astype(np.int32)
    del rank
    pid_all = _string_array(ids_sorted, 10)
    tick("ids")

    # clinic dictionary: all provider numbers sorted
    corder = np.argsort(plan["clinic_id"].to_numpy(), kind="stable")
    crank = np.empty(len(plan), dtype=np.int16)
    crank[corder] = np.arange(len(plan), dtype=np.int16)
    clinic_dict = pa.array(plan["clinic_id"].to_numpy()[corder].tolist(), type=pa.string())
    muni_dict = ctx.codes.tolist()
    plan_arrays = {
        "regional_tender": plan["practice_form"].isin(["regional", "tender"]).to_numpy(),
        "ultrasound": plan["ultrasound"].to_numpy(dtype=bool),
    }
    index = fee_index(years)
    schema = _person_schema()
    persons_path = out / "persons.parquet"
    services_path = out / "services.parquet"
    writer = _BackgroundWriter(_parquet_writer(persons_path, schema))
    swriter = _BackgroundWriter(_parquet_writer(services_path, _service_schema())) if s_years else None
    summary_years: dict[int, dict[str, Any]] = {}
    listed_latest = np.zeros(len(plan), dtype=np.int64)
    listed_by_year: dict[int, np.ndarray] = {}
    g1_counts: dict[int, np.ndarray] = {}
    # "more sickness on paper" from the 2027 fee structure: own random stream, so earlier years are unchanged
    upcoding = None
    if last >= FEE_STRUCTURE_YEAR:
        rng_up = np.random.default_rng([int(seed), FEE_STRUCTURE_YEAR])
        upcoding = _plan_upcoding(rng_up, plan)
        recorded_extra = np.zeros(n_ever, dtype=bool)
    for t in years:
        yr = panel[t]
        pos = np.full(n_ever, -1, dtype=np.int64)
        pos[yr.idx] = np.arange(len(yr.idx))
        order = pos[pos >= 0]
        del pos
        idx = yr.idx[order]
        mu = yr.muni[order].astype(np.int64)
        cl = yr.clinic[order]
        ch = _characteristics(lat, ctx, idx, t, rng_fee)
        f = _fees(rng_fee, ch, ctx, mu, cl, plan_arrays, t, index[t], lat["uptake"][idx])
        if upcoding is not None and t >= FEE_STRUCTURE_YEAR:  # after the fees: use follows the true count
            ch["somatic"] = _upcode(rng_up, upcoding, recorded_extra, idx, cl, ch["somatic"])
        f["contacts"], f["unit"] = _contact_counts(rng_contact, f["base"], ch["age"].astype(np.int64), index[t], t,
                                                   f["enrolled"])
        contact = f["contacts"] @ f["unit"]
        # a few group-1 citizens with no practice on record (they count in the need and the fit, not in clinics)
        unlisted = (ch["insurance"] == 1) & (rng_contact.random(len(idx)) < UNLISTED_SHARE)
        ydays = 366 if calendar.isleap(t) else 365
        days = np.where(ch["age"] == 0, rng_contact.integers(1, ydays + 1, len(idx)), ydays).astype(np.int16)
        listed_by_year[t] = np.bincount(cl[~unlisted], minlength=len(plan))
        gross = f["base"] + f["local"]
        pid_t = pid_all.take(pa.array(idx))
        tbl = pa.table({
            "person_id": pid_t,
            "year": pa.array(np.full(len(idx), t, dtype=np.int16)),
            "municipality_code": _dict_array(mu.astype(np.int8), muni_dict),
            "sex": pa.array(ch["sex"].astype(np.int8)),
            "age": pa.array(ch["age"].astype(np.int16)),
            "civil_status": _dict_array(ch["civil"], _CIVIL),
            "origin_group": _dict_array(ch["origin"], _ORIGINS),
            "insurance_group": pa.array(ch["insurance"]),
            "labour_status": _dict_array(ch["labour"], _LABOUR),
            "somatic_diseases": pa.array(ch["somatic"]),
            "psychiatric": pa.array(ch["psychiatric"]),
            "psychiatric_extended": pa.array(ch["psychiatric_extended"]),
            "cancer_5y": pa.array(ch["cancer_5y"]),
            "cancer_10y": pa.array(ch["cancer_10y"]),
            "clinic_id": pa.DictionaryArray.from_arrays(pa.array(crank[cl], mask=unlisted), clinic_dict),
            "gross_fee": pa.array(gross / 100.0),
            "chronic_fee": pa.array(f["chronic"] / 100.0),
            "local_services_fee": pa.array(f["local"] / 100.0),
            "contact_fee": pa.array(contact / 100.0),
            "days_resident": pa.array(days),
        }, schema=schema)
        writer.write(tbl)
        del tbl
        ins1 = ch["insurance"] == 1
        g1_counts[t] = np.bincount(mu[ins1], minlength=len(ctx.codes))
        y = (gross + f["unbilled"]) / 100.0  # true use: the contacts the chronic-care fee replaced included
        a = ch["age"]
        rt = plan_arrays["regional_tender"][cl]
        ys: dict[str, Any] = {
            "persons": int(len(idx)),
            "mean_use": float(y.mean()),
            "mean_use_10_19": float(y[(a >= 10) & (a <= 19)].mean()),
            "mean_use_80plus": float(y[a >= 80].mean()),
            "share_zero_use": float((y == 0).mean()),
            "share_regional_tender": float(rt.mean()),
            "persons_regional_tender": int(rt.sum()),
            "local_services_persons": int((f["local"] > 0).sum()),
            "chronic_fee_persons": int((f["chronic"] > 0).sum()),
            "unlisted_group1_persons": int(unlisted.sum()),
            "mean_contact_fee": float(contact.mean() / 100.0),
            "age0": int((a == 0).sum()),
        }
        if t in s_years:
            sinfo = _write_services_year(swriter, rng_serv, t, pid_t, crank[cl], clinic_dict, f)
            ys["service_lines"] = sinfo["lines"]
            ys["contacts_per_person"] = sinfo["contacts"] / len(idx)
        summary_years[t] = ys
        if t == last:
            listed_latest = np.bincount(cl[~unlisted], minlength=len(plan))
            latest = dict(age=a, sex=ch["sex"], origin=ch["origin"], labour=ch["labour"], somatic=ch["somatic"],
                          psych=ch["psychiatric"], cancer=ch["cancer_5y"], civil=ch["civil"], cl=cl)
        del ch, f, gross, pid_t
        tick(f"year {t}")
    writer.close()
    if swriter is not None:
        swriter.close()
    elif services_path.exists():
        services_path.unlink()

    # capacities over time: clinics.csv then holds the state of the last report
    if capacity_history is None:
        capacity_history = last + 1 >= MONTHLY_REPORTS_FROM.year
    sim = None
    if capacity_history:
        rng_cap = np.random.default_rng([int(seed), 975])
        sim = _simulate_capacities(rng_cap, plan, ctx, report_dates(years))
        plan = plan.copy()
        plan["capacities"] = sim["allocated"]
        plan["vacant_capacities"] = sim["vacant"]

    # clinics.csv
    scale_up = NATIONAL_POPULATION / persons
    clinics = plan.sort_values("clinic_id", kind="stable")
    cdf = pd.DataFrame({
        "clinic_id": clinics["clinic_id"],
        "name": clinics["name"],
        "municipality_code": clinics["municipality_code"],
        "postcode": clinics["postcode"],
        "practice_form": clinics["practice_form"],
        "capacities": clinics["capacities"].map(lambda x: f"{x:g}"),
        "vacant_capacities": clinics["vacant_capacities"].map(lambda x: f"{x:g}"),
        "island_doctor": clinics["island_doctor"].map(lambda b: "true" if b else "false"),
        "opened": clinics["opened"],
        "closed": clinics["closed"],
        "split_from": clinics["split_from"],
    })
    clinics_path = out / "clinics.csv"
    cdf.to_csv(clinics_path, index=False, lineterminator="\n", encoding="utf-8")

    # municipalities.csv: byte copy
    muni_path = out / "municipalities.csv"
    shutil.copyfile(reference.data_path("municipalities.csv"), muni_path)

    # population projection (group 1; real scale)
    proj_rows = []
    nmun = len(ctx.codes)
    g1_last = g1_counts[last].astype(float)
    n_last = np.bincount(panel[last].muni.astype(np.int64), minlength=nmun).astype(float)
    real_g1_last = ctx.pop * np.divide(g1_last, n_last, out=np.ones(nmun), where=n_last > 0)
    levels = {}
    for t in years:
        rel = np.divide(g1_counts[t], g1_last, out=np.ones(nmun), where=g1_last > 0)
        levels[t] = real_g1_last * rel
    if len(years) > 1:
        span = years[-1] - years[0]
        g_m = np.divide(levels[last], levels[years[0]], out=np.ones(nmun), where=levels[years[0]] > 0) ** (1 / span) - 1
        g_nat = (levels[last].sum() / levels[years[0]].sum()) ** (1 / span) - 1
        g = np.clip(0.5 * g_m + 0.5 * g_nat, -0.01, 0.02)
    else:
        g = np.full(nmun, 0.004)
    for k in (1, 2):
        levels[last + k] = levels[last] * (1 + g) ** k
    for t in sorted(levels):
        for i in range(nmun):
            proj_rows.append((ctx.codes[i], t, int(round(levels[t][i]))))
    proj_path = out / "population_projection.csv"
    pd.DataFrame(proj_rows, columns=["municipality_code", "year", "population_end_of_year"]).to_csv(
        proj_path, index=False, lineterminator="\n")

    # fee index
    fee_path = out / "fee_index.csv"
    pd.DataFrame({"year": list(index), "index": [f"{v:.2f}" for v in index.values()]}).to_csv(
        fee_path, index=False, lineterminator="\n")

    # capacity reports (1 January after the latest year)
    listed_scaled = np.rint(listed_latest * scale_up).astype(np.int64)
    bad_reports: list[Path] = []
    if sim is not None:
        report_paths, bad_reports = _write_report_history(out, plan, ctx, sim, listed_by_year, scale_up, rng_cap)
    else:
        report_paths = _write_capacity_reports(out, plan, ctx, dt.date(last + 1, 1, 1), listed_scaled)
    tick("tables")

    # summary
    open_last = _open_mask(plan, last)
    isl = np.where(plan["island_doctor"].to_numpy())[0]
    a = latest["age"]
    w1667 = (a >= 16) & (a <= 67)
    nlast = len(a)
    summary: dict[str, Any] = {
        "synthetic": True,
        "persons_latest_year": nlast,
        "persons_ever": int(n_ever),
        "scale_up_to_national": scale_up,
        "years": {str(t): v for t, v in summary_years.items()},
        "clinics_open_latest_year": int(open_last.sum()),
        "clinics_total": int(len(plan)),
        "capacities_open_latest_year": float(plan["capacities"].to_numpy()[open_last].sum()),
        "vacant_capacities_open_latest_year": float(plan["vacant_capacities"].to_numpy()[open_last].sum()),
        "list_per_capacity_latest_year": float(nlast * scale_up / plan["capacities"].to_numpy()[open_last].sum()),
        "island_clinics": {plan.at[c, "clinic_id"]: {"name": plan.at[c, "name"], "listed_scaled": int(listed_scaled[c])}
                           for c in isl},
        "share_menapt": float((latest["origin"] == 1).mean()),
        "share_western": float((latest["origin"] == 2).mean()),
        "share_other_non_western": float((latest["origin"] == 3).mean()),
        "share_permanently_outside_16_67": float((latest["labour"][w1667] == 3).mean()),
        "share_temporarily_outside_16_67": float((latest["labour"][w1667] == 2).mean()),
        "share_somatic_1plus": float((latest["somatic"] >= 1).mean()),
        "share_somatic_1plus_80plus": float((latest["somatic"][a >= 80] >= 1).mean()),
        "share_psychiatric": float(latest["psych"].mean()),
        "share_cancer_5y": float(latest["cancer"].mean()),
        "share_widowed_65plus": float(np.isin(latest["civil"][a >= 65], [3, 6]).mean()),
        "civil_status_shares": {c: float((latest["civil"] == i).mean()) for i, c in enumerate(_CIVIL)},
    }
    files = {
        "persons": persons_path, "clinics": clinics_path, "municipalities": muni_path,
        "population_projection": proj_path, "fee_index": fee_path, "capacity_reports": report_paths,
    }
    if s_years:
        files["services"] = services_path
    manifest = {
        "description": "SYNTHETIC data made by model.synthetic; no real persons, clinics or fees.",
        "parameters": {"persons": persons, "years": years, "seed": seed, "services_years": s_years},
        "true_coefficients": TRUE_COEFFICIENTS,
        "regional_tender_recording_factor": REGIONAL_TENDER_RECORDING_FACTOR,
        "fee_index": {str(k): v for k, v in index.items()},
        "ultrasound": {"codes": list(ULTRASOUND_CODES), "fee_2025": ULTRASOUND_FEE_2025,
                       "years": list(ULTRASOUND_YEARS), "municipalities": list(ULTRASOUND_MUNICIPALITIES),
                       "participating_clinics": sorted(plan.loc[plan["ultrasound"], "clinic_id"].tolist())},
        "summary": summary,
    }
    if upcoding is not None or sim is not None:  # only for panels that reach the new fee structure / the reports
        truth: dict[str, Any] = {"capacity_history": bool(sim is not None)}
        if last >= FEE_STRUCTURE_YEAR:
            truth["fee_structure"] = {
                "from_year": FEE_STRUCTURE_YEAR, "multipliers": FEE_STRUCTURE_2027,
                "true_coefficients": _structure_coefficients(FEE_STRUCTURE_YEAR),
                "consultation_fee_multiplier": CONSULTATION_FEE_MULTIPLIER_2027,
                "contact_budget_share": CONTACT_BUDGET_SHARE_2027,
            }
            truth["upcoding"] = {"from_year": FEE_STRUCTURE_YEAR, "clinic_share": UPCODING_CLINIC_SHARE,
                                 "rate_per_year": UPCODING_RATE,
                                 "clinics": sorted(plan.loc[upcoding, "clinic_id"].tolist())}
        if sim is not None:
            days = sorted(sim["states"])
            truth["capacity_reports"] = {
                "dates": [d.isoformat() for d in days],
                "growth_per_year_by_region": {_REGION_ORDER[r]: g for r, g in CAPACITY_GROWTH.items()},
                "vacancy_fill_rate_per_month": VACANCY_FILL_RATE,
                "csv_region_from": {"region": _CSV_REGION, "from": _CSV_FROM.isoformat()},
                "national": {d.isoformat(): {"allocated": float(sim["states"][d][0][sim["states"][d][2]].sum()),
                                             "vacant": float(sim["states"][d][1][sim["states"][d][2]].sum())}
                             for d in days},
                "with_mistakes": [p.name for p in bad_reports],
            }
        manifest["evaluation_truth"] = truth
        files["capacity_reports_with_mistakes"] = bad_reports
    man_path = out / "synthetic_manifest.json"
    man_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    files["manifest"] = man_path
    finish_synth_folder(out)
    tick("summary")
    return {"files": files, "summary": summary, "timings": timings, "cpu_timings": cpu_timings}


# =============================================================================
# Command line
# =============================================================================


def _parse_years(s: str) -> list[int]:
    if "-" in s:
        a, b = s.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in s.split(",")]


def main(argv: list[str] | None = None) -> int:
    """``python -m model.synthetic OUT_DIR [--persons N] [--years 2021-2025] [--seed S] [--no-services]``."""
    ap = argparse.ArgumentParser(prog="python -m model.synthetic", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--persons", type=int, default=NATIONAL_POPULATION)
    ap.add_argument("--years", type=_parse_years, default=list(DEFAULT_YEARS), help="e.g. 2021-2025 or 2024,2025")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--no-services", action="store_true", help="do not write services.parquet")
    ap.add_argument("--services-years", type=_parse_years, default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    info = generate(args.out_dir, persons=args.persons, years=args.years, seed=args.seed,
                    services=not args.no_services, services_years=args.services_years, verbose=not args.quiet)
    if not args.quiet:
        print(json.dumps(info["summary"], indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
