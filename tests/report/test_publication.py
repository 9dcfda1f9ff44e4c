"""The annual report as a publication: honest about its data, self-contained, text that follows the run.

One render of the shipped example folder (3,000 synthetic citizens, 2024-2025) with changed settings
(1,500 citizens per capacity, an area floor of 30 km², clinic numbers rounded to 100), in English and
Danish.  The pages are read as a reviewer reads them: a synthetic-data banner on every page, no absolute
path, no reference to a file outside the repository, no stale constant of the default settings, every
link resolves, and the Danish page uses Danish number formats.  A headless Chromium screenshots the first
screen of each page (skipped only where the browser is missing and ``FORDELINGSMODEL_REQUIRE_BROWSER`` is
not set, as it is in CI).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from model.report import annual
from model.report import html as rhtml
from model.report import method as rmethod

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "small"
SETTINGS = {"citizens_per_capacity": 1500.0, "km2_per_capacity": 30.0, "clinic_rounding_step": 100}
CHROMIUM = Path("/usr/bin/chromium")
#: Working notes and folders that exist only on the developers' machines.
OUTSIDE = re.compile(r"CALIBRATION\.md|MODEL\.md|PRACTICES\.md|\.\./shared|/work/shared")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The report rendered as a user renders it: ``python -m model report ... --set`` (in this process)."""
    from model import cli

    out = tmp_path_factory.mktemp("pub") / "2025"
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v:g}")]
    assert cli.main(["report", "--year", "2025", "--data", str(EXAMPLE), "--out", str(out), *sets]) == 0
    return out


def pages(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.html"))}


def visible_text(page: str) -> str:
    """The page's text as a reader sees it (no CSS, scripts or embedded images)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", page)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_every_page_is_there(published):
    names = set(pages(published))
    assert {"annual_report.html", "annual_report.da.html", "fit.html", "data_checks.html", "stability.html",
            "sensitivity.html", "method.html", "synthetic_data_calibration.html"} <= names


def test_synthetic_banner_on_every_data_page(published):
    for name, page in pages(published).items():
        if name.startswith(("method", "synthetic_data_calibration")):
            continue  # documents, not results
        assert 'class="data-banner"' in page, name
        assert ("Syntetiske data" if name.endswith(".da.html") else "Synthetic data") in page, name
    # the data's own manifest decides, not the folder's name: a copy without synthetic_manifest.json is an extract
    assert rhtml.data_banner({"folder": "default", "synthetic": False}) is None


def test_no_absolute_path_and_nothing_outside_the_repository(published, tmp_path_factory):
    for name, page in pages(published).items():
        assert rhtml.absolute_paths(page) == [], name
        text = visible_text(page)
        for root in (str(published), str(published.parent), str(ROOT), str(Path.home())):
            assert root not in text, (name, root)
        assert not OUTSIDE.search(page), (name, OUTSIDE.search(page))


def prose(page: str) -> str:
    """The page's words without its tables (where 1,600 may be a clinic's number, not a setting)."""
    return visible_text(re.sub(r"<table\b.*?</table>", " ", page, flags=re.S))


def test_no_stale_constant_after_a_parameter_change(published):
    en = prose(pages(published)["annual_report.html"])
    da = prose(pages(published)["annual_report.da.html"])
    for stale in ("1,600", "35 km²", "nearest 50", "dashed: 1,600"):
        assert stale not in en, stale
    for stale in ("1.600", "35 km²", "nærmeste 50"):
        assert stale not in da, stale
    assert "divides by 1,500" in en and "per 30 km²" in en and "nearest 100" in en
    assert "dividerer med 1.500" in da and "pr. 30 km²" in da and "nærmeste 100" in da
    # the settings reached every notebook of the chain and the manifest
    import json

    m = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert m["settings"] == SETTINGS
    for sub in ("run", "run/stability", "run/sensitivity", "previous_run"):
        cfg = json.loads((published / sub / "manifest.json").read_text(encoding="utf-8"))["config"]
        assert cfg["citizens_per_capacity"] == 1500.0 and cfg["km2_per_capacity"] == 30.0, sub


def test_every_link_resolves(published):
    found = 0
    for name, page in pages(published).items():
        for href in re.findall(r'<a\b[^>]*\shref="([^"]+)"', page):
            if href.startswith(("http://", "https://", "mailto:")):
                continue
            found += 1
            file, _, anchor = unquote(href).partition("#")  # a browser reads %C3%B8 as ø
            target = published / file if file else published / name
            assert target.is_file(), (name, href)
            if anchor:
                assert anchor in rmethod.anchors(target.read_text(encoding="utf-8")), (name, href)
    assert found > 20


def test_danish_number_formats_and_words(published):
    da = visible_text(pages(published)["annual_report.da.html"])
    en = visible_text(pages(published)["annual_report.html"])
    total = re.search(r"giver modellen (\S+) lægekapaciteter", da).group(1)
    total_en = re.search(r"the model gives (\S+) GP capacities", en).group(1)
    assert total == total_en.replace(",", ".") and "." in total
    assert "Sammenfatning" in da and "Sundhedsråd" in da and "Danmark" in da
    assert re.search(r"\b0,\d{3}\b", da) and not re.search(r"\b0\.\d{3}\b", da)  # decimal comma
    assert "Indhold" in da and 'href="#capacities"' in pages(published)["annual_report.da.html"]
    # the figures speak Danish too (their titles are the images' alternative text)
    alts = re.findall(r'<img[^>]*\salt="([^"]*)"', pages(published)["annual_report.da.html"])
    assert "Kapaciteter pr. sundhedsråd: model mod udmøntet i dag (+ råderum)" in alts
    assert "Middellevetidsfaktor pr. kommune (over 1: vejer mere)" in alts


def test_years_and_counts_are_formatted(published):
    en = visible_text(pages(published)["annual_report.html"])
    assert "2,025" not in en and "2,024" not in en
    assert not re.search(r"\b\d+\.0\b(?! ?%)", en.split("Provenance")[0]), re.findall(r"\b\d+\.0\b", en)[:5]


def test_uncertainty_in_the_summary(published):
    en = visible_text(pages(published)["annual_report.html"])
    summary = en.split("2 The data")[0]
    assert "How sure are these numbers?" in summary and "covers only the sampling error" in summary
    assert "Rounded number as here (share of draws)" in summary


def test_what_changed_is_filled_without_a_previous_report(published):
    en = visible_text(pages(published)["annual_report.html"])
    section = en.split("8 What changed since last year")[1].split("9 Release check")[0]
    assert "No previous report" not in section and "Capacities, previous (2024)" in section


def test_release_gate_and_supply_bands_in_the_report(published):
    en = visible_text(pages(published)["annual_report.html"])
    section = en.split("9 Release check and supply ratios")[1].split("10 Assumptions")[0]
    assert "Publication gate of the 2025 fit against 2024" in section and "refit_previous" in section
    assert "under 75 %" in section and "over 110 %" in section and "Supply ratio per health council" in section


def _blank(png: Path) -> bool:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    return float(np.asarray(img)[..., :3].std()) < 0.02


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("FORDELINGSMODEL_REQUIRE_BROWSER"),
                    reason="headless check needs /usr/bin/chromium (Debian package 'chromium'); CI installs it")
def test_chromium_first_screen_of_every_page(published, tmp_path):
    assert CHROMIUM.exists(), "FORDELINGSMODEL_REQUIRE_BROWSER is set but /usr/bin/chromium is missing"
    for name in pages(published):
        shot = tmp_path / (name + ".png")
        cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--disable-background-networking", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--screenshot={shot}", "--window-size=1280,900",
               (published / name).as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0 and shot.is_file(), (name, r.stderr[-1000:])
        assert shot.stat().st_size > 5_000 and not _blank(shot), f"{name}: blank or broken first screen"


def test_summary_numbers_come_from_the_run_tables(published):
    """Every number of the summary and of the floor sentence is the run's own (English and Danish)."""
    import pandas as pd

    hc = pd.read_csv(published / "run" / "capacity_by_health_council.csv")
    bm = pd.read_csv(published / "run" / "capacity_by_municipality.csv", dtype={"municipality_code": str})
    en = prose(pages(published)["annual_report.html"])
    da = prose(pages(published)["annual_report.da.html"])
    n = int(hc["capacities"].sum())
    allocated = float(hc["counted_allocation"].sum())
    head = hc.loc[hc["headroom"] > 0, "headroom"].sum()
    assert f"the model gives {n:,} GP capacities" in en and f"giver modellen {n:,} lægekapaciteter".replace(",", ".") in da
    assert f"Today {allocated:,.0f} capacities are allocated" in en
    assert f"({head:,.0f} capacities in all)" in en and f"({head:,.0f} kapaciteter i alt)".replace(",", ".") in da
    assert f"is {100 * n / 5000:.0f} % of that goal" in en
    binds = bm["floor_binds"].astype(str).str.lower().isin(["true", "1"])
    assert f"The area floor binds in {int(binds.sum())} of {len(bm)} municipalities" in en
    assert f"Arealgulvet er bindende i {int(binds.sum())} af {len(bm)} kommuner" in da


def test_report_set_reaches_every_notebook_and_the_manifest(published):
    """``report --set``: the fit uses it, every executed notebook received it, the manifest records it, and the
    stability and sensitivity analyses and the previous year were computed with it."""
    import json

    import nbformat

    from model.config import parse_settings, settings_text

    m = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert m["settings"] == SETTINGS
    assert all(m["config"][k] == v for k, v in SETTINGS.items())
    executed = sorted((published / "notebooks").glob("*.ipynb"))
    assert {p.name for p in executed} == {*annual.ANALYSIS_NOTEBOOKS, annual.REPORT_NOTEBOOK, "annual_report.da.ipynb"}
    text = settings_text(parse_settings(SETTINGS))
    for p in executed:
        nb = nbformat.read(p, as_version=4)
        injected = [c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and f'settings = "{text}"' in injected[0], p.name
    for sub in ("run/stability", "run/sensitivity", "previous_run"):
        cfg = json.loads((published / sub / "manifest.json").read_text(encoding="utf-8"))["config"]
        assert all(cfg[k] == v for k, v in SETTINGS.items()), sub
