"""Population: the municipal reference context and the latest year's citizens.

:func:`_context` derives per-municipality parameters (life expectancy,
rurality, origin composition, neighbours) from the embedded reference table;
:func:`_draw_population` draws municipality, sex and age of the latest
panel year's citizens (national structure of FOLK1A, tilted by rurality).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.errors import ConfigError
from model.inputs import reference
from model.inputs.synthetic.curves import _interp_curve
from model.inputs.synthetic.truth import _MAX_AGE, NATIONAL_LIFE_EXPECTANCY


def _haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


def _apportion(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, each at least ``minimum`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    if total < minimum * len(w):
        raise ConfigError(f"persons must be at least {minimum * len(w)} (one per municipality)")
    q = w / w.sum() * total
    base = np.maximum(minimum, np.floor(q)).astype(np.int64)
    rem = int(total - base.sum())
    frac = q - np.floor(q)
    if rem > 0:
        order = np.lexsort((np.arange(len(w)), -frac))
        base[order[:rem]] += 1
    while rem < 0:
        cand = np.where(base > minimum)[0]
        j = cand[np.lexsort((cand, frac[cand]))][: -rem]
        base[j] -= 1
        rem = int(total - base.sum())
    return base


_ISLAND_MUNICIPALITIES = ("825", "741", "492", "563", "482", "400")  # Læsø, Samsø, Ærø, Fanø, Langeland, Bornholm
_LOW_ORIGIN_MUNICIPALITIES = ("773", "849", "825", "840")  # Morsø, Jammerbugt, Læsø, Rebild: about 7 %
_REGION_ORDER = ("Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland")
_REGION_SLUG = {"Hovedstaden": "hovedstaden", "Sjælland": "sjaelland", "Syddanmark": "syddanmark",
                "Midtjylland": "midtjylland", "Nordjylland": "nordjylland"}


@dataclass
class _Context:
    """Per-municipality parameters (98 rows, in the reference table's order) used by every stage."""
    codes: np.ndarray          # (98,) str
    names: np.ndarray          # (98,) str
    region: np.ndarray         # (98,) int: index into _REGION_ORDER
    pop: np.ndarray            # (98,) real population 1 Jan 2026
    le: np.ndarray             # (98,) life expectancy, imputed where missing
    delta: np.ndarray          # (98,) years of life expectancy below national
    contact: np.ndarray        # (98,) share with a GP contact (0-1)
    rural: np.ndarray          # (98,) standardised rurality
    nondk: np.ndarray          # (98,) share of non-Danish origin
    comp: np.ndarray           # (98, 3) composition menapt / western / other
    compcum: np.ndarray        # (98, 2) float32 cumulative composition (menapt, menapt + western)
    ins2: np.ndarray           # (98,) probability of insurance group 2
    pcross: np.ndarray         # (98,) probability of listing across the border
    mort_mult: np.ndarray      # (98,) mortality multiplier from life expectancy
    nb: np.ndarray             # (98, 3) neighbour municipality indices (-1 none)
    nbcum: np.ndarray          # (98, 3) cumulative neighbour weights
    lat: np.ndarray
    lon: np.ndarray


def _context() -> _Context:
    """The :class:`_Context` from the embedded municipality reference table (no random draws)."""
    m = reference.municipalities()
    codes = m["municipality_code"].to_numpy(dtype=object).astype(str)
    pop = m["population_2026_01_01"].to_numpy(dtype=float)
    le = m["life_expectancy_at_birth"].to_numpy(dtype=float).copy()
    council = m["sundhedsraad"].to_numpy(dtype=object)
    for i in np.where(np.isnan(le))[0]:
        same = (council == council[i]) & ~np.isnan(m["life_expectancy_at_birth"].to_numpy())
        le[i] = float(np.average(le[same], weights=pop[same]))
    delta = NATIONAL_LIFE_EXPECTANCY - le
    region = np.array([_REGION_ORDER.index(r) for r in m["region_2007_2026"]], dtype=np.int8)
    contact = m["gp_contact_share_pct"].to_numpy(dtype=float) / 100.0
    area = m["area_km2"].to_numpy(dtype=float)
    dens = np.log(area / pop)
    rural = (dens - dens.mean()) / dens.std()
    island = np.isin(codes, _ISLAND_MUNICIPALITIES)
    rural = rural + 0.7 * island
    lat, lon = m["lat"].to_numpy(dtype=float), m["lon"].to_numpy(dtype=float)

    # origin: capital region about 23 % immigrants and descendants, elsewhere 10-14 %, 7 % in four
    ldens = -dens
    zd = (ldens - np.average(ldens, weights=pop)) / ldens.std()
    base = np.where(region == 0, 0.23, 0.125) * np.exp(0.18 * zd)
    base = np.where(np.isin(codes, _LOW_ORIGIN_MUNICIPALITIES), 0.07, base)
    base = np.clip(base, 0.05, 0.45)
    rel = base / np.average(base, weights=pop)
    fm = np.clip(0.313 * (1 + 0.7 * (rel - 1)), 0.10, 0.60)
    fw = np.clip(0.362 * (1 - 0.25 * (rel - 1)), 0.20, 0.60)
    fo = np.clip(1.0 - fm - fw, 0.15, None)
    comp = np.stack([fm, fw, fo], axis=1)
    comp /= comp.sum(axis=1, keepdims=True)
    # national calibration of each group's share (targets 5.1 / 5.9 / 5.3 %)
    target = np.array([0.051, 0.059, 0.053])
    base = base * target.sum() / np.average(base, weights=pop)
    target = target * np.array([0.965, 1.0, 1.0])  # offsets the younger (more MENAPT) cities
    for _ in range(60):
        share = (base[:, None] * comp * pop[:, None]).sum(0) / pop.sum()
        comp = comp * (target / share)
        comp /= comp.sum(axis=1, keepdims=True)
    # the age profile of origin is applied relative to its national mean
    nat = _national_age_sex().sum(axis=0)
    base = 0.965 * base / float((nat * _ORIGIN_AGE).sum())
    ins2 = 0.004 * np.where(le >= 83.0, 2.0, 1.0)

    pcross = np.where(region == 0, 0.10, 0.07)
    pcross = np.where(island, 0.01, pcross)
    # neighbours: three nearest within 45 km
    n = len(codes)
    d = _haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(d, np.inf)
    nb = np.full((n, 3), -1, dtype=np.int64)
    nbcum = np.ones((n, 3))
    for i in range(n):
        order = np.argsort(d[i], kind="stable")[:3]
        ok = d[i, order] <= 45.0
        cand = order[ok]
        if len(cand) == 0:
            pcross[i] = 0.0
            continue
        w = pop[cand] / np.maximum(d[i, cand], 5.0)
        c = np.cumsum(w) / w.sum()
        nb[i, : len(cand)] = cand
        nbcum[i, : len(cand)] = c
        nbcum[i, len(cand):] = 1.0
    compcum = np.cumsum(comp, axis=1)[:, :2].astype(np.float32)
    return _Context(codes=codes, names=m["kommune"].to_numpy(dtype=object).astype(str), region=region, pop=pop,
                    le=le, delta=delta, contact=contact, rural=rural, nondk=base, comp=comp, compcum=compcum,
                    ins2=ins2,
                    pcross=pcross, mort_mult=np.exp(0.10 * delta), nb=nb, nbcum=nbcum, lat=lat, lon=lon)


def _national_age_sex() -> np.ndarray:
    """National shares by sex (2) x single year of age (0..125), from the 5-year bands."""
    p = reference.population_age_sex()
    out = np.zeros((2, _MAX_AGE + 1))
    for s in (1, 2):
        d = p[p["sex"] == s].sort_values("age_from")
        lows = d["age_from"].to_numpy()
        tot = d["population"].to_numpy(dtype=float)
        mids = lows[:-1] + 2.0
        dens = tot[:-1] / 5.0
        ages = np.arange(0, 85)
        w = np.interp(ages, mids, dens)
        for lo, t in zip(lows[:-1], tot[:-1]):
            seg = w[lo: lo + 5]
            out[s - 1, lo: lo + 5] = seg / seg.sum() * t
        # 0-4: about 58,000 a year at 0-2, more at 3-4 (the 2021 birth peak)
        out[s - 1, 0:5] = np.array([0.965, 0.97, 0.975, 1.05, 1.04]) / 5.0 * tot[0]
        # 85+: geometric tail to 110 (mean age about 89)
        k = np.arange(0, 26)
        tail = 0.79 ** k
        out[s - 1, 85:111] = tail / tail.sum() * tot[-1]
    return out / out.sum()


def _age_tilt() -> np.ndarray:
    """Relative age profile (0..125) of thinly populated municipalities, multiplied by rurality."""
    return _interp_curve([(0, 0.0), (15, 0.05), (20, -0.15), (25, -0.45), (30, -0.4), (40, -0.05),
                          (50, 0.10), (60, 0.25), (70, 0.35), (80, 0.30), (125, 0.25)])


def _expected_age_sex(ctx: _Context, n_m: np.ndarray) -> np.ndarray:
    """Expected counts municipality x sex x age (IPF: municipal totals and the national structure)."""
    nat = _national_age_sex()
    tilt = _age_tilt()
    m = nat[None, :, :] * np.exp(0.7 * ctx.rural[:, None, None] * tilt[None, None, :])
    col_target = nat * n_m.sum()
    for _ in range(40):
        m *= (n_m / m.sum(axis=(1, 2)))[:, None, None]
        cs = m.sum(axis=0)
        m *= np.divide(col_target, cs, out=np.zeros_like(cs), where=cs > 0)[None, :, :]
    m *= (n_m / m.sum(axis=(1, 2)))[:, None, None]
    return m


def _draw_population(rng: np.random.Generator, ctx: _Context, n_m: np.ndarray):
    """The latest year's citizens: (municipality index, sex 1/2, age) per person, ``n_m[i]`` in municipality i."""
    exp = _expected_age_sex(ctx, n_m)
    ncell = exp.shape[1] * exp.shape[2]
    muni, cell = [], []
    for i in range(len(n_m)):
        p = exp[i].ravel()
        counts = rng.multinomial(int(n_m[i]), p / p.sum())
        c = np.repeat(np.arange(ncell), counts)
        cell.append(c)
        muni.append(np.full(len(c), i, dtype=np.int16))
    cell = np.concatenate(cell)
    sex = (cell // exp.shape[2] + 1).astype(np.int8)
    age = (cell % exp.shape[2]).astype(np.int16)
    return np.concatenate(muni), sex, age


_ORIGIN_AGE = _interp_curve([(0, 0.9), (17, 0.9), (20, 1.2), (27, 1.7), (38, 1.55), (48, 1.05), (58, 0.75),
                             (68, 0.45), (78, 0.25), (125, 0.2)])
