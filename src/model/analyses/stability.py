"""Stability across years (docs/method.md step 7), the cluster bootstrap, and the fast model chain.

The ministry's answer to a consultation objection is a number: how much the
result moves.  This module refits the model on every year of a panel (fees
brought to the latest year's price level with ``fee_index.csv``) and reports
how coefficients, capacities per health council, indicative numbers per
municipality and clinic minimum numbers move from one year to the next; how
much capacity would move between health councils and why (new coefficients
or a new population); and how uncertain this year's numbers are (a cluster
bootstrap that resamples clinics).

It also holds the *engine* that :mod:`model.analyses.sensitivity` shares, built so
that every year and every variant runs at national scale in seconds:

1. **Reading** (:class:`Panel`, :func:`read_year`): each year's persons are
   read once, straight from parquet into small integer arrays (group 1
   only).  Persons with identical raw characteristics (age in years, sex,
   civil status, origin, labour status, number of somatic diseases,
   psychiatric, extended psychiatric, cancer 5 and 10 years) form an *atom*;
   there are a few hundred thousand atoms against six million persons.
   Per atom and practice form the count and the first and second moments
   of the three fee components are summed once, so the outcome of any
   configuration (share of the chronic-care fee, local services in or out)
   has exact cell sums without touching persons again.
2. **Features** (:func:`features`): a configuration's factors and cell keys
   are computed on the atoms, once per distinct feature configuration.
3. **Fits** (:func:`fit`): exact OLS on cells (:func:`model.core.regression.fit_cells`);
   cells split by clinic (:func:`clinic_cells`) for clustered standard errors,
   clinic fixed effects (:func:`fit_within`) and the bootstrap.
4. **Chain** (:func:`chain`): weights -> capacities -> clinic numbers for any
   coefficient vector, through the same functions as
   :func:`model.analyses.fit.run_model` (:mod:`model.core.weights`,
   :mod:`model.core.capacity`, :mod:`model.core.clinics`), so the base fit reproduces
   the run folder's numbers.
5. **Bootstrap** (:func:`bootstrap`): clinics are resampled by reweighting
   per-clinic sums of X'X and X'y (multinomial clinic counts), and the
   chain is evaluated for all draws at once with matrices of per-(area,
   cell) and per-(clinic, cell) sums of life-expectancy factors.

Outputs of :func:`run_stability` (written by :func:`write_stability` to a
folder with a manifest): ``summary.csv``, ``coefficients_by_year.csv``,
``fit_by_year.csv``, ``capacity_by_year.csv``, ``reallocation.csv``,
``clinic_changes.csv``, ``rounding_step_effect.csv``,
``bootstrap_health_council.csv``, ``bootstrap_clinics.csv``.  Columns are
described in :data:`TABLE_COLUMNS`.  No table holds a count of persons below
``config.min_cell_size``: clinic comparisons and clinic bootstrap rows keep
only clinics with at least that many listed patients.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.bootstrap import BootstrapResult, bootstrap
from model.analyses.panel import Panel
from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file, write_csv
from model.config import ModelConfig, parse_years
from model.core import clinics as cl
from model.core import measures as ms
from model.core.cells import atom_outcome_sums, fit
from model.core.chain import ChainResult, chain, year_config
from model.core.regression import CellOLSResults
from model.errors import ConfigError

# =============================================================================
# Stability across years
# =============================================================================


def reallocation_share(a: np.ndarray, b: np.ndarray) -> float:
    """D = ½ Σ |s_b - s_a| with s the areas' shares: the share of all capacity that would move
    (:func:`model.core.measures.reallocation`; ``a`` and ``b`` are aligned area totals)."""
    return ms.reallocation(a, b)


def _clinic_pairs(a: pd.DataFrame, b: pd.DataFrame, min_listed: int) -> pd.DataFrame:
    """Clinics with a number from their own patients (at least ``min_listed``) in both tables."""
    cols = ["clinic_id", "health_council", "capacities", "listed_patients", "mean_weight", "minimum_patients_exact",
            "minimum_patients"]

    def ok(t):
        return t.loc[(t["weight_source"] == "own_patients") & (t["listed_patients"] >= min_listed), cols]

    return ok(a).merge(ok(b), on="clinic_id", suffixes=("_a", "_b"))


def clinic_change_stats(pairs: pd.DataFrame, step: int | None = None, cap_: float | None = None) -> dict[str, float]:
    """Distribution of the change in clinic minimum numbers between two tables (a -> b).

    With ``step`` the numbers are re-rounded from the exact ones at that step.
    """
    if step is None:
        a = pairs["minimum_patients_a"].to_numpy(dtype=np.float64)
        b = pairs["minimum_patients_b"].to_numpy(dtype=np.float64)
    else:
        a = cl.round_to_step(pairs["minimum_patients_exact_a"].to_numpy(), step).astype(np.float64)
        b = cl.round_to_step(pairs["minimum_patients_exact_b"].to_numpy(), step).astype(np.float64)
        if cap_ is not None:
            a, b = np.minimum(a, cap_), np.minimum(b, cap_)
    d = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(d) / a
    out = {"clinics": int(len(d))}
    if len(d) == 0:
        return out
    q = np.quantile(d, [0.05, 0.25, 0.5, 0.75, 0.95])
    out.update({
        "share_changed": float((d != 0).mean()), "mean_change": float(d.mean()), "mean_abs_change": float(np.abs(d).mean()),
        "p05": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4],
        "share_moved_50": float((np.abs(d) >= 50).mean()), "share_moved_5pct": float((rel >= 0.05).mean()),
    })
    if len(d) > 2:
        from scipy import stats as sstats  # imported when used: scipy.stats takes 0.2 s to import

        out["rank_corr_mean_weight"] = float(sstats.spearmanr(pairs["mean_weight_a"], pairs["mean_weight_b"]).statistic)
    return out


@dataclass
class StabilityResult:
    """Result of :func:`run_stability`: the tables (see :data:`TABLE_COLUMNS`) and run facts."""

    config: ModelConfig
    years: list[int]
    price_year: int
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    facts: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def _coef_rows(year: int, f: CellOLSResults, alpha: float) -> pd.DataFrame:
    sf = f.summary_frame(alpha)
    sf.insert(0, "year", year)
    return sf


def run_stability(data: str | Path | Panel, years: Iterable[int] | None = None, config: ModelConfig | None = None,
                  bootstrap_draws: int = 200, bootstrap_years: Iterable[int] | None = None, seed: int = 20250630,
                  alpha: float = 0.05, rounding_steps: Sequence[int] = (10, 50, 100)) -> StabilityResult:
    """Refit every year of the panel and measure how the results move (docs/method.md step 7).

    In: a data folder (or a :class:`Panel`), the years (default: all in
    persons.parquet; fees brought to the latest year's price level), the
    configuration of the reference year (its ``year``/``planning_year``
    gap is kept for every year), the number of bootstrap draws (0: none)
    and the years to bootstrap (default: the latest), the seed, the
    two-sided ``alpha`` of every interval and the clinic rounding steps to
    compare.
    Out: :class:`StabilityResult` with the tables of :data:`TABLE_COLUMNS`.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    config = config or ModelConfig()
    own_panel = not isinstance(data, Panel)
    panel = Panel(data, years) if own_panel else data
    years = sorted(int(y) for y in (years if years is not None else panel.years))
    if len(years) < 2:
        raise ConfigError("stability needs at least two years")
    boot_years = [max(years)] if bootstrap_years is None else sorted(int(y) for y in bootstrap_years)
    panel.want(years)

    fits: dict[int, CellOLSResults] = {}
    chains: dict[int, ChainResult] = {}
    coefs, fitstats = [], []
    cross: dict[tuple[int, int], ChainResult] = {}
    boots: dict[int, BootstrapResult] = {}
    for i, t in enumerate(years):
        t0 = time.perf_counter()
        yd = panel.get(t)
        timings[f"read_{t}"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        cfg = year_config(config, t)
        f = fit(yd, cfg)
        fits[t] = f
        chains[t] = chain(yd, cfg, f.params)
        coefs.append(_coef_rows(t, f, alpha))
        n_, sy_ = (float(a.sum()) for a in atom_outcome_sums(yd, cfg)[:2])
        fitstats.append({"year": t, "persons": int(f.nobs), "cells": int(f.n_cells), "terms": len(f.params),
                         "r_squared": float(f.rsquared), "price_factor": yd.price_factor, "mean_use": float(sy_ / n_)})
        if i > 0:
            prev = years[i - 1]
            # old fit, new population; new fit, old population
            cross[(prev, t)] = chain(yd, cfg, fits[prev].params)
            cross[(t, prev)] = chain(panel.get(prev), year_config(config, prev), f.params)
        timings[f"fit_chain_{t}"] = round(time.perf_counter() - t0, 3)
        if t in boot_years and bootstrap_draws > 0:
            t0 = time.perf_counter()
            boots[t] = bootstrap(yd, cfg, chains[t], draws=bootstrap_draws, seed=seed + t, alpha=alpha)
            timings[f"bootstrap_{t}"] = round(time.perf_counter() - t0, 3)
        if i > 0 and years[i - 1] not in boot_years:
            panel.drop(years[i - 1])  # keep memory flat: a year is needed only by its successor
    if own_panel:
        panel.close()
    t0 = time.perf_counter()
    tables = _stability_tables(config, years, fits, chains, cross, boots, coefs, fitstats, alpha, rounding_steps)
    timings["tables"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    facts = {"years": years, "price_year": panel.price_year, "bootstrap_draws": bootstrap_draws,
             "bootstrap_years": boot_years if bootstrap_draws else [], "seed": seed, "alpha": alpha,
             "rounding_steps": list(rounding_steps),
             "bootstrap_failed_draws": {str(t): b.failed for t, b in boots.items()},
             "persons_in_fit": {str(t): int(fits[t].nobs) for t in years}}
    return StabilityResult(config=config, years=years, price_year=panel.price_year, tables=tables, timings=timings,
                           facts=facts, files=dict(panel.files))


def _stability_tables(config, years, fits, chains, cross, boots, coefs, fitstats, alpha, rounding_steps):
    k = config.min_cell_size
    # --- coefficients by year, with the change from the year before
    cb = pd.concat(coefs, ignore_index=True)
    prev = cb.assign(year=cb["year"].map({a: b for a, b in zip(years[:-1], years[1:])}))
    prev = prev.dropna(subset=["year"]).astype({"year": int})[["year", "term", "estimate", "ci_low", "ci_high"]]
    cb = cb.merge(prev.rename(columns={"estimate": "previous_estimate", "ci_low": "previous_ci_low",
                                       "ci_high": "previous_ci_high"}), on=["year", "term"], how="left")
    cb["change"] = cb["estimate"] - cb["previous_estimate"]
    with np.errstate(invalid="ignore", divide="ignore"):
        cb["change_pct"] = 100 * cb["change"] / cb["previous_estimate"].abs()
    cb["previous_outside_ci"] = np.where(
        cb["previous_estimate"].isna(), np.nan,
        ((cb["previous_estimate"] < cb["ci_low"]) | (cb["previous_estimate"] > cb["ci_high"])).astype(float))
    cb["intervals_overlap"] = np.where(
        cb["previous_estimate"].isna(), np.nan,
        ((cb["previous_ci_low"] <= cb["ci_high"]) & (cb["previous_ci_high"] >= cb["ci_low"])).astype(float))
    cb = cb.drop(columns=["previous_ci_low", "previous_ci_high"])

    # --- capacities by year: health councils and municipalities
    rows = []
    for t in years:
        hc = chains[t].by_health_council
        rows.append(pd.DataFrame({
            "level": "health_council", "year": t, "area_code": hc["health_council"], "name": hc["health_council"],
            "health_council": hc["health_council"], "weighted_citizens": hc["weighted_citizens"],
            "share_weighted_citizens": hc["weighted_citizens"] / hc["weighted_citizens"].sum(),
            "capacities_exact": hc["capacities_exact"], "capacities": hc["capacities"].astype(float),
            "headroom": hc["headroom"].astype(float)}))
        bm = chains[t].by_municipality
        rows.append(pd.DataFrame({
            "level": "municipality", "year": t, "area_code": bm["municipality_code"], "name": bm["name"],
            "health_council": bm["health_council"], "weighted_citizens": bm["weighted_citizens"],
            "share_weighted_citizens": bm["weighted_citizens"] / bm["weighted_citizens"].sum(),
            "capacities_exact": bm["indicative"], "capacities": np.nan, "headroom": np.nan}))
    cy = pd.concat(rows, ignore_index=True)
    decomp = []
    for a, b in zip(years[:-1], years[1:]):
        for level, key in (("health_council", "health_council"), ("municipality", "municipality_code")):
            tab = "by_health_council" if level == "health_council" else "by_municipality"
            val = "capacities_exact" if level == "health_council" else "indicative"
            base_a = getattr(chains[a], tab).set_index(key)[val]
            base_b = getattr(chains[b], tab).set_index(key)[val]
            coef_only = getattr(cross[(b, a)], tab).set_index(key)[val]  # new fit, old population
            pop_only = getattr(cross[(a, b)], tab).set_index(key)[val]  # old fit, new population
            d = pd.DataFrame({"level": level, "year": b, "area_code": base_b.index,
                              "change_exact": (base_b - base_a).to_numpy(),
                              "change_due_to_coefficients": (coef_only - base_a).reindex(base_b.index).to_numpy(),
                              "change_due_to_population": (pop_only - base_a).reindex(base_b.index).to_numpy()})
            d["change_interaction"] = d["change_exact"] - d["change_due_to_coefficients"] - d["change_due_to_population"]
            decomp.append(d)
    cy = cy.merge(pd.concat(decomp, ignore_index=True), on=["level", "year", "area_code"], how="left")
    cy = cy.sort_values(["level", "area_code", "year"]).reset_index(drop=True)
    cy["change"] = cy.groupby(["level", "area_code"])["capacities"].diff()
    cy = cy.sort_values(["level", "year", "area_code"]).reset_index(drop=True)

    # --- reallocation between areas, and its split
    re_rows = []
    for a, b in zip(years[:-1], years[1:]):
        for level, tab, key in (("health_council", "by_health_council", "health_council"),
                                ("municipality", "by_municipality", "municipality_code")):
            wa = getattr(chains[a], tab).set_index(key)["weighted_citizens"]
            wb = getattr(chains[b], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            wc = getattr(cross[(b, a)], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            wp = getattr(cross[(a, b)], tab).set_index(key)["weighted_citizens"].reindex(wa.index)
            row = {"year_from": a, "year_to": b, "level": level, "areas": len(wa),
                   "reallocation_share": reallocation_share(wa, wb),
                   "reallocation_coefficients": reallocation_share(wa, wc),
                   "reallocation_population": reallocation_share(wa, wp)}
            if level == "health_council":
                ca = chains[a].by_health_council.set_index(key)["capacities"]
                cap_b = chains[b].by_health_council.set_index(key)["capacities"].reindex(ca.index)
                cap_coefficients = cross[(b, a)].by_health_council.set_index(key)["capacities"].reindex(ca.index)
                cap_population = cross[(a, b)].by_health_council.set_index(key)["capacities"].reindex(ca.index)
                row.update({
                    "capacities_from": int(ca.sum()), "capacities_to": int(chains[b].by_health_council["capacities"].sum()),
                    "areas_rounded_changed": int((cap_b != ca).sum()),
                    "areas_rounded_changed_coefficients": int((cap_coefficients != ca).sum()),
                    "areas_rounded_changed_population": int((cap_population != ca).sum()),
                    "capacities_moved": int(0.5 * (cap_b - ca).abs().sum()),
                })
            re_rows.append(row)
    realloc = pd.DataFrame(re_rows)

    # --- clinic minimum numbers: year on year, and the effect of the rounding step
    cc_rows, rs_rows = [], []
    steps = sorted(set([1, *rounding_steps, config.clinic_rounding_step]))
    for a, b in zip(years[:-1], years[1:]):
        pairs = _clinic_pairs(chains[a].clinics, chains[b].clinics, k)
        st = clinic_change_stats(pairs)
        cc_rows.append({"year_from": a, "year_to": b, "rounding_step": config.clinic_rounding_step, **st})
        for s in steps:
            st = clinic_change_stats(pairs, step=s, cap_=config.clinic_cap)
            rs_rows.append({"year_from": a, "year_to": b, "rounding_step": s,
                            **{c: st.get(c, np.nan) for c in ("clinics", "share_changed", "mean_abs_change",
                                                               "share_moved_50", "share_moved_5pct")}})
    clinic_changes = pd.DataFrame(cc_rows)
    rounding = pd.DataFrame(rs_rows)

    # --- bootstrap
    bhc = (pd.concat([b.health_council for b in boots.values()], ignore_index=True) if boots
           else pd.DataFrame(columns=TABLE_COLUMNS["bootstrap_health_council"]))
    bcl = (pd.concat([b.clinics for b in boots.values()], ignore_index=True) if boots
           else pd.DataFrame(columns=TABLE_COLUMNS["bootstrap_clinics"]))

    fit_by_year = pd.DataFrame(fitstats)
    summary = _summary(realloc, clinic_changes, bhc, bcl)
    return {"summary": summary, "coefficients_by_year": cb, "fit_by_year": fit_by_year, "capacity_by_year": cy,
            "reallocation": realloc, "clinic_changes": clinic_changes, "rounding_step_effect": rounding,
            "bootstrap_health_council": bhc, "bootstrap_clinics": bcl}


def _summary(realloc: pd.DataFrame, clinic_changes: pd.DataFrame, bhc: pd.DataFrame, bcl: pd.DataFrame) -> pd.DataFrame:
    """One row per year pair: the headline numbers of stability (the report's summary table)."""
    hc = realloc[realloc["level"] == "health_council"].set_index(["year_from", "year_to"])
    mu = realloc[realloc["level"] == "municipality"].set_index(["year_from", "year_to"])
    cc = clinic_changes.set_index(["year_from", "year_to"])
    s = pd.DataFrame({
        "reallocation_share": hc["reallocation_share"],
        "reallocation_coefficients": hc["reallocation_coefficients"],
        "reallocation_population": hc["reallocation_population"],
        "reallocation_share_municipalities": mu["reallocation_share"],
        "capacities_from": hc["capacities_from"], "capacities_to": hc["capacities_to"],
        "health_councils_changed": hc["areas_rounded_changed"],
        "clinics_compared": cc["clinics"],
        "clinic_share_moved_50": cc.get("share_moved_50"), "clinic_share_moved_5pct": cc.get("share_moved_5pct"),
        "clinic_rank_corr_mean_weight": cc.get("rank_corr_mean_weight"),
        "clinic_mean_abs_change": cc.get("mean_abs_change"),
    }).reset_index()
    if len(bhc):
        last = bhc[bhc["year"] == bhc["year"].max()]
        s["bootstrap_year"] = int(last["year"].iloc[0])
        s["health_councils_near_threshold"] = int(last["near_threshold"].sum())
        s["mean_prob_rounded_differs"] = float(last["prob_rounded_differs"].mean())
        if len(bcl):
            lc = bcl[bcl["year"] == bcl["year"].max()]
            s["clinics_prob_rounded_differs_over_half"] = float((lc["prob_rounded_differs"] > 0.5).mean())
    return s


#: Columns of every output table (the annual report's section 7 reads these).
TABLE_COLUMNS: dict[str, list[str]] = {
    "summary": ["year_from", "year_to", "reallocation_share", "reallocation_coefficients", "reallocation_population",
                "reallocation_share_municipalities", "capacities_from", "capacities_to", "health_councils_changed",
                "clinics_compared", "clinic_share_moved_50", "clinic_share_moved_5pct", "clinic_rank_corr_mean_weight",
                "clinic_mean_abs_change", "bootstrap_year", "health_councils_near_threshold", "mean_prob_rounded_differs",
                "clinics_prob_rounded_differs_over_half"],
    "coefficients_by_year": ["year", "term", "estimate", "std_error", "t", "p", "ci_low", "ci_high", "previous_estimate",
                             "change", "change_pct", "previous_outside_ci", "intervals_overlap"],
    "fit_by_year": ["year", "persons", "cells", "terms", "r_squared", "price_factor", "mean_use"],
    "capacity_by_year": ["level", "year", "area_code", "name", "health_council", "weighted_citizens",
                         "share_weighted_citizens", "capacities_exact", "capacities", "headroom", "change_exact",
                         "change_due_to_coefficients", "change_due_to_population", "change_interaction", "change"],
    "reallocation": ["year_from", "year_to", "level", "areas", "reallocation_share", "reallocation_coefficients",
                     "reallocation_population", "capacities_from", "capacities_to", "areas_rounded_changed",
                     "areas_rounded_changed_coefficients", "areas_rounded_changed_population", "capacities_moved"],
    "clinic_changes": ["year_from", "year_to", "rounding_step", "clinics", "share_changed", "mean_change",
                       "mean_abs_change", "p05", "p25", "median", "p75", "p95", "share_moved_50", "share_moved_5pct",
                       "rank_corr_mean_weight"],
    "rounding_step_effect": ["year_from", "year_to", "rounding_step", "clinics", "share_changed", "mean_abs_change",
                             "share_moved_50", "share_moved_5pct"],
    "bootstrap_health_council": ["year", "health_council", "draws", "region_from_2027", "capacities_exact", "capacities",
                                 "boot_mean", "boot_se", "ci_low", "ci_high", "capacities_ci_low", "capacities_ci_high",
                                 "prob_rounded_differs", "distance_to_threshold", "headroom", "prob_headroom_sign_differs",
                                 "near_threshold", "confidence"],
    "bootstrap_clinics": ["year", "clinic_id", "health_council", "practice_form", "capacities", "mean_weight",
                          "minimum_patients_exact", "minimum_patients", "boot_se", "ci_low", "ci_high",
                          "prob_rounded_differs", "near_threshold"],
}


def write_stability(result: StabilityResult, out: str | Path, extra: dict | None = None) -> Path:
    """Write the stability tables (CSV) and a manifest to ``out`` atomically (temporary folder, one rename)."""
    return _write_tables("stability", result.tables, TABLE_COLUMNS, result.config, result.files, result.timings,
                         result.facts, out, extra)


def _write_tables(command: str, tables: dict[str, pd.DataFrame], columns: dict[str, list[str]], config: ModelConfig,
                  files: dict[str, str], timings: dict[str, float], facts: dict[str, Any], out: str | Path,
                  extra: dict | None = None) -> Path:
    t0 = time.perf_counter()
    with AtomicFolder(Path(out)) as tmp:
        for name, cols in columns.items():
            df = tables[name]
            df = df.reindex(columns=cols) if set(cols) >= set(df.columns) else df
            write_csv(df, tmp / f"{name}.csv")
        manifest = {
            "command": command, "config": config.to_dict(), "inputs": files, "facts": facts,
            "versions": package_versions(), "commit": git_commit(),
            "timings_seconds": {**timings, "write": round(time.perf_counter() - t0, 4)},
            "outputs": {},
        }
        if extra:
            manifest.update(extra)
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return Path(out)


def read_tables(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read a stability or sensitivity output folder back: ``{table name: DataFrame}``."""
    d = Path(folder)
    return {p.stem: pd.read_csv(p, dtype={"clinic_id": str, "area_code": str}) for p in sorted(d.glob("*.csv"))}


def check_stability_parameters(years: str | Iterable[int], bootstrap_draws: int = 200, seed: int = 20250630, alpha: float = 0.05,
                     rounding_steps: str | Iterable[int] = "10,50,100") -> dict[str, Any]:
    """Validate the stability notebook's/CLI's parameters; returns them parsed (years and steps as lists)."""
    try:
        ys = parse_years(years)
    except ValueError:
        raise ConfigError(f"years must look like '2021-2025' or '2023,2025', got {years!r}") from None
    if len(ys) < 2:
        raise ConfigError(f"stability needs at least two years, got {ys}")
    if isinstance(bootstrap_draws, bool) or not isinstance(bootstrap_draws, int) or bootstrap_draws < 0:
        raise ConfigError(f"bootstrap_draws must be an integer >= 0, got {bootstrap_draws!r}")
    if 0 < bootstrap_draws < 20:
        raise ConfigError("bootstrap_draws: use 0 (no bootstrap) or at least 20 draws")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ConfigError(f"alpha must be between 0 and 0.5 (e.g. 0.05 for 95 % intervals), got {alpha!r}")
    steps = parse_years(rounding_steps)
    if not steps or min(steps) < 1:
        raise ConfigError(f"rounding_steps must be positive integers, got {rounding_steps!r}")
    return {"years": ys, "bootstrap_draws": bootstrap_draws, "seed": seed, "alpha": float(alpha), "rounding_steps": steps}


def appendix_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The detail behind the summary, as readable tables: {caption: table} (no person counts below 5)."""
    out: dict[str, pd.DataFrame] = {}
    cb = tables["coefficients_by_year"]
    est = cb.pivot(index="term", columns="year", values="estimate")
    est = est.reindex(cb["term"].drop_duplicates())
    last = int(cb["year"].max())
    ci = cb[cb["year"] == last].set_index("term")
    est[f"{last} 95 % interval"] = [f"{ci.loc[t, 'ci_low']:,.0f} to {ci.loc[t, 'ci_high']:,.0f}" for t in est.index]
    est["years outside the previous year's interval"] = cb.groupby("term")["previous_outside_ci"].sum().reindex(est.index)
    out["A. Coefficients by year (DKK at the latest year's prices)"] = est.reset_index()
    fy = tables["fit_by_year"].rename(columns={"year": "Year", "persons": "Persons", "cells": "Cells", "terms": "Terms",
                                                "r_squared": "R²", "price_factor": "Price factor", "mean_use": "Mean use (DKK)"})
    out["B. Fit by year"] = fy
    cy = tables["capacity_by_year"]
    hc = cy[cy["level"] == "health_council"]
    t = hc.pivot(index="health_council", columns="year", values="capacities").astype("Int64")
    t.columns = [f"{c}" for c in t.columns]
    out["C. Capacities per health council by year (rounded up)"] = t.reset_index()
    d = hc.dropna(subset=["change_exact"])[["year", "health_council", "change_exact", "change_due_to_coefficients",
                                             "change_due_to_population", "change_interaction", "change"]]
    out["D. Change in capacities per health council and its split (exact capacities)"] = d
    mu = cy[cy["level"] == "municipality"]
    t = mu.pivot(index=["area_code", "name"], columns="year", values="capacities_exact").round(1)
    t.columns = [f"{c}" for c in t.columns]
    out["E. Indicative capacities per municipality by year"] = t.reset_index()
    out["F. Capacity moved between areas, and its split"] = tables["reallocation"]
    out["G. Clinic minimum numbers: year-on-year change (clinics with at least 5 listed patients)"] = tables["clinic_changes"]
    out["H. The clinic rounding step and how often numbers move"] = tables["rounding_step_effect"]
    bhc = tables.get("bootstrap_health_council")
    if bhc is not None and len(bhc):
        out["I. Cluster bootstrap: capacities per health council"] = bhc.drop(columns=["region_from_2027"], errors="ignore")
        bc = tables["bootstrap_clinics"]
        g = bc.groupby("health_council").agg(
            clinics=("clinic_id", "size"), median_se=("boot_se", "median"),
            share_near_threshold=("near_threshold", "mean"), mean_prob_rounded_differs=("prob_rounded_differs", "mean"))
        out["J. Cluster bootstrap: clinic minimum numbers by health council"] = g.reset_index()
    return out


def summary_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Readable summary (one row per year pair) for the report."""
    s = tables["summary"]
    out = pd.DataFrame({
        "Years": s["year_from"].astype(int).astype(str) + "→" + s["year_to"].astype(int).astype(str),
        "Capacity moved between health councils (%)": 100 * s["reallocation_share"],
        "… due to coefficients (%)": 100 * s["reallocation_coefficients"],
        "… due to population (%)": 100 * s["reallocation_population"],
        "Health councils whose number changes": s["health_councils_changed"],
        "Clinics compared": s["clinics_compared"],
        "Clinics moving ≥ 50 patients (%)": 100 * s["clinic_share_moved_50"],
        "Clinics moving ≥ 5 % (%)": 100 * s["clinic_share_moved_5pct"],
        "Rank correlation of clinic mean weights": s["clinic_rank_corr_mean_weight"],
    })
    return out
