"""Time aggregate_cells + fit_cells on synthetic national-scale data.

Run: .venv/bin/python benchmarks/regression_cells_micro.py [n_persons]
Builds n_persons (default 6,000,000) with an intercept and 30 0/1 dummies
(19 age groups, sex, 5 regions, 4 socioeconomic groups, 4 chronic-disease
flags) and ~1,700 clinics nested in regions, then times cells without and
with the clinic split. On a busy 2-core machine OpenBLAS threads contend
and the small dense products in fit_cells can take 0.1-1 s instead of ~0.02 s;
OPENBLAS_NUM_THREADS=1 gives stable numbers.
"""

import sys
import time

import numpy as np
import pandas as pd

from model.core.regression import aggregate_cells, fit_cells


def synthetic(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = {"Intercept": np.ones(n, dtype=np.int8)}
    for name, levels in {"age": 19, "region": 5, "ses": 4}.items():
        v = rng.integers(0, levels, n)
        for lev in range(1, levels):
            cols[f"{name}_{lev}"] = (v == lev).astype(np.int8)
        if name == "region":
            region = v
    cols["female"] = (rng.random(n) < 0.5).astype(np.int8)
    for k in range(4):
        cols[f"chronic_{k}"] = (rng.random(n) < 0.1).astype(np.int8)
    X = pd.DataFrame(cols)
    beta = rng.normal(300, 200, X.shape[1])
    y = np.maximum(X.to_numpy(np.float64) @ beta + rng.standard_t(3, n) * 800, 0.0)
    clinic = region * 340 + rng.integers(0, 340, n)  # 1,700 clinics, each within one region
    return X, y, clinic


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<42s} {time.perf_counter() - t0:7.2f} s")
    return out


def main(n: int = 6_000_000) -> None:
    Xw, yw, cw = synthetic(20_000)  # warm-up: imports, BLAS/LAPACK initialisation
    fit_cells(aggregate_cells(Xw, yw, cw), list(Xw.columns), cov_type="cluster")
    X, y, clinic = timed(f"build synthetic data ({n:,} persons)", lambda: synthetic(n))
    terms = list(X.columns)
    print(f"terms: {len(terms)} (intercept + {len(terms) - 1} dummies)")
    cells = timed("aggregate_cells (no cluster)", lambda: aggregate_cells(X, y))
    res = timed("fit_cells HC1", lambda: fit_cells(cells, terms, cov_type="HC1"))
    print(f"  cells: {res.n_cells:,}  R2: {res.rsquared:.4f}")
    cells_c = timed("aggregate_cells (cluster = clinic)", lambda: aggregate_cells(X, y, clinic))
    res_c = timed("fit_cells cluster", lambda: fit_cells(cells_c, terms, cov_type="cluster"))
    print(f"  cells: {res_c.n_cells:,}  clusters: {res_c.n_clusters:,}")
    assert np.allclose(res.params, res_c.params, rtol=1e-9, atol=1e-6)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6_000_000)
