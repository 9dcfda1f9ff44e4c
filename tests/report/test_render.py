"""The report chain end to end on small synthetic data, and the clinic sheets.

One report is rendered per test session (module fixture, about half a
minute): 20,000 synthetic citizens, two years, no service lines.  The tests
read it: no code in the HTML, no outside request, no count below 5, a
failing notebook leaves it untouched, a second render is identical, and a
headless Chromium opens it offline (skipped when ``/usr/bin/chromium`` is
not installed: Debian package ``chromium``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from model import errors
from model.report import annual
from model.report import annual_tables as at
from model.report import clinic_sheets as rcs
from model.report import display as rdisp
from model.report import html as rhtml
from model.report import notebooks as rnb

rhtml._skip_slow_iri_checker()  # before nbformat is first imported (see model/report/html.py)

import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
YEAR = 2025
CHROMIUM = Path("/usr/bin/chromium")
HTML_PAGES = ("annual_report.html", "fit.html", "data_checks.html")

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------------------
# helpers


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as a list of rows of cell texts (stdlib only)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._span = int(dict(attrs).get("colspan") or 1)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._row.extend([""] * (self._span - 1))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables_of(html: str) -> list[pd.DataFrame]:
    """The page's tables as data frames of strings, header from the first row."""
    p = _Tables()
    p.feed(html)
    out = []
    for rows in p.tables:
        if len(rows) >= 2:
            width = len(rows[0])
            body = [r + [""] * (width - len(r)) if len(r) < width else r[:width] for r in rows[1:]]
            out.append(pd.DataFrame(body, columns=[f"{c}#{i}" if rows[0].count(c) > 1 else c
                                                   for i, c in enumerate(rows[0])]))
    return out


_COUNT = re.compile(r"\b(citizens|persons|patients|patienter|borgere)\b", re.I)
_NOT_COUNT = re.compile(r"weighted|mean|minimum|per |share|average|weight|vægt|%|andel|tillæg|bidrag", re.I)


def small_counts(html: str, danish: bool = False) -> list[tuple[str, str]]:
    """(column, value) of every count of 1-4 persons shown in a table of the page."""
    bad = []
    for df in tables_of(html):
        for col in df.columns:
            if not (_COUNT.search(col) and not _NOT_COUNT.search(col)):
                continue
            for v in df[col]:
                v = v.strip()
                if not v or v.startswith("<"):
                    continue
                text = v.replace(".", "").replace(",", ".") if danish else v.replace(",", "")
                try:
                    x = float(text)
                except ValueError:
                    continue
                if 0 < x < 5:
                    bad.append((col, v))
    return bad


_OUTSIDE = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//"""
                      r"""|url\(\s*["']?\s*(?:https?:)?//|@import)""", re.I)


def outside_refs(html: str) -> list[str]:
    return [html[m.start(): m.end() + 60] for m in _OUTSIDE.finditer(html)]


def body_of(html: str) -> str:
    return html[html.index("<body"):]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def data(small_report) -> Path:
    """3,000 synthetic citizens in 2024-2025 (the session's ``small_report`` data, tests/conftest.py)."""
    return small_report[0]


@pytest.fixture(scope="module")
def report(small_report) -> Path:
    """The annual report of 2025 rendered from :func:`data` (shared with tests/report/test_disclosure.py)."""
    return small_report[1]


# ---------------------------------------------------------------------------
# the report folder


def test_report_folder_contents(report):
    for name in ("annual_report.html", "fit.html", "data_checks.html", "manifest.json", "validation.json",
                 "notebooks/fit.ipynb", "notebooks/data_checks.ipynb", "notebooks/annual_report.ipynb",
                 "run/manifest.json", "run/coefficients.csv", "run/capacity_by_health_council.csv",
                 "run/checks/data_by_health_council.csv"):
        assert (report / name).is_file(), name
    m = json.loads((report / "manifest.json").read_text())
    for key in ("inputs", "parameters", "versions", "commit", "timings_seconds", "config", "outputs", "validation"):
        assert key in m, key
    assert set(m["inputs"]) >= {"persons.parquet", "clinics.csv", "municipalities.csv", "population_projection.csv"}
    for nb in ("fit.ipynb", "data_checks.ipynb", "annual_report.ipynb"):
        assert m["timings_seconds"][nb]["execute"] > 0
    assert m["parameters"]["annual_report.ipynb"]["run_dir"] == "run"
    assert all((report / f).is_file() for f in m["outputs"])
    assert not list(report.parent.glob(f".{report.name}.tmp-*")), "temporary folder left behind"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o777 & ~mask, "report folder not readable as the umask allows"


@pytest.mark.parametrize("page", HTML_PAGES)
def test_html_has_no_code(report, page):
    body = body_of((report / page).read_text(encoding="utf-8"))
    assert "jp-InputPrompt" not in body and "jp-OutputPrompt" not in body
    assert "jp-InputArea-editor" not in body and 'class="highlight' not in body
    code_cells = re.findall(r'<div (?:id="[^"]*" )?class="jp-Cell jp-CodeCell[^"]*"', body)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)
    for snippet in ("import ", "rdisp.show_table", "ModelConfig().replace", "plt.show"):
        assert snippet not in body, snippet


@pytest.mark.parametrize("name", ["fit.ipynb", "data_checks.ipynb", "annual_report.ipynb"])
def test_executed_notebooks_show_only_what_they_mean_to(report, name):
    """Every output is a deliberate display (table, text, figure): no stray repr, no error, no traceback."""
    nb = nbformat.read(report / "notebooks" / name, as_version=4)
    kinds = {o.get("output_type") for c in nb.cells if c.cell_type == "code" for o in c.outputs}
    assert kinds <= {"display_data", "stream"}, kinds
    html = (report / name.replace(".ipynb", ".html")).read_text(encoding="utf-8")
    for stray in ("PosixPath(", "<Figure size", "&lt;Figure size", "Traceback", "<matplotlib"):
        assert stray not in html, stray


@pytest.mark.parametrize("page", HTML_PAGES)
def test_html_makes_no_outside_request(report, page):
    html = (report / page).read_text(encoding="utf-8")
    assert outside_refs(html) == []
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() or not re.search(r"<script[^>]+src=", html, re.I)


def test_report_sections_and_figures(report):
    html = (report / "annual_report.html").read_text(encoding="utf-8")
    heads = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    numbers = [int(m.group(1)) for h in heads if (m := re.match(r"\s*(\d+) ", re.sub("<[^>]+>", "", h)))]
    assert numbers == list(range(1, 12))  # 1 Summary ... 9 Release check and supply, 10 Assumptions, 11 Provenance
    # two years of data: section 7 shows stability and sensitivity (not a placeholder)
    assert "Stability from year to year" in html and "Sensitivity analyses: each variant against the base model" in html
    imgs = re.findall(r'<img[^>]*src="([^"]{0,30})', html)
    assert len(imgs) >= 5 and all(s.startswith("data:image/png;base64,") for s in imgs)
    for field in ("citizens_per_capacity", "km2_per_capacity", "clinic_rounding_step", "excluded_practice_forms"):
        assert field in html, field


@pytest.mark.parametrize("page", HTML_PAGES)
def test_no_count_below_five(report, page):
    html = (report / page).read_text(encoding="utf-8")
    assert tables_of(html), "no tables found"
    assert small_counts(html) == []


def test_masking_shows_in_the_report(report):
    """The small data have municipalities and clinic groups under 5: they appear as <5, never as numbers."""
    html = (report / "annual_report.html").read_text(encoding="utf-8")
    assert "&lt;5" in html


def test_failing_notebook_leaves_previous_report(report, data, tmp_path):
    nbs = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbs)
    nb = nbformat.read(nbs / "fit.ipynb", as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if "ModelConfig().replace(" in c.source)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell('raise ValueError("deliberate failure for the test")'))
    nbformat.write(nb, nbs / "fit.ipynb")
    before = digest(report)
    with pytest.raises(errors.NotebookFailed) as e:
        annual.render_report(YEAR, data, out=report, notebooks=nbs, timeout=120)
    msg = str(e.value)
    assert "fit.ipynb" in msg and f"cell {i + 2}" in msg
    assert 'raise ValueError("deliberate failure for the test")' in msg
    assert "ValueError: deliberate failure for the test" in msg
    assert e.value.cell == i + 2 and e.value.ename == "ValueError"
    assert digest(report) == before, "the previous report was touched"
    kept = report.parent / "failed" / "fit.failed.ipynb"
    assert e.value.kept_at == kept and kept.is_file()
    failed = nbformat.read(kept, as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells if c.cell_type == "code" for o in c.outputs)
    assert not list(report.parent.glob(f".{report.name}.tmp-*"))


def test_report_with_previous_year(report, tmp_path):
    """Section 8 with a previous run: changed settings and moved numbers are shown."""
    prev = tmp_path / "prev_run"
    shutil.copytree(report / "run", prev)
    m = json.loads((prev / "manifest.json").read_text())
    m["config"]["rounding"] = "nearest"
    (prev / "manifest.json").write_text(json.dumps(m))
    hc = pd.read_csv(prev / "capacity_by_health_council.csv")
    hc.loc[0, "capacities"] -= 3
    hc.to_csv(prev / "capacity_by_health_council.csv", index=False)
    out = tmp_path / "annual_report.ipynb"
    rnb.run_notebook(ROOT / "notebooks" / "annual_report.ipynb", out,
                        {"year": YEAR, "run_dir": str(report / "run"), "data_dir": "", "previous_run_dir": str(prev)},
                        cwd=tmp_path, timeout=300)
    rhtml.to_html(out, tmp_path / "r.html", "with previous")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Model settings that changed" in html and "rounding" in html and "<td>\"nearest\"</td>" in html
    assert "Capacities per health council, previous and now" in html and "Capacities, previous (2025)" in html
    assert small_counts(html) == []


# ---------------------------------------------------------------------------
# clinic sheets


def test_clinic_sheets(report, tmp_path):
    run = report / "run"
    ct = pd.read_csv(run / "clinic_minimums.csv", dtype={"clinic_id": str})
    t0 = time.perf_counter()
    n = rcs.clinic_sheets(run, tmp_path / "sheets")
    elapsed = time.perf_counter() - t0
    assert n == len(ct) and elapsed < 60
    files = sorted((tmp_path / "sheets").iterdir())
    assert len(files) == 2 * n + 1
    shown = ct[ct["listed_patients"] >= 5]  # a sheet of fewer shows no number (tests/report/test_disclosure.py)
    cid = shown.sort_values("listed_patients").iloc[len(shown) // 2]["clinic_id"]
    da = (tmp_path / "sheets" / f"{cid}.da.html").read_text(encoding="utf-8")
    en = (tmp_path / "sheets" / f"{cid}.en.html").read_text(encoding="utf-8")
    assert "Minimumspatienttal" in da and 'lang="da"' in da and f'href="{cid}.en.html"' in da
    assert "Minimum patient number" in en and f'href="{cid}.da.html"' in en
    row = ct[ct["clinic_id"] == cid].iloc[0]
    assert f"{int(row['minimum_patients']):,}" in en
    assert "1,600" in en and "1.600" in da
    for f in files:
        html = f.read_text(encoding="utf-8")
        assert outside_refs(html) == [] and "http" not in html, f.name
    for f in files[:400]:
        assert small_counts(f.read_text(encoding="utf-8"), danish=f.name.endswith(".da.html")) == [], f.name


def test_one_clinic_sheet_and_unknown_clinic(report, tmp_path):
    ct = pd.read_csv(report / "run" / "clinic_minimums.csv", dtype={"clinic_id": str})
    cid = ct["clinic_id"].iloc[0]
    assert rcs.clinic_sheets(report / "run", tmp_path, clinic=cid) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{cid}.da.html", f"{cid}.en.html"]
    with pytest.raises(ValueError, match="not in"):
        rcs.clinic_sheets(report / "run", tmp_path, clinic="no-such-clinic")


def test_clinic_sheets_without_profiles(report, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(report / "run", run)
    (run / "clinic_profiles.csv").unlink()
    ct = pd.read_csv(run / "clinic_minimums.csv", dtype={"clinic_id": str})
    cid = ct.loc[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= 5), "clinic_id"].iloc[0]
    assert rcs.clinic_sheets(run, tmp_path / "s", clinic=cid) == 1
    en = (tmp_path / "s" / f"{cid}.en.html").read_text(encoding="utf-8")
    assert "not part of this model run" in en and "Minimum patient number" in en


# ---------------------------------------------------------------------------
# a real browser, offline


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs /usr/bin/chromium (Debian package 'chromium')")
def test_chromium_opens_report_offline(report, tmp_path):
    page = report / "annual_report.html"
    netlog = tmp_path / "netlog.json"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}", "--dump-dom", page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert "Annual model report 2025" in dom and "1 Summary" in dom
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', dom)
    assert srcs and all(s.startswith("data:") for s in srcs)
    # the page itself requested nothing: every request in the net log was the browser's own
    # (initiator "not an origin"); a request from the page carries the file page's origin ("null")
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    page_requests = [e["params"]["url"] for e in log["events"]
                     if e["type"] == start and "url" in e.get("params", {})
                     and e["params"].get("initiator") != "not an origin"
                     and not e["params"]["url"].startswith(("file:", "data:"))]
    assert page_requests == []
    shot = tmp_path / "page.png"
    r = subprocess.run(cmd[:-2] + [f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and shot.stat().st_size > 10_000


# ---------------------------------------------------------------------------
# units (no kernel)


def test_suppress_small():
    df = pd.DataFrame({"g": list("abcd"), "persons": [0, 3, 5, 120], "mean": [1.0, 2.0, 3.0, 4.0]})
    out = rdisp.suppress_small(df, ["persons"], hide=["mean"])
    assert out["persons"].tolist() == [0, "<5", 5, 120]
    assert out["mean"].isna().tolist() == [False, True, False, False]
    assert df["persons"].tolist() == [0, 3, 5, 120], "input changed"


def test_table_html_masks_count_columns_by_default():
    df = pd.DataFrame({"Health council": ["A", "B"], "Citizens (group 1)": [2, 40], "Weighted citizens": [2.5, 3.0],
                       "Mean weight": [1.2, 0.9]})
    html = rdisp.table_html(df, hide=["Mean weight"])
    assert "&lt;5" in html and ">2<" not in html and "2.50" in html
    assert small_counts(html) == []
    assert rdisp.count_columns(df) == ["Citizens (group 1)"]


def test_to_html_refuses_outside_requests(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('<img src="https://example.org/x.png">')]
    with pytest.raises(ValueError, match="outside requests"):
        rhtml.to_html(nb, tmp_path / "x.html", "x")


def test_to_html_is_offline_and_hides_code(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"start_time": "2025-01-01T00:00:00", "duration": 1.0}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nSome text."),
                nbformat.v4.new_code_cell("secret_code = 1", execution_count=1, outputs=[
                    nbformat.v4.new_output("stream", name="stderr", text="a warning"),
                    nbformat.v4.new_output("display_data", {"text/html": "<b>shown</b>"})])]
    stderr = rhtml.to_html(nb, tmp_path / "x.html", "My title")
    html = (tmp_path / "x.html").read_text(encoding="utf-8")
    assert stderr == ["a warning"] and "a warning" not in html
    assert "<b>shown</b>" in html and "secret_code" not in html and "<title>My title</title>" in html
    assert "mathjax" not in html.lower() and "require.js" not in html.lower() and "http" not in html


def test_required_tables_are_output_tables():
    from model.analyses.fit import OUTPUT_TABLES

    assert set(annual.REQUIRED_TABLES) <= set(OUTPUT_TABLES)
    assert annual.CLINIC_PROFILES in OUTPUT_TABLES


def test_assumptions_name_real_config_fields():
    from dataclasses import fields

    from model.config import ModelConfig

    names = {f.name for f in fields(ModelConfig)}
    for a in at.ASSUMPTIONS:
        assert set(a["fields"]) <= names, a
    table = at.assumptions_table()
    assert len(table) == len(at.ASSUMPTIONS) and table["Choice"].is_unique


def test_cell_timeout_names_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\ntime.sleep(60)")]
    nbformat.write(nb, tmp_path / "slow.ipynb")
    with pytest.raises(errors.NotebookFailed) as e:
        rnb.run_notebook(tmp_path / "slow.ipynb", tmp_path / "out" / "slow.ipynb", {"x": 2}, cwd=tmp_path,
                            timeout=2, failed_dir=tmp_path / "failed")
    assert e.value.cell == 2 and e.value.ename == "CellTimeoutError" and "`import time`" in str(e.value)
    assert (tmp_path / "failed" / "slow.failed.ipynb").is_file()


def test_pages_equal_nbconvert_html_exporter(report):
    """The report's exporter skips nbconvert's BeautifulSoup pass (alt text, tabindex) and does it on the text:
    the same page as ``HTMLExporter`` once both are parsed, for every notebook of the report."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    kw = rhtml.EXPORTER_OPTIONS
    executed = sorted((report / "notebooks").glob("*.ipynb"))
    assert len(executed) >= 5
    for path in executed:
        nb, _ = rhtml.clean_for_html(nbformat.read(path, as_version=4))
        nb.cells.append(nbformat.v4.new_markdown_cell('<img src="data:image/png;base64,AAAA">'))  # no alt text
        pages = [e(**kw).from_notebook_node(nb, resources={"metadata": {"name": "x"}, "banner": "", "nav": ""})[0]
                 for e in (HTMLExporter, rhtml._report_exporter_class())]
        stock, ours = (str(BeautifulSoup(p, features="html.parser")) for p in pages)
        assert ours == stock, path.name
        assert 'tabindex="0"' in pages[1] and "No description has been provided for this image" in pages[1]
