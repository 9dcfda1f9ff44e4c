"""Benchmark: the what-if explorer (model.report.explorer) at national scale, as a JupyterLab user meets it.

Usage::

    python benchmarks/explorer.py [--data data/default] [--year 2025] [--work /tmp/fordelingsmodel-explorer]

Two processes, each timed from inside (wall clock, ``time.perf_counter``):

* ``cold``: an empty prepared-year cache (``FORDELINGSMODEL_CACHE=<work>/cache``, emptied first): open
  (read the year, fit, first redraw of table and map), a slider change (what-if + redraw), a variant change
  (refit) and back (kept fit), a year change, the first save (hashes the input files) and a second save,
  one clinic sheet;
* ``cached``: the same steps again with the year now in the cache.

The widgets are driven from code (a control's ``.value`` set, as the browser does); no browser is involved,
so the time the browser takes to draw is not in these figures. Prints a table; writes ``<work>/explorer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _steps(data: str, year: int, work: Path) -> dict[str, float]:
    """Time each step of a session in this process."""
    import matplotlib

    matplotlib.use("Agg")
    from model.report.explorer import Explorer, ExplorerWidgets

    out: dict[str, float] = {}
    t = time.perf_counter()
    ex = Explorer(data, year=year)
    out["open: read + fit"] = time.perf_counter() - t
    ui = ExplorerWidgets(ex, work / "scenarios")
    out["open: total incl. first redraw"] = time.perf_counter() - t
    out["open: read_year"] = ex.timings.get("read_year", 0.0)
    out["open: fit"] = ex.timings.get("fit", 0.0)
    slider, whatif, redraw = [], [], []
    for v in (1500, 1550, 1650, 1700, 1600):
        t = time.perf_counter()
        ui.controls["citizens_per_capacity"].value = v
        slider.append(time.perf_counter() - t)
        whatif.append(ex.timings["what_if"])
        redraw.append(ex.timings["redraw"])
    out["slider: what-if + redraw (median of 5)"] = statistics.median(slider)
    out["slider: what-if alone"] = statistics.median(whatif)
    out["slider: redraw alone (table, map PNG, summary, clinic)"] = statistics.median(redraw)
    t = time.perf_counter()
    ui.controls["variant"].value = "no_sex"
    out["variant change (refit) + redraw"] = time.perf_counter() - t
    t = time.perf_counter()
    ui.controls["variant"].value = "base"
    out["variant back (kept fit) + redraw"] = time.perf_counter() - t
    other = [y for y in ex.years if y != year]
    if other:
        t = time.perf_counter()
        ui.controls["year"].value = max(other)
        out[f"year change to {max(other)} (read + fit) + redraw"] = time.perf_counter() - t
        t = time.perf_counter()
        ui.controls["year"].value = year
        out[f"year back to {year} (read + fit) + redraw"] = time.perf_counter() - t
    t = time.perf_counter()
    ui.save()
    out["save (first)"] = time.perf_counter() - t
    t = time.perf_counter()
    ui.save()
    out["save (again)"] = time.perf_counter() - t
    t = time.perf_counter()
    ui.clinic.value = ex.clinic_ids()[0]
    ui.render_sheet()
    out["clinic sheet (save + render one clinic)"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT / "data" / "default"))
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--work", default="/tmp/fordelingsmodel-explorer")
    p.add_argument("--child", choices=["cold", "cached"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    work = Path(a.work)
    if a.child:
        res = _steps(a.data, a.year, work / a.child)
        (work / f"{a.child}.json").write_text(json.dumps(res, indent=2))
        return 0
    shutil.rmtree(work, ignore_errors=True)
    (work / "cache").mkdir(parents=True)
    env = dict(os.environ, FORDELINGSMODEL_CACHE=str(work / "cache"))
    results = {}
    for run in ("cold", "cached"):
        subprocess.run([sys.executable, __file__, "--data", a.data, "--year", str(a.year), "--work", str(work),
                        "--child", run], env=env, check=True)
        results[run] = json.loads((work / f"{run}.json").read_text())
    (work / "explorer.json").write_text(json.dumps(results, indent=2))
    width = max(len(k) for k in results["cold"])
    print(f"{'step':<{width}}  {'cold cache':>10}  {'cached':>8}")
    for k in results["cold"]:
        print(f"{k:<{width}}  {results['cold'][k]:>9.3f}s  {results['cached'].get(k, float('nan')):>7.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
