"""Model settings from the command line (issue 15): ``--set FIELD=VALUE`` on every verb that runs the model.

Typed and checked by :class:`model.config.ModelConfig` (:func:`model.config.parse_settings`), recorded in the
manifest, passed to every notebook of the report chain.  The fits run on the shipped example folder
(``examples/small``: 3,000 synthetic citizens), a few seconds each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from model import cli
from model.config import ModelConfig, parse_settings, settings_text
from model.errors import ConfigError
from model.report import annual

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "small"


def test_settings_are_typed_by_field():
    s = parse_settings(["citizens_per_capacity=1500", "km2_per_capacity=none", "include_sex=false",
                        "age_bands=0,5,25,65", "origin_terms=menapt,western", "rounding=nearest",
                        "clinic_rounding_step=100"])
    assert s == {"citizens_per_capacity": 1500.0, "km2_per_capacity": None, "include_sex": False,
                 "age_bands": (0, 5, 25, 65), "origin_terms": ("menapt", "western"), "rounding": "nearest",
                 "clinic_rounding_step": 100}
    assert isinstance(s["clinic_rounding_step"], int) and isinstance(s["citizens_per_capacity"], float)
    # one text with semicolons, as a notebook's settings parameter takes it, and back
    assert parse_settings(settings_text(s)) == s
    c = ModelConfig().with_settings("citizens_per_capacity=1500; rounding=nearest")
    assert (c.citizens_per_capacity, c.rounding, c.km2_per_capacity) == (1500.0, "nearest", 35.0)


@pytest.mark.parametrize("item, message", [
    ("citizen_per_capacity=1500", "unknown setting 'citizen_per_capacity' (did you mean 'citizens_per_capacity'?)"),
    ("citizens_per_capacity=many", "setting citizens_per_capacity='many': not a value of type float"),
    ("clinic_rounding_step=50.5", "not a value of type int"),
    ("include_sex=perhaps", "not a value of type bool"),
    ("rounding=sideways", "rounding must be 'up' or 'nearest'"),
    ("citizens_per_capacity=-1", "citizens_per_capacity must be > 0"),
    ("year=2024", "have their own options"),
    ("citizens_per_capacity", "write FIELD=VALUE"),
])
def test_a_bad_setting_is_refused_with_what_is_wrong(item, message):
    with pytest.raises(ConfigError) as e:
        ModelConfig().with_settings([item])
    assert message in str(e.value)
    if "unknown" in message:  # the known fields are listed
        assert "citizens_per_capacity, km2_per_capacity, rounding" in str(e.value)


def _fit(out: Path, *extra: str) -> int:
    return cli.main(["fit", "--data", str(EXAMPLE), "--out", str(out), "--no-validate", *extra])


def test_fit_set_changes_the_capacities_and_the_manifest_shows_it(tmp_path, capsys):
    assert _fit(tmp_path / "base") == 0
    assert _fit(tmp_path / "set", "--set", "citizens_per_capacity=1500", "--set", "clinic_rounding_step=100") == 0
    out = capsys.readouterr().out
    base = pd.read_csv(tmp_path / "base" / "capacity_by_health_council.csv")
    new = pd.read_csv(tmp_path / "set" / "capacity_by_health_council.csv")
    # 1,500 instead of 1,600 citizens per capacity: about 16/15 the capacities (before rounding up per council)
    ratio = new["capacities"].sum() / base["capacities"].sum()
    assert 1.05 < ratio < 1.08, ratio
    assert "3,809 capacities" in out and "4,0" in out  # the printed totals of the two fits
    m = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))
    assert m["settings"] == {"citizens_per_capacity": 1500.0, "clinic_rounding_step": 100}
    assert m["config"]["citizens_per_capacity"] == 1500.0 and m["config"]["clinic_rounding_step"] == 100
    mins = pd.read_csv(tmp_path / "set" / "clinic_minimums.csv")
    assert (mins["minimum_patients"] % 100 == 0).all()
    assert json.loads((tmp_path / "base" / "manifest.json").read_text(encoding="utf-8"))["settings"] == {}


def test_a_misspelt_setting_stops_before_anything_is_written(tmp_path, capsys):
    rc = _fit(tmp_path / "run", "--set", "citizen_per_capacity=1500")
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp_path / "run").exists()
    assert err.startswith("error: unknown setting 'citizen_per_capacity' (did you mean 'citizens_per_capacity'?)")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("verb", ["fit", "stability", "sensitivity", "clinic-sheets", "report", "evaluate"])
def test_every_verb_that_runs_the_model_takes_set(verb):
    a = cli.build_parser().parse_args([verb, "--set", "rounding=nearest", "--set", "clinic_cap=2000",
                                       *(["--run", "r"] if verb == "clinic-sheets" else ["--data", "d"]),
                                       *(["--out", "o"] if verb in ("fit", "stability", "sensitivity") else [])])
    assert a.settings == ["rounding=nearest", "clinic_cap=2000"]
    assert cli._settings(a) == {"rounding": "nearest", "clinic_cap": 2000.0}


def test_clinic_sheets_present_a_run_with_its_settings(tmp_path, capsys):
    assert _fit(tmp_path / "run", "--set", "clinic_rounding_step=100") == 0
    capsys.readouterr()
    rc = cli.main(["clinic-sheets", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "s1"),
                   "--set", "clinic_rounding_step=50"])
    err = capsys.readouterr().err
    assert rc == 2 and "was computed with other settings (clinic_rounding_step is 100, not 50)" in err
    assert "--set clinic_rounding_step=50" in err  # what to run instead
    rc = cli.main(["clinic-sheets", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "s2"), "--clinic",
                   str(pd.read_csv(tmp_path / "run" / "clinic_minimums.csv", dtype=str)["clinic_id"].iloc[0]),
                   "--set", "clinic_rounding_step=100"])
    assert rc == 0, capsys.readouterr().err


def test_report_passes_the_settings_to_every_notebook(tmp_path):
    settings = parse_settings(["citizens_per_capacity=1500", "rounding=nearest"])
    params = annual.chain_parameters(2025, tmp_path, "", settings=settings)
    assert set(params) == {*annual.ANALYSIS_NOTEBOOKS, annual.REPORT_NOTEBOOK}
    for p in params.values():
        assert p["settings"] == "citizens_per_capacity=1500.0; rounding=nearest"
    from model.report import notebooks as rnb

    for name, p in params.items():  # every notebook knows the parameter
        rnb.check_notebook_parameters(ROOT / "notebooks" / name, p)


# ``report --set`` reaching every notebook, the manifest and the analyses: tests/report/test_publication.py
# (its render is made with --set from the command line)
