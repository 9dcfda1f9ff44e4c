"""Benchmark: the whole processes a user runs, at national scale, in one run (issue "Speed").

Usage::

    python benchmarks/speed.py [--data DIR] [--persons 6025511] [--work /tmp/fordelingsmodel-speed]
                               [--skip-naive] [--skip-evaluate] [--skip-report]

Each step is a separate process, timed from outside (wall clock, CPU time and
peak memory of that process and its children, from ``os.wait4``):

* ``synth``: national synthetic data, 5 years (skipped when ``--data`` names a folder);
* ``fit`` cold (empty cache: validation and the prepared year built) and warm
  (the same inputs again: validation stamp and prepared-year cache hit), at
  1 million and at national scale;
* the naive person-level ``statsmodels`` OLS with HC1 on the same design, as a
  whole process (read, design, fit), at 1 million and national scale, and the
  ratios;
* the what-if recompute (capacity-stage settings after a fit), timed in-process;
* ``report`` (the annual report, data present) and ``evaluate`` (the 2028
  evaluation on its own synthetic panel, data generated first and not timed),
  each cold (empty cache) and warm (run again).

Prints a table and writes it as JSON to ``<work>/speed.json``. The cache folder
(``FORDELINGSMODEL_CACHE``) is ``<work>/cache``, emptied at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _popen_rusage(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str, str, int]:
    """(wall, cpu, peak MB, stdout, stderr, returncode) of one process, measured with os.wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode()  # type: ignore[union-attr]
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out, err, proc.returncode)


def step(label: str, args: list[str], env: dict[str, str], rows: list[dict]) -> dict:
    wall, cpu, peak, out, err, rc = _popen_rusage(args, env)
    if rc != 0:
        raise RuntimeError(f"{label} failed (exit {rc}):\n{err[-3000:]}")
    row = {"step": label, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mb": round(peak)}
    rows.append(row)
    print(f"  {label:<44} {wall:>7.2f} s   cpu {cpu:>6.1f} s   peak {peak:>7,.0f} MB", flush=True)
    return {**row, "stdout": out}


WHAT_IF = """
import json, sys, time
from model.analyses.fit import run_model, what_if
from model.analyses.panel import read_year
from model.config import ModelConfig
run = run_model(read_year(sys.argv[1], 2025), ModelConfig(year=2025))
times = []
for ch in ({"citizens_per_capacity": 1500.0}, {"km2_per_capacity": None, "rounding": "nearest"},
           {"island_min_patients": 300, "clinic_rounding_step": 100, "clinic_cap": 2000.0}):
    t0 = time.perf_counter(); what_if(run, **ch); times.append(time.perf_counter() - t0)
print(json.dumps({"max_s": max(times), "times_s": times}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="a national data folder (default: generate one under --work)")
    ap.add_argument("--persons", type=int, default=6_025_511)
    ap.add_argument("--work", default="/tmp/fordelingsmodel-speed")
    ap.add_argument("--skip-naive", action="store_true", help="skip the person-level statsmodels fits (~3 min, ~9 GB)")
    ap.add_argument("--skip-report", action="store_true")
    ap.add_argument("--skip-evaluate", action="store_true")
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "FORDELINGSMODEL_CACHE": str(cache), "PYTHONPATH": str(ROOT / "src")}
    rows: list[dict] = []
    print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}")

    if a.data:
        data = Path(a.data)
    else:
        data = work / "national"
        shutil.rmtree(data, ignore_errors=True)
        step(f"synth national ({a.persons:,}, 2021-2025)", [PY, "-m", "model", "synth", "--out", str(data),
             "--persons", str(a.persons), "--years", "2021-2025"], env, rows)
    one_m = work / "one_million"
    if not (one_m / "persons.parquet").exists():
        subprocess.run([PY, "-m", "model", "synth", "--out", str(one_m), "--persons", "1000000", "--years", "2025",
                        "--no-services"], cwd=ROOT, env=env, check=True, capture_output=True)

    fits = {}
    for label, d in (("1 M", one_m), ("national", data)):
        for state in ("cold", "warm"):
            out = work / f"fit_{label.replace(' ', '')}_{state}"
            shutil.rmtree(out, ignore_errors=True)
            fits[(label, state)] = step(f"fit {label}, {state} cache", [PY, "-m", "model", "fit", "--data", str(d),
                                        "--year", "2025", "--out", str(out)], env, rows)
        if not a.skip_naive:
            fits[(label, "naive")] = step(f"naive statsmodels OLS HC1 {label}", [PY, str(ROOT / "benchmarks" /
                                          "fit_national.py"), "--child", "naive", str(d)], env, rows)
    wi = step("what-if (fit, then 3 recomputes)", [PY, "-c", WHAT_IF, str(data)], env, rows)
    what_if_s = json.loads(wi["stdout"].strip().splitlines()[-1])["max_s"]
    print(f"  what-if recompute, slowest of 3: {what_if_s * 1000:.0f} ms")
    if not a.skip_report:
        rep = work / "report"
        for state in ("cold", "warm"):  # cold: the years stability refits are prepared first; warm: cached
            shutil.rmtree(rep, ignore_errors=True)
            step(f"report (annual, data present), {state} cache", [PY, "-m", "model", "report", "--year", "2025",
                 "--data", str(data), "--out", str(rep)], env, rows)
    if not a.skip_evaluate:
        ev_data, ev = work / "evaluation_data", work / "evaluation"
        if not (ev_data / "persons.parquet").exists():
            subprocess.run([PY, "-m", "model", "synth", "--out", str(ev_data), "--persons", str(a.persons),
                            "--years", "2024-2028"], cwd=ROOT, env=env, check=True, capture_output=True)
        for state in ("cold", "warm"):  # cold: years, workbooks and validation first; warm: cached
            shutil.rmtree(ev, ignore_errors=True)
            step(f"evaluate (data present), {state} cache", [PY, "-m", "model", "evaluate", "--data", str(ev_data),
                 "--fit-year", "2025", "--out", str(ev)], env, rows)

    print("\nratios (naive / ours, whole processes):")
    for label in ("1 M", "national"):
        if (label, "naive") in fits:
            n = fits[(label, "naive")]
            for state in ("cold", "warm"):
                o = fits[(label, state)]
                print(f"  {label:<9} {state}: {n['wall_s'] / o['wall_s']:5.1f}x time, "
                      f"{n['peak_mb'] / o['peak_mb']:4.1f}x memory")
    (work / "speed.json").write_text(json.dumps({"rows": rows, "what_if_max_s": what_if_s}, indent=2))
    print(f"\nwritten {work / 'speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
