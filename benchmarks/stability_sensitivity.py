"""Benchmark: every year (stability) and every variant (sensitivity) at national scale.

Usage::

    python benchmarks/stability_sensitivity.py --data /tmp/nat [--persons 6025511] [--bootstrap 200] [--cli]

Generates the synthetic panel into ``--data`` if it is not there
(``python -m model synth --out DATA --persons N --years 2021-2025 --no-services``),
then, in one process that reads each year once:

1. sensitivity: the base and all variants of ``model.config.VARIANTS`` on
   the latest year, with the out-of-sample fit statistics (fit on the year
   before, evaluated on the latest);
2. stability: a refit on every year (fees at the latest year's prices), the
   year-on-year comparisons and their split into coefficients and
   population, and a cluster bootstrap of the latest year.

Prints wall time per stage, the seconds spent reading parquet, peak RSS and
the machine's load average (the target, under 2 minutes together on a
2-core machine, assumes the machine is not busy with other work).  With
``--cli`` it also times the two command-line verbs run one after the other
(each reads its own years).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI verbs do: small products, no thread contention
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/tmp/nat")
    ap.add_argument("--persons", type=int, default=6_025_511)
    ap.add_argument("--years", default="2021-2025")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--out", default=None, help="where to write the tables (default: a temporary folder)")
    ap.add_argument("--cli", action="store_true", help="also time the two CLI verbs")
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "persons.parquet").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "model", "synth", "--out", str(data), "--persons", str(a.persons),
                        "--years", a.years, "--no-services"], check=True, cwd=ROOT)
        print(f"generated {data} in {time.perf_counter() - t0:.1f} s")

    from model.analyses.panel import Panel
    from model.analyses.sensitivity import run_sensitivity, write_sensitivity
    from model.analyses.stability import run_stability, write_stability
    from model.config import VARIANTS, ModelConfig
    from model.inputs.panel import panel_years

    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="stab_sens_"))
    load0 = os.getloadavg()
    years = panel_years(data / "persons.parquet")
    t_all = time.perf_counter()
    panel = Panel(data, years)
    panel.want([max(years), max(years) - 1] + years)  # read in the background, in the order they are needed
    cfg = ModelConfig(year=max(years), planning_year=max(years) + 1)

    t0 = time.perf_counter()
    sens = run_sensitivity(panel, config=cfg)
    write_sensitivity(sens, out / "sensitivity")
    t_sens = time.perf_counter() - t0
    read_after_sens = panel.read_seconds

    t0 = time.perf_counter()
    stab = run_stability(panel, years=years, config=cfg, bootstrap_draws=a.bootstrap)
    write_stability(stab, out / "stability")
    t_stab = time.perf_counter() - t0
    total = time.perf_counter() - t_all
    panel.close()

    result = {
        "persons_latest_year": int(sens.facts["persons"]),
        "years": years,
        "variants": len(sens.variants) - 1,
        "bootstrap_draws": a.bootstrap,
        "seconds_total": round(total, 1),
        "seconds_sensitivity": round(t_sens, 1),
        "seconds_stability": round(t_stab, 1),
        "seconds_reading_parquet": round(panel.read_seconds, 1),
        "seconds_reading_in_sensitivity": round(read_after_sens, 1),
        "sensitivity_timings": sens.timings,
        "stability_timings": stab.timings,
        "peak_rss_mb": round(_peak_mb()),
        "load_average_before": [round(x, 2) for x in load0],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "out": str(out),
        "errors": sens.facts["errors"],
    }
    if a.cli:
        cli = {}
        for verb in ("sensitivity", "stability"):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "model", verb, "--data", str(data), "--out", str(out / f"cli_{verb}"),
                            "--no-validate"], check=True, cwd=ROOT)
            cli[verb] = round(time.perf_counter() - t0, 1)
        cli["together"] = round(sum(cli.values()), 1)
        result["cli_seconds"] = cli
    print(json.dumps(result, indent=2))
    print(f"\nall {len(years)} years + {len(VARIANTS) - 1} variants: {total:.1f} s "
          f"(sensitivity {t_sens:.1f} s, stability {t_stab:.1f} s, of which reading parquet {panel.read_seconds:.1f} s); "
          f"peak RSS {_peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
