"""The coding stress test, "more sickness on paper" (memo §4.4.4; docs/method.md, "Coding stress test").

The weights reward recorded chronic somatic diseases, so a clinic that
records more diagnoses gets a heavier list and a lower minimum patient
number, and its health council more capacities.  This analysis asks how
far: for each clinic, one more qualifying chronic somatic diagnosis is added
to 5, 10 and 25 % (``ModelConfig.stress_shares``) of its listed patients,

* ``random``: patients drawn at random (one seeded random order of all
  citizens, ``ModelConfig.stress_seed``: the 5 % are among the 10 %, and
  the base and the compared variant get the same patients), and
* ``targeted``: the patients for whom one more diagnosis raises the weight
  most -- the step of the disease count with the largest coefficient
  increase.  Under the "one disease counts as none" rule
  (``somatic_bins = (2, 3)``) a first diagnosis (0 -> 1) and a fourth
  (3 -> 4) are worth nothing; 1 -> 2 is worth ``somatic_2`` and 2 -> 3
  ``somatic_3plus - somatic_2``.

and the clinic's minimum patient number and its health council's
capacities are computed again with the fitted coefficients and the model's
own functions: predicted use of the changed citizens from the design
(:func:`model.core.features.design_matrix`), their weights by
:func:`model.core.weights.disease_weights` **with the national
normalisation held at the fitted one** (:func:`model.core.weights.weight_normaliser`:
the stressed clinic is one of ~1,700, and the test asks what its own coding
buys it, not how the country's mean would drift), the minimum by
:func:`model.core.clinics.minimum_patients` and the councils' capacities by
:func:`model.core.capacity.indicative_numbers` and
:func:`model.core.capacity.round_capacity`.  Only clinics whose number rests
on their own listed patients are stressed (``weight_source ==
'own_patients'``).

Every clinic in turn is one vectorised pass per scenario (each clinic's
changed weights summed to a clinics x municipalities matrix); with
``--clinic`` the clinic is also run through the whole chain
(:func:`model.core.chain.capacity_tables` on the changed area sums), which
gives the same numbers, and the time of one full-chain run is recorded to
show what stressing every clinic that way would cost.  The test is run for
the base model and for the variant without the rule
(``ModelConfig.stress_compare_variant``, default ``somatic_each_count``:
0/1/2/3/4+ diseases, refitted on the same year), so the rule's damping shows
side by side.

Tables (:data:`TABLES`): ``clinic_stress`` (one row per model, mode, share
and clinic), ``by_practice_form``, ``by_health_council`` (with every clinic
of the council stressed at once), ``headline`` and ``damping``; with a clinic
``clinic_detail``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.panel import read_year
from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file, write_csv
from model.config import ModelConfig, parse_settings
from model.core import capacity as cap
from model.core import cells
from model.core import chain as mc
from model.core import clinics as cl
from model.core import features as ft
from model.core import weights as wt
from model.errors import ConfigError, InputError

MODES = ("random", "targeted")
#: The tables of a stress-test folder and what each holds.
TABLES: dict[str, str] = {
    "headline": "per model, mode and share: clinics stressed, the median and 90th percentile fall of the minimum "
                "patient number, the share of clinics whose rounded minimum falls, the move of the own council's "
                "capacities, and the country's capacities if every clinic did it at once",
    "damping": "the base model (one disease counts as none) against the variant without the rule, per mode and share",
    "by_practice_form": "the clinics' results summarised per practice form",
    "by_health_council": "the clinics' results summarised per health council, and every clinic of the council "
                         "stressed at once",
    "disease_steps": "per model: the predicted use (DKK) one more chronic somatic diagnosis adds at each count "
                     "(under 'one disease counts as none' 0 -> 1 adds nothing), and the citizens at each count",
    "clinic_stress": "one row per model, mode, share and clinic: patients changed, mean weight, minimum patient "
                     "number and the council's capacities before and after",
    "clinic_detail": "the chosen clinic (--clinic) run through the whole model chain, before and after",
}


@dataclass
class StressModel:
    """One model prepared for the stress test: its fit, its area sums and each citizen's gain in weight."""

    name: str
    config: ModelConfig
    params: pd.Series
    area_weights: mc.AreaWeights
    result: mc.ChainResult
    #: per citizen: the weight gained by one more chronic somatic diagnosis (normalisation held fixed)
    gain: np.ndarray
    #: per citizen: the predicted use (DKK) gained
    gain_use: np.ndarray


@dataclass
class StressResult:
    """Result of :func:`run_stress_test` / :func:`stress_models`: the tables, facts and timings."""

    year: int
    tables: dict[str, pd.DataFrame]
    facts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def atom_predictions(atoms: pd.DataFrame, config: ModelConfig, params: pd.Series) -> np.ndarray:
    """Predicted use (DKK) of each row of raw characteristics: the design of
    :func:`model.core.features.design_matrix` times the coefficients."""
    X = ft.design_matrix(ft.person_factors(atoms, config), config)
    missing = [t for t in params.index if t not in X.columns]
    if missing:
        raise ConfigError(f"coefficients for terms the configuration does not have: {missing}")
    return X[list(params.index)].to_numpy(dtype=np.float64) @ params.to_numpy(dtype=np.float64)


def prepare(yd: cells.YearData, config: ModelConfig, params: pd.Series, name: str = "base") -> StressModel:
    """The model of ``config`` with coefficients ``params`` on the year, and each citizen's gain from one more
    chronic somatic diagnosis (weights by :func:`model.core.weights.disease_weights` at the fitted normalisation)."""
    aw = mc.area_weights(yd, config, params)
    result = mc.capacity_tables(aw, config)
    plus = yd.atoms.copy()
    plus["somatic_diseases"] = plus["somatic_diseases"].astype(np.int64) + 1
    pred = atom_predictions(yd.atoms, config, params)[yd.atom]
    pred_plus = atom_predictions(plus, config, params)[yd.atom]
    factor = mc.person_le_factor(yd, config)
    norm = wt.weight_normaliser(pred, factor)
    before = wt.disease_weights(pred, factor, config, normaliser=norm)["weight"]
    after = wt.disease_weights(pred_plus, factor, config, normaliser=norm)["weight"]
    return StressModel(name=name, config=config, params=params, area_weights=aw, result=result,
                       gain=after - before, gain_use=pred_plus - pred)


def random_keys(n: int, seed: int) -> np.ndarray:
    """One random number per citizen (the seeded random order of the ``random`` mode)."""
    return np.random.default_rng(seed).random(n)


def ranking(yd: cells.YearData, gain: np.ndarray, u: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mode's order of the citizens within their clinics, for :func:`choose`: (person indices sorted by
    clinic and then by the mode's order, their clinics, their rank within the clinic from 0).

    ``random``: the order of ``u``; ``targeted``: the largest weight gain first, ties in the order of ``u``.
    One sort of all citizens; every share of a mode reuses it.
    """
    K = len(yd.clinic_ids)
    keys = (u, yd.pc) if mode == "random" else (u, -gain, yd.pc)
    order = np.lexsort(keys)
    pcs = yd.pc[order]
    starts = np.searchsorted(pcs, np.arange(K + 1))
    rank = np.arange(len(order)) - starts[pcs]
    return order, pcs, rank


def choose(yd: cells.YearData, gain: np.ndarray, u: np.ndarray, mode: str, k: np.ndarray,
           ranked: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The citizens given one more diagnosis: per clinic its first ``k[clinic]`` listed patients in the mode's order.

    ``random``: the order of ``u``; ``targeted``: the largest weight gain first, ties in the order of ``u``.
    ``k`` has one entry per clinic of ``yd.clinic_ids`` (0 leaves the clinic alone).  ``ranked``: the
    :func:`ranking` of these arguments, when already made.  Out: person indices.
    """
    order, pcs, rank = ranked if ranked is not None else ranking(yd, gain, u, mode)
    kk = np.append(np.asarray(k, dtype=np.int64), 0)  # the slot of citizens with no clinic: never chosen
    return order[rank < kk[pcs]]


def patients_changed(listed: np.ndarray, share: float) -> np.ndarray:
    """How many of each clinic's listed patients get one more diagnosis: share x listed, rounded (halves up)."""
    return np.floor(np.asarray(listed, dtype=np.float64) * share + 0.5).astype(np.int64)


def _councils(m: StressModel, yd: cells.YearData) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    bm = m.result.by_municipality.set_index("municipality_code").reindex(yd.muni_codes)
    names = m.result.by_health_council["health_council"].tolist()
    onehot = np.zeros((len(yd.muni_codes), len(names)))
    onehot[np.arange(len(yd.muni_codes)), pd.Index(names).get_indexer(bm["health_council"])] = 1.0
    return bm, onehot, names


def council_capacities(m: StressModel, yd: cells.YearData, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exact, rounded) capacities per health council (columns) with the municipalities' weight sums moved by
    ``delta`` (rows x municipalities): steps 4-5 of :func:`model.core.capacity` on matrices."""
    bm, onehot, _ = _councils(m, yd)
    weighted = (m.area_weights.sum_weight[None, :] + delta) * bm["projection_factor"].to_numpy(dtype=np.float64)[None, :]
    _, indicative = cap.indicative_numbers(weighted, bm["area_floor"].to_numpy(dtype=np.float64)[None, :], m.config)
    exact = indicative @ onehot
    return exact, cap.round_capacity(exact, m.config)


def stressed_clinics(m: StressModel, sample: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The clinics whose minimum rests on their own listed patients (optionally a seeded sample of them)."""
    ct = m.result.clinics
    ct = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0)].reset_index(drop=True)
    if sample is not None and sample < len(ct):
        ct = ct.sample(n=sample, random_state=seed).sort_values("clinic_id").reset_index(drop=True)
    return ct


def stress_clinics(yd: cells.YearData, m: StressModel, u: np.ndarray, clinics: pd.DataFrame | None = None,
                   rankings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every clinic of ``clinics`` stressed in turn, per mode and share (vectorised).

    ``rankings``: the :func:`ranking` per mode for this model (made here when not given).
    Out: (``clinic_stress`` rows, ``council_all`` rows: every clinic of a
    council stressed at once and the whole country at once).
    """
    rankings = rankings if rankings is not None else {mode: ranking(yd, m.gain, u, mode) for mode in MODES}
    cfg = m.config
    ct = stressed_clinics(m) if clinics is None else clinics
    K, M = len(yd.clinic_ids), len(yd.muni_codes)
    ci = pd.Index(yd.clinic_ids).get_indexer(ct["clinic_id"])
    listed = m.area_weights.listed[ci].astype(np.float64)
    sum_w = m.area_weights.sum_weight_clinic[ci]
    caps = ct["capacities"].to_numpy(dtype=np.float64)
    exact0, round0 = council_capacities(m, yd, np.zeros((1, M)))
    _, _, names = _councils(m, yd)
    own = pd.Index(names).get_indexer(ct["health_council"])
    min_exact0, min0 = cl.minimum_patients(caps, sum_w / listed, cfg)
    rows, council_rows = [], []
    for mode in MODES:
        for share in cfg.stress_shares:
            k = np.zeros(K, dtype=np.int64)
            k[ci] = patients_changed(listed, share)
            chosen = choose(yd, m.gain, u, mode, k, rankings[mode])
            pc, g = yd.pc[chosen], m.gain[chosen]
            d_clinic = np.bincount(pc, weights=g, minlength=K)[ci]
            no_gain = np.bincount(pc, weights=(m.gain_use[chosen] <= 0).astype(float), minlength=K)[ci]
            d_muni = np.bincount(pc.astype(np.int64) * M + yd.pm[chosen], weights=g, minlength=K * M).reshape(K, M)[ci]
            min_exact, mins = cl.minimum_patients(caps, (sum_w + d_clinic) / listed, cfg)
            exact, rounded = council_capacities(m, yd, d_muni)
            rr = np.arange(len(ct))
            rows.append(pd.DataFrame({
                "model": m.name, "mode": mode, "share": share, "clinic_id": ct["clinic_id"].to_numpy(),
                "practice_form": ct["practice_form"].to_numpy(), "health_council": ct["health_council"].to_numpy(),
                "listed_patients": listed.astype(np.int64), "patients_changed": k[ci],
                "patients_without_gain": no_gain.astype(np.int64), "weight_gain": d_clinic,
                "mean_weight_before": sum_w / listed, "mean_weight_after": (sum_w + d_clinic) / listed,
                "capacities": caps, "minimum_exact_before": min_exact0, "minimum_exact_after": min_exact,
                "minimum_before": min0, "minimum_after": mins,
                "minimum_change_pct": 100 * (min_exact / min_exact0 - 1),
                "council_capacities_exact_before": exact0[0, own], "council_capacities_exact_after": exact[rr, own],
                "council_capacities_before": round0[0, own], "council_capacities_after": rounded[rr, own],
                "country_capacities_change": (rounded - round0).sum(axis=1),
            }))
            # every clinic of a council at once, then the whole country at once
            hc_of = np.zeros((len(names), len(ct)))
            hc_of[own, rr] = 1.0
            together = np.vstack([hc_of @ d_muni, d_muni.sum(axis=0, keepdims=True)])
            ex, ro = council_capacities(m, yd, together)
            for j, h in enumerate(names + ["(country)"]):
                is_country = j == len(names)
                council_rows.append({
                    "model": m.name, "mode": mode, "share": share, "health_council": h,
                    "clinics": int(len(ct) if is_country else hc_of[j].sum()),
                    "patients_changed": int(k[ci].sum() if is_country else k[ci][own == j].sum()),
                    "capacities_exact_before": float(exact0[0].sum() if is_country else exact0[0, j]),
                    "capacities_exact_after": float(ex[j].sum() if is_country else ex[j, j]),
                    "capacities_before": int(round0[0].sum() if is_country else round0[0, j]),
                    "capacities_after": int(ro[j].sum() if is_country else ro[j, j]),
                    "country_capacities_change": int((ro[j] - round0[0]).sum()),
                })
    return pd.concat(rows, ignore_index=True), pd.DataFrame(council_rows)


def clinic_detail(yd: cells.YearData, m: StressModel, u: np.ndarray, clinic_id: str,
                  rankings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
                  ) -> tuple[pd.DataFrame, float]:
    """One clinic stressed through the whole chain (:func:`model.core.chain.capacity_tables` on the changed area
    sums): its minimum and its council's capacities before and after, per mode and share.  ``rankings``: as for
    :func:`stress_clinics`.  Out: (table, seconds of one full-chain run)."""
    cfg = m.config
    if clinic_id not in set(m.result.clinics["clinic_id"]):
        raise InputError(f"--clinic {clinic_id}: no open clinic with that clinic_id in {yd.year + 1}")
    K, M = len(yd.clinic_ids), len(yd.muni_codes)
    c = pd.Index(yd.clinic_ids).get_loc(clinic_id)
    before = m.result.clinics.set_index("clinic_id").loc[clinic_id]
    hc0 = m.result.by_health_council.set_index("health_council").loc[before["health_council"]]
    rows, seconds = [], []
    aw = m.area_weights
    for mode in MODES:
        for share in cfg.stress_shares:
            k = np.zeros(K, dtype=np.int64)
            k[c] = patients_changed([aw.listed[c]], share)[0]
            chosen = choose(yd, m.gain, u, mode, k, rankings[mode] if rankings is not None else None)
            g = m.gain[chosen]
            changed = dataclasses.replace(
                aw, sum_weight=aw.sum_weight + np.bincount(yd.pm[chosen], weights=g, minlength=M),
                sum_weight_clinic=aw.sum_weight_clinic + np.bincount(yd.pc[chosen], weights=g, minlength=K)[:K])
            t0 = time.perf_counter()
            res = mc.capacity_tables(changed, cfg)
            seconds.append(time.perf_counter() - t0)
            after = res.clinics.set_index("clinic_id").loc[clinic_id]
            hc1 = res.by_health_council.set_index("health_council").loc[before["health_council"]]
            rows.append({
                "model": m.name, "mode": mode, "share": share, "clinic_id": clinic_id,
                "health_council": before["health_council"], "listed_patients": int(before["listed_patients"]),
                "patients_changed": int(k[c]), "mean_weight_before": float(before["mean_weight"]),
                "mean_weight_after": float(after["mean_weight"]),
                "minimum_exact_before": float(before["minimum_patients_exact"]),
                "minimum_exact_after": float(after["minimum_patients_exact"]),
                "minimum_before": int(before["minimum_patients"]), "minimum_after": int(after["minimum_patients"]),
                "council_capacities_exact_before": float(hc0["capacities_exact"]),
                "council_capacities_exact_after": float(hc1["capacities_exact"]),
                "council_capacities_before": int(hc0["capacities"]), "council_capacities_after": int(hc1["capacities"]),
                "country_capacities_change": int(res.by_health_council["capacities"].sum()
                                                 - m.result.by_health_council["capacities"].sum()),
            })
    return pd.DataFrame(rows), float(np.median(seconds))


# =============================================================================
# Summaries
# =============================================================================


def _summary(cs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    d = cs.assign(falls=(cs["minimum_after"] < cs["minimum_before"]).astype(float),
                  council_change=cs["council_capacities_exact_after"] - cs["council_capacities_exact_before"])
    return d.groupby(by, sort=False).agg(
        clinics=("clinic_id", "size"), patients_changed=("patients_changed", "sum"),
        mean_minimum_change_pct=("minimum_change_pct", "mean"),
        median_minimum_change_pct=("minimum_change_pct", "median"),
        p10_minimum_change_pct=("minimum_change_pct", lambda s: float(np.percentile(s, 10))),
        share_minimum_falls=("falls", "mean"), mean_council_exact_change=("council_change", "mean"),
        max_council_exact_change=("council_change", "max")).reset_index()


def summaries(cs: pd.DataFrame, council_all: pd.DataFrame, compare: str) -> dict[str, pd.DataFrame]:
    """``headline``, ``damping``, ``by_practice_form`` and ``by_health_council`` from the clinics' rows."""
    keys = ["model", "mode", "share"]
    head = _summary(cs, keys)
    country = council_all[council_all["health_council"] == "(country)"].set_index(keys)
    head["country_capacities_before"] = country["capacities_before"].reindex(pd.MultiIndex.from_frame(head[keys])).to_numpy()
    head["country_capacities_change_all_clinics"] = \
        country["country_capacities_change"].reindex(pd.MultiIndex.from_frame(head[keys])).to_numpy()
    head["patients_without_gain_share"] = (cs.groupby(keys, sort=False)["patients_without_gain"].sum()
                                           / cs.groupby(keys, sort=False)["patients_changed"].sum()
                                           ).reindex(pd.MultiIndex.from_frame(head[keys])).to_numpy()
    by_form = _summary(cs, keys + ["practice_form"])
    by_hc = _summary(cs, keys + ["health_council"])
    ca = council_all[council_all["health_council"] != "(country)"].copy()
    ca["all_clinics_exact_change"] = ca["capacities_exact_after"] - ca["capacities_exact_before"]
    ca["all_clinics_change"] = ca["capacities_after"] - ca["capacities_before"]
    by_hc = by_hc.merge(ca[keys + ["health_council", "capacities_exact_before", "all_clinics_exact_change",
                                   "all_clinics_change", "country_capacities_change"]],
                        on=keys + ["health_council"], how="left")
    damping = pd.DataFrame()
    if compare in set(head["model"]):
        b = head[head["model"] == "base"].set_index(["mode", "share"])
        v = head[head["model"] == compare].set_index(["mode", "share"])
        damping = pd.DataFrame({
            "mean_minimum_change_pct_base": b["mean_minimum_change_pct"],
            f"mean_minimum_change_pct_{compare}": v["mean_minimum_change_pct"],
            "patients_without_gain_share_base": b["patients_without_gain_share"],
            f"patients_without_gain_share_{compare}": v["patients_without_gain_share"],
            "country_capacities_change_base": b["country_capacities_change_all_clinics"],
            f"country_capacities_change_{compare}": v["country_capacities_change_all_clinics"],
        })
        with np.errstate(divide="ignore", invalid="ignore"):
            damping["damping_ratio"] = (damping["mean_minimum_change_pct_base"]
                                        / damping[f"mean_minimum_change_pct_{compare}"])
        damping = damping.reset_index()
    return {"headline": head, "damping": damping, "by_practice_form": by_form, "by_health_council": by_hc}


# =============================================================================
# The whole test
# =============================================================================


def disease_steps(yd: cells.YearData, models: list[StressModel], top: int = 4) -> pd.DataFrame:
    """Per model and disease count 0..``top`` (the last open): the predicted use one more diagnosis adds (the
    same for every citizen at that count: the terms are additive) and the citizens at that count."""
    count = np.minimum(yd.atoms["somatic_diseases"].to_numpy(dtype=np.int64)[yd.atom], top)
    n = np.bincount(count, minlength=top + 1)
    rows = []
    for m in models:
        g = np.bincount(count, weights=m.gain_use, minlength=top + 1) / np.where(n > 0, n, np.nan)
        for c in range(top + 1):
            rows.append({"model": m.name, "from_count": f"{c}+" if c == top else str(c),
                         "to_count": f"{c + 1}+" if c == top else str(c + 1), "citizens": int(n[c]),
                         "gain_dkk": float(g[c])})
    return pd.DataFrame(rows)


def stress_models(yd: cells.YearData, models: list[StressModel], clinic: str | None = None, sample: int | None = None
                  ) -> StressResult:
    """The stress test of prepared models on one year (the first model is the base; clinics sampled on it)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    base = models[0]
    u = random_keys(yd.persons, base.config.stress_seed)
    chosen = stressed_clinics(base, sample, base.config.stress_seed)
    rows, council_rows, details, chain_seconds = [], [], [], []
    random_rank = ranking(yd, base.gain, u, "random")  # the order of u within clinics: the same for every model
    for m in models:
        ct = stressed_clinics(m)
        ct = ct[ct["clinic_id"].isin(chosen["clinic_id"])].reset_index(drop=True)
        t = time.perf_counter()
        # one sort per mode and model, reused by every share
        rankings = {mode: random_rank if mode == "random" else ranking(yd, m.gain, u, mode) for mode in MODES}
        cs, ca = stress_clinics(yd, m, u, ct, rankings)
        timings[f"vectorised_{m.name}"] = round(time.perf_counter() - t, 3)
        rows.append(cs)
        council_rows.append(ca)
        det, sec = clinic_detail(yd, m, u, clinic if clinic is not None else str(ct["clinic_id"].iloc[0]), rankings)
        chain_seconds.append(sec)
        if clinic is not None:
            details.append(det)
    cs = pd.concat(rows, ignore_index=True)
    ca = pd.concat(council_rows, ignore_index=True)
    compare = models[1].name if len(models) > 1 else ""
    tables = summaries(cs, ca, compare)
    tables["clinic_stress"] = cs
    tables["disease_steps"] = disease_steps(yd, models)
    if details:
        tables["clinic_detail"] = pd.concat(details, ignore_index=True)
    scenarios = len(MODES) * len(base.config.stress_shares) * len(models)
    full = float(np.median(chain_seconds))
    timings["full_chain_seconds_per_clinic_scenario"] = round(full, 4)
    timings["full_chain_all_clinics_estimate"] = round(full * len(chosen) * scenarios, 1)
    timings["total"] = round(time.perf_counter() - t0, 3)
    facts = {"clinics_stressed": int(len(chosen)), "models": [m.name for m in models],
             "shares": list(base.config.stress_shares), "modes": list(MODES), "seed": base.config.stress_seed,
             "normalisation": "held at the fitted year's (weight_normaliser of the unchanged population)",
             "coefficients": {m.name: {k: float(v) for k, v in m.params.items()} for m in models}}
    return StressResult(year=yd.year, tables=tables, facts=facts, timings=timings)


def run_stress_test(data: str | Path, year: int = 2025, clinic: str | None = None, settings: Any = None,
                    sample: int | None = None, config: ModelConfig | None = None) -> StressResult:
    """Read the year, fit the base model and the variant without the "one disease counts as none" rule
    (``stress_compare_variant``), and stress every clinic (or a seeded ``sample``) under both."""
    t0 = time.perf_counter()
    cfg = (config or ModelConfig()).replace(year=int(year), planning_year=int(year) + 1).with_settings(parse_settings(settings))
    yd = read_year(data, cfg.year, insurance_group=cfg.insurance_group, planning_year=cfg.planning_year, hashes=True)
    t_read = time.perf_counter() - t0
    models = []
    for name, c in (("base", cfg), (cfg.stress_compare_variant, cfg.variant(cfg.stress_compare_variant))):
        t = time.perf_counter()
        models.append(prepare(yd, c, cells.fit(yd, c).params, name=name))
        t_prep = time.perf_counter() - t
        if name == "base":
            base_prep = t_prep
    res = stress_models(yd, models, clinic=clinic, sample=sample)
    res.timings = {"read": round(t_read, 3), "fit_and_prepare_base": round(base_prep, 3), **res.timings}
    res.facts.update({"year": cfg.year, "config": cfg.to_dict(), "inputs": dict(yd.files)})
    return res


def write_stress_test(res: StressResult, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the tables (``<name>.csv``) and ``manifest.json`` to ``out`` atomically
    (:class:`model.artifacts.AtomicFolder`).  Aggregates per clinic only: no person rows."""
    with AtomicFolder(Path(out)) as tmp:
        for name in TABLES:
            if name in res.tables:
                write_csv(res.tables[name], tmp / f"{name}.csv")
        facts = {k: v for k, v in res.facts.items() if k not in ("config", "inputs")}
        manifest = {"command": "stress-test", "year": res.year, "config": res.facts.get("config"),
                    "inputs": res.facts.get("inputs", {}), "facts": facts, "tables": TABLES,
                    "timings_seconds": res.timings, "versions": package_versions(), "commit": git_commit(),
                    **(extra or {})}
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
    return Path(out)


def load_stress_test(folder: str | Path) -> dict[str, Any]:
    """The tables of a stress-test folder by name, with ``manifest``."""
    d = Path(folder)
    m = d / "manifest.json"
    if not m.is_file():
        raise FileNotFoundError(f"{d}: no manifest.json; run `python -m model stress-test` first")
    out: dict[str, Any] = {n: pd.read_csv(d / f"{n}.csv", dtype={"clinic_id": str})
                           for n in TABLES if (d / f"{n}.csv").is_file()}
    out["manifest"] = json.loads(m.read_text(encoding="utf-8"))
    return out


def summary_line(res: StressResult) -> str:
    """One line for the command line: the base model's headline at the largest share, targeted."""
    h = res.tables["headline"]
    share = max(h["share"])
    r = h[(h["model"] == "base") & (h["mode"] == "targeted") & (h["share"] == share)].iloc[0]
    return (f"stress test {res.year}: {int(r['clinics']):,} clinics; one more chronic diagnosis for {share:.0%} of a "
            f"clinic's patients (targeted) lowers the median minimum patient number by "
            f"{-r['median_minimum_change_pct']:.1f} %; every clinic at once: "
            f"{int(r['country_capacities_change_all_clinics']):+,} capacities nationally; {res.timings.get('total', 0):.1f} s")
