"""A non-editable install works on its own: the package carries its contracts and notebooks.

The repository is copied (only what a build reads: pyproject.toml, README.md, src/ and the two folders that
src/model/data_schema and src/model/notebooks link to) and installed with ``pip install --no-deps --target``
into a temporary folder (a few seconds; pip fetches the build backend, setuptools, the first time).  The
verbs then run with ``PYTHONPATH`` set to that folder alone and the current folder outside the repository,
so nothing can come from the working tree: ``model`` must be imported from the install, and ``validate``
(the contracts, data_schema/*.yaml), ``fit`` and, slow, ``report`` (the notebooks) must succeed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "README.md", "src", "data_schema", "notebooks", "docs")


def _copy_sources(dst: Path) -> Path:
    """Copy what the build reads into ``dst``, links kept as links (so the package-data links resolve there)."""
    dst.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in BUILD_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(src, dst / name)
    return dst


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package installed (not editable, no dependencies) into a temporary folder of its own."""
    tmp = tmp_path_factory.mktemp("install")
    sources = _copy_sources(tmp / "sources")
    target = tmp / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-input",
                        "--disable-pip-version-check", "--target", str(target), str(sources)],
                       capture_output=True, text=True, timeout=600, cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    return target


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A working folder outside the repository."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def data(small_report) -> Path:
    """3,000 synthetic citizens in 2024-2025: the data of the session's ``small_report`` (tests/conftest.py)."""
    return small_report[0]


def run(installed: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python <args>`` with only the install on PYTHONPATH, from ``cwd`` (``env``: more variables)."""
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MODEL_TRACEBACK")}, **(env or {})}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_model_is_imported_from_the_install(installed, outside):
    r = run(installed, outside, "-c", "import model; print(model.__file__)")
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).resolve().is_relative_to(installed.resolve()), r.stdout


def test_the_install_carries_contracts_and_notebooks_as_files(installed):
    model = installed / "model"
    assert sorted(p.name for p in (model / "data_schema").glob("*.yaml")) == \
        sorted(p.name for p in (ROOT / "data_schema").glob("*.yaml"))
    assert sorted(p.name for p in (model / "notebooks").glob("*.ipynb")) == \
        sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    # the maps' boundaries and the data's provenance note
    assert (model / "data" / "municipalities.geojson").is_file() and (model / "data" / "README.md").is_file()
    assert not (model / "data_schema").is_symlink() and not (model / "notebooks").is_symlink()


def test_validate_and_fit_from_the_install(installed, outside, data):
    r = run(installed, outside, "-m", "model", "validate", str(data))
    assert r.returncode == 0, r.stdout + r.stderr
    out = outside / "run"
    r = run(installed, outside, "-m", "model", "fit", "--data", str(data), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "capacity_by_health_council.csv").is_file()


@pytest.mark.slow
def test_report_from_the_install_equals_the_report_rendered_in_place(installed, outside, small_report, same_render):
    """The whole report from the install (its notebooks, docs and data), with the notebooks one after the other,
    equals the session's render in this checkout, with the notebooks side by side: the same tables byte for
    byte and the same pages (a render is reproducible, whatever the number of notebooks at once)."""
    data, in_place = small_report
    out = outside / "report"
    r = run(installed, outside, "-m", "model", "report", "--year", "2025", "--data", str(data), "--out", str(out),
            env={"FORDELINGSMODEL_WORKERS": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert {"annual_report.html", "annual_report.da.html", "fit.html", "method.html", "method.da.html"} <= \
        {p.name for p in out.glob("*.html")}
    same_render(in_place, out)
