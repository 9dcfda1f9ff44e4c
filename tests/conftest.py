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
import re
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

    # the workers of a side-by-side run (pytest-xdist) share one folder per set of arguments: the first to ask
    # generates it under a lock, the others wait and read it
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent

    def make(**kw) -> Path:
        import fcntl

        args = {"services": False, **kw}
        if "years" in args:
            args["years"] = list(args["years"])
        key = "_".join(f"{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(args.items()))
        root = base / f"synthetic_{key}"
        done = root / ".complete"
        with open(base / f".synthetic_{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                if root.exists():
                    shutil.rmtree(root)  # a generation that did not finish
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
    """5,000 synthetic citizens in 2025-2027 with the regions' capacity reports over time (and their planted
    mistakes): the data of the capacity-report and evaluation tests, and of the evaluation notebook as opened
    (one folder: its capacity reports are parsed once in a session, :mod:`model.artifacts` ``kept``)."""
    return synthetic_data(persons=5_000, years=(2025, 2026, 2027), seed=11)


@pytest.fixture(scope="session")
def small_report(synthetic_data, tmp_path_factory) -> tuple[Path, Path]:
    """(data, report): 3,000 synthetic citizens in 2024-2025 and the annual report of 2025 rendered from them
    with the default settings, once per session (the render and disclosure tests read it; none changes it)."""
    import time

    from model.report import annual

    data = synthetic_data(persons=3_000, years=(2024, 2025), seed=20250630)
    out = tmp_path_factory.mktemp("small_report") / "2025"
    t0 = time.perf_counter()
    cwd = os.getcwd()
    annual.render_report(2025, data, out=out, timeout=300)  # notebooks side by side (threads)
    assert os.getcwd() == cwd, "the render changed the process's working folder"
    print(f"small-data render: {time.perf_counter() - t0:.1f} s")
    return data, out


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?")
_COMMIT = re.compile(r"\b[0-9a-f]{40}\b|\(not in a git checkout\)")


def without_timestamps(text: str) -> str:
    """Times removed, and the git commit (a commit made while the tests run would change it; an installed
    package has none)."""
    return _COMMIT.sub("<commit>", _STAMP.sub("<time>", text))


@pytest.fixture(scope="session")
def same_render() -> Callable[[Path, Path], None]:
    """``(a, b)``: asserts that two renders of the annual report from the same inputs and settings hold the
    same run tables (byte for byte), the same pages (times and commit aside) and the same manifest inputs
    and configuration."""

    def check(a: Path, b: Path) -> None:
        tables = sorted(p.relative_to(a) for p in (a / "run").rglob("*.csv"))
        assert tables and tables == sorted(p.relative_to(b) for p in (b / "run").rglob("*.csv"))
        for t in tables:
            assert (a / t).read_bytes() == (b / t).read_bytes(), t
        pages = sorted(p.name for p in a.glob("*.html"))
        assert pages == sorted(p.name for p in b.glob("*.html"))
        for page in pages:
            assert without_timestamps((a / page).read_text(encoding="utf-8")) == \
                without_timestamps((b / page).read_text(encoding="utf-8")), page
        ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
        assert ma["inputs"] == mb["inputs"] and ma["config"] == mb["config"]

    return check


# ---------------------------------------------------------------------------
# running the tests side by side (pytest-xdist: ``make test`` runs ``pytest -n auto``)

#: Test files that share a session fixture too costly to build twice run on one worker (as one unit).
GROUPS = {"tests/report/test_render.py": "small_report", "tests/report/test_disclosure.py": "small_report",
          "tests/test_install.py": "small_report"}
#: The slowest units, started first so that no worker is left with a long one at the end (seconds, measured).
HEAVY = {"small_report": 80, "tests/report/test_as_opened.py": 60, "tests/inputs/test_one_reader.py": 37,
         "tests/report/test_publication.py": 26, "tests/analyses/test_evaluation.py": 23,
         "tests/analyses/test_sensitivity.py": 15, "tests/analyses/test_stability.py": 14,
         "tests/test_output_safety.py": 12, "tests/inputs/test_schema.py": 11, "tests/report/test_explorer.py": 10,
         "tests/inputs/test_capacity_reports.py": 10}


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the group of :data:`GROUPS`."""
    file = nodeid.split("::", 1)[0]
    return GROUPS.get(file, file)


def pytest_collection_modifyitems(config, items) -> None:
    """The units of :data:`HEAVY` first (the order within a file is kept)."""
    items.sort(key=lambda item: -HEAVY.get(unit_of(item.nodeid), 0))


class _FileUnits:
    """pytest-xdist's scheduler: each test file is one unit of work for a worker (its module fixtures are built
    once), the files of :data:`GROUPS` one unit together, handed out in collection order (heaviest first)."""

    def pytest_xdist_make_scheduler(self, config, log):
        from xdist.scheduler import LoadScopeScheduling

        class FileUnits(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return unit_of(nodeid)

        config.option.loadscopereorder = False
        return FileUnits(config, log)


def pytest_configure(config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_FileUnits(), "fordelingsmodel-file-units")
