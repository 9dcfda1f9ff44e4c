"""The tables of the annual report (``annual_report.ipynb``), each shaped from a run folder's result tables.

In: ``t``, the dict of :func:`model.report.annual.load_run` (the run's
tables by name, ``config``, ``manifest``, ``checks``).  Out: data frames
with readers' column headers, shown by :func:`model.report.display.show_table`
(which masks small counts).  Sections follow the report: 1 summary, 2 data,
3 fit, 4 price list, 5 capacities, 6 clinics, 8 changes since last year,
9 assumptions (:data:`ASSUMPTIONS`), 10 provenance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.disclosure import mark_sheet_sums
from model.config import VARIANTS, ModelConfig
from model.core.features import age_sex_term_names, reference_term
from model.report.annual import CLINIC_PROFILES
from model.report.display import HIDDEN


def summary_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 1: capacities per health council against counted allocation and headroom."""
    hc = t["capacity_by_health_council"]
    out = pd.DataFrame({
        "Health council": hc["health_council"],
        "Region from 2027": hc["region_from_2027"],
        "Capacities (model)": hc["capacities"].astype(int),
        "Allocated today (counted)": hc["counted_allocation"],
        "Headroom": hc["headroom"],
        "May allocate new capacity": hc["headroom"] > 0,
    })
    total = pd.DataFrame([{
        "Health council": "Denmark", "Region from 2027": "",
        "Capacities (model)": int(out["Capacities (model)"].sum()),
        "Allocated today (counted)": float(out["Allocated today (counted)"].sum()),
        "Headroom": float(out["Headroom"].sum()), "May allocate new capacity": None,
    }])
    return pd.concat([out, total], ignore_index=True)


def national_summary(t: Mapping[str, Any]) -> dict[str, Any]:
    """Headline numbers: total capacities, counted allocation, goal, councils with headroom."""
    hc = t["capacity_by_health_council"]
    cfg: ModelConfig = t["config"]
    return {
        "year": cfg.year, "planning_year": cfg.planning_year,
        "capacities": int(hc["capacities"].sum()),
        "capacities_exact": float(hc["capacities_exact"].sum()),
        "allocated": float(hc["counted_allocation"].sum()),
        "headroom_councils": hc.loc[hc["headroom"] > 0, "health_council"].tolist(),
        "headroom_total": float(hc.loc[hc["headroom"] > 0, "headroom"].sum()),
        "goal": cfg.national_goal_gps,
        "health_councils": len(hc),
        "clinics": int(len(t["clinic_minimums"])),
    }


def data_by_health_council(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 2: citizens and clinics per health council.

    From ``checks/data_by_health_council.csv`` when the data checks ran, else
    from the result tables (citizens of insurance group 1, open clinics).
    Sums of listed patients that the clinics' sheets would give away are
    marked for hiding (``attrs["hidden"]``, see :func:`model.analyses.disclosure.sums_of_sheets_hidden`).
    """
    chk = t.get("checks", {}).get("data_by_health_council")
    ct = t["clinic_minimums"]
    if chk is not None:
        return mark_sheet_sums(chk, ct.rename(columns={"listed_patients": "listed"}), t["config"].min_cell_size)
    bm = t["capacity_by_municipality"]
    a = bm.groupby("health_council").agg(municipalities=("municipality_code", "size"), citizens=("citizens", "sum"))
    b = ct.groupby("health_council").agg(clinics=("clinic_id", "size"), capacities_allocated=("capacities", "sum"),
                                         listed_patients=("listed_patients", "sum"))
    out = a.join(b, how="left").fillna(0).reset_index()
    out = out.rename(columns={"health_council": "Health council", "municipalities": "Municipalities",
                              "citizens": "Citizens (group 1)", "clinics": "Open clinics",
                              "capacities_allocated": "Capacities allocated",
                              "listed_patients": "Listed patients (group 1)"})
    return mark_sheet_sums(out, ct.rename(columns={"listed_patients": "listed"}), t["config"].min_cell_size)


def synthetic_calibration(data_dir: str | Path, t: Mapping[str, Any] | None = None) -> pd.DataFrame | None:
    """Section 2, synthetic data only: the calibration table of ``synthetic_manifest.json``.

    In: the data folder (and the run ``t``).  Out: one row per public figure
    (figure, source, target, achieved in the data, how the target was found)
    plus, with ``t``, "This run": the fitted model's values of the draft
    model's official figures (mean weight = weighted citizens over the
    population at the end of the year; Sønderjylland's floor and headroom).
    None when the folder holds no synthetic manifest (real data).
    """
    p = Path(data_dir) / "synthetic_manifest.json"
    if not p.exists():
        return None
    rows = json.loads(p.read_text(encoding="utf-8")).get("summary", {}).get("calibration")
    if not rows:
        return None
    df = pd.DataFrame(rows)
    out = pd.DataFrame({"Figure": df["figure"], "Source": df["source"], "Target": df["target"].astype(str),
                        "Achieved (data)": df["achieved"].astype(str), "Target is": df["status"]})
    if t is not None:
        bm, hc = t["capacity_by_municipality"], t["capacity_by_health_council"]

        def weight(sel) -> str:
            m = bm[sel]
            return f"{m['weighted_citizens'].sum() / m['population_end_of_year'].sum():.3f}" if len(m) else ""

        snj = hc[hc["health_council"] == "Sønderjylland"]
        fitted = {
            "Health council Hovedstaden": weight(bm["health_council"] == "Hovedstaden"),
            "Aabenraa": weight(bm["municipality_code"].astype(str) == "580"),
            "Sønderjylland": "" if snj.empty else (f"floor binds in {int(snj['municipalities_floor_binds'].iloc[0])} "
                                                   f"municipalities; headroom {snj['headroom'].iloc[0]:.0f}"),
        }
        out["This run"] = [next((v for k, v in fitted.items() if f.startswith(k + ":")), "") for f in df["figure"]]
    return out


def imputed_life_expectancy(t: Mapping[str, Any]) -> pd.DataFrame:
    """Municipalities whose life expectancy was imputed (their health council's figure)."""
    bm = t["capacity_by_municipality"]
    imp = bm[bm["life_expectancy_imputed"].astype(str).str.lower().isin(["true", "1"])]
    return pd.DataFrame({
        "Municipality": imp["name"], "Health council": imp["health_council"],
        "Life expectancy used (imputed)": imp["life_expectancy"],
        "Factor": imp["life_expectancy_factor"],
    }).reset_index(drop=True)


def coefficient_comparison(t: Mapping[str, Any], a: str | None = None, b: str | None = None) -> pd.DataFrame:
    """Section 3: coefficients (DKK per year) of two fits side by side with 95 % intervals and the difference.

    Default: ``a`` the fit without regional and tender clinics (the run's
    variant), ``b`` the fit with them; "with" minus "without" is the difference.
    """
    co = t["coefficients"]
    names = list(dict.fromkeys(co["variant"]))
    if b is None:
        b = "with_regional_tender" if "with_regional_tender" in names else names[-1]
    if a is None:
        a = next((v for v in names if v != b), names[0])
    va = co[co["variant"] == a].set_index("term")
    vb = co[co["variant"] == b].set_index("term")
    terms = list(va.index) + [x for x in vb.index if x not in va.index]
    out = pd.DataFrame({"Term": terms})
    for v, lab in ((va, "without"), (vb, "with")):
        out[f"Estimate ({lab})"] = v["estimate"].reindex(terms).to_numpy()
        out[f"95% CI ({lab})"] = [
            "" if pd.isna(lo) else f"{lo:,.0f} to {hi:,.0f}"
            for lo, hi in zip(v["ci_low"].reindex(terms), v["ci_high"].reindex(terms))]
    out["Difference"] = out["Estimate (with)"] - out["Estimate (without)"]
    return out


def fit_statistics_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Fit statistics of the fits in the run, one column per variant."""
    fs = t["fit_statistics"].copy()
    fs["label"] = fs["variant"].map(lambda v: VARIANTS.get(v, {}).get("label", v))
    rows = {"Fit": fs["label"], "Persons": fs["persons"], "Cells (combinations)": fs["cells"],
            "Terms": fs["terms"], "R²": fs["r_squared"], "Adjusted R²": fs["r_squared_adj"],
            "Standard errors": fs["cov_type"]}
    return pd.DataFrame(rows)


def base_cells(pl: pd.DataFrame) -> pd.DataFrame:
    """Price-list rows with no add-on: reference origin, civil status, labour, disease counts."""
    m = (pl["origin"] == "other") & (pl["civil_status"] == "no") & (pl["labour"] == "-") \
        & pl["somatic_diseases"].astype(str).str.startswith("0-") \
        & ~pl["psychiatric"].astype(str).str.lower().isin(["true", "1"]) \
        & ~pl["cancer"].astype(str).str.lower().isin(["true", "1"])
    return pl[m]


def price_list_age_sex(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 4: the weight of each age band x sex with no add-on (before the life-expectancy factor)."""
    pl = t["weights_by_cell"]
    cfg: ModelConfig = t["config"]
    base = base_cells(pl)
    wide = base.pivot_table(index="age_band", columns="sex", values="normalised_weight", aggfunc="first")
    order = cfg.age_band_labels()
    wide = wide.reindex([a for a in order if a in wide.index])
    wide.columns = [str(c).capitalize() for c in wide.columns]
    wide.index.name = "Age band"
    return wide


def addon_weights(t: Mapping[str, Any], variant: str | None = None) -> pd.DataFrame:
    """Section 4: what each characteristic adds to a citizen's weight (coefficient / mean predicted use)."""
    cfg: ModelConfig = t["config"]
    variant = variant or t["manifest"].get("variant", "base")
    co = t["coefficients"]
    co = co[co["variant"] == variant]
    pl = t["weights_by_cell"]
    row = pl.iloc[0]
    mean_use = float(row["predicted_use"] / row["normalised_weight"])
    skip = set(age_sex_term_names(cfg)) | {"Intercept"}
    addon = co[~co["term"].isin(skip)]
    return pd.DataFrame({
        "Characteristic": addon["term"].map(describe_term),
        "Term": addon["term"],
        "Extra use (DKK a year)": addon["estimate"],
        "Extra weight": addon["estimate"] / mean_use,
    }).reset_index(drop=True)


_TERM_TEXT = {
    "origin_menapt": "Immigrant or descendant from a MENAPT country",
    "widowed_divorced": "Widowed or divorced",
    "single": "Single (unmarried)",
    "labour_temporarily_outside": "Temporarily outside the labour market (16-67)",
    "labour_permanently_outside": "Permanently outside the labour market (16-67)",
    "psychiatric": "Selected psychiatric disease (incl. dementia)",
    "psychiatric_extended": "Psychiatric disease, extended scope",
    "cancer_5y": "Cancer within the last 5 years",
    "cancer_10y": "Cancer within the last 10 years",
    "Intercept": "Reference person (constant)",
}


_TERM_TEXT_DA = {
    "origin_menapt": "Indvandrer eller efterkommer fra et MENAPT-land",
    "widowed_divorced": "Enke(mand) eller fraskilt",
    "single": "Ugift",
    "labour_temporarily_outside": "Midlertidigt uden for arbejdsmarkedet (16-67)",
    "labour_permanently_outside": "Varigt uden for arbejdsmarkedet (16-67)",
    "psychiatric": "Udvalgt psykisk sygdom (inkl. demens)",
    "psychiatric_extended": "Psykisk sygdom, udvidet afgrænsning",
    "cancer_5y": "Kræft inden for de seneste 5 år",
    "cancer_10y": "Kræft inden for de seneste 10 år",
    "Intercept": "Referenceperson (konstant)",
}


def describe_term(term: str, lang: str = "en") -> str:
    """Plain-language label of a regression term (``lang`` "en" or "da")."""
    da = lang == "da"
    table = _TERM_TEXT_DA if da else _TERM_TEXT
    if term in table:
        return table[term]
    m = re.match(r"^somatic_(\d+)(plus|-\d+)?$", term)
    if m:
        lo, rest = m.group(1), m.group(2) or ""
        more = " eller flere" if da else " or more"
        n = f"{lo}{more}" if rest == "plus" else (f"{lo}{rest}" if rest else lo)
        return f"{n} udvalgte kroniske somatiske sygdomme" if da else f"{n} selected chronic somatic diseases"
    m = re.match(r"^(male|female|age)_(.+)$", term)
    if m:
        if da:
            return {"male": "Mænd", "female": "Kvinder", "age": "Alle"}[m.group(1)] + f" på {m.group(2)} år"
        who = {"male": "Men", "female": "Women", "age": "Everyone"}[m.group(1)]
        return f"{who} aged {m.group(2)}"
    if term.startswith("origin_"):
        return ("Herkomst: " if da else "Origin: ") + term.removeprefix("origin_").replace("_", " ")
    return term.replace("_", " ")


def capacity_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: per health council, the chain weighted citizens -> need -> floor -> capacities -> headroom."""
    hc = t["capacity_by_health_council"]
    return pd.DataFrame({
        "Health council": hc["health_council"],
        "Weighted citizens": hc["weighted_citizens"],
        "Need (exact)": hc["need_exact"],
        "Area floor": hc["area_floor"],
        "Municipalities where floor binds": hc["municipalities_floor_binds"].astype(int),
        "Capacities (exact)": hc["capacities_exact"],
        "Capacities": hc["capacities"].astype(int),
        "Allocated": hc["allocated"],
        "Island doctors left out": hc["island_excluded"],
        "Headroom": hc["headroom"],
    })


def municipality_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: the indicative numbers per municipality (not binding)."""
    bm = t["capacity_by_municipality"]
    return pd.DataFrame({
        "Municipality": bm["name"], "Health council": bm["health_council"],
        "Citizens (group 1)": bm["citizens"], "Projected population": bm["population_end_of_year"],
        "Mean weight": bm["mean_weight"] if "mean_weight" in bm else np.nan,
        "Weighted citizens": bm["weighted_citizens"], "Need": bm["need"],
        "Area km²": bm["area_km2"], "Area floor": bm["area_floor"],
        "Floor binds": bm["floor_binds"].astype(str).str.lower().isin(["true", "1"]),
        "Indicative capacities": bm["indicative"],
    }).sort_values(["Health council", "Municipality"]).reset_index(drop=True)


def island_doctors_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: island-doctor clinics left out of the counted allocation, per health council.

    Their listed patients read ``x`` where one of the clinics has 1-4 (its
    sheet says ``<5``; the sum minus the other sheets would name it).
    """
    ct = t["clinic_minimums"]
    isl = ct[ct["island_excluded"].astype(str).str.lower().isin(["true", "1"])].copy()
    k = t["config"].min_cell_size
    # the source of each deduction: a region's annex-2 report (R§3), or the clinic register as fallback
    src = isl["island_source"].fillna("").astype(str) if "island_source" in isl else pd.Series("", index=isl.index)
    isl["source"] = np.where(src.str.startswith("annex 2"), "Annex 2: " + src.str.removeprefix("annex 2: "),
                             "Clinic register (no report)")
    g = isl.groupby(["health_council", "source"]).agg(
        clinics=("clinic_id", "size"), capacities=("capacities", "sum"), patients=("listed_patients", "sum"),
        few=("listed_patients", lambda s: bool(((s > 0) & (s < k)).any())))
    g = g.reset_index()
    # the sheets print each island clinic's listed count (or <5): a sum with a small one in it would give it away
    g["patients"] = g["patients"].astype(object).where(~g.pop("few"), HIDDEN)
    return g.rename(columns={"health_council": "Health council", "source": "Source of the deduction",
                             "clinics": "Island clinics left out", "capacities": "Their capacities",
                             "patients": "Their listed patients"})


def clinic_minimum_summary(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 6: clinic minimum numbers per capacity, per health council (quartiles)."""
    ct = t["clinic_minimums"]
    c = ct[ct["capacities"] > 0].assign(per_cap=lambda d: d["minimum_patients"] / d["capacities"])
    g = c.groupby("health_council")["per_cap"]
    out = pd.DataFrame({
        "Clinics": g.size(), "Lowest": g.min(), "Lower quartile": g.quantile(0.25), "Median": g.median(),
        "Upper quartile": g.quantile(0.75), "Highest": g.max(),
    }).reset_index().rename(columns={"health_council": "Health council"})
    return out


def clinic_extremes(t: Mapping[str, Any], n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Section 6: the ``n`` heaviest and lightest clinics by own patients (at least k listed patients).

    Only clinics whose mean weight rests on at least ``min_cell_size``
    listed patients are eligible, so every figure has at least 5 persons behind it.
    """
    cfg: ModelConfig = t["config"]
    ct = t["clinic_minimums"]
    own = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= cfg.min_cell_size)]
    cols = {"clinic_id": "Clinic", "health_council": "Health council", "practice_form": "Practice form",
            "listed_patients": "Listed patients", "mean_weight": "Mean weight", "capacities": "Capacities",
            "minimum_patients": "Minimum patient number"}
    heavy = own.sort_values(["mean_weight", "clinic_id"], ascending=[False, True]).head(n)[list(cols)].rename(columns=cols)
    light = own.sort_values(["mean_weight", "clinic_id"], ascending=[True, True]).head(n)[list(cols)].rename(columns=cols)
    return heavy.reset_index(drop=True), light.reset_index(drop=True)


def clinic_term_shares(t: Mapping[str, Any]) -> pd.DataFrame | None:
    """Listed patients per clinic and term, with the reference age-sex group filled in (wide).

    From ``clinic_profiles`` (long: clinic_id, term, patients, coefficient,
    contribution; ``Intercept`` counts all listed patients).  Out: one row
    per clinic, one column per term of the design (the reference group's
    patients are the listed patients not in another age-sex group), plus
    ``listed``.  None when the run has no ``clinic_profiles``.
    """
    prof = t.get(CLINIC_PROFILES)
    if prof is None:
        return None
    cfg: ModelConfig = t["config"]
    wide = prof.pivot_table(index="clinic_id", columns="term", values="patients", aggfunc="sum", fill_value=0)
    listed = wide["Intercept"] if "Intercept" in wide else wide.sum(axis=1)
    ref = reference_term(cfg)
    agesex = [x for x in age_sex_term_names(cfg) if x != ref]
    wide[ref] = listed - wide.reindex(columns=agesex, fill_value=0).sum(axis=1)
    wide = wide.drop(columns=["Intercept"], errors="ignore")
    wide.insert(0, "listed", listed)
    return wide


def profile_comparison(t: Mapping[str, Any], share: float = 0.1) -> pd.DataFrame | None:
    """Section 6: patient mix of the heaviest and lightest tenth of clinics vs all clinics.

    Per cent of listed patients in each age band (both sexes) and with each
    characteristic, summed over all the clinics of each group; a share that
    rests on 1-4 patients is shown as ``<5 patients``.  Column headers carry
    the number of clinics and of listed patients.  None when the run has no
    ``clinic_profiles``.
    """
    w = clinic_term_shares(t)
    if w is None:
        return None
    cfg: ModelConfig = t["config"]
    k = cfg.min_cell_size
    ct = t["clinic_minimums"]
    own = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0)].sort_values(["mean_weight", "clinic_id"])
    n = max(1, int(round(len(own) * share)))
    groups = {"Lightest tenth": list(own["clinic_id"].head(n)), "Heaviest tenth": list(own["clinic_id"].tail(n)),
              "All clinics": list(own["clinic_id"])}
    agesex = age_sex_term_names(cfg)
    rows: dict[str, dict[str, Any]] = {}
    for label, ids in groups.items():
        sub = w.reindex(ids).fillna(0).sum()
        total = float(sub["listed"])
        counts: dict[str, float] = {}
        for band in cfg.age_band_labels():
            counts[f"Aged {band}"] = float(sub.reindex([x for x in agesex if x.endswith("_" + band)]).fillna(0).sum())
        for term in w.columns:
            if term != "listed" and term not in agesex:
                counts[describe_term(term)] = float(sub[term])
        head = f"{label} (%; {len(ids):,} clinics, {total:,.0f} patients)" if total >= k else f"{label} (%; {len(ids):,} clinics)"
        rows[head] = {key: (f"<{k} patients" if 0 < c < k else (100 * c / total if total else np.nan))
                      for key, c in counts.items()}
    df = pd.DataFrame(rows)
    df.index.name = "Share of listed patients (%)"
    return df


def _choice_values(cfg: ModelConfig) -> dict[str, str]:
    """The settings the assumptions log's texts name, formatted (they follow the run, never a stale default)."""
    km2 = cfg.km2_per_capacity
    return {"cpc": f"{cfg.citizens_per_capacity:,.0f}", "km2": "no" if km2 is None else f"{km2:,g}",
            "island": f"{cfg.island_min_patients:,}", "step": f"{cfg.clinic_rounding_step:,}",
            "rounding": "up" if cfg.rounding == "up" else "to the nearest whole number"}


def assumptions_table(config: ModelConfig | None = None) -> pd.DataFrame:
    """Section 9: every design choice of the method (docs/method.md), the field that changes it, its value and effect."""
    cfg = config or ModelConfig()
    rows = []
    for a in ASSUMPTIONS:
        fields = a["fields"]
        val = "; ".join(f"{f} = {getattr(cfg, f)!r}" for f in fields) if fields else "(fixed in code)"
        rows.append({"Choice": a["choice"].format(**_choice_values(cfg)), "Source": a["source"],
                     "Setting (ModelConfig field = value)": val,
                     "What it does to the results": a["effect"]})
    return pd.DataFrame(rows)


#: The assumptions-and-caveats log: each design choice of the method (docs/method.md), who can change it, and its effect.
ASSUMPTIONS: tuple[dict[str, Any], ...] = (
    {"choice": "Only citizens in health-insurance group 1 count: weighted citizens of a municipality = mean weight "
               "of its group-1 citizens x projected end-of-year population x its group-1 share of residents",
     "source": "§4.6.2, §4.2.2", "fields": ["insurance_group"],
     "effect": "Group-2 citizens are neither in the fit nor in the weighted citizens; if group 2 is abolished, "
               "the share becomes 1 and the change flows in by itself."},
    {"choice": "Group-1 citizens with no clinic on record count in the fit and the need, not in clinic figures",
     "source": "§4.6.3 (residence municipality), design choice", "fields": [],
     "effect": "They are residents; the data checks count them per municipality."},
    {"choice": "Chronic-care fee: the lump sum is not use; the contacts it replaces are imputed as the mean "
               "contact-service fee of comparable citizens without it (same age band, sex, somatic group 0-1/2/3+)",
     "source": "§4.4.3 (assumption of SDS), design choice (reading)",
     "fields": ["chronic_fee_treatment", "chronic_impute_by", "chronic_fee_share"],
     "effect": "Counting the lump sum in full or in part, or imputing from the national average, are "
               "sensitivity variants."},
    {"choice": "The estimation sample is the residents at the end of the year, each counted as a full year",
     "source": "§4.4.3, design choice", "fields": ["person_year_weights"],
     "effect": "Those who died or emigrated in the year drop out; newborns and arrivals count a full year. "
               "With days_resident, the person-year weighted fit (use per year at risk) is a variant."},
    {"choice": "Locally agreed services kept in the fee", "source": "Region Sjælland agreement (ultrasound 4350-4360)",
     "fields": ["exclude_local_services"],
     "effect": "Leaving them out lowers recorded use in the 12 municipalities that pay for them."},
    {"choice": "Fit without patients of regional and tender clinics", "source": "§4.4.3",
     "fields": ["excluded_practice_forms"],
     "effect": "Their registration practice differs; both fits are shown side by side in section 3."},
    {"choice": "Age bands 0-2, 3-5, 6-15, 10-year bands, 85+, fully crossed with sex", "source": "design choice",
     "fields": ["age_bands", "reference_age_band", "include_sex"],
     "effect": "Finer bands follow use more closely; without sex women and men weigh the same."},
    {"choice": "Origin: MENAPT immigrants and descendants only", "source": "§4.4.2.1", "fields": ["origin_terms"],
     "effect": "Other origins weigh as Danish origin."},
    {"choice": "Civil status: widowed or divorced, same effect at every age", "source": "§4.4.2.1",
     "fields": ["civil_status_codes", "civil_status_by_age"],
     "effect": "Alternatives (single, single x age) are sensitivity variants."},
    {"choice": "Labour-market terms for ages 16-67 (state pension age)", "source": "§4.4.2.2",
     "fields": ["labour_age_min", "labour_age_max"],
     "effect": "A wider range gives weight to older citizens outside the labour market."},
    {"choice": "Somatic chronic diseases counted; one disease weighs as none", "source": "§4.4.2.3",
     "fields": ["somatic_bins"], "effect": "Finer counts give more weight differences among the chronically ill."},
    {"choice": "Psychiatric diseases incl. dementia (ICD-10 chapter F, selected)", "source": "§4.4.2.3",
     "fields": ["psychiatric_column"], "effect": "The extended scope adds F21-F29 and F60-F69."},
    {"choice": "Cancer within the last 5 years", "source": "§4.4.2.3", "fields": ["cancer_column"],
     "effect": "A 10-year window counts more survivors with lower extra use."},
    {"choice": "Heteroskedasticity-robust (HC1) standard errors; no clinic fixed effects", "source": "design choice",
     "fields": ["cov_type", "clinic_fixed_effects"],
     "effect": "Changes the confidence intervals only, not the weights (fixed effects would change them)."},
    {"choice": "Weights normalised so that the average citizen weighs 1 after the life-expectancy correction",
     "source": "design choice", "fields": ["normalise_weights"],
     "effect": "The correction moves weight between areas without changing the national total; without "
               "normalising, it may raise or lower the national number of capacities."},
    {"choice": "Life-expectancy factor = national / municipal life expectancy at birth", "source": "§4.4.2.4, design choice",
     "fields": ["life_expectancy_correction", "life_expectancy_column"],
     "effect": "Citizens in municipalities with lower life expectancy weigh more."},
    {"choice": "Municipalities without a life-expectancy figure take their health council's figure",
     "source": "design choice", "fields": [],
     "effect": "Affects Ærø, Fanø, Samsø and Læsø (see section 2)."},
    {"choice": "Need uses the expected population at the end of the planning year", "source": "§4.2.2",
     "fields": ["planning_year"], "effect": "Growing areas get capacity ahead of their growth."},
    {"choice": "One capacity per {cpc} disease-weighted citizens", "source": "§4.6.4",
     "fields": ["citizens_per_capacity"], "effect": "Fixed by the executive order."},
    {"choice": "Health-council capacities rounded {rounding} (with a tiny tolerance)", "source": "§4.6.4",
     "fields": ["rounding", "rounding_tolerance"], "effect": "Rounding to nearest gives up to one capacity less per council."},
    {"choice": "Area floor of one capacity per {km2} km², applied per municipality, on Statistics Denmark's "
               "official areas (ARE207)", "source": "§4.2.2, §4.5.3, design choice (reading)",
     "fields": ["km2_per_capacity"],
     "effect": "Raises the number in large, thinly populated municipalities (e.g. Tønder, 1,281.8 km²)."},
    {"choice": "Island doctors with fewer than {island} listed patients left out of the counted allocation, from the "
               "regions' annex-2 reports (valid from the report date and one year on); the clinic register's "
               "island flag with the listed count where no report covers a clinic",
     "source": "§4.2.4, R§3", "fields": ["island_min_patients"],
     "effect": "Raises the headroom where they are; each deduction names its source."},
    {"choice": "Clinic minimum = capacities x {cpc} / mean weight of listed patients, rounded to the nearest {step}",
     "source": "§4.3.1, §4.3.9, design choice (formula, step)", "fields": ["clinic_rounding_step", "clinic_cap"],
     "effect": "Heavier patients give a lower number; the step keeps small changes from moving it."},
    {"choice": "A split clinic uses its parent's calculation while it has no full year of its own listed patients "
               "(opened after 1 January of the data year); a clinic with no listed patients uses its area's need "
               "(its municipality's mean weight)",
     "source": "§4.3.7, design choice", "fields": [], "effect": "Only clinics new in the year are affected; the "
               "clinic sheet says which case applied."},
    {"choice": "Capacity reports read as the guidance prints them (annex 2's repeated heading accepted); a late "
               "report is kept and flagged, not dropped", "source": "R§1-R§3", "fields": [],
     "effect": "No region's figures are lost to the template's layout or a late submission."},
    {"choice": "Disclosure control: no count below 5 shown", "source": "design choice", "fields": ["min_cell_size"],
     "effect": "Small groups are shown as <5 and their figures blanked; no person-level data leaves the run."},
)


def compare_runs(t: Mapping[str, Any], prev: Mapping[str, Any]) -> dict[str, Any]:
    """Section 8: what changed since the previous run.

    Out: ``capacities`` (per health council, both runs and the change),
    ``clinics`` (how many minimum numbers moved up, down or not),
    ``clinic_moves`` (the ten clinics whose number moved most), ``config``
    (settings that changed, from the two manifests) and ``years``.
    Columns say "previous" and "now" with the years, so two runs of the
    same year compare too.
    """
    y1, y0 = t["config"].year, prev["config"].year
    was, now = f"previous ({y0})", f"now ({y1})"
    a, b = t["capacity_by_health_council"], prev["capacity_by_health_council"]
    cap = a[["health_council", "capacities", "headroom"]].merge(
        b[["health_council", "capacities", "headroom"]], on="health_council", how="outer", suffixes=("", "_prev"))
    cap = pd.DataFrame({
        "Health council": cap["health_council"],
        f"Capacities, {was}": cap["capacities_prev"], f"Capacities, {now}": cap["capacities"],
        "Change": cap["capacities"] - cap["capacities_prev"],
        f"Headroom, {was}": cap["headroom_prev"], f"Headroom, {now}": cap["headroom"],
    })
    ca, cb = t["clinic_minimums"], prev["clinic_minimums"]
    m = ca[["clinic_id", "health_council", "minimum_patients"]].merge(
        cb[["clinic_id", "minimum_patients"]], on="clinic_id", how="outer", suffixes=("", "_prev"), indicator=True)
    both = m[m["_merge"] == "both"].copy()
    both["change"] = both["minimum_patients"] - both["minimum_patients_prev"]
    clinics = pd.DataFrame([
        {"What": "Clinics in both runs", "Clinics": int(len(both))},
        {"What": "Minimum number unchanged", "Clinics": int((both["change"] == 0).sum())},
        {"What": "Minimum number up", "Clinics": int((both["change"] > 0).sum())},
        {"What": "Minimum number down", "Clinics": int((both["change"] < 0).sum())},
        {"What": "New clinics (not in the previous run)", "Clinics": int((m["_merge"] == "left_only").sum())},
        {"What": "Clinics gone (not in this run)", "Clinics": int((m["_merge"] == "right_only").sum())},
    ])
    moved = both[both["change"] != 0]
    moved = moved.reindex(moved["change"].abs().sort_values(ascending=False, kind="stable").index).head(10)
    moves = pd.DataFrame({
        "Clinic": moved["clinic_id"], "Health council": moved["health_council"],
        f"Minimum, {was}": moved["minimum_patients_prev"], f"Minimum, {now}": moved["minimum_patients"],
        "Change": moved["change"],
    })
    ca_cfg, cb_cfg = t["manifest"].get("config", {}), prev["manifest"].get("config", {})
    keys = sorted(set(ca_cfg) | set(cb_cfg))
    conf = pd.DataFrame([
        {"Setting": k, was.capitalize(): json.dumps(cb_cfg.get(k)), now.capitalize(): json.dumps(ca_cfg.get(k))}
        for k in keys if ca_cfg.get(k) != cb_cfg.get(k) and k not in ("year", "planning_year")
    ], columns=["Setting", was.capitalize(), now.capitalize()])
    return {"capacities": cap, "clinics": clinics, "clinic_moves": moves.reset_index(drop=True), "config": conf,
            "years": (y0, y1)}


def parameters_table(parameters: Mapping[str, Any]) -> pd.DataFrame:
    """A notebook's parameters as a two-column table (values as JSON, so '' and None show)."""
    return pd.DataFrame([{"Parameter": k, "Value": json.dumps(v, default=str)} for k, v in parameters.items()])


def provenance_tables(t: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Section 10: inputs with hashes, configuration, versions and commit from the run's manifest."""
    m = t["manifest"]
    inputs = pd.DataFrame([{"Input file": k, "SHA-256": v} for k, v in sorted(m.get("inputs", {}).items())])
    config = pd.DataFrame([{"Setting": k, "Value": json.dumps(v)} for k, v in m.get("config", {}).items()])
    versions = pd.DataFrame([{"Package": k, "Version": v} for k, v in sorted(m.get("versions", {}).items())])
    run = pd.DataFrame([{"Item": "Command", "Value": m.get("command", "")},
                        {"Item": "Variant", "Value": m.get("variant", "")},
                        {"Item": "Code commit", "Value": m.get("commit") or "(not in a git checkout)"}])
    return {"run": run, "inputs": inputs, "config": config, "versions": versions}


def uncertainty_table(stab: Mapping[str, pd.DataFrame] | None, year: int) -> pd.DataFrame | None:
    """Section 1: how sure each health council's rounded number is, from the cluster bootstrap of the stability run.

    Out: per health council the binding number, the bootstrap's interval of the rounded number (its
    ``confidence`` level, e.g. 95 %), the share of draws whose rounded number equals this run's (1 - the
    chance that it differs) and whether headroom could change sign. None when no bootstrap ran.
    The interval covers the coefficients' sampling error only, not changes from year to year.
    """
    if stab is None or "bootstrap_health_council" not in stab:
        return None
    b = stab["bootstrap_health_council"]
    b = b[b["year"] == int(year)] if "year" in b.columns else b
    if not len(b):
        return None
    level = f"{100 * float(b['confidence'].iloc[0]):.0f}" if "confidence" in b.columns else "95"
    out = pd.DataFrame({
        "Health council": b["health_council"].to_numpy(),
        "Capacities": b["capacities"].astype(int).to_numpy(),
        f"Capacities, {level}% interval": [f"{int(lo)}-{int(hi)}" for lo, hi in
                                            zip(b["capacities_ci_low"], b["capacities_ci_high"])],
        "Rounded number as here (share of draws)": (1.0 - b["prob_rounded_differs"].astype(float)).to_numpy(),
        "Headroom": b["headroom"].to_numpy(),
        "Headroom could change sign": (b["prob_headroom_sign_differs"].astype(float) > 0).to_numpy(),
    })
    return out.sort_values("Health council").reset_index(drop=True)


#: Readable labels of result-table columns the appendices show (others: underscores to spaces, first letter upper).
READABLE_COLUMNS = {
    "term": "Characteristic", "health_council": "Health council", "area_code": "Area", "year_from": "From year",
    "year_to": "To year", "capacities_from": "Capacities (from)", "capacities_to": "Capacities (to)",
    "change_exact": "Change (exact)", "change_due_to_coefficients": "… due to coefficients",
    "change_due_to_population": "… due to population", "change_interaction": "… interaction",
    "reallocation_share": "Capacity moved (share)", "reallocation_coefficients": "… due to coefficients (share)",
    "reallocation_population": "… due to population (share)", "municipality_code": "Municipality code",
    "clinic_id": "Clinic", "ci_low": "95% CI low", "ci_high": "95% CI high", "boot_se": "Bootstrap s.e.",
    "prob_rounded_differs": "Chance the rounded number differs", "std_err": "Std. error", "estimate": "Estimate",
}


def readable_table(df: pd.DataFrame) -> pd.DataFrame:
    """A result table for a reader: regression terms as words (:func:`describe_term`), column names as labels.

    In: a table of the run folder (snake_case columns, a ``term`` column of variable names). Out: the
    same rows with readable column labels (:data:`READABLE_COLUMNS`, else underscores to spaces) and
    terms described ("Men aged 0-2" for ``male_0-2``).
    """
    out = df.copy()
    for c in out.columns:
        if isinstance(c, str) and c.lower() in ("term", "characteristic") and out[c].dtype == object:
            out[c] = out[c].map(lambda v: describe_term(v) if isinstance(v, str) else v)
    return out.rename(columns={c: READABLE_COLUMNS.get(c, c.replace("_", " ").capitalize() if c.islower() else c)
                               for c in out.columns if isinstance(c, str)})


def supply_bands_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 9: the supply ratio per health council (counted allocation over the model's capacities) in the bands
    of ``ModelConfig.supply_band_edges`` (under 75 %, 75-100 %, 100-110 %, over 110 %).

    The ratio reads capacity as German and Norwegian planners do: under 100 % the council has fewer capacities
    allocated than the model's number (room for new capacity), over 100 % more.
    """
    from model.analyses.supply import supply_band  # the band rule lives with the supply analyses

    hc = t["capacity_by_health_council"]
    cfg: ModelConfig = t["config"]
    ratio = hc["counted_allocation"].astype(float) / hc["capacities"].astype(float)
    return pd.DataFrame({
        "Health council": hc["health_council"],
        "Capacities (model)": hc["capacities"].astype(int),
        "Allocated today (counted)": hc["counted_allocation"],
        "Supply ratio (%)": 100 * ratio,
        "Band": supply_band(ratio.to_numpy(), tuple(cfg.supply_band_edges)),
    })
