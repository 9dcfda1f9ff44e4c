"""The what-if path (model.analyses.fit.what_if, model.core.chain.what_if): capacity-stage settings changed after
a fit give the same tables as a full run with those settings, without a refit."""

from __future__ import annotations

import pytest

from model.analyses.fit import WHAT_IF_TABLES, run_model, what_if
from model.analyses.panel import read_year
from model.config import ModelConfig
from model.errors import ConfigError


@pytest.fixture(scope="module")
def base(panel_dir):
    yd = read_year(panel_dir, 2025)
    return yd, run_model(yd, ModelConfig(year=2025))


@pytest.mark.parametrize("changes", [
    {"citizens_per_capacity": 1500.0},
    {"km2_per_capacity": None, "rounding": "nearest"},
    {"island_min_patients": 300, "clinic_rounding_step": 100, "clinic_cap": 1200.0},
])
def test_what_if_equals_a_full_run(base, changes):
    yd, run = base
    w = what_if(run, **changes)
    full = run_model(yd, ModelConfig(year=2025).replace(**changes))
    assert w.config == full.config
    for name in full.tables:
        assert w.tables[name].equals(full.tables[name]), name
    if "citizens_per_capacity" in changes:  # fewer citizens per capacity: more capacities
        assert w.tables["capacity_by_health_council"]["capacities"].sum() > \
            run.tables["capacity_by_health_council"]["capacities"].sum()
    assert set(WHAT_IF_TABLES) <= set(w.tables)


def test_what_if_refuses_settings_that_change_the_weights(base):
    _, run = base
    with pytest.raises(ConfigError, match="need a refit"):
        what_if(run, life_expectancy_correction=False)
    with pytest.raises(ConfigError):
        what_if(run, citizens_per_capacity=-5)
