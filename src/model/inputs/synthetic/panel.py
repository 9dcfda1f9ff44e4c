"""The panel: built backwards from the latest year.

Survivors are a year younger, some lived elsewhere (doubly constrained
migration), the newly born and the year's immigrants were not there, and the
persons who died or emigrated during the year are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.inputs.synthetic.clinics import _assign, _open_mask, _rule_tables
from model.inputs.synthetic.population import _Context, _haversine_km
from model.inputs.synthetic.traits import _draw_latent, _People
from model.inputs.synthetic.truth import _MAX_AGE


def _mortality_table() -> np.ndarray:
    """Yearly probability of death by sex (men, women) and age, at national life expectancy (assumed Gompertz)."""
    a = np.arange(_MAX_AGE + 1, dtype=float)
    q = np.exp(-10.8 + 0.098 * a)
    q = np.where(a < 30, np.where(a == 0, 0.003, np.where(a < 15, 0.0001, 0.0004)), q)
    return np.minimum(np.stack([q * 1.2, q * 0.82]), 0.5)


_MORTALITY = _mortality_table()
_AGES = np.arange(_MAX_AGE + 1)
_MOVE_RATE = np.select([_AGES < 18, _AGES < 25, _AGES < 35, _AGES < 50, _AGES < 65],
                       [0.03, 0.11, 0.08, 0.03, 0.018], 0.012)
_EMIGRATION_RATE = np.select([_AGES < 20, _AGES < 35, _AGES < 50], [0.004, 0.02, 0.008], 0.002)
#: Immigration rate by origin (Danish, then the three other groups alike) and age (assumed).
_IMMIGRATION_RATE = np.stack([
    np.where((_AGES >= 20) & (_AGES < 40), 0.004, 0.0015),
    np.select([_AGES < 18, _AGES < 25, _AGES < 35, _AGES < 50, _AGES < 65], [0.045, 0.12, 0.10, 0.05, 0.02], 0.006),
])


def _mortality(age: np.ndarray, sex: np.ndarray, muni: np.ndarray, ctx: _Context) -> np.ndarray:
    """Probability of death in the year: higher where life expectancy is lower (x exp(0.1 x years below))."""
    return np.minimum(_MORTALITY[sex.astype(np.int64) - 1, age] * ctx.mort_mult[muni], 0.5)


def _migration_kernel(ctx: _Context) -> np.ndarray:
    """Relative attraction of a move between two municipalities: mostly short moves, some long (assumed)."""
    d = _haversine_km(ctx.lat[:, None], ctx.lon[:, None], ctx.lat[None, :], ctx.lon[None, :])
    k = np.exp(-d / 40.0) + 0.03
    np.fill_diagonal(k, 0.0)
    return k


def _previous_municipality(rng: np.random.Generator, ctx: _Context, cur: np.ndarray,
                           movers_mass: np.ndarray) -> np.ndarray:
    """Municipality in the year before for persons who moved into ``cur``.

    The flows are doubly constrained (Sinkhorn scaling of a distance kernel):
    every municipality sends and receives its expected number of movers
    (``movers_mass``), so moving does not drift municipal populations apart.
    """
    k = _migration_kernel(ctx)
    m = np.maximum(movers_mass, 1e-9)
    a = np.ones(len(m))
    b = np.ones(len(m))
    for _ in range(200):
        a = m / (k @ b)
        b = m / (k.T @ a)
    flow = a[:, None] * k * b[None, :]          # flow[j, i]: into j (now) from i (before)
    cum = np.cumsum(flow, axis=1)
    cum /= cum[:, -1:]
    keys = (np.arange(len(m))[:, None] + cum).ravel()
    u = np.minimum(rng.random(len(cur)), 1.0 - 1e-9)
    j = np.searchsorted(keys, cur + u, side="right")
    return (j % len(m)).astype(np.int16)


@dataclass
class _Year:
    """The persons of one panel year: who, where they live, where they are listed."""
    idx: np.ndarray     # global person indices (int32)
    muni: np.ndarray    # int16
    clinic: np.ndarray  # int32 index into the plan


def _build_panel(rng_panel, rng_lat, ctx: _Context, plan: pd.DataFrame, people: _People,
                 latest_idx: np.ndarray, latest_muni: np.ndarray, years: list[int]) -> dict[int, _Year]:
    """The panel ``{year: _Year}``, built backwards from the latest year's citizens.

    In: the latest year's person indices and municipalities; ``people`` gains
    the persons who died or emigrated during each earlier year (their traits
    drawn from ``rng_lat``).  Every other draw comes from ``rng_panel``."""
    last = years[-1]
    panel: dict[int, _Year] = {}
    tables = {t: _rule_tables(plan, ctx, t) for t in years}
    panel[last] = _Year(latest_idx, latest_muni, _assign(rng_panel, ctx, tables[last], latest_muni))
    parent = plan["parent"].to_numpy()
    island = plan["island_doctor"].to_numpy()
    pmuni = plan["muni"].to_numpy()
    closed_year = plan["closed_year"].to_numpy()
    for t in range(last - 1, years[0] - 1, -1):
        nxt = panel[t + 1]
        by = people.birth_year[nxt.idx].astype(np.int64)
        age1 = (t + 1) - by
        born = age1 == 0
        imm = ~born & (rng_panel.random(len(by)) < _IMMIGRATION_RATE[(people.origin[nxt.idx] > 0).astype(np.int64), age1])
        keep = ~born & ~imm
        s_idx = nxt.idx[keep]
        s_age = age1[keep] - 1
        s_mu1 = nxt.muni[keep]
        s_cl1 = nxt.clinic[keep]
        s_sex = people.sex[s_idx]
        moved = rng_panel.random(len(s_idx)) < _MOVE_RATE[s_age]
        s_mu = s_mu1.copy()
        mass = np.bincount(s_mu1.astype(np.int64), weights=_MOVE_RATE[s_age], minlength=len(ctx.codes))
        s_mu[moved] = _previous_municipality(rng_panel, ctx, s_mu1[moved].astype(np.int64), mass)
        moved = s_mu != s_mu1

        # clinics of the survivors in year t
        open_t = _open_mask(plan, t)
        cl = s_cl1.copy()
        shut = ~open_t[cl]
        split_back = ~moved & shut & (parent[cl] >= 0)
        cl[split_back] = parent[cl[split_back]]
        need = moved | (shut & ~split_back)
        cl[need] = _assign(rng_panel, ctx, tables[t], s_mu[need].astype(np.int64))
        # clinics that close during year t had patients who are listed elsewhere in t+1
        closing = np.where(closed_year == t)[0]
        u = rng_panel.random(len(cl))
        if len(closing):
            tb = tables[t]
            pi = np.zeros(len(ctx.codes))
            np.add.at(pi, pmuni[closing], tb.own_share[closing])
            elig = ~moved & ~need & ~island[cl] & (pmuni[cl] == s_mu)
            hit = elig & (u < pi[s_mu])
            if hit.any():
                # choose among the municipality's closing clinics by their share
                order = closing[np.lexsort((closing, pmuni[closing]))]
                keys = np.empty(len(order))
                for m in np.unique(pmuni[order]):
                    sel = pmuni[order] == m
                    c = np.cumsum(tb.own_share[order[sel]])
                    keys[sel] = m + c / c[-1]
                v = np.minimum(u[hit] / pi[s_mu[hit]], 1 - 1e-9)
                j = np.searchsorted(keys, s_mu[hit] + v, side="right")
                cl[hit] = order[np.minimum(j, len(order) - 1)]

        # those who died or emigrated during year t: new persons, cloned from the survivors' cells
        q = _mortality(s_age, s_sex, s_mu, ctx)
        dead = rng_panel.random(len(s_idx)) < q / (1 - q)
        e = _EMIGRATION_RATE[s_age]
        emig = rng_panel.random(len(s_idx)) < e / (1 - e)
        new_idx, new_mu = [], []
        for flag, kind in ((dead, "dead"), (emig, "emigrant")):
            mu = s_mu[flag].astype(np.int64)
            sx = s_sex[flag]
            byr = (t - s_age[flag]).astype(np.int64)
            lat = _draw_latent(rng_lat, ctx, mu, sx, byr, t, kind)
            new_idx.append(people.add(mu, sx, byr, lat))
            new_mu.append(mu.astype(np.int16))
        new_mu_all = np.concatenate(new_mu)
        new_cl = _assign(rng_panel, ctx, tables[t], new_mu_all.astype(np.int64))
        panel[t] = _Year(np.concatenate([s_idx] + new_idx).astype(np.int32),
                         np.concatenate([s_mu, new_mu_all]).astype(np.int16),
                         np.concatenate([cl, new_cl]).astype(np.int32))
    return panel
