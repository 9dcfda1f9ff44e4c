"""The publication gate: checks on a new year's fit before it is released (``python -m model check-release``).

docs/method.md, "Before a model year is released".  In: the run folder of
the new fit (``python -m model fit``), optionally the previous year's run
folder and the data folder.  Out: :class:`ReleaseGate`, a tidy table of
checks (one row per check that passed, one per offending term, cell, band or
health council otherwise) with the columns

``check``, ``item`` (the offending term/cell/council; empty for a pass),
``status`` (pass / warn / fail), ``blocking`` (yes / no), ``value``,
``reference`` (the number it is held against: the previous year, the
previous step, ...), ``threshold`` and ``message`` (the term and its numbers
in words).

The checks (:data:`model.config.RELEASE_CHECKS`; every threshold a field of
:class:`~model.config.ModelConfig`, read from the run's own configuration):

* ``negative_coefficient`` -- a characteristic that can only add use
  (``release_positive_terms``: diseases, outside the labour market) has a
  negative estimate;
* ``cell_use`` -- a populated cell of the price list has fitted use below 0
  or above ``release_max_cell_multiple`` x the national mean (an unpopulated
  cell below 0 only warns: no citizen carries it);
* ``disease_steps`` -- a step of the chronic somatic disease count goes down:
  a disease-count coefficient below 0 (its weight relative to 0-1 diseases
  below 1) or below the step before it;
* ``age_profile`` -- the age(-by-sex) coefficients are jagged: a second
  difference across adjacent age bands beyond ``release_age_jag_share`` x
  the national mean predicted use;
* ``sign_flip`` -- a coefficient significant at ``release_alpha`` in both
  years changed sign against the previous year's run;
* ``capacity_moves`` -- a health council's capacities moved more than
  ``release_capacity_move_share`` from the previous year (information);
* ``refit_previous`` -- the previous year refitted on the current code
  (:func:`model.analyses.fit.run_model` on ``--data``) beside the previous
  run's stored coefficients: a difference shows that the code (or the data)
  changed since; the coefficients side by side are in
  ``ReleaseGate.tables["refit_previous"]``.

A check named in ``release_blocking_checks`` fails (status ``fail``,
blocking ``yes``) when it finds a problem; the others warn.  A check that
cannot run (no previous run, the data lack the previous year) warns with the
reason.  :func:`render_gate` shows the table as text; the command line exits
with code 1 when a blocking check failed (:data:`model.errors.EXIT_VALIDATION`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses.fit import run_model
from model.analyses.panel import read_year
from model.artifacts import AtomicFolder, git_commit, package_versions, sha256_file, write_csv
from model.config import RELEASE_CHECKS, ModelConfig, parse_settings
from model.core import features as ft
from model.errors import ConfigError, InputError
from model.inputs.panel import panel_years
from model.inputs.tables import INPUT_FILES

#: Columns of the checks table.
CHECK_COLUMNS = ("check", "item", "status", "blocking", "value", "reference", "threshold", "message")
#: The run-folder tables the gate reads.
RUN_TABLES = ("coefficients", "weights_by_cell", "capacity_by_health_council")


@dataclass
class ReleaseGate:
    """Result of :func:`check_release`: the checks table, extra tables (``refit_previous``) and the run's year."""

    checks: pd.DataFrame
    year: int
    previous_year: int | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """True when a blocking check failed: the year may not be released."""
        return bool(((self.checks["status"] == "fail") & (self.checks["blocking"] == "yes")).any())

    def text(self) -> str:
        return render_gate(self)


# =============================================================================
# Reading run folders
# =============================================================================


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """The tables the gate reads from a fit's run folder, with ``manifest``, ``config`` and ``variant``.

    ``coefficients`` holds only the run's own variant (the folder also holds
    its counterpart with/without regional and tender clinics).
    """
    d = Path(run_dir)
    m = d / "manifest.json"
    if not m.is_file():
        raise FileNotFoundError(f"{d} is not a run folder (no manifest.json); write one with `python -m model fit`")
    manifest = json.loads(m.read_text(encoding="utf-8"))
    if manifest.get("command") != "fit":
        raise InputError(f"{d} is not a fit's run folder (its manifest says {manifest.get('command')!r})")
    missing = [t for t in RUN_TABLES if not (d / f"{t}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{d}: missing {', '.join(t + '.csv' for t in missing)}")
    out: dict[str, Any] = {t: pd.read_csv(d / f"{t}.csv", encoding="utf-8") for t in RUN_TABLES}
    variant = manifest.get("variant", "base")
    c = out["coefficients"]
    out["coefficients"] = c[c["variant"] == variant].reset_index(drop=True) if "variant" in c.columns else c
    out["manifest"], out["variant"] = manifest, variant
    out["config"] = ModelConfig.from_dict(manifest["config"])
    return out


def _mean_use(weights_by_cell: pd.DataFrame) -> float:
    """The national mean predicted use (DKK): predicted use / normalised weight of the price list."""
    w = weights_by_cell[weights_by_cell["normalised_weight"].abs() > 0]
    return float((w["predicted_use"] / w["normalised_weight"]).median())


def _row(check: str, problem: bool, config: ModelConfig, *, item: str = "", value: float = np.nan,
         reference: float = np.nan, threshold: float | str = "", message: str = "", warn_only: bool = False
         ) -> dict[str, Any]:
    blocking = problem and check in config.release_blocking_checks and not warn_only
    status = "pass" if not problem else ("fail" if blocking else "warn")
    return {"check": check, "item": item, "status": status, "blocking": "yes" if blocking else "no", "value": value,
            "reference": reference, "threshold": str(threshold), "message": message}


def _fmt(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


# =============================================================================
# The checks on the new fit alone
# =============================================================================


def check_negative_coefficients(coefs: pd.DataFrame, config: ModelConfig) -> list[dict[str, Any]]:
    """``negative_coefficient``: a term of ``release_positive_terms`` (prefixes) with a negative estimate."""
    est = coefs.set_index("term")["estimate"]
    terms = [t for t in est.index if t != "Intercept" and any(t.startswith(p) for p in config.release_positive_terms)]
    bad = [t for t in terms if est[t] < 0]
    rows = [_row("negative_coefficient", True, config, item=t, value=float(est[t]), threshold=">= 0",
                 message=f"{t} has estimate {_fmt(est[t])} DKK: a characteristic that can only add use lowers "
                         "predicted use") for t in bad]
    return rows or [_row("negative_coefficient", False, config, value=float(est[terms].min()) if terms else np.nan,
                         threshold=">= 0", message=f"all {len(terms)} positive-use terms have estimates >= 0")]


def _describe_cell(r: pd.Series) -> str:
    parts = [f"{r.get('sex', '')} {r.get('age_band', '')}".strip()]
    if str(r.get("origin", "other")) != "other":
        parts.append(str(r["origin"]))
    if str(r.get("civil_status", "no")) != "no":
        parts.append(str(r["civil_status"]))
    if str(r.get("labour", "-")) != "-":
        parts.append(f"labour {r['labour']}")
    parts.append(f"somatic {r.get('somatic_diseases', '')}")
    for c in ("psychiatric", "cancer"):
        if str(r.get(c, False)) in ("True", "true", "1"):
            parts.append(c)
    return ", ".join(parts)


def check_cell_use(weights_by_cell: pd.DataFrame, config: ModelConfig) -> list[dict[str, Any]]:
    """``cell_use``: populated cells with fitted use below 0 or above ``release_max_cell_multiple`` x the mean;
    unpopulated cells of the price list below 0 warn."""
    w = weights_by_cell
    mean = _mean_use(w)
    k = config.release_max_cell_multiple
    rows = []
    populated = w["persons"] > 0
    for _, r in w[populated & (w["predicted_use"] < 0)].iterrows():
        rows.append(_row("cell_use", True, config, item=f"cell {int(r['cell'])}", value=float(r["predicted_use"]),
                         reference=mean, threshold=">= 0",
                         message=f"cell {int(r['cell'])} ({_describe_cell(r)}; {int(r['persons']):,} persons) has "
                                 f"fitted use {_fmt(r['predicted_use'])} DKK, below 0"))
    for _, r in w[populated & (w["normalised_weight"] > k)].iterrows():
        rows.append(_row("cell_use", True, config, item=f"cell {int(r['cell'])}", value=float(r["predicted_use"]),
                         reference=mean, threshold=f"<= {k:g} x mean",
                         message=f"cell {int(r['cell'])} ({_describe_cell(r)}; {int(r['persons']):,} persons) has "
                                 f"fitted use {_fmt(r['predicted_use'])} DKK, {r['normalised_weight']:.1f} x the "
                                 f"national mean {_fmt(mean)} DKK (limit {k:g} x)"))
    empty_neg = w[~populated & (w["predicted_use"] < 0)]
    if len(empty_neg):
        r = empty_neg.loc[empty_neg["predicted_use"].idxmin()]
        rows.append(_row("cell_use", True, config, item=f"{len(empty_neg)} unpopulated cell(s)",
                         value=float(r["predicted_use"]), reference=mean, threshold=">= 0", warn_only=True,
                         message=f"{len(empty_neg)} price-list cell(s) no citizen carries have fitted use below 0; "
                                 f"lowest cell {int(r['cell'])} ({_describe_cell(r)}) {_fmt(r['predicted_use'])} DKK"))
    if not rows:
        p = w[populated]
        rows.append(_row("cell_use", False, config, value=float(p["normalised_weight"].max()), reference=mean,
                         threshold=f"0 .. {k:g} x mean",
                         message=f"{len(p):,} populated cells: fitted use {_fmt(p['predicted_use'].min())} to "
                                 f"{_fmt(p['predicted_use'].max())} DKK ({p['normalised_weight'].max():.2f} x the mean)"))
    return rows


def check_disease_steps(coefs: pd.DataFrame, config: ModelConfig) -> list[dict[str, Any]]:
    """``disease_steps``: each chronic somatic disease-count term must be >= 0 (relative weight of the count
    against 0-1 diseases at least 1) and >= the term of the count below it (the steps never go down)."""
    est = coefs.set_index("term")["estimate"]
    intercept = float(est.get("Intercept", np.nan))
    names = [n for n in ft.somatic_term_names(config) if n in est.index]
    rows, prev_name, prev = [], f"0-{config.somatic_bins[0] - 1} diseases (reference)", 0.0
    for n in names:
        b = float(est[n])
        rel = (intercept + b) / intercept if intercept else np.nan
        if b < 0:
            rows.append(_row("disease_steps", True, config, item=n, value=b, reference=0.0, threshold=">= 0",
                             message=f"{n} has estimate {_fmt(b)} DKK: at the reference cell its weight relative "
                                     f"to {config.somatic_bins[0] - 1 and f'0-{config.somatic_bins[0] - 1}' or '0'} "
                                     f"diseases is {rel:.3f}, below 1"))
        elif b < prev:
            rows.append(_row("disease_steps", True, config, item=n, value=b, reference=prev,
                             threshold=f">= {prev_name}",
                             message=f"{n} ({_fmt(b)} DKK) is below {prev_name} ({_fmt(prev)} DKK): one more "
                                     f"disease lowers predicted use by {_fmt(prev - b)} DKK"))
        prev_name, prev = n, b
    return rows or [_row("disease_steps", False, config, value=float(est[names].min()) if names else np.nan,
                         threshold="non-decreasing, >= 0",
                         message="disease-count steps rise: " + ", ".join(f"{n} {_fmt(est[n])}" for n in names))]


def check_age_profile(coefs: pd.DataFrame, weights_by_cell: pd.DataFrame, config: ModelConfig) -> list[dict[str, Any]]:
    """``age_profile``: per sex, the second difference b[j-1] - 2 b[j] + b[j+1] of the age-band coefficients
    (the reference band at 0) beyond ``release_age_jag_share`` x the national mean predicted use."""
    est = coefs.set_index("term")["estimate"]
    ref = ft.reference_term(config)
    names = ft.age_sex_term_names(config)
    nb = len(config.age_bands)
    limit = config.release_age_jag_share * _mean_use(weights_by_cell)
    rows, worst = [], 0.0
    for s in range(len(names) // nb):
        band = names[s * nb:(s + 1) * nb]
        b = np.array([0.0 if t == ref else float(est.get(t, np.nan)) for t in band])
        d2 = b[:-2] - 2 * b[1:-1] + b[2:]
        for j, v in enumerate(d2, start=1):
            if not np.isfinite(v):
                continue
            worst = max(worst, abs(v))
            if abs(v) > limit:
                rows.append(_row("age_profile", True, config, item=band[j], value=float(v), threshold=f"|.| <= {_fmt(limit)}",
                                 message=f"{band[j]} ({_fmt(b[j])} DKK) between {band[j - 1]} ({_fmt(b[j - 1])}) and "
                                         f"{band[j + 1]} ({_fmt(b[j + 1])}): second difference {_fmt(v)} DKK beyond "
                                         f"{_fmt(limit)} ({config.release_age_jag_share:g} x mean use)"))
    return rows or [_row("age_profile", False, config, value=worst, threshold=f"|.| <= {_fmt(limit)}",
                         message=f"largest second difference across age bands {_fmt(worst)} DKK")]


# =============================================================================
# The checks against the previous year
# =============================================================================


def check_sign_flips(coefs: pd.DataFrame, previous: pd.DataFrame, config: ModelConfig, previous_year: int
                     ) -> list[dict[str, Any]]:
    """``sign_flip``: terms significant at ``release_alpha`` in both years whose estimates have opposite signs."""
    a = coefs.set_index("term")
    b = previous.set_index("term")
    both = [t for t in a.index if t in b.index and t != "Intercept"]
    alpha = config.release_alpha
    sig = [t for t in both if a.at[t, "p"] < alpha and b.at[t, "p"] < alpha]
    flips = [t for t in sig if np.sign(a.at[t, "estimate"]) != np.sign(b.at[t, "estimate"])]
    rows = [_row("sign_flip", True, config, item=t, value=float(a.at[t, "estimate"]), reference=float(b.at[t, "estimate"]),
                 threshold=f"same sign where p < {alpha:g} both years",
                 message=f"{t}: {_fmt(a.at[t, 'estimate'])} DKK (p {a.at[t, 'p']:.2g}) against "
                         f"{_fmt(b.at[t, 'estimate'])} DKK in {previous_year} (p {b.at[t, 'p']:.2g})")
            for t in flips]
    return rows or [_row("sign_flip", False, config, value=float(len(sig)), threshold=f"p < {alpha:g} both years",
                         message=f"no sign flip among {len(sig)} of {len(both)} terms significant in both years")]


def check_capacity_moves(hc: pd.DataFrame, previous: pd.DataFrame, config: ModelConfig, previous_year: int
                         ) -> list[dict[str, Any]]:
    """``capacity_moves`` (information): health councils whose capacities moved more than
    ``release_capacity_move_share`` from the previous year's run."""
    a = hc.set_index("health_council")["capacities"].astype(float)
    b = previous.set_index("health_council")["capacities"].astype(float).reindex(a.index)
    share = (a - b) / b
    lim = config.release_capacity_move_share
    rows = [_row("capacity_moves", True, config, item=str(h), value=float(a[h]), reference=float(b[h]),
                 threshold=f"|change| <= {lim:.0%}",
                 message=f"{h}: {int(a[h]):,} capacities against {int(b[h]):,} in {previous_year} ({share[h]:+.1%})")
            for h in share.index if np.isfinite(share[h]) and abs(share[h]) > lim]
    new = [h for h in a.index if not np.isfinite(b[h])]
    rows += [_row("capacity_moves", True, config, item=str(h), value=float(a[h]), threshold="present both years",
                  message=f"{h} has no capacities in the {previous_year} run") for h in new]
    if rows:
        return rows
    m = share.abs().max()
    return [_row("capacity_moves", False, config, value=float(m), threshold=f"|change| <= {lim:.0%}",
                 message=f"largest move {m:.1%} ({share.abs().idxmax()}); {int(a.sum()):,} capacities against "
                         f"{int(b.sum()):,} in {previous_year}")]


def refit_previous(previous: dict[str, Any], data_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The previous year refitted on the current code beside its stored coefficients.

    In: the previous run (:func:`read_run`) and a data folder holding its year.
    Out: (table term, stored, refitted, difference, tolerance, differs; facts:
    which input files differ from those the previous run recorded).  The fit
    is :func:`model.analyses.fit.run_model` with the previous run's own
    configuration and variant, on the data read as the ``fit`` verb reads them.
    """
    cfg: ModelConfig = previous["config"]
    yd = read_year(data_dir, cfg.year, insurance_group=cfg.insurance_group, hashes=True, planning_year=cfg.planning_year)
    run = run_model(yd, cfg, variant=previous["variant"])
    new = run.tables["coefficients"]
    new = new[new["variant"] == previous["variant"]].set_index("term")["estimate"]
    old = previous["coefficients"].set_index("term")["estimate"]
    terms = list(dict.fromkeys(list(old.index) + list(new.index)))
    t = pd.DataFrame({"term": terms, "stored": old.reindex(terms).to_numpy(), "refitted": new.reindex(terms).to_numpy()})
    t["difference"] = t["refitted"] - t["stored"]
    t["tolerance"] = cfg.release_refit_tolerance * np.maximum(1.0, t["stored"].abs())
    t["differs"] = ~(t["difference"].abs() <= t["tolerance"])  # a term missing on one side differs
    stored_inputs = previous["manifest"].get("inputs", {}) or {}
    changed = sorted(f for f in INPUT_FILES if f in stored_inputs and yd.files.get(f) and yd.files[f] != stored_inputs[f])
    return t, {"inputs_changed": changed, "inputs_compared": sorted(f for f in INPUT_FILES if f in stored_inputs)}


def check_refit(table: pd.DataFrame, facts: dict[str, Any], config: ModelConfig, previous_year: int
                ) -> list[dict[str, Any]]:
    """``refit_previous``: a row per coefficient that differs between the stored and the refitted previous fit."""
    d = table[table["differs"]]
    data_note = (f"; the input file(s) {', '.join(facts['inputs_changed'])} differ from those the {previous_year} run "
                 "recorded, so data may explain it" if facts["inputs_changed"] else
                 f"; the inputs are those the {previous_year} run recorded ({', '.join(facts['inputs_compared'])}), "
                 "so the code explains it" if facts["inputs_compared"] else "")
    rows = [_row("refit_previous", True, config, item=r.term, value=float(r.refitted), reference=float(r.stored),
                 threshold=f"|difference| <= {config.release_refit_tolerance:g} x max(1, |estimate|)",
                 message=f"{r.term}: refitted {_fmt(r.refitted, 2)} against stored {_fmt(r.stored, 2)} DKK "
                         f"({r.difference:+,.4g}){data_note}")
            for r in d.itertuples()]
    return rows or [_row("refit_previous", False, config, value=float(table["difference"].abs().max()),
                         threshold=f"|difference| <= {config.release_refit_tolerance:g} x max(1, |estimate|)",
                         message=f"the {previous_year} fit refitted on this code matches its {len(table)} stored "
                                 f"coefficients (largest difference {table['difference'].abs().max():.3g} DKK)")]


def _not_run(check: str, why: str) -> dict[str, Any]:
    return {"check": check, "item": "", "status": "warn", "blocking": "no", "value": np.nan, "reference": np.nan,
            "threshold": "", "message": f"not run: {why}"}


# =============================================================================
# The gate
# =============================================================================


def gate_config(run_config: ModelConfig, settings: Any = None) -> ModelConfig:
    """The run's configuration with gate thresholds changed by ``settings`` (only ``release_*`` fields:
    the gate cannot change how the run was computed)."""
    s = parse_settings(settings)
    other = sorted(k for k in s if not k.startswith("release_"))
    if other:
        raise ConfigError(f"check-release takes only the gate's thresholds (release_*), not {', '.join(other)}: "
                          "those change the fit (fit again with them)")
    return run_config.replace(**s)


def check_release(run_dir: str | Path, previous_dir: str | Path | None = None, data_dir: str | Path | None = None,
                  settings: Any = None, previous_fitted_now: bool = False) -> ReleaseGate:
    """Run every check of the gate on the fit in ``run_dir``; return :class:`ReleaseGate`.

    ``previous_dir``: the previous year's run folder (sign flips, capacity
    moves, the refit); ``data_dir``: a data folder holding the previous year
    (the refit on the current code); ``settings``: gate thresholds to change
    (``release_*`` fields).  Checks that cannot run warn, never pass.
    ``previous_fitted_now``: the previous run was fitted moments ago by this
    code from this data (a report's render that computed it): it is its own
    refit, and the refit passes without fitting it a second time.
    """
    run = read_run(run_dir)
    config = gate_config(run["config"], settings)
    rows: list[dict[str, Any]] = []
    rows += check_negative_coefficients(run["coefficients"], config)
    rows += check_cell_use(run["weights_by_cell"], config)
    rows += check_disease_steps(run["coefficients"], config)
    rows += check_age_profile(run["coefficients"], run["weights_by_cell"], config)
    tables: dict[str, pd.DataFrame] = {}
    prev_year = None
    if previous_dir is None:
        for c in ("sign_flip", "capacity_moves", "refit_previous"):
            rows.append(_not_run(c, "no previous run (--previous)"))
    else:
        prev = read_run(previous_dir)
        prev_year = prev["config"].year
        if prev_year >= config.year:
            raise InputError(f"--previous {previous_dir} holds a fit of {prev_year}, not of a year before {config.year}")
        rows += check_sign_flips(run["coefficients"], prev["coefficients"], config, prev_year)
        rows += check_capacity_moves(run["capacity_by_health_council"], prev["capacity_by_health_council"], config,
                                     prev_year)
        if previous_fitted_now:
            rows.append(_row("refit_previous", False, config, message=f"the {prev_year} fit was computed for this "
                             "report by this code from the same data folder: it is its own refit"))
        elif data_dir is None:
            rows.append(_not_run("refit_previous", "no data folder (--data) to refit the previous year on"))
        elif prev_year not in panel_years(Path(data_dir) / "persons.parquet"):
            rows.append(_not_run("refit_previous", f"the data folder holds no persons of {prev_year}"))
        else:
            t, facts = refit_previous(prev, data_dir)
            tables["refit_previous"] = t
            rows += check_refit(t, facts, config, prev_year)
    checks = pd.DataFrame(rows, columns=list(CHECK_COLUMNS))
    order = {c: i for i, c in enumerate(RELEASE_CHECKS)}
    checks = checks.sort_values("check", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return ReleaseGate(checks=checks, year=config.year, previous_year=prev_year, tables=tables)


def render_gate(gate: ReleaseGate, width: int = 110) -> str:
    """The gate as text: a verdict line, then one line per check row (status, check, item, message)."""
    c = gate.checks
    n_fail = int((c["status"] == "fail").sum())
    n_warn = int((c["status"] == "warn").sum())
    against = f" against {gate.previous_year}" if gate.previous_year else ""
    verdict = ("BLOCKED: a blocking check failed; do not release" if gate.blocked
               else "may be released" + (" (read the warnings)" if n_warn else ""))
    lines = [f"release gate {gate.year}{against}: {verdict}. "
             f"{int((c['status'] == 'pass').sum())} pass, {n_warn} warn, {n_fail} fail"]
    for r in c.itertuples():
        mark = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}[r.status] + ("*" if r.blocking == "yes" else " ")
        head = f"  {mark} {r.check:<20} "
        text = (f"[{r.item}] " if r.item else "") + r.message
        lines.append(head + (text if len(head) + len(text) <= width + 200 else text[: width + 200 - len(head)] + "..."))
    if gate.blocked:
        lines.append("  (FAIL* = a blocking check failed: the release stops here; exit code 1)")
    return "\n".join(lines)


def write_gate(gate: ReleaseGate, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``checks.csv`` (and ``refit_previous.csv`` when the refit ran), ``gate.txt`` and ``manifest.json``
    to the folder ``out`` atomically (:class:`model.artifacts.AtomicFolder`)."""
    with AtomicFolder(Path(out)) as tmp:
        write_csv(gate.checks, tmp / "checks.csv")
        for name, t in gate.tables.items():
            write_csv(t, tmp / f"{name}.csv")
        (tmp / "gate.txt").write_text(render_gate(gate) + "\n", encoding="utf-8")
        manifest = {"command": "check-release", "year": gate.year, "previous_year": gate.previous_year,
                    "blocked": gate.blocked, "versions": package_versions(), "commit": git_commit(), **(extra or {})}
        manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
    return Path(out)
