"""Cell-based OLS (model.core.regression) against person-level statsmodels OLS."""

import pickle

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from model.core.regression import CellOLSResults, aggregate_cells, fit_cells

COV_TYPES = ["nonrobust", "HC0", "HC1", "cluster"]

# statsmodels warns when a robust Wald F has more restrictions than clusters - 1
pytestmark = pytest.mark.filterwarnings("ignore:covariance of constraints does not have full rank")


def make_data(seed, n_persons, n_factors, y_kind, n_clusters, rare=False):
    """Person-level design (Intercept + dummies of random factors), y and clusters."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"Intercept": np.ones(n_persons, dtype=np.int64)})
    for f in range(n_factors):
        levels = rng.integers(0, int(rng.integers(2, 5)), n_persons)
        for lev in np.unique(levels)[1:]:
            X[f"f{f}_{lev}"] = (levels == lev).astype(np.int64)
    if rare:  # a dummy held by 1-3 persons: ill-conditioned X'X
        X["rare"] = 0
        X.loc[rng.choice(n_persons, int(rng.integers(1, 4)), replace=False), "rare"] = 1
    signal = X.to_numpy() @ rng.normal(0, 500, X.shape[1])
    if y_kind == "normal":
        y = 2000 + signal + rng.normal(0, 800, n_persons)
    elif y_kind == "lognormal_zeros":  # heavy right tail and a mass at 0, like GP use in DKK
        y = np.exp(rng.normal(7, 1.5, n_persons)) * (rng.random(n_persons) < 0.7)
    else:  # very heavy tails of both signs
        y = signal + 100 * rng.standard_t(1.5, n_persons)
    cluster = rng.integers(0, n_clusters, n_persons)
    return X, y, cluster


def sm_fit(X, y, cluster, cov_type):
    kw = {"groups": cluster} if cov_type == "cluster" else None
    return sm.OLS(y, X.astype(float)).fit(cov_type=cov_type, cov_kwds=kw)


def close(ours, theirs, rtol=1e-8, scale=None):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    atol = 1e-10 * (np.max(np.abs(theirs)) if scale is None else scale)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def assert_matches(res, ref):
    close(res.params, ref.params)
    close(res.bse, ref.bse)
    close(res.cov_params(), ref.cov_params())
    close(res.tvalues, ref.tvalues)
    close(res.pvalues, ref.pvalues, rtol=1e-6, scale=1e-2)  # tiny p-values amplify t's rounding
    close(res.conf_int(), ref.conf_int())
    close(res.conf_int(alpha=0.1), ref.conf_int(alpha=0.1))
    close([res.ssr, res.centered_tss, res.mse_resid], [ref.ssr, ref.centered_tss, ref.mse_resid])
    close([res.rsquared, res.rsquared_adj], [ref.rsquared, ref.rsquared_adj], scale=1)
    assert (res.nobs, res.df_model, res.df_resid) == (ref.nobs, ref.df_model, ref.df_resid)
    assert res.use_t == ref.use_t
    if np.isnan(res.fvalue):  # singular robust covariance: statsmodels warns, we give NaN
        assert res.cov_type == "cluster" and res.n_clusters - 1 < res.df_model
        return
    close(res.fvalue, ref.fvalue)  # statsmodels caches f_pvalue when fvalue is read first
    close(res.f_pvalue, ref.f_pvalue, rtol=1e-6, scale=1e-2)


designs = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_persons": st.integers(50, 2000),
        "n_factors": st.integers(3, 6),
        "y_kind": st.sampled_from(["normal", "lognormal_zeros", "student_t"]),
        "n_clusters": st.integers(5, 40),
        "rare": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None)
@given(design=designs, cov_type=st.sampled_from(COV_TYPES))
def test_matches_statsmodels_person_level(design, cov_type):
    X, y, cluster = make_data(**design)
    terms = list(X.columns)
    cells = aggregate_cells(X, y, cluster=cluster)
    assert cells["n"].sum() == len(y)
    if np.linalg.matrix_rank(X.to_numpy(float)) < len(terms):  # chance collinearity
        with pytest.raises(ValueError, match="rank deficient"):
            fit_cells(cells, terms, cov_type=cov_type)
        return
    res = fit_cells(cells, terms, cov_type=cov_type)
    assert_matches(res, sm_fit(X, y, cluster, cov_type))
    assert res.n_cells == len(cells)
    assert res.n_clusters == (len(np.unique(cluster)) if cov_type == "cluster" else None)
    if cov_type != "cluster":  # the same fit from cells not split by cluster
        res2 = fit_cells(aggregate_cells(X, y), terms, cov_type=cov_type)
        close(res2.params, res.params, rtol=1e-10)
        close(res2.bse, res.bse, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(design=designs, seed=st.integers(0, 2**32 - 1))
def test_shuffling_persons_changes_nothing(design, seed):
    X, y, cluster = make_data(**design)
    perm = np.random.default_rng(seed).permutation(len(y))
    Xs = X.iloc[perm].reset_index(drop=True)
    cells = aggregate_cells(X, y, cluster)
    cells_s = aggregate_cells(Xs, y[perm], cluster[perm])
    cols = list(X.columns) + ["n", "cluster"]
    pd.testing.assert_frame_equal(cells[cols], cells_s[cols])
    close(cells_s[["sum_y", "sum_y2"]], cells[["sum_y", "sum_y2"]], rtol=1e-12)
    if np.linalg.matrix_rank(X.to_numpy(float)) < X.shape[1]:
        return
    for cov_type in COV_TYPES:
        a = fit_cells(cells, list(X.columns), cov_type)
        b = fit_cells(cells_s, list(X.columns), cov_type)
        close(b.params, a.params, rtol=1e-12)
        close(b.bse, a.bse, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(design=designs, c=st.floats(1e-3, 1e6))
def test_scaling_y_scales_params_and_bse(design, c):
    X, y, cluster = make_data(**design)
    if np.linalg.matrix_rank(X.to_numpy(float)) < X.shape[1]:
        return
    terms = list(X.columns)
    for cov_type in COV_TYPES:
        a = fit_cells(aggregate_cells(X, y, cluster), terms, cov_type)
        b = fit_cells(aggregate_cells(X, c * y, cluster), terms, cov_type)
        close(b.params, c * a.params, rtol=1e-9)
        close(b.bse, c * a.bse, rtol=1e-9)
        assert b.rsquared == pytest.approx(a.rsquared, rel=1e-9, abs=1e-12)


def _small():
    return make_data(seed=1, n_persons=500, n_factors=3, y_kind="lognormal_zeros", n_clusters=12)


def test_empty_dummy_raises_naming_term():
    X, y, _ = _small()
    X["never"] = 0
    with pytest.raises(ValueError, match=r"empty terms.*'never'"):
        fit_cells(aggregate_cells(X, y), list(X.columns))


def test_collinear_dummy_raises_naming_term():
    X, y, _ = _small()
    first = [c for c in X.columns if c.startswith("f0_")]
    X["f0_base"] = 1 - X[first].sum(axis=1)  # full set of f0 levels + intercept
    with pytest.raises(ValueError, match=r"collinear terms.*'f0_base'"):
        fit_cells(aggregate_cells(X, y), list(X.columns))


def test_ill_conditioned_design_matches_statsmodels():
    rng = np.random.default_rng(3)
    n = 50_000
    d1 = (rng.random(n) < 0.3).astype(np.int8)
    d2 = d1.copy()
    d2[np.flatnonzero(d1)[:2]] = 0  # differs from d1 in two persons only
    single = np.zeros(n, dtype=np.int8)
    single[5] = 1  # a dummy held by one person
    X = pd.DataFrame({"Intercept": np.ones(n, np.int8), "d1": d1, "d2": d2, "single": single,
                      "e": (rng.random(n) < 0.5).astype(np.int8)})
    y = np.exp(rng.normal(7, 1.5, n)) * (rng.random(n) < 0.7)
    cluster = rng.integers(0, 30, n)
    for cov_type in COV_TYPES:
        res = fit_cells(aggregate_cells(X, y, cluster), list(X.columns), cov_type)
        assert_matches(res, sm_fit(X, y, cluster, cov_type))


def test_cluster_labels_may_be_strings_and_cells_with_zero_n_are_ignored():
    X, y, cluster = _small()
    labels = np.array([f"clinic-{g:03d}" for g in cluster], dtype=object)
    cells = aggregate_cells(X, y, labels)
    assert set(cells["cluster"]) == set(labels)
    padded = pd.concat([cells, cells.head(3).assign(n=0, sum_y=0.0, sum_y2=0.0)], ignore_index=True)
    res = fit_cells(padded, list(X.columns), cov_type="cluster")
    assert_matches(res, sm_fit(X, y, labels, "cluster"))
    assert res.n_clusters == len(set(labels))
    with_t = fit_cells(cells, list(X.columns), cov_type="cluster", use_t=True)  # t(G - 1)
    ref_t = sm.OLS(y, X.astype(float)).fit(
        cov_type="cluster", cov_kwds={"groups": labels}, use_t=True
    )
    assert_matches(with_t, ref_t)


def test_model_without_intercept_matches_statsmodels():
    X, y, cluster = _small()
    X = X.drop(columns="Intercept")  # no constant, not implicit either
    for cov_type in COV_TYPES:
        assert_matches(fit_cells(aggregate_cells(X, y, cluster), list(X.columns), cov_type),
                       sm_fit(X, y, cluster, cov_type))


def test_results_object_api_and_pickle():
    X, y, cluster = _small()
    res = fit_cells(aggregate_cells(X, y, cluster), list(X.columns), cov_type="HC1", alpha=0.1)
    assert isinstance(res, CellOLSResults)
    frame = res.summary_frame()
    assert list(frame.columns) == ["term", "estimate", "std_error", "t", "p", "ci_low", "ci_high"]
    close(frame["ci_low"], res.conf_int(alpha=0.1)[0])
    assert "Intercept" in res.summary().as_text() and "<table" in res.summary().as_html()
    close(res.predict(X), sm_fit(X, y, cluster, "HC1").fittedvalues)
    again = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(again.summary_frame(), res.summary_frame())


def test_aggregate_wide_design_matches_groupby():
    """More than 62 dummies (several packed words), bool columns and a cluster."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.random((3000, 70)) < 0.02, columns=[f"d{j}" for j in range(70)])
    y = rng.normal(size=3000)
    cluster = rng.integers(0, 4, 3000)
    cells = aggregate_cells(X, y, cluster)
    ref = X.assign(cluster=cluster, y=y).groupby(list(X.columns) + ["cluster"]).y
    ref = pd.DataFrame({"n": ref.size(), "sum_y": ref.sum()}).reset_index()
    pd.testing.assert_frame_equal(cells[ref.columns], ref, check_dtype=False)


def test_bad_input_raises():
    X, y, _ = _small()
    with pytest.raises(ValueError, match="cov_type"):
        fit_cells(aggregate_cells(X, y), list(X.columns), cov_type="HC3")
    with pytest.raises(ValueError, match="cluster"):
        fit_cells(aggregate_cells(X, y), list(X.columns), cov_type="cluster")
    with pytest.raises(ValueError, match="NaN"):
        aggregate_cells(X, np.where(np.arange(len(y)) == 0, np.nan, y))
