"""The national clinic structure (*ydernumre*, provider numbers) and the listing rule.

:func:`plan_clinics` is the clinic table over the panel years (independent of
the number of persons); :func:`_assign` draws each citizen's clinic by the
listing rule (own municipality, sometimes a neighbouring one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.inputs.synthetic.population import _Context, _context
from model.inputs.synthetic.truth import (
    CLINIC_COLUMNS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    ULTRASOUND_CLINIC_UPTAKE,
    ULTRASOUND_MUNICIPALITIES,
)

#: Island doctors (*ø-læger*): island, municipality code, listed patients at
#: national scale, postcode, capacities.  Læsø's doctor serves its whole
#: municipality.  Lists are both below and above the 500-patient limit.
ISLAND_CLINICS: tuple[tuple[str, str, int, str, int], ...] = (
    ("Agersø", "330", 170, "4241", 1),
    ("Omø", "330", 160, "4245", 1),
    ("Fejø", "360", 470, "4944", 1),
    ("Femø", "360", 130, "4930", 1),
    ("Orø", "316", 880, "4300", 1),
    ("Sejerø", "326", 340, "4592", 1),
    ("Anholt", "707", 150, "8592", 1),
    ("Læsø", "825", 1650, "9940", 1),
    ("Endelave", "615", 160, "8789", 1),
    ("Strynø", "482", 190, "5900", 1),
)
PRACTICE_FORM_DANISH: dict[str, str] = {
    "solo": "Solopraksis",
    "partnership": "Kompagniskabspraksis",
    "collaboration": "Samarbejdspraksis",
    "regional": "Regionsklinik",
    "tender": "Udbudsklinik",
}
_LIST_PER_CAPACITY = {0: 1580.0, 1: 1720.0, 2: 1600.0, 3: 1620.0, 4: 1700.0}
_CAPACITY_DIST = (np.arange(1, 9), np.array([0.42, 0.22, 0.15, 0.10, 0.06, 0.03, 0.01, 0.01]))
#: Target share of each region's citizens in regional and tender clinics: the 2017 split by region (Danish Regions)
#: applied to about 210,000 citizens in all ("over 200,000 in later reports").
_REGIONAL_SHARE = {0: 0.0037, 1: 0.078, 2: 0.017, 3: 0.0121, 4: 0.1785}
_TENDER_PROB = {0: 0.0, 1: 0.4, 2: 0.3, 3: 0.3, 4: 0.5}
_REGIONAL_CANDIDATES = {
    0: ("400", "101"),
    1: ("360", "376", "390", "306", "326", "330", "370", "320"),
    2: ("550", "482", "580", "540", "510"),
    3: ("665", "671", "779", "707", "760"),
    4: ("813", "860", "810", "787", "773", "820", "849", "846", "851"),
}
_VACANCY_PROB = {0: 0.012, 1: 0.045, 2: 0.015, 3: 0.015, 4: 0.05}
_POSTCODES: dict[str, tuple[str, ...]] = {
    "101": ("1050", "1360", "1620", "2100", "2200", "2300", "2400", "2450", "2500", "2700", "2720"),
    "147": ("1820", "1850", "2000"), "151": ("2750",), "153": ("2605", "2660"), "155": ("2791",),
    "157": ("2820", "2900", "2920", "2930"), "159": ("2860", "2880"), "161": ("2600",), "163": ("2730",),
    "165": ("2620",), "167": ("2650",), "169": ("2630", "2640"), "173": ("2800", "2830"), "175": ("2610",),
    "183": ("2635",), "185": ("2770",), "187": ("2625",), "190": ("3500", "3520"), "201": ("3450",),
    "210": ("3480", "2990", "3050"), "217": ("3000", "3100", "3140"), "219": ("3400",), "223": ("2970",),
    "230": ("2840", "2850", "2950"), "240": ("3650", "3660", "3670"), "250": ("3600", "3630"), "253": ("2670",),
    "259": ("4600", "4681"), "260": ("3300", "3390"), "265": ("4000", "4040", "4130"), "269": ("2680",),
    "270": ("3200", "3230", "3250"), "306": ("4500", "4550", "4573"), "316": ("4300", "4340", "4450"),
    "320": ("4640", "4690", "4654"), "326": ("4400", "4490", "4470"), "329": ("4100",),
    "330": ("4200", "4220", "4230"), "336": ("4660", "4652"), "340": ("4180", "4190"), "350": ("4320", "4330"),
    "360": ("4900", "4930", "4960"), "370": ("4700", "4160", "4750"), "376": ("4800", "4850", "4873"),
    "390": ("4760", "4720", "4780"), "400": ("3700", "3730", "3770"), "410": ("5500", "5592"),
    "420": ("5610", "5620", "5631"), "430": ("5600", "5750", "5762"), "440": ("5300", "5330"),
    "450": ("5800", "5853"), "461": ("5000", "5200", "5210", "5220", "5230", "5260", "5270"),
    "479": ("5700", "5771"), "480": ("5400", "5450", "5471"), "482": ("5900", "5953"), "492": ("5970", "5960"),
    "510": ("6100", "6500", "6560"), "530": ("7190", "7200", "7250"), "540": ("6400", "6430", "6440"),
    "550": ("6270", "6240", "6780"), "561": ("6700", "6705", "6710", "6715", "6740"), "563": ("6720",),
    "573": ("6800", "6830", "6862"), "575": ("6600", "6630", "6650"), "580": ("6200", "6230", "6360"),
    "607": ("7000",), "615": ("8700", "8751"), "621": ("6000", "6040", "6070"),
    "630": ("7100", "7120", "7300", "8763"), "657": ("7400", "7441", "7451"), "661": ("7500", "7570"),
    "665": ("7620", "7650"), "671": ("7600", "7790"), "706": ("8400", "8410", "8420"), "707": ("8500", "8585"),
    "710": ("8370", "8382", "8450"), "727": ("8300",), "730": ("8900", "8920", "8930", "8960"),
    "740": ("8600", "8653", "8883"), "741": ("8305",), "746": ("8660", "8680", "8362"),
    "751": ("8000", "8200", "8210", "8220", "8230", "8240", "8260", "8270"), "756": ("7430", "7330"),
    "760": ("6950", "6900", "6880"), "766": ("8722", "7160", "8781"), "773": ("7900",), "779": ("7800", "7860"),
    "787": ("7700", "7760"), "791": ("8800", "8830", "8850"), "810": ("9700", "9740"),
    "813": ("9900", "9990", "9970"), "820": ("9600", "9640", "9670"), "825": ("9940",), "840": ("9530", "9520"),
    "846": ("9500", "9550"), "849": ("9440", "9490", "9460"), "851": ("9000", "9200", "9210", "9220", "9400"),
    "860": ("9800", "9850", "9870"),
}
_STREETS = ("Algade", "Bredgade", "Jernbanegade", "Kirkevej", "Nørregade", "Østergade", "Søndergade", "Vestergade",
            "Stationsvej", "Skolevej", "Torvet", "Parkvej", "Møllevej", "Sygehusvej", "Hovedgaden", "Strandvejen",
            "Lindevej", "Enghavevej", "Bygaden", "Sundhedsvej")
_FIRST = ("Anne", "Peter", "Mette", "Jens", "Hanne", "Lars", "Susanne", "Søren", "Camilla", "Morten", "Louise",
          "Thomas", "Maria", "Henrik", "Sofie", "Mikkel", "Ida", "Rasmus", "Karen", "Ahmad")
_LAST = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
         "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen", "Johansen", "Møller",
         "Mortensen", "Holm")


def _random_date(rng: np.random.Generator, y0: int, y1: int) -> str:
    """A uniformly random ISO date from 1 January ``y0`` to 31 December ``y1`` (``y0`` capped at ``y1``)."""
    y0 = min(y0, y1)
    start = dt.date(y0, 1, 1).toordinal()
    end = dt.date(y1, 12, 31).toordinal()
    return dt.date.fromordinal(int(rng.integers(start, end + 1))).isoformat()


def _plan_clinics_internal(rng: np.random.Generator, ctx: _Context, years: list[int]) -> pd.DataFrame:
    """The national clinic structure over the panel years (independent of the number of persons)."""
    first = years[0]
    nmun = len(ctx.codes)
    code_idx = {c: i for i, c in enumerate(ctx.codes)}
    rows: list[dict[str, Any]] = []

    def row(**kw) -> dict[str, Any]:
        d = dict(muni=0, capacities=1.0, form="", island=False, island_name="", postcode="", opened="", closed="",
                 parent=-1, w=1.0, island_list=0.0)
        d.update(kw)
        return d

    # island doctors
    island_list = np.zeros(nmun)
    for name, code, lst, pc, cap in ISLAND_CLINICS:
        i = code_idx[code]
        island_list[i] += lst
        rows.append(row(muni=i, capacities=float(cap), form="solo", island=True, island_name=name, postcode=pc,
                        opened=_random_date(rng, 1985, first - 1), island_list=float(lst)))

    # regular clinics, municipality by municipality: capacities drawn until the municipality's need is met
    caps_v, caps_p = _CAPACITY_DIST
    for i in range(nmun):
        n_reg = ctx.pop[i] - island_list[i]
        lpc = _LIST_PER_CAPACITY[int(ctx.region[i])] * float(np.exp(rng.normal(0.0, 0.04)))
        k = int(round(n_reg / lpc))
        if n_reg > 0.3 * lpc:
            k = max(k, 1)
        draws = rng.choice(caps_v, size=2 * k + 5, p=caps_p)
        cs = np.cumsum(draws)
        j = int(np.searchsorted(cs, k, side="left"))
        caps = draws[: j + 1].astype(float)
        if k == 0:
            caps = caps[:0]
        elif len(caps):
            caps[-1] = k - (cs[j - 1] if j > 0 else 0)
        for c in caps:
            rows.append(row(muni=i, capacities=float(c), w=float(np.exp(rng.normal(0.0, 0.2)))))

    # regional and tender clinics, in each region's peripheral municipalities, until the target share
    for r, share in _REGIONAL_SHARE.items():
        target = share * ctx.pop[ctx.region == r].sum()
        cand_m = {code_idx[c] for c in _REGIONAL_CANDIDATES[r]}
        cand = np.array([c for c, d in enumerate(rows) if not d["island"] and d["muni"] in cand_m], dtype=np.int64)
        cand = cand[rng.permutation(len(cand))]
        got = 0.0
        for c in cand:
            if got >= target:
                break
            d = rows[c]
            unconverted = sum(1 for e in rows if e["muni"] == d["muni"] and not e["island"] and e["form"] == "")
            if unconverted <= 1:  # never convert a municipality's last ordinary clinic
                continue
            if d["capacities"] < 2:
                d["capacities"] = float(rng.integers(2, 5))
            d["form"] = "tender" if rng.random() < _TENDER_PROB[r] else "regional"
            d["opened"] = _random_date(rng, 2008, first - 1)
            got += d["capacities"] * _LIST_PER_CAPACITY[r]

    # practice forms of the others, and opening dates
    for d in rows:
        if d["form"] == "":
            u = rng.random()
            if d["capacities"] <= 1:
                d["form"] = "solo" if u < 0.9 else "collaboration"
            else:
                d["form"] = "partnership" if u < 0.85 else "collaboration"
        if d["opened"] == "":
            d["opened"] = _random_date(rng, 1978, first - 1)

    # events: openings and splits in each year after the first; closures in every year
    n_base = len(rows)
    base_regular = [c for c in range(n_base) if not rows[c]["island"]]
    n_regular = len(base_regular)
    per_muni = np.bincount([rows[c]["muni"] for c in base_regular], minlength=nmun)
    used_muni: set[int] = set()
    parents: set[int] = set()
    for t in years[1:]:
        n_open = max(1, int(round(0.006 * n_regular)))
        cand = np.array([c for c in base_regular
                         if per_muni[rows[c]["muni"]] >= 2 and rows[c]["muni"] not in used_muni
                         and rows[c]["parent"] < 0 and c not in parents and rows[c]["opened"] < f"{first}"],
                        dtype=np.int64)
        pick = rng.choice(cand, size=min(n_open, len(cand)), replace=False) if len(cand) else []
        for c in sorted(int(x) for x in pick):
            if rows[c]["muni"] in used_muni:
                continue
            used_muni.add(rows[c]["muni"])
            rows[c]["opened"] = _random_date(rng, t, t)
        n_split = max(1, int(round(0.002 * n_regular)))
        cand = np.array([c for c in base_regular
                         if rows[c]["capacities"] >= 3 and rows[c]["form"] in ("partnership", "collaboration")
                         and rows[c]["opened"] < f"{first}" and c not in parents], dtype=np.int64)
        pick = rng.choice(cand, size=min(n_split, len(cand)), replace=False) if len(cand) else []
        for p in sorted(int(x) for x in pick):
            parents.add(p)
            take = 1.0 if rows[p]["capacities"] < 5 else 2.0
            rows[p]["capacities"] -= take
            rows.append(row(muni=rows[p]["muni"], capacities=take, form="solo" if take == 1 else "partnership",
                            opened=_random_date(rng, t, t), parent=p, w=rows[p]["w"]))
    has_regular = per_muni > 0
    for t in years:
        n_close = max(1, int(round(0.008 * n_regular)))
        for m in sorted(int(x) for x in rng.choice(nmun, size=n_close, p=ctx.pop / ctx.pop.sum())):
            if not has_regular[m]:
                continue
            cap = 1.0 if rng.random() < 0.8 else 2.0
            rows.append(row(muni=m, capacities=cap, form="solo" if cap == 1 else "partnership",
                            opened=_random_date(rng, 1978, first - 1), closed=_random_date(rng, t, t),
                            w=float(np.exp(rng.normal(0.0, 0.2)))))
    n = len(rows)

    # identities: provider numbers, names, addresses, postcodes; vacancies; the ultrasound agreement
    ids = rng.choice(999_999, size=n, replace=False) + 1
    for c, d in enumerate(rows):
        d["clinic_id"] = f"{int(ids[c]):06d}"
        m = d["muni"]
        town = ctx.names[m]
        street = _STREETS[int(rng.integers(len(_STREETS)))]
        d["address"] = f"{street} {int(rng.integers(1, 121))}"
        f = d["form"]
        if d["island"]:
            d["name"] = f"Ølægen på {d['island_name']}"
        else:
            if f == "solo":
                d["name"] = f"Læge {_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
            elif f == "partnership":
                d["name"] = f"Lægerne {street}" if rng.random() < 0.5 else f"Lægehuset {town}"
            elif f == "collaboration":
                d["name"] = f"Samarbejdspraksis {town}, {_LAST[int(rng.integers(len(_LAST)))]}"
            elif f == "regional":
                d["name"] = f"Regionsklinik {town}"
            else:
                d["name"] = f"Udbudsklinik {town}"
            opts = _POSTCODES[ctx.codes[m]]
            d["postcode"] = opts[int(rng.integers(len(opts)))]
        r = int(ctx.region[m])
        pv = 0.25 if f in ("regional", "tender") else (0.10 if d["island"] else _VACANCY_PROB[r])
        d["vacant_capacities"] = float(rng.binomial(int(d["capacities"]), pv))
        d["ultrasound"] = bool(ctx.codes[m] in ULTRASOUND_MUNICIPALITIES and not d["island"]
                               and f not in ("regional", "tender") and rng.random() < ULTRASOUND_CLINIC_UPTAKE)
    for d in rows:
        d["split_from"] = "" if d["parent"] < 0 else rows[d["parent"]]["clinic_id"]
    df = pd.DataFrame(rows)
    df["municipality_code"] = ctx.codes[df["muni"].to_numpy()]
    df["practice_form"] = df["form"]
    df["island_doctor"] = df["island"].astype(bool)
    df["opened_year"] = np.array([int(o[:4]) for o in df["opened"]], dtype=np.int64)
    df["closed_year"] = np.array([int(c[:4]) if c else 9999 for c in df["closed"]], dtype=np.int64)
    df["parent"] = df["parent"].astype(np.int64)
    df["capacities"] = df["capacities"].astype(float)
    return df


def _open_mask(plan: pd.DataFrame, year: int) -> np.ndarray:
    """Bool per plan row: open at some time in ``year`` (opened by then, not closed before it)."""
    return (plan["opened_year"].to_numpy() <= year) & (plan["closed_year"].to_numpy() >= year)


@dataclass
class _RuleTables:
    """The listing rule of one year as search tables (key = municipality index + cumulative share)."""
    own_keys: np.ndarray
    own_clin: np.ndarray
    cross_keys: np.ndarray
    cross_clin: np.ndarray
    own_share: np.ndarray      # (nclinics,) probability for a resident of the clinic's municipality (own draw)
    cross_share: np.ndarray    # (nclinics,) probability given a cross-border draw into the municipality
    has_cross: np.ndarray      # (nmun,) the municipality has regular clinics (can take cross-border patients)


def _rule_tables(plan: pd.DataFrame, ctx: _Context, year: int) -> _RuleTables:
    """The listing rule of ``year``: each open clinic's share of its municipality's residents.

    Island doctors take their listed patients (at national scale); the other
    clinics share the rest by capacities times an attractiveness draw ``w``;
    cross-border patients go to a municipality's regular clinics only."""
    nmun = len(ctx.codes)
    open_ = _open_mask(plan, year)
    muni = plan["muni"].to_numpy()
    island = plan["island_doctor"].to_numpy()
    w = (plan["capacities"].to_numpy() * plan["w"].to_numpy()).clip(0.05, None)
    own_share = np.zeros(len(plan))
    cross_share = np.zeros(len(plan))
    for m in range(nmun):
        here = open_ & (muni == m)
        isl = np.where(here & island)[0]
        regc = np.where(here & ~island)[0]
        denom = ctx.pop[m] * (1 - ctx.pcross[m])
        s_isl = plan["island_list"].to_numpy()[isl] / denom
        if len(regc) == 0:
            own_share[isl] = s_isl / s_isl.sum()
            continue
        s_isl = np.minimum(s_isl, 0.97 / max(len(isl), 1))
        own_share[isl] = s_isl
        own_share[regc] = (1 - s_isl.sum()) * w[regc] / w[regc].sum()
        cross_share[regc] = w[regc] / w[regc].sum()

    def table(share):
        idx = np.where(share > 0)[0]
        idx = idx[np.lexsort((idx, muni[idx]))]
        keys = np.empty(len(idx))
        for m in np.unique(muni[idx]):
            sel = muni[idx] == m
            c = np.cumsum(share[idx[sel]])
            c /= c[-1]
            keys[sel] = m + c
        return keys, idx.astype(np.int32)

    ok, oc = table(own_share)
    ck, cc = table(cross_share)
    has_cross = np.zeros(nmun, dtype=bool)
    has_cross[muni[cross_share > 0]] = True
    return _RuleTables(ok, oc, ck, cc, own_share, cross_share, has_cross)


def _assign(rng: np.random.Generator, ctx: _Context, tables: _RuleTables, muni: np.ndarray) -> np.ndarray:
    """Draw a clinic for each person living in ``muni`` (index array), by the listing rule."""
    n = len(muni)
    u1, u2, u3 = rng.random(n), rng.random(n), np.minimum(rng.random(n), 1.0 - 1e-9)
    cross = u1 < ctx.pcross[muni]
    k = (u2[:, None] > ctx.nbcum[muni]).sum(axis=1).clip(0, 2)
    target = np.where(cross, ctx.nb[muni, k], muni)
    cross &= target >= 0
    cross &= tables.has_cross[np.maximum(target, 0)]
    target = np.where(cross, target, muni)
    out = np.empty(n, dtype=np.int32)
    own = ~cross
    j = np.searchsorted(tables.own_keys, target[own] + u3[own], side="right")
    out[own] = tables.own_clin[np.minimum(j, len(tables.own_clin) - 1)]
    j = np.searchsorted(tables.cross_keys, target[cross] + u3[cross], side="right")
    out[cross] = tables.cross_clin[np.minimum(j, len(tables.cross_clin) - 1)]
    return out


def _expected_lists(plan: pd.DataFrame, ctx: _Context, year: int, pop: np.ndarray | None = None) -> np.ndarray:
    """Expected list size per clinic in ``year`` when municipality m has ``pop[m]`` residents."""
    pop = ctx.pop if pop is None else pop
    t = _rule_tables(plan, ctx, year)
    muni = plan["muni"].to_numpy()
    own_in = pop * (1 - ctx.pcross)
    cross_in = np.zeros(len(pop))
    for m in range(len(pop)):
        prev = 0.0
        for k in range(3):
            j = ctx.nb[m, k]
            if j < 0:
                break
            flow = pop[m] * ctx.pcross[m] * (ctx.nbcum[m, k] - prev)
            if t.has_cross[j]:
                cross_in[j] += flow
            else:
                own_in[m] += flow
            prev = ctx.nbcum[m, k]
    return t.own_share * own_in[muni] + t.cross_share * cross_in[muni]


def plan_clinics(years: Iterable[int] = DEFAULT_YEARS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The clinic table :func:`generate` writes (same ``years`` and ``seed``), plus planning columns.

    Besides :data:`CLINIC_COLUMNS` it has ``address``, ``ultrasound`` (joins
    the ultrasound agreement), ``open_latest`` (open in the latest year) and
    ``expected_list`` (expected listed patients in the latest year at national
    scale).  The clinic structure does not depend on the number of persons.
    """
    years = sorted(set(int(y) for y in years))
    ctx = _context()
    streams = np.random.SeedSequence(seed).spawn(7)
    plan = _plan_clinics_internal(np.random.default_rng(streams[2]), ctx, years)
    plan["open_latest"] = _open_mask(plan, years[-1])
    plan["expected_list"] = _expected_lists(plan, ctx, years[-1])
    cols = list(CLINIC_COLUMNS) + ["address", "ultrasound", "open_latest", "expected_list"]
    return plan[cols].sort_values("clinic_id", kind="stable").reset_index(drop=True)
