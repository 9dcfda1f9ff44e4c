"""Supply ratios: allocated (and filled) capacities over the model's capacities, in bands, month by month.

docs/method.md, "Supply ratios".  From the regions' capacity reports (one
row per provider number and reporting date, :func:`model.analyses.evaluation_capacity.capacity_table`,
read by :mod:`model.inputs.capacity_reports`): per reporting date and health
council (and per municipality)

* ``allocated_ratio`` = allocated capacities / the model's capacities, and
* ``filled_ratio`` = filled capacities (allocated - vacant) / the model's
  capacities, where the report gives the vacant capacities (else empty),

each classified in the bands of ``ModelConfig.supply_band_edges`` (default
0.75, 1.0, 1.10): **under 75 %**, **75-100 %**, **100-110 %**, **over
110 %**.  Edges: a ratio exactly at an edge goes to the band above it
(0.75 -> 75-100 %, 1.0 -> 100-110 %), except at the last edge, which closes
the band below it (1.10 -> 100-110 %: "over 110 %" means strictly over).

The model's capacities per health council are the binding, rounded numbers
(``capacities``); per municipality the indicative numbers (``indicative``,
unrounded: the municipality's share, not a binding figure).  With the model
of several planning years (``planning_year`` column) each report date uses
the latest planning year not after the date's year, as
:func:`model.analyses.evaluation_capacity.capacity_analysis` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import ModelConfig

MEASURES = ("allocated", "filled")
LEVELS = ("health council", "municipality")


def _pct(x: float) -> str:
    return f"{100 * x:g}"


def band_labels(edges: tuple[float, ...]) -> list[str]:
    """Labels of the bands of ``edges``: (0.75, 1.0, 1.10) -> under 75 %, 75-100 %, 100-110 %, over 110 %."""
    inner = [f"{_pct(a)}-{_pct(b)} %" for a, b in zip(edges[:-1], edges[1:])]
    return [f"under {_pct(edges[0])} %", *inner, f"over {_pct(edges[-1])} %"]


def supply_band(ratio, edges: tuple[float, ...]) -> np.ndarray:
    """The band label of each ratio (empty text where the ratio is missing).

    Edge rule: lower edges included (0.75 -> 75-100 %, 1.0 -> 100-110 %); the
    last edge closes the band below it (1.10 -> 100-110 %; over 110 % is
    strictly over).
    """
    r = np.asarray(ratio, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    idx = np.searchsorted(e[:-1], r, side="right")
    idx = np.where(r > e[-1], len(e), idx)
    labels = np.asarray(band_labels(tuple(edges)), dtype=object)
    return np.where(np.isfinite(r), labels[np.clip(idx, 0, len(e))], "")


def _model_for_dates(dates: pd.Series, model: pd.DataFrame, key: str) -> pd.DataFrame:
    """The model's row for each date's planning year (latest planning year <= the date's year) and ``key``."""
    if "planning_year" not in model.columns:
        return pd.DataFrame({"model_planning_year": np.nan}, index=dates.index)
    planning = sorted(model["planning_year"].unique())
    years = pd.to_numeric(dates.str.slice(0, 4))
    chosen = [max([p for p in planning if p <= y], default=planning[0]) for y in years]
    return pd.DataFrame({"model_planning_year": chosen}, index=dates.index)


def supply_ratios(report_rows: pd.DataFrame, model_councils: pd.DataFrame, config: ModelConfig,
                  model_municipalities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Allocated and filled capacities over the model's capacities, per reporting date and area, with bands.

    In: the capacity reports' rows (reporting_date, municipality_code,
    health_council, allocated, vacant or filled); the model's capacities per
    health council (health_council, capacities[, planning_year]) and, for the
    municipalities, per municipality (municipality_code, indicative[, name,
    planning_year]).  Out: one row per reporting date, level and area:
    reporting_date, level, area, health_council, model_planning_year,
    allocated, filled, model_capacities, allocated_ratio, filled_ratio,
    allocated_band, filled_band.  ``filled`` is empty for a date where any
    row lacks the vacant capacities.
    """
    r = report_rows.copy()
    if "filled" not in r.columns:
        r["filled"] = r["allocated"] - r["vacant"]
    r["filled"] = pd.to_numeric(r["filled"], errors="coerce").astype(float)
    levels = [("health council", "health_council", model_councils, "capacities")]
    if model_municipalities is not None:
        levels.append(("municipality", "municipality_code", model_municipalities, "indicative"))
    out = []
    for level, key, model, col in levels:
        g = r.groupby(["reporting_date", key], as_index=False).agg(
            allocated=("allocated", "sum"), filled=("filled", lambda s: s.sum(min_count=len(s)) if s.notna().all()
                                                   else np.nan))
        g = pd.concat([g, _model_for_dates(g["reporting_date"], model, key)], axis=1)
        m = model.copy()
        if "planning_year" not in m.columns:
            m["planning_year"] = np.nan
        idx = pd.MultiIndex.from_arrays([g["model_planning_year"], g[key]])
        mk = m.set_index(["planning_year", key])
        g["model_capacities"] = mk[col].astype(float).reindex(idx).to_numpy()
        if level == "municipality":
            names = m.drop_duplicates(key).set_index(key)
            g["health_council"] = g[key].map(names["health_council"]) if "health_council" in names else ""
            g["area"] = g[key].map(names["name"]).fillna(g[key]) if "name" in names else g[key]
        else:
            g["health_council"] = g[key]
            g["area"] = g[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            for meas in MEASURES:
                g[f"{meas}_ratio"] = g[meas] / g["model_capacities"].where(g["model_capacities"] > 0)
                g[f"{meas}_band"] = supply_band(g[f"{meas}_ratio"].to_numpy(), config.supply_band_edges)
        g["level"] = level
        out.append(g)
    cols = ["reporting_date", "level", "area", "health_council", "model_planning_year", "allocated", "filled",
            "model_capacities", "allocated_ratio", "filled_ratio", "allocated_band", "filled_band"]
    if not out or all(o.empty for o in out):
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols].sort_values(["level", "reporting_date", "area"]).reset_index(drop=True)


def band_counts(supply: pd.DataFrame, config: ModelConfig) -> pd.DataFrame:
    """Month by month: how many areas of each level lie in each band, for allocated and filled capacities.

    Out: reporting_date, level, measure (allocated / filled), then one
    column per band (:func:`band_labels`) and ``no figure`` (a filled ratio
    the reports cannot give).
    """
    labels = band_labels(config.supply_band_edges)
    rows = []
    for (date, level), g in supply.groupby(["reporting_date", "level"], sort=True):
        for meas in MEASURES:
            b = g[f"{meas}_band"].fillna("")
            row = {"reporting_date": date, "level": level, "measure": meas}
            row.update({lab: int((b == lab).sum()) for lab in labels})
            row["no figure"] = int((b == "").sum())
            rows.append(row)
    return pd.DataFrame(rows, columns=["reporting_date", "level", "measure", *labels, "no figure"])
