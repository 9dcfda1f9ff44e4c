"""Static choropleth maps of municipalities and health councils (matplotlib only, for notebooks and print).

Two functions, one figure each, for any number per area:

* :func:`municipality_map` -- values indexed by ``municipality_code``
  (3-digit text, ``"101"`` København; ``"0101"`` and ``101`` are read as the same code);
* :func:`health_council_map` -- values indexed by health council
  (*sundhedsråd*) name: each municipality takes its council's colour, and the
  councils' borders are drawn thicker than the municipalities'.

The boundaries are the embedded, simplified DAGI boundaries
(:func:`model.inputs.reference.municipality_shapes`; attribution
:data:`ATTRIBUTION`, printed under every map).  Projection: equirectangular,
longitude scaled by cos 56° (true shape at Denmark's middle latitude; enough
for a map, not for areas).  Bornholm is moved into a framed box in the sea
north-east of Zealand so the map stays compact.  A municipality without a
value is grey and named in the legend ("No value"); ``hatch_where`` hatches
a chosen set (e.g. "may not allocate new capacity").

Both return the :class:`~matplotlib.axes.Axes`.  Its
:class:`~matplotlib.collections.PatchCollection` with gid
:data:`MUNICIPALITY_GID` holds one patch per municipality in the order of
:func:`map_codes`, so a test (or a caller) can read the colour each
municipality got.  Nothing here computes model numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from model.inputs.reference import municipality_shapes

#: To print with every map (the boundaries' source and licence: src/model/data/README.md).
ATTRIBUTION = "Boundaries: DAGI, Klimadatastyrelsen, CC BY 4.0 (simplified)"
#: Colour of a municipality without a value.
MISSING_COLOR = "#c8c8c8"
#: gid of the collection of municipality patches (one per municipality, :func:`map_codes` order).
MUNICIPALITY_GID = "municipalities"
#: Latitude whose cosine scales longitude (the projection).
LAT0 = 56.0
#: Bornholm's code, and the shift (degrees lon, lat) that moves it into the inset box north-east of Zealand.
BORNHOLM = "400"
BORNHOLM_SHIFT = (-2.35, 2.30)


def normalise_code(code: Any) -> str:
    """A municipality code as the package keys it: ``"0101"``, ``"101"``, ``101`` -> ``"101"``."""
    return str(int(str(code).strip())).zfill(3)


def map_codes() -> list[str]:
    """Municipality codes in the order of the map's patches (the order of the embedded boundaries)."""
    return list(municipality_shapes())


def _xy(ring: list, shift: tuple[float, float]) -> np.ndarray:
    """A ring of (lon, lat) as projected (x, y): x = lon x cos(56°), y = lat; ``shift`` in degrees first."""
    a = np.asarray(ring, dtype=np.float64)[:, :2] + np.asarray(shift)
    a[:, 0] *= np.cos(np.deg2rad(LAT0))
    return a


def _oriented(a: np.ndarray, ccw: bool) -> np.ndarray:
    """The ring turned counter-clockwise (``ccw``) or clockwise, so holes cut out under the non-zero fill rule."""
    area = 0.5 * float(np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1]))
    return a if (area > 0) == ccw else a[::-1]


def _polygons(geometry: Mapping[str, Any]) -> list:
    return geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]


def _path(geometry: Mapping[str, Any], shift: tuple[float, float]) -> MplPath:
    """One compound path for a municipality: every part, holes cut out."""
    parts = []
    for poly in _polygons(geometry):
        for i, ring in enumerate(poly):
            a = _oriented(_xy(ring, shift), ccw=(i == 0))
            codes = np.full(len(a), MplPath.LINETO, dtype=MplPath.code_type)
            codes[0], codes[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            parts.append(MplPath(a, codes))
    return MplPath.make_compound_path(*parts)


def _shift(code: str) -> tuple[float, float]:
    return BORNHOLM_SHIFT if code == BORNHOLM else (0.0, 0.0)


@lru_cache(maxsize=1)
def _paths() -> dict[str, MplPath]:
    """Every municipality's projected path (Bornholm moved), computed once per process."""
    return {c: _path(f["geometry"], _shift(c)) for c, f in municipality_shapes().items()}


def _segments_between(group: Mapping[str, str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`_council_segments` for a mapping (cached by its items)."""
    return _council_segments(tuple(sorted(group.items())))


@lru_cache(maxsize=4)
def _council_segments(items: tuple[tuple[str, str], ...]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(borders between areas of different ``group``, coast): the councils' outlines, as projected segments.

    The boundaries share their vertices along common borders, so a segment
    that two municipalities of the same group share is inside the group and
    left out; a segment of one municipality only is coast.
    """
    group = dict(items)
    owners: dict[frozenset, list[str]] = {}
    for code, f in municipality_shapes().items():
        for poly in _polygons(f["geometry"]):
            for ring in poly:
                for a, b in zip(ring[:-1], ring[1:]):
                    owners.setdefault(frozenset((tuple(a[:2]), tuple(b[:2]))), []).append(code)
    borders, coast = [], []
    for seg, codes in owners.items():
        if len(codes) >= 2 and group.get(codes[0]) == group.get(codes[1]):
            continue
        pts = sorted(seg) if len(seg) == 2 else [next(iter(seg))] * 2
        (coast if len(codes) == 1 else borders).append(_xy(pts, _shift(codes[0])))
    return borders, coast


def _colours(values: np.ndarray, cmap: Any, norm: mcolors.Normalize) -> np.ndarray:
    """RGBA per value; NaN gets :data:`MISSING_COLOR`."""
    cm = plt.get_cmap(cmap)
    out = np.asarray(cm(norm(np.where(np.isfinite(values), values, 0.0))))
    out[~np.isfinite(values)] = mcolors.to_rgba(MISSING_COLOR)
    return out


def _norm(values: np.ndarray, vmin: float | None, vmax: float | None, center: float | None) -> mcolors.Normalize:
    fin = values[np.isfinite(values)]
    lo = float(vmin if vmin is not None else (fin.min() if len(fin) else 0.0))
    hi = float(vmax if vmax is not None else (fin.max() if len(fin) else 1.0))
    if center is not None:
        lo, hi = min(lo, center - 1e-9), max(hi, center + 1e-9)
        return mcolors.TwoSlopeNorm(vcenter=center, vmin=lo, vmax=hi)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return mcolors.Normalize(vmin=lo, vmax=hi)


def _draw(values_by_code: pd.Series, ax, cmap, title: str | None, label: str | None, hatch: set[str],
          hatch_label: str, vmin, vmax, center, council_of: Mapping[str, str] | None):
    """The one drawing routine of both maps: patches, optional council borders, Bornholm box, legend, colour bar."""
    shapes = municipality_shapes()
    codes = list(shapes)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.6))
    fig = ax.figure
    v = pd.to_numeric(values_by_code.reindex(codes), errors="coerce").to_numpy(dtype=np.float64)
    norm = _norm(v, vmin, vmax, center)
    paths = [PathPatch(_paths()[c]) for c in codes]
    coll = PatchCollection(paths, facecolors=_colours(v, cmap, norm), edgecolors="white",
                           linewidths=0.35 if council_of is None else 0.25, zorder=1)
    coll.set_gid(MUNICIPALITY_GID)
    ax.add_collection(coll)
    if hatch:
        hp = [PathPatch(_paths()[c]) for c in codes if c in hatch]
        hc = PatchCollection(hp, facecolors="none", edgecolors="#333333", linewidths=0.0, hatch="////", zorder=2)
        ax.add_collection(hc)
    if council_of is not None:
        borders, coast = _segments_between(council_of)
        ax.add_collection(LineCollection(borders, colors="#222222", linewidths=1.3, zorder=3))
        ax.add_collection(LineCollection(coast, colors="#444444", linewidths=0.5, zorder=3))
    # Bornholm's box
    b = np.vstack([_xy(r, BORNHOLM_SHIFT) for p in _polygons(shapes[BORNHOLM]["geometry"]) for r in p])
    pad = 0.06
    lo, hi = b.min(axis=0) - pad, b.max(axis=0) + pad
    ax.add_patch(Rectangle(tuple(lo), *(hi - lo), fill=False, edgecolor="#777777", linewidth=0.6, zorder=0))
    ax.text(lo[0], hi[1] + 0.03, "Bornholm", fontsize=7, color="#555555", va="bottom")
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    legend = []
    if not np.isfinite(v).all():
        legend.append(Patch(facecolor=MISSING_COLOR, edgecolor="white", label="No value"))
    if hatch:
        legend.append(Patch(facecolor="white", edgecolor="#333333", hatch="////", label=hatch_label))
    if legend:
        ax.legend(handles=legend, loc="lower left", frameon=False, fontsize=8)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=plt.get_cmap(cmap))
    fig.colorbar(sm, ax=ax, shrink=0.65, label=label or "")
    if title:
        ax.set_title(title)
    ax.text(1.0, -0.01, ATTRIBUTION, transform=ax.transAxes, fontsize=6, color="#666666", ha="right", va="top")
    return ax


def _codes_set(where: pd.Series | Any | None, key=normalise_code) -> set[str]:
    if where is None:
        return set()
    if isinstance(where, pd.Series):
        return {key(k) for k, flag in where.items() if bool(flag)}
    return {key(k) for k in where}


def municipality_map(values: pd.Series, ax=None, cmap: Any = "viridis", title: str | None = None,
                     label: str | None = None, hatch_where: pd.Series | Any | None = None,
                     hatch_label: str = "Marked", vmin: float | None = None, vmax: float | None = None,
                     center: float | None = None):
    """A choropleth of the 98 municipalities.

    In: ``values``, numbers indexed by municipality code (``"101"``; a
    4-digit ``"0101"`` or an integer is read as the same code); ``ax`` to
    draw into (default: a new figure 6.4 x 5.6 in); a matplotlib colour map;
    the title; the colour bar's label; ``hatch_where``, municipalities to
    hatch (a boolean Series by code, or codes) named ``hatch_label`` in the
    legend; the colour range (``vmin``, ``vmax``; default the values' range)
    and ``center`` for a diverging map (e.g. 0 with ``cmap="RdBu"``).
    Municipalities without a value (absent or NaN) are grey ("No value").
    Out: the axes (patches: gid :data:`MUNICIPALITY_GID`, order :func:`map_codes`).
    """
    v = pd.Series(np.asarray(values, dtype=np.float64), index=[normalise_code(c) for c in values.index])
    return _draw(v, ax, cmap, title, label, _codes_set(hatch_where), hatch_label, vmin, vmax, center, None)


def health_council_map(values: pd.Series, ax=None, cmap: Any = "viridis", title: str | None = None,
                       label: str | None = None, hatch_where: pd.Series | Any | None = None,
                       hatch_label: str = "Marked", vmin: float | None = None, vmax: float | None = None,
                       center: float | None = None):
    """A choropleth of the 17 health councils (*sundhedsråd*): each municipality in its council's colour.

    In: ``values``, numbers indexed by health-council name as in
    ``capacity_by_health_council.csv`` (``"Hovedstaden"``, ...);
    ``hatch_where``: councils to hatch (a boolean Series by name, or names);
    the other arguments as :func:`municipality_map`.  The councils' borders
    (and the coast) are drawn thick, the municipalities' thin.  A council
    without a value is grey.  Out: the axes.
    """
    council_of = {c: f["properties"]["sundhedsraad"] for c, f in municipality_shapes().items()}
    by_name = pd.Series(np.asarray(values, dtype=np.float64), index=[str(k) for k in values.index])
    v = pd.Series({c: by_name.get(h, np.nan) for c, h in council_of.items()}, dtype=np.float64)
    hatched = _codes_set(hatch_where, key=str)
    hatch = {c for c, h in council_of.items() if h in hatched}
    return _draw(v, ax, cmap, title, label, hatch, hatch_label, vmin, vmax, center, council_of)

