"""The annual model report: the chain of notebooks that renders it, and reading the run folder it presents.

:func:`render_report` is what ``python -m model report`` (``make report``)
runs.  It validates the data folder
(:func:`model.analyses.data_checks.validate_data`), then executes the
analysis notebooks (``fit.ipynb`` writes the run folder with the model's
result tables, ``data_checks.ipynb`` adds the data checks, and with at least
two years of data ``stability.ipynb`` and ``sensitivity.ipynb``) and then
``annual_report.ipynb``, which only reads those tables.  Every executed
notebook becomes offline HTML without code (:func:`model.report.notebooks.render`).
The report folder ``reports/<year>/`` is replaced in one rename only when
all of it succeeded, so a failed render leaves the last good report
untouched; the failed notebook is kept in ``reports/failed/``.

:func:`load_run` reads a run folder's tables for the notebooks and the
clinic sheets; :func:`check_report_parameters` checks the report notebook's
parameters.  The report's tables are in :mod:`model.report.annual_tables`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from model.analyses.data_checks import CHECKS, validate_data
from model.artifacts import data_origin, git_commit, package_versions
from model.config import ModelConfig, parse_settings, settings_text
from model.errors import ConfigError, InputError
from model.inputs.panel import panel_years
from model.report.html import data_banner, nav_html
from model.report.method import DOCS, DOCUMENTS, render_docs
from model.report.notebooks import KERNEL_NAME, NOTEBOOKS, Chain, one_line, render, say_since

#: Analysis notebooks run by :func:`render_report`, in order, then the report notebook.
ANALYSIS_NOTEBOOKS = ("fit.ipynb", "data_checks.ipynb", "stability.ipynb", "sensitivity.ipynb")
#: Analysis notebooks that need at least two years of data (a panel).
PANEL_NOTEBOOKS = ("stability.ipynb", "sensitivity.ipynb")
REPORT_NOTEBOOK = "annual_report.ipynb"
#: Titles of the HTML pages.
TITLES = {
    "fit.ipynb": "Model fit {year}",
    "data_checks.ipynb": "Data checks {year}",
    "stability.ipynb": "Stability across years {year}",
    "sensitivity.ipynb": "Sensitivity analyses {year}",
    "annual_report.ipynb": "Annual model report {year}: GP capacity (BEK 975/2025)",
}
#: Titles of the pages in other languages.
TITLES_DA = {"annual_report.ipynb": "Årlig modelrapport {year}: lægekapacitet (BEK 975/2025)"}
#: Run-folder table with each clinic's listed patients per term (``model.analyses.fit.clinic_profiles``).
CLINIC_PROFILES = "clinic_profiles"
#: Tables of ``model.analyses.fit.OUTPUT_TABLES`` the report cannot do without (``clinic_profiles`` is
#: optional).  Listed here so that reading a run does not import the fitting code (scipy, statsmodels).
REQUIRED_TABLES = ("coefficients", "fit_statistics", "weights_by_cell", "capacity_by_health_council",
                   "capacity_by_municipality", "clinic_minimums", "life_expectancy")


#: Labels of the report's pages in the navigation line on every page, in order.
PAGE_LABELS = {"annual_report.html": "Annual report", "annual_report.da.html": "Årsrapport (dansk)",
               "fit.html": "Model fit", "data_checks.html": "Data checks",
               "stability.html": "Stability", "sensitivity.html": "Sensitivity", "method.html": "Method",
               "method.da.html": "Metode (dansk)"}


#: Danish labels of the appendices (the appendices themselves stay in English).
PAGE_LABELS_DA = {"fit.html": "Estimation", "data_checks.html": "Datakontrol", "stability.html": "Stabilitet",
                  "sensitivity.html": "Følsomhed", "evaluation_2028.html": "Evaluering 2028"}


def appendix_links(report_dir: str | Path, language: str = "en") -> list[tuple[str, str]]:
    """(label, file) of the appendices present in ``report_dir`` (the report folder the notebook renders into)."""
    d = Path(report_dir)
    files = ["fit.html", "data_checks.html", "stability.html", "sensitivity.html"]
    return [((PAGE_LABELS_DA if language == "da" else PAGE_LABELS)[f], f) for f in files if (d / f).is_file()]


def report_pages(notebooks: tuple[str, ...], languages: tuple[str, ...] = ("en",)) -> tuple[tuple[str, str], ...]:
    """The navigation line's (label, file) for a report of ``notebooks``: the report (each language) first,
    then the appendices, then the method document."""
    files = [report_page(lang) for lang in languages]
    files += [Path(n).stem + ".html" for n in notebooks if not n.startswith(REPORT_NOTEBOOK)]
    files += [page for name, page in DOCUMENTS.items() if name.startswith("method") and (DOCS / name).is_file()]
    return tuple((PAGE_LABELS[f], f) for f in files if f in PAGE_LABELS)


_say = say_since  # progress lines of the render


def analysis_notebooks(data: str | Path, year: int) -> tuple[str, ...]:
    """The analysis notebooks the chain runs: stability and sensitivity only with at least two years up to ``year``."""
    years = [y for y in panel_years(Path(data) / "persons.parquet") if y <= year]
    return tuple(n for n in ANALYSIS_NOTEBOOKS if n not in PANEL_NOTEBOOKS or len(years) >= 2)


def _stability_years(data: str | Path, year: int) -> str:
    """The years the stability notebook refits: up to five, ending with ``year`` (as '2021-2025')."""
    try:
        first = min(y for y in panel_years(Path(data) / "persons.parquet") if y <= year)
    except (FileNotFoundError, ValueError):
        first = year - 4
    return f"{max(first, year - 4)}-{year}"


def chain_parameters(year: int, data: str | Path, previous_run: str = "",
                     fit_parameters: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None, languages: tuple[str, ...] = ("en",),
                     previous_computed: bool = False) -> dict[str, dict[str, Any]]:
    """The parameters :func:`render_report` passes to each notebook (paths relative to the report folder).

    ``run_dir`` is ``"run"`` relative to the report folder (the notebooks
    run with the report folder as working folder), so the executed
    notebooks stay valid after the folder is moved into place.  ``settings``
    (``--set``, :func:`model.config.parse_settings`) reach every notebook as
    its ``settings`` parameter (:func:`model.config.settings_text`).
    """
    text = settings_text(settings or {})
    params = {
        "fit.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run", "variant": "base",
                      **dict(fit_parameters or {})},
        "data_checks.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run",
                              "validation_file": "validation.json"},
        "stability.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run",
                            "years": _stability_years(data, int(year))},
        "sensitivity.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run"},
    }
    for lang in languages:
        params[report_entry(lang)] = {"year": int(year), "run_dir": "run", "data_dir": str(data),
                                      "previous_run_dir": str(previous_run or ""),
                                      "previous_computed": bool(previous_computed), "language": lang}
    return {name: {**p, "settings": text} for name, p in params.items()}


#: Languages of the annual report (``--language``); ``make report`` renders both.
LANGUAGES = ("en", "da")
#: Where the previous year's fit goes when the render computes it (no ``previous`` given).
PREVIOUS_RUN = "previous_run"


def release_settings(settings: Any) -> dict[str, Any]:
    """The settings of a report that the publication gate takes (its thresholds, ``release_*``); the others
    changed the fit itself and are already in the run."""
    return {k: v for k, v in parse_settings(settings or {}).items() if k.startswith("release_")}


def report_entry(lang: str) -> str:
    """The chain entry of the report notebook in ``lang``: English first as itself, Danish as ``annual_report.ipynb#da``."""
    return REPORT_NOTEBOOK if lang == "en" else f"{REPORT_NOTEBOOK}#{lang}"


def report_page(lang: str) -> str:
    """The report's page in ``lang``: ``annual_report.html`` / ``annual_report.da.html``."""
    return "annual_report.html" if lang == "en" else f"annual_report.{lang}.html"


def compute_previous(data: str | Path, year: int, settings: Mapping[str, Any], out: Path) -> bool:
    """Fit the year before ``year`` from ``data`` with ``settings`` into ``out`` (a run folder); False if absent.

    For the report's "what changed since last year" when no previous report is given: the previous year's
    fit on the same data folder and settings (the prepared year is cached, so this costs a few seconds).
    """
    from model.analyses.fit import run_model, write_run  # the fitting code only when needed
    from model.analyses.panel import read_year

    prev_year = int(year) - 1
    if prev_year not in panel_years(Path(data) / "persons.parquet"):
        return False
    cfg = ModelConfig().replace(**dict(settings)).replace(year=prev_year, planning_year=prev_year + 1)
    yd = read_year(data, prev_year, insurance_group=cfg.insurance_group, hashes=True, planning_year=cfg.planning_year)
    write_run(run_model(yd, cfg), out, yd, extra={"settings": dict(settings), "computed_for": "previous year"},
              data_dir=data)
    return True


#: the render's own job that fits the year before into ``previous_run/`` (beside the notebooks)
PREVIOUS_JOB = "previous year"


def chain_order(names: tuple[str, ...], previous_job: bool = False) -> dict[str, tuple[str, ...]]:
    """What each notebook of the report's chain waits for (:attr:`model.report.notebooks.Chain.after`).

    ``fit.ipynb`` writes the run folder, so the analyses that write inside it (``run/checks``,
    ``run/stability``, ``run/sensitivity``) start after it and run side by side; the report notebooks read
    all of them (and ``previous_run/``, the :data:`PREVIOUS_JOB`, when the render computes it) and run side
    by side in their languages.
    """
    analyses = tuple(n for n in names if not n.startswith(REPORT_NOTEBOOK))
    after: dict[str, tuple[str, ...]] = {}
    for n in analyses:
        after[n] = () if n == "fit.ipynb" else ("fit.ipynb",)
    for n in names:
        if n.startswith(REPORT_NOTEBOOK):
            after[n] = (*analyses, *((PREVIOUS_JOB,) if previous_job else ()))
    return after


def render_report(year: int, data: str | Path, out: str | Path | None = None, previous: str | Path | None = None,
                  timeout: int | None = 900, notebooks: str | Path | None = None,
                  kernel_name: str = KERNEL_NAME, fit_parameters: Mapping[str, Any] | None = None,
                  settings: Mapping[str, Any] | None = None, languages: tuple[str, ...] = LANGUAGES,
                  compute_previous_year: bool = True) -> Path:
    """Render the annual model report into ``out`` (default ``reports/<year>``); return it.

    ``languages``: the report's languages (``annual_report.html`` in English,
    ``annual_report.da.html`` in Danish; the appendices are in English).
    ``compute_previous_year``: with no ``previous`` report, fit the year before
    from the same data and settings into ``previous_run/`` so that "what changed
    since last year" is filled (:func:`compute_previous`).

    Steps, each timed and shown on stdout:

    1. validate ``data`` (:func:`model.analyses.data_checks.validate_data`);
    2. ``fit.ipynb`` fits the model and writes ``run/`` (the fit's output
       folder with ``manifest.json``); ``data_checks.ipynb`` writes
       ``run/checks/``; with two years or more, ``stability.ipynb`` and
       ``sensitivity.ipynb`` write ``run/stability/`` and ``run/sensitivity/``;
    3. ``annual_report.ipynb`` reads the tables of ``run/`` (and of
       ``previous``'s run, if given) and presents them;
    4. each executed notebook goes to ``notebooks/`` and to HTML
       (``annual_report.html``, ``fit.html``, ``data_checks.html``, ...);
    5. ``manifest.json``: input hashes, parameters, versions, commit,
       timings per notebook, hashes of every file written.

    All of it is written by :func:`model.report.notebooks.render` through a
    temporary sibling folder that replaces ``out`` only when everything
    succeeded.  ``previous`` is last year's report folder (its ``run/``) or
    a run folder.  ``fit_parameters`` are passed on to ``fit.ipynb`` (e.g.
    ``{"rounding": "nearest"}``); ``settings`` (``--set``) go to every
    notebook and into the manifest.
    """
    t0 = time.perf_counter()
    data = Path(data).resolve()
    out = Path(out) if out is not None else Path("reports") / str(year)
    out = out.resolve()
    prev_run = ""
    if previous:
        p = Path(previous).resolve()
        prev_run_path = p / "run" if (p / "run" / "manifest.json").exists() else p
        if not (prev_run_path / "manifest.json").exists():
            raise FileNotFoundError(f"previous report {previous}: no run folder with manifest.json found")
        prev_run = str(prev_run_path)
    if not data.is_dir():
        raise FileNotFoundError(f"data folder {data} does not exist")
    timings: dict[str, Any] = {}

    _say(t0, f"report {year}: validating {data}")
    t = time.perf_counter()
    validation = validate_data(data, year)
    timings["validate"] = round(time.perf_counter() - t, 3)
    _say(t0, f"validation: {validation.get('summary') or ('ok' if validation['ok'] else 'failed')}")

    settings = parse_settings(settings or {})
    languages = tuple(dict.fromkeys(languages)) or ("en",)
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        raise ConfigError(f"--language {', '.join(bad)}: the report is written in {' and '.join(LANGUAGES)}")
    auto_prev = not prev_run and compute_previous_year and (int(year) - 1) in panel_years(data / "persons.parquet")
    params = chain_parameters(year, data, PREVIOUS_RUN if auto_prev else prev_run, fit_parameters, settings,
                              languages, previous_computed=auto_prev)
    reports = tuple(report_entry(lang) for lang in languages)
    names = (*analysis_notebooks(data, year), *reports)
    html_names = {n: Path(n).stem + ".html" for n in names}
    html_names.update({report_entry(lang): report_page(lang) for lang in languages})
    pages = report_pages(names, languages)
    chain = Chain(
        out=out, notebooks=names, parameters=params,
        html=html_names, pages=pages,
        banner={n: data_banner(data_origin(data), "da" if n.endswith("#da") else "en") for n in names},
        titles={n: (TITLES[n] if n in TITLES else TITLES_DA[n.split("#")[0]]).format(year=year) for n in names},
        source=Path(notebooks) if notebooks is not None else NOTEBOOKS,
        inputs={"--data": data, "--previous": previous}, timeout=timeout, kernel_name=kernel_name,
        say=lambda text: _say(t0, text), after=chain_order(names, previous_job=auto_prev),
        start_first=("fit.ipynb", "sensitivity.ipynb", "stability.ipynb"))

    def prepare(tmp: Path) -> None:
        (tmp / "validation.json").write_text(json.dumps(validation, indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
        render_docs(tmp, nav={page: nav_html(list(pages), page) for page in DOCUMENTS.values()})

    def previous_year(tmp: Path) -> None:
        _say(t0, f"previous year: fitting {int(year) - 1} for 'what changed since last year'")
        compute_previous(data, year, settings, tmp / PREVIOUS_RUN)
        _say(t0, f"previous year: {int(year) - 1} fitted into {PREVIOUS_RUN}/")

    def manifest(tmp: Path, nb_timings: dict[str, Any], stderr: dict[str, list[str]]) -> dict[str, Any]:
        fit_manifest = json.loads((tmp / "run" / "manifest.json").read_text(encoding="utf-8"))
        return {
            "command": "report",
            "year": int(year),
            "data": str(data),
            "previous_run": prev_run or (f"{PREVIOUS_RUN} (the year before, computed by this render)" if auto_prev else None),
            "inputs": fit_manifest.get("inputs", {}),
            "config": fit_manifest.get("config", {}),
            "parameters": params,
            "settings": settings,
            "validation": validation,
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**timings, **nb_timings, "total": round(time.perf_counter() - t0, 3)},
            "warnings": {k: [one_line(s, 1000) for s in v] for k, v in stderr.items()},
        }

    render(chain, manifest, prepare, jobs={PREVIOUS_JOB: previous_year} if auto_prev else None)
    _say(t0, f"report written to {out}")
    return out


# ===========================================================================
# reading a run folder


_STR_COLS = {"clinic_id": str, "municipality_code": str, "split_from": str}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one run-folder CSV with IDs and codes as strings."""
    return pd.read_csv(path, dtype=_STR_COLS, keep_default_na=True, encoding="utf-8")


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """Every table of a run folder by name, plus ``manifest``, ``constants``, ``config`` and ``checks``.

    ``config`` is the run's :class:`ModelConfig`; ``checks`` is a dict of
    the tables in ``run/checks/`` (empty when the data checks have not run).
    A missing optional table (e.g. ``clinic_profiles``) is simply absent.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no manifest.json)")
    missing = [name for name in REQUIRED_TABLES if not (run_dir / f"{name}.csv").exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: missing result table(s) {', '.join(m + '.csv' for m in missing)}")
    t: dict[str, Any] = {p.stem: read_table(p) for p in sorted(run_dir.glob("*.csv"))}
    t["manifest"] = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    cpath = run_dir / "constants.json"
    t["constants"] = json.loads(cpath.read_text(encoding="utf-8")) if cpath.exists() else {}
    t["config"] = ModelConfig.from_dict(t["manifest"]["config"])
    checks: dict[str, Any] = {}
    cdir = run_dir / CHECKS
    if cdir.is_dir():
        for p in sorted(cdir.glob("*.csv")):
            checks[p.stem] = read_table(p)
        if (cdir / "validation.json").exists():
            checks["validation"] = json.loads((cdir / "validation.json").read_text(encoding="utf-8"))
    t["checks"] = checks
    return t


def check_run_settings(run_dir: str | Path, settings: Any, manifest: str = "manifest.json") -> ModelConfig:
    """The configuration of the run in ``run_dir``, checked against ``settings``; :class:`ConfigError` if they differ.

    A notebook or verb that presents a run (the report, the clinic sheets)
    cannot change how it was computed: a setting (``--set``, a notebook's
    ``settings``) must be what the run was fitted with, else the error says
    to fit again with it.  ``settings``: as :func:`model.config.parse_settings` takes.
    """
    m = Path(run_dir) / manifest
    if not m.exists():
        raise InputError(f"No run at {run_dir}: run fit.ipynb (or `python -m model fit`) first")
    cfg = ModelConfig.from_dict(json.loads(m.read_text(encoding="utf-8"))["config"])
    wanted = parse_settings(settings)
    differ = cfg.replace(**wanted).diff(cfg)
    if differ:
        shown = "; ".join(f"{k} is {old!r}, not {new!r}" for k, (new, old) in differ.items())
        raise ConfigError(f"the run in {run_dir} was computed with other settings ({shown}): fit it again with "
                          f"them (`python -m model fit ... --set {settings_text(wanted)}`)")
    return cfg


def check_report_parameters(year: int, run_dir: str | Path, previous_run_dir: str | Path = "",
                            settings: Any = "") -> ModelConfig:
    """Validate the report notebook's parameters; return the run's configuration.

    ``year`` goes through :meth:`ModelConfig.replace`; the run folder must
    exist and be a fit of that year, with the ``settings`` given
    (:func:`check_run_settings`); ``previous_run_dir`` (if not empty) must
    be a run folder too.
    """
    ModelConfig().replace(year=int(year), planning_year=int(year) + 1)
    cfg = check_run_settings(run_dir, settings)
    if cfg.year != int(year):
        raise InputError(f"run_dir {run_dir} holds a fit of {cfg.year}, not of year={year}")
    if previous_run_dir and not (Path(previous_run_dir) / "manifest.json").exists():
        raise FileNotFoundError(f"previous_run_dir {previous_run_dir}: no manifest.json")
    return cfg
