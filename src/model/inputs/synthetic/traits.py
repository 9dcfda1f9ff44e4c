"""Persistent person traits and the characteristics of one year.

:func:`_draw_latent` draws each new person's life course once (onset ages of
disease and labour-market status, civil-status ages, cancer diagnosis age);
:func:`_characteristics` reads the characteristics of a given year off them,
so disease counts never fall and ``cancer_5y`` follows the diagnosis year.
Civil status (*civilstand*, CIVST codes): U unmarried, G married, F divorced,
E widowed, P registered partnership, O dissolved partnership, L surviving partner.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from model.inputs.synthetic.curves import (
    _interp_curve,
    _logistic,
    _onset_by_sex,
    _onset_lut,
)
from model.inputs.synthetic.population import _ORIGIN_AGE, _Context
from model.inputs.synthetic.truth import _MAX_AGE, _NEVER, CHRONIC_FEE_UPTAKE


def _somatic_curves() -> np.ndarray:
    """Cumulative prevalence by age of the 7 selected somatic diseases: (7, 2 sexes, 126 ages).

    0 type 2 diabetes, 1 COPD, 2 heart failure, 3 osteoporosis, 4 asthma,
    5 rheumatoid arthritis, 6 type 1 diabetes (labels only; assumed shapes).
    """
    a = np.arange(_MAX_AGE + 1)
    spec = [  # (pmax, a50, width) men, women
        ((0.32, 67, 9), (0.25, 69, 9)),
        ((0.17, 72, 8), (0.16, 72, 8)),
        ((0.23, 82, 7), (0.19, 86, 7)),
        ((0.10, 80, 8), (0.42, 77, 8)),
        ((0.075, 10, 5), (0.085, 14, 6)),
        ((0.014, 58, 10), (0.032, 55, 10)),
        ((0.0065, 16, 7), (0.0055, 16, 7)),
    ]
    out = np.zeros((7, 2, _MAX_AGE + 1))
    for k, per_sex in enumerate(spec):
        for s, (pm, a50, w) in enumerate(per_sex):
            out[k, s] = pm * _logistic((a - a50) / w)
    return np.maximum.accumulate(out, axis=2)


def _psych_curves() -> dict[str, np.ndarray]:
    """Cumulative prevalence by age of each psychiatric component: {name: (2 sexes, 126 ages)}."""
    a = np.arange(_MAX_AGE + 1)
    return {
        # chronic severe mental illness (schizophrenia, bipolar ...): persistent
        "chronic": np.stack([0.022 * _logistic((a - 24) / 4), 0.018 * _logistic((a - 27) / 5)]),
        # dementia (ICD-10 F00-F03): persistent
        "dementia": np.stack([0.20 * _logistic((a - 87) / 5), 0.22 * _logistic((a - 87) / 5)]),
        # episodic disorder: a diagnosis counts for 5 years from its onset
        "episode": np.stack([0.36 * _logistic((a - 31) / 9), 0.46 * _logistic((a - 29) / 9)]),
        # extended scope only (F21-F29, F60-F69): persistent
        "extended": np.stack([0.025 * _logistic((a - 22) / 4), 0.030 * _logistic((a - 21) / 4)]),
    }


def _perm_curve() -> np.ndarray:
    """Cumulative share permanently outside the labour market (disability pension) by age."""
    c = _interp_curve([(0, 0.0), (15, 0.0), (16, 0.002), (20, 0.008), (25, 0.016), (30, 0.024), (35, 0.033),
                       (40, 0.043), (45, 0.056), (50, 0.074), (55, 0.094), (60, 0.112), (67, 0.122), (125, 0.122)])
    # x 0.935: the municipal morbidity shifts (population._municipal_effects) raise the national share a little
    # (onsets are convex in the score); this keeps it at about 5.9 % of ages 16-67
    return np.maximum.accumulate(0.935 * c)


def _temp_threshold() -> np.ndarray:
    """Score threshold by age above which a person is temporarily outside the labour market."""
    p = _interp_curve([(0, 0.042), (16, 0.047), (25, 0.047), (40, 0.042), (55, 0.042), (67, 0.042), (125, 0.042)])
    return ndtri(1.0 - p)


def _cancer_cumhazard() -> np.ndarray:
    """Cumulative hazard of a first cancer diagnosis by age: (2 sexes, 126)."""
    men = _interp_curve([(0, 0.0002), (19, 0.0002), (25, 0.0004), (35, 0.0009), (45, 0.0022), (55, 0.0060),
                         (65, 0.0135), (75, 0.0230), (85, 0.0270), (95, 0.0250), (125, 0.02)])
    women = _interp_curve([(0, 0.0002), (19, 0.0002), (25, 0.0006), (35, 0.0015), (45, 0.0035), (55, 0.0065),
                           (65, 0.0110), (75, 0.0165), (85, 0.0190), (95, 0.0180), (125, 0.015)])
    return np.cumsum(1.35 * np.stack([men, women]), axis=1)


#: Civil-status life course (assumed): share ever married (men, women), age at (first) marriage
#: 19 (+1.5 for men) + Gamma(shape, scale), share of marriages ending in divorce.
_CIVIL_EVER = (0.82, 0.85)
_CIVIL_MAR_SHAPE, _CIVIL_MAR_SCALE = 2.2, 4.8
_CIVIL_DIVORCE = 0.28
_SOMATIC = _somatic_curves()
_PSYCH = _psych_curves()
_PERM = _perm_curve()
_SOMATIC_LUT = [_onset_lut(_SOMATIC[k]) for k in range(7)]
_PSYCH_LUT = {k: _onset_lut(v) for k, v in _PSYCH.items()}
_PERM_LUT = _onset_lut(np.stack([_PERM, _PERM]))
_TEMP_C = _temp_threshold()
_CANCER_H = _cancer_cumhazard()


def _draw_latent(rng: np.random.Generator, ctx: _Context, muni: np.ndarray, sex: np.ndarray,
                 birth_year: np.ndarray, ref_year: int, kind: str) -> dict[str, np.ndarray]:
    """Persistent traits of a batch of new persons.

    ``kind``: ``"base"`` (the latest year's citizens), ``"dead"`` (died in
    ``ref_year``: frailer) or ``"emigrant"`` (left in ``ref_year``).
    """
    n = len(muni)
    f32 = np.float32
    age = np.clip(ref_year - birth_year.astype(np.int64), 0, _MAX_AGE)
    shift = {"base": 0.0, "dead": 0.8, "emigrant": -0.2}[kind]
    z = rng.standard_normal(n, dtype=f32) + f32(shift)
    delta = ctx.morbidity[muni].astype(f32)  # life-expectancy gap plus the municipal effects (population)

    # origin
    if kind == "emigrant":
        p_nd = np.full(n, 0.55, dtype=f32)
        cum = np.broadcast_to(np.array([0.12, 0.67], dtype=f32), (n, 2))
    else:
        p_nd = (ctx.nondk[muni] * _ORIGIN_AGE[age]).astype(f32)
        cum = ctx.compcum[muni]
    u1, u2 = rng.random(n, dtype=f32), rng.random(n, dtype=f32)
    grp = 1 + (u2 > cum[:, 0]).astype(np.int8) + (u2 > cum[:, 1]).astype(np.int8)
    origin = np.where(u1 < p_nd, grp, 0).astype(np.int8)
    menapt = (origin == 1).astype(f32)

    ins2 = rng.random(n, dtype=f32) < ctx.ins2[muni]

    # civil status life course (ages; 255 = never)
    men = sex == 1
    ever = rng.random(n, dtype=f32) < np.where(men, f32(_CIVIL_EVER[0]), f32(_CIVIL_EVER[1]))
    mar = 19.0 + rng.gamma(_CIVIL_MAR_SHAPE, _CIVIL_MAR_SCALE, n) + 1.5 * men
    div = ever & (rng.random(n, dtype=f32) < f32(_CIVIL_DIVORCE))
    dage = mar + 1.0 + rng.gamma(1.8, 7.0, n)
    rem = div & (rng.random(n, dtype=f32) < f32(0.42))
    rage = dage + 1.0 + rng.exponential(6.0, n)
    wage = rng.normal(0.0, 9.0, n) + np.where(men, 84.0, 80.0)
    partner = ever & (rng.random(n, dtype=f32) < f32(0.004))

    def _age_u8(x, ok):
        x = np.minimum(np.floor(x), 254.0)
        return np.where(ok & (x <= _MAX_AGE), np.clip(x, 0, _MAX_AGE), _NEVER).astype(np.uint8)

    out: dict[str, np.ndarray] = {
        "origin": origin,
        "ins2": ins2,
        "mar": _age_u8(mar, ever),
        "div": _age_u8(dage, div),
        "rem": _age_u8(rage, rem),
        "wid": _age_u8(wage, ever),
        "partner": partner,
    }

    def normal():
        return rng.standard_normal(n, dtype=f32)

    # labour market
    s_perm = f32(0.5) * z + f32(0.866) * normal() + f32(0.35) * menapt + f32(0.10) * delta
    out["perm"] = _onset_by_sex(_PERM_LUT, s_perm, sex)
    out["temp_base"] = (f32(0.45) * z + f32(0.55) * normal() + f32(0.45) * menapt + f32(0.08) * delta)

    # somatic diseases
    dz = f32(0.5) * z + f32(0.08) * delta
    for k in range(7):
        out[f"som{k}"] = _onset_by_sex(_SOMATIC_LUT[k], dz + f32(0.866) * normal(), sex)

    # psychiatric
    for key, rho in (("chronic", 0.35), ("dementia", 0.30), ("episode", 0.35), ("extended", 0.35)):
        sc = f32(rho) * z + f32(np.sqrt(1 - rho ** 2)) * normal() + f32(0.06) * delta
        out["psy_" + key] = _onset_by_sex(_PSYCH_LUT[key], sc, sex)

    # cancer: age at first diagnosis (cumulative-hazard inversion)
    e = rng.exponential(1.0, n) * np.exp(-(0.20 * z + 0.03 * delta))
    on = np.where(men, np.searchsorted(_CANCER_H[0], e), np.searchsorted(_CANCER_H[1], e))
    out["cancer"] = np.where(on > _MAX_AGE, _NEVER, on).astype(np.uint8)

    out["uptake"] = rng.random(n, dtype=f32) < f32(CHRONIC_FEE_UPTAKE)
    return out


class _People:
    """All persons ever present in the panel: core arrays and latent traits, appended in batches."""

    def __init__(self) -> None:
        self._batches: list[dict[str, np.ndarray]] = []
        self.n = 0
        self.birth_year = np.zeros(0, dtype=np.int16)
        self.sex = np.zeros(0, dtype=np.int8)
        self.origin = np.zeros(0, dtype=np.int8)
        self.home = np.zeros(0, dtype=np.int16)

    def add(self, muni: np.ndarray, sex: np.ndarray, birth_year: np.ndarray, latent: dict[str, np.ndarray]) -> np.ndarray:
        """Append a batch of persons; returns their global indices."""
        start = self.n
        b = dict(latent)
        b["home"] = muni.astype(np.int16)
        b["sex"] = sex.astype(np.int8)
        b["birth_year"] = birth_year.astype(np.int16)
        self._batches.append(b)
        self.n += len(muni)
        self.birth_year = np.concatenate([self.birth_year, b["birth_year"]])
        self.sex = np.concatenate([self.sex, b["sex"]])
        self.origin = np.concatenate([self.origin, b["origin"]])
        self.home = np.concatenate([self.home, b["home"]])
        return np.arange(start, self.n, dtype=np.int32)

    def finalise(self) -> dict[str, np.ndarray]:
        """All persons' traits as one array per trait (the batches are released)."""
        keys = self._batches[0].keys()
        out = {k: np.concatenate([b[k] for b in self._batches]) for k in keys}
        self._batches = []
        return out


_PARTNER_CODE = np.array([0, 4, 5, 6], dtype=np.int8)


def _civil_status(lat: dict[str, np.ndarray], idx: np.ndarray, a8: np.ndarray) -> np.ndarray:
    """CIVST code index (into _CIVIL) at age ``a8`` (uint8) from the life-course ages (255 = never)."""
    mar = lat["mar"][idx]
    div = lat["div"][idx]
    rem = lat["rem"][idx]
    wid = lat["wid"][idx]
    married = mar <= a8
    # widowed at age wid if married then: (mar <= wid < div) or (rem <= wid)
    widowed = married & (wid <= a8) & (mar <= wid) & ((wid < div) | (rem <= wid))
    divorced = married & (div <= a8) & (rem > a8) & ~widowed
    code = married.astype(np.int8)           # 0 U, 1 G
    code[divorced] = 2                       # F
    code[widowed] = 3                        # E
    partner = lat["partner"][idx] & married  # registered partnership: G->P, F->O, E->L
    if partner.any():
        code[partner] = _PARTNER_CODE[code[partner]]
    return code


def _characteristics(lat: dict[str, np.ndarray], ctx: _Context, idx: np.ndarray, year: int,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The characteristics of persons ``idx`` in ``year`` from their persistent traits ``lat``.

    Returns arrays: sex, age, civil (index into ``_CIVIL``), origin,
    insurance (1/2), labour (index into ``_LABOUR``), somatic (count),
    psychiatric, psychiatric_extended, cancer_5y, cancer_10y, t2d_copd.
    ``rng`` draws only the year's noise of temporary labour-market absence."""
    sex = lat["sex"][idx]
    age = (year - lat["birth_year"][idx].astype(np.int64)).astype(np.int16)
    a = age.astype(np.int64)
    working = (a >= 16) & (a <= 67)
    perm = working & (lat["perm"][idx] <= a)
    score = lat["temp_base"][idx] + 0.70 * rng.standard_normal(len(idx)).astype(np.float32)
    temp = working & ~perm & (score > _TEMP_C[a])
    labour = np.where(~working, 0, np.where(perm, 3, np.where(temp, 2, 1))).astype(np.int8)
    a8 = age.astype(np.uint8)
    somatic = np.zeros(len(idx), dtype=np.int8)
    for k in range(7):
        hit = lat[f"som{k}"][idx] <= a8
        somatic += hit
        if k == 0:
            t2d_copd = hit
        elif k == 1:
            t2d_copd = t2d_copd | hit
    ep = lat["psy_episode"][idx].astype(np.int64)
    psych = (lat["psy_chronic"][idx] <= a) | (lat["psy_dementia"][idx] <= a) | ((ep <= a) & (a < ep + 5))
    psych_ext = psych | (lat["psy_extended"][idx] <= a)
    can = lat["cancer"][idx].astype(np.int64)
    diag_year = np.where(can == _NEVER, -10_000, lat["birth_year"][idx].astype(np.int64) + can)
    cancer5 = (diag_year <= year) & (diag_year >= year - 4)
    cancer10 = (diag_year <= year) & (diag_year >= year - 9)
    return dict(sex=sex, age=age, civil=_civil_status(lat, idx, a8), origin=lat["origin"][idx],
                insurance=np.where(lat["ins2"][idx], 2, 1).astype(np.int8), labour=labour, somatic=somatic,
                psychiatric=psych, psychiatric_extended=psych_ext, cancer_5y=cancer5, cancer_10y=cancer10,
                t2d_copd=t2d_copd)
