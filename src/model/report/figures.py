"""Static matplotlib figures of the analyses' tables (no computation beyond shaping the tables).
"""

from __future__ import annotations


import pandas as pd



def figure_stability(tables: dict[str, pd.DataFrame]):
    """Capacities per health council, each year relative to the latest, with the latest year's bootstrap interval."""
    import matplotlib.pyplot as plt

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
