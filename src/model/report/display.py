"""Tables and text for readers in a notebook: formatting, masking of small counts, Markdown.

Disclosure control of report tables (``min_cell_size`` = k = 5): every
:func:`show_table` goes through :func:`table_html`, where a count of 1-4
reads ``<5`` and a figure resting on those persons (a mean weight) is
blanked with it; zeros are shown (they identify no one).  Complementary
suppression (:func:`suppress_with_complements`): a count table sits under
totals printed elsewhere (municipalities under their health council's
total, health councils under the country's), so while a group's masked
cells could be worked out from its total minus its visible cells, the next
smallest cell of at least 5 in the group is hidden too and reads ``x``; the
caption says what ``x`` means.  A sum of clinics' listed patients that
includes a clinic of 1-4 patients is hidden as ``x``, since the clinics'
sheets print the others (:mod:`model.analyses.disclosure`).
"""

from __future__ import annotations

import html as html_lib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display

from model.analyses.disclosure import count_determined
from model.errors import ConfigError


def suppress_small(df: pd.DataFrame, count_cols: Sequence[str], k: int = 5,
                   hide: Sequence[str] = ()) -> pd.DataFrame:
    """Disclosure control: counts of 1 to k-1 become ``"<k"``; figures resting on them are blanked.

    In: a table, the columns holding counts of persons, the threshold and
    the columns (e.g. a mean over those persons) to blank in any row where
    a count was masked.  Out: a copy; masked count columns become object
    dtype holding ints and ``"<5"``.  Zero stays 0 (it identifies no one).
    """
    out = df.copy()
    masked_any = pd.Series(False, index=out.index)
    for c in count_cols:
        v = pd.to_numeric(out[c], errors="coerce")
        small = (v > 0) & (v < k)
        masked_any |= small
        col = out[c].astype(object)
        col[small] = f"<{k}"
        out[c] = col
    for c in hide:
        col = out[c].astype(object)
        col[masked_any] = None
        out[c] = col
    return out


#: Marker of a count hidden only so that a small count cannot be worked out from a total (complementary cell).
HIDDEN = "x"


#: The note under a table with complementary cells.
HIDDEN_NOTE = "x: hidden so that a count under {k} cannot be worked out from a total."


def complement_masks(df: pd.DataFrame, count_col: str, group_col: str | None = None,
                     k: int = 5, pre: Sequence[bool] | None = None) -> tuple[pd.Series, pd.Series]:
    """Which cells of one count column to show as ``<k`` and which to hide as complements (``x``).

    In: a table, one column of counts of persons, the column naming each
    row's group (e.g. the health council of a municipality; None: the whole
    table is one group under the country total) and the threshold.  Out:
    two boolean Series on ``df.index``: ``small`` (1..k-1) and
    ``complement``.  Rule (complementary suppression): in every group whose
    total is shown anywhere, while the masked cells of the group could be
    worked out from the total minus the visible cells (one masked cell
    alone, or a range narrowed to one value by :func:`model.analyses.disclosure.count_determined`), the
    next smallest visible cell of at least k in that group is hidden too,
    smallest first, ties by row order.  A group with no such cell left keeps
    what it has (its total then rests on small cells only and is masked
    where it is shown, as a count under k itself).  ``pre``: cells already
    hidden for a reason outside the table (one flag per row, in order); they
    count as complements from the start.
    """
    v = pd.to_numeric(df[count_col], errors="coerce").fillna(0).to_numpy(dtype=float)
    small = (v > 0) & (v < k)
    comp = np.zeros(len(v), dtype=bool) if pre is None else (np.asarray(pre, dtype=bool) & ~small)
    groups = [np.arange(len(v))] if group_col is None else \
        [np.flatnonzero((df[group_col].astype(str) == g).to_numpy()) for g in pd.unique(df[group_col].astype(str))]
    for idx in groups:
        vs, sm = v[idx], small[idx]
        cm = comp[idx].copy()
        pr = cm.copy()
        while count_determined(vs, sm | cm, sm, k, pr):
            cand = np.flatnonzero(~sm & ~cm & (vs >= k))
            if len(cand) == 0:
                break
            cm[cand[np.argsort(vs[cand], kind="stable")[0]]] = True
        comp[idx] = cm
    return pd.Series(small, index=df.index), pd.Series(comp, index=df.index)


def suppress_with_complements(df: pd.DataFrame, count_cols: Sequence[str], group_col: str | None = None,
                              k: int = 5, hide: Sequence[str] = (),
                              pre_hidden: Mapping[str, Sequence[bool]] | None = None) -> pd.DataFrame:
    """Disclosure control for a count table with totals: small counts and their complements masked.

    In: a table, its columns of counts of persons, the column naming each
    row's group under a total shown elsewhere (municipality -> health
    council: ``group_col="Health council"``; None: the whole table under the
    country total), the threshold and the columns to blank in a row where a
    count was masked (figures over the same persons, e.g. a mean weight).
    Out: a copy where counts of 1..k-1 read ``"<k"`` and the complementary
    cells of :func:`complement_masks` read :data:`HIDDEN` (``"x"``), so that
    no masked count can be recovered by subtracting the visible cells from
    the group's total.  Zero stays 0.  Masked count columns become object dtype.
    ``pre_hidden``: per count column, cells to hide for a reason outside the
    table (e.g. a sum of clinics whose sheets print the others); default
    ``df.attrs["hidden"]`` when the table carries it.
    """
    pre_hidden = df.attrs.get("hidden", {}) if pre_hidden is None else pre_hidden
    out = df.copy()
    masked_any = pd.Series(False, index=out.index)
    for c in count_cols:
        small, comp = complement_masks(out, c, group_col, k, pre_hidden.get(c))
        masked_any |= small | comp
        col = out[c].astype(object)
        col[small] = f"<{k}"
        col[comp] = HIDDEN
        out[c] = col
    for c in hide:
        col = out[c].astype(object)
        col[masked_any] = None
        out[c] = col
    return out


def _fmt_value(v: Any, digits: int | None, lang: str = "en") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return ("ja" if v else "nej") if lang == "da" else ("yes" if v else "no")
    if isinstance(v, (int, np.integer)):
        s = f"{int(v):,}"
    elif isinstance(v, (float, np.floating)):
        d = 2 if digits is None else digits
        s = f"{float(v):,.{d}f}"
        if s.startswith("-") and float(s.replace(",", "")) == 0:
            s = s[1:]
    else:
        return str(v)
    if lang == "da":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s


_YEAR_LABEL = re.compile(r"^(year|years|år|data year|planning year)$|\byear\b", re.I)


def is_year_column(label: Any, col: pd.Series) -> bool:
    """A column of calendar years (label says year, integer values 1900-2100): shown without separators."""
    if not isinstance(label, str) or not _YEAR_LABEL.search(label) or not pd.api.types.is_numeric_dtype(col):
        return False
    v = pd.to_numeric(col, errors="coerce").dropna()
    return bool(len(v)) and bool(((v >= 1900) & (v <= 2100) & (v == v.round())).all())


#: Decimals by what a column's label says it holds, where the caller gave no digits for that column:
#: money in whole kroner, percentages with one decimal.
LABEL_DIGITS: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile(r"\(DKK\)|DKK a year|\(kr\.\)"), 0),
    (re.compile(r"\(%\)$|%\)$"), 1),
)


def _label_digits(label: Any) -> int | None:
    if isinstance(label, str):
        for pattern, d in LABEL_DIGITS:
            if pattern.search(label):
                return d
    return None


def format_table(df: pd.DataFrame, digits: Mapping[str, int] | int | None = None, lang: str = "en") -> pd.DataFrame:
    """Every cell as display text: thousands separators, fixed decimals, yes/no, blanks for missing.

    Years (:func:`is_year_column`) have no separator (2025, not 2,025); a column of whole numbers is
    shown without decimals whatever ``digits`` says (250 capacities, not 250.0); a column whose label says
    DKK or % gets 0 or 1 decimals unless ``digits`` names it (:data:`LABEL_DIGITS`).
    """
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        d = digits.get(c) if isinstance(digits, Mapping) else None
        if d is None:  # what the label says (money, percentages), else the table's own digits
            d = _label_digits(c)
            if d is None and not isinstance(digits, Mapping):
                d = digits
        col = df[c]
        if is_year_column(c, col):
            out[c] = ["" if pd.isna(v) else str(int(v)) for v in col.astype(object)]
            continue
        if pd.api.types.is_float_dtype(col) and len(col.dropna()) and col.dropna().apply(float.is_integer).all():
            col = col.astype("Int64")
        out[c] = [_fmt_value(v.item() if hasattr(v, "item") else v, d, lang) for v in col.astype(object)]
    return out


_COUNT_WORDS = re.compile(r"\b(citizens|persons|patients|people)\b", re.I)


_NOT_COUNT_WORDS = re.compile(r"\b(weighted|mean|minimum|per|share|average|weight)\b|%", re.I)


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose header says they count persons (citizens, persons, patients), e.g. ``Listed patients``.

    Not ``Weighted citizens``, ``Mean weight``, ``Minimum patient number`` or
    shares.  :func:`table_html` masks these by default, so a new table is
    under disclosure control unless told otherwise.
    """
    return [c for c in df.columns if isinstance(c, str) and _COUNT_WORDS.search(c) and not _NOT_COUNT_WORDS.search(c)]


def table_html(df: pd.DataFrame, caption: str | None = None, digits: Mapping[str, int] | int | None = None,
               counts: Sequence[str] | str = "auto", hide: Sequence[str] = (), k: int = 5, index: bool = False,
               lang: str = "en", group: str | None = None, labels: Any = None) -> str:
    """HTML of a table for a report: small counts and their complements masked, numbers formatted.

    ``counts="auto"`` masks the columns of :func:`count_columns`; a list
    names the count columns exactly (``[]`` for a table of shares).  Masking
    is :func:`suppress_with_complements` with ``group`` as the group column
    (None: the whole table is one group, its total the country's), so a
    count shown ``<5`` cannot be recovered from a total; when a complement
    was hidden the caption says what ``x`` means.  ``labels``: a mapping or
    function giving each column's label on the page.  Deterministic (plain ``DataFrame.to_html``,
    no random ids); numeric columns are right-aligned (class ``num``).
    """
    if index:
        attrs = dict(df.attrs)
        df = df.reset_index()
        df.attrs.update(attrs)
    if isinstance(counts, str):
        if counts != "auto":
            raise ConfigError("counts must be 'auto' or a list of column names")
        counts = count_columns(df)
    else:
        counts = list(counts)
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    shown = suppress_with_complements(df, counts, group, k=k, hide=hide) if counts else df
    if counts and any((shown[c].astype(object) == HIDDEN).any() for c in counts):
        caption = ((caption.rstrip(".") + ". ") if caption else "") + HIDDEN_NOTE.format(k=k)
    text = format_table(shown, digits, lang)
    if labels is not None:  # column labels for the page (e.g. Danish), after the English ones did their work
        text.columns = [labels(c) if callable(labels) else labels.get(c, c) for c in text.columns]
    body = text.to_html(index=False, escape=True, border=0, na_rep="", classes="report-table")
    if caption:
        body = body.replace(">\n  <thead>", f">\n  <caption>{html_lib.escape(caption)}</caption>\n  <thead>", 1)
    if numeric:  # right-align numeric columns: class "num" on their header and cells
        pos = {list(df.columns).index(c) for c in numeric}
        rows = body.split("<tr")
        for i in range(1, len(rows)):
            parts = re.split(r"(<t[dh](?= |>)[^>]*>)", rows[i])
            col = -1
            for j in range(1, len(parts), 2):
                col += 1
                if col in pos and "class=" not in parts[j]:
                    parts[j] = parts[j][:-1] + ' class="num">'
            rows[i] = "".join(parts)
        body = "<tr".join(rows)
    return f'<div class="table-box">{body}</div>'  # a wide table scrolls inside its box


def show_table(df: pd.DataFrame, caption: str | None = None, **kw: Any) -> None:
    """Display :func:`table_html` in a notebook (arguments as there)."""
    display(HTML(table_html(df, caption, **kw)))


def md(text: str) -> None:
    """Display Markdown in a notebook (plain-language text with numbers filled in)."""
    display(Markdown(text))


def num(v: float, digits: int = 0, lang: str = "en") -> str:
    """A number as text with thousands separators (``1,600``; Danish ``1.600``)."""
    return _fmt_value(float(v) if digits else int(round(float(v))), digits if digits else None, lang)
