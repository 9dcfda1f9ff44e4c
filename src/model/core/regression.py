"""Exact OLS on cells of identical regressor rows.

The capitation model regresses each citizen's use ``y`` (DKK) on 0/1 regressors
(an intercept plus ~30 dummies). At national scale (6 million persons) the
person-level design matrix is never built. Persons with identical regressor
rows (optionally also the same cluster, e.g. clinic) are collapsed into *cells*
carrying the count ``n``, ``sum_y`` and ``sum_y2``. These are sufficient
statistics for OLS: coefficients, residual sums of squares, R², the classical,
HC0/HC1 and cluster-robust (CRV1) covariances all follow exactly from them.

Results equal ``statsmodels.api.OLS(y, X).fit(cov_type=...)`` on the
person-level data, including its defaults for inference:

* ``nonrobust``: Student t with ``df_resid`` degrees of freedom;
* ``HC0``/``HC1``: normal distribution (statsmodels' ``use_t=False`` default);
* ``cluster``: normal distribution, covariance scaled by
  ``G/(G-1) * (N-1)/(N-K)`` (statsmodels' ``use_correction=True``), and
  ``df_resid_inference = G - 1`` used for t/F distributions when ``use_t=True``
  and for the robust Wald F-test.

``fvalue``/``f_pvalue``: for ``nonrobust`` the classical ``mse_model/mse_resid``
with F(df_model, df_resid); for robust covariances the Wald test that all
non-constant coefficients are zero, divided by the number of restrictions J,
with F(J, df_resid) (HC) or F(J, G-1) (cluster). This is statsmodels'
``fvalue`` and the ``f_pvalue`` it caches when ``fvalue`` is evaluated first
(statsmodels' ``f_pvalue`` evaluated *before* ``fvalue`` uses ``df_resid``).
Where the robust covariance of the J coefficients is singular (cluster-robust
with G - 1 < J) we return NaN; statsmodels warns and reports a
pinv-based number that is meaningless there.

Numerics: coefficients come from an SVD of the sqrt(n)-weighted matrix of the
distinct regressor rows (backward stable, like statsmodels' pinv). Per-cell
residual sums of squares are ``(sum_y2 - sum_y**2/n) + n*(mean_y - x'b)**2``;
the within-cell part is clipped at 0 against rounding. Its absolute rounding
error is about ``eps * sum_y2``, negligible unless a cell's mean is many orders
of magnitude larger than its spread.

Why not duckreg
---------------
duckreg 0.4.1 (``DuckRegression``/``DBRegression.fit_vcov``) computes HC1 from
the same compressed sums (count, sum, sum of squares) with the N/(N-K) factor;
run under duckdb 1.5 it matched statsmodels' HC1 to ~2e-15 relative, but it
always adds its own intercept, inverts X'WX explicitly and builds dense
cells-by-cells ``np.diag(n)`` matrices, and through its ibis-framework 12
dependency it fails with our pinned duckdb 2.0.0 (``fetch_arrow_table``
removed). It has no analytic clustered standard errors, only a random cluster
bootstrap (50 replications: SEs 0.9-1.17x statsmodels' CRV1 in our check).
Its ``summary()`` is a dict of two unnamed arrays (estimates, standard
errors): no p-values, confidence intervals, R², nobs or term names. It meets
one of our three requirements, so we keep this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from model.errors import ConfigError, EstimationError, InputError

__all__ = ["CellOLSResults", "aggregate_cells", "fit_cells"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


# ---------------------------------------------------------------------------
# grouping identical rows
# ---------------------------------------------------------------------------


def _is_binary(a: np.ndarray) -> bool:
    if a.dtype == bool:
        return True
    return bool(np.issubdtype(a.dtype, np.integer) and a.size and a.min() >= 0 and a.max() <= 1)


def _combine(codes: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of the pairs (codes, other), numbered in lexicographic order."""
    other_codes, other_uniques = pd.factorize(other, sort=True)
    joint = codes.astype(np.int64) * len(other_uniques) + other_codes
    joint, uniques = pd.factorize(joint, sort=True)
    return joint, len(uniques)


def _row_codes(columns: Sequence[np.ndarray], n_rows: int) -> tuple[np.ndarray, int]:
    """Integer code per row so that identical rows share a code.

    Input: equally long 1-d arrays (the columns). Output: ``(codes, n_unique)``
    with codes in ``[0, n_unique)`` numbered in lexicographic order of the rows'
    content, so the numbering does not depend on the order of the rows.
    Each column becomes a digit (0/1 integer columns as they are, others via
    ``pd.factorize``); digits are packed mixed-radix into int64 words, and the
    words are factorized.
    """
    words: list[np.ndarray] = []
    word, size = np.zeros(n_rows, dtype=np.int64), 1
    for col in columns:
        if _is_binary(col):
            digit, radix = col, 2
        else:
            digit, uniques = pd.factorize(col, sort=True)
            if (digit < 0).any():
                raise InputError("regressor or cluster columns contain missing values")
            radix = max(len(uniques), 1)
        if size * radix >= 2**62:
            words.append(word)
            word, size = np.zeros(n_rows, dtype=np.int64), 1
        word *= radix
        word += digit
        size *= radix
    words.append(word)
    codes, uniques = pd.factorize(words[0], sort=True)
    n_codes = len(uniques)
    for word in words[1:]:
        codes, n_codes = _combine(codes, word)
    return codes, n_codes


def _any_row_of_each(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Index of one row (the last) carrying each code."""
    idx = np.empty(n_codes, dtype=np.intp)
    idx[codes] = np.arange(len(codes))
    return idx


def aggregate_cells(X: pd.DataFrame, y, cluster=None) -> pd.DataFrame:
    """Collapse person-level data into cells of identical regressor rows.

    Input: ``X`` with one column per term (0/1 values, possibly an
    ``Intercept`` column of ones), ``y`` of the same length (finite numbers),
    and optionally ``cluster`` labels (e.g. clinic ids) of the same length.
    Output: one row per distinct (term row[, cluster]) with the term columns
    (original dtypes), ``n`` (persons), ``sum_y``, ``sum_y2`` and, if given,
    ``cluster``. Rows are ordered by their content, so shuffling persons
    does not change the cells.
    """
    y = np.asarray(y, dtype=float)
    n_rows = len(X)
    if y.shape != (n_rows,):
        raise InputError(f"y must be 1-d with {n_rows} values, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise InputError("y contains NaN or infinite values")
    columns = [X[c].to_numpy() for c in X.columns]
    if cluster is not None:
        cluster = np.asarray(cluster)
        if cluster.shape != (n_rows,):
            raise InputError(f"cluster must be 1-d with {n_rows} values, got shape {cluster.shape}")
        if pd.isna(cluster).any():
            raise InputError("cluster contains missing labels")
    codes, n_cells = _row_codes(columns + ([] if cluster is None else [cluster]), n_rows)
    first = _any_row_of_each(codes, n_cells)
    out = {c: col[first] for c, col in zip(X.columns, columns)}
    out["n"] = np.bincount(codes, minlength=n_cells)
    out["sum_y"] = np.bincount(codes, weights=y, minlength=n_cells)
    out["sum_y2"] = np.bincount(codes, weights=y * y, minlength=n_cells)
    if cluster is not None:
        out["cluster"] = cluster[first]
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------


def _rank_error(A: np.ndarray, terms: list[str], rank: int) -> ValueError:
    """ValueError naming empty and collinear terms of the weighted design A."""
    empty = [t for j, t in enumerate(terms) if not A[:, j].any()]
    collinear, kept = [], []
    for j, t in enumerate(terms):
        if t in empty:
            continue
        if np.linalg.matrix_rank(A[:, kept + [j]]) <= len(kept):
            collinear.append(t)
        else:
            kept.append(j)
    parts = [f"design is rank deficient (rank {rank} < {len(terms)} terms)"]
    if empty:
        parts.append(f"empty terms (zero for every person): {empty}")
    if collinear:
        parts.append(f"collinear terms (linear combinations of earlier terms): {collinear}")
    return ValueError("; ".join(parts))


def _constant(Xu: np.ndarray) -> tuple[int, int | None]:
    """statsmodels' (k_constant, const_idx) for the distinct rows Xu."""
    const = np.flatnonzero((Xu.max(axis=0) == Xu.min(axis=0)) & (Xu[0] != 0))
    if const.size:
        return 1, int(const[0])  # full rank => at most one constant column
    augmented = np.column_stack([np.ones(len(Xu)), Xu])
    implicit = np.linalg.matrix_rank(augmented) == np.linalg.matrix_rank(Xu)
    return int(implicit), None


def fit_cells(
    cells: pd.DataFrame,
    terms: list[str],
    cov_type: str = "HC1",
    cluster_col: str = "cluster",
    alpha: float = 0.05,
    use_t: bool | None = None,
) -> CellOLSResults:
    """OLS of person-level y on ``terms`` from cell sums.

    Input: ``cells`` with the term columns, ``n``, ``sum_y``, ``sum_y2`` (as
    from :func:`aggregate_cells`; rows may repeat a regressor row, e.g. split by
    cluster; rows with ``n == 0`` are ignored) and, for ``cov_type="cluster"``,
    the cluster label in ``cluster_col``. ``cov_type`` is one of "nonrobust",
    "HC0", "HC1", "cluster"; ``alpha`` sets the default confidence level of
    ``summary_frame``/``summary``; ``use_t`` as in statsmodels (default: t for
    nonrobust, normal otherwise).
    Output: :class:`CellOLSResults`, equal to statsmodels' person-level
    ``OLS(y, X[terms]).fit(cov_type=...)``.
    Raises ValueError for a rank-deficient design (naming the empty or
    collinear terms), unknown cov_type, missing columns or no residual df.
    """
    if cov_type not in COV_TYPES:
        raise ConfigError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    terms = list(terms)
    needed = terms + ["n", "sum_y", "sum_y2"] + ([cluster_col] if cov_type == "cluster" else [])
    missing = [c for c in needed if c not in cells.columns]
    if missing:
        raise InputError(f"cells lack columns {missing}")
    n_all = cells["n"].to_numpy()
    if (n_all < 0).any():
        raise InputError("cell counts n must be non-negative")
    keep = n_all > 0
    cells = cells[keep] if not keep.all() else cells
    n = cells["n"].to_numpy(dtype=float)
    sy = cells["sum_y"].to_numpy(dtype=float)
    syy = cells["sum_y2"].to_numpy(dtype=float)
    columns = [cells[t].to_numpy() for t in terms]
    N, K = int(n.sum()), len(terms)

    # distinct regressor rows u: weighted design A = sqrt(n_u) x_u
    codes, n_u = _row_codes(columns, len(cells))
    Xu = np.column_stack([c[_any_row_of_each(codes, n_u)] for c in columns]).astype(float)
    nu = np.bincount(codes, weights=n, minlength=n_u)
    A = np.sqrt(nu)[:, None] * Xu
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    rank = int((s > s.max(initial=0) * max(A.shape) * np.finfo(float).eps).sum())
    if rank < K:
        raise _rank_error(A, terms, rank)
    df_resid = N - K
    if df_resid <= 0:
        raise EstimationError(f"need more persons than terms (N={N}, K={K})")
    b = np.bincount(codes, weights=sy, minlength=n_u) / np.sqrt(nu)
    params = Vt.T @ ((U.T @ b) / s)
    bread = (Vt.T / s**2) @ Vt  # (X'WX)^-1

    fitted = (Xu @ params)[codes]
    mean_y = sy / n
    within = np.clip(syy - sy * mean_y, 0.0, None)
    ssr_c = within + n * (mean_y - fitted) ** 2
    ssr = float(ssr_c.sum())
    ybar = sy.sum() / N
    centered_tss = float((within + n * (mean_y - ybar) ** 2).sum())
    uncentered_tss = float(syy.sum())
    scale = ssr / df_resid

    n_clusters = None
    df_inference = float(df_resid)
    if cov_type == "nonrobust":
        cov = scale * bread
    elif cov_type in ("HC0", "HC1"):
        ssr_u = np.bincount(codes, weights=ssr_c, minlength=n_u)
        cov = bread @ ((Xu * ssr_u[:, None]).T @ Xu) @ bread
        if cov_type == "HC1":
            cov *= N / df_resid
    else:
        g, labels = pd.factorize(cells[cluster_col].to_numpy())
        if (g < 0).any():
            raise InputError(f"column {cluster_col!r} has missing cluster labels")
        G = n_clusters = len(labels)
        if G < 2:
            raise EstimationError("cluster-robust covariance needs at least 2 clusters")
        e = sy - n * fitted  # per-cell sum of residuals
        scores = np.column_stack([np.bincount(g, weights=c * e, minlength=G) for c in columns])
        cov = bread @ (scores.T @ scores) @ bread
        cov *= G / (G - 1) * (N - 1) / df_resid
        df_inference = float(G - 1)
    cov = (cov + cov.T) / 2

    k_constant, const_idx = _constant(Xu)
    return CellOLSResults(
        terms=terms,
        params=params,
        cov=cov,
        cov_type=cov_type,
        use_t=(cov_type == "nonrobust") if use_t is None else bool(use_t),
        nobs=N,
        df_resid_inference=df_inference,
        k_constant=k_constant,
        const_idx=const_idx,
        ssr=ssr,
        centered_tss=centered_tss,
        uncentered_tss=uncentered_tss,
        n_cells=len(cells),
        n_clusters=n_clusters,
        alpha=alpha,
    )


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


class CellOLSResults:
    """Results of :func:`fit_cells`, mirroring statsmodels' RegressionResults.

    Series/DataFrames are indexed by term name. Holds only plain numbers and
    arrays, so it pickles.
    """

    def __init__(
        self,
        *,
        terms: list[str],
        params: np.ndarray,
        cov: np.ndarray,
        cov_type: str,
        use_t: bool,
        nobs: int,
        df_resid_inference: float,
        k_constant: int,
        const_idx: int | None,
        ssr: float,
        centered_tss: float,
        uncentered_tss: float,
        n_cells: int,
        n_clusters: int | None,
        alpha: float = 0.05,
    ):
        self.terms = list(terms)
        self._params = np.asarray(params, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.cov_type = cov_type
        self.use_t = use_t
        self.nobs = nobs
        self.df_model = float(len(terms) - k_constant)
        self.df_resid = float(nobs - len(terms))
        self.df_resid_inference = df_resid_inference
        self.k_constant = k_constant
        self.const_idx = const_idx
        self.ssr = ssr
        self.centered_tss = centered_tss
        self.uncentered_tss = uncentered_tss
        self.n_cells = n_cells
        self.n_clusters = n_clusters
        self.alpha = alpha

    # --- coefficients and inference --------------------------------------
    @property
    def params(self) -> pd.Series:
        return pd.Series(self._params, index=self.terms, name="params")

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients (term x term)."""
        return pd.DataFrame(self._cov, index=self.terms, columns=self.terms)

    @property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self._cov)), index=self.terms, name="bse")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("tvalues")

    def _sf(self, x: np.ndarray) -> np.ndarray:
        """Upper tail of the reference distribution (t with the inference df, or normal): scipy.stats' own
        formulas (``t.sf`` = ``stdtr(df, -x)``, ``norm.sf`` = ``ndtr(-x)``) from ``scipy.special``, which
        imports in half the time of ``scipy.stats``."""
        return special.stdtr(self.df_resid_inference, -x) if self.use_t else special.ndtr(-x)

    def _ppf(self, q: float) -> float:
        """Quantile of the reference distribution (``t.ppf`` = ``stdtrit``, ``norm.ppf`` = ``ndtri``)."""
        return float(special.stdtrit(self.df_resid_inference, q) if self.use_t else special.ndtri(q))

    @property
    def pvalues(self) -> pd.Series:
        p = 2 * self._sf(np.abs(self.tvalues.to_numpy()))
        return pd.Series(p, index=self.terms, name="pvalues")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Two-sided (1 - alpha) intervals: DataFrame with columns 0 (low), 1 (high)."""
        q = self._ppf(1 - alpha / 2)
        half = q * self.bse.to_numpy()
        return pd.DataFrame({0: self._params - half, 1: self._params + half}, index=self.terms)

    # --- fit statistics --------------------------------------------------
    @property
    def ess(self) -> float:
        return (self.centered_tss if self.k_constant else self.uncentered_tss) - self.ssr

    @property
    def rsquared(self) -> float:
        return 1 - self.ssr / (self.centered_tss if self.k_constant else self.uncentered_tss)

    @property
    def rsquared_adj(self) -> float:
        return 1 - (self.nobs - self.k_constant) / self.df_resid * (1 - self.rsquared)

    @property
    def mse_resid(self) -> float:
        return self.ssr / self.df_resid

    @property
    def mse_model(self) -> float:
        return self.ess / self.df_model if self.df_model else np.nan

    @property
    def scale(self) -> float:
        return self.mse_resid

    def _ftest(self) -> tuple[float, float]:
        if self.df_model == 0:
            return np.nan, np.nan
        if self.cov_type == "nonrobust":
            F = self.mse_model / self.mse_resid
            return F, float(special.fdtrc(self.df_model, self.df_resid, F))
        if self.k_constant and self.const_idx is None:  # implicit constant: statsmodels gives nan
            return np.nan, np.nan
        idx = [j for j in range(len(self.terms)) if j != self.const_idx]
        b, cov = self._params[idx], self._cov[np.ix_(idx, idx)]
        if np.linalg.matrix_rank(cov) < len(idx):  # e.g. fewer clusters than terms
            return np.nan, np.nan
        wald = float(b @ np.linalg.solve(cov, b))
        F = wald / len(idx)
        return F, float(special.fdtrc(len(idx), self.df_resid_inference, F))

    @property
    def fvalue(self) -> float:
        """Classical F (nonrobust) or robust Wald F that all non-constant terms are 0."""
        return self._ftest()[0]

    @property
    def f_pvalue(self) -> float:
        return self._ftest()[1]

    # --- prediction and reporting -----------------------------------------
    def predict(self, exog: pd.DataFrame) -> pd.Series:
        """Linear prediction x'b for a DataFrame holding the term columns (persons or cells)."""
        X = exog[self.terms].to_numpy(dtype=float)
        return pd.Series(X @ self._params, index=exog.index, name="predicted")

    def summary_frame(self, alpha: float | None = None) -> pd.DataFrame:
        """One row per term: term, estimate, std_error, t, p, ci_low, ci_high."""
        ci = self.conf_int(self.alpha if alpha is None else alpha)
        return pd.DataFrame(
            {
                "term": self.terms,
                "estimate": self._params,
                "std_error": self.bse.to_numpy(),
                "t": self.tvalues.to_numpy(),
                "p": self.pvalues.to_numpy(),
                "ci_low": ci[0].to_numpy(),
                "ci_high": ci[1].to_numpy(),
            }
        )

    def summary(self, alpha: float | None = None):
        """statsmodels ``summary2.Summary`` (``str()``, ``as_text()``, ``as_html()``)."""
        from statsmodels.iolib.summary2 import Summary

        info = {
            "Model:": "OLS on cells",
            "Covariance type:": self.cov_type,
            "Inference:": f"t({self.df_resid_inference:g})" if self.use_t else "normal",
            "No. observations:": f"{self.nobs:,}",
            "No. cells:": f"{self.n_cells:,}",
            "No. clusters:": "" if self.n_clusters is None else f"{self.n_clusters:,}",
            "Df model:": f"{self.df_model:g}",
            "Df residuals:": f"{self.df_resid:g}",
            "R-squared:": f"{self.rsquared:.4f}",
            "Adj. R-squared:": f"{self.rsquared_adj:.4f}",
            "F-statistic:": f"{self.fvalue:.4g}",
            "Prob (F-statistic):": f"{self.f_pvalue:.4g}",
        }
        smry = Summary()
        smry.add_title("OLS regression on cells of identical regressors")
        smry.add_dict(info, ncols=2)
        smry.add_df(self.summary_frame(alpha).set_index("term"), float_format="%.4f")
        return smry

    def __repr__(self) -> str:
        return (
            f"<CellOLSResults cov_type={self.cov_type!r} nobs={self.nobs} "
            f"terms={len(self.terms)} cells={self.n_cells}>"
        )
