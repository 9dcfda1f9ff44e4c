"""The panel after the model's fit year: the 2027 fee structure and "more sickness on paper".

All assumed; each is the synthetic "truth" that :mod:`model.analyses.evaluation`
should find.  Years before :data:`FEE_STRUCTURE_YEAR` are unaffected by anything
here (the upcoding draws have their own random stream).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.inputs.synthetic.truth import TRUE_COEFFICIENTS

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
