"""Synthetic national-scale input data for the GP capacity model.

**THE DATA MADE HERE ARE SYNTHETIC.**  No person, clinic, fee or diagnosis in
them is real.  They exist so that the whole pipeline can be run, tested and
demonstrated openly, at the scale of Denmark, without access to the register
data on Statistics Denmark's research servers.

Usage (command line)::

    python -m model synth --out OUT_DIR [--persons 6025511] [--years 2021-2025]
                          [--seed 20250630] [--no-services]
    python -m model.inputs.synthetic OUT_DIR [--persons N] [--years 2021-2025]
                          [--seed S] [--no-services] [--services-years 2025]

or from Python::

    from model.inputs import synthetic
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
* Public figures (docs/synthetic_data_calibration.md): origin (MENAPT about 5.1 %, western 5.9 %, other
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
* Municipal age structure (``municipal_age_structure.csv``, see
  ``docs/synthetic_data_calibration.md``): each municipality's old-age index
  (65+ per 100 aged 0-14; the municipality's own for the 48 municipalities of
  Hovedstaden and Midtjylland, derived from its province's for the other 50)
  and, where published, its share aged 65+ (aged to 2025), fitted together
  with the national structure by iterative proportional fitting.
* Municipal life expectancy at birth (HISBK) and the age-standardised share
  with a GP contact (SYGP1) drive municipal differences in disease,
  labour-market attachment and (life expectancy only) mortality; the contact
  share is met on top of the municipality's ages (not counted twice), and
  the municipal share of non-Danish origin is applied over the
  municipality's own ages.
* The official figures of the ministry's draft model: health council
  Hovedstaden's 449.2 capacities (mean weight 0.88), Aabenraa's 1,450
  patients per capacity (1.10) and Sønderjylland's binding area floor, by
  the calibration offsets :data:`population.CALIBRATION_OFFSETS` (København
  and Frederiksberg lighter, Aabenraa heavier; centred nationally).  The
  manifest's ``summary.calibration`` table lists every calibrated figure
  with its source, target and achieved value.

What is assumed (not calibrated; every number below is a modelling choice)
--------------------------------------------------------------------------
* The single-year spread of the 5-year bands and the age tail of 85+ (to 110).
* The shape of the ages within the bands 0-14, 15-64 and 65+ of each
  municipality (a tilt by population density: young adults in the cities),
  the share aged 15-64 where no 65+ share was published (falling with
  rurality, fitted on five municipalities), and the old-age index of the 50
  municipalities with only their province's published.
* The size of the calibration offsets (no public morbidity figure for
  København, Frederiksberg or Aabenraa was found) and of the contact-share
  effect on disease (:data:`population.CONTACT_MORBIDITY_YEARS`).
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
Mean use 1,546 DKK (10-19: 976; 80+: 3,270); 14.7 % without use; 6.7
contacts per citizen; 214,015 citizens (3.6 %) in regional and tender
clinics (by region as the 2017 split); 1,697 clinics open in 2025 (3,757
capacities, 1,604 citizens per capacity, 99 vacant); island doctors listing
134-1,671 patients (two above 500); MENAPT 5.1 %, western 5.9 %, other
non-western 5.3 %; permanently / temporarily outside the labour market
5.9 % / 4.2 % of ages 16-67; 16.8 % (1,013,000) with a somatic disease,
52.7 % of those aged 80+; psychiatric 4.7 %; cancer within 5 years 2.7 %;
22 % of those aged 65+ widowed; about 290,000 on the chronic-care fee; about
11,100 with ultrasound services.  Fitted with the package's model: health
council Hovedstaden needs 450.9 capacities (mean weight 0.878; official
449.2), Aabenraa's mean weight is 1.100 (1,455 per capacity; official 1,450),
Sønderjylland's floor binds in Tønder with 12 capacities of headroom.
About 29.9 million person-year rows (persons.parquet 443 MB) and 44 million
service lines (services.parquet 166 MB); about 27 s wall-clock, 36 s of CPU
and 2.5 GB peak memory on 2 cores (``benchmarks/synth_national.py``).

Determinism: the same arguments give byte-identical files (no timestamps;
fixed row-group sizes; deterministic zip entries in the workbooks; one
background writer thread that writes in submission order).

The package
-----------
This module holds the command line and re-exports the public names; the work
is done in these modules (each imports only those listed above it):

* ``truth``: the public constants (true coefficients, rates, codes, column layouts).
* ``curves``: age curves and onset-age lookup tables.
* ``evaluation_years``: the 2027 fee structure and the planted upcoding.
* ``population``: the municipal context and the latest year's citizens.
* ``traits``: persistent person traits and one year's characteristics.
* ``clinics``: the clinic structure and the listing rule (:func:`plan_clinics`).
* ``calibration``: the manifest's calibration table (figure, source, target, achieved).
* ``panel``: the panel built backwards (deaths, migration, births).
* ``arrow``, ``services``: parquet plumbing and the service lines.
* ``use``: the data-generating process of use and each year's fees.
* ``workbooks``, ``reports``: the capacity reports (files, dates, simulation, mistakes).
* ``tables``, ``dataset``: the folder's small tables and manifest, and :func:`generate`.
"""

from __future__ import annotations

import argparse
import json

from model.config import parse_years
from model.inputs.synthetic.clinics import (
    ISLAND_CLINICS,
    PRACTICE_FORM_DANISH,
    plan_clinics,
)
from model.inputs.synthetic.dataset import generate
from model.inputs.synthetic.evaluation_years import (
    CONSULTATION_FEE_MULTIPLIER_2027,
    CONTACT_BUDGET_SHARE_2027,
    FEE_STRUCTURE_2027,
    FEE_STRUCTURE_YEAR,
    UPCODING_CLINIC_SHARE,
    UPCODING_RATE,
    fee_structure_multipliers,
)
from model.inputs.synthetic.reports import (
    CAPACITY_GROWTH,
    FIRST_REPORT_DATE,
    MONTHLY_REPORTS_FROM,
    REPORT_MISTAKES,
    VACANCY_FILL_RATE,
    report_dates,
)
from model.inputs.synthetic.services import CONTACT_BUDGET_SHARE, SERVICE_CODES
from model.inputs.synthetic.truth import (
    AGE_BANDS,
    CHRONIC_FEE_SHARE_RANGE,
    CHRONIC_FEE_UPTAKE,
    CLINIC_COLUMNS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    FEE_INDEX_GROWTH,
    NATIONAL_POPULATION,
    PERSON_COLUMNS,
    REGIONAL_TENDER_RECORDING_FACTOR,
    SERVICE_COLUMNS,
    TRUE_COEFFICIENTS,
    ULTRASOUND_CLINIC_UPTAKE,
    ULTRASOUND_CODES,
    ULTRASOUND_FEE_2025,
    ULTRASOUND_MUNICIPALITIES,
    ULTRASOUND_PATIENT_RATE,
    ULTRASOUND_YEARS,
    UNLISTED_SHARE,
    USE_GAMMA_SHAPE,
    age_band,
    fee_index,
)
from model.inputs.synthetic.use import true_coefficients, true_design, true_expected_use

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
    "UNLISTED_SHARE",
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


def main(argv: list[str] | None = None) -> int:
    """``python -m model.inputs.synthetic OUT_DIR [--persons N] [--years 2021-2025] [--seed S] [--no-services]``.

    ``argv``: the arguments (default: ``sys.argv[1:]``); writes the folder with
    :func:`generate` and prints its summary unless ``--quiet``; returns 0.
    """
    ap = argparse.ArgumentParser(prog="python -m model.inputs.synthetic", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--persons", type=int, default=NATIONAL_POPULATION)
    ap.add_argument("--years", type=parse_years, default=list(DEFAULT_YEARS), help="e.g. 2021-2025 or 2024,2025")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--no-services", action="store_true", help="do not write services.parquet")
    ap.add_argument("--services-years", type=parse_years, default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    info = generate(args.out_dir, persons=args.persons, years=args.years, seed=args.seed,
                    services=not args.no_services, services_years=args.services_years, verbose=not args.quiet)
    if not args.quiet:
        print(json.dumps(info["summary"], indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
