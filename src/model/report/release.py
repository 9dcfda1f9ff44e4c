"""Display-ready sections of the publication gate, the coding stress test and the supply bands.

For the annual report (to call when it is next rewritten) and the 2028
evaluation: :func:`release_gate_section` (the gate on a run folder, as
Markdown and a table), :func:`supply_table` (supply bands month by month),
:func:`stress_headline_table` (the stress test's headline).  The numbers come
from :mod:`model.analyses.release_gate`, :mod:`model.analyses.supply` and
:mod:`model.analyses.stress_test`; this module only shapes them for readers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from model.analyses.release_gate import check_release
from model.analyses.supply import band_counts
from model.config import ModelConfig


def release_gate_section(run_dir: str | Path, previous_dir: str | Path | None = None, data_dir: str | Path | None = None,
                         settings: Any = None, previous_fitted_now: bool = False) -> tuple[str, pd.DataFrame]:
    """The publication gate on ``run_dir`` (against ``previous_dir``) for a report: (Markdown verdict, table).

    The table has one row per check row: Check, Item, Status, Blocking, Message.  Without ``data_dir`` the refit
    of the previous year is not run (the table says so); with ``previous_fitted_now`` (the render fitted the
    previous year itself) it is not run twice (see :func:`model.analyses.release_gate.check_release`).
    """
    gate = check_release(run_dir, previous_dir, data_dir, settings=settings, previous_fitted_now=previous_fitted_now)
    c = gate.checks
    against = f" against {gate.previous_year}" if gate.previous_year else ""
    counts = {s: int((c["status"] == s).sum()) for s in ("pass", "warn", "fail")}
    verdict = ("**Blocked:** a blocking check failed; the year may not be released." if gate.blocked
               else "**May be released**" + (": read the warnings." if counts["warn"] else "."))
    md = (f"Publication gate of the {gate.year} fit{against}: {verdict} {counts['pass']} checks passed, "
          f"{counts['warn']} warned, {counts['fail']} failed (`python -m model check-release`; thresholds are fields "
          "`release_*` of `ModelConfig`).")
    table = pd.DataFrame({"Check": c["check"], "Item": c["item"].fillna(""), "Status": c["status"],
                          "Blocking": c["blocking"], "Message": c["message"]})
    return md, table


def supply_table(supply: pd.DataFrame, level: str = "health council", measure: str = "allocated",
                 config: ModelConfig | None = None) -> pd.DataFrame:
    """Supply bands month by month for readers: one row per reporting date, one column per band (areas in it).

    In: the band counts of :func:`model.analyses.supply.band_counts` or the per-area table of
    :func:`model.analyses.supply.supply_ratios` (counted here with ``config``'s band edges).
    """
    config = config or ModelConfig()
    b = supply if "measure" in supply.columns else band_counts(supply, config)
    b = b[(b["level"] == level) & (b["measure"] == measure)]
    bands = [c for c in b.columns if c not in ("reporting_date", "level", "measure")]
    if "no figure" in bands and not b["no figure"].any():
        bands.remove("no figure")
    return b[["reporting_date", *bands]].rename(columns={"reporting_date": "Reporting date"}).reset_index(drop=True)


def stress_headline_table(headline: pd.DataFrame) -> pd.DataFrame:
    """The stress test's headline for readers: model, mode, share, clinics, the minimum's fall and the capacities."""
    h = headline
    return pd.DataFrame({
        "Model": h["model"], "Choice": h["mode"], "Share given one more diagnosis": (100 * h["share"]).map(
            lambda v: f"{v:g} %"),
        "Clinics": h["clinics"].astype(int),
        "Mean change of minimum (%)": h["mean_minimum_change_pct"],
        "Median change of minimum (%)": h["median_minimum_change_pct"],
        "Clinics whose minimum falls": (100 * h["share_minimum_falls"]).map(lambda v: f"{v:.0f} %"),
        "Own council's capacities, mean change": h["mean_council_exact_change"],
        "Share of the chosen whose diagnosis adds nothing": (100 * h["patients_without_gain_share"]).map(
            lambda v: f"{v:.0f} %"),
        "Country's capacities if every clinic did it": h["country_capacities_change_all_clinics"].astype(int),
    })


def stress_steps_table(steps: pd.DataFrame) -> pd.DataFrame:
    """What one more chronic diagnosis adds at each disease count, per model, for readers (citizens masked below 5
    by :func:`model.report.display.show_table`)."""
    return pd.DataFrame({"Model": steps["model"], "Diseases before": steps["from_count"],
                         "Diseases after": steps["to_count"], "Citizens": steps["citizens"].astype(int),
                         "Predicted use added (DKK)": steps["gain_dkk"]})
