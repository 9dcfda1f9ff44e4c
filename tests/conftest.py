"""Fixtures shared by the test folders: small synthetic data folders, each generated once per test session.

The tests are laid out as the package is: ``tests/core``, ``tests/inputs``, ``tests/analyses``,
``tests/report``, and here the tests of the command line, the output folders and the installation.
pytest imports them with ``--import-mode=importlib`` (pyproject.toml), so test files of the same name in two
folders do not clash and no test file can import another: what they share is here, as fixtures.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from model.inputs import synthetic

# Kernels started by the tests (papermill, nbclient) run in other working folders: a relative PYTHONPATH
# (``PYTHONPATH=src pytest``) would lose this checkout's package there, so it is made absolute once.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in os.environ["PYTHONPATH"].split(os.pathsep)
                                               if p)

# The caches of prepared years and validation stamps (model.analyses.year_cache, model.inputs.contracts.stamp)
# go to a folder of this test session, never the user's ~/.cache; kernels and subprocesses inherit it.
if "FORDELINGSMODEL_CACHE" not in os.environ:
    os.environ["FORDELINGSMODEL_CACHE"] = tempfile.mkdtemp(prefix="fordelingsmodel-test-cache-")
    atexit.register(shutil.rmtree, os.environ["FORDELINGSMODEL_CACHE"], True)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> Callable[..., Path]:
    """A function ``(**generate_args) -> folder``: :func:`model.inputs.synthetic.generate` without service lines
    (unless asked for), run once per session for each set of arguments; the arguments are kept in the
    folder's ``.complete`` (JSON), so a test can generate the same folder again."""

    def make(**kw) -> Path:
        args = {"services": False, **kw}
        if "years" in args:
            args["years"] = list(args["years"])
        key = "_".join(f"{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(args.items()))
        root = tmp_path_factory.getbasetemp() / f"synthetic_{key}"
        done = root / ".complete"
        if not done.exists():
            synthetic.generate(root, **args)
            done.write_text(json.dumps(args))
        return root

    return make


@pytest.fixture(scope="session")
def panel_dir(synthetic_data) -> Path:
    """The small panel: five years (2021-2025) of 20,000 synthetic citizens (the stability and sensitivity
    tests)."""
    return synthetic_data(persons=20_000, years=(2021, 2022, 2023, 2024, 2025), seed=7)


@pytest.fixture(scope="session")
def history_data(synthetic_data) -> Path:
    """5,000 synthetic citizens in 2026-2027 with the regions' capacity reports over time (and their planted
    mistakes): the data of the capacity-report and evaluation tests."""
    return synthetic_data(persons=5_000, years=(2026, 2027))
