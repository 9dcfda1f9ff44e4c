"""Which published counts would give a small count away (disclosure control, ``min_cell_size`` = k = 5).

The facts behind the masking of :mod:`model.report.display`: whether a
differencing attacker who knows a group's total can pin down a count of
1..k-1 (:func:`count_determined`), and which health councils' sums of listed
patients the clinics' sheets would give away (:func:`sums_of_sheets_hidden`,
:func:`mark_sheet_sums`).  Pure functions of arrays and frames; nothing is
shown here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def count_determined(values: np.ndarray, masked: np.ndarray, small: np.ndarray, k: int,
                     protect: np.ndarray | None = None) -> bool:
    """True if a differencing attacker can pin down a masked cell of one group whose total is known.

    The attacker knows the group's total (it is shown elsewhere), the
    visible cells, that a cell shown ``<k`` holds 1..k-1 and that a cell
    shown ``x`` holds at least ``k`` (complements are chosen among cells of
    at least k).  Each masked cell's range is its own bounds narrowed by the
    rest of the masked total; the cell is pinned when the range is one value.
    Only groups holding a small cell (or a cell in ``protect``, hidden for a
    reason outside the table) need this; others return False.
    """
    need = small if protect is None else (small | protect)
    if not (masked & need).any():
        return False
    rest = float(values[masked].sum())          # what total minus visible cells gives the attacker
    lo = np.where(small, 1.0, float(k))[masked]
    hi = np.where(small, float(k - 1), np.inf)[masked]
    if len(lo) == 1:
        return True
    for i in range(len(lo)):
        others_lo, others_hi = float(np.delete(lo, i).sum()), float(np.delete(hi, i).sum())
        a, b = max(lo[i], rest - others_hi), min(hi[i], rest - others_lo)
        if a >= b:
            return True
    return False


def sums_of_sheets_hidden(councils: Sequence[str], clinic_council: pd.Series, clinic_listed: pd.Series,
                          k: int = 5) -> list[bool]:
    """Which health councils' sums of listed patients the clinics' sheets would give away.

    In: the health councils in table order, and for each clinic whose sheet
    is published its health council and listed patients.  Out: one flag per
    council, True where the council's sum minus the counts the sheets print
    pins a clinic's count of 1..k-1 (one such clinic, or several whose range
    the sum narrows to one value).  Such a sum is shown as ``x`` (see
    :func:`model.report.display.suppress_with_complements`, argument ``pre_hidden``).
    """
    v = pd.to_numeric(clinic_listed, errors="coerce").fillna(0).to_numpy(dtype=float)
    hc = clinic_council.astype(str).to_numpy()
    out = []
    for h in councils:
        sel = hc == str(h)
        small = (v[sel] > 0) & (v[sel] < k)
        out.append(bool(count_determined(v[sel], small, small, k)))
    return out


def mark_sheet_sums(table: pd.DataFrame, clinics: pd.DataFrame, k: int) -> pd.DataFrame:
    """A copy of ``table`` (one row per health council) whose ``attrs["hidden"]`` flags the sums to hide.

    In: the table with columns ``Health council``, ``Listed patients (group 1)``
    and ``Patients in regional or tender clinics``; the clinics whose sheets
    are published (columns ``health_council``, ``listed``, ``practice_form``);
    the threshold k.  Out: the copy, flags per column from
    :func:`sums_of_sheets_hidden` (read by the report's masking).
    """
    table = table.copy()
    rt = clinics["practice_form"].isin(["regional", "tender"])
    councils = table["Health council"].tolist()
    table.attrs["hidden"] = {
        "Listed patients (group 1)": sums_of_sheets_hidden(councils, clinics["health_council"], clinics["listed"], k),
        "Patients in regional or tender clinics": sums_of_sheets_hidden(
            councils, clinics.loc[rt, "health_council"], clinics.loc[rt, "listed"], k),
    }
    return table
