"""Benchmark: generate the synthetic data at national scale and report time, memory and file sizes.

Usage::

    .venv/bin/python benchmarks/synth_national.py [OUT_DIR] [--persons N] [--years 2021-2025]
                                                  [--no-services] [--json RESULT.json]

Reports wall-clock time, CPU time (user + system), peak resident memory
(``resource.getrusage``, the process's maximum RSS), the generator's stage
timings and the size of every file written.  The machine's load average is
printed too: on a shared machine wall-clock time varies with other work,
CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from model.inputs import synthetic


def _years(s: str) -> list[int]:
    if "-" in s:
        a, b = s.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in s.split(",")]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?", default=None, help="output folder (default: a temporary folder)")
    ap.add_argument("--persons", type=int, default=synthetic.NATIONAL_POPULATION)
    ap.add_argument("--years", type=_years, default=list(synthetic.DEFAULT_YEARS))
    ap.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED)
    ap.add_argument("--no-services", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    tmp = None
    if args.out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="synth_national_")
        out = Path(tmp.name)
    else:
        out = Path(args.out_dir)
    load_before = os.getloadavg()
    cpu0, t0 = _cpu(), time.perf_counter()
    info = synthetic.generate(out, persons=args.persons, years=args.years, seed=args.seed,
                              services=not args.no_services, verbose=True)
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    sizes = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            sizes[str(p.relative_to(out))] = p.stat().st_size
    sm = info["summary"]
    last = str(max(args.years))
    result = {
        "persons": args.persons,
        "years": args.years,
        "services": not args.no_services,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_gb": round(peak_kb / 1024 ** 2, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "stage_seconds": info["timings"],
        "stage_cpu_seconds": info["cpu_timings"],
        "file_bytes": sizes,
        "total_mb": round(sum(sizes.values()) / 1e6, 1),
        "person_year_rows": sum(v["persons"] for v in sm["years"].values()),
        "service_lines": sm["years"][last].get("service_lines"),
        "latest_year": sm["years"][last],
        "clinics_open_latest_year": sm["clinics_open_latest_year"],
        "capacities_open_latest_year": sm["capacities_open_latest_year"],
        "island_clinics": sm["island_clinics"],
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
