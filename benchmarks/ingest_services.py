"""Benchmark: aggregate a national year of service lines in bounded memory.

Generates N synthetic health-insurance service lines (default 100 million,
about a national year) for about 6 million persons straight to a parquet
file, chunk by chunk with pyarrow (never all lines in memory), then times
:func:`model.inputs.services.aggregate_services` on it in a fresh process and records
that process's peak resident memory (``resource.getrusage(RUSAGE_SELF)
.ru_maxrss``), with DuckDB's memory limit at 2GB by default.  Generation is
timed separately, in its own process.  The file is written under /tmp and
removed afterwards unless ``--keep``.

    .venv/bin/python benchmarks/ingest_services.py                # 100 million lines
    .venv/bin/python benchmarks/ingest_services.py --lines 1000000 --persons 100000

Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes)
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / (1024 if sys.platform == "darwin" else 1)


def generate(path: str, lines: int, persons: int, clinics: int, chunk: int, seed: int, year: int) -> dict:
    """Write ``lines`` service lines to ``path`` in chunks of ``chunk`` rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    # IDs as zero-padded strings (kept as strings: leading zeros matter)
    person_ids = pa.array(np.char.zfill(np.arange(1, persons + 1).astype(str), 10).astype(object), pa.string())
    clinic_numbers = rng.choice(np.arange(1, 999_999), clinics, replace=False)
    clinic_ids = pa.array(np.char.zfill(clinic_numbers.astype(str), 6).astype(object), pa.string())
    home_clinic = rng.integers(0, clinics, persons)
    # service codes: consultations, phone, e-mail, ... plus the local ultrasound codes 4350-4360 (rare)
    common = ["0101", "0105", "0106", "0120", "0121", "0125", "0201", "0204", "0411", "0421", "2101", "2149", "7101", "7102"]
    local = [str(c) for c in range(4350, 4361)]
    codes = pa.array(common + local + ["4349", "4361"], pa.string())
    p_common = np.full(len(common), 0.99 / len(common))
    p_local = np.full(len(local), 0.009 / len(local))
    probs = np.concatenate([p_common, p_local, [0.0005, 0.0005]])
    base_fee = np.concatenate([rng.uniform(30, 160, len(common)), np.full(len(local), 287.16), [150.0, 150.0]])
    # heavier users: person weights from a gamma distribution
    w = rng.gamma(0.8, 1.0, persons)
    cdf = np.cumsum(w / w.sum())

    schema = pa.schema(
        [
            ("person_id", pa.string()),
            ("clinic_id", pa.string()),
            ("year", pa.int16()),
            ("week", pa.int8()),
            ("service_code", pa.string()),
            ("count", pa.int16()),
            ("fee", pa.float64()),
        ]
    )
    written = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while written < lines:
            n = min(chunk, lines - written)
            pidx = np.minimum(np.searchsorted(cdf, rng.random(n)), persons - 1)
            cidx = home_clinic[pidx].copy()
            other = rng.random(n) < 0.05  # 5 % of lines at another clinic (emergency cover, moves)
            cidx[other] = rng.integers(0, clinics, int(other.sum()))
            code_idx = rng.choice(len(codes), n, p=probs)
            count = np.where(rng.random(n) < 0.97, 1, rng.integers(2, 4, n)).astype(np.int16)
            fee = np.round(base_fee[code_idx] * count * rng.uniform(0.95, 1.05, n), 2)
            neg = rng.random(n) < 0.01  # corrections
            fee[neg] = -np.round(fee[neg] * rng.uniform(0.1, 1.0, int(neg.sum())), 2)
            batch = pa.record_batch(
                [
                    person_ids.take(pa.array(pidx)),
                    clinic_ids.take(pa.array(cidx)),
                    pa.array(np.full(n, year, np.int16)),
                    pa.array(rng.integers(1, 54, n).astype(np.int8)),
                    codes.take(pa.array(code_idx)),
                    pa.array(count),
                    pa.array(fee),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=1_000_000)
            written += n
    return {
        "lines": written,
        "persons": persons,
        "clinics": clinics,
        "generate_seconds": round(time.perf_counter() - t0, 1),
        "file_bytes": os.path.getsize(path),
        "generate_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def aggregate(path: str, year: int, memory_limit: str, threads: int | None, main_clinic: bool) -> dict:
    sys.path.insert(0, str(SRC))
    import pandas as pd  # noqa: F401  (imported before timing: its cost is not the aggregation's)

    from model.inputs.services import aggregate_services

    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    df = aggregate_services(path, year, memory_limit=memory_limit, threads=threads, main_clinic=main_clinic)
    secs = time.perf_counter() - t0
    return {
        "aggregate_seconds": round(secs, 1),
        "aggregate_peak_rss_mb": round(_peak_rss_mb(), 1),
        "rss_before_aggregate_mb": round(rss0, 1),
        "result_rows": int(len(df)),
        "result_lines": int(df["n_lines"].sum()),
        "result_bytes_in_pandas": int(df.memory_usage(deep=True).sum()),
        "negative_person_totals": int((df["gross_fee"] < 0).sum()),
        "persons_with_local_services": int((df["local_services_fee"] != 0).sum()),
        "memory_limit": memory_limit,
        "threads": threads,
        "main_clinic": main_clinic,
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-12:])
        raise RuntimeError(f"benchmark phase failed ({' '.join(args[:2])}):\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000_000)
    ap.add_argument("--persons", type=int, default=6_000_000)
    ap.add_argument("--clinics", type=int, default=1_800)
    ap.add_argument("--chunk", type=int, default=5_000_000, help="lines generated and written per chunk")
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--seed", type=int, default=20250630)
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-main-clinic", action="store_true", help="skip the main-clinic aggregation level")
    ap.add_argument("--path", default=None, help="parquet file (default: under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument("--reuse", action="store_true", help="aggregate an existing --path file (no generation)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--phase", choices=["all", "generate", "aggregate"], default="all", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.phase == "generate":
        print(json.dumps(generate(a.path, a.lines, a.persons, a.clinics, a.chunk, a.seed, a.year)))
        return 0
    if a.phase == "aggregate":
        print(json.dumps(aggregate(a.path, a.year, a.memory_limit, a.threads, not a.no_main_clinic)))
        return 0

    path = a.path or f"/tmp/bench_services_{a.lines}_{os.getpid()}.parquet"
    common = ["--path", path, "--year", str(a.year)]
    try:
        res = {"path": path}
        if a.reuse:
            import pyarrow.parquet as pq

            res.update({"lines": pq.ParquetFile(path).metadata.num_rows, "file_bytes": os.path.getsize(path),
                        "generate_seconds": None})
        else:
            res.update(_child(["--phase", "generate", *common, "--lines", str(a.lines), "--persons", str(a.persons),
                               "--clinics", str(a.clinics), "--chunk", str(a.chunk), "--seed", str(a.seed)]))
        agg_args = ["--phase", "aggregate", *common, "--memory-limit", a.memory_limit]
        if a.threads is not None:
            agg_args += ["--threads", str(a.threads)]
        if a.no_main_clinic:
            agg_args += ["--no-main-clinic"]
        res.update(_child(agg_args))
        res["lines_per_second"] = round(res["lines"] / res["aggregate_seconds"]) if res["aggregate_seconds"] else None
        res["cpu_count"] = os.cpu_count()
    finally:
        if not a.keep and not a.reuse and os.path.exists(path):
            os.unlink(path)
    text = json.dumps(res, indent=2)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
