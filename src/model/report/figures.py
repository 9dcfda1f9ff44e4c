"""Static matplotlib figures of the reports, and the settings that make their PNG bytes reproducible.

:func:`report_setup` fixes figure and table settings for every report
notebook; :func:`show_figure` embeds a figure as PNG with alternative text
(:func:`figure_png`: fixed DPI, no software stamp).  The figures only shape
tables already computed (no model computation here):

* annual report (``t`` of :func:`model.report.annual.load_run`):
  :func:`figure_capacities`, :func:`figure_price_heatmap`,
  :func:`figure_life_expectancy_map`, :func:`figure_life_expectancy_ranked`,
  :func:`figure_clinic_boxplot`;
* stability and sensitivity (their tables): :func:`figure_stability`,
  :func:`figure_sensitivity`;
* the 2028 evaluation (``t`` of :func:`model.analyses.evaluation.load_evaluation`):
  :func:`figure_calibration`, :func:`figure_ratios`, :func:`figure_area_ratios`,
  :func:`figure_capacity_over_time`, :func:`figure_goal`,
  :func:`figure_incentives`, :func:`figure_life_expectancy`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import matplotlib
import matplotlib.pyplot as plt  # in a kernel: activates the inline backend
import numpy as np
import pandas as pd
from IPython import get_ipython
from IPython.display import display

from model.report.annual_tables import price_list_age_sex

#: Figure resolution: fixed so that PNG bytes do not depend on the machine's defaults.
FIGURE_DPI = 100


def report_setup() -> None:
    """Fixed figure and table settings for every report notebook (deterministic PNGs)."""
    matplotlib.rcParams.update({
        "figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI, "figure.figsize": (8.0, 4.2),
        "font.size": 9.5, "axes.spines.top": False, "axes.spines.right": False,
        "axes.titlesize": 10.5, "axes.titleweight": "bold", "figure.max_open_warning": 0,
        "svg.hashsalt": "fordelingsmodel", "axes.grid": False,
    })
    try:  # in a kernel: PNG only, tight bounding box, no software stamp
        ip = get_ipython()
        if ip is not None:
            ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
            ip.run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', "
                                        "'metadata': {'Software': None}}")
    except Exception:
        pass
    pd.set_option("display.max_rows", 200)


def figure_png(fig) -> bytes:
    """A figure as PNG bytes: fixed DPI, tight box, no software stamp, so the bytes are reproducible."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def show_figure(fig, alt: str | None = None) -> None:
    """Display a figure as an embedded PNG with alternative text, and close it.

    ``alt`` defaults to the first axes' title.  The PNG is made here (not by
    the inline backend), so its bytes depend only on the figure.
    """
    if alt is None:
        alt = next((a.get_title() for a in fig.axes if a.get_title()), "Figure")
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    plt.close(fig)
    display({"image/png": data, "text/plain": alt}, raw=True, metadata={"image/png": {"alt": alt}})


# ===========================================================================
# the annual report


def figure_capacities(t: Mapping[str, Any]):
    """Capacities per health council: model vs counted allocation (bars), headroom marked."""
    hc = t["capacity_by_health_council"].sort_values("capacities")
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(hc) + 1.2))
    y = np.arange(len(hc))
    ax.barh(y - 0.2, hc["capacities"], height=0.4, label="Capacities (model)", color="#1f77b4")
    ax.barh(y + 0.2, hc["counted_allocation"], height=0.4, label="Allocated today (counted)", color="#bbbbbb")
    for yi, (h, c) in zip(y, zip(hc["headroom"], hc["capacities"])):
        if h > 0:
            ax.text(c, yi - 0.2, f"  +{h:,.0f}", va="center", fontsize=8, color="#1f77b4")
    ax.set_yticks(y, hc["health_council"])
    ax.set_xlabel("GP capacities")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Capacities per health council: model vs allocated today (+ headroom)")
    fig.tight_layout()
    return fig


def figure_price_heatmap(t: Mapping[str, Any]):
    """Heat map of the age x sex weights (no add-ons)."""
    w = price_list_age_sex(t)
    fig, ax = plt.subplots(figsize=(3.2 + 1.1 * w.shape[1], 0.33 * len(w) + 1.2))
    im = ax.imshow(w.to_numpy(dtype=float), cmap="Blues", aspect="auto")
    ax.set_xticks(range(w.shape[1]), w.columns)
    ax.set_yticks(range(len(w)), w.index)
    vmax = np.nanmax(w.to_numpy(dtype=float))
    for i in range(len(w)):
        for j in range(w.shape[1]):
            v = w.iat[i, j]
            if pd.notna(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 * vmax else "black")
    ax.set_title("Weight by age and sex (no add-ons)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def figure_life_expectancy_map(t: Mapping[str, Any]):
    """Choropleth of the life-expectancy factor per municipality (municipal boundaries; imputed ones hatched)."""
    from model.report.maps import municipality_map

    bm = t["capacity_by_municipality"].set_index("municipality_code")
    imp = bm["life_expectancy_imputed"].astype(str).str.lower().isin(["true", "1"])
    fig, ax = plt.subplots(figsize=(6.6, 5.6))
    municipality_map(bm["life_expectancy_factor"], ax=ax, cmap="RdYlBu_r", center=1.0,
                     title="Life-expectancy factor per municipality (above 1: weighs more)",
                     label="life-expectancy factor", hatch_where=imp, hatch_label="council's figure (imputed)")
    fig.tight_layout()
    return fig


def figure_capacity_maps(t: Mapping[str, Any]):
    """Two choropleths: headroom per health council (hatched: may allocate new capacity) and the mean
    disease weight per municipality (hatched: the area floor binds)."""
    from model.report.maps import health_council_map, municipality_map

    hc = t["capacity_by_health_council"].set_index("health_council")
    bm = t["capacity_by_municipality"].set_index("municipality_code")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 5.2))
    lim = float(np.nanmax(np.abs(hc["headroom"].to_numpy(dtype=float)))) or 1.0
    health_council_map(hc["headroom"], ax=a1, cmap="RdBu", center=0.0, vmin=-lim, vmax=lim,
                       title="Headroom per health council (capacities)", label="model's number - allocated",
                       hatch_where=hc["headroom"] > 0, hatch_label="may allocate new capacity")
    binds = bm["floor_binds"].astype(str).str.lower().isin(["true", "1"]) if "floor_binds" in bm.columns else None
    k = t["config"].min_cell_size  # a mean over fewer than k citizens is not shown (grey)
    mean_weight = bm["mean_weight"].where(bm["citizens"] >= k)
    municipality_map(mean_weight, ax=a2, cmap="viridis", title="Mean disease weight per municipality",
                     label="mean weight (national mean 1)", hatch_where=binds, hatch_label="area floor binds")
    fig.tight_layout()
    return fig


def figure_life_expectancy_ranked(t: Mapping[str, Any], n: int = 15):
    """The ``n`` highest and lowest life-expectancy factors as a ranked bar chart."""
    bm = t["capacity_by_municipality"].sort_values(["life_expectancy_factor", "name"])
    sel = pd.concat([bm.head(n), bm.tail(n)])
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(sel) + 1))
    colors = np.where(sel["life_expectancy_factor"] >= 1, "#d62728", "#1f77b4")
    ax.barh(range(len(sel)), sel["life_expectancy_factor"] - 1, left=1, color=colors)
    ax.set_yticks(range(len(sel)), sel["name"], fontsize=7)
    ax.axvline(1, color="black", linewidth=0.6)
    ax.set_xlabel("life-expectancy factor")
    ax.set_title(f"The {n} lowest and highest factors")
    fig.tight_layout()
    return fig


def figure_clinic_boxplot(t: Mapping[str, Any]):
    """Box plot of clinic minimum numbers per capacity, per health council."""
    ct = t["clinic_minimums"]
    c = ct[ct["capacities"] > 0].assign(per_cap=lambda d: d["minimum_patients"] / d["capacities"])
    order = sorted(c["health_council"].dropna().unique(), reverse=True)  # first at the top
    data = [c.loc[c["health_council"] == h, "per_cap"].to_numpy() for h in order]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(order) + 1.2))
    ax.boxplot(data, vert=False, widths=0.6, showfliers=True, flierprops={"markersize": 2, "alpha": 0.5})
    ax.set_yticks(range(1, len(order) + 1), order)
    ax.axvline(t["config"].citizens_per_capacity, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel(f"minimum patient number per capacity (dashed: {t['config'].citizens_per_capacity:,.0f})")
    ax.set_title("Clinic minimum patient numbers per capacity, by health council")
    fig.tight_layout()
    return fig


# ===========================================================================
# stability and sensitivity


def figure_stability(tables: dict[str, pd.DataFrame]):
    """Capacities per health council, each year relative to the latest, with the latest year's bootstrap interval."""
    cy = tables["capacity_by_year"]
    hc = cy[cy["level"] == "health_council"]
    last = int(hc["year"].max())
    ref = hc[hc["year"] == last].set_index("health_council")["capacities_exact"]
    order = ref.sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(order) + 1.2))
    years = sorted(hc["year"].unique())
    cmap = plt.get_cmap("viridis", max(len(years), 2))
    bhc = tables.get("bootstrap_health_council")
    if bhc is not None and len(bhc) and (bhc["year"] == last).any():
        b = bhc[bhc["year"] == last].set_index("health_council").reindex(order)
        lo = 100 * (b["ci_low"] / ref.reindex(order) - 1)
        hi = 100 * (b["ci_high"] / ref.reindex(order) - 1)
        ax.hlines(range(len(order)), lo, hi, color="0.6", lw=6, alpha=0.6,
                  label=f"{last}: {100 * float(b['confidence'].iloc[0]):.0f} % bootstrap interval")
    for i, t in enumerate(years):
        v = hc[hc["year"] == t].set_index("health_council")["capacities_exact"].reindex(order)
        ax.plot(100 * (v / ref.reindex(order) - 1), range(len(order)), "o", ms=5, color=cmap(i), label=str(t))
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order)
    ax.set_xlabel(f"Capacities (exact) relative to {last} (%)")
    ax.set_title("Capacities per health council, refitted each year")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def figure_sensitivity(tables: dict[str, pd.DataFrame]):
    """Heat map: change in capacities (exact, %) per health council (columns) and variant (rows) against the base."""
    c = tables["capacity_by_variant"]
    c = c[c["variant"] != "base"]
    labels = tables["summary"].set_index("variant")["label"]
    m = c.pivot(index="variant", columns="health_council", values="change_pct")
    order = [v for v in tables["summary"]["variant"] if v in m.index]
    m = m.reindex(order)
    lim = float(np.nanmax(np.abs(m.to_numpy()))) if m.size else 1.0
    lim = max(lim, 0.1)
    fig, ax = plt.subplots(figsize=(11, 0.36 * len(m) + 2.6))
    im = ax.imshow(m.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(m.shape[1]))
    ax.set_xticklabels(m.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(m.shape[0]))
    ax.set_yticklabels([labels.get(v, v) for v in m.index], fontsize=8)
    flips = c[c["headroom_sign_changed"].astype(bool)]
    for _, r in flips.iterrows():
        ax.text(list(m.columns).index(r["health_council"]), order.index(r["variant"]), "•", ha="center", va="center",
                fontsize=10, color="k")
    fig.colorbar(im, ax=ax, label="Change in capacities against the base (%)", shrink=0.8)
    ax.set_title("Sensitivity variants: capacities per health council (• headroom changes sign)")
    fig.tight_layout()
    return fig


# ===========================================================================
# the 2028 evaluation


def figure_calibration(t: Mapping[str, Any]):
    """Mean observed against mean predicted use by decile of predicted use, per year (the diagonal is perfect)."""
    c = t["calibration"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.4))
    years = sorted(c["year"].unique())
    markers, styles = "osD^vP", ["-", "--", ":", "-."]
    width = 0.6 / max(len(years), 1)
    for k, (y, g) in enumerate(c.groupby("year")):
        g = g.dropna(subset=["mean_observed", "mean_predicted"]).sort_values("mean_predicted")
        style = dict(marker=markers[k % len(markers)], ls=styles[k % len(styles)], ms=4.5, lw=1.2, mfc="none",
                     label=str(int(y)), zorder=3 + k)
        ax.plot(g["mean_predicted"], g["mean_observed"], **style)
        # the ratio observed / predicted per decile, each year shifted sideways: lines that coincide on the
        # left panel (the years are all close to the diagonal) stay apart here
        x = np.arange(1, len(g) + 1) + (k - (len(years) - 1) / 2) * width
        ax2.plot(x, g["mean_observed"].to_numpy() / g["mean_predicted"].to_numpy(), **style)
    lim = [0, float(np.nanmax(c[["mean_observed", "mean_predicted"]].to_numpy())) * 1.05]
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("mean predicted use (DKK, scaled to the year's total)")
    ax.set_ylabel("mean observed use (DKK)")
    ax.set_title("Calibration: deciles of predicted use")
    ax.legend(title="year", frameon=False, fontsize=8)
    ax2.axhline(1, color="grey", lw=0.8, ls="--")
    ax2.set_xlabel("decile of predicted use (years side by side)")
    ax2.set_ylabel("observed / predicted")
    ax2.set_title("Observed over predicted, by decile")
    fig.tight_layout()
    return fig


def figure_ratios(t: Mapping[str, Any], grouping: str, title: str | None = None):
    """Predictive ratios of one grouping per year (1 = predicted as used; the band is ± 5 %)."""
    r = t["predictive_ratios"]
    r = r[(r["grouping"] == grouping) & (r["prediction"] == "use")]
    groups = list(dict.fromkeys(r.sort_values("year")["group"]))
    years = sorted(r["year"].unique())
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(groups) + 2), 3.8))
    width = 0.8 / max(len(years), 1)
    x = np.arange(len(groups))
    for k, y in enumerate(years):
        v = r[r["year"] == y].set_index("group")["predictive_ratio"].reindex(groups)
        ax.bar(x + (k - (len(years) - 1) / 2) * width, v.to_numpy() - 1, width, bottom=1, label=str(int(y)))
    ax.axhspan(0.95, 1.05, color="grey", alpha=0.12, lw=0)
    ax.axhline(1, color="black", lw=0.8)
    ax.set_xticks(x, groups, rotation=45 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center")
    ax.set_ylabel("predictive ratio Σŷ / Σy")
    ax.set_title(title or f"Predictive ratios by {grouping}")
    ax.legend(title="year", frameon=False, fontsize=8, ncol=len(years))
    return fig


def figure_area_ratios(t: Mapping[str, Any], grouping: str = "municipality"):
    """Distribution of the areas' predictive ratios per year and prediction (use / final weights)."""
    r = t["predictive_ratios"]
    r = r[(r["grouping"] == grouping) & r["predictive_ratio"].notna()]
    years = sorted(r["year"].unique())
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    data, labels = [], []
    for y in years:
        for p in ("use", "weight"):
            v = r[(r["year"] == y) & (r["prediction"] == p)]["predictive_ratio"].to_numpy()
            if len(v):
                data.append(v)
                labels.append(f"{int(y)}\n{'use' if p == 'use' else 'weights'}")
    if data:
        ax.boxplot(data, tick_labels=labels, showfliers=True, widths=0.6)
    ax.axhspan(0.9, 1.1, color="grey", alpha=0.12, lw=0)
    ax.axhline(1, color="black", lw=0.8)
    ax.set_ylabel("predictive ratio")
    plural = {"municipality": "municipalities", "health council": "health councils"}.get(grouping, grouping + "s")
    ax.set_title(f"Predictive ratios of the {plural} (band: ± 10 %)")
    return fig


def figure_capacity_over_time(t: Mapping[str, Any]):
    """Allocated and filled capacities per health council over time, against the model's capacities."""
    c = t["capacity_over_time"]
    councils = sorted(c["health_council"].dropna().unique())
    ncol = 4
    nrow = int(np.ceil(len(councils) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.1 * nrow), sharex=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, h in zip(axes, councils):
        g = c[c["health_council"] == h].sort_values("reporting_date")
        d = pd.to_datetime(g["reporting_date"])
        ax.plot(d, g["allocated"], lw=1.3, label="allocated")
        ax.plot(d, g["filled"], lw=1.3, label="filled")
        ax.step(d, g["model_capacities"], where="post", lw=1.0, ls="--", color="black", label="model")
        ax.set_title(h, fontsize=8.5)
        ax.tick_params(labelsize=7)
    for ax in axes[len(councils):]:
        ax.axis("off")
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Capacities per health council: allocated, filled and the model's number", fontsize=10.5,
                 fontweight="bold")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def figure_goal(t: Mapping[str, Any]):
    """National allocated and filled capacities over time and the straight path to 5,000 in 2035."""
    n = t["national_capacity"].sort_values("reporting_date")
    g = t["goal_progress"].iloc[0]
    d = pd.to_datetime(n["reporting_date"])
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(d, n["allocated"], lw=1.4, label="allocated")
    ax.plot(d, n["filled"], lw=1.4, label="filled")
    goal_d = pd.Timestamp(g["goal_date"])
    ax.plot([d.iloc[0], goal_d], [n["filled"].iloc[0], g["goal"]], ls="--", color="black", lw=1.0,
            label=f"straight path to {int(g['goal']):,}")
    if np.isfinite(g["observed_growth_per_year"]):
        yrs = (goal_d - d.iloc[-1]).days / 365.25
        ax.plot([d.iloc[-1], goal_d], [n["filled"].iloc[-1], n["filled"].iloc[-1] * (1 + g["observed_growth_per_year"]) ** yrs],
                ls=":", color="tab:orange", lw=1.2, label="filled, at the observed pace")
    ax.set_ylabel("capacities")
    ax.set_title("Progress towards 5,000 GPs in 2035")
    ax.legend(frameon=False, fontsize=8)
    return fig


def figure_incentives(t: Mapping[str, Any]):
    """Clinics' growth in recorded diagnoses (beyond the national trend) against the change of their minimum number."""
    d = t["diagnosis_growth_clinics"]
    last = d[d["year"] == d["year"].max()]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    norm = last[~last["flagged"].astype(bool)]
    flag = last[last["flagged"].astype(bool)]
    ax.scatter(100 * norm["diagnosis_growth"], 100 * norm["minimum_change"], s=6, alpha=0.35, label="clinics")
    ax.scatter(100 * flag["diagnosis_growth"], 100 * flag["minimum_change"], s=18, color="tab:red",
               label=f"flagged ({len(flag)})")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"growth in recorded diagnoses beyond the national trend, {int(d['year_fit'].iloc[0])}-"
                  f"{int(d['year'].max())} (%)")
    ax.set_ylabel("change of the minimum patient number (%)")
    ax.set_title("More sickness on paper? Diagnoses against minimum numbers")
    ax.legend(frameon=False, fontsize=8)
    return fig


def figure_life_expectancy(t: Mapping[str, Any]):
    """Capacities per health council with remaining life expectancy at 65 minus at birth (latest year)."""
    c = t["life_expectancy_capacity"]
    c = c[c["year"] == c["year"].max()].sort_values("difference")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.barh(c["health_council"], c["difference"], color=np.where(c["difference"] >= 0, "tab:blue", "tab:red"))
    ax.axvline(0, color="black", lw=0.7)
    ax.set_xlabel("capacities: remaining life expectancy at 65 minus at birth")
    ax.set_title(f"Life-expectancy variant, planning year {int(c['planning_year'].iloc[0])}")
    return fig
