"""The publication gate (model.analyses.release_gate, ``python -m model check-release``): a clean run passes,
a planted negative coefficient, a planted decreasing disease step and a planted sign flip fail and block, the
previous year refitted on the current code sits beside its stored fit, and the command line exits 1 when blocked."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from model.analyses.fit import run_model, write_run
from model.analyses.panel import read_year
from model.analyses.release_gate import CHECK_COLUMNS, check_release, read_run, render_gate
from model.cli import main
from model.config import RELEASE_CHECKS, ModelConfig
from model.errors import EXIT_VALIDATION, ConfigError


@pytest.fixture(scope="module")
def runs(panel_dir, tmp_path_factory):
    """Run folders of the small panel's 2024 and 2025 fits (written as the fit verb writes them)."""
    root = tmp_path_factory.mktemp("gate")
    out = {}
    for y in (2024, 2025):
        yd = read_year(panel_dir, y, hashes=True)
        out[y] = write_run(run_model(yd, ModelConfig(year=y, planning_year=y + 1)), root / f"fit_{y}", yd)
    return out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit_coefficients(run_dir, **estimates):
    p = run_dir / "coefficients.csv"
    c = pd.read_csv(p)
    for term, v in estimates.items():
        c.loc[(c["variant"] == "base") & (c["term"] == term), "estimate"] = v
    c.to_csv(p, index=False)


def test_a_clean_run_passes(runs, panel_dir):
    gate = check_release(runs[2025], runs[2024], panel_dir)
    c = gate.checks
    assert list(c.columns) == list(CHECK_COLUMNS)
    assert set(c["check"]) == set(RELEASE_CHECKS)  # every check ran, none was skipped
    assert not gate.blocked, render_gate(gate)
    assert (c.loc[c["check"] != "capacity_moves", "status"] == "pass").all(), render_gate(gate)
    assert "may be released" in gate.text().splitlines()[0]


def test_a_planted_negative_coefficient_fails(runs, tmp_path):
    bad = _copy(runs[2025], tmp_path / "bad")
    _edit_coefficients(bad, psychiatric=-120.0)
    gate = check_release(bad)
    row = gate.checks[(gate.checks["check"] == "negative_coefficient") & (gate.checks["status"] == "fail")]
    assert len(row) == 1 and row["item"].iloc[0] == "psychiatric" and row["blocking"].iloc[0] == "yes"
    assert row["value"].iloc[0] == -120.0 and "psychiatric has estimate -120 DKK" in row["message"].iloc[0]
    assert gate.blocked and "BLOCKED" in gate.text()
    # checks that need a previous run say they did not run: never a silent pass
    skipped = gate.checks[gate.checks["check"].isin(["sign_flip", "capacity_moves", "refit_previous"])]
    assert (skipped["status"] == "warn").all() and skipped["message"].str.startswith("not run").all()


def test_a_decreasing_disease_step_fails(runs, tmp_path):
    bad = _copy(runs[2025], tmp_path / "steps")
    s2 = read_run(runs[2025])["coefficients"].set_index("term").at["somatic_2", "estimate"]
    _edit_coefficients(bad, somatic_3plus=s2 - 100.0)
    c = check_release(bad).checks
    row = c[(c["check"] == "disease_steps") & (c["status"] == "fail")]
    assert row["item"].tolist() == ["somatic_3plus"]
    assert row["reference"].iloc[0] == pytest.approx(s2) and "lowers predicted use by 100 DKK" in row["message"].iloc[0]


def test_a_planted_sign_flip_against_the_previous_year_fails(runs, tmp_path):
    prev = read_run(runs[2024])["coefficients"].set_index("term")
    new = read_run(runs[2025])["coefficients"].set_index("term")
    # the most significant term in both years that is no positive-use term (so only the sign-flip check sees it)
    cand = [t for t in new.index if t != "Intercept" and not t.startswith(("somatic_", "psychiatric", "cancer_", "labour_"))]
    term = max(cand, key=lambda t: min(abs(new.at[t, "t"]), abs(prev.at[t, "t"])))
    assert new.at[term, "p"] < 0.05 and prev.at[term, "p"] < 0.05
    bad = _copy(runs[2025], tmp_path / "flip")
    _edit_coefficients(bad, **{term: -new.at[term, "estimate"]})
    gate = check_release(bad, runs[2024])
    row = gate.checks[(gate.checks["check"] == "sign_flip") & (gate.checks["status"] == "fail")]
    assert row["item"].tolist() == [term] and gate.blocked
    assert row["reference"].iloc[0] == pytest.approx(prev.at[term, "estimate"])
    assert "2024" in row["message"].iloc[0]
    # a threshold changed from the command line: alpha so small no term counts as significant
    assert not check_release(bad, runs[2024], settings=["release_alpha=1e-300"]).blocked


def test_the_previous_fit_refitted_on_this_code_sits_beside_it(runs, panel_dir, tmp_path):
    gate = check_release(runs[2025], runs[2024], panel_dir)
    t = gate.tables["refit_previous"]
    assert list(t.columns) == ["term", "stored", "refitted", "difference", "tolerance", "differs"]
    assert not t["differs"].any() and np.allclose(t["stored"], t["refitted"])
    # a code change shows as a difference: the stored 2024 fit was made by "other code" (planted)
    old = _copy(runs[2024], tmp_path / "old_code")
    _edit_coefficients(old, widowed_divorced=read_run(runs[2024])["coefficients"].set_index("term")
                       .at["widowed_divorced", "estimate"] + 7.0)
    gate = check_release(runs[2025], old, panel_dir)
    row = gate.checks[gate.checks["check"] == "refit_previous"]
    assert row["item"].tolist() == ["widowed_divorced"] and row["status"].tolist() == ["warn"]
    assert "so the code explains it" in row["message"].iloc[0]  # the inputs are those the run recorded
    assert gate.tables["refit_previous"].set_index("term").at["widowed_divorced", "difference"] == pytest.approx(-7.0)
    # made blocking by configuration
    assert check_release(runs[2025], old, panel_dir,
                         settings={"release_blocking_checks": ("refit_previous",)}).blocked


def test_the_gate_takes_only_its_own_thresholds(runs):
    with pytest.raises(ConfigError, match="release_"):
        check_release(runs[2025], settings=["citizens_per_capacity=1500"])


def test_command_line_exit_codes(runs, tmp_path, capsys):
    assert main(["check-release", "--run", str(runs[2025]), "--previous", str(runs[2024]),
                 "--out", str(tmp_path / "gate")]) == 0
    assert (tmp_path / "gate" / "checks.csv").is_file() and (tmp_path / "gate" / "manifest.json").is_file()
    bad = _copy(runs[2025], tmp_path / "bad")
    _edit_coefficients(bad, cancer_5y=-1.0)
    assert main(["check-release", "--run", str(bad)]) == EXIT_VALIDATION == 1
    out = capsys.readouterr().out
    assert "FAIL* negative_coefficient" in out and "cancer_5y" in out
