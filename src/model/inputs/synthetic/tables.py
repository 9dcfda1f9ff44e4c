"""The small tables of the synthetic folder, its summary figures and ``synthetic_manifest.json``.

Each writer takes arrays :func:`model.inputs.synthetic.generate` has computed
and writes one file, byte for byte as before the package was split; none
draws random numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.inputs import reference
from model.inputs.synthetic.clinics import _open_mask
from model.inputs.synthetic.evaluation_years import (
    CONSULTATION_FEE_MULTIPLIER_2027,
    CONTACT_BUDGET_SHARE_2027,
    FEE_STRUCTURE_2027,
    FEE_STRUCTURE_YEAR,
    UPCODING_CLINIC_SHARE,
    UPCODING_RATE,
    _structure_coefficients,
)
from model.inputs.synthetic.population import _REGION_ORDER, _Context
from model.inputs.synthetic.reports import (
    _CSV_FROM,
    _CSV_REGION,
    CAPACITY_GROWTH,
    VACANCY_FILL_RATE,
)
from model.inputs.synthetic.truth import (
    _CIVIL,
    REGIONAL_TENDER_RECORDING_FACTOR,
    TRUE_COEFFICIENTS,
    ULTRASOUND_CODES,
    ULTRASOUND_FEE_2025,
    ULTRASOUND_MUNICIPALITIES,
    ULTRASOUND_YEARS,
)


def _write_clinics_csv(out: Path, plan: pd.DataFrame) -> Path:
    """``clinics.csv``: one row per provider number of the clinic plan, sorted by it; returns the path."""
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
    return clinics_path


def _write_municipalities(out: Path) -> Path:
    """``municipalities.csv``: a byte copy of the embedded reference table; returns the path."""
    muni_path = out / "municipalities.csv"
    shutil.copyfile(reference.data_path("municipalities.csv"), muni_path)
    return muni_path


def _write_projection(out: Path, ctx: _Context, years: list[int], g1_counts: dict[int, np.ndarray],
                      latest_muni: np.ndarray) -> Path:
    """``population_projection.csv``: group-1 population per municipality at real scale; returns the path.

    In: the sample's group-1 citizens per municipality and panel year
    (``g1_counts``) and the municipality index of each citizen of the latest
    year (``latest_muni``).  Out rows: every panel year and the two planning
    years after the last (each municipality's growth, half its own and half
    the national, clipped to -1 %..+2 % a year; 0.4 % for a one-year panel).
    """
    last = years[-1]
    proj_rows = []
    nmun = len(ctx.codes)
    g1_last = g1_counts[last].astype(float)
    n_last = np.bincount(latest_muni.astype(np.int64), minlength=nmun).astype(float)
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
    return proj_path


def _write_fee_index(out: Path, index: dict[int, float]) -> Path:
    """``fee_index.csv``: the fee index per panel year (two decimals); returns the path."""
    fee_path = out / "fee_index.csv"
    pd.DataFrame({"year": list(index), "index": [f"{v:.2f}" for v in index.values()]}).to_csv(
        fee_path, index=False, lineterminator="\n")
    return fee_path


def _summary(plan: pd.DataFrame, latest: dict[str, np.ndarray], summary_years: dict[int, dict[str, Any]],
             n_ever: int, scale_up: float, listed_scaled: np.ndarray, last: int) -> dict[str, Any]:
    """The manifest's ``summary``: calibration figures of the latest year and of each panel year.

    ``latest``: the latest year's characteristics (age, sex, origin, labour,
    somatic, psych, cancer, civil; one entry per citizen); ``summary_years``:
    the per-year figures; ``listed_scaled``: listed patients per plan row at
    national scale.
    """
    open_last = _open_mask(plan, last)
    isl = np.where(plan["island_doctor"].to_numpy())[0]
    a = latest["age"]
    w1667 = (a >= 16) & (a <= 67)
    nlast = len(a)
    return {
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


def _evaluation_truth(plan: pd.DataFrame, last: int, upcoding: np.ndarray | None, sim: dict[str, Any] | None,
                      bad_reports: list[Path]) -> dict[str, Any]:
    """The manifest's ``evaluation_truth``: the planted fee structure and upcoding (panels reaching
    :data:`FEE_STRUCTURE_YEAR`) and the capacity reports over time (``sim`` of the capacity simulation)."""
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
    return truth


def _write_manifest(out: Path, parameters: dict[str, Any], plan: pd.DataFrame, index: dict[int, float],
                    summary: dict[str, Any], truth: dict[str, Any] | None) -> Path:
    """``synthetic_manifest.json``: parameters, true coefficients, fee index, ultrasound agreement,
    summary and (``truth``, when not None) ``evaluation_truth``; returns the path."""
    manifest = {
        "description": "SYNTHETIC data made by model.synthetic; no real persons, clinics or fees.",
        "parameters": parameters,
        "true_coefficients": TRUE_COEFFICIENTS,
        "regional_tender_recording_factor": REGIONAL_TENDER_RECORDING_FACTOR,
        "fee_index": {str(k): v for k, v in index.items()},
        "ultrasound": {"codes": list(ULTRASOUND_CODES), "fee_2025": ULTRASOUND_FEE_2025,
                       "years": list(ULTRASOUND_YEARS), "municipalities": list(ULTRASOUND_MUNICIPALITIES),
                       "participating_clinics": sorted(plan.loc[plan["ultrasound"], "clinic_id"].tolist())},
        "summary": summary,
    }
    if truth is not None:
        manifest["evaluation_truth"] = truth
    man_path = out / "synthetic_manifest.json"
    man_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    return man_path

