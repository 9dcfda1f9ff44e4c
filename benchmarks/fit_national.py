"""Benchmark: the package's fit vs the naive person-level statsmodels fit.

Usage::

    python benchmarks/fit_national.py --persons 1000000
    python benchmarks/fit_national.py --persons 6025511 [--skip-naive]

Generates one year of synthetic data (cached under ``--work``), then times in
separate processes (so each peak memory is its own):

(a) naive: ``statsmodels.formula.api.ols(...).fit(cov_type="HC1")`` on the
    person-level data (the design matrix is built by patsy/formulaic);
(b) package: parquet -> validation-free load -> fit (both variants) ->
    weights -> capacities -> clinic numbers -> all output files.

Prints both times, their ratio, peak RSS of each and the largest relative
difference between the two sets of coefficients and HC1 standard errors.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_package(data: str, out: str) -> dict:
    from model.analyses.fit import run_model, write_run
    from model.config import ModelConfig
    from model.inputs.tables import load_inputs

    t0 = time.perf_counter()
    cfg = ModelConfig(year=2025, planning_year=2026)
    inputs = load_inputs(data, cfg.year, hashes=False, insurance_group=cfg.insurance_group)
    t_load = time.perf_counter() - t0
    run = run_model(inputs, cfg)
    write_run(run, out, inputs)
    total = time.perf_counter() - t0
    f = run.fits["base"]
    return {"seconds": total, "load_seconds": t_load, "stages": run.timings, "peak_mb": _peak_mb(),
            "params": f.params.to_dict(), "bse": f.bse.to_dict(), "nobs": int(f.nobs)}


def child_naive(data: str) -> dict:
    import numpy as np
    import statsmodels.formula.api as smf

    from model.config import ModelConfig
    from model.core import features as ft
    from model.inputs.tables import read_clinics, read_persons

    cfg = ModelConfig(year=2025, planning_year=2026)
    p = read_persons(Path(data) / "persons.parquet", cfg.year)
    c = read_clinics(Path(data) / "clinics.csv")
    t0 = time.perf_counter()
    p = p[p["insurance_group"] == 1]
    form = p["clinic_id"].astype(str).map(c.set_index("clinic_id")["practice_form"])
    p = p[~form.isin(cfg.excluded_practice_forms).to_numpy()]
    f = ft.person_factors(p, cfg)
    X = ft.design_matrix(f, cfg)  # named dummies, person level
    X = X.drop(columns="Intercept").astype(np.float64)
    X.columns = [f"t{i}" for i in range(X.shape[1])]
    names = [t for t in ft.term_names(cfg) if t != "Intercept"]
    X["y"] = ft.outcome(p, cfg)
    formula = "y ~ " + " + ".join(X.columns[:-1])
    res = smf.ols(formula, data=X).fit(cov_type="HC1")
    secs = time.perf_counter() - t0
    rename = dict(zip([f"t{i}" for i in range(len(names))], names))
    return {"seconds": secs, "peak_mb": _peak_mb(), "nobs": int(res.nobs),
            "params": {rename.get(k, k): v for k, v in res.params.items()},
            "bse": {rename.get(k, k): v for k, v in res.bse.items()}}


def _run_child(kind: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--work", default="/tmp/fordelingsmodel-bench")
    ap.add_argument("--skip-naive", action="store_true", help="skip the person-level statsmodels fit (needs ~9 GB at 6 million)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        res = child_package(*rest) if kind == "package" else child_naive(*rest)
        print(json.dumps(res))
        return

    data = Path(a.work) / f"persons_{a.persons}"
    if not (data / ".complete").exists():
        from model.inputs.synthetic import generate

        t0 = time.perf_counter()
        generate(data, persons=a.persons, years=[2025], services=False)
        (data / ".complete").touch()
        print(f"generated {a.persons:,} persons in {time.perf_counter() - t0:.1f} s -> {data}")

    pkg = _run_child("package", str(data), str(Path(a.work) / f"run_{a.persons}"))
    print(f"package fit, parquet to all outputs: {pkg['seconds']:.2f} s (load {pkg['load_seconds']:.2f} s), "
          f"peak {pkg['peak_mb']:.0f} MB, {pkg['nobs']:,} persons in the base fit")
    print("  stages:", ", ".join(f"{k} {v:.2f}s" for k, v in pkg["stages"].items()))
    if a.skip_naive:
        print("naive person-level statsmodels fit: skipped (--skip-naive)")
        return
    naive = _run_child("naive", str(data))
    print(f"naive statsmodels ols(...).fit(cov_type='HC1'): {naive['seconds']:.2f} s, peak {naive['peak_mb']:.0f} MB")
    print(f"ratio naive / package: {naive['seconds'] / pkg['seconds']:.1f}x time, "
          f"{naive['peak_mb'] / pkg['peak_mb']:.1f}x memory")

    def rel(a_, b_):
        return max(abs(a_[k] - b_[k]) / max(abs(b_[k]), 1e-12) for k in b_)

    print(f"max relative difference: coefficients {rel(pkg['params'], naive['params']):.2e}, "
          f"HC1 standard errors {rel(pkg['bse'], naive['bse']):.2e}")


if __name__ == "__main__":
    main()
