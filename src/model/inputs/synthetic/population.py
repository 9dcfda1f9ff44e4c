"""Population: the municipal reference context and the latest year's citizens.

:func:`_context` derives per-municipality parameters (life expectancy,
rurality, age structure, origin composition, neighbours) from the embedded
reference tables; :func:`_draw_population` draws municipality, sex and age of
the latest panel year's citizens.

The municipal age structure (:func:`_expected_age_sex`) is the national
structure of FOLK1A (1 January 2025) fitted by iterative proportional fitting
to three sets of margins: each municipality's population (FOLK1A, 1 January
2026), the national sex x age structure, and each municipality's published
old-age index (65+ per 100 aged 0-14, ``municipal_age_structure.csv``: the
municipality's own index for 48 municipalities; for the other 50 the index of
their province, tilted by rurality, :func:`_old_age_index`).  The shape of
the ages in between (young adults in the cities, fewer in the countryside)
comes from an assumed tilt by rurality (:func:`_age_tilt`), which is also
the starting point of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.errors import ConfigError
from model.inputs import reference
from model.inputs.synthetic.curves import _interp_curve, _use_probability_table
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
    contact_factor: np.ndarray  # (98,) contact share over the share the age and sex structure predicts
    morbidity: np.ndarray      # (98,) municipal shift of disease and labour-market scores, in years of life expectancy
    rural: np.ndarray          # (98,) standardised rurality
    nondk: np.ndarray          # (98,) share of non-Danish origin
    comp: np.ndarray           # (98, 3) composition menapt / western / other
    compcum: np.ndarray        # (98, 2) float32 cumulative composition (menapt, menapt + western)
    ins2: np.ndarray           # (98,) probability of insurance group 2
    pcross: np.ndarray         # (98,) probability of listing across the border
    mort_mult: np.ndarray      # (98,) mortality multiplier from life expectancy
    old_age_index: np.ndarray  # (98,) target old-age index (65+ per 100 aged 0-14), sourced or derived
    share65: np.ndarray        # (98,) target share aged 65+ (0-1), published (aged to 2025) or derived
    margins: dict              # the targets and their provenance (:func:`_old_age_index`)
    age_share: np.ndarray      # (98, 2, 126) expected share of each municipality's residents by sex and age
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
    margins = _old_age_index(codes, pop, rural)
    age_share = _fit_age_sex(rural, margins["index"], margins["share65"], pop)
    age_share /= age_share.sum(axis=(1, 2), keepdims=True)
    contact_factor, morbidity = _municipal_effects(codes, pop, delta, contact, age_share)

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
    for _ in range(60):
        share = (base[:, None] * comp * pop[:, None]).sum(0) / pop.sum()
        comp = comp * (target / share)
        comp /= comp.sum(axis=1, keepdims=True)
    # the age profile of origin is applied relative to the municipality's own mean over its age structure, so
    # each municipality's share is the one above whatever its ages (age is not counted twice)
    base = base / (age_share * _ORIGIN_AGE[None, None, :]).sum(axis=(1, 2))
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
                    le=le, delta=delta, contact=contact, contact_factor=contact_factor, morbidity=morbidity,
                    rural=rural, nondk=base, comp=comp, compcum=compcum, ins2=ins2, pcross=pcross,
                    mort_mult=np.exp(0.10 * delta), old_age_index=margins["index"], share65=margins["share65"],
                    margins=margins, age_share=age_share, nb=nb, nbcum=nbcum, lat=lat, lon=lon)


#: Years of life expectancy the municipal disease and labour-market scores shift per unit of the age-standardised
#: GP-contact share's log-odds (assumed: fewer contacts than the ages predict, less recorded disease).
CONTACT_MORBIDITY_YEARS = 8.0
#: Calibration offsets (years of life expectancy) of the municipal disease and labour-market scores: ASSUMED, set
#: so that the data reproduce the official figures of the ministry's draft model (health council Hovedstaden's
#: 449.2 capacities, Aabenraa's 1,450 patients per capacity), for which no public morbidity figure was found.
CALIBRATION_OFFSETS: dict[str, float] = {"101": -6.2, "147": -6.2, "580": 3.1}


def _municipal_effects(codes: np.ndarray, pop: np.ndarray, delta: np.ndarray, contact: np.ndarray,
                       age_share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contact factor, morbidity shift) per municipality.

    In: codes, populations, life-expectancy gap (national minus municipal,
    years), GP-contact share (0-1), age structure (98 x 2 x 126 shares).
    The contact share the age and sex structure predicts is the structure's
    mean probability of any use (:func:`_use_probability_table`); the contact
    factor is the published share over it (use applies it on top of age, so
    age is not counted twice).  The morbidity shift (years, as the
    life-expectancy gap it adds to) is the life-expectancy gap plus
    :data:`CONTACT_MORBIDITY_YEARS` times the age-standardised log-odds of
    the contact share (centred on the population-weighted mean) plus
    :data:`CALIBRATION_OFFSETS` (also centred).
    """
    expected = (age_share * _use_probability_table()[None, :, :]).sum(axis=(1, 2))
    factor = contact / expected
    resid = np.log(contact / (1 - contact)) - np.log(expected / (1 - expected))
    resid = resid - np.average(resid, weights=pop)
    offset = np.array([CALIBRATION_OFFSETS.get(str(c), 0.0) for c in codes])
    offset = offset - np.average(offset, weights=pop)  # national prevalences stay calibrated
    return factor, delta + CONTACT_MORBIDITY_YEARS * resid + offset


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


#: Share aged 65+ nationally in the years of the published municipal 65+ shares (Statistics Denmark; 2025
#: from population_age_sex_2025.csv): a published municipal share is aged to 2025 by the national ratio.
_NATIONAL_65PLUS_PCT = {2011: 16.8, 2017: 19.1, 2025: 20.9}


def _old_age_index(codes: np.ndarray, pop: np.ndarray, rural: np.ndarray) -> dict[str, np.ndarray]:
    """Target age margins per municipality from ``municipal_age_structure.csv``.

    In: the reference table's codes, populations and standardised rurality.
    Out: ``index`` (old-age index, 65+ per 100 aged 0-14), ``index_sourced``
    (the municipality's own published index), ``share65`` (target share aged
    65+, 0-1), ``share65_sourced`` and ``share65_published`` (the published
    share, percent, NaN where none), ``slope`` and ``share_fit`` (a, b).
    Sourced indices are kept.  The others (only their province's index is
    published) are derived: ``log index = log province index + slope *
    (rurality - the province's population-weighted mean rurality)``, so the
    province's population-weighted mean log index is its published one;
    ``slope`` is the least-squares slope of log index on rurality within
    region over the 48 sourced municipalities.  The 65+ share: the published
    share aged to 2025 by the national ratio where one was found; elsewhere
    the share aged 15-64 is ``a + b * rurality`` (least squares over the
    municipalities with both a published share and a sourced index) and the
    rest is split between 0-14 and 65+ by the index.
    """
    a = reference.municipal_age_structure().set_index("municipality_code").loc[list(codes)]
    idx = a["old_age_index"].to_numpy(dtype=float)
    sourced = (a["old_age_index_level"] == "municipality").to_numpy()
    group = np.where(sourced, a.index.str[:1], a["landsdel"].to_numpy(dtype=object)).astype(str)
    ly = np.log(idx)
    x, y = rural[sourced].copy(), ly[sourced].copy()
    for g in np.unique(group[sourced]):
        k = group[sourced] == g
        x[k] -= x[k].mean()
        y[k] -= y[k].mean()
    slope = float((x * y).sum() / (x * x).sum())
    out = ly.copy()
    for g in np.unique(group[~sourced]):
        k = (group == g) & ~sourced
        out[k] = ly[k] + slope * (rural[k] - np.average(rural[k], weights=pop[k]))
    pub = a["share_65plus_pct"].to_numpy(dtype=float)
    year = a["share_65plus_year"].to_numpy(dtype=object)
    has = ~np.isnan(pub)
    aged = np.full(len(codes), np.nan)
    for i in np.where(has)[0]:
        aged[i] = pub[i] * _NATIONAL_65PLUS_PCT[2025] / _NATIONAL_65PLUS_PCT[int(year[i])]
    # the share aged 15-64 falls with rurality: fitted where both a share and an index were published
    both = has & sourced
    r = np.exp(out) / 100.0
    mid = 1.0 - aged / 100.0 * (1.0 + 1.0 / r)
    b1, b0 = np.polyfit(rural[both], mid[both], 1)
    share65 = np.where(has, aged / 100.0, (1.0 - (b0 + b1 * rural)) * r / (1.0 + r))
    return dict(index=np.exp(out), index_sourced=sourced, share65=share65, share65_sourced=has,
                share65_published=pub, slope=np.array(slope), share_fit=np.array([b0, b1]))


def _fit_age_sex(rural: np.ndarray, old_age_index: np.ndarray, share65: np.ndarray, n_m: np.ndarray) -> np.ndarray:
    """Expected counts municipality x sex x age by iterative proportional fitting.

    Start: the national shares tilted by rurality (:func:`_age_tilt`; it
    shapes the ages within each band).  Margins: the municipal totals
    ``n_m``, each municipality's residents aged 65+ (``share65``) and 0-14
    (``share65`` / ``old_age_index`` x 100), and the national sex x age
    structure.  The municipal totals are met exactly, the rest to within a
    fraction of a per cent (the national margin ages all municipalities alike
    where the published figures are older than it).
    """
    nat = _national_age_sex()
    tilt = _age_tilt()
    m = nat[None, :, :] * np.exp(0.7 * rural[:, None, None] * tilt[None, None, :])
    col_target = nat * n_m.sum()
    old_t = share65 * n_m
    young_t = old_t * 100.0 / old_age_index
    mid_t = n_m - old_t - young_t
    for _ in range(60):
        for sl, t in ((slice(0, 15), young_t), (slice(15, 65), mid_t), (slice(65, None), old_t)):
            m[:, :, sl] *= (t / m[:, :, sl].sum(axis=(1, 2)))[:, None, None]
        cs = m.sum(axis=0)
        m *= np.divide(col_target, cs, out=np.zeros_like(cs), where=cs > 0)[None, :, :]
    m *= (n_m / m.sum(axis=(1, 2)))[:, None, None]
    return m


def _expected_age_sex(ctx: _Context, n_m: np.ndarray) -> np.ndarray:
    """Expected counts municipality x sex x age for ``n_m`` residents per municipality (:func:`_fit_age_sex`)."""
    return _fit_age_sex(ctx.rural, ctx.old_age_index, ctx.share65, n_m.astype(float))


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
