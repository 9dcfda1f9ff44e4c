"""Rendering for readers: the annual report (papermill + nbconvert) and clinic sheets (jinja2).

Three jobs, all batch, all writing through a temporary folder:

* :func:`render_report` -- what ``make report`` runs.  It validates the data
  folder, executes the analysis notebooks (``fit.ipynb`` writes the run
  folder with the model's result tables, ``data_checks.ipynb`` adds the data
  checks) and then ``annual_report.ipynb``, which only reads those tables.
  Every executed notebook is converted to offline HTML without code.  The
  report folder ``reports/<year>/`` is replaced in one rename only when all
  of it succeeded, so a failed render leaves last good report untouched;
  the failed notebook is kept in ``reports/failed/`` for inspection.
* :func:`run_notebook` and :func:`to_html` -- the two steps for one notebook,
  with the papermill and nbconvert traps of PRACTICES.md handled: the
  parameters cell and every parameter name are checked before running,
  kernel, language, timeout and working folder are explicit, and the HTML
  makes no outside request (no MathJax, require.js or mermaid from a CDN).
* :func:`clinic_sheets` -- one page per clinic, in Danish and in English,
  showing the clinic's own calculation of its minimum patient number.

The notebooks stay thin: the helpers they call to load, shape, mask and
plot the result tables live here (``load_run``, ``show_table``,
``suppress_small``, the ``*_table`` and ``figure_*`` functions), so they
can be tested without a kernel.

Disclosure control (``min_cell_size`` = k = 5).  No person-level row is
ever written or shown, and nothing published lets a reader work out a count
of 1-4 persons, from the page itself or by combining the pages of one run:

* Report tables (:func:`table_html`, so every ``show_table``): a count of
  1-4 reads ``<5`` and a figure resting on those persons (a mean weight) is
  blanked with it; zeros are shown (they identify no one).  Complementary
  suppression (:func:`suppress_with_complements`): a count table sits under
  totals printed elsewhere (municipalities under their health council's
  total, health councils under the country's), so while a group's masked
  cells could be worked out from its total minus its visible cells, the
  next smallest cell of at least 5 in the group is hidden too and reads
  ``x``; the caption says what ``x`` means.  A sum of clinics' listed
  patients (island doctors per health council) that includes a clinic of
  1-4 patients is hidden as ``x``, since the clinics' sheets print the others.
* Clinic sheets (:func:`clinic_sheets`), in one sentence for the GP: a group
  or add-on with fewer than 5 of the clinic's patients, none included, reads
  ``<5`` without its contribution; then the next smallest add-on is hidden
  too (``x``), small age-sex groups are pooled with the next smallest group,
  and the mean weight is printed with 2 decimals, so the hidden numbers
  cannot be worked out from the rest of the page.  Why each part: the
  contributions of the visible rows, the listed count and a precise mean
  weight leave the hidden rows' total (patients x weight) known to within
  listed x 0.005; with one unknown of known weight that total names the
  count, so a complement of at least 5 patients is hidden with it and the
  mean is rounded until that window is wider than one patient of the
  complement's weight.  No sum of contributions, no life-expectancy factor
  and no unrounded minimum are printed (each would give the mean back to
  more decimals); the binding number, rounded to 50, is.  Zero reads ``<5``
  so the attacker does not learn which characteristics are absent.  A
  clinic with 1-4 listed patients (or an area of fewer than 5 citizens for a
  clinic without patients) shows no mean weight and no minimum number, since
  both are means over those few persons; the sheet says so and that the
  region has the calculation.  The municipality's median minimum is taken
  over numbers shown on sheets only.  ``tests/test_disclosure.py`` attacks
  every table and sheet of a small run with an integer solver.
"""

from __future__ import annotations

import copy
import html as html_lib
import json
from importlib import resources
import math
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from model.config import VARIANTS, ModelConfig

#: Folder of the jinja2 templates (clinic sheets) and of the offline HTML template for notebooks.
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: The notebooks shipped with the package (model/notebooks: a link to the top-level notebooks/ in the repository).
NOTEBOOKS = Path(str(resources.files("model").joinpath("notebooks")))
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
    "evaluation_2028.ipynb": "Evaluation of the model 2028",
}
#: Sub-folder of a run folder that ``data_checks.ipynb`` writes.
CHECKS = "checks"
#: Run-folder table with each clinic's listed patients per term (``model.pipeline.clinic_profiles``).
CLINIC_PROFILES = "clinic_profiles"
#: Tables of ``model.pipeline.OUTPUT_TABLES`` the report cannot do without (``clinic_profiles`` is
#: optional).  Listed here so that reading a run does not import the fitting code (scipy, statsmodels).
REQUIRED_TABLES = ("coefficients", "fit_statistics", "weights_by_cell", "capacity_by_health_council",
                   "capacity_by_municipality", "clinic_minimums", "life_expectancy")
#: Figure resolution: fixed so that PNG bytes do not depend on the machine's defaults.
FIGURE_DPI = 100


def _skip_slow_iri_checker() -> None:
    """Keep ``nbformat``'s import from building the ``rfc3987_syntax`` grammar (2.5 s of CPU).

    ``jsonschema`` imports ``rfc3987_syntax`` (pulled in by JupyterLab) when it
    is installed, only to check the ``iri`` string format, which the notebook
    schema never uses.  Marking it absent before the first import skips it;
    nothing is changed when it was already imported.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


# ===========================================================================
# errors


class NotebookFailed(RuntimeError):
    """A notebook raised while executing; the message names notebook, cell and error.

    Attributes: ``notebook`` (name), ``cell`` (1-based position in the source
    notebook, or None), ``source_line`` (first line of the cell's code),
    ``ename``, ``evalue`` and ``kept_at`` (path of the failed executed notebook).
    """

    def __init__(self, notebook: str, cell: int | None, source_line: str, ename: str, evalue: str,
                 kept_at: Path | None, exec_count: int | None = None):
        self.notebook, self.cell, self.source_line = notebook, cell, source_line
        self.ename, self.evalue, self.kept_at, self.exec_count = ename, evalue, kept_at, exec_count
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        if exec_count is not None:
            where += f" (execution count [{exec_count}])"
        msg = f"notebook {notebook} failed in {where}: `{source_line}`\n  {ename}: {evalue}"
        if kept_at is not None:
            msg += f"\n  the executed notebook with the traceback is kept at {kept_at}"
        super().__init__(msg)


class ParameterError(ValueError):
    """A notebook's parameters cell is missing, mis-tagged, duplicated, or a passed name is unknown."""


# ===========================================================================
# one notebook: check, execute, convert

_NEAR_MISS_TAGS = {"parameter", "params", "param", "parametres", "paramters", "parmeters", "parameters "}


def parameters_cell(nb) -> int:
    """Index of the one code cell tagged ``parameters``; :class:`ParameterError` otherwise.

    Catches the papermill trap of a cell tagged ``parameter`` (singular) or
    another near miss, which papermill ignores with only a warning, letting
    the notebook's own defaults silently win.
    """
    name = nb.metadata.get("_name", "notebook")
    tagged, near = [], []
    for i, c in enumerate(nb.cells):
        for t in c.get("metadata", {}).get("tags", []) or []:
            if t == "parameters":
                tagged.append(i)
            elif t.strip().lower() in _NEAR_MISS_TAGS or t.strip().lower() == "parameters":
                near.append((i, t))
    if near:
        i, t = near[0]
        raise ParameterError(
            f"{name}: cell {i + 1} is tagged {t!r}; papermill only knows the tag 'parameters' "
            f"and would ignore that cell's role silently. Retag it 'parameters'.")
    if not tagged:
        raise ParameterError(f"{name}: no cell is tagged 'parameters'; papermill needs exactly one")
    if len(tagged) > 1:
        raise ParameterError(f"{name}: {len(tagged)} cells are tagged 'parameters' (cells "
                             f"{', '.join(str(i + 1) for i in tagged)}); there must be exactly one")
    if nb.cells[tagged[0]].cell_type != "code":
        raise ParameterError(f"{name}: the cell tagged 'parameters' (cell {tagged[0] + 1}) is not a code cell")
    return tagged[0]


def check_parameters(nb_path: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check a notebook before running it; return its parameters as papermill sees them.

    Exactly one cell tagged ``parameters`` (:func:`parameters_cell`), and
    every name in ``parameters`` must be defined in it (papermill would
    otherwise inject the misspelt name and exit 0).  Raises
    :class:`ParameterError` naming the unknown names and listing the known ones.
    """
    _skip_slow_iri_checker()
    import nbformat
    import papermill as pm

    nb_path = Path(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["_name"] = nb_path.name
    parameters_cell(nb)
    known = pm.inspect_notebook(str(nb_path))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ParameterError(
            f"{nb_path.name}: unknown parameter(s) {', '.join(repr(u) for u in unknown)}; "
            f"the notebook's parameters are: {', '.join(known) or '(none)'}")
    return dict(known)


def _source_cell_number(src_nb, error_source: str, exec_index: int | None, params_index: int) -> int | None:
    """1-based number of the failing cell in the source notebook (papermill injects one cell)."""
    for i, c in enumerate(src_nb.cells):
        if c.cell_type == "code" and c.source == error_source:
            return i + 1
    if exec_index is None:
        return None
    return (exec_index if exec_index <= params_index else exec_index - 1) + 1


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def run_notebook(nb_path: str | Path, out_path: str | Path, parameters: Mapping[str, Any], cwd: str | Path,
                 timeout: int | None, kernel_name: str = "python3", failed_dir: str | Path | None = None) -> Path:
    """Execute one notebook with papermill's Python API; return ``out_path``.

    Before running, :func:`check_parameters`.  The kernel, language, cell
    timeout (``execution_timeout``) and working folder are explicit; no
    progress bar, no output logging.  On failure the executed notebook
    (with papermill's error banner and the traceback) is copied to
    ``failed_dir / '<name>.failed.ipynb'`` (default: beside ``out_path``)
    and :class:`NotebookFailed` is raised naming the cell and the error.
    """
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_path, out_path = Path(nb_path), Path(out_path)
    check_parameters(nb_path, parameters)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(nb_path), str(out_path), parameters=dict(parameters),
            kernel_name=kernel_name, language="python", execution_timeout=timeout,
            cwd=str(cwd), progress_bar=False, log_output=False,
            # the kernel's own log: keep errors, drop the warning about local TCP transport
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        return out_path
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        src = nbformat.read(nb_path, as_version=4)
        params_index = parameters_cell(src)
        kept = None
        if out_path.exists():
            fdir = Path(failed_dir) if failed_dir is not None else out_path.parent
            fdir.mkdir(parents=True, exist_ok=True)
            kept = fdir / f"{nb_path.stem}.failed.ipynb"
            shutil.copyfile(out_path, kept)
        if isinstance(e, PapermillExecutionError):
            cell = _source_cell_number(src, e.source, e.cell_index, params_index)
            raise NotebookFailed(nb_path.name, cell, _first_line(e.source), e.ename, _oneline(e.evalue),
                                 kept, e.exec_count) from None
        # e.g. a cell timeout or a dead kernel: the culprit is the last cell that was started
        cell, line, count = None, "", None
        if out_path.exists():
            ex = nbformat.read(out_path, as_version=4)
            started = [(i, c) for i, c in enumerate(ex.cells) if c.cell_type == "code"
                       and c.get("metadata", {}).get("papermill", {}).get("start_time")]
            if started:
                i, c = started[-1]
                cell = _source_cell_number(src, c.source, i, params_index)
                line, count = _first_line(c.source), c.get("execution_count")
        raise NotebookFailed(nb_path.name, cell, line, type(e).__name__, _oneline(str(e)), kept, count) from e


def _oneline(text: str, limit: int = 400) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TIMING_KEYS = ("start_time", "end_time", "duration", "exception", "status")


def clean_for_html(nb) -> tuple[Any, list[str]]:
    """A copy of an executed notebook ready for HTML, and the stderr text it held.

    Removes papermill's start/end times, durations and statuses and the
    kernel's execution timestamps (notebook and cell metadata), drops code
    cells without output (e.g. the injected parameters), drops ``stderr``
    streams (warnings; returned so the caller can log them) and numbers the
    cells' ids deterministically (papermill's injected cell gets a random one).
    """
    nb = copy.deepcopy(nb)
    pmeta = nb.metadata.get("papermill", {})
    for k in _TIMING_KEYS:
        pmeta.pop(k, None)
    for k in ("input_path", "output_path"):
        pmeta.pop(k, None)
    stderr: list[str] = []
    cells = []
    for c in nb.cells:
        md = c.get("metadata", {})
        md.pop("execution", None)
        if "papermill" in md:
            for k in _TIMING_KEYS:
                md["papermill"].pop(k, None)
        if c.cell_type == "code":
            kept = []
            for o in c.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stderr":
                    stderr.append(o.get("text", ""))
                    continue
                kept.append(o)
            c.outputs = kept
            if not kept:
                continue
        cells.append(c)
    for i, c in enumerate(cells):
        c["id"] = f"c{i:03d}"
    nb.cells = cells
    return nb, stderr


_URL_COMMENT = re.compile(r"/\*(?:(?!\*/).)*?https?://(?:(?!\*/).)*?\*/", re.S)
_OUTSIDE = re.compile(r"""(?:\bsrc|\bhref|\bdata|\baction|@import|url\()\s*=?\s*["']?\s*(?:https?:)?//""", re.I)


def outside_requests(html: str) -> list[str]:
    """Attributes or CSS that would make a browser fetch something from outside the file."""
    return [html[max(0, m.start() - 40): m.end() + 60] for m in _OUTSIDE.finditer(html)]


def to_html(executed_nb: str | Path | Any, html_path: str | Path, title: str) -> list[str]:
    """Convert an executed notebook to a reviewer's HTML page; return the stderr texts dropped.

    nbconvert's ``HTMLExporter`` with the ``lab`` template (extended by
    ``templates/report_offline.html.j2``: no require.js, MathJax or mermaid
    scripts), code and prompts excluded, figures as embedded PNG.  CSS
    comments carrying URLs are removed, and the page is checked to make no
    outside request (``ValueError`` otherwise).
    """
    _skip_slow_iri_checker()
    import nbformat
    from nbconvert import HTMLExporter

    nb = executed_nb if not isinstance(executed_nb, (str, Path)) else nbformat.read(executed_nb, as_version=4)
    nb, stderr = clean_for_html(nb)
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab", template_file="report_offline.html.j2", extra_template_paths=[str(TEMPLATES)],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        exclude_anchor_links=True, mathjax_url="", require_js_url="",
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _URL_COMMENT.sub("", body)
    bad = outside_requests(body)
    if bad:
        raise ValueError(f"{title}: the HTML would make outside requests: {bad[:3]}")
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8", newline="\n")
    return stderr


# ===========================================================================
# the report chain


def _say(t0: float, text: str) -> None:
    print(f"[{time.perf_counter() - t0:7.1f} s] {text}", flush=True)


def validation_summary(report: Any) -> dict[str, Any]:
    """A JSON-able summary of a :class:`model.schema.ValidationReport`.

    Keys: ``available``, ``ok``, ``summary`` (the one-line verdict),
    ``errors``, ``warnings`` (full counts) and ``by_rule`` (one record per
    severity, file, column and rule with its count).  The example values
    of the failures are left out: a report is published, and an example
    could be a person's row.
    """
    out: dict[str, Any] = {"available": True, "ok": bool(report.ok), "summary": report.summary_line(),
                           "errors": int(report.n_errors), "warnings": int(report.n_warnings)}
    sf = report.summary_frame()
    out["by_rule"] = [
        {"severity": str(r.severity), "file": str(r.file or ""), "column": str(r.column or ""),
         "rule": str(r.rule), "cases": int(r.count)}
        for r in sf.itertuples(index=False)
    ]
    return out


def validate_data(data: Path, year: int) -> dict[str, Any]:
    """Validate what the annual report reads with :mod:`model.schema`; raise ``ValueError`` on failure.

    Checked: ``persons.parquet`` (the rows of ``year``), ``clinics.csv``,
    ``municipalities.csv``, ``population_projection.csv``,
    ``fee_index.csv`` and the capacity reports, with the links between
    them. ``services.parquet`` (the service lines, up to 100 million a
    year) is not read by the report's model and is left out here; it is
    validated by ``python -m model validate`` and by ``ingest``.

    While ``model.schema`` is not importable yet, warn and return a summary
    saying validation was skipped.
    """
    try:
        from model.inputs.contracts import validate_folder
    except ImportError as e:
        warnings.warn(f"data validation skipped: model.schema is not available ({e})", stacklevel=2)
        return {"available": False, "ok": True, "summary": f"validation skipped: model.schema not available ({e})"}
    report_tables = ("persons", "clinics", "municipalities", "population_projection", "fee_index",
                     "capacity_reports")
    report = validate_folder(Path(data), years=[year], tables=report_tables, planning_year=int(year) + 1)
    summary = validation_summary(report)
    if not summary["ok"]:
        text = report.format() if hasattr(report, "format") else summary.get("summary", "")
        raise ValueError(f"data folder {data} failed validation; no report was written.\n{text}")
    return summary


def _readable_dirs(root: Path) -> None:
    """Give the folders the umask's usual permissions (``mkdtemp`` makes them private, 0700)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        d.chmod(0o777 & ~mask)


def panel_years(data: str | Path) -> list[int]:
    """Years present in ``persons.parquet``, read from the row-group statistics (no data read)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(Path(data) / "persons.parquet").metadata
    col = meta.schema.to_arrow_schema().get_field_index("year")
    years: set[int] = set()
    for i in range(meta.num_row_groups):
        st = meta.row_group(i).column(col).statistics
        if st is None or not st.has_min_max:
            return sorted(set(pq.read_table(Path(data) / "persons.parquet", columns=["year"]).column("year").unique().to_pylist()))
        years.update(range(int(st.min), int(st.max) + 1))
    return sorted(years)


def analysis_notebooks(data: str | Path, year: int) -> tuple[str, ...]:
    """The analysis notebooks the chain runs: stability and sensitivity only with at least two years up to ``year``."""
    years = [y for y in panel_years(data) if y <= year]
    return tuple(n for n in ANALYSIS_NOTEBOOKS if n not in PANEL_NOTEBOOKS or len(years) >= 2)


def _stability_years(data: str | Path, year: int) -> str:
    """The years the stability notebook refits: up to five, ending with ``year`` (as '2021-2025')."""
    try:
        first = min(y for y in panel_years(data) if y <= year)
    except (FileNotFoundError, ValueError):
        first = year - 4
    return f"{max(first, year - 4)}-{year}"


def chain_parameters(year: int, data: str | Path, previous_run: str = "",
                     fit_parameters: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The parameters :func:`render_report` passes to each notebook (paths relative to the report folder).

    ``run_dir`` is ``"run"`` relative to the report folder (the notebooks
    run with the report folder as working folder), so the executed
    notebooks stay valid after the folder is moved into place.
    """
    return {
        "fit.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run", "variant": "base",
                      **dict(fit_parameters or {})},
        "data_checks.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run",
                              "validation_file": "validation.json"},
        "stability.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run",
                            "years": _stability_years(data, int(year))},
        "sensitivity.ipynb": {"year": int(year), "data_dir": str(data), "run_dir": "run"},
        REPORT_NOTEBOOK: {"year": int(year), "run_dir": "run", "data_dir": str(data),
                          "previous_run_dir": str(previous_run or "")},
    }


def render_report(year: int, data: str | Path, out: str | Path | None = None, previous: str | Path | None = None,
                  timeout: int | None = 900, notebooks: str | Path | None = None,
                  kernel_name: str = "python3", fit_parameters: Mapping[str, Any] | None = None) -> Path:
    """Render the annual model report into ``out`` (default ``reports/<year>``); return it.

    Steps, each timed and shown on stdout:

    1. validate ``data`` (:func:`validate_data`);
    2. ``fit.ipynb`` fits the model and writes ``run/`` (the fit's output
       folder with ``manifest.json``); ``data_checks.ipynb`` writes
       ``run/checks/``;
    3. ``annual_report.ipynb`` reads the tables of ``run/`` (and of
       ``previous``'s run, if given) and presents them;
    4. each executed notebook goes to ``notebooks/`` and to HTML
       (``annual_report.html``, ``fit.html``, ``data_checks.html``);
    5. ``manifest.json``: input hashes, parameters, versions, commit,
       timings per notebook, hashes of every file written.

    All of it is written into a temporary sibling folder that replaces
    ``out`` only when everything succeeded (:class:`model.pipeline.AtomicFolder`).
    ``previous`` is last year's report folder (its ``run/``) or a run folder.
    ``fit_parameters`` are passed on to ``fit.ipynb`` (e.g. ``{"rounding": "nearest"}``).
    """
    from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file

    t0 = time.perf_counter()
    data = Path(data).resolve()
    out = Path(out) if out is not None else Path("reports") / str(year)
    out = out.resolve()
    nb_dir = Path(notebooks) if notebooks is not None else NOTEBOOKS
    failed_dir = out.parent / "failed"
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
    stderr_log: dict[str, list[str]] = {}

    _say(t0, f"report {year}: validating {data}")
    t = time.perf_counter()
    validation = validate_data(data, year)
    timings["validate"] = round(time.perf_counter() - t, 3)
    _say(t0, f"validation: {validation.get('summary') or ('ok' if validation['ok'] else 'failed')}")

    params = chain_parameters(year, data, prev_run, fit_parameters)
    analysis = analysis_notebooks(data, year)
    for name in (*analysis, REPORT_NOTEBOOK):  # fail before any work on a bad parameter
        check_parameters(nb_dir / name, params[name])

    with AtomicFolder(out, inputs={"--data": data, "--previous": previous}) as tmp:
        (tmp / "notebooks").mkdir()
        (tmp / "validation.json").write_text(json.dumps(validation, indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
        for name in (*analysis, REPORT_NOTEBOOK):
            executed = tmp / "notebooks" / name
            _say(t0, f"{name}: executing")
            t = time.perf_counter()
            try:
                run_notebook(nb_dir / name, executed, params[name], cwd=tmp, timeout=timeout,
                             kernel_name=kernel_name, failed_dir=failed_dir)
            except NotebookFailed:
                _say(t0, f"{name}: FAILED; nothing was written to {out}")
                raise
            t_exec = time.perf_counter() - t
            _say(t0, f"{name}: executed in {t_exec:.1f} s; converting to HTML")
            t = time.perf_counter()
            html_name = "annual_report.html" if name == REPORT_NOTEBOOK else Path(name).stem + ".html"
            stderr = to_html(executed, tmp / html_name, TITLES[name].format(year=year))
            if stderr:
                stderr_log[name] = stderr
                _say(t0, f"{name}: {len(stderr)} warning output(s) left out of the HTML (see manifest.json)")
            timings[name] = {"execute": round(t_exec, 3), "html": round(time.perf_counter() - t, 3)}
        fit_manifest = json.loads((tmp / "run" / "manifest.json").read_text(encoding="utf-8"))
        manifest = {
            "command": "report",
            "year": int(year),
            "data": str(data),
            "previous_run": prev_run or None,
            "inputs": fit_manifest.get("inputs", {}),
            "config": fit_manifest.get("config", {}),
            "parameters": params,
            "validation": validation,
            "versions": package_versions(),
            "commit": git_commit(),
            "timings_seconds": {**timings, "total": round(time.perf_counter() - t0, 3)},
            "warnings": {k: [_oneline(s, 1000) for s in v] for k, v in stderr_log.items()},
        }
        manifest["outputs"] = {
            str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
        _readable_dirs(tmp)
    for name in (*analysis, REPORT_NOTEBOOK):  # failures of earlier renders are now stale
        (failed_dir / f"{Path(name).stem}.failed.ipynb").unlink(missing_ok=True)
    if failed_dir.is_dir() and not any(failed_dir.iterdir()):
        failed_dir.rmdir()
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


def data_checks(data_dir: str | Path, year: int, validation: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """The data checks of ``data_checks.ipynb``: what the data folder holds, per health council.

    In: the data folder, the year, and the validation summary of
    :func:`validation_summary` (None: validate here, or note that
    :mod:`model.schema` is missing).  Out: tables ``data_by_health_council``
    (municipalities, citizens in all insurance groups and in group 1, open
    clinics, regional and tender clinics, island doctors, allocated
    capacities, listed group-1 patients), ``validation_summary`` (one row per
    rule that failed, with its count; empty when all passed) and
    ``life_expectancy_imputed`` (municipalities without a figure).  Only
    counts per area; no person rows.
    """
    from model.core.clinics import open_clinics
    from model.inputs.tables import read_clinics, read_municipalities, read_persons

    d = Path(data_dir)
    cfg = ModelConfig().replace(year=int(year), planning_year=int(year) + 1)
    if validation is None:
        validation = validate_data(d, int(year))
    munis = read_municipalities(d / "municipalities.csv")
    hc_of = munis.set_index("municipality_code")["sundhedsraad"]
    p = read_persons(d / "persons.parquet", int(year), columns=["year", "municipality_code", "insurance_group", "clinic_id"])
    # aggregate on the (categorical) codes first: millions of rows become a few thousand
    by_muni = p.groupby(["municipality_code", "insurance_group"], observed=True).size().reset_index(name="n")
    by_muni["hc"] = by_muni["municipality_code"].astype(str).map(hc_of)
    g1 = by_muni["insurance_group"] == cfg.insurance_group
    g1p = p[p["insurance_group"] == cfg.insurance_group]
    listed = g1p.groupby("clinic_id", observed=True).size()
    listed.index = listed.index.astype(str)
    # group-1 citizens with no clinic on record (or one the register does not know): in the need and the fit,
    # not in clinic figures
    clinics = read_clinics(d / "clinics.csv")
    known = g1p["clinic_id"].astype(object).isin(set(clinics["clinic_id"]))
    unl = g1p.loc[~known.to_numpy()].groupby("municipality_code", observed=True).size()
    unl.index = unl.index.astype(str)
    del p, g1p
    op = open_clinics(clinics, cfg).copy()
    op["health_council"] = op["municipality_code"].map(hc_of)
    op["listed"] = op["clinic_id"].map(listed).fillna(0).astype(np.int64)
    councils = sorted(munis["sundhedsraad"].unique())
    out = pd.DataFrame({"Health council": councils})
    out["Municipalities"] = out["Health council"].map(munis.groupby("sundhedsraad").size()).fillna(0).astype(int)
    out["Citizens (all groups)"] = out["Health council"].map(by_muni.groupby("hc")["n"].sum()).fillna(0).astype(np.int64)
    out["Citizens (group 1)"] = out["Health council"].map(by_muni[g1].groupby("hc")["n"].sum()).fillna(0).astype(np.int64)
    out["Open clinics"] = out["Health council"].map(op.groupby("health_council").size()).fillna(0).astype(int)
    rt = op[op["practice_form"].isin(["regional", "tender"])]
    out["Regional or tender clinics"] = out["Health council"].map(rt.groupby("health_council").size()).fillna(0).astype(int)
    isl = op[op["island_doctor"]]
    out["Island-doctor clinics"] = out["Health council"].map(isl.groupby("health_council").size()).fillna(0).astype(int)
    out["Capacities allocated"] = out["Health council"].map(op.groupby("health_council")["capacities"].sum()).fillna(0.0)
    out["Listed patients (group 1)"] = out["Health council"].map(op.groupby("health_council")["listed"].sum()).fillna(0).astype(np.int64)
    out["Patients in regional or tender clinics"] = out["Health council"].map(
        rt.groupby("health_council")["listed"].sum()).fillna(0).astype(np.int64)
    # per municipality only (no council or national total is printed, so a masked count has nothing to be
    # subtracted from; mostly zeros would leave no complement to hide beside a council total)
    um = munis[["municipality_code", "kommune", "sundhedsraad"]].assign(n=lambda m: m["municipality_code"].map(unl))
    um = um[um["n"].fillna(0) > 0]
    unlisted = pd.DataFrame({"Municipality": um["kommune"].to_numpy(), "Health council": um["sundhedsraad"].to_numpy(),
                             "Group-1 citizens with no clinic on record": um["n"].astype(np.int64).to_numpy()})
    vs = pd.DataFrame(validation.get("by_rule", []), columns=["severity", "file", "column", "rule", "cases"])
    vs.columns = ["Severity", "File", "Column", "Rule", "Cases"]
    le = pd.to_numeric(munis["life_expectancy_at_birth"], errors="coerce")
    imp = munis.loc[le.isna(), ["kommune", "sundhedsraad"]].rename(
        columns={"kommune": "Municipality", "sundhedsraad": "Health council"}).reset_index(drop=True)
    out = _mark_sheet_sums(out, op[["health_council", "listed", "practice_form"]], cfg.min_cell_size)
    return {"data_by_health_council": out, "validation_summary": vs, "life_expectancy_imputed": imp,
            "unlisted_by_municipality": unlisted}


def sums_of_sheets_hidden(councils: Sequence[str], clinic_council: pd.Series, clinic_listed: pd.Series,
                          k: int = 5) -> list[bool]:
    """Which health councils' sums of listed patients the clinics' sheets would give away.

    In: the health councils in table order, and for each clinic whose sheet
    is published its health council and listed patients.  Out: one flag per
    council, True where the council's sum minus the counts the sheets print
    pins a clinic's count of 1..k-1 (one such clinic, or several whose range
    the sum narrows to one value).  Such a sum is shown as ``x`` (see
    :func:`suppress_with_complements`, argument ``pre_hidden``).
    """
    v = pd.to_numeric(clinic_listed, errors="coerce").fillna(0).to_numpy(dtype=float)
    hc = clinic_council.astype(str).to_numpy()
    out = []
    for h in councils:
        sel = hc == str(h)
        small = (v[sel] > 0) & (v[sel] < k)
        out.append(bool(_determined(v[sel], small, small, k)))
    return out


def _mark_sheet_sums(table: pd.DataFrame, clinics: pd.DataFrame, k: int) -> pd.DataFrame:
    """``table.attrs["hidden"]`` for the listed-patient sums of :func:`data_checks` (clinics: health_council, listed, practice_form)."""
    table = table.copy()
    rt = clinics["practice_form"].isin(["regional", "tender"])
    councils = table["Health council"].tolist()
    table.attrs["hidden"] = {
        "Listed patients (group 1)": sums_of_sheets_hidden(councils, clinics["health_council"], clinics["listed"], k),
        "Patients in regional or tender clinics": sums_of_sheets_hidden(
            councils, clinics.loc[rt, "health_council"], clinics.loc[rt, "listed"], k),
    }
    return table


def write_data_checks(tables: Mapping[str, pd.DataFrame], validation: Mapping[str, Any], run_dir: str | Path) -> Path:
    """Write the data checks into ``<run_dir>/checks/`` (through a temporary folder); return it."""
    from model.artifacts import AtomicFolder, write_csv

    with AtomicFolder(Path(run_dir) / CHECKS) as tmp:
        for name, df in tables.items():
            write_csv(df, tmp / f"{name}.csv")
        (tmp / "validation.json").write_text(json.dumps(dict(validation), indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
    return Path(run_dir) / CHECKS


def read_validation(path: str | Path) -> dict[str, Any] | None:
    """The validation summary written by :func:`render_report` (``validation.json``), or None for ''."""
    if not path:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))


def check_report_parameters(year: int, run_dir: str | Path, previous_run_dir: str | Path = "") -> ModelConfig:
    """Validate the report notebook's parameters; return the run's configuration.

    ``year`` goes through :meth:`ModelConfig.replace`; the run folder must
    exist and be a fit of that year; ``previous_run_dir`` (if not empty)
    must be a run folder too.
    """
    ModelConfig().replace(year=int(year), planning_year=int(year) + 1)
    m = Path(run_dir) / "manifest.json"
    if not m.exists():
        raise FileNotFoundError(f"run_dir {run_dir}: no manifest.json; run fit.ipynb (or `python -m model fit`) first")
    cfg = ModelConfig.from_dict(json.loads(m.read_text(encoding="utf-8"))["config"])
    if cfg.year != int(year):
        raise ValueError(f"run_dir {run_dir} holds a fit of {cfg.year}, not of year={year}")
    if previous_run_dir and not (Path(previous_run_dir) / "manifest.json").exists():
        raise FileNotFoundError(f"previous_run_dir {previous_run_dir}: no manifest.json")
    return cfg


# ===========================================================================
# presentation helpers used by the notebooks


def report_setup() -> None:
    """Fixed figure and table settings for every report notebook (deterministic PNGs)."""
    import matplotlib
    import matplotlib.pyplot as plt  # noqa: F401  (activates the inline backend in a kernel)

    matplotlib.rcParams.update({
        "figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI, "figure.figsize": (8.0, 4.2),
        "font.size": 9.5, "axes.spines.top": False, "axes.spines.right": False,
        "axes.titlesize": 10.5, "axes.titleweight": "bold", "figure.max_open_warning": 0,
        "svg.hashsalt": "fordelingsmodel", "axes.grid": False,
    })
    try:  # in a kernel: PNG only, tight bounding box, no software stamp
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
            ip.run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', "
                                        "'metadata': {'Software': None}}")
    except Exception:  # noqa: BLE001 - outside IPython nothing to configure
        pass
    pd.set_option("display.max_rows", 200)


def suppress_small(df: pd.DataFrame, count_cols: Sequence[str], k: int = 5,
                   hide: Sequence[str] = ()) -> pd.DataFrame:
    """Disclosure control: counts of 1 to k-1 become ``"<k"``; figures resting on them are blanked.

    In: a table, the columns holding counts of persons, the threshold and
    the columns (e.g. a mean over those persons) to blank in any row where
    a count was masked.  Out: a copy; masked count columns become object
    dtype holding ints and ``"<5"``.  Zero stays 0 (it identifies no one).
    """
    out = df.copy()
    masked_any = pd.Series(False, index=out.index)
    for c in count_cols:
        v = pd.to_numeric(out[c], errors="coerce")
        small = (v > 0) & (v < k)
        masked_any |= small
        col = out[c].astype(object)
        col[small] = f"<{k}"
        out[c] = col
    for c in hide:
        col = out[c].astype(object)
        col[masked_any] = None
        out[c] = col
    return out


#: Marker of a count hidden only so that a small count cannot be worked out from a total (complementary cell).
HIDDEN = "x"
#: The note under a table with complementary cells.
HIDDEN_NOTE = "x: hidden so that a count under {k} cannot be worked out from a total."


def _determined(values: np.ndarray, masked: np.ndarray, small: np.ndarray, k: int,
                protect: np.ndarray | None = None) -> bool:
    """True if a differencing attacker can pin down a masked cell of one group whose total is known.

    The attacker knows the group's total (it is shown elsewhere), the
    visible cells, that a cell shown ``<k`` holds 1..k-1 and that a cell
    shown ``x`` holds at least ``k`` (complements are chosen among cells of
    at least k).  Each masked cell's range is its own bounds narrowed by the
    rest of the masked total; the cell is pinned when the range is one value.
    Only groups holding a small cell (or a cell in ``protect``, hidden for a
    reason outside the table) need this; others return False.
    """
    need = small if protect is None else (small | protect)
    if not (masked & need).any():
        return False
    rest = float(values[masked].sum())          # what total minus visible cells gives the attacker
    lo = np.where(small, 1.0, float(k))[masked]
    hi = np.where(small, float(k - 1), np.inf)[masked]
    if len(lo) == 1:
        return True
    for i in range(len(lo)):
        others_lo, others_hi = float(np.delete(lo, i).sum()), float(np.delete(hi, i).sum())
        a, b = max(lo[i], rest - others_hi), min(hi[i], rest - others_lo)
        if a >= b:
            return True
    return False


def complement_masks(df: pd.DataFrame, count_col: str, group_col: str | None = None,
                     k: int = 5, pre: Sequence[bool] | None = None) -> tuple[pd.Series, pd.Series]:
    """Which cells of one count column to show as ``<k`` and which to hide as complements (``x``).

    In: a table, one column of counts of persons, the column naming each
    row's group (e.g. the health council of a municipality; None: the whole
    table is one group under the country total) and the threshold.  Out:
    two boolean Series on ``df.index``: ``small`` (1..k-1) and
    ``complement``.  Rule (complementary suppression): in every group whose
    total is shown anywhere, while the masked cells of the group could be
    worked out from the total minus the visible cells (one masked cell
    alone, or a range narrowed to one value by :func:`_determined`), the
    next smallest visible cell of at least k in that group is hidden too,
    smallest first, ties by row order.  A group with no such cell left keeps
    what it has (its total then rests on small cells only and is masked
    where it is shown, as a count under k itself).  ``pre``: cells already
    hidden for a reason outside the table (one flag per row, in order); they
    count as complements from the start.
    """
    v = pd.to_numeric(df[count_col], errors="coerce").fillna(0).to_numpy(dtype=float)
    small = (v > 0) & (v < k)
    comp = np.zeros(len(v), dtype=bool) if pre is None else (np.asarray(pre, dtype=bool) & ~small)
    groups = [np.arange(len(v))] if group_col is None else \
        [np.flatnonzero((df[group_col].astype(str) == g).to_numpy()) for g in pd.unique(df[group_col].astype(str))]
    for idx in groups:
        vs, sm = v[idx], small[idx]
        cm = comp[idx].copy()
        pr = cm.copy()
        while _determined(vs, sm | cm, sm, k, pr):
            cand = np.flatnonzero(~sm & ~cm & (vs >= k))
            if len(cand) == 0:
                break
            cm[cand[np.argsort(vs[cand], kind="stable")[0]]] = True
        comp[idx] = cm
    return pd.Series(small, index=df.index), pd.Series(comp, index=df.index)


def suppress_with_complements(df: pd.DataFrame, count_cols: Sequence[str], group_col: str | None = None,
                              k: int = 5, hide: Sequence[str] = (),
                              pre_hidden: Mapping[str, Sequence[bool]] | None = None) -> pd.DataFrame:
    """Disclosure control for a count table with totals: small counts and their complements masked.

    In: a table, its columns of counts of persons, the column naming each
    row's group under a total shown elsewhere (municipality -> health
    council: ``group_col="Health council"``; None: the whole table under the
    country total), the threshold and the columns to blank in a row where a
    count was masked (figures over the same persons, e.g. a mean weight).
    Out: a copy where counts of 1..k-1 read ``"<k"`` and the complementary
    cells of :func:`complement_masks` read :data:`HIDDEN` (``"x"``), so that
    no masked count can be recovered by subtracting the visible cells from
    the group's total.  Zero stays 0.  Masked count columns become object dtype.
    ``pre_hidden``: per count column, cells to hide for a reason outside the
    table (e.g. a sum of clinics whose sheets print the others); default
    ``df.attrs["hidden"]`` when the table carries it.
    """
    pre_hidden = df.attrs.get("hidden", {}) if pre_hidden is None else pre_hidden
    out = df.copy()
    masked_any = pd.Series(False, index=out.index)
    for c in count_cols:
        small, comp = complement_masks(out, c, group_col, k, pre_hidden.get(c))
        masked_any |= small | comp
        col = out[c].astype(object)
        col[small] = f"<{k}"
        col[comp] = HIDDEN
        out[c] = col
    for c in hide:
        col = out[c].astype(object)
        col[masked_any] = None
        out[c] = col
    return out


def _fmt_value(v: Any, digits: int | None, lang: str = "en") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return ("ja" if v else "nej") if lang == "da" else ("yes" if v else "no")
    if isinstance(v, (int, np.integer)):
        s = f"{int(v):,}"
    elif isinstance(v, (float, np.floating)):
        d = 2 if digits is None else digits
        s = f"{float(v):,.{d}f}"
        if s.startswith("-") and float(s.replace(",", "")) == 0:
            s = s[1:]
    else:
        return str(v)
    if lang == "da":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s


def format_table(df: pd.DataFrame, digits: Mapping[str, int] | int | None = None, lang: str = "en") -> pd.DataFrame:
    """Every cell as display text: thousands separators, fixed decimals, yes/no, blanks for missing."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        d = digits.get(c) if isinstance(digits, Mapping) else digits
        col = df[c]
        if pd.api.types.is_float_dtype(col) and d is None and col.dropna().apply(float.is_integer).all() \
                and len(col.dropna()):
            col = col.astype("Int64")
        out[c] = [_fmt_value(v.item() if hasattr(v, "item") else v, d, lang) for v in col.astype(object)]
    return out


_COUNT_WORDS = re.compile(r"\b(citizens|persons|patients|people)\b", re.I)
_NOT_COUNT_WORDS = re.compile(r"\b(weighted|mean|minimum|per|share|average|weight)\b|%", re.I)


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose header says they count persons (citizens, persons, patients), e.g. ``Listed patients``.

    Not ``Weighted citizens``, ``Mean weight``, ``Minimum patient number`` or
    shares.  :func:`table_html` masks these by default, so a new table is
    under disclosure control unless told otherwise.
    """
    return [c for c in df.columns if isinstance(c, str) and _COUNT_WORDS.search(c) and not _NOT_COUNT_WORDS.search(c)]


def table_html(df: pd.DataFrame, caption: str | None = None, digits: Mapping[str, int] | int | None = None,
               counts: Sequence[str] | str = "auto", hide: Sequence[str] = (), k: int = 5, index: bool = False,
               lang: str = "en", group: str | None = None) -> str:
    """HTML of a table for a report: small counts and their complements masked, numbers formatted.

    ``counts="auto"`` masks the columns of :func:`count_columns`; a list
    names the count columns exactly (``[]`` for a table of shares).  Masking
    is :func:`suppress_with_complements` with ``group`` as the group column
    (None: the whole table is one group, its total the country's), so a
    count shown ``<5`` cannot be recovered from a total; when a complement
    was hidden the caption says what ``x`` means.  Deterministic (plain ``DataFrame.to_html``,
    no random ids); numeric columns are right-aligned (class ``num``).
    """
    if index:
        attrs = dict(df.attrs)
        df = df.reset_index()
        df.attrs.update(attrs)
    if isinstance(counts, str):
        if counts != "auto":
            raise ValueError("counts must be 'auto' or a list of column names")
        counts = count_columns(df)
    else:
        counts = list(counts)
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    shown = suppress_with_complements(df, counts, group, k=k, hide=hide) if counts else df
    if counts and any((shown[c].astype(object) == HIDDEN).any() for c in counts):
        caption = ((caption.rstrip(".") + ". ") if caption else "") + HIDDEN_NOTE.format(k=k)
    text = format_table(shown, digits, lang)
    body = text.to_html(index=False, escape=True, border=0, na_rep="", classes="report-table")
    if caption:
        body = body.replace(">\n  <thead>", f">\n  <caption>{html_lib.escape(caption)}</caption>\n  <thead>", 1)
    if numeric:  # right-align numeric columns: class "num" on their header and cells
        pos = {list(df.columns).index(c) for c in numeric}
        rows = body.split("<tr")
        for i in range(1, len(rows)):
            parts = re.split(r"(<t[dh](?= |>)[^>]*>)", rows[i])
            col = -1
            for j in range(1, len(parts), 2):
                col += 1
                if col in pos and "class=" not in parts[j]:
                    parts[j] = parts[j][:-1] + ' class="num">'
            rows[i] = "".join(parts)
        body = "<tr".join(rows)
    return body


def show_table(df: pd.DataFrame, caption: str | None = None, **kw: Any) -> None:
    """Display :func:`table_html` in a notebook (arguments as there)."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, caption, **kw)))


def figure_png(fig) -> bytes:
    """A figure as PNG bytes: fixed DPI, tight box, no software stamp, so the bytes are reproducible."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def show_figure(fig, alt: str | None = None) -> None:
    """Display a figure as an embedded PNG with alternative text, and close it.

    ``alt`` defaults to the first axes' title.  The PNG is made here (not by
    the inline backend), so its bytes depend only on the figure.
    """
    import base64

    import matplotlib.pyplot as plt
    from IPython.display import display

    if alt is None:
        alt = next((a.get_title() for a in fig.axes if a.get_title()), "Figure")
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    plt.close(fig)
    display({"image/png": data, "text/plain": alt}, raw=True, metadata={"image/png": {"alt": alt}})


def md(text: str) -> None:
    """Display Markdown in a notebook (plain-language text with numbers filled in)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def num(v: float, digits: int = 0, lang: str = "en") -> str:
    """A number as text with thousands separators (``1,600``; Danish ``1.600``)."""
    return _fmt_value(float(v) if digits else int(round(float(v))), digits if digits else None, lang)


# ===========================================================================
# tables of the annual report (each from the result tables only)


def summary_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 1: capacities per health council against counted allocation and headroom."""
    hc = t["capacity_by_health_council"]
    out = pd.DataFrame({
        "Health council": hc["health_council"],
        "Region from 2027": hc["region_from_2027"],
        "Capacities (model)": hc["capacities"].astype(int),
        "Allocated today (counted)": hc["counted_allocation"],
        "Headroom": hc["headroom"],
        "May allocate new capacity": hc["headroom"] > 0,
    })
    total = pd.DataFrame([{
        "Health council": "Denmark", "Region from 2027": "",
        "Capacities (model)": int(out["Capacities (model)"].sum()),
        "Allocated today (counted)": float(out["Allocated today (counted)"].sum()),
        "Headroom": float(out["Headroom"].sum()), "May allocate new capacity": None,
    }])
    return pd.concat([out, total], ignore_index=True)


def national_summary(t: Mapping[str, Any]) -> dict[str, Any]:
    """Headline numbers: total capacities, counted allocation, goal, councils with headroom."""
    hc = t["capacity_by_health_council"]
    cfg: ModelConfig = t["config"]
    return {
        "year": cfg.year, "planning_year": cfg.planning_year,
        "capacities": int(hc["capacities"].sum()),
        "capacities_exact": float(hc["capacities_exact"].sum()),
        "allocated": float(hc["counted_allocation"].sum()),
        "headroom_councils": hc.loc[hc["headroom"] > 0, "health_council"].tolist(),
        "headroom_total": float(hc.loc[hc["headroom"] > 0, "headroom"].sum()),
        "goal": cfg.national_goal_gps,
        "health_councils": len(hc),
        "clinics": int(len(t["clinic_minimums"])),
    }


def data_by_health_council(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 2: citizens and clinics per health council.

    From ``checks/data_by_health_council.csv`` when the data checks ran, else
    from the result tables (citizens of insurance group 1, open clinics).
    Sums of listed patients that the clinics' sheets would give away are
    marked for hiding (``attrs["hidden"]``, see :func:`sums_of_sheets_hidden`).
    """
    chk = t.get("checks", {}).get("data_by_health_council")
    ct = t["clinic_minimums"]
    if chk is not None:
        return _mark_sheet_sums(chk, ct.rename(columns={"listed_patients": "listed"}), t["config"].min_cell_size)
    bm = t["capacity_by_municipality"]
    a = bm.groupby("health_council").agg(municipalities=("municipality_code", "size"), citizens=("citizens", "sum"))
    b = ct.groupby("health_council").agg(clinics=("clinic_id", "size"), capacities_allocated=("capacities", "sum"),
                                         listed_patients=("listed_patients", "sum"))
    out = a.join(b, how="left").fillna(0).reset_index()
    out = out.rename(columns={"health_council": "Health council", "municipalities": "Municipalities",
                              "citizens": "Citizens (group 1)", "clinics": "Open clinics",
                              "capacities_allocated": "Capacities allocated",
                              "listed_patients": "Listed patients (group 1)"})
    return _mark_sheet_sums(out, ct.rename(columns={"listed_patients": "listed"}), t["config"].min_cell_size)


def imputed_life_expectancy(t: Mapping[str, Any]) -> pd.DataFrame:
    """Municipalities whose life expectancy was imputed (their health council's figure)."""
    bm = t["capacity_by_municipality"]
    imp = bm[bm["life_expectancy_imputed"].astype(str).str.lower().isin(["true", "1"])]
    return pd.DataFrame({
        "Municipality": imp["name"], "Health council": imp["health_council"],
        "Life expectancy used (imputed)": imp["life_expectancy"],
        "Factor": imp["life_expectancy_factor"],
    }).reset_index(drop=True)


def coefficient_comparison(t: Mapping[str, Any], a: str | None = None, b: str | None = None) -> pd.DataFrame:
    """Section 3: coefficients (DKK per year) of two fits side by side with 95 % intervals and the difference.

    Default: ``a`` the fit without regional and tender clinics (the run's
    variant), ``b`` the fit with them; "with" minus "without" is the difference.
    """
    co = t["coefficients"]
    names = list(dict.fromkeys(co["variant"]))
    if b is None:
        b = "with_regional_tender" if "with_regional_tender" in names else names[-1]
    if a is None:
        a = next((v for v in names if v != b), names[0])
    va = co[co["variant"] == a].set_index("term")
    vb = co[co["variant"] == b].set_index("term")
    terms = list(va.index) + [x for x in vb.index if x not in va.index]
    out = pd.DataFrame({"Term": terms})
    for v, lab in ((va, "without"), (vb, "with")):
        out[f"Estimate ({lab})"] = v["estimate"].reindex(terms).to_numpy()
        out[f"95% CI ({lab})"] = [
            "" if pd.isna(lo) else f"{lo:,.0f} to {hi:,.0f}"
            for lo, hi in zip(v["ci_low"].reindex(terms), v["ci_high"].reindex(terms))]
    out["Difference"] = out["Estimate (with)"] - out["Estimate (without)"]
    return out


def fit_statistics_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Fit statistics of the fits in the run, one column per variant."""
    fs = t["fit_statistics"].copy()
    fs["label"] = fs["variant"].map(lambda v: VARIANTS.get(v, {}).get("label", v))
    rows = {"Fit": fs["label"], "Persons": fs["persons"], "Cells (combinations)": fs["cells"],
            "Terms": fs["terms"], "R²": fs["r_squared"], "Adjusted R²": fs["r_squared_adj"],
            "Standard errors": fs["cov_type"]}
    return pd.DataFrame(rows)


def _base_cells(pl: pd.DataFrame) -> pd.DataFrame:
    """Price-list rows with no add-on: reference origin, civil status, labour, disease counts."""
    m = (pl["origin"] == "other") & (pl["civil_status"] == "no") & (pl["labour"] == "-") \
        & pl["somatic_diseases"].astype(str).str.startswith("0-") \
        & ~pl["psychiatric"].astype(str).str.lower().isin(["true", "1"]) \
        & ~pl["cancer"].astype(str).str.lower().isin(["true", "1"])
    return pl[m]


def price_list_age_sex(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 4: the weight of each age band x sex with no add-on (before the life-expectancy factor)."""
    pl = t["weights_by_cell"]
    cfg: ModelConfig = t["config"]
    base = _base_cells(pl)
    wide = base.pivot_table(index="age_band", columns="sex", values="normalised_weight", aggfunc="first")
    order = cfg.age_band_labels()
    wide = wide.reindex([a for a in order if a in wide.index])
    wide.columns = [str(c).capitalize() for c in wide.columns]
    wide.index.name = "Age band"
    return wide


def addon_weights(t: Mapping[str, Any], variant: str | None = None) -> pd.DataFrame:
    """Section 4: what each characteristic adds to a citizen's weight (coefficient / mean predicted use)."""
    cfg: ModelConfig = t["config"]
    variant = variant or t["manifest"].get("variant", "base")
    co = t["coefficients"]
    co = co[co["variant"] == variant]
    pl = t["weights_by_cell"]
    row = pl.iloc[0]
    mean_use = float(row["predicted_use"] / row["normalised_weight"])
    from model.core.features import age_sex_term_names

    skip = set(age_sex_term_names(cfg)) | {"Intercept"}
    addon = co[~co["term"].isin(skip)]
    return pd.DataFrame({
        "Characteristic": addon["term"].map(describe_term),
        "Term": addon["term"],
        "Extra use (DKK a year)": addon["estimate"],
        "Extra weight": addon["estimate"] / mean_use,
    }).reset_index(drop=True)


_TERM_TEXT = {
    "origin_menapt": "Immigrant or descendant from a MENAPT country",
    "widowed_divorced": "Widowed or divorced",
    "single": "Single (unmarried)",
    "labour_temporarily_outside": "Temporarily outside the labour market (16-67)",
    "labour_permanently_outside": "Permanently outside the labour market (16-67)",
    "psychiatric": "Selected psychiatric disease (incl. dementia)",
    "psychiatric_extended": "Psychiatric disease, extended scope",
    "cancer_5y": "Cancer within the last 5 years",
    "cancer_10y": "Cancer within the last 10 years",
    "Intercept": "Reference person (constant)",
}


def describe_term(term: str) -> str:
    """Plain-English label of a regression term."""
    if term in _TERM_TEXT:
        return _TERM_TEXT[term]
    m = re.match(r"^somatic_(\d+)(plus|-\d+)?$", term)
    if m:
        lo, rest = m.group(1), m.group(2) or ""
        n = f"{lo} or more" if rest == "plus" else (f"{lo}{rest}" if rest else lo)
        return f"{n} selected chronic somatic diseases"
    m = re.match(r"^(male|female|age)_(.+)$", term)
    if m:
        who = {"male": "Men", "female": "Women", "age": "Everyone"}[m.group(1)]
        return f"{who} aged {m.group(2)}"
    if term.startswith("origin_"):
        return "Origin: " + term.removeprefix("origin_").replace("_", " ")
    return term.replace("_", " ")


def capacity_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: per health council, the chain weighted citizens -> need -> floor -> capacities -> headroom."""
    hc = t["capacity_by_health_council"]
    return pd.DataFrame({
        "Health council": hc["health_council"],
        "Weighted citizens": hc["weighted_citizens"],
        "Need (exact)": hc["need_exact"],
        "Area floor": hc["area_floor"],
        "Municipalities where floor binds": hc["municipalities_floor_binds"].astype(int),
        "Capacities (exact)": hc["capacities_exact"],
        "Capacities": hc["capacities"].astype(int),
        "Allocated": hc["allocated"],
        "Island doctors left out": hc["island_excluded"],
        "Headroom": hc["headroom"],
    })


def municipality_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: the indicative numbers per municipality (not binding)."""
    bm = t["capacity_by_municipality"]
    return pd.DataFrame({
        "Municipality": bm["name"], "Health council": bm["health_council"],
        "Citizens (group 1)": bm["citizens"], "Projected population": bm["population_end_of_year"],
        "Mean weight": bm["mean_weight"] if "mean_weight" in bm else np.nan,
        "Weighted citizens": bm["weighted_citizens"], "Need": bm["need"],
        "Area km²": bm["area_km2"], "Area floor": bm["area_floor"],
        "Floor binds": bm["floor_binds"].astype(str).str.lower().isin(["true", "1"]),
        "Indicative capacities": bm["indicative"],
    }).sort_values(["Health council", "Municipality"]).reset_index(drop=True)


def island_doctors_table(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 5: island-doctor clinics left out of the counted allocation, per health council.

    Their listed patients read ``x`` where one of the clinics has 1-4 (its
    sheet says ``<5``; the sum minus the other sheets would name it).
    """
    ct = t["clinic_minimums"]
    isl = ct[ct["island_excluded"].astype(str).str.lower().isin(["true", "1"])].copy()
    k = t["config"].min_cell_size
    # the source of each deduction: a region's annex-2 report (R§3), or the clinic register as fallback
    src = isl["island_source"].fillna("").astype(str) if "island_source" in isl else pd.Series("", index=isl.index)
    isl["source"] = np.where(src.str.startswith("annex 2"), "Annex 2: " + src.str.removeprefix("annex 2: "),
                             "Clinic register (no report)")
    g = isl.groupby(["health_council", "source"]).agg(
        clinics=("clinic_id", "size"), capacities=("capacities", "sum"), patients=("listed_patients", "sum"),
        few=("listed_patients", lambda s: bool(((s > 0) & (s < k)).any())))
    g = g.reset_index()
    # the sheets print each island clinic's listed count (or <5): a sum with a small one in it would give it away
    g["patients"] = g["patients"].astype(object).where(~g.pop("few"), HIDDEN)
    return g.rename(columns={"health_council": "Health council", "source": "Source of the deduction",
                             "clinics": "Island clinics left out", "capacities": "Their capacities",
                             "patients": "Their listed patients"})


def clinic_minimum_summary(t: Mapping[str, Any]) -> pd.DataFrame:
    """Section 6: clinic minimum numbers per capacity, per health council (quartiles)."""
    ct = t["clinic_minimums"]
    c = ct[ct["capacities"] > 0].assign(per_cap=lambda d: d["minimum_patients"] / d["capacities"])
    g = c.groupby("health_council")["per_cap"]
    out = pd.DataFrame({
        "Clinics": g.size(), "Lowest": g.min(), "Lower quartile": g.quantile(0.25), "Median": g.median(),
        "Upper quartile": g.quantile(0.75), "Highest": g.max(),
    }).reset_index().rename(columns={"health_council": "Health council"})
    return out


def clinic_extremes(t: Mapping[str, Any], n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Section 6: the ``n`` heaviest and lightest clinics by own patients (at least k listed patients).

    Only clinics whose mean weight rests on at least ``min_cell_size``
    listed patients are eligible, so every figure has at least 5 persons behind it.
    """
    cfg: ModelConfig = t["config"]
    ct = t["clinic_minimums"]
    own = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] >= cfg.min_cell_size)]
    cols = {"clinic_id": "Clinic", "health_council": "Health council", "practice_form": "Practice form",
            "listed_patients": "Listed patients", "mean_weight": "Mean weight", "capacities": "Capacities",
            "minimum_patients": "Minimum patient number"}
    heavy = own.sort_values(["mean_weight", "clinic_id"], ascending=[False, True]).head(n)[list(cols)].rename(columns=cols)
    light = own.sort_values(["mean_weight", "clinic_id"], ascending=[True, True]).head(n)[list(cols)].rename(columns=cols)
    return heavy.reset_index(drop=True), light.reset_index(drop=True)


def clinic_term_shares(t: Mapping[str, Any]) -> pd.DataFrame | None:
    """Listed patients per clinic and term, with the reference age-sex group filled in (wide).

    From ``clinic_profiles`` (long: clinic_id, term, patients, coefficient,
    contribution; ``Intercept`` counts all listed patients).  Out: one row
    per clinic, one column per term of the design (the reference group's
    patients are the listed patients not in another age-sex group), plus
    ``listed``.  None when the run has no ``clinic_profiles``.
    """
    from model.core.features import age_sex_term_names, reference_term

    prof = t.get(CLINIC_PROFILES)
    if prof is None:
        return None
    cfg: ModelConfig = t["config"]
    wide = prof.pivot_table(index="clinic_id", columns="term", values="patients", aggfunc="sum", fill_value=0)
    listed = wide["Intercept"] if "Intercept" in wide else wide.sum(axis=1)
    ref = reference_term(cfg)
    agesex = [x for x in age_sex_term_names(cfg) if x != ref]
    wide[ref] = listed - wide.reindex(columns=agesex, fill_value=0).sum(axis=1)
    wide = wide.drop(columns=["Intercept"], errors="ignore")
    wide.insert(0, "listed", listed)
    return wide


def profile_comparison(t: Mapping[str, Any], share: float = 0.1) -> pd.DataFrame | None:
    """Section 6: patient mix of the heaviest and lightest tenth of clinics vs all clinics.

    Per cent of listed patients in each age band (both sexes) and with each
    characteristic, summed over all the clinics of each group; a share that
    rests on 1-4 patients is shown as ``<5 patients``.  Column headers carry
    the number of clinics and of listed patients.  None when the run has no
    ``clinic_profiles``.
    """
    from model.core.features import age_sex_term_names

    w = clinic_term_shares(t)
    if w is None:
        return None
    cfg: ModelConfig = t["config"]
    k = cfg.min_cell_size
    ct = t["clinic_minimums"]
    own = ct[(ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0)].sort_values(["mean_weight", "clinic_id"])
    n = max(1, int(round(len(own) * share)))
    groups = {"Lightest tenth": list(own["clinic_id"].head(n)), "Heaviest tenth": list(own["clinic_id"].tail(n)),
              "All clinics": list(own["clinic_id"])}
    agesex = age_sex_term_names(cfg)
    rows: dict[str, dict[str, Any]] = {}
    for label, ids in groups.items():
        sub = w.reindex(ids).fillna(0).sum()
        total = float(sub["listed"])
        counts: dict[str, float] = {}
        for band in cfg.age_band_labels():
            counts[f"Aged {band}"] = float(sub.reindex([x for x in agesex if x.endswith("_" + band)]).fillna(0).sum())
        for term in w.columns:
            if term != "listed" and term not in agesex:
                counts[describe_term(term)] = float(sub[term])
        head = f"{label} (%; {len(ids):,} clinics, {total:,.0f} patients)" if total >= k else f"{label} (%; {len(ids):,} clinics)"
        rows[head] = {key: (f"<{k} patients" if 0 < c < k else (100 * c / total if total else np.nan))
                      for key, c in counts.items()}
    df = pd.DataFrame(rows)
    df.index.name = "Share of listed patients (%)"
    return df


def assumptions_table(config: ModelConfig | None = None) -> pd.DataFrame:
    """Section 9: every design choice of the method (docs/method.md), the field that changes it, its value and effect."""
    cfg = config or ModelConfig()
    rows = []
    for a in ASSUMPTIONS:
        fields = a["fields"]
        val = "; ".join(f"{f} = {getattr(cfg, f)!r}" for f in fields) if fields else "(fixed in code)"
        rows.append({"Choice": a["choice"], "Source": a["source"], "Setting (ModelConfig field = value)": val,
                     "What it does to the results": a["effect"]})
    return pd.DataFrame(rows)


#: The assumptions-and-caveats log: each design choice of the method (docs/method.md), who can change it, and its effect.
ASSUMPTIONS: tuple[dict[str, Any], ...] = (
    {"choice": "Only citizens in health-insurance group 1 count: weighted citizens of a municipality = mean weight "
               "of its group-1 citizens x projected end-of-year population x its group-1 share of residents",
     "source": "§4.6.2, §4.2.2", "fields": ["insurance_group"],
     "effect": "Group-2 citizens are neither in the fit nor in the weighted citizens; if group 2 is abolished, "
               "the share becomes 1 and the change flows in by itself."},
    {"choice": "Group-1 citizens with no clinic on record count in the fit and the need, not in clinic figures",
     "source": "§4.6.3 (residence municipality), design choice", "fields": [],
     "effect": "They are residents; the data checks count them per municipality."},
    {"choice": "Chronic-care fee: the lump sum is not use; the contacts it replaces are imputed as the mean "
               "contact-service fee of comparable citizens without it (same age band, sex, somatic group 0-1/2/3+)",
     "source": "§4.4.3 (assumption of SDS), design choice (reading)",
     "fields": ["chronic_fee_treatment", "chronic_impute_by", "chronic_fee_share"],
     "effect": "Counting the lump sum in full or in part, or imputing from the national average, are "
               "sensitivity variants."},
    {"choice": "The estimation sample is the residents at the end of the year, each counted as a full year",
     "source": "§4.4.3, design choice", "fields": ["person_year_weights"],
     "effect": "Those who died or emigrated in the year drop out; newborns and arrivals count a full year. "
               "With days_resident, the person-year weighted fit (use per year at risk) is a variant."},
    {"choice": "Locally agreed services kept in the fee", "source": "Region Sjælland agreement (ultrasound 4350-4360)",
     "fields": ["exclude_local_services"],
     "effect": "Leaving them out lowers recorded use in the 12 municipalities that pay for them."},
    {"choice": "Fit without patients of regional and tender clinics", "source": "§4.4.3",
     "fields": ["excluded_practice_forms"],
     "effect": "Their registration practice differs; both fits are shown side by side in section 3."},
    {"choice": "Age bands 0-2, 3-5, 6-15, 10-year bands, 85+, fully crossed with sex", "source": "design choice",
     "fields": ["age_bands", "reference_age_band", "include_sex"],
     "effect": "Finer bands follow use more closely; without sex women and men weigh the same."},
    {"choice": "Origin: MENAPT immigrants and descendants only", "source": "§4.4.2.1", "fields": ["origin_terms"],
     "effect": "Other origins weigh as Danish origin."},
    {"choice": "Civil status: widowed or divorced, same effect at every age", "source": "§4.4.2.1",
     "fields": ["civil_status_codes", "civil_status_by_age"],
     "effect": "Alternatives (single, single x age) are sensitivity variants."},
    {"choice": "Labour-market terms for ages 16-67 (state pension age)", "source": "§4.4.2.2",
     "fields": ["labour_age_min", "labour_age_max"],
     "effect": "A wider range gives weight to older citizens outside the labour market."},
    {"choice": "Somatic chronic diseases counted; one disease weighs as none", "source": "§4.4.2.3",
     "fields": ["somatic_bins"], "effect": "Finer counts give more weight differences among the chronically ill."},
    {"choice": "Psychiatric diseases incl. dementia (ICD-10 chapter F, selected)", "source": "§4.4.2.3",
     "fields": ["psychiatric_column"], "effect": "The extended scope adds F21-F29 and F60-F69."},
    {"choice": "Cancer within the last 5 years", "source": "§4.4.2.3", "fields": ["cancer_column"],
     "effect": "A 10-year window counts more survivors with lower extra use."},
    {"choice": "Heteroskedasticity-robust (HC1) standard errors; no clinic fixed effects", "source": "design choice",
     "fields": ["cov_type", "clinic_fixed_effects"],
     "effect": "Changes the confidence intervals only, not the weights (fixed effects would change them)."},
    {"choice": "Weights normalised so that the average citizen weighs 1 after the life-expectancy correction",
     "source": "design choice", "fields": ["normalise_weights"],
     "effect": "The correction moves weight between areas without changing the national total; without "
               "normalising, it may raise or lower the national number of capacities."},
    {"choice": "Life-expectancy factor = national / municipal life expectancy at birth", "source": "§4.4.2.4, design choice",
     "fields": ["life_expectancy_correction", "life_expectancy_column"],
     "effect": "Citizens in municipalities with lower life expectancy weigh more."},
    {"choice": "Municipalities without a life-expectancy figure take their health council's figure",
     "source": "design choice", "fields": [],
     "effect": "Affects Ærø, Fanø, Samsø and Læsø (see section 2)."},
    {"choice": "Need uses the expected population at the end of the planning year", "source": "§4.2.2",
     "fields": ["planning_year"], "effect": "Growing areas get capacity ahead of their growth."},
    {"choice": "One capacity per 1,600 disease-weighted citizens", "source": "§4.6.4",
     "fields": ["citizens_per_capacity"], "effect": "Fixed by the executive order."},
    {"choice": "Health-council capacities rounded up (with a tiny tolerance)", "source": "§4.6.4",
     "fields": ["rounding", "rounding_tolerance"], "effect": "Rounding to nearest gives up to one capacity less per council."},
    {"choice": "Area floor of one capacity per 35 km², applied per municipality, on Statistics Denmark's "
               "official areas (ARE207)", "source": "§4.2.2, §4.5.3, design choice (reading)",
     "fields": ["km2_per_capacity"],
     "effect": "Raises the number in large, thinly populated municipalities (e.g. Tønder, 1,281.8 km²)."},
    {"choice": "Island doctors with fewer than 500 listed patients left out of the counted allocation, from the "
               "regions' annex-2 reports (valid from the report date and one year on); the clinic register's "
               "island flag with the listed count where no report covers a clinic",
     "source": "§4.2.4, R§3", "fields": ["island_min_patients"],
     "effect": "Raises the headroom where they are; each deduction names its source."},
    {"choice": "Clinic minimum = capacities x 1,600 / mean weight of listed patients, rounded to nearest 50",
     "source": "§4.3.1, §4.3.9, design choice (formula, step)", "fields": ["clinic_rounding_step", "clinic_cap"],
     "effect": "Heavier patients give a lower number; the step keeps small changes from moving it."},
    {"choice": "A split clinic uses its parent's calculation while it has no full year of its own listed patients "
               "(opened after 1 January of the data year); a clinic with no listed patients uses its area's need "
               "(its municipality's mean weight)",
     "source": "§4.3.7, design choice", "fields": [], "effect": "Only clinics new in the year are affected; the "
               "clinic sheet says which case applied."},
    {"choice": "Capacity reports read as the guidance prints them (annex 2's repeated heading accepted); a late "
               "report is kept and flagged, not dropped", "source": "R§1-R§3", "fields": [],
     "effect": "No region's figures are lost to the template's layout or a late submission."},
    {"choice": "Disclosure control: no count below 5 shown", "source": "design choice", "fields": ["min_cell_size"],
     "effect": "Small groups are shown as <5 and their figures blanked; no person-level data leaves the run."},
)


def compare_runs(t: Mapping[str, Any], prev: Mapping[str, Any]) -> dict[str, Any]:
    """Section 8: what changed since the previous run.

    Out: ``capacities`` (per health council, both runs and the change),
    ``clinics`` (how many minimum numbers moved up, down or not),
    ``clinic_moves`` (the ten clinics whose number moved most), ``config``
    (settings that changed, from the two manifests) and ``years``.
    Columns say "previous" and "now" with the years, so two runs of the
    same year compare too.
    """
    y1, y0 = t["config"].year, prev["config"].year
    was, now = f"previous ({y0})", f"now ({y1})"
    a, b = t["capacity_by_health_council"], prev["capacity_by_health_council"]
    cap = a[["health_council", "capacities", "headroom"]].merge(
        b[["health_council", "capacities", "headroom"]], on="health_council", how="outer", suffixes=("", "_prev"))
    cap = pd.DataFrame({
        "Health council": cap["health_council"],
        f"Capacities, {was}": cap["capacities_prev"], f"Capacities, {now}": cap["capacities"],
        "Change": cap["capacities"] - cap["capacities_prev"],
        f"Headroom, {was}": cap["headroom_prev"], f"Headroom, {now}": cap["headroom"],
    })
    ca, cb = t["clinic_minimums"], prev["clinic_minimums"]
    m = ca[["clinic_id", "health_council", "minimum_patients"]].merge(
        cb[["clinic_id", "minimum_patients"]], on="clinic_id", how="outer", suffixes=("", "_prev"), indicator=True)
    both = m[m["_merge"] == "both"].copy()
    both["change"] = both["minimum_patients"] - both["minimum_patients_prev"]
    clinics = pd.DataFrame([
        {"What": "Clinics in both runs", "Clinics": int(len(both))},
        {"What": "Minimum number unchanged", "Clinics": int((both["change"] == 0).sum())},
        {"What": "Minimum number up", "Clinics": int((both["change"] > 0).sum())},
        {"What": "Minimum number down", "Clinics": int((both["change"] < 0).sum())},
        {"What": "New clinics (not in the previous run)", "Clinics": int((m["_merge"] == "left_only").sum())},
        {"What": "Clinics gone (not in this run)", "Clinics": int((m["_merge"] == "right_only").sum())},
    ])
    moved = both[both["change"] != 0]
    moved = moved.reindex(moved["change"].abs().sort_values(ascending=False, kind="stable").index).head(10)
    moves = pd.DataFrame({
        "Clinic": moved["clinic_id"], "Health council": moved["health_council"],
        f"Minimum, {was}": moved["minimum_patients_prev"], f"Minimum, {now}": moved["minimum_patients"],
        "Change": moved["change"],
    })
    ca_cfg, cb_cfg = t["manifest"].get("config", {}), prev["manifest"].get("config", {})
    keys = sorted(set(ca_cfg) | set(cb_cfg))
    conf = pd.DataFrame([
        {"Setting": k, was.capitalize(): json.dumps(cb_cfg.get(k)), now.capitalize(): json.dumps(ca_cfg.get(k))}
        for k in keys if ca_cfg.get(k) != cb_cfg.get(k) and k not in ("year", "planning_year")
    ], columns=["Setting", was.capitalize(), now.capitalize()])
    return {"capacities": cap, "clinics": clinics, "clinic_moves": moves.reset_index(drop=True), "config": conf,
            "years": (y0, y1)}


def parameters_table(parameters: Mapping[str, Any]) -> pd.DataFrame:
    """A notebook's parameters as a two-column table (values as JSON, so '' and None show)."""
    return pd.DataFrame([{"Parameter": k, "Value": json.dumps(v, default=str)} for k, v in parameters.items()])


def provenance_tables(t: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Section 10: inputs with hashes, configuration, versions and commit from the run's manifest."""
    m = t["manifest"]
    inputs = pd.DataFrame([{"Input file": k, "SHA-256": v} for k, v in sorted(m.get("inputs", {}).items())])
    config = pd.DataFrame([{"Setting": k, "Value": json.dumps(v)} for k, v in m.get("config", {}).items()])
    versions = pd.DataFrame([{"Package": k, "Version": v} for k, v in sorted(m.get("versions", {}).items())])
    run = pd.DataFrame([{"Item": "Command", "Value": m.get("command", "")},
                        {"Item": "Variant", "Value": m.get("variant", "")},
                        {"Item": "Code commit", "Value": m.get("commit") or "(not in a git checkout)"}])
    return {"run": run, "inputs": inputs, "config": config, "versions": versions}


# ===========================================================================
# figures (static matplotlib; PNG in the HTML)


def figure_capacities(t: Mapping[str, Any]):
    """Capacities per health council: model vs counted allocation (bars), headroom marked."""
    import matplotlib.pyplot as plt

    hc = t["capacity_by_health_council"].sort_values("capacities")
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(hc) + 1.2))
    y = np.arange(len(hc))
    ax.barh(y - 0.2, hc["capacities"], height=0.4, label="Capacities (model)", color="#1f77b4")
    ax.barh(y + 0.2, hc["counted_allocation"], height=0.4, label="Allocated today (counted)", color="#bbbbbb")
    for yi, (h, c) in zip(y, zip(hc["headroom"], hc["capacities"])):
        if h > 0:
            ax.text(c, yi - 0.2, f"  +{h:,.0f}", va="center", fontsize=8, color="#1f77b4")
    ax.set_yticks(y, hc["health_council"])
    ax.set_xlabel("GP capacities")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Capacities per health council: model vs allocated today (+ headroom)")
    fig.tight_layout()
    return fig


def figure_price_heatmap(t: Mapping[str, Any]):
    """Heat map of the age x sex weights (no add-ons)."""
    import matplotlib.pyplot as plt

    w = price_list_age_sex(t)
    fig, ax = plt.subplots(figsize=(3.2 + 1.1 * w.shape[1], 0.33 * len(w) + 1.2))
    im = ax.imshow(w.to_numpy(dtype=float), cmap="Blues", aspect="auto")
    ax.set_xticks(range(w.shape[1]), w.columns)
    ax.set_yticks(range(len(w)), w.index)
    vmax = np.nanmax(w.to_numpy(dtype=float))
    for i in range(len(w)):
        for j in range(w.shape[1]):
            v = w.iat[i, j]
            if pd.notna(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 * vmax else "black")
    ax.set_title("Weight by age and sex (no add-ons)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def figure_life_expectancy_map(t: Mapping[str, Any]):
    """Life-expectancy factor per municipality as coloured tiles at their representative point."""
    import matplotlib.pyplot as plt

    from model.inputs.reference import municipalities

    ref = municipalities()[["municipality_code", "lat", "lon"]]
    bm = t["capacity_by_municipality"].merge(ref, on="municipality_code", how="left")
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    sc = ax.scatter(bm["lon"], bm["lat"], c=bm["life_expectancy_factor"], cmap="RdYlBu_r", marker="s", s=70,
                    edgecolors="#555555", linewidths=0.4)
    imp = bm["life_expectancy_imputed"].astype(str).str.lower().isin(["true", "1"])
    ax.scatter(bm.loc[imp, "lon"], bm.loc[imp, "lat"], marker="x", color="black", s=25, label="imputed")
    lo, hi = bm.nsmallest(2, "life_expectancy_factor"), bm.nlargest(3, "life_expectancy_factor")
    for _, r in pd.concat([lo, hi]).iterrows():
        ax.annotate(r["name"], (r["lon"], r["lat"]), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_aspect(1 / np.cos(np.deg2rad(56)))
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    fig.colorbar(sc, ax=ax, shrink=0.7, label="life-expectancy factor")
    ax.set_title("Life-expectancy factor per municipality (above 1: weighs more)")
    fig.tight_layout()
    return fig


def figure_life_expectancy_ranked(t: Mapping[str, Any], n: int = 15):
    """The ``n`` highest and lowest life-expectancy factors as a ranked bar chart."""
    import matplotlib.pyplot as plt

    bm = t["capacity_by_municipality"].sort_values(["life_expectancy_factor", "name"])
    sel = pd.concat([bm.head(n), bm.tail(n)])
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(sel) + 1))
    colors = np.where(sel["life_expectancy_factor"] >= 1, "#d62728", "#1f77b4")
    ax.barh(range(len(sel)), sel["life_expectancy_factor"] - 1, left=1, color=colors)
    ax.set_yticks(range(len(sel)), sel["name"], fontsize=7)
    ax.axvline(1, color="black", linewidth=0.6)
    ax.set_xlabel("life-expectancy factor")
    ax.set_title(f"The {n} lowest and highest factors")
    fig.tight_layout()
    return fig


def figure_clinic_boxplot(t: Mapping[str, Any]):
    """Box plot of clinic minimum numbers per capacity, per health council."""
    import matplotlib.pyplot as plt

    ct = t["clinic_minimums"]
    c = ct[ct["capacities"] > 0].assign(per_cap=lambda d: d["minimum_patients"] / d["capacities"])
    order = sorted(c["health_council"].dropna().unique(), reverse=True)  # first at the top
    data = [c.loc[c["health_council"] == h, "per_cap"].to_numpy() for h in order]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(order) + 1.2))
    ax.boxplot(data, vert=False, widths=0.6, showfliers=True, flierprops={"markersize": 2, "alpha": 0.5})
    ax.set_yticks(range(1, len(order) + 1), order)
    ax.axvline(t["config"].citizens_per_capacity, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("minimum patient number per capacity (dashed: 1,600)")
    ax.set_title("Clinic minimum patient numbers per capacity, by health council")
    fig.tight_layout()
    return fig


# ===========================================================================
# clinic sheets


#: Texts of the clinic sheets, Danish and English (the template holds only layout).  The legal
#: texts follow executive order BEK nr. 975 of 30 June 2025 and the ministry's consultation memo
#: on it (høringsnotat), sections 4.3.2 (30 days), 4.3.5 (complaints), 4.3.6 (guidance; cap) and
#: 4.3.7 (new and split clinics).
SHEET_TEXT: dict[str, dict[str, str]] = {
    "da": {
        "other_lang": "English version",
        "title": "Minimumspatienttal for klinik {clinic}",
        "intro": "Denne side viser, hvordan klinikkens minimumspatienttal for {planning_year} er beregnet "
                 "efter den nationale fordelingsmodel (bekendtgørelse nr. 975 af 30. juni 2025). "
                 "Beregningen bygger på data om klinikkens tilmeldte patienter i sygesikringsgruppe 1 i {year}.",
        "facts": "Klinikken", "name": "Navn", "provider": "Ydernummer", "municipality": "Kommune",
        "health_council": "Sundhedsråd",
        "practice_form": "Praksisform", "capacities": "Kapaciteter", "listed": "Tilmeldte patienter (gruppe 1)",
        "formula_h": "Beregningen",
        "formula": "Kapaciteter × {cpc} / gennemsnitlig sygdomsvægt = minimumspatienttal",
        "approx": "omtrent", "rounded": "Afrundet til nærmeste {step}",
        "unrounded_note": "Tallet er beregnet med den uafrundede vægt; her er vægten vist med {d} decimaler.",
        "cap_note": "Regionen har sat et loft over minimumspatienttallet på {cap} (høringsnotatet afsnit 4.3.6).",
        "cap_binds": "Loftet er brugt: modellens tal på {uncapped} er sat ned til {cap}.",
        "cap_not_binding": "Loftet har ikke ændret klinikkens tal.",
        "mean_weight": "Gennemsnitlig sygdomsvægt for klinikkens patienter",
        "case_h": "Hvilken regel er brugt",
        "source_own_patients": "Klinikkens egne patienter: vægten er gennemsnittet for klinikkens egne tilmeldte "
                               "patienter i {year}.",
        "source_municipality": "Klinik uden tilmeldte patienter: klinikken havde ingen tilmeldte patienter i "
                               "{year}, så tallet bygger på behovet i området, dvs. gennemsnitsvægten for "
                               "borgerne i kommunen ({muni}) (høringsnotatet afsnit 4.3.7).",
        "source_split_from": "Udskilt klinik: klinikken er udskilt fra en anden klinik og har endnu ikke et "
                             "helt år med egne tilmeldte patienter, så tallet bygger på beregningen for den "
                             "klinik, den er udskilt fra (høringsnotatet afsnit 4.3.7).",
        "source_unknown": "Vægten er fundet efter modellens regel for denne type klinik ({source}).",
        "few_listed": "Klinikken har færre end {k} tilmeldte patienter. Tal, der bygger på så få patienter, "
                      "vises ikke, så ingen patient kan genkendes: siden viser hverken gennemsnitsvægten eller "
                      "det tal, modellen regner ud fra den. Regionen har beregningen og fastsætter klinikkens "
                      "minimumspatienttal.",
        "few_area": "Gennemsnitsvægten for området bygger på færre end {k} borgere og vises ikke, så ingen "
                    "borger kan genkendes. Regionen har beregningen og fastsætter klinikkens minimumspatienttal.",
        "weight_h": "Sådan opstår klinikkens gennemsnitlige sygdomsvægt",
        "weight_intro": "Sygdomsvægten viser, hvor meget en borger forventes at bruge almen praksis i forhold "
                        "til gennemsnitsborgeren (vægt 1). Hver patient har en grundvægt efter alder og køn og "
                        "får tillæg for sygdom og sociale forhold. Bidraget til klinikkens gennemsnit er "
                        "patienter × vægt / tilmeldte patienter. Summen af bidragene ganges til sidst med en "
                        "levetidskorrektion for patienternes bopælskommuner.",
        "group": "Alder og køn", "persons": "Patienter", "price_weight": "Vægt (prislisten)",
        "contribution": "Bidrag til gennemsnittet",
        "addon": "Tillæg", "addon_weight": "Tillæg pr. patient",
        "other": "Øvrige alders- og kønsgrupper samlet",
        "total_after": "Gennemsnitlig sygdomsvægt (efter levetidskorrektion)",
        "small_note": "For at beskytte patienterne vises en gruppe eller et tillæg med færre end {k} af "
                      "klinikkens patienter (også ingen) som «<{k}» uden bidrag; når det sker, skjules også "
                      "det næstmindste tillæg («x»), små alders- og kønsgrupper slås sammen med den næstmindste "
                      "gruppe, og vægten vises med 2 decimaler, så de skjulte tal ikke kan regnes ud af resten "
                      "af siden.",
        "no_profile": "Fordelingen af klinikkens patienter på grupper er ikke med i denne kørsel af modellen.",
        "compare_h": "Sammenligning", "here": "Klinikken", "muni": "Kommunen ({name})", "country": "Hele landet",
        "cmp_weight": "Gennemsnitlig sygdomsvægt", "cmp_min": "Minimumspatienttal pr. kapacitet (median)",
        "island": "Klinikken er en ø-lægepraksis med færre end {n} tilmeldte patienter; dens kapacitet "
                  "tælles ikke med i sundhedsrådets udmøntede kapacitet.",
        "legal_h": "Hvad tallet betyder",
        "legal_guidance": "Beregningen er vejledende. Det er regionen, der fastsætter klinikkens "
                          "minimumspatienttal, og regionen kan tage hensyn til lokale forhold og klinikkens "
                          "egne forhold og kan sætte et loft over minimumspatienttallet (bekendtgørelse nr. 975 "
                          "af 30. juni 2025; høringsnotatet afsnit 4.3.3 og 4.3.6).",
        "legal_complaint": "Regionens fastsættelse er en afgørelse, som klinikken kan klage over. Regionen "
                           "oplyser klinikken om, hvordan den klager: frem til 2027 klager klinikken til sin "
                           "region, fra 2027 til det nye praksisklagenævn (høringsnotatet afsnit 4.3.5).",
        "legal_30_days": "Et hævet minimumspatienttal får tidligst virkning 30 dage efter, at regionen har "
                         "givet klinikken besked om det og om de beregninger, det bygger på (høringsnotatet "
                         "afsnit 4.3.2).",
        "footer": "Beregnet på data fra {year} med den åbne fordelingsmodel. Høringsnotatet er Indenrigs- og "
                  "Sundhedsministeriets notat om høringen over bekendtgørelse nr. 975 af 30. juni 2025.",
        "male": "mænd", "female": "kvinder", "age": "alle", "aged": "{sex} {age} år",
        "form_solo": "solopraksis", "form_partnership": "kompagniskabspraksis",
        "form_collaboration": "samarbejdspraksis", "form_regional": "regionsklinik", "form_tender": "udbudsklinik",
    },
    "en": {
        "other_lang": "Dansk version",
        "title": "Minimum patient number of clinic {clinic}",
        "intro": "This page shows how the clinic's minimum patient number for {planning_year} is calculated "
                 "under the national distribution model (executive order BEK nr. 975 of 30 June 2025). "
                 "The calculation uses data on the clinic's listed patients in health-insurance group 1 in {year}.",
        "facts": "The clinic", "name": "Name", "provider": "Provider number", "municipality": "Municipality",
        "health_council": "Health council",
        "practice_form": "Practice form", "capacities": "Capacities", "listed": "Listed patients (group 1)",
        "formula_h": "The calculation",
        "formula": "Capacities × {cpc} / mean disease weight = minimum patient number",
        "approx": "about", "rounded": "Rounded to the nearest {step}",
        "unrounded_note": "The number is calculated with the unrounded weight; the weight is shown here with "
                          "{d} decimals.",
        "cap_note": "The region has set an upper limit (cap) of {cap} on minimum patient numbers (memo section 4.3.6).",
        "cap_binds": "The cap is used: the model's number of {uncapped} is lowered to {cap}.",
        "cap_not_binding": "The cap does not change the clinic's number.",
        "mean_weight": "Mean disease weight of the clinic's patients",
        "case_h": "Which rule applies",
        "source_own_patients": "The clinic's own patients: the weight is the mean over the clinic's own listed "
                               "patients in {year}.",
        "source_municipality": "A clinic with no listed patients: the clinic had no listed patients in {year}, "
                               "so its number uses the need of its area, the mean weight of the citizens of its "
                               "municipality ({muni}) (memo section 4.3.7).",
        "source_split_from": "A split clinic: the clinic was split from another clinic and has no full year of "
                             "its own listed patients yet, so its number uses the calculation of the clinic it "
                             "was split from (memo section 4.3.7).",
        "source_unknown": "The weight comes from the model's rule for this kind of clinic ({source}).",
        "few_listed": "The clinic has fewer than {k} listed patients. Figures resting on so few patients are not "
                      "shown, so that no patient can be recognised: this page shows neither their mean weight "
                      "nor the number the model calculates from it. The region has the calculation and sets "
                      "the clinic's minimum patient number.",
        "few_area": "The mean weight of the area rests on fewer than {k} citizens and is not shown, so that no "
                    "citizen can be recognised. The region has the calculation and sets the clinic's minimum "
                    "patient number.",
        "weight_h": "How the clinic's mean disease weight comes about",
        "weight_intro": "The disease weight says how much a citizen is expected to use general practice "
                        "relative to the average citizen (weight 1). Each patient has a base weight for age "
                        "and sex plus add-ons for disease and social circumstances. The contribution to the "
                        "clinic's mean is patients × weight / listed patients. The sum of the contributions is "
                        "finally multiplied by a life-expectancy correction for the patients' home municipalities.",
        "group": "Age and sex", "persons": "Patients", "price_weight": "Weight (price list)",
        "contribution": "Contribution to the mean",
        "addon": "Add-on", "addon_weight": "Add-on per patient",
        "other": "Other age and sex groups together",
        "total_after": "Mean disease weight (after the life-expectancy correction)",
        "small_note": "To protect patients, a group or add-on with fewer than {k} of the clinic's patients "
                      "(including none) is shown as “<{k}” without its contribution; when that happens the next "
                      "smallest add-on is hidden too (“x”), small age and sex groups are pooled with the next "
                      "smallest group, and the weight is shown with 2 decimals, so that the hidden numbers "
                      "cannot be worked out from the rest of the page.",
        "no_profile": "The breakdown of the clinic's patients by group is not part of this model run.",
        "compare_h": "Comparison", "here": "The clinic", "muni": "The municipality ({name})", "country": "Denmark",
        "cmp_weight": "Mean disease weight", "cmp_min": "Minimum patient number per capacity (median)",
        "island": "The clinic is an island practice with fewer than {n} listed patients; its capacity is "
                  "not counted in the health council's allocated capacity.",
        "legal_h": "What the number means",
        "legal_guidance": "The calculation is guidance. The region sets the clinic's minimum patient number; it "
                          "may take local and clinic-specific circumstances into account and may set an upper "
                          "limit on minimum patient numbers (executive order BEK nr. 975 of 30 June 2025; memo "
                          "sections 4.3.3 and 4.3.6).",
        "legal_complaint": "The region's decision can be appealed. The region tells the clinic how to complain: "
                           "until 2027 to the region itself, from 2027 to the new practice complaints board "
                           "(praksisklagenævn) (memo section 4.3.5).",
        "legal_30_days": "A raised minimum patient number takes effect no earlier than 30 days after the region "
                         "has told the clinic about it and about the calculations behind it (memo section 4.3.2).",
        "footer": "Calculated on data from {year} with the open distribution model. \"Memo\" is the Ministry of "
                  "the Interior and Health's consultation memo (høringsnotat) on executive order BEK nr. 975 "
                  "of 30 June 2025.",
        "male": "men", "female": "women", "age": "everyone", "aged": "{sex} aged {age}",
        "form_solo": "solo practice", "form_partnership": "partnership practice",
        "form_collaboration": "collaborative practice", "form_regional": "regional clinic", "form_tender": "tender clinic",
    },
}

_TERM_DA = {
    "origin_menapt": "Indvandrer eller efterkommer fra MENAPT-land",
    "widowed_divorced": "Enke(mand) eller fraskilt",
    "single": "Ugift",
    "labour_temporarily_outside": "Midlertidigt uden for arbejdsmarkedet (16-67 år)",
    "labour_permanently_outside": "Varigt uden for arbejdsmarkedet (16-67 år)",
    "psychiatric": "Udvalgt psykisk sygdom (inkl. demens)",
    "psychiatric_extended": "Psykisk sygdom, udvidet afgrænsning",
    "cancer_5y": "Kræft inden for 5 år",
    "cancer_10y": "Kræft inden for 10 år",
}


def _term_label(term: str, lang: str) -> str:
    if lang == "da":
        if term in _TERM_DA:
            return _TERM_DA[term]
        m = re.match(r"^somatic_(\d+)(plus|-\d+)?$", term)
        if m:
            lo, rest = m.group(1), m.group(2) or ""
            n = f"{lo} eller flere" if rest == "plus" else (f"{lo}{rest}" if rest else lo)
            return f"{n} udvalgte kroniske somatiske sygdomme"
        return term.replace("_", " ")
    return describe_term(term)


@dataclass
class _SheetModel:
    """What every sheet needs from the run, computed once."""

    cfg: ModelConfig
    agesex: list[str]                      # age-sex groups in display order (reference included)
    base_weight: dict[str, float]          # age-sex group -> price-list weight (no add-ons)
    addon_weight: dict[str, float]         # add-on term -> extra weight per patient
    mean_use: float                        # national mean predicted use (DKK), the weight's denominator


def _sheet_model(t: Mapping[str, Any]) -> _SheetModel:
    from model.core.features import age_sex_term_names, term_names

    cfg: ModelConfig = t["config"]
    pl = t["weights_by_cell"]
    row = pl.iloc[0]
    mean_use = float(row["predicted_use"] / row["normalised_weight"])
    base = _base_cells(pl)
    labels = age_sex_term_names(cfg)
    bw = {}
    for r in base.itertuples():
        key = f"{r.sex}_{r.age_band}" if cfg.include_sex else f"age_{r.age_band}"
        bw[key] = float(r.normalised_weight)
    co = t["coefficients"]
    co = co[co["variant"] == t["manifest"].get("variant", "base")].set_index("term")["estimate"]
    addons = [x for x in term_names(cfg) if x != "Intercept" and x not in set(labels)]
    order = sorted(labels, key=lambda x: (cfg.age_band_labels().index(x.split("_", 1)[1]), x))
    return _SheetModel(cfg, order, bw, {a: float(co[a]) / mean_use for a in addons if a in co.index}, mean_use)


#: Decimals of the mean disease weight on a clinic sheet (see the module docstring: disclosure control).
SHEET_WEIGHT_DECIMALS = 2


def _sheet_tables(sm: _SheetModel, counts: Mapping[str, float] | None, listed: int, lang: str) -> dict[str, Any]:
    """The sheet's weight table under disclosure control: age-sex groups, add-ons, contributions.

    In: the run's :class:`_SheetModel`, the clinic's patients per term (a
    dict, reference age-sex group included; None: no profile), its listed
    patients and the language.  Out: ``groups`` and ``addons`` (rows of
    display text: label, persons, weight, contribution) and ``masked``, the
    structure of what is hidden (for tests and the differencing attack):
    ``pooled`` (age-sex groups pooled into the "other" row), ``small``
    (add-ons shown ``<k``) and ``hidden`` (add-ons shown ``x``).

    Rules (k = ``min_cell_size``): an age-sex group of at least k patients
    is shown with its count, weight and contribution; groups of 1..k-1 are
    pooled into one row with no weight and no contribution, and while that
    pool holds fewer than k patients or a single group, the smallest shown
    group joins it (the pool is shown by its count, never under k).  An
    add-on of at least k patients is shown in full; one of fewer (zero
    included) reads ``<k`` with its weight but no contribution, and when any
    add-on reads ``<k`` the smallest add-on of at least k is hidden as ``x``
    (weight shown, count and contribution not).  No sum of the contributions
    and no life-expectancy factor are shown: with the mean weight, they
    would give away the hidden counts.  Empty rows for no profile or no
    listed patients.
    """
    k = sm.cfg.min_cell_size
    T = SHEET_TEXT[lang]
    empty = {"groups": [], "addons": [], "masked": {"pooled": [], "small": [], "hidden": [], "pool_n": 0}}
    if counts is None or listed < k:
        return empty
    n_of = {g: int(counts.get(g, 0)) for g in sm.agesex}
    shown = [g for g in sm.agesex if n_of[g] >= k]
    pooled = [g for g in sm.agesex if 0 < n_of[g] < k]
    while pooled and (sum(n_of[g] for g in pooled) < k or len(pooled) < 2) and shown:
        g = min(shown, key=lambda x: (n_of[x], sm.agesex.index(x)))
        shown.remove(g)
        pooled.append(g)
    groups = []
    for g in sm.agesex:
        if g in shown:
            w = sm.base_weight.get(g, np.nan)
            sex, age = g.split("_", 1)
            groups.append({"label": T["aged"].format(sex=T.get(sex, sex).capitalize(), age=age),
                           "persons": num(n_of[g], lang=lang), "weight": num(w, 3, lang),
                           "contribution": num(n_of[g] * w / listed, 3, lang)})
    pool_n = sum(n_of[g] for g in pooled)
    if pooled:
        groups.append({"label": T["other"], "persons": num(pool_n, lang=lang), "weight": "", "contribution": ""})
    n_add = {a: int(counts.get(a, 0)) for a in sm.addon_weight}
    small = [a for a in sm.addon_weight if n_add[a] < k]
    hidden: list[str] = []
    big = [a for a in sm.addon_weight if n_add[a] >= k]
    if small and big:
        hidden.append(min(big, key=lambda x: (n_add[x], list(sm.addon_weight).index(x))))
    addons = []
    for term, w in sm.addon_weight.items():
        n = n_add[term]
        masked = term in small or term in hidden
        addons.append({"label": _term_label(term, lang),
                       "persons": f"<{k}" if term in small else (HIDDEN if term in hidden else num(n, lang=lang)),
                       "weight": ("+" if w >= 0 else "−") + num(abs(w), 3, lang),
                       "contribution": "" if masked else num(n * w / listed, 3, lang)})
    return {"groups": groups, "addons": addons,
            "masked": {"pooled": pooled, "small": small, "hidden": hidden, "pool_n": pool_n}}


def _source_text(T: Mapping[str, str], source: str, year: int, muni: str) -> str:
    """The sentence saying which case of the rule gave the clinic's weight; neutral for an unknown case."""
    key = f"source_{source}"
    if key in T:
        return T[key].format(year=year, muni=muni)
    return T["source_unknown"].format(source=source)


def clinic_sheets(run_dir: str | Path, out_dir: str | Path | None = None, clinic: str | None = None) -> int:
    """Write one HTML page per clinic in Danish and in English; return the number of clinics.

    Files: ``<out_dir>/<clinic_id>.da.html`` and ``<clinic_id>.en.html``
    (each links to the other) and ``index.html``; default ``out_dir`` is
    ``<run_dir>/clinic_sheets``.  Each sheet shows the clinic (name when the
    run's ``clinic_minimums.csv`` carries one), the calculation (capacities
    × 1,600 / mean weight, rounded to the step, any regional cap), which
    case of the rule gave the weight (own patients, split clinic, no listed
    patients), how the mean weight comes about from its patients by age-sex
    group and add-on (from ``clinic_profiles.csv``; without that table the
    sheet says so), a comparison with its municipality and the country, and
    what the number means in law (guidance for the region, complaints, 30
    days).  Disclosure control as in the module docstring: nothing resting
    on fewer than 5 patients, no hidden count recoverable from the page.
    ``clinic`` limits the output to one clinic id (``ValueError`` if
    unknown); then the two files are added to ``out_dir``, otherwise the
    whole folder is written through a temporary folder and moved into place.
    """
    import jinja2

    from model.core.clinics import round_to_step
    from model.artifacts import AtomicFolder

    run_dir = Path(run_dir)
    t = load_run(run_dir)
    sm = _sheet_model(t)
    cfg = sm.cfg
    k = cfg.min_cell_size
    d = SHEET_WEIGHT_DECIMALS
    ct = t["clinic_minimums"]
    if clinic is not None:
        clinic = str(clinic)
        if clinic not in set(ct["clinic_id"]):
            raise ValueError(f"clinic {clinic!r} is not in {run_dir / 'clinic_minimums.csv'}")
    sel = ct if clinic is None else ct[ct["clinic_id"] == clinic]
    wide = clinic_term_shares(t)
    counts_by = {} if wide is None else wide.to_dict(orient="index")  # dicts: fast lookups per clinic
    bm = t["capacity_by_municipality"].set_index("municipality_code")
    muni_name = bm["name"].astype(str).to_dict()
    muni_w = bm.loc[bm["citizens"] >= k, "mean_weight"].dropna().to_dict()  # none resting on < k citizens
    muni_citizens = bm["citizens"].to_dict()
    # medians only over numbers shown on the clinics' own sheets: a median of one or two clinics is their number
    shown_n = ~(((ct["weight_source"] == "own_patients") & (ct["listed_patients"] > 0) & (ct["listed_patients"] < k))
                | ((ct["weight_source"] == "municipality") & (ct["municipality_code"].map(muni_citizens).fillna(0) < k)))
    with_cap = ct[(ct["capacities"] > 0) & shown_n].assign(pc=lambda d_: d_["minimum_patients"] / d_["capacities"])
    muni_median = with_cap.groupby("municipality_code")["pc"].median().to_dict()
    country_median = float(with_cap["pc"].median()) if len(with_cap) else float("nan")
    country_w = float((bm["mean_weight"] * bm["citizens"]).sum() / bm["citizens"].sum())
    has_name = "name" in ct.columns

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    tpl = env.get_template("clinic_sheet.html.j2")

    def write_all(folder: Path) -> None:
        index_rows = []
        for r in sel.itertuples(index=False):
            cid, mc = str(r.clinic_id), str(r.municipality_code)
            mname = muni_name.get(mc, mc)
            name = str(r.name) if has_name and isinstance(r.name, str) and r.name.strip() else ""
            listed = int(r.listed_patients)
            source = str(r.weight_source)
            counts = counts_by.get(cid)
            cap_digits = 0 if float(r.capacities).is_integer() else 2
            # a number resting on 1..k-1 persons is not shown: own patients, or an area of few citizens
            few = (source == "own_patients" and 0 < listed < k) or \
                  (source == "municipality" and float(muni_citizens.get(mc, 0)) < k)
            uncapped = int(round_to_step([r.minimum_patients_exact], cfg.clinic_rounding_step)[0])
            for lang in ("da", "en"):
                T = SHEET_TEXT[lang]
                tab = _sheet_tables(sm, counts, listed, lang) if source == "own_patients" else \
                    _sheet_tables(sm, None, 0, lang)
                cap_note = ""
                if cfg.clinic_cap and not few:
                    cap_note = T["cap_note"].format(cap=num(cfg.clinic_cap, lang=lang)) + " " + (
                        T["cap_binds"].format(uncapped=num(uncapped, lang=lang), cap=num(r.minimum_patients, lang=lang))
                        if uncapped > int(r.minimum_patients) else T["cap_not_binding"])
                elif cfg.clinic_cap:
                    cap_note = T["cap_note"].format(cap=num(cfg.clinic_cap, lang=lang))
                ctx = {
                    "lang": lang, "T": T, "other": "en" if lang == "da" else "da", "clinic": cid, "name": name,
                    "title": T["title"].format(clinic=cid),
                    "intro": T["intro"].format(planning_year=cfg.planning_year, year=cfg.year),
                    "municipality": mname, "health_council": r.health_council, "practice_form": T.get(f"form_{r.practice_form}", r.practice_form),
                    "capacities": num(r.capacities, cap_digits, lang),
                    "listed": num(listed, lang=lang) if (listed == 0 or listed >= k) else f"<{k}",
                    "few": (T["few_listed"] if source == "own_patients" else T["few_area"]).format(k=k) if few else "",
                    "formula": T["formula"].format(cpc=num(cfg.citizens_per_capacity, lang=lang)),
                    "calc": "" if few else
                    f"{num(r.capacities, cap_digits, lang)} × {num(cfg.citizens_per_capacity, lang=lang)} "
                    f"/ {num(r.mean_weight, d, lang)} = {T['approx']} "
                    f"{num(float(r.capacities) * cfg.citizens_per_capacity / round(float(r.mean_weight), d), lang=lang)}",
                    "unrounded_note": T["unrounded_note"].format(d=d),
                    "rounded_label": T["rounded"].format(step=num(cfg.clinic_rounding_step, lang=lang)),
                    "minimum": "" if few else num(r.minimum_patients, lang=lang),
                    "cap_note": cap_note,
                    "mean_weight": "" if few else num(r.mean_weight, d, lang),
                    "source_note": _source_text(T, source, cfg.year, mname),
                    "groups": tab["groups"], "addons": tab["addons"],
                    "has_profile": bool(tab["groups"]),
                    "no_profile": T["no_profile"] if (source == "own_patients" and listed >= k and not tab["groups"]) else "",
                    "small_note": T["small_note"].format(k=k),
                    "cmp": [
                        {"label": T["here"], "weight": "" if few else num(r.mean_weight, d, lang),
                         "min": num(r.minimum_patients / r.capacities, lang=lang) if r.capacities > 0 and not few else ""},
                        {"label": T["muni"].format(name=mname),
                         "weight": num(muni_w[mc], d, lang) if mc in muni_w else "",
                         "min": num(muni_median[mc], lang=lang) if mc in muni_median else ""},
                        {"label": T["country"], "weight": num(country_w, d, lang),
                         "min": num(country_median, lang=lang) if not math.isnan(country_median) else ""},
                    ],
                    "island": T["island"].format(n=num(cfg.island_min_patients, lang=lang))
                    if str(r.island_excluded).lower() in ("true", "1") else "",
                    "footer": T["footer"].format(year=cfg.year),
                }
                (folder / f"{cid}.{lang}.html").write_text(tpl.render(**ctx), encoding="utf-8", newline="\n")
            index_rows.append((cid, mname, str(r.health_council)))
        if clinic is None:
            idx = env.get_template("clinic_index.html.j2").render(rows=index_rows, year=cfg.year,
                                                                  planning_year=cfg.planning_year)
            (folder / "index.html").write_text(idx, encoding="utf-8", newline="\n")

    out = Path(out_dir) if out_dir is not None else run_dir / "clinic_sheets"
    if clinic is None:
        with AtomicFolder(out, inputs={"--run": run_dir}, allow_inside=(run_dir / "clinic_sheets",)) as tmp:
            write_all(tmp)
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_all(out)
    return int(len(sel))


__all__ = [
    "ASSUMPTIONS", "NotebookFailed", "ParameterError", "check_parameters", "clinic_sheets", "load_run",
    "render_report", "run_notebook", "show_table", "suppress_small", "suppress_with_complements", "to_html",
]
