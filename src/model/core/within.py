"""The within-clinic (clinic fixed effects) estimator on (clinic, cell) sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from model.core.regression import CellOLSResults, _row_codes
from model.errors import ConfigError, EstimationError

# --- clinic fixed effects: within-clinic (Frisch-Waugh) estimator on (clinic, cell) sums -------------------


def fit_within(X: pd.DataFrame, n, sum_y, sum_y2, cluster, terms: list[str], cov_type: str = "HC1") -> CellOLSResults:
    """OLS with clinic fixed effects from (clinic, cell) rows, exactly as person-level OLS with clinic dummies.

    In: ``X`` the design of each row (columns ``terms``; an ``Intercept``
    column, if among the terms, is absorbed by the clinic effects), the
    rows' ``n``, ``sum_y``, ``sum_y2`` and clinic labels ``cluster``.
    Out: :class:`~model.core.regression.CellOLSResults` whose ``Intercept`` is the
    patient-weighted mean clinic effect ᾱ = ȳ - x̄'β, so ``predict`` averages
    the clinic effects out (as in Anselmi et al.'s person-based GP workload
    formula).  The other coefficients and their HC0/HC1/cluster/nonrobust
    covariance equal statsmodels' OLS on persons with one dummy per clinic
    (degrees of freedom N - K - G).  The intercept's variance is x̄'Vx̄
    (conditional on the clinic means); R² is that of the full dummy model.
    """
    terms = list(terms)
    cluster_codes, _ = pd.factorize(np.asarray(cluster), sort=True)
    cols = [X[t].to_numpy() for t in terms]
    codes, n_u = _row_codes(cols, len(X))
    first = np.empty(n_u, dtype=np.intp)
    first[codes] = np.arange(len(codes))
    Xu = np.column_stack([c[first] for c in cols]).astype(np.float64)
    return _fit_within_cells(Xu, codes, cluster_codes, np.asarray(n, float), np.asarray(sum_y, float),
                             np.asarray(sum_y2, float), terms, cov_type)


def _fit_within_cells(Xc: np.ndarray, cell: np.ndarray, clinic: np.ndarray, n: np.ndarray, sy: np.ndarray,
                      syy: np.ndarray, terms: list[str], cov_type: str) -> CellOLSResults:
    """The within estimator on rows (cell index, clinic index, n, sum y, sum y²); ``Xc`` distinct cell rows."""
    keep = n > 0
    cell, clinic, n, sy, syy = cell[keep], clinic[keep], n[keep], sy[keep], syy[keep]
    gcodes, glabels = pd.factorize(clinic, sort=True)
    G, C = len(glabels), Xc.shape[0]
    has_icpt = "Intercept" in terms
    slope = [j for j, t in enumerate(terms) if t != "Intercept"]
    Xs = Xc[:, slope]
    K = len(slope)
    N = float(n.sum())
    A = sparse.csr_matrix((n, (gcodes, cell)), shape=(G, C))
    n_g = np.asarray(A.sum(axis=1)).ravel()
    sy_g = np.bincount(gcodes, weights=sy, minlength=G)
    Sx = A @ Xs  # G x K: sums of x per clinic
    xbar = Sx / n_g[:, None]
    n_c = np.asarray(A.sum(axis=0)).ravel()
    sy_c = np.bincount(cell, weights=sy, minlength=C)
    XtX = (Xs * n_c[:, None]).T @ Xs - (xbar * n_g[:, None]).T @ xbar
    Xty = Xs.T @ sy_c - xbar.T @ sy_g
    XtX = (XtX + XtX.T) / 2
    w, V = np.linalg.eigh(XtX)
    if w.min() <= w.max() * max(XtX.shape) * np.finfo(float).eps * 10:
        bad = [terms[slope[j]] for j in range(K) if XtX[j, j] <= 1e-12 * max(N, 1)]
        raise EstimationError("design with clinic fixed effects is rank deficient"
                         + (f"; terms constant within every clinic: {bad}" if bad else ""))
    bread = np.linalg.inv(XtX)
    bread = (bread + bread.T) / 2
    beta = bread @ Xty
    alpha_g = sy_g / n_g - xbar @ beta
    fitted = alpha_g[gcodes] + (Xs @ beta)[cell]
    ssr_r = np.clip(syy - 2 * fitted * sy + n * fitted**2, 0.0, None)
    within_r = np.clip(syy - sy * sy / n, 0.0, None)
    ssr = float(ssr_r.sum())
    ybar = sy.sum() / N
    centered_tss = float((within_r + n * (sy / n - ybar) ** 2).sum())
    df_resid = N - K - G
    if df_resid <= 0:
        raise EstimationError(f"need more persons than terms and clinics (N={N:g}, K={K}, G={G})")
    n_clusters = None
    df_inf = float(df_resid)
    if cov_type == "nonrobust":
        cov = ssr / df_resid * bread
    elif cov_type in ("HC0", "HC1"):
        S = sparse.csr_matrix((ssr_r, (gcodes, cell)), shape=(G, C))
        s_c = np.asarray(S.sum(axis=0)).ravel()
        s_g = np.asarray(S.sum(axis=1)).ravel()
        SX = S @ Xs
        meat = (Xs * s_c[:, None]).T @ Xs - xbar.T @ SX - SX.T @ xbar + (xbar * s_g[:, None]).T @ xbar
        cov = bread @ meat @ bread
        if cov_type == "HC1":
            cov *= N / df_resid
    elif cov_type == "cluster":
        e = sy - n * fitted
        E = sparse.csr_matrix((e, (gcodes, cell)), shape=(G, C))
        scores = E @ Xs - xbar * np.asarray(E.sum(axis=1)).ravel()[:, None]
        cov = bread @ (scores.T @ scores) @ bread
        cov *= G / (G - 1) * (N - 1) / df_resid
        n_clusters, df_inf = G, float(G - 1)
    else:
        raise ConfigError(f"unknown cov_type {cov_type!r}")
    cov = (cov + cov.T) / 2
    xbar_all = Sx.sum(axis=0) / N
    alpha = float(sy.sum() / N - xbar_all @ beta)
    if has_icpt:
        params = np.empty(len(terms))
        params[slope] = beta
        i0 = terms.index("Intercept")
        params[i0] = alpha
        full = np.zeros((len(terms), len(terms)))
        full[np.ix_(slope, slope)] = cov
        cross = -(xbar_all @ cov)
        full[i0, slope] = cross
        full[slope, i0] = cross
        full[i0, i0] = float(xbar_all @ cov @ xbar_all)
        cov = full
    else:
        params = beta
    res = CellOLSResults(
        terms=terms, params=params, cov=cov, cov_type=cov_type, use_t=(cov_type == "nonrobust"), nobs=int(round(N)),
        df_resid_inference=df_inf, k_constant=1, const_idx=(terms.index("Intercept") if has_icpt else None), ssr=ssr,
        centered_tss=centered_tss, uncentered_tss=float(syy.sum()), n_cells=int(len(n)), n_clusters=n_clusters,
    )
    res.df_resid = float(df_resid)
    res.df_model = float(K + G - 1)
    res.clinic_fixed_effects = True
    res.n_clinics = G
    return res
