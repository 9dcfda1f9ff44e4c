"""Writing the whole synthetic data folder: :func:`generate` and the tables and manifest it writes."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from model.artifacts import finish_synth_folder, prepare_synth_folder
from model.inputs import reference
from model.inputs.synthetic.arrow import (
    _BackgroundWriter,
    _dict_array,
    _parquet_writer,
    _person_schema,
    _service_schema,
    _string_array,
    _unique_ids,
)
from model.inputs.synthetic.clinics import _open_mask, _plan_clinics_internal
from model.inputs.synthetic.evaluation_years import (
    CONSULTATION_FEE_MULTIPLIER_2027,
    CONTACT_BUDGET_SHARE_2027,
    FEE_STRUCTURE_2027,
    FEE_STRUCTURE_YEAR,
    UPCODING_CLINIC_SHARE,
    UPCODING_RATE,
    _plan_upcoding,
    _structure_coefficients,
    _upcode,
)
from model.inputs.synthetic.panel import _build_panel
from model.inputs.synthetic.population import (
    _REGION_ORDER,
    _apportion,
    _context,
    _draw_population,
)
from model.inputs.synthetic.reports import (
    _CSV_FROM,
    _CSV_REGION,
    CAPACITY_GROWTH,
    MONTHLY_REPORTS_FROM,
    VACANCY_FILL_RATE,
    _simulate_capacities,
    _write_capacity_reports,
    _write_report_history,
    report_dates,
)
from model.inputs.synthetic.services import _contact_counts, _write_services_year
from model.inputs.synthetic.traits import _characteristics, _draw_latent, _People
from model.inputs.synthetic.truth import (
    _CIVIL,
    _LABOUR,
    _ORIGINS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    NATIONAL_POPULATION,
    REGIONAL_TENDER_RECORDING_FACTOR,
    TRUE_COEFFICIENTS,
    ULTRASOUND_CODES,
    ULTRASOUND_FEE_2025,
    ULTRASOUND_MUNICIPALITIES,
    ULTRASOUND_YEARS,
    UNLISTED_SHARE,
    fee_index,
)
from model.inputs.synthetic.use import _fees


def generate(
    out_dir: str | Path,
    persons: int = NATIONAL_POPULATION,
    years: Iterable[int] = DEFAULT_YEARS,
    seed: int = DEFAULT_SEED,
    services: bool = True,
    services_years: Iterable[int] | None = None,
    verbose: bool = False,
    capacity_history: bool | None = None,
) -> dict[str, Any]:
    """Write a complete synthetic input data set to ``out_dir``; return paths and summary figures.

    Parameters
    ----------
    out_dir:
        Folder to write to (created; files in it are overwritten).
    persons:
        Citizens in the latest panel year (default: Denmark's 6,025,511).  At
        least 98 (one per municipality); smaller numbers are a proportional
        sample of Denmark (the clinic structure stays national).
    years:
        Consecutive panel years; the latest matches the real populations of
        1 January 2026.  Default 2021-2025.
    seed:
        Seed of every random draw; the same arguments give identical bytes.
    services:
        Write ``services.parquet`` (service lines).
    services_years:
        Years to write service lines for (default: the latest panel year).
    capacity_history:
        Write the regions' capacity reports over time (quarterly from
        :data:`FIRST_REPORT_DATE`, monthly from 1 January 2027, up to 1
        January after the latest year; four regions from 2027), the
        submissions log and the reports with planted mistakes
        (``capacity_reports/with_mistakes/``); ``clinics.csv`` then holds the
        capacities and vacancies of the last report.  None (default): only
        when the panel reaches 2026, so that the reports run into the four
        regions of 2027; otherwise one report per region per 1 January after
        the latest year, as before.

    Years from :data:`FEE_STRUCTURE_YEAR` (2027) use the new fee structure
    (:data:`FEE_STRUCTURE_2027`) and carry the planted "sickness on paper"
    (:data:`UPCODING_CLINIC_SHARE`); years before are unchanged by them.

    Returns
    -------
    dict with ``files`` (name -> path), ``summary`` (calibration figures) and
    ``timings`` / ``cpu_timings`` (wall-clock / CPU seconds per stage).
    """
    import resource

    def _cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    t0, c0 = time.perf_counter(), _cpu()
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}

    def tick(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)
        cpu_timings[name] = round(_cpu() - c0 - sum(cpu_timings.values()), 3)
        if verbose:
            print(f"[synthetic] {name}: {timings[name]:.1f} s (cpu {cpu_timings[name]:.1f} s)", file=sys.stderr,
                  flush=True)

    years = sorted(set(int(y) for y in years))
    if not years:
        raise ValueError("years must not be empty")
    if years != list(range(years[0], years[-1] + 1)):
        raise ValueError(f"years must be consecutive, got {years}")
    persons = int(persons)
    last = years[-1]
    s_years = [last] if services_years is None else sorted(set(int(y) for y in services_years))
    if not set(s_years) <= set(years):
        raise ValueError(f"services_years {s_years} must be panel years {years}")
    if not services:
        s_years = []
    out = Path(out_dir)
    prepare_synth_folder(out)  # refuses a non-empty folder synth did not write; marks it as being written

    ctx = _context()
    streams = np.random.SeedSequence(seed).spawn(7)
    rng_pop, rng_lat, rng_clin, rng_panel, rng_fee, rng_serv, rng_id = (np.random.default_rng(s) for s in streams)
    rng_contact = np.random.default_rng([int(seed), 975])  # contacts, unlisted citizens, days resident
    plan = _plan_clinics_internal(rng_clin, ctx, years)
    tick("clinics")

    n_m = _apportion(ctx.pop, persons, minimum=1)
    muni, sex, age = _draw_population(rng_pop, ctx, n_m)
    people = _People()
    by = (last - age.astype(np.int64))
    lat0 = _draw_latent(rng_lat, ctx, muni.astype(np.int64), sex, by, last, "base")
    latest_idx = people.add(muni.astype(np.int64), sex, by, lat0)
    del lat0
    tick("population")

    panel = _build_panel(rng_panel, rng_lat, ctx, plan, people, latest_idx, muni.astype(np.int16), years)
    tick("panel")
    lat = people.finalise()
    n_ever = len(lat["sex"])
    # pseudonymous person IDs: unique random 10-digit numbers, assigned in random order; the person
    # store is then reordered by ID so that each year's rows (sorted by ID) are read sequentially
    ids_sorted, rank = _unique_ids(rng_id, n_ever, 10 ** 10)
    inv = np.empty(n_ever, dtype=np.int64)
    inv[rank] = np.arange(n_ever)
    for k in list(lat):
        lat[k] = lat[k][inv]
    del inv
    for t in years:
        panel[t].idx = rank[panel[t].idx].astype(np.int32)
    del rank
    pid_all = _string_array(ids_sorted, 10)
    tick("ids")

    # clinic dictionary: all provider numbers sorted
    corder = np.argsort(plan["clinic_id"].to_numpy(), kind="stable")
    crank = np.empty(len(plan), dtype=np.int16)
    crank[corder] = np.arange(len(plan), dtype=np.int16)
    clinic_dict = pa.array(plan["clinic_id"].to_numpy()[corder].tolist(), type=pa.string())
    muni_dict = ctx.codes.tolist()
    plan_arrays = {
        "regional_tender": plan["practice_form"].isin(["regional", "tender"]).to_numpy(),
        "ultrasound": plan["ultrasound"].to_numpy(dtype=bool),
    }
    index = fee_index(years)
    schema = _person_schema()
    persons_path = out / "persons.parquet"
    services_path = out / "services.parquet"
    writer = _BackgroundWriter(_parquet_writer(persons_path, schema))
    swriter = _BackgroundWriter(_parquet_writer(services_path, _service_schema())) if s_years else None
    summary_years: dict[int, dict[str, Any]] = {}
    listed_latest = np.zeros(len(plan), dtype=np.int64)
    listed_by_year: dict[int, np.ndarray] = {}
    g1_counts: dict[int, np.ndarray] = {}
    # "more sickness on paper" from the 2027 fee structure: own random stream, so earlier years are unchanged
    upcoding = None
    if last >= FEE_STRUCTURE_YEAR:
        rng_up = np.random.default_rng([int(seed), FEE_STRUCTURE_YEAR])
        upcoding = _plan_upcoding(rng_up, plan)
        recorded_extra = np.zeros(n_ever, dtype=bool)
    for t in years:
        yr = panel[t]
        pos = np.full(n_ever, -1, dtype=np.int64)
        pos[yr.idx] = np.arange(len(yr.idx))
        order = pos[pos >= 0]
        del pos
        idx = yr.idx[order]
        mu = yr.muni[order].astype(np.int64)
        cl = yr.clinic[order]
        ch = _characteristics(lat, ctx, idx, t, rng_fee)
        f = _fees(rng_fee, ch, ctx, mu, cl, plan_arrays, t, index[t], lat["uptake"][idx])
        if upcoding is not None and t >= FEE_STRUCTURE_YEAR:  # after the fees: use follows the true count
            ch["somatic"] = _upcode(rng_up, upcoding, recorded_extra, idx, cl, ch["somatic"])
        f["contacts"], f["unit"] = _contact_counts(rng_contact, f["base"], ch["age"].astype(np.int64), index[t], t,
                                                   f["enrolled"])
        contact = f["contacts"] @ f["unit"]
        # a few group-1 citizens with no practice on record (they count in the need and the fit, not in clinics)
        unlisted = (ch["insurance"] == 1) & (rng_contact.random(len(idx)) < UNLISTED_SHARE)
        ydays = 366 if calendar.isleap(t) else 365
        days = np.where(ch["age"] == 0, rng_contact.integers(1, ydays + 1, len(idx)), ydays).astype(np.int16)
        listed_by_year[t] = np.bincount(cl[~unlisted], minlength=len(plan))
        gross = f["base"] + f["local"]
        pid_t = pid_all.take(pa.array(idx))
        tbl = pa.table({
            "person_id": pid_t,
            "year": pa.array(np.full(len(idx), t, dtype=np.int16)),
            "municipality_code": _dict_array(mu.astype(np.int8), muni_dict),
            "sex": pa.array(ch["sex"].astype(np.int8)),
            "age": pa.array(ch["age"].astype(np.int16)),
            "civil_status": _dict_array(ch["civil"], _CIVIL),
            "origin_group": _dict_array(ch["origin"], _ORIGINS),
            "insurance_group": pa.array(ch["insurance"]),
            "labour_status": _dict_array(ch["labour"], _LABOUR),
            "somatic_diseases": pa.array(ch["somatic"]),
            "psychiatric": pa.array(ch["psychiatric"]),
            "psychiatric_extended": pa.array(ch["psychiatric_extended"]),
            "cancer_5y": pa.array(ch["cancer_5y"]),
            "cancer_10y": pa.array(ch["cancer_10y"]),
            "clinic_id": pa.DictionaryArray.from_arrays(pa.array(crank[cl], mask=unlisted), clinic_dict),
            "gross_fee": pa.array(gross / 100.0),
            "chronic_fee": pa.array(f["chronic"] / 100.0),
            "local_services_fee": pa.array(f["local"] / 100.0),
            "contact_fee": pa.array(contact / 100.0),
            "days_resident": pa.array(days),
        }, schema=schema)
        writer.write(tbl)
        del tbl
        ins1 = ch["insurance"] == 1
        g1_counts[t] = np.bincount(mu[ins1], minlength=len(ctx.codes))
        y = (gross + f["unbilled"]) / 100.0  # true use: the contacts the chronic-care fee replaced included
        a = ch["age"]
        rt = plan_arrays["regional_tender"][cl]
        ys: dict[str, Any] = {
            "persons": int(len(idx)),
            "mean_use": float(y.mean()),
            "mean_use_10_19": float(y[(a >= 10) & (a <= 19)].mean()),
            "mean_use_80plus": float(y[a >= 80].mean()),
            "share_zero_use": float((y == 0).mean()),
            "share_regional_tender": float(rt.mean()),
            "persons_regional_tender": int(rt.sum()),
            "local_services_persons": int((f["local"] > 0).sum()),
            "chronic_fee_persons": int((f["chronic"] > 0).sum()),
            "unlisted_group1_persons": int(unlisted.sum()),
            "mean_contact_fee": float(contact.mean() / 100.0),
            "age0": int((a == 0).sum()),
        }
        if t in s_years:
            sinfo = _write_services_year(swriter, rng_serv, t, pid_t, crank[cl], clinic_dict, f)
            ys["service_lines"] = sinfo["lines"]
            ys["contacts_per_person"] = sinfo["contacts"] / len(idx)
        summary_years[t] = ys
        if t == last:
            listed_latest = np.bincount(cl[~unlisted], minlength=len(plan))
            latest = dict(age=a, sex=ch["sex"], origin=ch["origin"], labour=ch["labour"], somatic=ch["somatic"],
                          psych=ch["psychiatric"], cancer=ch["cancer_5y"], civil=ch["civil"], cl=cl)
        del ch, f, gross, pid_t
        tick(f"year {t}")
    writer.close()
    if swriter is not None:
        swriter.close()
    elif services_path.exists():
        services_path.unlink()

    # capacities over time: clinics.csv then holds the state of the last report
    if capacity_history is None:
        capacity_history = last + 1 >= MONTHLY_REPORTS_FROM.year
    sim = None
    if capacity_history:
        rng_cap = np.random.default_rng([int(seed), 975])
        sim = _simulate_capacities(rng_cap, plan, ctx, report_dates(years))
        plan = plan.copy()
        plan["capacities"] = sim["allocated"]
        plan["vacant_capacities"] = sim["vacant"]

    # clinics.csv
    scale_up = NATIONAL_POPULATION / persons
    clinics = plan.sort_values("clinic_id", kind="stable")
    cdf = pd.DataFrame({
        "clinic_id": clinics["clinic_id"],
        "name": clinics["name"],
        "municipality_code": clinics["municipality_code"],
        "postcode": clinics["postcode"],
        "practice_form": clinics["practice_form"],
        "capacities": clinics["capacities"].map(lambda x: f"{x:g}"),
        "vacant_capacities": clinics["vacant_capacities"].map(lambda x: f"{x:g}"),
        "island_doctor": clinics["island_doctor"].map(lambda b: "true" if b else "false"),
        "opened": clinics["opened"],
        "closed": clinics["closed"],
        "split_from": clinics["split_from"],
    })
    clinics_path = out / "clinics.csv"
    cdf.to_csv(clinics_path, index=False, lineterminator="\n", encoding="utf-8")

    # municipalities.csv: byte copy
    muni_path = out / "municipalities.csv"
    shutil.copyfile(reference.data_path("municipalities.csv"), muni_path)

    # population projection (group 1; real scale)
    proj_rows = []
    nmun = len(ctx.codes)
    g1_last = g1_counts[last].astype(float)
    n_last = np.bincount(panel[last].muni.astype(np.int64), minlength=nmun).astype(float)
    real_g1_last = ctx.pop * np.divide(g1_last, n_last, out=np.ones(nmun), where=n_last > 0)
    levels = {}
    for t in years:
        rel = np.divide(g1_counts[t], g1_last, out=np.ones(nmun), where=g1_last > 0)
        levels[t] = real_g1_last * rel
    if len(years) > 1:
        span = years[-1] - years[0]
        g_m = np.divide(levels[last], levels[years[0]], out=np.ones(nmun), where=levels[years[0]] > 0) ** (1 / span) - 1
        g_nat = (levels[last].sum() / levels[years[0]].sum()) ** (1 / span) - 1
        g = np.clip(0.5 * g_m + 0.5 * g_nat, -0.01, 0.02)
    else:
        g = np.full(nmun, 0.004)
    for k in (1, 2):
        levels[last + k] = levels[last] * (1 + g) ** k
    for t in sorted(levels):
        for i in range(nmun):
            proj_rows.append((ctx.codes[i], t, int(round(levels[t][i]))))
    proj_path = out / "population_projection.csv"
    pd.DataFrame(proj_rows, columns=["municipality_code", "year", "population_end_of_year"]).to_csv(
        proj_path, index=False, lineterminator="\n")

    # fee index
    fee_path = out / "fee_index.csv"
    pd.DataFrame({"year": list(index), "index": [f"{v:.2f}" for v in index.values()]}).to_csv(
        fee_path, index=False, lineterminator="\n")

    # capacity reports (1 January after the latest year)
    listed_scaled = np.rint(listed_latest * scale_up).astype(np.int64)
    bad_reports: list[Path] = []
    if sim is not None:
        report_paths, bad_reports = _write_report_history(out, plan, ctx, sim, listed_by_year, scale_up, rng_cap)
    else:
        report_paths = _write_capacity_reports(out, plan, ctx, dt.date(last + 1, 1, 1), listed_scaled)
    tick("tables")

    # summary
    open_last = _open_mask(plan, last)
    isl = np.where(plan["island_doctor"].to_numpy())[0]
    a = latest["age"]
    w1667 = (a >= 16) & (a <= 67)
    nlast = len(a)
    summary: dict[str, Any] = {
        "synthetic": True,
        "persons_latest_year": nlast,
        "persons_ever": int(n_ever),
        "scale_up_to_national": scale_up,
        "years": {str(t): v for t, v in summary_years.items()},
        "clinics_open_latest_year": int(open_last.sum()),
        "clinics_total": int(len(plan)),
        "capacities_open_latest_year": float(plan["capacities"].to_numpy()[open_last].sum()),
        "vacant_capacities_open_latest_year": float(plan["vacant_capacities"].to_numpy()[open_last].sum()),
        "list_per_capacity_latest_year": float(nlast * scale_up / plan["capacities"].to_numpy()[open_last].sum()),
        "island_clinics": {plan.at[c, "clinic_id"]: {"name": plan.at[c, "name"], "listed_scaled": int(listed_scaled[c])}
                           for c in isl},
        "share_menapt": float((latest["origin"] == 1).mean()),
        "share_western": float((latest["origin"] == 2).mean()),
        "share_other_non_western": float((latest["origin"] == 3).mean()),
        "share_permanently_outside_16_67": float((latest["labour"][w1667] == 3).mean()),
        "share_temporarily_outside_16_67": float((latest["labour"][w1667] == 2).mean()),
        "share_somatic_1plus": float((latest["somatic"] >= 1).mean()),
        "share_somatic_1plus_80plus": float((latest["somatic"][a >= 80] >= 1).mean()),
        "share_psychiatric": float(latest["psych"].mean()),
        "share_cancer_5y": float(latest["cancer"].mean()),
        "share_widowed_65plus": float(np.isin(latest["civil"][a >= 65], [3, 6]).mean()),
        "civil_status_shares": {c: float((latest["civil"] == i).mean()) for i, c in enumerate(_CIVIL)},
    }
    files = {
        "persons": persons_path, "clinics": clinics_path, "municipalities": muni_path,
        "population_projection": proj_path, "fee_index": fee_path, "capacity_reports": report_paths,
    }
    if s_years:
        files["services"] = services_path
    manifest = {
        "description": "SYNTHETIC data made by model.synthetic; no real persons, clinics or fees.",
        "parameters": {"persons": persons, "years": years, "seed": seed, "services_years": s_years},
        "true_coefficients": TRUE_COEFFICIENTS,
        "regional_tender_recording_factor": REGIONAL_TENDER_RECORDING_FACTOR,
        "fee_index": {str(k): v for k, v in index.items()},
        "ultrasound": {"codes": list(ULTRASOUND_CODES), "fee_2025": ULTRASOUND_FEE_2025,
                       "years": list(ULTRASOUND_YEARS), "municipalities": list(ULTRASOUND_MUNICIPALITIES),
                       "participating_clinics": sorted(plan.loc[plan["ultrasound"], "clinic_id"].tolist())},
        "summary": summary,
    }
    if upcoding is not None or sim is not None:  # only for panels that reach the new fee structure / the reports
        truth: dict[str, Any] = {"capacity_history": bool(sim is not None)}
        if last >= FEE_STRUCTURE_YEAR:
            truth["fee_structure"] = {
                "from_year": FEE_STRUCTURE_YEAR, "multipliers": FEE_STRUCTURE_2027,
                "true_coefficients": _structure_coefficients(FEE_STRUCTURE_YEAR),
                "consultation_fee_multiplier": CONSULTATION_FEE_MULTIPLIER_2027,
                "contact_budget_share": CONTACT_BUDGET_SHARE_2027,
            }
            truth["upcoding"] = {"from_year": FEE_STRUCTURE_YEAR, "clinic_share": UPCODING_CLINIC_SHARE,
                                 "rate_per_year": UPCODING_RATE,
                                 "clinics": sorted(plan.loc[upcoding, "clinic_id"].tolist())}
        if sim is not None:
            days = sorted(sim["states"])
            truth["capacity_reports"] = {
                "dates": [d.isoformat() for d in days],
                "growth_per_year_by_region": {_REGION_ORDER[r]: g for r, g in CAPACITY_GROWTH.items()},
                "vacancy_fill_rate_per_month": VACANCY_FILL_RATE,
                "csv_region_from": {"region": _CSV_REGION, "from": _CSV_FROM.isoformat()},
                "national": {d.isoformat(): {"allocated": float(sim["states"][d][0][sim["states"][d][2]].sum()),
                                             "vacant": float(sim["states"][d][1][sim["states"][d][2]].sum())}
                             for d in days},
                "with_mistakes": [p.name for p in bad_reports],
            }
        manifest["evaluation_truth"] = truth
        files["capacity_reports_with_mistakes"] = bad_reports
    man_path = out / "synthetic_manifest.json"
    man_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    files["manifest"] = man_path
    finish_synth_folder(out)
    tick("summary")
    return {"files": files, "summary": summary, "timings": timings, "cpu_timings": cpu_timings}
