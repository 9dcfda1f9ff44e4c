"""The calibration table of ``synthetic_manifest.json``: public figure, source, target and achieved value.

:func:`calibration_table` compares the latest panel year's citizens with the
public figures the generator is calibrated to: the municipal age structure
(``municipal_age_structure.csv``), the official figures of the ministry's
draft model (health council Hovedstaden's 449.2 capacities, Aabenraa's 1,450
patients per capacity, Sønderjylland's area floor), listing (regional and
tender clinics by region, list sizes by region, island doctors) and a few
national figures.  "Achieved" is measured on the data; the mean weights use
the *true* expected use (the data-generating process), times the model's
life-expectancy factor, so they are what a perfect fit of the base model
would give (the test ``tests/inputs/test_synthetic_calibration.py`` checks
the package's own fit).  Counts are at national scale (the sample's counts
scaled up).  No random draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.inputs import reference
from model.inputs.synthetic.clinics import ISLAND_CLINICS, _open_mask
from model.inputs.synthetic.population import _NATIONAL_65PLUS_PCT, _REGION_ORDER, _Context
from model.inputs.synthetic.truth import NATIONAL_LIFE_EXPECTANCY, NATIONAL_POPULATION

_DST_80PLUS = ("Statistics Denmark, Nyt fra Danmarks Statistik: 59 pct. flere over 80 år i 2030 (2020; "
               "dst.dk/da/Statistik/nyt/NytHtml?cid=30674)")
_MEMO = "Ministry of the Interior and Health, draft distribution model, memo §4.6.4 (449.2 capacities)"
_UGESKRIFT = "Ugeskrift for Læger, 4 June 2025: Aabenraa 1,450 patients per capacity in the draft model"
_CALIB = "Danish Regions (2017 and later reports; list sizes 2014)"
#: Citizens in regional and tender clinics in 2017 (Danish Regions), by region in _REGION_ORDER.
_REGIONAL_2017 = (2_800, 24_000, 10_600, 8_200, 43_700)
#: Average list size per full-time capacity by region, 2014: only the range 1,563-1,714 is published.
_LIST_RANGE_2014 = (1_563, 1_714)


def _pct(num: float, den: float, scale: float = 100.0) -> float | None:
    """``scale * num / den`` rounded to one decimal, None (JSON null) when ``den`` is 0 (tiny samples)."""
    return round(scale * float(num) / float(den), 1) if den else None


def _row(figure: str, source: str, target: Any, achieved: Any, status: str) -> dict[str, Any]:
    """One row: ``status`` is "sourced" (the target is a published figure), "derived" or "assumed"."""
    return {"figure": figure, "source": source, "target": target, "achieved": achieved, "status": status}


def _true_weights(ctx: _Context, latest: dict[str, np.ndarray]) -> np.ndarray:
    """Mean true weight per municipality (group 1): mean true use over the national mean, times the
    life-expectancy factor (national over municipal life expectancy)."""
    g1 = latest["insurance"] == 1
    muni, mu = latest["muni"][g1], latest["mu"][g1]
    n = np.bincount(muni, minlength=len(ctx.codes))
    s = np.bincount(muni, weights=mu, minlength=len(ctx.codes))
    mean = np.divide(s, n, out=np.full(len(n), np.nan), where=n > 0) / mu.mean()
    return mean * NATIONAL_LIFE_EXPECTANCY / ctx.le


def _age_rows(ctx: _Context, latest: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Old-age index, 65+ and 80+ shares of the municipalities with published figures (and Sønderjylland's)."""
    a = reference.municipal_age_structure().set_index("municipality_code")
    age, muni = latest["age"], latest["muni"]
    n = np.bincount(muni, minlength=len(ctx.codes)).astype(float)
    young = np.bincount(muni[age < 15], minlength=len(n))
    old = np.bincount(muni[age >= 65], minlength=len(n))
    old80 = np.bincount(muni[age >= 80], minlength=len(n))
    code_idx = {c: i for i, c in enumerate(ctx.codes)}
    rows = []
    for code in ("101", "147", "400", "751", "223", "741", "825", "492", "306", "580", "540", "550", "510"):
        i = code_idx[code]
        name = ctx.names[i]
        src = a.at[code, "old_age_index_source"]
        if a.at[code, "old_age_index_level"] == "municipality":
            rows.append(_row(f"{name}: old-age index (65+ per 100 aged 0-14)", src,
                             float(a.at[code, "old_age_index"]), _pct(old[i], young[i]), "sourced"))
        else:
            rows.append(_row(f"{name}: old-age index (65+ per 100 aged 0-14)",
                             f"derived from {a.at[code, 'landsdel']}'s {a.at[code, 'old_age_index']:.1f} ({src}) "
                             "and rurality", round(float(ctx.old_age_index[i]), 1),
                             _pct(old[i], young[i]), "derived"))
        pub = a.at[code, "share_65plus_pct"]
        share = _pct(old[i], n[i])
        if not np.isnan(pub):
            year = int(a.at[code, "share_65plus_year"])
            rows.append(_row(f"{name}: share aged 65+ (%), {pub:.1f} in {year}",
                             a.at[code, "share_65plus_source"] + ", aged to 2025 by the national ratio",
                             round(float(100 * ctx.share65[i]), 1), share, "sourced"))
        else:
            rows.append(_row(f"{name}: share aged 65+ (%)", "derived (15-64 share from rurality, split by the index)",
                             round(float(100 * ctx.share65[i]), 1), share, "derived"))
        if code == "101":
            rows.append(_row("København: share aged 80+ (%), 2.1 in 2020", _DST_80PLUS, 2.1,
                             _pct(old80[i], n[i]), "sourced"))
        if code in ("825", "492"):
            rows.append(_row(f"{name}: share aged 80+ (%), 9.6 in 2020", _DST_80PLUS, 9.6,
                             _pct(old80[i], n[i]), "sourced"))
    rows.append(_row("Denmark: share aged 65+ (%)", "Statistics Denmark FOLK1A, 1 January 2025",
                     _NATIONAL_65PLUS_PCT[2025], round(100 * float((age >= 65).mean()), 1), "sourced"))
    rows.append(_row("Denmark: share aged 80+ (%)", "Statistics Denmark FOLK1A, 1 January 2025", 5.7,
                     round(100 * float((age >= 80).mean()), 1), "sourced"))
    return rows


def _official_rows(ctx: _Context, plan: pd.DataFrame, latest: dict[str, np.ndarray],
                   listed_scaled: np.ndarray, last: int) -> list[dict[str, Any]]:
    """The draft model's official figures: mean weights of Hovedstaden and Aabenraa, Sønderjylland's floor."""
    cfg = ModelConfig()
    m = reference.municipalities()
    council = m["sundhedsraad"].to_numpy(dtype=object)
    w = _true_weights(ctx, latest)
    pop = ctx.pop
    hov = council == "Hovedstaden"
    aab = ctx.codes == "580"
    ok = hov & ~np.isnan(w)
    hov_w = round(float(np.average(w[ok], weights=pop[ok])), 3) if ok.any() else None
    rows = [
        _row("Health council Hovedstaden: mean weight (449.2 capacities x 1,600 / 816,500 residents)", _MEMO,
             0.88, hov_w, "sourced"),
        _row("Aabenraa: mean weight (1,600 / 1,450 patients per capacity)", _UGESKRIFT, 1.10,
             None if np.isnan(w[aab][0]) else round(float(w[aab][0]), 3), "sourced"),
    ]
    need = np.nan_to_num(w, nan=1.0) * pop / cfg.citizens_per_capacity
    floor = m["area_km2"].to_numpy(dtype=float) / cfg.km2_per_capacity
    snj = council == "Sønderjylland"
    open_last = _open_mask(plan, last)
    counted = open_last & ~(plan["island_doctor"].to_numpy() & (listed_scaled < cfg.island_min_patients))
    cap_m = np.bincount(plan["muni"].to_numpy()[counted], weights=plan["capacities"].to_numpy()[counted],
                        minlength=len(pop))
    capacities = float(np.ceil(np.maximum(need, floor)[snj].sum()))
    binds = int((floor > need)[snj].sum())
    rows.append(_row("Sønderjylland: the 35 km² floor binds and leaves room for new capacity", "memo §4.5.3",
                     "floor binds; headroom > 0",
                     f"floor binds in {binds} municipalit{'y' if binds == 1 else 'ies'}; "
                     f"headroom {capacities - cap_m[snj].sum():.0f}",
                     "sourced"))
    return rows


def _listing_rows(ctx: _Context, plan: pd.DataFrame, listed_scaled: np.ndarray, last: int) -> list[dict[str, Any]]:
    """Citizens in regional and tender clinics by region, list size per capacity by region, island doctors."""
    open_last = _open_mask(plan, last)
    region = ctx.region[plan["muni"].to_numpy()]
    rt = plan["practice_form"].isin(["regional", "tender"]).to_numpy()
    total_2017 = sum(_REGIONAL_2017)
    rt_all = float(listed_scaled[rt & open_last].sum())
    rows = [_row("Citizens in regional and tender clinics, Denmark", _CALIB + ": about 90,000 in 2017, "
                 "over 200,000 in later reports", "over 200,000", int(round(rt_all, -2)), "sourced")]
    caps = plan["capacities"].to_numpy()
    for r, name in enumerate(_REGION_ORDER):
        sel = rt & open_last & (region == r)
        target = int(round(_REGIONAL_2017[r] / total_2017 * rt_all, -2))
        rows.append(_row(f"Citizens in regional and tender clinics, {name}",
                         f"{_CALIB}: {_REGIONAL_2017[r]:,} of {total_2017:,} in 2017 (share applied to today's total)",
                         target, int(round(float(listed_scaled[sel].sum()), -2)), "derived"))
    for r, name in enumerate(_REGION_ORDER):
        sel = open_last & (region == r)
        lpc = float(listed_scaled[sel].sum() / caps[sel].sum())
        rows.append(_row(f"Listed citizens per capacity, {name}", f"{_CALIB}: regions 1,563-1,714 in 2014",
                         f"{_LIST_RANGE_2014[0]:,}-{_LIST_RANGE_2014[1]:,}", int(round(lpc)), "sourced"))
    isl = plan["island_doctor"].to_numpy() & open_last
    names = ", ".join(island for island, *_ in ISLAND_CLINICS)
    rows.append(_row("Island doctors on the real small islands", _CALIB + " (Region Sjælland's eight small islands; "
                     "Anholt has a resident doctor)", "islands with a resident doctor",
                     f"{int(isl.sum())}: {names}", "assumed"))
    return rows


def _national_rows(latest: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """National figures: origin, chronic disease, no use."""
    a = latest["age"]
    scale = NATIONAL_POPULATION / len(a)
    return [
        _row("MENAPT origin (%)", "Ministry of Immigration and Integration; Statistics Denmark (2025)", 5.1,
             round(100 * float((latest["origin"] == 1).mean()), 1), "sourced"),
        _row("Citizens with a selected chronic somatic disease", "Health Data Authority (2023): about 1 million", 1_000_000,
             int(round(float((latest["somatic"] >= 1).sum()) * scale, -3)), "sourced"),
        _row("Share of those aged 80+ with a selected chronic disease (%)", "Health Data Authority (2023): half", 50.0,
             _pct((latest["somatic"][a >= 80] >= 1).sum(), (a >= 80).sum()), "sourced"),
        _row("Share without GP use in the year (%)", "Statistics Denmark SYGP1/FOLK1A (2023/24): about 15", 15.0,
             round(100 * float(latest["zero"].mean()), 1), "sourced"),
    ]


def calibration_table(ctx: _Context, plan: pd.DataFrame, latest: dict[str, np.ndarray], listed_scaled: np.ndarray,
                      last: int) -> list[dict[str, Any]]:
    """The calibration table: a list of rows ``figure``, ``source``, ``target``, ``achieved``, ``status``.

    In: the context, the clinic plan, the latest year's citizens (``age``,
    ``muni``, ``mu`` true expected use, ``insurance``, ``origin``, ``somatic``,
    ``zero`` no use), listed patients per plan row at national scale and the
    latest year.  ``status``: "sourced" (the target is a published figure, or
    arithmetic on one), "derived" (the target is derived under a stated
    rule) or "assumed".
    """
    return (_official_rows(ctx, plan, latest, listed_scaled, last) + _age_rows(ctx, latest)
            + _listing_rows(ctx, plan, listed_scaled, last) + _national_rows(latest))
