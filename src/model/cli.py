"""Command-line entry: ``python -m model <verb> ...``.

Verbs: ``synth`` (national-scale synthetic data), ``validate`` (data
contracts), ``ingest`` (service lines -> fees), ``fit`` (the model),
``stability`` (refits on every year, reallocation, cluster bootstrap),
``sensitivity`` (the variants of docs/method.md step 8 side by side),
``clinic-sheets`` (one page per clinic), ``report`` (the annual report,
rendered with papermill), ``evaluate`` (the 2028 evaluation, rendered with
papermill), ``templates`` (empty input files to fill with real data),
``check-release`` (the publication gate; exit 1 when a blocking check
fails), ``stress-test`` (the coding stress test, memo §4.4.4).
Every verb that runs the model takes ``--set FIELD=VALUE`` (repeatable): a
field of :class:`model.config.ModelConfig`, typed and checked there,
recorded in the output's manifest and passed to every notebook.  Every pipeline verb validates its inputs first
and writes nothing when validation fails.

Each verb imports the layers it uses when it runs (the top of the package:
``cli`` may import everything below it): ``python -m model --help`` stays
instant, and ``stability``/``sensitivity`` can fix the BLAS thread count
before numpy loads (:func:`_blas_single_thread`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from model.config import parse_years


def _years(text: str) -> list[int]:
    """Years of a command-line option ('2021-2025', '2023,2025'), by :func:`model.config.parse_years`."""
    return parse_years(text)


def _settings(a: argparse.Namespace) -> dict:
    """The ``--set FIELD=VALUE`` settings of a verb, typed and checked by :func:`model.config.parse_settings`
    (an unknown field or a value of the wrong type raises :class:`model.errors.ConfigError`: exit 2)."""
    from model.config import ModelConfig, parse_settings

    settings = parse_settings(getattr(a, "settings", None) or [])
    ModelConfig().replace(**settings)  # ranges are checked before any work
    return settings


def _validate_or_exit(data: Path, years: list[int] | None = None, planning_year=None, model_tables: bool = False) -> None:
    """Validate ``data`` for the years the verb reads and the planning year(s) it
    needs a projection for; exit 1 with the failure report when it fails.

    ``model_tables``: validate only the tables the model reads (not the service
    lines), with a stamp (:mod:`model.inputs.contracts.stamp`): files whose bytes
    passed the same checks before are not checked again.
    """
    from model.inputs.contracts import validate_folder
    from model.inputs.contracts.stamp import validate_folder_stamped

    if model_tables:
        report = validate_folder_stamped(data, years, planning_year=planning_year)
    else:
        report = validate_folder(data, years=years, planning_year=planning_year)
    if not report.ok:
        print(report.format(), file=sys.stderr)
        print(f"validation failed: nothing was written. {report.summary_line()}", file=sys.stderr)
        raise SystemExit(1)
    if report.warnings:
        print(report.format(), file=sys.stderr)
    if getattr(report, "from_stamp", False):
        print(report.note, file=sys.stderr)


def cmd_synth(a: argparse.Namespace) -> int:
    from model.inputs.synthetic import generate

    t0 = time.perf_counter()
    info = generate(a.out, persons=a.persons, years=_years(a.years), seed=a.seed, services=not a.no_services)
    print(f"synthetic data written to {a.out} in {time.perf_counter() - t0:.1f} s")
    if isinstance(info, dict):
        print(json.dumps(info, indent=2, default=str))
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    from model.inputs.contracts import validate_folder

    years = _years(a.years) if a.years else ([a.year] if a.year else None)
    planning = a.planning_year or (a.year + 1 if a.year else "latest")
    report = validate_folder(Path(a.data), years=years, planning_year=planning)
    if not report.ok:
        print(report.format())
        return 1
    if report.warnings and a.verbose:
        print(report.format())
    print(report.summary_line())
    return 0


def cmd_ingest(a: argparse.Namespace) -> int:
    from model.inputs.services import ingest

    data = Path(a.data)
    _validate_or_exit(data, [a.year])
    summary = ingest(data, a.year, Path(a.out))
    print(json.dumps(summary, indent=2, default=str))
    return 0


#: From this size of persons.parquet (a few hundred thousand citizens), ``fit`` reads the year while it validates.
READ_WHILE_VALIDATING_BYTES = 32 * 1024 * 1024


def cmd_fit(a: argparse.Namespace) -> int:
    from model.analyses.fit import run_model, write_run
    from model.analyses.panel import read_year
    from model.config import ModelConfig

    settings = _settings(a)
    config = ModelConfig(year=a.year, planning_year=a.planning_year or a.year + 1)
    if a.variant != "base":
        config = config.variant(a.variant)
    config = config.with_settings(settings)
    data = Path(a.data)
    t0 = time.perf_counter()

    def load():
        # the persons read as Arrow arrays straight into atoms (no pandas frame of persons)
        return read_year(data, config.year, insurance_group=config.insurance_group, hashes=True,
                         planning_year=config.planning_year)

    persons = data / "persons.parquet"
    if a.no_validate:
        t_val, inputs = 0.0, load()
    elif persons.is_file() and persons.stat().st_size >= READ_WHILE_VALIDATING_BYTES:
        # read while validating (DuckDB and Arrow release the GIL); the year is used only if validation passes
        with ThreadPoolExecutor(1, thread_name_prefix="read-year") as pool:
            pending = pool.submit(load)
            _validate_or_exit(data, [config.year], config.planning_year, model_tables=True)
            t_val = time.perf_counter() - t0
            inputs = pending.result()
    else:  # a small folder: validation first, so that a folder that fails stops at once
        _validate_or_exit(data, [config.year], config.planning_year, model_tables=True)
        t_val = time.perf_counter() - t0
        inputs = load()
    t_load = time.perf_counter() - t0 - t_val
    run = run_model(inputs, config, variant=a.variant)
    run.timings = {"validate": round(t_val, 3), "load": round(t_load, 3), **run.timings}
    write_run(run, a.out, inputs, extra={"settings": settings}, data_dir=a.data)
    hc = run.tables["capacity_by_health_council"]
    f = run.fits[a.variant]
    print(f"fit {a.variant} {config.year}: {int(f.nobs):,} persons in {int(f.n_cells):,} cells, "
          f"R² {f.rsquared:.4f}; {int(hc['capacities'].sum()):,} capacities in {len(hc)} health councils; "
          f"{time.perf_counter() - t0:.1f} s -> {a.out}")
    return 0


def _blas_single_thread() -> None:
    """One BLAS thread for the many small matrix products of stability/sensitivity (set before numpy loads).

    Their work is gathers and counts over persons; BLAS threads only add
    contention on the small (cells x terms) products, badly so on a busy
    machine.  An explicit OPENBLAS_NUM_THREADS / OMP_NUM_THREADS wins.
    """
    import os

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def cmd_stability(a: argparse.Namespace) -> int:
    from model.analyses.panel import Panel
    from model.analyses.stability import run_stability, write_stability
    from model.config import ModelConfig
    from model.inputs.panel import panel_years

    settings = _settings(a)
    data = Path(a.data)
    years = _years(a.years) if a.years else panel_years(data / "persons.parquet")
    ref = a.year or max(years)
    config = ModelConfig(year=ref, planning_year=a.planning_year or ref + 1)
    if a.variant != "base":
        config = config.variant(a.variant)
    config = config.with_settings(settings)
    if not a.no_validate:
        _validate_or_exit(data, years, [y + config.planning_year - config.year for y in years], model_tables=True)
    t0 = time.perf_counter()
    panel = Panel(data, years)
    boot_years = _years(a.bootstrap_years) if a.bootstrap_years else None
    res = run_stability(panel, years=years, config=config, bootstrap_draws=a.bootstrap, bootstrap_years=boot_years,
                        seed=a.seed, alpha=a.alpha, rounding_steps=[int(x) for x in a.rounding_steps.split(",") if x])
    panel.close()
    write_stability(res, a.out, extra={"settings": settings})
    s = res.tables["summary"]
    print(f"stability {years[0]}-{years[-1]}: capacity moved between health councils "
          + ", ".join(f"{int(r.year_from)}→{int(r.year_to)} {100 * r.reallocation_share:.2f} %" for r in s.itertuples())
          + f"; {time.perf_counter() - t0:.1f} s -> {a.out}")
    return 0


def cmd_sensitivity(a: argparse.Namespace) -> int:
    from model.analyses.panel import Panel
    from model.analyses.sensitivity import check_sensitivity_parameters, run_sensitivity, write_sensitivity
    from model.config import ModelConfig
    from model.inputs.panel import panel_years

    settings = _settings(a)
    data = Path(a.data)
    all_years = panel_years(data / "persons.parquet")
    ref = a.year or max(all_years)
    config = ModelConfig(year=ref, planning_year=a.planning_year or ref + 1).with_settings(settings)
    variants = check_sensitivity_parameters([v for v in a.variants.split(",") if v] if a.variants else None,
                                train_year=a.train_year, test_year=a.test_year)
    train = a.train_year if a.train_year is not None else (ref - 1 if ref - 1 in all_years else None)
    test = a.test_year if a.test_year is not None else ref
    years = sorted({ref} | ({train, test} if train is not None else set()))
    if not a.no_validate:
        _validate_or_exit(data, years, config.planning_year, model_tables=True)
    t0 = time.perf_counter()
    panel = Panel(data, years, price_year=ref)
    res = run_sensitivity(panel, variants=variants, config=config, train_year=train, test_year=test if train else None)
    panel.close()
    write_sensitivity(res, a.out, extra={"settings": settings})
    s = res.tables["summary"]
    flips = int(s["headroom_sign_changes"].fillna(0).sum())
    print(f"sensitivity {ref}: {len(s) - 1} variants against the base; headroom changes sign {flips} time(s); "
          f"{time.perf_counter() - t0:.1f} s -> {a.out}")
    return 0


def cmd_clinic_sheets(a: argparse.Namespace) -> int:
    from model.report.annual import check_run_settings
    from model.report.clinic_sheets import clinic_sheets

    check_run_settings(Path(a.run), _settings(a))
    n = clinic_sheets(Path(a.run), Path(a.out) if a.out else None, clinic=a.clinic)
    print(f"wrote {n} clinic sheet(s)")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from model.report.annual import render_report

    render_report(year=a.year, data=Path(a.data), out=Path(a.out) if a.out else None,
                  previous=Path(a.previous) if a.previous else None, timeout=a.timeout, settings=_settings(a),
                  languages=("en", "da") if a.language == "both" else (a.language,),
                  compute_previous_year=not a.no_previous_year)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from model.report.evaluation import render_evaluation

    render_evaluation(Path(a.data), fit_year=a.fit_year, years=_years(a.years) if a.years else None,
                      out=Path(a.out) if a.out else None, timeout=a.timeout, validate=not a.no_validate,
                      workers=a.workers, settings=_settings(a))
    return 0


def cmd_check_release(a: argparse.Namespace) -> int:
    """The publication gate (:func:`model.analyses.release_gate.check_release`): exit 1 when a blocking check failed."""
    from model.analyses.release_gate import check_release, render_gate, write_gate
    from model.errors import EXIT_OK, EXIT_VALIDATION

    gate = check_release(Path(a.run), Path(a.previous) if a.previous else None, Path(a.data) if a.data else None,
                         settings=_settings(a))
    print(render_gate(gate))
    if a.out:
        write_gate(gate, a.out, extra={"run": str(a.run), "previous": a.previous, "settings": _settings(a)})
    return EXIT_VALIDATION if gate.blocked else EXIT_OK


def cmd_stress_test(a: argparse.Namespace) -> int:
    from model.analyses.stress_test import run_stress_test, summary_line, write_stress_test

    res = run_stress_test(Path(a.data), a.year, clinic=a.clinic, settings=_settings(a), sample=a.sample)
    write_stress_test(res, a.out, extra={"data": Path(a.data).name, "settings": _settings(a)})
    print(summary_line(res) + f" -> {a.out}")
    return 0


def cmd_templates(a: argparse.Namespace) -> int:
    from model.artifacts import AtomicFolder
    from model.inputs.templates import write_templates

    with AtomicFolder(Path(a.out)) as tmp:
        paths = write_templates(tmp)
    print(f"wrote {len(paths)} templates to {a.out}: " + ", ".join(p.name for p in paths))
    return 0


_SET_HELP = ("a model setting, a field of model.config.ModelConfig, e.g. --set citizens_per_capacity=1500 "
             "--set rounding=nearest (repeatable; applied after --variant; lists as a,b,c; none for no value)")


def _add_set(s: argparse.ArgumentParser) -> None:
    """``--set FIELD=VALUE`` (repeatable) on a verb that runs the model."""
    s.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE", help=_SET_HELP)


_FORCE_HELP = ("replace an existing --out folder that this package did not write (never an input, the current "
               "folder or a folder above it)")


def build_parser() -> argparse.ArgumentParser:
    from model.errors import EXIT_CODES_HELP

    p = argparse.ArgumentParser(prog="python -m model", description=__doc__.split("\n\n")[0],
                                epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="verb", required=True)

    s = sub.add_parser("synth", help="write the national-scale synthetic data set")
    s.add_argument("--out", required=True, help="folder to write the tables to")
    s.add_argument("--persons", type=int, default=6_025_511, help="citizens in the latest year (default: the real 6,025,511)")
    s.add_argument("--years", default="2021-2025", help="panel years, e.g. 2021-2025")
    s.add_argument("--seed", type=int, default=20250630)
    s.add_argument("--no-services", action="store_true", help="skip services.parquet (service lines)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("validate", help="check a data folder against data_schema/; exit 1 with the failure report")
    s.add_argument("data", help="data folder")
    s.add_argument("--years", default=None, help="only these years of persons.parquet")
    s.add_argument("--year", type=int, default=None,
                   help="the year fit/report will model: it must be in persons.parquet (default: all years)")
    s.add_argument("--planning-year", type=int, default=None,
                   help="the planning year whose projection the model needs for every municipality "
                        "(default: --year + 1, else the latest year of persons.parquet + 1)")
    s.add_argument("-v", "--verbose", action="store_true", help="also list warnings")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("ingest", help="aggregate services.parquet into persons' gross_fee, local_services_fee and contact_fee")
    s.add_argument("--data", required=True)
    s.add_argument("--year", type=int, required=True)
    s.add_argument("--out", required=True,
                   help="persons file to write (written to a temporary file, then renamed; never over an input)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("fit", help="fit the model and write coefficients, weights, capacities and clinic numbers")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--year", type=int, default=2025)
    s.add_argument("--planning-year", type=int, default=None)
    s.add_argument("--variant", default="base", help="a named variant of model.config.VARIANTS")
    s.add_argument("--no-validate", action="store_true", help="skip validation (only for data validated before)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    _add_set(s)
    s.set_defaults(func=cmd_fit)

    s = sub.add_parser("stability", help="refit every year of the panel: year-on-year change, reallocation, bootstrap")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="folder for the stability tables (replaced atomically)")
    s.add_argument("--years", default=None, help="panel years, e.g. 2021-2025 (default: all in persons.parquet)")
    s.add_argument("--year", type=int, default=None, help="reference year (default: the latest of --years)")
    s.add_argument("--planning-year", type=int, default=None)
    s.add_argument("--variant", default="base", help="a named variant of model.config.VARIANTS")
    s.add_argument("--bootstrap", type=int, default=200, help="cluster-bootstrap draws (0: none)")
    s.add_argument("--bootstrap-years", default=None, help="years to bootstrap (default: the latest)")
    s.add_argument("--seed", type=int, default=20250630)
    s.add_argument("--alpha", type=float, default=0.05, help="two-sided level of every interval")
    s.add_argument("--rounding-steps", default="10,50,100", help="clinic rounding steps to compare")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.add_argument("--no-validate", action="store_true", help="skip validation (only for data validated before)")
    _add_set(s)
    s.set_defaults(func=cmd_stability)

    s = sub.add_parser("sensitivity", help="run the sensitivity variants of docs/method.md step 8 against the base")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="folder for the sensitivity tables (replaced atomically)")
    s.add_argument("--year", type=int, default=None, help="reference year (default: the latest in the data)")
    s.add_argument("--planning-year", type=int, default=None)
    s.add_argument("--variants", default=None, help="comma-separated names of model.config.VARIANTS (default: all)")
    s.add_argument("--train-year", type=int, default=None, help="fit year of the out-of-sample statistics (default: year - 1)")
    s.add_argument("--test-year", type=int, default=None, help="held-out year (default: the reference year)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.add_argument("--no-validate", action="store_true", help="skip validation (only for data validated before)")
    _add_set(s)
    s.set_defaults(func=cmd_sensitivity)

    s = sub.add_parser("clinic-sheets", help="one HTML page per clinic (Danish and English)")
    s.add_argument("--run", required=True, help="a run folder written by fit")
    s.add_argument("--out", default=None)
    s.add_argument("--clinic", default=None, help="only this clinic_id")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    _add_set(s)
    s.set_defaults(func=cmd_clinic_sheets)

    s = sub.add_parser("check-release", help="the publication gate: checks on a year's fit before release; "
                                             "exit 1 when a blocking check fails")
    s.add_argument("--run", required=True, help="the new year's run folder (written by fit)")
    s.add_argument("--previous", default=None, help="the previous year's run folder (sign flips, capacity moves)")
    s.add_argument("--data", default=None,
                   help="a data folder holding the previous year: it is refitted on this code beside its stored fit")
    s.add_argument("--out", default=None, help="optional folder for checks.csv (and refit_previous.csv) with a manifest")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE",
                   help="a threshold of the gate (a release_* field of model.config.ModelConfig), e.g. "
                        "--set release_alpha=0.01 (repeatable)")
    s.set_defaults(func=cmd_check_release)

    s = sub.add_parser("stress-test", help="coding stress test: one more chronic diagnosis for 5/10/25 %% of a "
                                           "clinic's patients; how far its minimum and its council's capacities move")
    s.add_argument("--data", required=True)
    s.add_argument("--year", type=int, default=2025)
    s.add_argument("--out", required=True, help="folder for the CSV tables and manifest (replaced atomically)")
    s.add_argument("--clinic", default=None, help="also the full model chain for this clinic_id (clinic_detail.csv)")
    s.add_argument("--sample", type=int, default=None,
                   help="stress only this many clinics, drawn with the seed (default: every clinic)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    _add_set(s)
    s.set_defaults(func=cmd_stress_test)

    s = sub.add_parser("templates", help="write empty, typed input files to fill with real data (every table of "
                                         "data_schema/, the capacity-report workbook) and a README of every column")
    s.add_argument("--out", required=True, help="a new or empty folder for the templates")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("report", help="render the annual model report with papermill")
    s.add_argument("--year", type=int, default=2025)
    s.add_argument("--data", default="data/default")
    s.add_argument("--out", default=None, help="default reports/<year>")
    s.add_argument("--previous", default=None, help="last year's report folder, for 'what changed' (default: the "
                   "year before is fitted from the same data and settings, when the data hold it)")
    s.add_argument("--no-previous-year", action="store_true",
                   help="without --previous, leave 'what changed since last year' empty instead of fitting the year before")
    s.add_argument("--language", choices=("en", "da", "both"), default="both",
                   help="the annual report's language(s): annual_report.html (en), annual_report.da.html (da); default both")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.add_argument("--timeout", type=int, default=900, help="execution timeout per cell, seconds")
    _add_set(s)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("evaluate", help="the 2028 evaluation (weights against later use, capacity reports, "
                                        "incentives, life expectancy), rendered with papermill")
    s.add_argument("--data", default="data/evaluation", help="data folder with the fit year and later years")
    s.add_argument("--fit-year", type=int, default=2025, help="year the evaluated weights were fitted on")
    s.add_argument("--years", default=None,
                   help="later years to evaluate, e.g. 2026-2027 (default: every year after the fit year in the data)")
    s.add_argument("--out", default=None, help="default reports/evaluation")
    s.add_argument("--timeout", type=int, default=900, help="execution timeout per cell, seconds")
    s.add_argument("--workers", type=int, default=None, help="processes reading the capacity reports (default: the CPUs)")
    s.add_argument("--force", action="store_true", help=_FORCE_HELP)
    s.add_argument("--no-validate", action="store_true", help="skip validation (only for data validated before)")
    _add_set(s)
    s.set_defaults(func=cmd_evaluate)
    return p


def _output_guard(a: argparse.Namespace):
    """The output check and lock of a verb that writes (:func:`model.artifacts.guard_output`); a no-op otherwise.

    Runs before validation and before any work: ``--out`` may not be, contain
    or lie inside an input, must be writable, and an existing folder must be
    one this package wrote (or ``--force``).
    """
    from contextlib import nullcontext

    from model.artifacts import guard_output

    force = bool(getattr(a, "force", False))
    if a.verb == "synth":
        return guard_output(a.out, force=force, accept=("empty", "synth"))
    if a.verb == "ingest":
        return guard_output(a.out, {"--data": a.data}, force=force, kind="file")
    if a.verb == "templates":  # never over a folder with contents (it may hold filled-in templates)
        return guard_output(a.out, force=force, accept=("empty",))
    if a.verb in ("fit", "stability", "sensitivity", "stress-test"):
        return guard_output(a.out, {"--data": a.data}, force=force)
    if a.verb == "check-release" and a.out:
        return guard_output(a.out, {"--run": a.run, "--previous": a.previous, "--data": a.data}, force=force)
    if a.verb == "report":
        out = a.out if a.out else Path("reports") / str(a.year)
        return guard_output(out, {"--data": a.data, "--previous": a.previous}, force=force)
    if a.verb == "evaluate":
        out = a.out if a.out else Path("reports") / "evaluation"
        return guard_output(out, {"--data": a.data}, force=force)
    if a.verb == "clinic-sheets":
        default = Path(a.run) / "clinic_sheets"
        return guard_output(a.out if a.out else default, {"--run": a.run}, force=force, allow_inside=(default,))
    return nullcontext()


#: glibc's malloc settings of a command-line process (:func:`_reuse_freed_memory`).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 34)}


def _reuse_freed_memory() -> None:
    """Start the command-line process again with glibc told to keep freed memory for the next arrays.

    The verbs allocate and free arrays of a national year (about 50 MB each) many times. By default glibc
    maps each large block fresh and unmaps it when it is freed, so every new array costs a page fault per
    4 KB: on the virtual machines this was measured on, about 1 ms of system time per MB. With the mmap
    and trim thresholds raised (:data:`MALLOC_ENV`) large blocks come from the heap and freed ones are
    reused; the memory goes back to the system when the process ends. Measured on the national ``synth``:
    34.3 s -> 28.6 s, system time 10.9 s -> 5.6 s, the same peak memory. glibc reads the settings when a
    process starts (set later with ``mallopt``, half the gain), so the process executes itself once more
    with them, before any work (about 0.05 s); the kernels and processes it starts inherit them.

    Only for ``python -m model`` and the ``fordelingsmodel`` command on Linux with glibc; never over the
    user's own ``MALLOC_*`` settings; ``FORDELINGSMODEL_MALLOC=system`` keeps glibc's defaults.
    """
    import os
    import platform

    if (not sys.platform.startswith("linux") or os.environ.get("FORDELINGSMODEL_MALLOC") == "system"
            or any(k.startswith("MALLOC_") for k in os.environ) or not getattr(sys, "orig_argv", None)):
        return
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    started_as = spec.name if spec is not None else Path(sys.argv[0]).name
    if started_as not in ("model.__main__", "fordelingsmodel") or platform.libc_ver()[0] != "glibc":
        return
    os.environ.update(MALLOC_ENV)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError:  # could not start again: go on with glibc's defaults
        pass


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a verb; returns the exit code (see :mod:`model.errors`).

    Every anticipated failure is a :class:`model.errors.ModelError` and exits
    with its ``exit_code``: one line on stderr (``error: ...``; a failed
    validation prints its failure report), never a traceback.  A path named
    on the command line that is missing exits 2; the system refusing (disk
    full, permissions) and anything unexpected exit 4, and
    ``MODEL_TRACEBACK=1`` re-raises those for debugging.
    """
    import os

    from model.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_SYSTEM, ModelError

    if argv is None:  # a command-line process
        _reuse_freed_memory()
    args = build_parser().parse_args(argv)
    if args.func in (cmd_stability, cmd_sensitivity):
        _blas_single_thread()  # before anything loads numpy
    try:
        if getattr(args, "settings", None):
            _settings(args)  # a misspelt --set stops before any output is touched
        with _output_guard(args):
            return int(args.func(args) or 0)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except FileNotFoundError as e:  # a file or folder named on the command line that is not there
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        if os.environ.get("MODEL_TRACEBACK"):
            raise
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"error: {e.strerror or e}{where}; the previous output is unchanged", file=sys.stderr)
        return EXIT_SYSTEM
    except Exception as e:  # an unexpected failure: still one line (MODEL_TRACEBACK=1 for the traceback)
        if os.environ.get("MODEL_TRACEBACK"):
            raise
        print(f"error: unexpected {type(e).__name__}: {' '.join(str(e).split())}; the previous output is unchanged "
              f"(MODEL_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return EXIT_SYSTEM
