"""The what-if explorer of the JupyterLab workbench (``notebooks/explore.ipynb``): change a setting, see the capacities.

Two layers:

* :class:`Explorer` -- the logic, plain methods a test (or a script) drives
  without a browser: :meth:`Explorer.set` changes the year, the variant or a
  capacity-stage setting; :meth:`Explorer.table` is the per-health-council
  table, :meth:`Explorer.summary` the national total against the political
  goal (:func:`scenario_summary`), :meth:`Explorer.clinic` one clinic's
  minimum patient number, :meth:`Explorer.save` writes the scenario as a run
  folder with its manifest (:func:`model.analyses.fit.write_run`, atomic).
* :class:`ExplorerWidgets` -- a thin ipywidgets layer: one control per
  setting, each change calls :meth:`Explorer.set` and redraws the summary,
  the table and the headroom map (:func:`model.report.maps.health_council_map`)
  in place.

Speed: a capacity-stage setting (:data:`model.core.chain.CAPACITY_STAGE_FIELDS`:
citizens per capacity, km² per capacity, rounding, island threshold, clinic
rounding step, regional cap) goes through the what-if path
(:func:`model.analyses.fit.what_if`, steps 4-6 from the fit's area sums, no
refit, tens of milliseconds at national scale). A year or a variant changes
the fit: the year is read with :func:`model.analyses.panel.read_year`
(prepared-year cache) and fitted with :func:`model.analyses.fit.run_model`;
fits of the current year are kept, so going back to a variant is instant.

Disclosure control: every table goes through
:func:`model.report.display.table_html` (counts of 1-4 persons read ``<5``,
with complements); a clinic's listed patients of 1-4 read ``<5``, and its
mean weight and minimum number are not shown when they rest on fewer than 5
persons (the rule of the clinic sheets, :mod:`model.report.clinic_sheets`).
No person-level row is ever shown.

Danish terms: *sundhedsråd* (health council), *udmøntede kapaciteter*
(allocated capacities), *minimumspatienttal* (a clinic's minimum patient
number), *ø-læger* (island doctors); see :mod:`model.config`.
"""

from __future__ import annotations

import html as html_lib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.analyses import fit as afit
from model.analyses import panel as apanel
from model.artifacts import sha256_file
from model.config import VARIANTS, ModelConfig, parse_settings
from model.core.chain import CAPACITY_STAGE_FIELDS
from model.errors import ConfigError
from model.inputs.panel import panel_years
from model.inputs.tables import INPUT_FILES

#: The capacity-stage settings the explorer has a control for (the others of CAPACITY_STAGE_FIELDS are reporting
#: settings: rounding tolerance, the goal, the disclosure threshold).
CONTROLLED_FIELDS = ("citizens_per_capacity", "km2_per_capacity", "rounding", "island_min_patients",
                     "clinic_rounding_step", "clinic_cap")

#: Column headers of :func:`council_table` (English; the Danish term once in the docstring).
COUNCIL_COLUMNS = ("Health council", "Citizens (group 1)", "Capacities (exact)", "Capacities", "Allocated",
                   "Island doctors left out", "Counted allocation", "Headroom", "May allocate new capacity")


def _flag(s: pd.Series) -> pd.Series:
    return s.astype(str).str.lower().isin(["true", "1"])


def council_table(run: afit.ModelRun) -> pd.DataFrame:
    """Per health council (*sundhedsråd*): binding capacities, allocated capacities, headroom and the flag.

    In: a :class:`~model.analyses.fit.ModelRun` (from ``run_model`` or
    ``what_if``).  Out: one row per council, columns :data:`COUNCIL_COLUMNS`:
    citizens of insurance group 1 (a count: masked when shown), the exact and
    rounded capacities, the allocated capacities (*udmøntede kapaciteter*),
    island doctors' capacities left out (*ø-læger* under the threshold), the
    counted allocation, headroom = capacities - counted allocation, and
    whether the council may allocate new capacity (headroom > 0).  Unmasked:
    show it with :func:`model.report.display.table_html`.
    """
    hc = run.tables["capacity_by_health_council"]
    citizens = run.tables["capacity_by_municipality"].groupby("health_council")["citizens"].sum()
    return pd.DataFrame({
        "Health council": hc["health_council"],
        "Citizens (group 1)": citizens.reindex(hc["health_council"]).fillna(0).astype(np.int64).to_numpy(),
        "Capacities (exact)": hc["capacities_exact"].astype(float),
        "Capacities": hc["capacities"].astype(np.int64),
        "Allocated": hc["allocated"].astype(float),
        "Island doctors left out": hc["island_excluded"].astype(float),
        "Counted allocation": hc["counted_allocation"].astype(float),
        "Headroom": hc["headroom"].astype(float),
        "May allocate new capacity": np.where(_flag(hc["may_allocate_new"]), "yes", "no"),
    }).reset_index(drop=True)


def scenario_summary(run: afit.ModelRun) -> dict[str, Any]:
    """The national figures of a scenario against the political goal of at least 5,000 GPs (§4.2.1).

    In: a :class:`~model.analyses.fit.ModelRun`.  Out: a dict with
    ``year``, ``planning_year``, ``variant``, ``citizens`` (insurance group 1;
    the text ``"<5"`` below the disclosure threshold), ``capacities`` (sum of
    the councils' binding capacities), ``capacities_exact``, ``allocated``,
    ``counted_allocation``, ``headroom``, ``councils``,
    ``councils_may_allocate`` (councils with headroom > 0), ``goal``
    (``national_goal_gps``), ``capacities_minus_goal``, ``share_of_goal``
    and ``settings`` (the capacity-stage settings of the run).
    """
    cfg = run.config
    hc = run.tables["capacity_by_health_council"]
    citizens = int(run.tables["capacity_by_municipality"]["citizens"].sum())
    capacities = int(hc["capacities"].sum())
    return {
        "year": cfg.year, "planning_year": cfg.planning_year, "variant": run.variant,
        "citizens": citizens if (citizens == 0 or citizens >= cfg.min_cell_size) else f"<{cfg.min_cell_size}",
        "capacities": capacities, "capacities_exact": float(hc["capacities_exact"].sum()),
        "allocated": float(hc["allocated"].sum()), "counted_allocation": float(hc["counted_allocation"].sum()),
        "headroom": float(hc["headroom"].sum()), "councils": int(len(hc)),
        "councils_may_allocate": int(_flag(hc["may_allocate_new"]).sum()),
        "goal": int(cfg.national_goal_gps), "capacities_minus_goal": capacities - int(cfg.national_goal_gps),
        "share_of_goal": capacities / cfg.national_goal_gps,
        "settings": {f: getattr(cfg, f) for f in CAPACITY_STAGE_FIELDS},
    }


def clinic_facts(run: afit.ModelRun, clinic_id: str) -> dict[str, Any]:
    """One clinic's minimum patient number (*minimumspatienttal*) in the run, under disclosure control.

    In: the run and a clinic id (*ydernummer*).  Out: ``clinic``, ``name``,
    ``municipality_code``, ``health_council``, ``practice_form``,
    ``capacities``, ``listed_patients`` (``"<5"`` for 1-4), ``weight_source``,
    ``mean_weight`` and ``minimum_patients`` (None when they rest on fewer
    than ``min_cell_size`` persons: own patients 1-4, or a clinic without
    patients in a municipality of fewer than 5 citizens), ``hidden`` (True
    then) and ``island_excluded``.  Raises :class:`ConfigError` for an
    unknown clinic.
    """
    k = run.config.min_cell_size
    ct = run.tables["clinic_minimums"]
    row = ct[ct["clinic_id"].astype(str) == str(clinic_id)]
    if row.empty:
        raise ConfigError(f"clinic {clinic_id!r} is not in this run's clinics")
    r = row.iloc[0]
    listed, source = int(r["listed_patients"]), str(r["weight_source"])
    bm = run.tables["capacity_by_municipality"].set_index("municipality_code")
    area_citizens = float(bm["citizens"].get(str(r["municipality_code"]), 0))
    hidden = (source == "own_patients" and 0 < listed < k) or (source == "municipality" and area_citizens < k)
    name = r.get("name")
    return {
        "clinic": str(r["clinic_id"]), "name": name if isinstance(name, str) and name.strip() else "",
        "municipality_code": str(r["municipality_code"]), "health_council": str(r["health_council"]),
        "practice_form": str(r["practice_form"]), "capacities": float(r["capacities"]),
        "listed_patients": listed if (listed == 0 or listed >= k) else f"<{k}", "weight_source": source,
        "mean_weight": None if hidden else float(r["mean_weight"]),
        "minimum_patients": None if hidden else int(r["minimum_patients"]),
        "hidden": hidden, "island_excluded": bool(_flag(pd.Series([r["island_excluded"]])).iloc[0]),
    }


@dataclass
class Explorer:
    """A scenario of the model, changed one setting at a time.

    In: the data folder, the year (default the latest in the data), the
    variant (a name of :data:`model.config.VARIANTS`) and ``settings`` (text
    or mapping as the notebooks' ``settings`` parameter, ``FIELD=VALUE``;
    capacity-stage fields start the what-if changes, other fields change the
    fit of every variant).  ``cache``: use the prepared-year cache.
    Construction reads and fits the year (the slow step: seconds at
    national scale, less with the year cached).

    State: ``run`` (the current :class:`~model.analyses.fit.ModelRun`),
    ``changes`` (capacity-stage settings changed from the variant's
    configuration), ``timings`` (seconds of the last :meth:`set`, by step).
    """

    data_dir: str | Path
    year: int | None = None
    variant: str = "base"
    settings: Any = ""
    cache: bool = True
    run: afit.ModelRun = field(init=False, repr=False)
    changes: dict[str, Any] = field(init=False, default_factory=dict)
    timings: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.years = panel_years(self.data_dir / "persons.parquet")
        parsed = parse_settings(self.settings)
        self.fit_settings = {k: v for k, v in parsed.items() if k not in CAPACITY_STAGE_FIELDS}
        initial = {k: v for k, v in parsed.items() if k in CAPACITY_STAGE_FIELDS}
        self._yd = None
        self._fits: dict[tuple[int, str], afit.ModelRun] = {}
        self._hashes: dict[str, str] | None = None
        year, self.year = (max(self.years) if self.year is None else int(self.year)), None
        variant, self.variant = self.variant, ""
        self.set(year=year, variant=variant, **initial)

    # --- the configuration ----------------------------------------------------------------
    def variant_config(self, year: int, variant: str) -> ModelConfig:
        """The fit's configuration of ``year`` and ``variant``: planning year ``year + 1``, the fit settings last."""
        return (ModelConfig().replace(year=int(year), planning_year=int(year) + 1).variant(variant)
                .replace(**self.fit_settings))

    @property
    def config(self) -> ModelConfig:
        """The current scenario's full configuration (what :meth:`save` records)."""
        return self.run.config

    # --- changing the scenario --------------------------------------------------------------
    def set(self, **changes: Any) -> afit.ModelRun:
        """Change the scenario; return the new run.

        In: any of ``year``, ``variant`` and the fields of
        :data:`~model.core.chain.CAPACITY_STAGE_FIELDS` (``km2_per_capacity=None``:
        no area floor; ``clinic_cap=None``: no cap).  A year or variant not
        fitted yet is read and fitted; the capacity-stage settings are
        applied by :func:`model.analyses.fit.what_if` to the fit (never a
        refit).  An invalid value or another field raises
        :class:`~model.errors.ConfigError` and leaves the scenario as it was.
        """
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        year = int(changes.pop("year", self.year))
        variant = str(changes.pop("variant", self.variant))
        other = sorted(set(changes) - set(CAPACITY_STAGE_FIELDS))
        if other:
            raise ConfigError(f"the explorer changes year, variant and {', '.join(CAPACITY_STAGE_FIELDS)}; "
                              f"{', '.join(other)} change(s) the fit: give them in settings (or choose a variant)")
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        if year not in self.years:
            raise ConfigError(f"no persons for {year} in {self.data_dir}; years present: {self.years}")
        wanted = {**self.changes, **changes}
        self.variant_config(year, variant).replace(**wanted)  # validate before any slow work
        base = self._fit(year, variant, timings)
        t1 = time.perf_counter()
        run = afit.what_if(base, **wanted) if wanted else base
        timings["what_if"] = round(time.perf_counter() - t1, 4)
        self.year, self.variant, self.changes, self.run = year, variant, wanted, run
        timings["total"] = round(time.perf_counter() - t0, 4)
        self.timings = timings
        return run

    def reset(self) -> afit.ModelRun:
        """Drop every capacity-stage change: the variant's own settings again."""
        self.changes = {}
        return self.set()

    def _fit(self, year: int, variant: str, timings: dict[str, float]) -> afit.ModelRun:
        """The fit of ``(year, variant)`` with the variant's own capacity settings; kept for the current year."""
        if (year, variant) in self._fits:
            return self._fits[(year, variant)]
        t0 = time.perf_counter()
        if self._yd is None or self._yd.year != year:
            self._fits.clear()  # one year in memory at a time (a national year is large)
            self._yd = None
            self._yd = apanel.read_year(self.data_dir, year, cache=self.cache, planning_year=year + 1)
            timings["read_year"] = round(time.perf_counter() - t0, 4)
        t1 = time.perf_counter()
        run = afit.run_model(self._yd, self.variant_config(year, variant), variant=variant)
        timings["fit"] = round(time.perf_counter() - t1, 4)
        self._fits[(year, variant)] = run
        return run

    # --- what is shown -------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The per-health-council table of the current scenario (:func:`council_table`; unmasked, show with
        :meth:`table_html`)."""
        return council_table(self.run)

    def table_html(self) -> str:
        """The table as HTML under disclosure control (counts of 1-4 read ``<5``, complements ``x``)."""
        from model.report.display import table_html

        cfg = self.config
        caption = (f"Capacities per health council, {cfg.planning_year} (fit {cfg.year}, variant {self.variant}); "
                   f"headroom = capacities - counted allocation")
        return table_html(self.table(), caption, k=cfg.min_cell_size,
                          digits={"Capacities (exact)": 1, "Allocated": 1, "Island doctors left out": 1,
                                  "Counted allocation": 1, "Headroom": 1})

    def summary(self) -> dict[str, Any]:
        """:func:`scenario_summary` of the current scenario."""
        return scenario_summary(self.run)

    def clinic_ids(self) -> list[str]:
        """The clinics of the current year, sorted (the picker's options)."""
        return sorted(self.run.tables["clinic_minimums"]["clinic_id"].astype(str))

    def clinic(self, clinic_id: str) -> dict[str, Any]:
        """:func:`clinic_facts` of one clinic in the current scenario."""
        return clinic_facts(self.run, clinic_id)

    def figure(self, ax=None):
        """The headroom map: capacities - counted allocation per health council, councils that may not allocate
        new capacity hatched.  Out: the axes (:func:`model.report.maps.health_council_map`)."""
        from model.report.maps import health_council_map

        hc = self.run.tables["capacity_by_health_council"]
        head = pd.Series(hc["headroom"].to_numpy(dtype=float), index=hc["health_council"].astype(str))
        may = pd.Series(_flag(hc["may_allocate_new"]).to_numpy(), index=head.index)
        return health_council_map(head, ax=ax, cmap="RdBu", center=0.0, label="headroom (capacities)",
                                  title=f"Headroom per health council, {self.config.planning_year}",
                                  hatch_where=~may, hatch_label="May not allocate new capacity")

    def show(self) -> None:
        """Display the scenario as still output: the national line, the table (masked) and the headroom map."""
        from IPython.display import HTML, display

        from model.report.figures import show_figure

        display(HTML(summary_html(self.summary())))
        display(HTML(self.table_html()))
        show_figure(self.figure().figure)

    # --- writing ---------------------------------------------------------------------------
    def input_hashes(self) -> dict[str, str]:
        """sha256 of the data folder's input files (computed once per explorer; the manifest's ``inputs``)."""
        if self._hashes is None:
            self._hashes = {f: sha256_file(self.data_dir / f) for f in INPUT_FILES}
        return self._hashes

    def save(self, path: str | Path) -> Path:
        """Write the current scenario as a run folder (atomically) and return its path.

        The folder is that of ``python -m model fit`` (:func:`model.analyses.fit.write_run`:
        the output tables, fit summaries, ``constants.json`` and
        ``manifest.json`` with the full configuration, input hashes,
        versions and commit); the manifest's ``explorer`` entry records the
        data folder, year, variant, fit settings, the capacity-stage changes
        and :func:`scenario_summary`.  Person-level data is never written.
        """

        class _Inputs:
            files = self.input_hashes()

        extra = {"notebook": "explore.ipynb", "explorer": {
            "data_dir": str(self.data_dir), "year": self.year, "variant": self.variant,
            "fit_settings": {k: list(v) if isinstance(v, tuple) else v for k, v in self.fit_settings.items()},
            "changes": dict(self.changes), "summary": self.summary()}}
        return afit.write_run(self.run, path, _Inputs(), extra=extra)

    def clinic_sheet(self, clinic_id: str, folder: str | Path) -> Path:
        """Save the scenario to ``folder`` (:meth:`save`) and render one clinic's sheet there; return the English page.

        The sheet is :func:`model.report.clinic_sheets.clinic_sheets` for that
        clinic: ``<folder>/clinic_sheets/<clinic>.en.html`` (and ``.da.html``).
        """
        from model.report.clinic_sheets import clinic_sheets

        self.clinic(clinic_id)  # an unknown clinic stops here, before anything is written
        self.save(folder)
        clinic_sheets(folder, clinic=str(clinic_id))
        return Path(folder) / "clinic_sheets" / f"{clinic_id}.en.html"


# ===========================================================================
# the widget layer


def _png(fig) -> bytes:
    """The figure as PNG bytes for the widget, drawn once (no tight bounding box: the map's size is fixed), closed."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _num(v: float, digits: int = 0) -> str:
    """A number with separators; a whole number without decimals (3,740, not 3,740.0)."""
    from model.report.display import num

    return num(v, 0 if float(v).is_integer() else digits)


def summary_html(s: dict[str, Any]) -> str:
    """The national line of :func:`scenario_summary` as HTML: capacities against the goal."""
    gap = s["capacities_minus_goal"]
    word = "above" if gap > 0 else "below" if gap < 0 else "at"
    citizens = s["citizens"] if isinstance(s["citizens"], str) else _num(s["citizens"])
    return (f"<p><b>{s['planning_year']}</b> (fit {s['year']}, variant <code>{html_lib.escape(s['variant'])}</code>): "
            f"<b>{_num(s['capacities'])}</b> capacities nationally for {citizens} citizens "
            f"(exact {_num(s['capacities_exact'], 1)}); the goal is at least <b>{_num(s['goal'])}</b> GPs: "
            f"{_num(abs(gap))} {word} it ({s['share_of_goal']:.0%} of the goal). Allocated "
            f"{_num(s['allocated'], 1)}, counted {_num(s['counted_allocation'], 1)}, headroom "
            f"{_num(s['headroom'], 1)}; {s['councils_may_allocate']} of {s['councils']} health councils may "
            f"allocate new capacity.</p>")


def clinic_html(c: dict[str, Any], cpc: float, step: int) -> str:
    """One clinic's facts (:func:`clinic_facts`) as HTML, the minimum patient number first."""
    name = f" ({html_lib.escape(c['name'])})" if c["name"] else ""
    listed = c["listed_patients"] if isinstance(c["listed_patients"], str) else _num(c["listed_patients"])
    if c["hidden"]:
        minimum = ("<i>not shown: it rests on fewer than 5 persons; the region has the calculation</i>")
    else:
        minimum = (f"<b>{_num(c['minimum_patients'])}</b> = {_num(c['capacities'], 2)} × {_num(cpc)} / "
                   f"{c['mean_weight']:.2f}, rounded to {_num(step)}")
    island = "; an island clinic under the threshold, left out of the counted allocation" if c["island_excluded"] else ""
    return (f"<p>Clinic <b>{html_lib.escape(c['clinic'])}</b>{name}, {html_lib.escape(c['health_council'])}, "
            f"{html_lib.escape(c['practice_form'])}{island}: listed patients {listed}, minimum patient number "
            f"{minimum}.</p>")


class ExplorerWidgets:
    """The controls and outputs of the explorer (ipywidgets), wired to an :class:`Explorer`.

    In: the explorer and the folder scenarios are saved under
    (``notebooks/explore.ipynb``: ``../runs/explore``).  ``controls``: the
    widgets by field name (``year``, ``variant`` and
    :data:`CONTROLLED_FIELDS`; ``km2_per_capacity`` and ``clinic_cap`` have a
    check box ``no_area_floor`` / ``no_clinic_cap`` for None).  Outputs,
    updated in place on every change: ``summary`` and ``table`` (HTML),
    ``map`` (PNG image), ``clinic_info``, ``status``.  Setting a control's
    ``.value`` from kernel code does what moving it in the browser does.
    Display the object (or ``.box``) to show it.
    """

    def __init__(self, explorer: Explorer, scenario_dir: str | Path = "../runs/explore"):
        import ipywidgets as w

        self.explorer, self.scenario_dir = explorer, Path(scenario_dir)
        cfg = explorer.config
        wide = {"style": {"description_width": "170px"}, "layout": w.Layout(width="460px")}
        # a slider beside its checkbox: the two share the column's 460 px (no squeezed slider)
        beside = {"style": {"description_width": "170px"}, "layout": w.Layout(width="330px", min_width="330px")}
        box_layout = w.Layout(width="130px", min_width="130px")
        self.controls: dict[str, Any] = {
            "year": w.Dropdown(options=explorer.years, value=explorer.year, description="Fit year", **wide),
            "variant": w.Dropdown(options=[(f"{k}: {v['label']}", k) for k, v in VARIANTS.items()],
                                  value=explorer.variant, description="Variant", **wide),
            "citizens_per_capacity": w.FloatSlider(value=cfg.citizens_per_capacity, min=1000, max=2500, step=25,
                                                   description="Citizens per capacity", continuous_update=False,
                                                   readout_format=",.0f", **wide),
            "km2_per_capacity": w.FloatSlider(value=cfg.km2_per_capacity or 35.0, min=5, max=150, step=1,
                                              description="km² per capacity", continuous_update=False,
                                              disabled=cfg.km2_per_capacity is None, **beside),
            "no_area_floor": w.Checkbox(value=cfg.km2_per_capacity is None, description="No area floor",
                                        indent=False, layout=box_layout),
            "rounding": w.ToggleButtons(options=["up", "nearest"], value=cfg.rounding, description="Rounding",
                                        style={"description_width": "170px"}),
            "island_min_patients": w.IntSlider(value=cfg.island_min_patients, min=0, max=2000, step=50,
                                               description="Island threshold", continuous_update=False, **wide),
            "clinic_rounding_step": w.Dropdown(options=[1, 10, 25, 50, 100, 200], value=cfg.clinic_rounding_step,
                                               description="Clinic rounding step", **wide),
            "clinic_cap": w.IntSlider(value=int(cfg.clinic_cap or 2500), min=500, max=5000, step=50,
                                      description="Regional clinic cap", continuous_update=False,
                                      disabled=cfg.clinic_cap is None, **beside),
            "no_clinic_cap": w.Checkbox(value=cfg.clinic_cap is None, description="No cap", indent=False,
                                        layout=box_layout),
        }
        self.summary, self.table, self.status = w.HTML(), w.HTML(), w.HTML()
        self.map = w.Image(format="png", layout=w.Layout(width="560px"))
        ids = explorer.clinic_ids()
        self.clinic = w.Combobox(options=ids, value=ids[0] if ids else "", placeholder="clinic id",
                                 description="Clinic", ensure_option=True, **wide)
        self.clinic_info, self.sheet_link = w.HTML(), w.HTML()
        self.sheet_button = w.Button(description="Clinic sheet", tooltip="save the scenario and render the sheet")
        self.name = w.Text(value="scenario", description="Scenario name", **beside)
        self.save_button = w.Button(description="Save scenario", button_style="primary")
        self._quiet = False  # True while the controls are set back to the explorer's state (no events then)
        for name, c in self.controls.items():
            c.observe(lambda ch, n=name: None if self._quiet else self._changed(n, ch["new"]), names="value")
        self.clinic.observe(lambda ch: self._show_clinic(), names="value")
        self.sheet_button.on_click(lambda _b: self.render_sheet())
        self.save_button.on_click(lambda _b: self.save())
        c = self.controls
        column = w.Layout(min_width="470px", margin="0 12px 0 0")  # the two columns wrap rather than squeeze
        self.box = w.VBox([
            w.HBox(layout=w.Layout(flex_flow="row wrap"), children=[w.VBox([c["year"], c["variant"], c["citizens_per_capacity"],
                            w.HBox([c["km2_per_capacity"], c["no_area_floor"]]), c["rounding"]], layout=column),
                    w.VBox([c["island_min_patients"], c["clinic_rounding_step"],
                            w.HBox([c["clinic_cap"], c["no_clinic_cap"]]),
                            w.HBox([self.name, self.save_button])], layout=column)]),
            self.status, self.summary, self.map, self.table,
            w.HBox([self.clinic, self.sheet_button]), self.clinic_info, self.sheet_link,
        ])
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    # --- events ------------------------------------------------------------------------
    def _value(self, name: str, value: Any) -> dict[str, Any]:
        c = self.controls
        if name in ("km2_per_capacity", "no_area_floor"):
            c["km2_per_capacity"].disabled = c["no_area_floor"].value
            return {"km2_per_capacity": None if c["no_area_floor"].value else float(c["km2_per_capacity"].value)}
        if name in ("clinic_cap", "no_clinic_cap"):
            c["clinic_cap"].disabled = c["no_clinic_cap"].value
            return {"clinic_cap": None if c["no_clinic_cap"].value else float(c["clinic_cap"].value)}
        if name == "citizens_per_capacity":
            return {name: float(value)}
        return {name: value}

    def _changed(self, name: str, value: Any) -> None:
        """A control moved: :meth:`Explorer.set`, then redraw; an error shows in the status line."""
        try:
            if name in ("year", "variant"):
                self.status.value = f"<p><i>Fitting {html_lib.escape(str(value))} ...</i></p>"
            self.explorer.set(**self._value(name, value))
        except Exception as e:  # shown, not raised: the widgets stay usable
            self.sync_controls()
            self.status.value = f"<p style='color:#a00'>{html_lib.escape(type(e).__name__)}: {html_lib.escape(str(e))}</p>"
            return
        if name == "year":
            ids = self.explorer.clinic_ids()
            keep = self.clinic.value if self.clinic.value in ids else (ids[0] if ids else "")
            self.clinic.options = ids
            self.clinic.value = keep
        self.refresh()

    def sync_controls(self) -> None:
        """Set every control to the explorer's current scenario without triggering a change (after a refused one)."""
        ex, c = self.explorer, self.controls
        cfg = ex.config
        self._quiet = True
        try:
            c["year"].value, c["variant"].value = ex.year, ex.variant
            c["citizens_per_capacity"].value = cfg.citizens_per_capacity
            c["no_area_floor"].value = cfg.km2_per_capacity is None
            c["km2_per_capacity"].disabled = cfg.km2_per_capacity is None
            if cfg.km2_per_capacity is not None:
                c["km2_per_capacity"].value = cfg.km2_per_capacity
            c["rounding"].value, c["island_min_patients"].value = cfg.rounding, cfg.island_min_patients
            c["clinic_rounding_step"].value = cfg.clinic_rounding_step
            c["no_clinic_cap"].value = cfg.clinic_cap is None
            c["clinic_cap"].disabled = cfg.clinic_cap is None
            if cfg.clinic_cap is not None:
                c["clinic_cap"].value = int(cfg.clinic_cap)
        finally:
            self._quiet = False

    def refresh(self) -> None:
        """Redraw the summary, the table, the map and the clinic from the explorer's current run."""
        t0 = time.perf_counter()
        ex = self.explorer
        self.summary.value = summary_html(ex.summary())
        self.table.value = ex.table_html()
        self.map.value = _png(ex.figure().figure)
        self._show_clinic()
        ex.timings["redraw"] = round(time.perf_counter() - t0, 4)
        steps = ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in ex.timings.items())
        changed = ", ".join(f"{k}={v}" for k, v in ex.changes.items()) or "none"
        self.status.value = f"<p style='color:#555'>Changed settings: {html_lib.escape(changed)}. ({steps})</p>"

    def _show_clinic(self) -> None:
        cid = self.clinic.value
        if not cid:
            self.clinic_info.value = ""
            return
        cfg = self.explorer.config
        try:
            self.clinic_info.value = clinic_html(self.explorer.clinic(cid), cfg.citizens_per_capacity,
                                                 cfg.clinic_rounding_step)
        except ConfigError as e:
            self.clinic_info.value = f"<p>{html_lib.escape(str(e))}</p>"

    def render_sheet(self) -> Path | None:
        """The picked clinic's sheet: the scenario saved to ``<scenario_dir>/current``, the sheet rendered there;
        a link to it and the page itself are shown."""
        cid = self.clinic.value
        if not cid:
            return None
        path = self.explorer.clinic_sheet(cid, self.scenario_dir / "current")
        page = path.read_text(encoding="utf-8")
        try:  # relative to the notebook's folder: JupyterLab opens such a link in a tab of its own
            href = Path(os.path.relpath(path)).as_posix()
        except ValueError:
            href = path.as_posix()
        self.sheet_link.value = (f"<p>Clinic sheet: <a href='{html_lib.escape(href)}' target='_blank'>"
                                 f"{html_lib.escape(str(path))}</a></p><iframe srcdoc=\"{html_lib.escape(page)}\" "
                                 f"style='width:100%;height:520px;border:1px solid #ccc'></iframe>")
        return path

    def save(self) -> Path:
        """Save the scenario to ``<scenario_dir>/<name>``; the status line says where."""
        name = "".join(ch for ch in self.name.value.strip() if ch.isalnum() or ch in "-_.") or "scenario"
        t0 = time.perf_counter()
        path = self.explorer.save(self.scenario_dir / name)
        self.explorer.timings["save"] = round(time.perf_counter() - t0, 4)
        self.status.value = (f"<p>Saved to <code>{html_lib.escape(str(path))}</code> "
                             f"({(time.perf_counter() - t0):.1f} s).</p>")
        return path
