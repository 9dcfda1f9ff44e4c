"""Writing the whole synthetic data folder: :func:`generate`, stage by stage.

The random streams are drawn in a fixed order (see :class:`_Streams`), so the
same arguments give byte-identical files; the small tables, the summary and
the manifest are written by :mod:`model.inputs.synthetic.tables`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import resource
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from model.artifacts import finish_synth_folder, prepare_synth_folder
from model.errors import ConfigError
from model.inputs.synthetic.arrow import (
    _BackgroundWriter,
    _dict_array,
    _parquet_writer,
    _person_schema,
    _service_schema,
    _string_array,
    _unique_ids,
)
from model.inputs.synthetic.calibration import calibration_table
from model.inputs.synthetic.clinics import _plan_clinics_internal
from model.inputs.synthetic.evaluation_years import (
    FEE_STRUCTURE_YEAR,
    _plan_upcoding,
    _upcode,
)
from model.inputs.synthetic.panel import _build_panel, _Year
from model.inputs.synthetic.population import (
    _apportion,
    _Context,
    _context,
    _draw_population,
)
from model.inputs.synthetic.reports import (
    MONTHLY_REPORTS_FROM,
    _simulate_capacities,
    _write_capacity_reports,
    _write_report_history,
    report_dates,
)
from model.inputs.synthetic.services import _contact_counts, _write_services_year
from model.inputs.synthetic.tables import (
    _evaluation_truth,
    _summary,
    _write_clinics_csv,
    _write_fee_index,
    _write_manifest,
    _write_municipalities,
    _write_projection,
)
from model.inputs.synthetic.traits import _characteristics, _draw_latent, _People
from model.inputs.synthetic.truth import (
    _CIVIL,
    _LABOUR,
    _ORIGINS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    NATIONAL_POPULATION,
    UNLISTED_SHARE,
    fee_index,
)
from model.inputs.synthetic.use import _fees


class _Clock:
    """Wall-clock and CPU seconds per stage of :func:`generate` (``timings`` / ``cpu_timings``)."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.t0, self.c0 = time.perf_counter(), self._cpu()
        self.timings: dict[str, float] = {}
        self.cpu_timings: dict[str, float] = {}

    @staticmethod
    def _cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def tick(self, name: str) -> None:
        """Record the seconds since the previous tick under ``name`` (printed to stderr when verbose)."""
        timings, cpu_timings = self.timings, self.cpu_timings
        timings[name] = round(time.perf_counter() - self.t0 - sum(timings.values()), 3)
        cpu_timings[name] = round(self._cpu() - self.c0 - sum(cpu_timings.values()), 3)
        if self.verbose:
            print(f"[synthetic] {name}: {timings[name]:.1f} s (cpu {cpu_timings[name]:.1f} s)", file=sys.stderr,
                  flush=True)


@dataclass
class _Streams:
    """The independent random streams of one data set, all derived from ``seed``.

    Seven children of ``SeedSequence(seed)`` (population, latent traits,
    clinics, panel, fees and characteristics, service lines, person IDs) and
    ``default_rng([seed, 975])`` for contacts, unlisted citizens and days
    resident.  (The capacity simulation and the upcoding have their own.)
    """

    pop: np.random.Generator
    lat: np.random.Generator
    clin: np.random.Generator
    panel: np.random.Generator
    fee: np.random.Generator
    serv: np.random.Generator
    id: np.random.Generator
    contact: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> _Streams:
        """The streams of ``seed``."""
        streams = np.random.SeedSequence(seed).spawn(7)
        rng_pop, rng_lat, rng_clin, rng_panel, rng_fee, rng_serv, rng_id = (np.random.default_rng(s) for s in streams)
        rng_contact = np.random.default_rng([int(seed), 975])  # contacts, unlisted citizens, days resident
        return cls(rng_pop, rng_lat, rng_clin, rng_panel, rng_fee, rng_serv, rng_id, rng_contact)


def _check_arguments(persons: int, years: Iterable[int], services: bool,
                     services_years: Iterable[int] | None) -> tuple[int, list[int], list[int]]:
    """(persons, sorted panel years, years to write service lines for) or :class:`ConfigError`.

    The panel years must be consecutive and not empty; ``services_years``
    (default: the latest year) must be panel years; none when not ``services``.
    """
    years = sorted(set(int(y) for y in years))
    if not years:
        raise ConfigError("years must not be empty")
    if years != list(range(years[0], years[-1] + 1)):
        raise ConfigError(f"years must be consecutive, got {years}")
    persons = int(persons)
    last = years[-1]
    s_years = [last] if services_years is None else sorted(set(int(y) for y in services_years))
    if not set(s_years) <= set(years):
        raise ConfigError(f"services_years {s_years} must be panel years {years}")
    if not services:
        s_years = []
    return persons, years, s_years


def _draw_people(rng: _Streams, ctx: _Context, persons: int, last: int) -> tuple[_People, np.ndarray, np.ndarray]:
    """The latest year's citizens: (person store, their person indices, their municipality indices).

    ``persons`` are apportioned to the municipalities by real population (at
    least one each), drawn by sex and age, and given their persistent traits.
    """
    n_m = _apportion(ctx.pop, persons, minimum=1)
    muni, sex, age = _draw_population(rng.pop, ctx, n_m)
    people = _People()
    by = (last - age.astype(np.int64))
    lat0 = _draw_latent(rng.lat, ctx, muni.astype(np.int64), sex, by, last, "base")
    latest_idx = people.add(muni.astype(np.int64), sex, by, lat0)
    del lat0
    return people, latest_idx, muni


def _assign_ids(rng: np.random.Generator, lat: dict[str, np.ndarray], panel: dict[int, _Year],
                years: list[int]) -> pa.Array:
    """Pseudonymous person IDs: unique random 10-digit numbers, assigned in random order.

    The person store ``lat`` and each year's ``panel[t].idx`` are renumbered
    in place so that person index = rank of the ID; returns the IDs (sorted)
    as 10-character strings, so each year's rows (sorted by ID) are read
    sequentially.
    """
    n_ever = len(lat["sex"])
    ids_sorted, rank = _unique_ids(rng, n_ever, 10 ** 10)
    inv = np.empty(n_ever, dtype=np.int64)
    inv[rank] = np.arange(n_ever)
    for k in list(lat):
        lat[k] = lat[k][inv]
    del inv
    for t in years:
        panel[t].idx = rank[panel[t].idx].astype(np.int32)
    del rank
    return _string_array(ids_sorted, 10)


def _clinic_dictionary(plan: pd.DataFrame) -> tuple[np.ndarray, pa.Array]:
    """(rank of each plan row among the provider numbers sorted, those sorted numbers as a string array)."""
    corder = np.argsort(plan["clinic_id"].to_numpy(), kind="stable")
    crank = np.empty(len(plan), dtype=np.int16)
    crank[corder] = np.arange(len(plan), dtype=np.int16)
    clinic_dict = pa.array(plan["clinic_id"].to_numpy()[corder].tolist(), type=pa.string())
    return crank, clinic_dict


class _Upcoding:
    """"More sickness on paper" from :data:`FEE_STRUCTURE_YEAR`: the clinics, their own stream, who is affected."""

    def __init__(self, seed: int, plan: pd.DataFrame, n_ever: int) -> None:
        # own random stream, so earlier years are unchanged
        self.rng = np.random.default_rng([int(seed), FEE_STRUCTURE_YEAR])
        self.clinics = _plan_upcoding(self.rng, plan)
        self.recorded_extra = np.zeros(n_ever, dtype=bool)

    def recorded_somatic(self, idx: np.ndarray, clinic: np.ndarray, somatic: np.ndarray) -> np.ndarray:
        """The recorded somatic disease counts of one year's persons ``idx`` listed at ``clinic``."""
        return _upcode(self.rng, self.clinics, self.recorded_extra, idx, clinic, somatic)


def _year_rows(yr: _Year, n_ever: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One panel year's (person index, municipality index, clinic row) sorted by person index (= by ID)."""
    pos = np.full(n_ever, -1, dtype=np.int64)
    pos[yr.idx] = np.arange(len(yr.idx))
    order = pos[pos >= 0]
    del pos
    return yr.idx[order], yr.muni[order].astype(np.int64), yr.clinic[order]


def _draw_year(rng: _Streams, lat: dict[str, np.ndarray], ctx: _Context, plan_arrays: dict[str, np.ndarray],
               upcoding: _Upcoding | None, idx: np.ndarray, mu: np.ndarray, cl: np.ndarray, t: int,
               idx_t: float) -> tuple[dict[str, np.ndarray], dict[str, Any], np.ndarray, np.ndarray]:
    """Everything drawn for one year's persons: (characteristics, fees, unlisted, days resident).

    The fees (øre) gain ``contacts`` and ``unit`` (:func:`_contact_counts`);
    from :data:`FEE_STRUCTURE_YEAR` the recorded somatic count is upcoded
    after the fees (use follows the true count).  ``unlisted``: group-1
    citizens with no practice on record; ``days``: days resident (below the
    whole year for the newborn).
    """
    ch = _characteristics(lat, ctx, idx, t, rng.fee)
    f = _fees(rng.fee, ch, ctx, mu, cl, plan_arrays, t, idx_t, lat["uptake"][idx])
    if upcoding is not None and t >= FEE_STRUCTURE_YEAR:  # after the fees: use follows the true count
        ch["somatic"] = upcoding.recorded_somatic(idx, cl, ch["somatic"])
    f["contacts"], f["unit"] = _contact_counts(rng.contact, f["base"], ch["age"].astype(np.int64), idx_t, t,
                                               f["enrolled"])
    # a few group-1 citizens with no practice on record (they count in the need and the fit, not in clinics)
    unlisted = (ch["insurance"] == 1) & (rng.contact.random(len(idx)) < UNLISTED_SHARE)
    ydays = 366 if calendar.isleap(t) else 365
    days = np.where(ch["age"] == 0, rng.contact.integers(1, ydays + 1, len(idx)), ydays).astype(np.int16)
    return ch, f, unlisted, days


def _person_table(schema: pa.Schema, pid_t: pa.Array, t: int, mu: np.ndarray, ch: dict[str, np.ndarray],
                  f: dict[str, Any], contact: np.ndarray, unlisted: np.ndarray, days: np.ndarray,
                  clinic_codes: np.ndarray, clinic_dict: pa.Array, muni_dict: list[str]) -> pa.Table:
    """One year's rows of ``persons.parquet`` (fees in øre in, DKK out; unlisted citizens' clinic null)."""
    gross = f["base"] + f["local"]
    return pa.table({
        "person_id": pid_t,
        "year": pa.array(np.full(len(mu), t, dtype=np.int16)),
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
        "clinic_id": pa.DictionaryArray.from_arrays(pa.array(clinic_codes, mask=unlisted), clinic_dict),
        "gross_fee": pa.array(gross / 100.0),
        "chronic_fee": pa.array(f["chronic"] / 100.0),
        "local_services_fee": pa.array(f["local"] / 100.0),
        "contact_fee": pa.array(contact / 100.0),
        "days_resident": pa.array(days),
    }, schema=schema)


def _year_summary(ch: dict[str, np.ndarray], f: dict[str, Any], contact: np.ndarray, unlisted: np.ndarray,
                  rt: np.ndarray) -> dict[str, Any]:
    """Summary figures of one year (DKK): mean true use (the contacts the chronic-care fee replaced included),
    zero use, regional/tender patients (``rt``), local services, chronic-care fee, unlisted, contacts, newborn."""
    gross = f["base"] + f["local"]
    y = (gross + f["unbilled"]) / 100.0  # true use: the contacts the chronic-care fee replaced included
    a = ch["age"]
    return {
        "persons": int(len(a)),
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
    clock = _Clock(verbose)
    persons, years, s_years = _check_arguments(persons, years, services, services_years)
    last = years[-1]
    out = Path(out_dir)
    prepare_synth_folder(out)  # refuses a non-empty folder synth did not write; marks it as being written

    ctx = _context()
    rng = _Streams.from_seed(seed)
    plan = _plan_clinics_internal(rng.clin, ctx, years)
    clock.tick("clinics")

    people, latest_idx, muni = _draw_people(rng, ctx, persons, last)
    clock.tick("population")

    panel = _build_panel(rng.panel, rng.lat, ctx, plan, people, latest_idx, muni.astype(np.int16), years)
    clock.tick("panel")
    lat = people.finalise()
    n_ever = len(lat["sex"])
    pid_all = _assign_ids(rng.id, lat, panel, years)
    clock.tick("ids")

    # clinic dictionary: all provider numbers sorted
    crank, clinic_dict = _clinic_dictionary(plan)
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
    listed_by_year: dict[int, np.ndarray] = {}
    g1_counts: dict[int, np.ndarray] = {}
    # "more sickness on paper" from the 2027 fee structure: own random stream, so earlier years are unchanged
    upcoding = _Upcoding(seed, plan, n_ever) if last >= FEE_STRUCTURE_YEAR else None
    latest: dict[str, Any] = {}

    def finish_year(t: int, idx: np.ndarray, mu: np.ndarray, cl: np.ndarray, ch: dict[str, np.ndarray],
                    f: dict[str, Any], unlisted: np.ndarray, days: np.ndarray) -> None:
        """Everything of year ``t`` after its random draws (no random numbers but the service lines' own
        stream): the persons' table to the writer, the counts and the summary, the services."""
        contact = f["contacts"] @ f["unit"]
        listed_by_year[t] = np.bincount(cl[~unlisted], minlength=len(plan))
        pid_t = pid_all.take(pa.array(idx))
        writer.write(_person_table(schema, pid_t, t, mu, ch, f, contact, unlisted, days, crank[cl], clinic_dict,
                                   muni_dict))
        ins1 = ch["insurance"] == 1
        g1_counts[t] = np.bincount(mu[ins1], minlength=len(ctx.codes))
        ys = _year_summary(ch, f, contact, unlisted, plan_arrays["regional_tender"][cl])
        if t in s_years:
            sinfo = _write_services_year(swriter, rng.serv, t, pid_t, crank[cl], clinic_dict, f)
            ys["service_lines"] = sinfo["lines"]
            ys["contacts_per_person"] = sinfo["contacts"] / len(idx)
        summary_years[t] = ys
        if t == last:
            latest.update(age=ch["age"], sex=ch["sex"], origin=ch["origin"], labour=ch["labour"],
                          somatic=ch["somatic"], psych=ch["psychiatric"], cancer=ch["cancer_5y"], civil=ch["civil"],
                          cl=cl, muni=mu, mu=f["mu"], insurance=ch["insurance"], zero=f["y_true"] == 0)

    # a year's draws, then the rest of it in a second thread while the next year is drawn (the draws alone use
    # the shared random streams, in the same order; at most two years in memory): the same bytes, sooner
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthetic-year") as finisher:
        finishing = None
        for t in years:
            idx, mu, cl = _year_rows(panel[t], n_ever)
            ch, f, unlisted, days = _draw_year(rng, lat, ctx, plan_arrays, upcoding, idx, mu, cl, t, index[t])
            if finishing is not None:
                finishing.result()
            finishing = finisher.submit(finish_year, t, idx, mu, cl, ch, f, unlisted, days)
            del ch, f, idx, mu, cl, unlisted, days
            clock.tick(f"year {t}")
        finishing.result()
        clock.tick("last year's tables")
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

    scale_up = NATIONAL_POPULATION / persons
    files: dict[str, Any] = {
        "persons": persons_path,
        "clinics": _write_clinics_csv(out, plan),
        "municipalities": _write_municipalities(out),
        "population_projection": _write_projection(out, ctx, years, g1_counts, panel[last].muni),
        "fee_index": _write_fee_index(out, index),
    }

    # capacity reports (1 January after the latest year, or over time)
    listed_scaled = np.rint(listed_by_year[last] * scale_up).astype(np.int64)
    bad_reports: list[Path] = []
    if sim is not None:
        report_paths, bad_reports = _write_report_history(out, plan, ctx, sim, listed_by_year, scale_up, rng_cap)
    else:
        report_paths = _write_capacity_reports(out, plan, ctx, dt.date(last + 1, 1, 1), listed_scaled)
    files["capacity_reports"] = report_paths
    clock.tick("tables")

    summary = _summary(plan, latest, summary_years, n_ever, scale_up, listed_scaled, last)
    summary["calibration"] = calibration_table(ctx, plan, latest, listed_scaled, last)
    if s_years:
        files["services"] = services_path
    truth = None
    if upcoding is not None or sim is not None:  # only for panels that reach the new fee structure / the reports
        truth = _evaluation_truth(plan, last, None if upcoding is None else upcoding.clinics, sim, bad_reports)
        files["capacity_reports_with_mistakes"] = bad_reports
    parameters = {"persons": persons, "years": years, "seed": seed, "services_years": s_years}
    files["manifest"] = _write_manifest(out, parameters, plan, index, summary, truth)
    finish_synth_folder(out)
    clock.tick("summary")
    return {"files": files, "summary": summary, "timings": clock.timings, "cpu_timings": clock.cpu_timings}
