"""Every notebook runs as opened (issue 15): from ``notebooks/``, with its default parameters, in the project's kernel.

A notebook either completes or stops in its first cells with one sentence saying what to run first.  Each
notebook is executed with nbclient as JupyterLab's "Run all" does: working folder ``notebooks/``, no
parameters injected, the kernel its metadata names.  The notebooks are copied into a folder laid out as a
clone (``notebooks/``, ``data/``, ``examples/``), so the relative defaults (``../data/default``,
``../runs/notebook``) mean what they mean in a clone, and nothing is written into the repository.

Also here: an unknown parameter stops a notebook however it is run (the papermill command line, the input
history of a JupyterLab session), and the kernel belongs to the clone (the name in the notebooks, found from
the environment's own prefix, never a stale registration in the user's home).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from model.report import notebooks as rnb
from model.report.parameters import ParameterError, check_parameters, require_data, unknown_parameters

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
#: The order a new user runs them in (the report reads the fit's run folder).
ORDER = ["fit.ipynb", "data_checks.ipynb", "stability.ipynb", "sensitivity.ipynb", "annual_report.ipynb",
         "evaluation_2028.ipynb", "explore.ipynb"]
#: What each notebook says when the clone has no data yet.
FIRST = {
    "fit.ipynb": "No data at ../data/default: run `make data` first",
    "data_checks.ipynb": "No data at ../data/default: run `make data` first",
    "stability.ipynb": "No data at ../data/default: run `make data` first",
    "sensitivity.ipynb": "No data at ../data/default: run `make data` first",
    "annual_report.ipynb": "No run at ../runs/notebook: run fit.ipynb (or `python -m model fit`) first",
    "evaluation_2028.ipynb": "No data at ../data/evaluation: run `make eval-data` first",
    "explore.ipynb": "No data at ../data/default: run `make data` first",
}


def _clone(tmp: Path) -> Path:
    """A folder laid out as a clone: the notebooks copied into ``notebooks/``; returns that folder."""
    nbdir = tmp / "notebooks"
    nbdir.mkdir(parents=True)
    for name in NAMES:
        shutil.copyfile(ROOT / "notebooks" / name, nbdir / name)
    return nbdir


def run_as_opened(path: Path, timeout: int = 600) -> tuple[nbformat.NotebookNode, dict | None]:
    """Execute a notebook as "Run all" in JupyterLab does; return it and its first error output (or None).

    Working folder: the notebook's own; kernel: the one its metadata names, started as
    :func:`model.report.notebooks.project_kernel_manager` starts it (this Python); no parameters injected.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_manager_class=rnb.project_kernel_manager(),
                            resources={"metadata": {"path": str(path.parent)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    assert client.kernel_name == "" and nb.metadata.kernelspec.name == rnb.KERNEL_NAME
    try:
        client.execute()
    except CellExecutionError:
        pass
    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    return nb, (dict(errors[0][1], cell=errors[0][0]) if errors else None)


def _first_code_cells(nb, n: int = 2) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][:n]


# ---------------------------------------------------------------------------
# a fresh clone: no data, no run


def test_every_notebook_opened_in_a_fresh_clone_says_what_to_run_first(tmp_path):
    nbdir = _clone(tmp_path)
    for name in ORDER:
        assert name in NAMES
        nb, err = run_as_opened(nbdir / name)
        assert err is not None, f"{name} ran without data"
        # the first code cell after the parameters cell stops, with the one sentence and no traceback
        assert err["cell"] == _first_code_cells(nb)[1], (name, err["cell"])
        assert err["evalue"].startswith(FIRST[name]), (name, err["evalue"])
        assert err["traceback"] == [f"{err['ename']}: {err['evalue']}"], name
    assert not (tmp_path / "runs").exists()  # nothing was written


# ---------------------------------------------------------------------------
# a clone with data: every notebook completes


@pytest.mark.slow
def test_every_notebook_runs_as_opened_with_data(tmp_path, panel_dir, history_data):
    nbdir = _clone(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "default").symlink_to(panel_dir)  # 20,000 citizens, 2021-2025
    (tmp_path / "data" / "evaluation").symlink_to(history_data)  # 2025 (the fit year), 2026-2027
    import time

    for name in ORDER:
        t0 = time.perf_counter()
        nb, err = run_as_opened(nbdir / name, timeout=900)
        print(f"{name}: {time.perf_counter() - t0:.1f} s")
        assert err is None, f"{name} failed in cell {err['cell']}: {err['ename']}: {err['evalue']}"
        if name in ("stability.ipynb", "sensitivity.ipynb"):  # one figure each, shown once
            pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
            assert pngs == 1, f"{name}: one figure expected, got {pngs}"
    run = tmp_path / "runs" / "notebook"
    assert (run / "manifest.json").is_file() and (run / "checks").is_dir()
    assert (run / "stability" / "manifest.json").is_file() and (run / "sensitivity" / "summary.csv").is_file()
    assert (tmp_path / "runs" / "evaluation" / "manifest.json").is_file()
    assert not (tmp_path / "runs" / "explore").exists()  # the explorer writes only when a scenario is saved


# ---------------------------------------------------------------------------
# parameters that cannot be misspelt


FIT_PARAMS = "year data_dir run_dir variant citizens_per_capacity km2_per_capacity rounding clinic_rounding_step settings"


def test_the_check_names_exactly_the_parameters_cell():
    import papermill as pm

    for name in NAMES:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        i = rnb.parameters_cell(nb)
        check = nb.cells[_first_code_cells(nb, 10)[_first_code_cells(nb, 10).index(i) + 1]].source
        start = check.index("check_parameters(globals(), ")
        call = check[start:check.index(")\n", start) + 1]
        names = " ".join(part for part in call.split('"')[1::2])
        assert sorted(names.split()) == sorted(pm.inspect_notebook(str(ROOT / "notebooks" / name))), name


def test_unknown_injected_parameter_is_found_in_the_input_history():
    params = 'year = 2025\ndata_dir = "../data/default"\ncitizens_per_capacity = 1600.0'
    injected = '# Parameters\ncitizen_per_capacity = 1500\n'
    check = "check_parameters(globals(), ...)"
    assert unknown_parameters(["", params, injected, check], FIT_PARAMS) == ["citizen_per_capacity"]
    assert unknown_parameters(["", params, '# Parameters\nyear = 2024\n', check], FIT_PARAMS) == []
    # JupyterLab: a name typed into the parameters cell itself
    assert unknown_parameters(["", params + "\nrounding_stp = 100", check], FIT_PARAMS) == ["rounding_stp"]
    # a cell run on its own before the check is no parameters cell
    assert unknown_parameters(["", "x = 5", check], FIT_PARAMS) == []
    assert unknown_parameters(["", "import os\nyear = 2024", check], FIT_PARAMS) == []
    with pytest.raises(ParameterError) as e:
        check_parameters({"In": ["", params, injected, check]}, FIT_PARAMS)
    assert str(e.value) == ("unknown parameter(s) 'citizen_per_capacity' (did you mean 'citizens_per_capacity'?): "
                            "this notebook's parameters are " + ", ".join(FIT_PARAMS.split()))
    check_parameters({}, FIT_PARAMS)  # outside IPython: nothing to check


def test_require_data_says_what_to_run_first(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # as from a clone's notebooks/ without data (whatever lies around the clone)
    with pytest.raises(ValueError, match=r"^No data at ../data/default: run `make data` first \(or try data_dir"):
        require_data("../data/default")
    (tmp_path / "mine").mkdir()
    with pytest.raises(ValueError, match=r"^No persons.parquet at .*mine: set data_dir to a data folder"):
        require_data(tmp_path / "mine")
    assert require_data(ROOT / "examples" / "small") == ROOT / "examples" / "small"


def _venv_like_prefix(tmp: Path) -> dict[str, str]:
    """The kernel installed as ``make venv`` installs it (``ipykernel install`` into a prefix, here a temporary one),
    and an environment in which the user's own Jupyter folders are empty: what a fresh clone on a fresh machine sees."""
    prefix = tmp / "prefix"
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", rnb.KERNEL_NAME,
                    "--display-name", rnb.KERNEL_DISPLAY_NAME], check=True, capture_output=True)
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"), JUPYTER_DATA_DIR=str(tmp / "home-data"),
               JUPYTER_CONFIG_DIR=str(tmp / "home-config"), PYTHONPATH=str(ROOT / "src"))
    return env


def test_papermill_command_line_stops_on_a_misspelt_parameter(tmp_path):
    """The issue's example: ``papermill fit.ipynb o.ipynb -p citizen_per_capacity 1500`` exited 0 with 1,600."""
    env = _venv_like_prefix(tmp_path)
    papermill = Path(sys.executable).parent / "papermill"
    r = subprocess.run([str(papermill), str(ROOT / "notebooks" / "fit.ipynb"), str(tmp_path / "o.ipynb"),
                        "-p", "citizen_per_capacity", "1500", "--cwd", str(tmp_path)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert ("ParameterError: unknown parameter(s) 'citizen_per_capacity' (did you mean 'citizens_per_capacity'?)"
            in r.stderr), r.stderr[-2000:]
    # the kernel was the project's, found in the prefix (the notebook's metadata name, no -k given)
    assert f"Executing notebook with kernel: {rnb.KERNEL_NAME}" in r.stderr


# ---------------------------------------------------------------------------
# the kernel belongs to the clone


def test_the_project_kernel_is_this_python_even_with_a_stale_registration(tmp_path, monkeypatch):
    stale = tmp_path / "home-data" / "kernels" / rnb.KERNEL_NAME
    stale.mkdir(parents=True)
    (stale / "kernel.json").write_text(json.dumps({
        "argv": ["/gone/clone/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": rnb.KERNEL_DISPLAY_NAME, "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "home-data"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "nothing"))
    spec = rnb.project_kernel_spec()
    assert spec.argv[0] == sys.executable and spec.display_name == rnb.KERNEL_DISPLAY_NAME
    # registered for this Python (as make venv does inside .venv): that registration is used
    env = _venv_like_prefix(tmp_path / "v")
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    spec = rnb.project_kernel_spec()
    assert spec.argv[0] == sys.executable and spec.resource_dir.startswith(str(tmp_path / "v" / "prefix"))


def _make_dry(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "VENV=/nonexistent-venv", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_make_installs_the_kernel_inside_the_venv_and_lab_runs_as_root():
    venv = _make_dry("venv")
    assert f"ipykernel install --sys-prefix --name {rnb.KERNEL_NAME}" in venv and "--user" not in venv
    lab = _make_dry("lab")
    assert "jupyter lab" in lab and "JUPYTER_PREFER_ENV_PATH=1" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0)
