"""The golden data set: small enough that every stage of the model can be worked out by hand.

Used by tests/core/test_golden.py (which works every stage out), test_rules.py and test_law.py through the
fixtures ``golden_cfg`` (the configuration) and ``golden_inputs`` (a function returning fresh inputs: tests
change them).


28 group-1 citizens (one of them with no clinic on record) plus one in group
2, three clinics, two municipalities in one health council.  The configuration has two age bands (0-64, 65+) so
that the design has exactly 12 terms and the data exactly 12 cells: the fit
is saturated and every fitted value is its cell's mean, which makes the
hand calculation in test_golden.py exact.

Cells (y = gross_fee + chronic_fee, DKK), two persons each unless stated:

====  =====================================  ============  =========
cell  who                                     y values      mean
====  =====================================  ============  =========
A     male 30, nothing else (3 persons;       800 1000 1200   1000
      one has 1 somatic disease: = none)
B     male 70 (one is 'permanently outside'   2400 2600      2500
      but 70 > 67, so that is ignored)
C     female 30                               1400 1600      1500
D     female 70 (one: 2100 gross, on the      2900 3100      3000
      chronic-care fee (600 DKK lump sum,
      not use); her contacts are imputed as
      the other's contact_fee, 1000 DKK)
E     male 30, MENAPT origin                  1300 1500      1400
F     male 30, widowed (CIVST E)              1100 1300      1200
G     male 30, temporarily outside            1500 1700      1600
H     male 30, permanently outside            1900 2100      2000
I     male 30, 2 somatic diseases             1200 1400      1300
J     male 30, 3 and 4 somatic diseases       1700 1900      1800
K     male 30, psychiatric                    2200 2400      2300
L     male 30, cancer within 5 years          1800 2000      1900
====  =====================================  ============  =========

Two more citizens are listed at the regional clinic C3 (a cell-A man and a
cell-C woman, 100 DKK each): left out of the base fit, in the other one.
U1 is a cell-A man (1000 DKK) in 902 with no clinic on record: he counts in
the fit and the need, not in any clinic's figures.  X1 (group 2, 901)
counts nowhere but in the group-1 share: 901 has 13 group-1 citizens of 14
residents.  The region reported clinic 000002 as an island doctor with 11
patients (annex 2, 1 July 2025, valid until 1 July 2026): its 1.5
capacities are not counted in 2026.
"""

import pandas as pd
import pytest

from model.config import ModelConfig
from model.inputs.tables import Inputs

CFG = ModelConfig(year=2025, planning_year=2026, age_bands=(0, 65), reference_age_band=0)

BASE = dict(year=2025, insurance_group=1, civil_status="U", origin_group="danish", labour_status="in_work_or_education",
            somatic_diseases=0, psychiatric=False, psychiatric_extended=False, cancer_5y=False, cancer_10y=False,
            chronic_fee=0.0, local_services_fee=0.0, contact_fee=0.0)


def P(pid, muni, clinic, sex, age, y, **kw):
    return {**BASE, "person_id": pid, "municipality_code": muni, "clinic_id": clinic, "sex": sex, "age": age,
            "gross_fee": float(y), **kw}


def persons() -> pd.DataFrame:
    rows = [
        P("A1", "901", "000001", 1, 30, 800), P("A2", "901", "000001", 1, 30, 1000),
        P("A3", "902", "000001", 1, 30, 1200, somatic_diseases=1),  # lives in 902, listed in 901
        P("B1", "901", "000001", 1, 70, 2400, labour_status="not_applicable"),
        P("B2", "902", "000002", 1, 70, 2600, labour_status="permanently_outside"),
        P("C1", "901", "000001", 2, 30, 1400), P("C2", "902", "000002", 2, 30, 1600),
        P("D1", "901", "000001", 2, 70, 2900, labour_status="not_applicable", contact_fee=1000.0),
        P("D2", "902", "000002", 2, 70, 2100, chronic_fee=600.0, labour_status="not_applicable"),
    ]
    extra = {
        "E": (1300, 1500, dict(origin_group="menapt")),
        "F": (1100, 1300, dict(civil_status="E")),
        "G": (1500, 1700, dict(labour_status="temporarily_outside")),
        "H": (1900, 2100, dict(labour_status="permanently_outside")),
        "I": (1200, 1400, dict(somatic_diseases=2)),
        "J": (1700, 1900, None),
        "K": (2200, 2400, dict(psychiatric=True, psychiatric_extended=True)),
        "L": (1800, 2000, dict(cancer_5y=True, cancer_10y=True)),
    }
    for cell, (y1, y2, kw) in extra.items():
        if cell == "J":
            rows.append(P("J1", "901", "000001", 1, 30, y1, somatic_diseases=3))
            rows.append(P("J2", "902", "000002", 1, 30, y2, somatic_diseases=4))
        else:
            rows.append(P(f"{cell}1", "901", "000001", 1, 30, y1, **kw))
            rows.append(P(f"{cell}2", "902", "000002", 1, 30, y2, **kw))
    rows += [
        P("R1", "902", "000003", 1, 30, 100), P("R2", "902", "000003", 2, 30, 100),
        P("U1", "902", "", 1, 30, 1000),  # no clinic on record
        P("X1", "901", "000001", 1, 30, 50000, insurance_group=2),  # group 2: only in the residents of 901
    ]
    return pd.DataFrame(rows)


def inputs() -> Inputs:
    clinics = pd.DataFrame({
        "clinic_id": ["000001", "000002", "000003"], "name": ["C1", "C2", "C3"],
        "municipality_code": ["901", "902", "902"], "postcode": ["9000", "9001", "9001"],
        "practice_form": ["solo", "partnership", "regional"], "capacities": [1.0, 1.5, 1.0],
        "vacant_capacities": [0.0, 0.0, 0.0], "island_doctor": [False, False, False],
        "opened": ["2000-01-01"] * 3, "closed": [""] * 3, "split_from": [""] * 3,
    })
    munis = pd.DataFrame({
        "municipality_code": ["901", "902"], "kommune": ["Nord", "Syd"], "region_from_2027": ["R", "R"],
        "sundhedsraad": ["HC", "HC"], "area_km2": [70.0, 10.0], "population_2026_01_01": [1000, 3000],
        "life_expectancy_at_birth": [80.0, 82.0],
    })
    # projection of all residents: 901 has 14 (13 in group 1), 902 has 15 (all group 1)
    proj = pd.DataFrame({"municipality_code": ["901", "902"], "year": [2026, 2026], "population_end_of_year": [2800, 3000]})
    reports = pd.DataFrame({  # annex 2: 000002 reported (valid on 1 Jan 2026); 000001's report has expired
        "clinic_id": ["000002", "000001"], "region": ["R", "R"], "reporting_date": ["2025-07-01", "2024-12-01"],
        "reported_patients": [11, 40], "source": ["r_2025-07-01.xlsx", "r_2024-12-01.xlsx"]})
    return Inputs(persons=persons(), clinics=clinics, municipalities=munis, projection=proj, island_reports=reports)


@pytest.fixture(scope="session")
def golden_cfg() -> ModelConfig:
    """The configuration of the golden data set: two age bands (0-64, 65+), so that the fit is saturated."""
    return CFG


@pytest.fixture(scope="session")
def golden_inputs():
    """A function returning the golden data set as fresh :class:`Inputs` (callers may change them)."""
    return inputs
