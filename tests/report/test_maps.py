"""The choropleth maps of model.report.maps and the embedded boundaries they draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib import colors as mcolors

from model.inputs import reference
from model.report import maps


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _patches(ax):
    (coll,) = [c for c in ax.collections if c.get_gid() == maps.MUNICIPALITY_GID]
    return coll


def test_the_boundaries_agree_with_the_municipalities_table():
    shapes = reference.municipality_shapes()
    m = reference.municipalities()
    assert len(shapes) == 98 and list(shapes) == sorted(shapes, key=list(m["municipality_code"]).index)
    assert set(shapes) == set(m["municipality_code"])
    for code, name, council in m[["municipality_code", "kommune", "sundhedsraad"]].itertuples(index=False):
        p = shapes[code]["properties"]
        assert (p["kommune"], p["sundhedsraad"]) == (name, council)
        assert shapes[code]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert shapes["101"]["properties"]["kommune"] == "København"


def test_the_boundaries_are_package_data_with_their_attribution():
    import tomllib

    root = reference.data_path("municipalities.geojson").parents[3]
    pkg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["model"]
    assert "data/*.geojson" in pkg and "data/*.md" in pkg
    readme = reference.data_path("README.md").read_text(encoding="utf-8")
    assert "municipalities.geojson" in readme and "CC BY 4.0" in readme and "DAGI" in readme


def test_municipality_map_one_patch_per_municipality_coloured_by_its_value():
    codes = maps.map_codes()
    values = pd.Series(np.arange(len(codes), dtype=float), index=codes)
    values.index = ["0" + c if c == "101" else c for c in codes]  # a 4-digit code is the same municipality
    values.iloc[codes.index("147")] = np.nan  # Frederiksberg: no value
    ax = maps.municipality_map(values, cmap="viridis", title="t", label="l")
    coll = _patches(ax)
    assert len(coll.get_paths()) == 98
    face = coll.get_facecolors()
    norm = mcolors.Normalize(vmin=0, vmax=len(codes) - 1)
    i = codes.index("101")
    assert np.allclose(face[i], plt.get_cmap("viridis")(norm(float(i))))
    assert np.allclose(face[codes.index("147")], mcolors.to_rgba(maps.MISSING_COLOR))
    assert ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["No value"]
    assert any(maps.ATTRIBUTION == t.get_text() for t in ax.texts)


def test_missing_municipalities_are_grey_and_hatching_is_drawn():
    values = pd.Series({"101": 1.0, "751": 2.0})  # only København and Aarhus
    ax = maps.municipality_map(values, hatch_where=pd.Series({"751": True, "101": False}), hatch_label="Flag")
    face = _patches(ax).get_facecolors()
    grey = np.all(np.isclose(face, mcolors.to_rgba(maps.MISSING_COLOR)), axis=1)
    assert grey.sum() == 96
    hatched = [c for c in ax.collections if c.get_hatch() == "////"]
    assert len(hatched) == 1 and len(hatched[0].get_paths()) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["No value", "Flag"]


def test_health_council_map_colours_each_municipality_by_its_council():
    m = reference.municipalities()
    councils = sorted(m["sundhedsraad"].unique())
    assert len(councils) == 17
    values = pd.Series(np.arange(17, dtype=float) - 8, index=councils)
    ax = maps.health_council_map(values, cmap="RdBu", center=0)
    coll = _patches(ax)
    face = coll.get_facecolors()
    codes = maps.map_codes()
    council_of = dict(zip(m["municipality_code"], m["sundhedsraad"]))
    for h in councils:  # every municipality of a council has the council's colour
        rows = [face[codes.index(c)] for c in codes if council_of[c] == h]
        assert all(np.allclose(r, rows[0]) for r in rows)
    hov = [face[codes.index(c)] for c in ("101", "147")]  # both in Hovedstaden
    assert np.allclose(hov[0], hov[1])
    norm = mcolors.TwoSlopeNorm(vcenter=0, vmin=-8, vmax=8)
    assert np.allclose(hov[0], plt.get_cmap("RdBu")(norm(values["Hovedstaden"])))
    # the councils' borders: fewer segments than all municipal borders, drawn thicker
    lines = [c for c in ax.collections if c.get_gid() != maps.MUNICIPALITY_GID and c.get_linewidths()[0] > 1]
    assert len(lines) == 1 and 0 < len(lines[0].get_segments())


def test_a_council_without_value_is_grey():
    ax = maps.health_council_map(pd.Series({"Hovedstaden": 3.0}))
    face = _patches(ax).get_facecolors()
    grey = np.all(np.isclose(face, mcolors.to_rgba(maps.MISSING_COLOR)), axis=1)
    m = reference.municipalities()
    assert (~grey).sum() == (m["sundhedsraad"] == "Hovedstaden").sum()
