"""The notebooks are committed stripped, thin and with a checkable parameters cell.

The structural checks apply to every notebook in ``notebooks/``; the
expected parameter names are checked for the report chain's notebooks.

No kernel is started here (fast): the rendering itself is tested in
tests/report/test_render.py.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from model.report import annual
from model.report import notebooks as rnb

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = {
    "fit.ipynb": {"year", "data_dir", "run_dir", "variant", "citizens_per_capacity", "km2_per_capacity",
                  "rounding", "clinic_rounding_step", "settings"},
    "data_checks.ipynb": {"year", "data_dir", "run_dir", "validation_file", "settings"},
    "annual_report.ipynb": {"year", "run_dir", "data_dir", "previous_run_dir", "previous_computed", "language",
                            "settings"},
    "evaluation_2028.ipynb": {"year", "run_dir", "data_dir", "settings"},
}
IDS = [p.name for p in NOTEBOOKS]


def _code(cell) -> str:
    """Cell source without IPython magics (``%``/``!`` lines), for ``ast``."""
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))


def test_the_expected_notebooks_exist():
    assert set(EXPECTED) <= set(IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stripped(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == rnb.KERNEL_NAME, "the project's kernel is not named"
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    for i, c in enumerate(raw["cells"]):
        if c["cell_type"] == "code":
            assert c.get("outputs") == [], f"cell {i + 1} has outputs"
            assert c.get("execution_count") is None, f"cell {i + 1} has an execution count"
            assert "execution" not in c.get("metadata", {}) and "papermill" not in c.get("metadata", {})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_parameters_cell_of_literals(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    cell = nb.cells[tagged[0]]
    assert cell.cell_type == "code"
    tree = ast.parse(cell.source)
    assert tree.body, "empty parameters cell"
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name), \
            f"not a plain assignment: {ast.unparse(stmt)}"
        v = stmt.value
        if isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.USub):
            v = v.operand
        assert isinstance(v, ast.Constant), f"not a literal: {ast.unparse(stmt)}"
    # the first code cell after it validates the parameters through ModelConfig
    nxt = next(c for c in nb.cells[tagged[0] + 1:] if c.cell_type == "code")
    assert "ModelConfig().replace(" in nxt.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_thin_no_def(path):
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        tree = ast.parse(_code(c))
        bad = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                          ast.ClassDef, ast.Lambda))]
        assert not bad, f"{path.name} cell {i + 1} defines {bad}: logic belongs in the package"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_notebook_finds_the_parameters(name):
    assert set(pm.inspect_notebook(str(ROOT / "notebooks" / name))) == EXPECTED[name]


def test_render_report_passes_only_known_parameters(tmp_path):
    params = annual.chain_parameters(2025, tmp_path, "")
    for name, p in params.items():
        rnb.check_notebook_parameters(ROOT / "notebooks" / name, p)


def test_misspelt_parameter_is_rejected():
    with pytest.raises(rnb.ParameterError) as e:
        rnb.check_notebook_parameters(ROOT / "notebooks" / "annual_report.ipynb", {"year": 2025, "previous_rundir": ""})
    msg = str(e.value)
    assert "'previous_rundir'" in msg and "previous_run_dir" in msg and "run_dir" in msg


def _variant(tmp_path, name, change):
    nb = nbformat.read(ROOT / "notebooks" / "fit.ipynb", as_version=4)
    change(nb)
    p = tmp_path / name
    nbformat.write(nb, p)
    return p


def test_cell_tagged_parameter_singular_is_rejected(tmp_path):
    def singular(nb):
        for c in nb.cells:
            if "parameters" in c.metadata.get("tags", []):
                c.metadata["tags"] = ["parameter"]
    p = _variant(tmp_path, "singular.ipynb", singular)
    with pytest.raises(rnb.ParameterError, match="tagged 'parameter'"):
        rnb.check_notebook_parameters(p, {"year": 2025})


def test_no_parameters_cell_is_rejected(tmp_path):
    def untag(nb):
        for c in nb.cells:
            c.metadata.pop("tags", None)
    p = _variant(tmp_path, "none.ipynb", untag)
    with pytest.raises(rnb.ParameterError, match="no cell is tagged 'parameters'"):
        rnb.check_notebook_parameters(p, {})


def test_two_parameters_cells_are_rejected(tmp_path):
    def twice(nb):
        nb.cells.append(nbformat.v4.new_code_cell("year = 2024", metadata={"tags": ["parameters"]}))
    p = _variant(tmp_path, "two.ipynb", twice)
    with pytest.raises(rnb.ParameterError, match="2 cells are tagged 'parameters'"):
        rnb.check_notebook_parameters(p, {})


def test_run_notebook_checks_before_running(tmp_path):
    """A misspelt name stops run_notebook before any kernel starts (no output written)."""
    out = tmp_path / "out.ipynb"
    with pytest.raises(rnb.ParameterError):
        rnb.run_notebook(ROOT / "notebooks" / "fit.ipynb", out, {"yeer": 2025}, cwd=tmp_path, timeout=60)
    assert not out.exists()


# ---------------------------------------------------------------------------
# notebooks side by side (render's scheduler, without kernels)


def test_run_graph_waits_for_prerequisites_and_runs_side_by_side():
    import threading
    import time

    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def task(name: str, seconds: float = 0.05):
        def run():
            with lock:
                log.append(("start", name))
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            time.sleep(seconds)
            with lock:
                running["now"] -= 1
                log.append(("end", name))
        return run

    tasks = {n: task(n) for n in ("fit", "a", "b", "c", "report")}
    after = {"a": ("fit",), "b": ("fit",), "c": ("fit",), "report": ("a", "b", "c")}
    rnb._run_graph(tasks, after, workers=2, order=("fit", "c", "a", "b", "report"))
    pos = {e: i for i, e in enumerate(log)}
    for n, before in after.items():
        for b in before:
            assert pos[("end", b)] < pos[("start", n)], (b, n)
    assert running["most"] == 2, "two workers: two at a time"
    assert [n for kind, n in log if kind == "start"][1] == "c", "among the ready, the order given first"


def test_run_graph_stops_starting_after_a_failure_and_raises_it():
    started: list[str] = []

    def ok(name):
        return lambda: started.append(name)

    def bad():
        started.append("bad")
        raise RuntimeError("deliberate")

    tasks = {"fit": bad, "a": ok("a"), "b": ok("b")}
    with pytest.raises(RuntimeError, match="deliberate"):
        rnb._run_graph(tasks, {"a": ("fit",), "b": ("fit",)}, workers=2, order=("fit", "a", "b"))
    assert started == ["bad"]
    with pytest.raises(ValueError, match="wait for each other"):
        rnb._run_graph({"a": ok("a"), "b": ok("b")}, {"a": ("b",), "b": ("a",)}, workers=2, order=("a", "b"))


def test_report_chain_order():
    names = ("fit.ipynb", "data_checks.ipynb", "stability.ipynb", "sensitivity.ipynb", "annual_report.ipynb",
             "annual_report.ipynb#da")
    after = annual.chain_order(names, previous_job=True)
    assert after["fit.ipynb"] == ()
    assert all(after[n] == ("fit.ipynb",) for n in names[1:4])
    for report in names[4:]:
        assert set(after[report]) == {*names[:4], annual.PREVIOUS_JOB}


def test_workers_from_the_environment(monkeypatch):
    monkeypatch.setenv("FORDELINGSMODEL_WORKERS", "3")
    assert rnb.default_workers() == 3
    monkeypatch.setenv("FORDELINGSMODEL_WORKERS", "many")
    with pytest.raises(ValueError, match="FORDELINGSMODEL_WORKERS"):
        rnb.default_workers()
    monkeypatch.delenv("FORDELINGSMODEL_WORKERS")
    assert 1 <= rnb.default_workers() <= 4
