"""Cluster bootstrap of the capacities and clinic numbers (clinics resampled within municipalities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from model.config import ModelConfig
from model.core import capacity as cap
from model.core import chain as mc
from model.core import clinics as cl
from model.core import features as ft
from model.core.cells import YearData, clinic_cell_sums, clinic_cells, design, features, fit, forms_in_fit
from model.core.chain import ChainResult, chain

# =============================================================================
# Cluster bootstrap
# =============================================================================


@dataclass
class BootstrapResult:
    """Bootstrap draws of the capacities (health councils x draws) and clinic numbers (clinics x draws)."""

    year: int
    draws: int
    failed: int
    alpha: float
    params: np.ndarray
    health_council: pd.DataFrame
    clinics: pd.DataFrame
    hc_exact: np.ndarray
    hc_rounded: np.ndarray
    clinic_exact: np.ndarray


def _pair_matrix(Xc: np.ndarray) -> sparse.csr_matrix:
    """Sparse (cells x K²) matrix of the products x_j x_k of each cell's 0/1 design row."""
    C, K = Xc.shape
    rows, cols, vals = [], [], []
    nz = [np.flatnonzero(Xc[:, j]) for j in range(K)]
    for j in range(K):
        for k in range(K):
            both = np.intersect1d(nz[j], nz[k], assume_unique=True) if j != k else nz[j]
            if len(both):
                rows.append(both)
                cols.append(np.full(len(both), j * K + k))
                vals.append(Xc[both, j] * Xc[both, k])
    if not rows:
        return sparse.csr_matrix((C, K * K))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(C, K * K))


def bootstrap_params(yd: YearData, config: ModelConfig, draws: int = 200,
                     seed: int = 20250630) -> tuple[np.ndarray, list[str], int]:
    """Coefficients of ``draws`` cluster-bootstrap resamples of clinics (draws x terms), the terms, failed draws.

    Each draw gives every clinic of the estimation sample a multinomial count
    (resampling clinics with replacement); X'X and X'y are the count-weighted
    sums of the clinics' own X'X and X'y, built once from the (clinic, cell)
    sums.  With clinic fixed effects the clinics' within-clinic X'X and X'y
    are reweighted the same way.  Draws in which a term has no person are
    dropped (counted in ``failed``).
    """
    fc = features(yd, config)
    terms = ft.term_names(config)
    Xc = design(fc, config)[terms].to_numpy(dtype=np.float64)
    cc = clinic_cells(yd, config)
    keep = forms_in_fit(config)[cc.form(yd)] & (cc.moments[:, 0] > 0)
    n, sy, _ = (a[keep] for a in clinic_cell_sums(yd, cc, config))
    gcodes, glabels = pd.factorize(cc.clinic[keep], sort=True)
    G, C, K = len(glabels), fc.n_cells, len(terms)
    cell = cc.cell[keep]
    A = sparse.csr_matrix((n, (gcodes, cell)), shape=(G, C))
    Ay = sparse.csr_matrix((sy, (gcodes, cell)), shape=(G, C))
    XX_g = np.asarray((A @ _pair_matrix(Xc)).todense())  # G x K²
    Xy_g = Ay @ Xc  # G x K
    n_g = np.asarray(A.sum(axis=1)).ravel()
    sy_g = np.asarray(Ay.sum(axis=1)).ravel()
    fe = config.clinic_fixed_effects
    if fe:
        slope = [j for j, t in enumerate(terms) if t != "Intercept"]
        Sx = A @ Xc[:, slope]
        Ks = len(slope)
        idx = np.ix_(slope, slope)
        XX_full = XX_g.reshape(G, K, K)[:, idx[0], idx[1]]
        XX_w = XX_full - Sx[:, :, None] * Sx[:, None, :] / n_g[:, None, None]
        Xy_w = Xy_g[:, slope] - Sx * (sy_g / n_g)[:, None]
        M, v, Kb = XX_w.reshape(G, Ks * Ks), Xy_w, Ks
    else:
        M, v, Kb = XX_g, Xy_g, K
    rng = np.random.default_rng(seed)
    W = rng.multinomial(G, np.full(G, 1.0 / G), size=draws).astype(np.float64)
    XX = (W @ M).reshape(draws, Kb, Kb)
    Xy = W @ v
    diag = np.einsum("bkk->bk", XX)
    ok = (diag > 0).all(axis=1)
    beta = np.full((draws, Kb), np.nan)
    for b in np.flatnonzero(ok):
        try:
            beta[b] = np.linalg.solve(XX[b], Xy[b])
        except np.linalg.LinAlgError:
            ok[b] = False
    if fe:
        params = np.full((draws, K), np.nan)
        params[:, slope] = beta
        if "Intercept" in terms:
            wn = W @ n_g
            alpha = (W @ sy_g - np.einsum("bk,bk->b", W @ Sx, beta)) / wn
            params[:, terms.index("Intercept")] = alpha
    else:
        params = beta
    ok &= np.isfinite(params).all(axis=1)
    return params[ok], terms, int(draws - ok.sum())


def _threshold_distance(x: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Distance from each exact capacity to the nearest value where its rounded number changes."""
    x = np.asarray(x, dtype=np.float64)
    if config.rounding == "up":
        frac = x - np.floor(x)
    else:
        frac = x + 0.5 - np.floor(x + 0.5)
    return np.minimum(frac, 1 - frac)


def bootstrap(yd: YearData, config: ModelConfig, point: ChainResult | None = None, draws: int = 200,
              seed: int = 20250630, alpha: float = 0.05, params: np.ndarray | None = None) -> BootstrapResult:
    """Cluster-bootstrap intervals of capacities per health council and clinic minimum numbers.

    The coefficients are re-estimated on resampled clinics
    (:func:`bootstrap_params`, or the given ``params`` rows); each draw's
    coefficients then go through the chain for the year's whole population,
    all draws at once: the life-expectancy-corrected predicted use per
    municipality and per clinic is a matrix product of per-(area, cell) sums
    of life-expectancy factors with the cells' predictions.

    Tables: ``health_council`` (one row per health council; point values,
    bootstrap mean, standard error, percentile interval of
    ``capacities_exact``, the probability that the rounded capacity differs
    from the point estimate, the distance to the nearest rounding threshold,
    and ``near_threshold`` when the interval crosses one) and ``clinics``
    (clinics whose number comes from at least ``config.min_cell_size`` own
    listed patients).
    """
    point = point or chain(yd, config, fit(yd, config).params)
    terms = list(point.params.index)
    failed = 0
    if params is None:
        params, pterms, failed = bootstrap_params(yd, config, draws, seed)
        params = pd.DataFrame(params, columns=pterms)[terms].to_numpy()
    d = mc.draws(yd, config, point, params, terms)  # steps 3-6 for every draw: the chain's rules on matrices
    hc_exact, hc_rounded, valid = d.council_exact, d.council, d.valid
    hc_point = point.by_health_council
    hc_names = hc_point["health_council"].tolist()
    H = len(hc_names)

    q = [alpha / 2, 1 - alpha / 2]
    ex = hc_point["capacities_exact"].to_numpy(dtype=np.float64)
    rd = hc_point["capacities"].to_numpy()
    v = hc_exact[:, valid]
    lo, hi = (np.quantile(v, q, axis=1) if v.shape[1] else np.full((2, H), np.nan))
    hc_tab = pd.DataFrame({
        "year": yd.year, "health_council": hc_names,
        "region_from_2027": hc_point["region_from_2027"].to_numpy(),
        "capacities_exact": ex, "capacities": rd,
        "boot_mean": v.mean(axis=1) if v.shape[1] else np.nan,
        "boot_se": v.std(axis=1, ddof=1) if v.shape[1] > 1 else np.nan,
        "ci_low": lo, "ci_high": hi,
        "capacities_ci_low": cap.round_capacity(lo, config), "capacities_ci_high": cap.round_capacity(hi, config),
        "prob_rounded_differs": (hc_rounded[:, valid] != rd[:, None]).mean(axis=1) if v.shape[1] else np.nan,
        "distance_to_threshold": _threshold_distance(ex, config),
        "headroom": hc_point["headroom"].to_numpy(),
        "prob_headroom_sign_differs": ((hc_rounded[:, valid] - hc_point["counted_allocation"].to_numpy()[:, None] > 0)
                                       != (hc_point["headroom"].to_numpy() > 0)[:, None]).mean(axis=1) if v.shape[1] else np.nan,
    })
    hc_tab["near_threshold"] = hc_tab["capacities_ci_low"] != hc_tab["capacities_ci_high"]
    hc_tab.insert(2, "draws", int(valid.sum()))
    hc_tab["confidence"] = 1 - alpha

    # --- clinics whose number comes from their own listed patients
    ct = point.clinics
    sel = ct.set_index("clinic_id").loc[d.clinic_ids].reset_index()
    c_exact = d.clinic_exact
    cv = c_exact[:, valid]
    c_round = d.clinic[:, valid]
    mp = sel["minimum_patients"].to_numpy()
    clo, chi = (np.quantile(cv, q, axis=1) if cv.shape[1] else np.full((2, len(sel)), np.nan))
    clin = pd.DataFrame({
        "year": yd.year, "clinic_id": sel["clinic_id"].to_numpy(), "health_council": sel["health_council"].to_numpy(),
        "practice_form": sel["practice_form"].to_numpy(), "capacities": sel["capacities"].to_numpy(),
        "mean_weight": sel["mean_weight"].to_numpy(), "minimum_patients_exact": sel["minimum_patients_exact"].to_numpy(),
        "minimum_patients": mp,
        "boot_se": cv.std(axis=1, ddof=1) if cv.shape[1] > 1 else np.nan,
        "ci_low": clo, "ci_high": chi,
        "prob_rounded_differs": (c_round != mp[:, None]).mean(axis=1) if cv.shape[1] else np.nan,
    })
    clin["near_threshold"] = (cl.round_to_step(np.nan_to_num(clo), config.clinic_rounding_step)
                              != cl.round_to_step(np.nan_to_num(chi), config.clinic_rounding_step))
    return BootstrapResult(year=yd.year, draws=int(valid.sum()), failed=int(failed + (~valid).sum()), alpha=alpha,
                           params=params, health_council=hc_tab, clinics=clin, hc_exact=hc_exact, hc_rounded=hc_rounded,
                           clinic_exact=c_exact)
