"""The 2028 evaluation, analyses 1, 3 and 4: prediction, incentives and life expectancy, on a panel of years.

* :func:`prediction_analysis`: the fit-year coefficients against use in
  the later years (R², CPM, predictive ratios by group, group-level R²,
  calibration, the Deep End), and :func:`fee_structure_shift` (the ratios
  before and under the 2027 fee structure);
* :func:`incentive_analysis`: growth in recorded diagnoses per clinic and
  region against the change in minimum numbers, outliers flagged
  (:func:`flag_outliers`);
* :func:`life_expectancy_analysis`: the correction with remaining life
  expectancy at 65 against at birth.

:data:`THRESHOLDS` are the evaluation's design choices (the conclusions of
:func:`model.analyses.evaluation.conclusions` and the outlier rule here).
Orchestrated by :func:`model.analyses.evaluation.run_evaluation`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.core import cells
from model.core import chain as mc
from model.core import measures as ms

#: Thresholds of the conclusions table (design choices; each row of :func:`conclusions` names its own).
THRESHOLDS: dict[str, float] = {
    "r_squared_kept": 0.80,          # out-of-sample R² at least this share of the in-sample R²
    "group_ratio_tolerance": 0.10,   # predictive ratio of a characteristic group within 1 ± this
    "group_min_persons": 1000,       # only groups this large count for the verdict (smaller ones are noise)
    "municipalities_off_10pct": 0.10,  # at most this share of municipalities off by 10 % or more
    "deep_end_tolerance": 0.05,      # Deep End predictive ratio within 1 ± this
    "allocation_tolerance": 0.05,    # counted allocation within ± this share of the model's capacities
    "vacancy_share": 0.05,           # at most this share of allocated capacities vacant
    "flagged_clinic_share": 0.01,    # at most this share of clinics flagged for diagnosis growth
    "outlier_z": 3.5,                # robust z-score from which a clinic's diagnosis growth is flagged
    "outlier_min_expected": 20.0,    # a clinic is judged only when it expects at least this many diagnoses
    "min_clinics_judged": 30,        # fewer clinics large enough to judge: the incentive question is not assessable
    "fee_structure_shift": 0.05,     # predictive ratio moving this much at the new fee structure
    "life_expectancy_r2_gain": 0.02,  # group R² gain that would favour the other life-expectancy figure
}

# =============================================================================
# 1. Prediction
# =============================================================================


def _age_sex_codes(age: np.ndarray, sex: np.ndarray, config: ModelConfig) -> tuple[np.ndarray, list[str]]:
    bands = np.asarray(config.age_bands)
    b = np.searchsorted(bands, age, side="right") - 1
    labels = config.age_band_labels()
    code = (np.asarray(sex).astype(np.int64) - 1) * len(bands) + b
    names = [f"{s} {lab}" for s in ("men", "women") for lab in labels]
    return code.astype(np.int64), names


def _atom_groups(atoms: pd.DataFrame, config: ModelConfig) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Group codes of the characteristic groups for each atom, and their labels (code -> label)."""
    age = atoms["age"].to_numpy().astype(np.int64)
    sex = atoms["sex"].to_numpy().astype(np.int64)
    out: dict[str, tuple[np.ndarray, list[str]]] = {}
    bands = np.asarray(config.age_bands)
    out["age band"] = (np.searchsorted(bands, age, side="right") - 1, config.age_band_labels())
    out["sex"] = (sex - 1, ["men", "women"])
    out["age and sex"] = _age_sex_codes(age, sex, config)

    def cat(col, order):
        v = atoms[col].astype(str).to_numpy()
        labels = list(order) + sorted(set(v) - set(order))
        return pd.Index(labels).get_indexer(v).astype(np.int64), labels

    out["origin"] = cat("origin_group", ("danish", "menapt", "western", "other_non_western"))
    civ = atoms["civil_status"].astype(str).isin(config.civil_status_codes).to_numpy()
    out["civil status"] = (civ.astype(np.int64), ["other", config.civil_status_term.replace("_", " ")])
    out["labour status"] = cat("labour_status", ("in_work_or_education", "temporarily_outside",
                                                 "permanently_outside", "not_applicable"))
    som = atoms["somatic_diseases"].to_numpy().astype(np.int64)
    out["somatic diseases"] = (np.minimum(som, 4), ["0", "1", "2", "3", "4+"])
    out["psychiatric"] = (atoms[config.psychiatric_column].to_numpy().astype(np.int64), ["no", "yes"])
    out["cancer"] = (atoms[config.cancer_column].to_numpy().astype(np.int64), ["no", "yes"])
    return out


def _weighted_deciles(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Decile (0-9) of each value when each carries ``counts`` persons (ties kept together in order)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(counts[order]) - counts[order]
    total = counts.sum()
    d = np.minimum((cum * 10) // max(total, 1), 9).astype(np.int64)
    out = np.empty(len(values), dtype=np.int64)
    out[order] = d
    return out


def _small(codes: np.ndarray) -> np.ndarray:
    """Group codes as int16 when they fit: pandas groups 6 million int16 codes about 6 times faster than int64."""
    codes = np.asarray(codes)
    if codes.dtype != np.int16 and len(codes) and 0 <= codes.min() and codes.max() < np.iinfo(np.int16).max:
        return codes.astype(np.int16)
    return codes


def _group_rows(y, yhat, codes, labels, *, year, grouping, prediction, min_size) -> pd.DataFrame:
    t = ms.by_group(y, yhat, _small(codes), min_size=min_size)
    t["group"] = [labels[int(g)] if 0 <= int(g) < len(labels) else str(g) for g in t["group"]]
    t.insert(0, "prediction", prediction)
    t.insert(0, "grouping", grouping)
    t.insert(0, "year", int(year))
    return t


def _group_r2_row(y, yhat, codes, *, year, grouping, prediction, min_size) -> dict[str, Any]:
    """Group-level R² over the groups with at least ``min_size`` persons (smaller ones left out)."""
    n = np.bincount(codes, minlength=int(codes.max()) + 1 if len(codes) else 1)
    keep = n[codes] >= min_size
    if keep.sum() == 0 or len(np.unique(codes[keep])) < 2:
        r = {"groups": int(len(np.unique(codes[keep]))), "r_squared": np.nan, "share_off_5pct": np.nan,
             "share_off_10pct": np.nan, "min_group_size": 0, "median_group_size": np.nan}
    elif keep.all():
        r = ms.group_r_squared(y, yhat, _small(codes))
    else:
        r = ms.group_r_squared(y[keep], yhat[keep], _small(codes[keep]))
    return {"year": int(year), "grouping": grouping, "prediction": prediction,
            "groups_left_out": int(((n > 0) & (n < min_size)).sum()), **r}


def _calibration(ys, yhat, codes, *, year, min_size) -> pd.DataFrame:
    c = ms.by_group(ys, yhat, _small(codes), min_size=min_size)
    c.insert(0, "year", int(year))
    c = c.rename(columns={"group": "decile"})
    c["decile"] = c["decile"].astype(int) + 1
    c["mean_observed"] = c["observed"] / c["persons"]
    c["mean_predicted"] = c["predicted"] / c["persons"]
    return c


def _run_jobs(jobs: list[tuple[str, Any]], workers: int | None) -> list[tuple[str, Any]]:
    """Run (kind, callable) jobs, in threads (pandas' grouping releases the GIL); results in job order."""
    n = max(1, min(len(jobs), workers if workers is not None else min(4, os.cpu_count() or 1)))
    if n == 1:
        return [(k, f()) for k, f in jobs]
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [(k, pool.submit(f)) for k, f in jobs]
        return [(k, fut.result()) for k, fut in futures]


def prediction_analysis(panel: Any, config: ModelConfig, params: pd.Series, fit_year: int, years: Sequence[int],
                        in_sample_r2: float | None = None, deep_end_share: float = 0.10,
                        threads: int | None = None) -> dict[str, Any]:
    """Analysis 1: the fit-year coefficients against use in the later years (and in the fit year, in sample).

    In: a :class:`model.analyses.panel.Panel` holding the fit year and ``years``
    (fees at the fit year's price level), the fit configuration, the
    coefficients, and the share of clinics that make up the Deep End.
    The group computations of a year run in ``threads`` threads (default:
    up to 4).
    Out: tables ``prediction_measures``, ``predictive_ratios``,
    ``group_r_squared``, ``calibration``, ``deep_end``,
    ``fee_structure_shift``, and the chains per year (``chains``: year ->
    :class:`model.core.chain.ChainResult`, used by the other analyses).
    """
    min_size = int(config.min_cell_size)
    measures_rows, ratio_frames, r2_rows, calib_frames, deep_rows = [], [], [], [], []
    chains: dict[int, Any] = {}
    deciles_of_clinic: np.ndarray | None = None
    deep_end_ids: list[str] = []
    all_years = [int(fit_year)] + [int(y) for y in years if int(y) != int(fit_year)]
    panel.want(all_years)
    for s in all_years:
        yd = panel.get(s)
        cfg = mc.year_config(config, s)
        fc = cells.features(yd, cfg)
        pred_atom = mc.cell_predictions(fc, cfg, params)[fc.cell_of_atom]
        pred = pred_atom[yd.atom]
        y = cells.outcome(yd, cfg)
        mask = cells.sample_mask(yd, cfg)
        corrected = pred * mc.person_le_factor(yd, cfg)
        weight = corrected / corrected.mean()
        chains[s] = mc.chain(yd, cfg, params)
        ys, ps, ws = y[mask], pred[mask], weight[mask]
        level = float(ps.sum() / ys.sum())
        yhat = ps / level                           # scaled: Σŷ = Σy in the year
        what = ws * (ys.sum() / ws.sum())           # the final weights, scaled likewise
        m = ms.prediction_measures(ys, yhat)
        mw = ms.prediction_measures(ys, what)
        kind = "in sample (fit year)" if s == int(fit_year) else "out of sample"
        measures_rows.append({
            "year": s, "kind": kind, "persons": m["n"], "mean_use": float(ys.mean()),
            "mean_predicted_unscaled": float(ps.mean()), "level_ratio": level,
            "r_squared": m["r_squared"], "cpm": m["cpm"], "mean_absolute_error": m["mean_absolute_error"],
            "r_squared_weights": mw["r_squared"], "cpm_weights": mw["cpm"],
            "mean_absolute_error_weights": mw["mean_absolute_error"],
            "in_sample_r_squared_of_fit": in_sample_r2 if in_sample_r2 is not None else np.nan,
        })
        # --- characteristic groups (from the atoms: a gather per person); out of sample only, as in the
        # fit year the groups that are terms of the model have ratios of exactly 1 by construction
        atom_mask = yd.atom[mask]
        jobs: list[tuple[str, Any]] = []
        if s != int(fit_year):
            for grouping, (acode, labels) in _atom_groups(yd.atoms, cfg).items():
                jobs.append(("ratio", partial(_group_rows, ys, yhat, _small(acode)[atom_mask], labels, year=s,
                                              grouping=grouping, prediction="use", min_size=min_size)))
        # --- areas: municipality and health council, for predicted use and for the final weights
        munis = yd.municipalities.set_index("municipality_code")
        mnames = munis["kommune"].reindex(yd.muni_codes).astype(str).tolist()
        hc_of_muni = munis["sundhedsraad"].reindex(yd.muni_codes).astype(str).to_numpy()
        hc_labels = sorted(set(hc_of_muni))
        hc_code_of_muni = pd.Index(hc_labels).get_indexer(hc_of_muni)
        pm = yd.pm[mask].astype(np.int64)
        area = {"municipality": (pm, mnames), "health council": (hc_code_of_muni[pm], hc_labels)}
        for grouping, (codes, labels) in area.items():
            codes = _small(codes)
            for pred_name, yh in (("use", yhat), ("weight", what)):
                jobs.append(("ratio", partial(_group_rows, ys, yh, codes, labels, year=s, grouping=grouping,
                                              prediction=pred_name, min_size=min_size)))
                jobs.append(("r2", partial(_group_r2_row, ys, yh, codes, year=s, grouping=grouping,
                                           prediction=pred_name, min_size=min_size)))
        pc = yd.pc[mask].astype(np.int64)
        lm = pc < len(yd.clinic_ids)  # listed with a clinic (the others are no clinic's patients)
        pc16 = _small(pc[lm])
        for pred_name, yh in (("use", yhat), ("weight", what)):
            jobs.append(("r2", partial(_group_r2_row, ys[lm], yh[lm], pc16, year=s, grouping="clinic",
                                       prediction=pred_name, min_size=min_size)))
        # --- clinic-weight deciles: ranked once, on the fit year's mean weights (the Deep End is the top decile)
        if deciles_of_clinic is None:
            ct = chains[s].clinics
            ranked = ct[(ct["listed_patients"] >= min_size) & ct["mean_weight"].notna()]
            dec = pd.Series(_weighted_deciles(ranked["mean_weight"].to_numpy(), np.ones(len(ranked), np.int64)),
                            index=ranked["clinic_id"].to_numpy())
            top = int(round(10 * (1 - deep_end_share)))
            deep_end_ids = sorted(dec.index[dec >= top])
            deciles_of_clinic = dec
        # (the code after the last clinic is the citizens with no clinic on record: no decile, not Deep End)
        dec_by_code = np.append(pd.Series(yd.clinic_ids).map(deciles_of_clinic).fillna(-1).astype(np.int64).to_numpy(), -1)
        dcode = dec_by_code[pc]
        keep = dcode >= 0
        dlabels = [f"decile {k + 1}" + (" (Deep End)" if k + 1 > round(10 * (1 - deep_end_share)) else "")
                   for k in range(10)]
        ys_k = ys[keep]
        for pred_name, yh in (("use", yhat), ("weight", what)):
            jobs.append(("ratio", partial(_group_rows, ys_k, yh[keep], _small(dcode[keep]), dlabels, year=s,
                                          grouping="clinic weight decile (fit year)", prediction=pred_name,
                                          min_size=min_size)))
        deep_clinic = np.isin(np.asarray(yd.clinic_ids, dtype=object), deep_end_ids)  # per clinic, then gathered
        deep = np.append(deep_clinic, False)[pc]
        listed = np.bincount(pc, minlength=len(yd.clinic_ids) + 1)[:len(yd.clinic_ids)]
        for label, sel, csel in (("Deep End", deep, deep_clinic), ("other clinics", ~deep, ~deep_clinic)):
            if not sel.any():
                continue
            g = ms.prediction_measures(ys[sel], yhat[sel])
            gw = ms.prediction_measures(ys[sel], what[sel])
            deep_rows.append({
                "year": s, "clinics": label, "persons": int(sel.sum()),
                "clinic_count": int(((listed > 0) & csel).sum()),
                "mean_use": float(ys[sel].mean()),
                "predictive_ratio_use": g["predictive_ratio"],
                "compensation_per_person_use": float((yhat[sel] - ys[sel]).mean()),
                "predictive_ratio_weight": gw["predictive_ratio"],
                "compensation_per_person_weight": float((what[sel] - ys[sel]).mean()),
            })
        # --- calibration: deciles of predicted use (persons of one cell share a decile)
        counts = np.bincount(atom_mask, minlength=len(pred_atom))
        dec_atom = _small(_weighted_deciles(pred_atom, counts))
        jobs.append(("calibration", partial(_calibration, ys, yhat, dec_atom[atom_mask], year=s, min_size=min_size)))
        for kind, res in _run_jobs(jobs, threads):
            {"ratio": ratio_frames, "r2": r2_rows, "calibration": calib_frames}[kind].append(res)
        del pred, y, mask, corrected, weight, ys, ps, ws, yhat, what, jobs
    ratios = pd.concat(ratio_frames, ignore_index=True)
    return {
        "prediction_measures": pd.DataFrame(measures_rows),
        "predictive_ratios": ratios,
        "group_r_squared": pd.DataFrame(r2_rows),
        "calibration": pd.concat(calib_frames, ignore_index=True),
        "deep_end": pd.DataFrame(deep_rows),
        "fee_structure_shift": fee_structure_shift(ratios, fit_year),
        "chains": chains,
        "deep_end_clinics": deep_end_ids,
        "clinic_deciles": deciles_of_clinic,
    }


#: Groupings compared before and under the new fee structure.
_SHIFT_GROUPINGS = ("age band", "sex", "somatic diseases", "psychiatric", "cancer", "labour status")


def fee_structure_shift(ratios: pd.DataFrame, fit_year: int, structure_year: int = 2027) -> pd.DataFrame:
    """Predictive ratios of the characteristic groups in the last year before ``structure_year`` and in the
    first year from it (both among the years evaluated); empty when the years do not straddle it."""
    r = ratios[(ratios["prediction"] == "use") & ratios["grouping"].isin(_SHIFT_GROUPINGS)]
    years = sorted(r["year"].unique())
    before = [y for y in years if y < structure_year]
    after = [y for y in years if y >= structure_year]
    cols = ["grouping", "group", "year_before", "year_after", "persons_after", "ratio_before", "ratio_after", "shift"]
    if not before or not after:
        return pd.DataFrame(columns=cols)
    yb, ya = max(before), min(after)
    b = r[r["year"] == yb].set_index(["grouping", "group"])
    a = r[r["year"] == ya].set_index(["grouping", "group"])
    j = a[["persons", "predictive_ratio"]].join(b[["predictive_ratio"]], rsuffix="_before", how="inner")
    out = pd.DataFrame({
        "year_before": yb, "year_after": ya, "persons_after": j["persons"],
        "ratio_before": j["predictive_ratio_before"], "ratio_after": j["predictive_ratio"],
    }, index=j.index)
    out["shift"] = out["ratio_after"] - out["ratio_before"]
    return out.reset_index()[cols]


# =============================================================================
# 3. Incentives: recorded diagnoses
# =============================================================================


def _markers(atoms: pd.DataFrame, config: ModelConfig) -> np.ndarray:
    """Recorded diagnosis markers per atom: somatic diseases + psychiatric + cancer (what the weights reward)."""
    return (atoms["somatic_diseases"].to_numpy().astype(np.float64)
            + atoms[config.psychiatric_column].to_numpy().astype(np.float64)
            + atoms[config.cancer_column].to_numpy().astype(np.float64))


def _age_sex5(atoms: pd.DataFrame) -> np.ndarray:
    """5-year age group (0-4 ... 90+) x sex code per atom."""
    return (np.minimum(atoms["age"].to_numpy().astype(np.int64) // 5, 18) * 2
            + atoms["sex"].to_numpy().astype(np.int64) - 1)


def flag_outliers(observed: np.ndarray, expected: np.ndarray, z: float = 3.5, min_expected: float = 0.0,
                  min_units: int = 10) -> pd.DataFrame:
    """Upward outliers of observed against expected counts (a funnel plot with robust overdispersion).

    Per unit: the Poisson z-score (O - E)/√E, then robustly standardised
    across units, (z - median)/(1.4826 x MAD), so that units of any size are
    judged on one scale and ordinary variation does not flag.  Flagged: the
    standardised score is at least ``z`` (only upward: more diagnoses than
    expected).  Units expecting fewer than ``min_expected`` are not judged
    (no score: a handful of diagnoses cannot tell), nor any unit when fewer
    than ``min_units`` can be judged (no spread to judge against).  Out:
    ``z_poisson``, ``z_robust``, ``flagged``.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        zp = np.where((e > 0) & (e >= min_expected), (o - e) / np.sqrt(e), np.nan)
    ok = np.isfinite(zp)
    if ok.sum() < min_units:
        nan = np.full(len(zp), np.nan)
        return pd.DataFrame({"z_poisson": zp, "z_robust": nan, "flagged": np.zeros(len(zp), dtype=bool)})
    med = float(np.median(zp[ok])) if ok.any() else 0.0
    mad = float(np.median(np.abs(zp[ok] - med))) * 1.4826 if ok.any() else 0.0
    zr = (zp - med) / mad if mad > 0 else np.where(ok, 0.0, np.nan)
    return pd.DataFrame({"z_poisson": zp, "z_robust": zr, "flagged": np.nan_to_num(zr, nan=-np.inf) >= z})


def incentive_analysis(panel: Any, config: ModelConfig, fit_year: int, years: Sequence[int],
                       chains: Mapping[int, Any], z: float | None = None) -> dict[str, pd.DataFrame]:
    """Analysis 3: growth in recorded diagnoses per clinic and region against the change in minimum numbers.

    Recorded diagnosis markers (somatic diseases counted, psychiatric
    disease, cancer) of each clinic's listed group-1 patients are compared
    with those expected from the fit year's national rates by 5-year age
    group and sex (indirect standardisation), giving a standardised ratio
    per clinic and year.  For each later year the expected count under "no
    change but the national trend" is E_s x ratio_t x (national ratio_s /
    national ratio_t); clinics far above it are flagged
    (:func:`flag_outliers`).  Minimum numbers come from the chain with the
    fit-year coefficients on each year's patients, so their change reflects
    only the patients (and their recorded diagnoses).  Clinics with fewer
    than ``config.min_cell_size`` listed patients in either year are left out.
    """
    z = THRESHOLDS["outlier_z"] if z is None else z
    yd_t = panel.get(int(fit_year))
    min_size = int(config.min_cell_size)
    g_t = _age_sex5(yd_t.atoms)
    mk_t = _markers(yd_t.atoms, config)
    n_t = np.bincount(g_t, weights=np.bincount(yd_t.atom, minlength=len(yd_t.atoms)), minlength=38)
    o_t = np.bincount(g_t, weights=mk_t * np.bincount(yd_t.atom, minlength=len(yd_t.atoms)), minlength=38)
    rate = np.divide(o_t, n_t, out=np.zeros_like(o_t), where=n_t > 0)

    def per_clinic(yd):
        obs_atom = _markers(yd.atoms, config)
        exp_atom = rate[_age_sex5(yd.atoms)]
        nc = len(yd.clinic_ids)  # yd.pc == nc: no clinic on record (dropped)
        o = np.bincount(yd.pc, weights=obs_atom[yd.atom], minlength=nc + 1)[:nc]
        e = np.bincount(yd.pc, weights=exp_atom[yd.atom], minlength=nc + 1)[:nc]
        n = np.bincount(yd.pc, minlength=nc + 1)[:nc]
        return pd.DataFrame({"clinic_id": yd.clinic_ids, "listed": n, "observed": o, "expected": e})

    base = per_clinic(yd_t).set_index("clinic_id")
    munis = yd_t.municipalities.set_index("municipality_code")
    clin = yd_t.clinics.set_index("clinic_id")
    region_of = clin["municipality_code"].map(munis["region_from_2027"])
    hc_of = clin["municipality_code"].map(munis["sundhedsraad"])
    min_t = chains[int(fit_year)].clinics.set_index("clinic_id")["minimum_patients"]
    rows, regions = [], []
    for s in years:
        yd = panel.get(int(s))
        cur = per_clinic(yd).set_index("clinic_id")
        del yd
        both = base.add_suffix("_fit").join(cur.add_suffix("_later"), how="inner")
        both = both[(both["listed_fit"] >= min_size) & (both["listed_later"] >= min_size)]
        ratio_t = both["observed_fit"] / both["expected_fit"]
        ratio_s = both["observed_later"] / both["expected_later"]
        nat_t = base["observed"].sum() / base["expected"].sum()
        nat_s = cur["observed"].sum() / cur["expected"].sum()
        trend = nat_s / nat_t
        expect = both["expected_later"] * ratio_t * trend
        f = flag_outliers(both["observed_later"].to_numpy(), expect.to_numpy(), z=z,
                          min_expected=THRESHOLDS["outlier_min_expected"])
        min_s = chains[int(s)].clinics.set_index("clinic_id")["minimum_patients"]
        t = pd.DataFrame({
            "year_fit": int(fit_year), "year": int(s), "clinic_id": both.index,
            "health_council": hc_of.reindex(both.index).to_numpy(),
            "region": region_of.reindex(both.index).to_numpy(),
            "listed_patients_fit": both["listed_fit"].to_numpy(), "listed_patients": both["listed_later"].to_numpy(),
            "diagnosis_ratio_fit": ratio_t.to_numpy(), "diagnosis_ratio": ratio_s.to_numpy(),
            "diagnosis_growth": (ratio_s / ratio_t / trend - 1).to_numpy(),
            "expected_markers": expect.to_numpy(), "excess_markers": (both["observed_later"] - expect).to_numpy(),
            "z_robust": f["z_robust"].to_numpy(), "flagged": f["flagged"].to_numpy(),
            "minimum_patients_fit": min_t.reindex(both.index).to_numpy(),
            "minimum_patients": min_s.reindex(both.index).to_numpy(),
        })
        t["minimum_change"] = t["minimum_patients"] / t["minimum_patients_fit"] - 1
        rows.append(t)
        # regions: all listed patients of the region's clinics
        cur_r = cur.join(region_of.rename("region")).groupby("region")[["listed", "observed", "expected"]].sum()
        base_r = base.join(region_of.rename("region")).groupby("region")[["listed", "observed", "expected"]].sum()
        rt = pd.DataFrame({"year_fit": int(fit_year), "year": int(s),
                           "listed_patients": cur_r["listed"],
                           "diagnosis_ratio_fit": base_r["observed"] / base_r["expected"],
                           "diagnosis_ratio": cur_r["observed"] / cur_r["expected"]})
        rt["diagnosis_growth"] = rt["diagnosis_ratio"] / rt["diagnosis_ratio_fit"] - 1
        agg = t.groupby("region").agg(clinics=("clinic_id", "size"), judged=("z_robust", "count"),
                                      flagged_clinics=("flagged", "sum"),
                                      median_minimum_change=("minimum_change", "median"))
        rt = rt.join(agg).reset_index().rename(columns={"index": "region"})
        regions.append(rt)
    return {"diagnosis_growth_clinics": pd.concat(rows, ignore_index=True),
            "diagnosis_growth_regions": pd.concat(regions, ignore_index=True)}


# =============================================================================
# 4. Life expectancy at birth vs remaining at 65
# =============================================================================


def life_expectancy_analysis(panel: Any, config: ModelConfig, params: pd.Series, fit_year: int,
                             years: Sequence[int], chains: Mapping[int, Any],
                             variant: str = "life_expectancy_65", threads: int | None = None) -> dict[str, pd.DataFrame]:
    """Analysis 4: the correction with remaining life expectancy at 65 against at birth (§4.4.2.4).

    For the fit year and the latest later year: capacities per health
    council under each figure (same coefficients) and the share of
    capacity that would move between health councils
    (:func:`model.core.measures.reallocation`); for every later year, group-level
    R² by municipality and health council of each set of weights against
    observed use (which figure's weights track later use better).  The
    municipal figures at 65 are derived (``life_expectancy_variants.csv``).
    """
    cfg65_base = config.variant(variant)
    min_size = int(config.min_cell_size)
    cap_rows, fit_rows = [], []
    latest = max(int(y) for y in years)
    le_tables = {}
    for s in [int(fit_year)] + [int(y) for y in years]:
        yd = panel.get(s)
        cfg = mc.year_config(config, s)
        cfg65 = mc.year_config(cfg65_base, s)
        if s in (int(fit_year), latest):
            c_birth = chains[s] if s in chains else mc.chain(yd, cfg, params)
            c65 = mc.chain(yd, cfg65, params)
            a = c_birth.by_health_council.set_index("health_council")
            b = c65.by_health_council.set_index("health_council")
            d = pd.DataFrame({"year": s, "planning_year": cfg.planning_year,
                              "weighted_citizens_birth": a["weighted_citizens"],
                              "weighted_citizens_65": b["weighted_citizens"].reindex(a.index),
                              "capacities_birth": a["capacities"], "capacities_65": b["capacities"].reindex(a.index)})
            d["difference"] = d["capacities_65"] - d["capacities_birth"]
            d["reallocation_share"] = ms.reallocation(d["weighted_citizens_birth"], d["weighted_citizens_65"])
            cap_rows.append(d.reset_index())
            le_tables[s] = (c_birth.life_expectancy, c65.life_expectancy)
        if s == int(fit_year):
            continue
        fc = cells.features(yd, cfg)
        pred = mc.cell_predictions(fc, cfg, params)[fc.cell_of_atom][yd.atom]
        mask = cells.sample_mask(yd, cfg)
        y = cells.outcome(yd, cfg)[mask]
        pm = yd.pm[mask].astype(np.int64)
        munis = yd.municipalities.set_index("municipality_code")
        hc = munis["sundhedsraad"].reindex(yd.muni_codes).astype(str).to_numpy()
        hc_code = _small(pd.Index(sorted(set(hc))).get_indexer(hc)[pm])
        pm = _small(pm)
        jobs = []
        for name, c in (("at birth", cfg), ("remaining at 65", cfg65)):
            w = pred * mc.person_le_factor(yd, c)
            w = w[mask] / w[mask].mean() * y.mean()
            for grouping, codes in (("municipality", pm), ("health council", hc_code)):
                jobs.append((name, partial(_group_r2_row, y, w, codes, year=s, grouping=grouping,
                                           prediction=f"weight ({name})", min_size=min_size)))
        for name, r in _run_jobs(jobs, threads):
            r["life_expectancy"] = name
            fit_rows.append(r)
        del pred, mask, y, pm, jobs
    lb, l65 = le_tables[latest]
    munis = panel.get(int(fit_year)).municipalities
    mt = munis[["municipality_code", "kommune", "sundhedsraad"]].rename(
        columns={"kommune": "municipality", "sundhedsraad": "health_council"})
    mt = mt.merge(lb[["municipality_code", "life_expectancy", "life_expectancy_factor", "life_expectancy_imputed"]]
                  .rename(columns={"life_expectancy": "life_expectancy_at_birth",
                                   "life_expectancy_factor": "factor_at_birth"}), on="municipality_code", how="left")
    mt = mt.merge(l65[["municipality_code", "life_expectancy", "life_expectancy_factor"]]
                  .rename(columns={"life_expectancy": "remaining_life_expectancy_65", "life_expectancy_factor": "factor_65"}),
                  on="municipality_code", how="left")
    mt["factor_difference"] = mt["factor_65"] - mt["factor_at_birth"]
    return {"life_expectancy_capacity": pd.concat(cap_rows, ignore_index=True),
            "life_expectancy_fit": pd.DataFrame(fit_rows),
            "life_expectancy_municipalities": mt}
