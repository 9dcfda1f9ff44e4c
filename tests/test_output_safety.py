"""Output safety (issue 10): no verb ever destroys an input, leaves a half-written or missing output, or
leaks a traceback on the output side.

Every refusal case asserts the exit code, the one-line message and that every input file is still there
byte for byte.  Killed and concurrent runs are real subprocesses; the "no window" test polls a folder while
it is replaced again and again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model import artifacts, cli
from model.analyses import fit as afit
from model.errors import EXIT_INPUT, EXIT_OUTPUT, EXIT_SYSTEM, InputError, OutputError
from model.inputs import synthetic

ROOT = Path(__file__).resolve().parents[1]
PERSONS = 3_000
YEARS = [2024, 2025]


def tree(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file below ``root`` (hidden files too)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [e.get("PYTHONPATH")])])
    e.pop("MODEL_TRACEBACK", None)
    return e


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          env=env(), timeout=600)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Small synthetic data (3,000 persons, 2024-2025) and one fit of it, generated once per module."""
    root = tmp_path_factory.mktemp("safety")
    synthetic.generate(root / "data", persons=PERSONS, years=YEARS, services=False)
    assert cli.main(["fit", "--data", str(root / "data"), "--out", str(root / "run"), "--no-validate"]) == 0
    return root


@pytest.fixture
def work(base, tmp_path) -> Path:
    """A private copy: ``work/data`` (a data folder) and ``work/run`` (a fit run folder)."""
    shutil.copytree(base / "data", tmp_path / "data")
    shutil.copytree(base / "run", tmp_path / "run")
    return tmp_path


def refused(argv: list[str], capsys, *expect: str, code: int = EXIT_OUTPUT) -> str:
    """Run the CLI in-process; assert the exit code, a one-line message holding ``expect``; return it."""
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: --out"), err
    for e in expect:
        assert e in err, err
    return err


# ---------------------------------------------------------------------------
# refused before any work; the inputs stay byte for byte


@pytest.mark.parametrize("verb", ["fit", "stability", "sensitivity", "report", "evaluate"])
def test_out_is_the_data_folder(work, capsys, verb):
    data = work / "data"
    before = tree(data)
    extra = ["--fit-year", "2024"] if verb == "evaluate" else []
    refused([verb, "--data", str(data), "--out", str(data), *extra], capsys, "is the input --data")
    assert tree(data) == before


@pytest.mark.parametrize("verb", ["fit", "stability", "report"])
def test_out_is_a_parent_of_the_data(work, capsys, verb):
    data = work / "data"
    before, run = tree(data), tree(work / "run")
    refused([verb, "--data", str(data), "--out", str(work)], capsys, "contains the input --data")
    assert tree(data) == before and tree(work / "run") == run


def test_out_dot_in_the_data_folder(work, capsys, monkeypatch):
    before = tree(work / "data")
    monkeypatch.chdir(work / "data")
    refused(["fit", "--data", ".", "--out", "."], capsys, "is the input --data")
    refused(["fit", "--data", str(work / "data"), "--out", "."], capsys, "is the input --data")
    assert tree(work / "data") == before


def test_out_dot_above_the_data(work, capsys, monkeypatch):
    before = tree(work / "data")
    monkeypatch.chdir(work)
    refused(["fit", "--data", "data", "--out", "."], capsys, "contains the input --data")
    assert tree(work / "data") == before


def test_out_dot_elsewhere_is_the_current_folder(work, capsys, monkeypatch):
    here = work / "elsewhere"
    here.mkdir()
    (here / "keep.txt").write_text("mine\n")
    monkeypatch.chdir(here)
    refused(["fit", "--data", str(work / "data"), "--out", ".", "--force"], capsys, "is the current folder")
    refused(["fit", "--data", str(work / "data"), "--out", str(work / "elsewhere" / ".."), "--force"], capsys)
    assert (here / "keep.txt").read_text() == "mine\n"


def test_out_inside_the_data(work, capsys):
    data = work / "data"
    before = tree(data)
    refused(["fit", "--data", str(data), "--out", str(data / "capacity_reports"), "--force"], capsys,
            "lies inside the input --data")
    refused(["fit", "--data", str(data), "--out", str(data / "new_run")], capsys, "lies inside the input --data")
    refused(["ingest", "--data", str(data), "--year", "2025", "--out", str(data / "persons.parquet")], capsys,
            "is a file of the input --data")
    assert tree(data) == before and not (data / "new_run").exists()


def test_clinic_sheets_over_the_run(work, capsys):
    run = work / "run"
    before = tree(run)
    refused(["clinic-sheets", "--run", str(run), "--out", str(run)], capsys, "is the input --run")
    refused(["clinic-sheets", "--run", str(run), "--out", str(work)], capsys, "contains the input --run")
    refused(["clinic-sheets", "--run", str(run), "--out", str(run / "coefficients.csv")], capsys,
            "is a file of the input --run")
    assert tree(run) == before
    # the default place, the run's own clinic_sheets/, is allowed, and again
    assert cli.main(["clinic-sheets", "--run", str(run)]) == 0
    assert cli.main(["clinic-sheets", "--run", str(run)]) == 0
    assert {k: v for k, v in tree(run).items() if not k.startswith("clinic_sheets/")} == before


def test_report_over_previous(work, capsys):
    run = work / "run"
    before = tree(run)
    refused(["report", "--data", str(work / "data"), "--previous", str(run), "--out", str(run)], capsys,
            "is the input --previous")
    assert tree(run) == before


def test_out_through_a_link_in_the_data(work, capsys, tmp_path):
    """A data folder of links: the folder the links point into is an input too."""
    linked = tmp_path / "linked"
    linked.mkdir()
    for p in (work / "data").iterdir():
        (linked / p.name).symlink_to(p)
    before = tree(work / "data")
    refused(["fit", "--data", str(linked), "--out", str(work / "data"), "--force"], capsys, "via the link")
    assert tree(work / "data") == before


def test_out_is_an_existing_file(work, capsys):
    f = work / "results.txt"
    f.write_text("do not replace me\n")
    for verb in ("fit", "stability"):
        refused([verb, "--data", str(work / "data"), "--out", str(f), "--force"], capsys, "is an existing file")
    refused(["clinic-sheets", "--run", str(work / "run"), "--out", str(f)], capsys, "is an existing file")
    refused(["synth", "--out", str(f), "--persons", "100"], capsys, "is an existing file")
    assert f.read_text() == "do not replace me\n"
    refused(["ingest", "--data", str(work / "data"), "--year", "2025", "--out", str(work / "run")], capsys,
            "is an existing folder")


def test_foreign_folder_needs_force(work, capsys):
    foreign = work / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work\n")
    before = tree(work / "data")
    refused(["fit", "--data", str(work / "data"), "--out", str(foreign)], capsys,
            "this package did not write", "--force")
    assert (foreign / "chapter1.tex").read_text() == "years of work\n"
    assert cli.main(["fit", "--data", str(work / "data"), "--out", str(foreign), "--force", "--no-validate"]) == 0
    assert not (foreign / "chapter1.tex").exists() and complete_run(foreign)
    assert tree(work / "data") == before


def test_synth_data_folder_is_not_replaced_by_a_run(work, base, capsys, tmp_path):
    other = tmp_path / "other_data"
    shutil.copytree(base / "data", other)
    before = tree(other)
    refused(["fit", "--data", str(work / "data"), "--out", str(other)], capsys, "a data folder written by synth")
    assert tree(other) == before


def test_rerun_into_a_run_folder_replaces_it(work, capsys):
    run = work / "run"
    before = tree(run)
    (run / "stale_extra.csv").write_text("x\n")  # anything the old run held goes with it
    assert cli.main(["fit", "--data", str(work / "data"), "--out", str(run), "--no-validate"]) == 0
    after = tree(run)
    assert "stale_extra.csv" not in after and complete_run(run)
    assert {k: v for k, v in after.items() if k.endswith(".csv")} == {k: v for k, v in before.items()
                                                                      if k.endswith(".csv")}
    assert not leftovers(run)


def test_empty_folder_is_fine(work):
    empty = work / "empty"
    empty.mkdir()
    assert cli.main(["fit", "--data", str(work / "data"), "--out", str(empty), "--no-validate"]) == 0
    assert complete_run(empty)


def _immutable(path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def _mutable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0 and shutil.which("chattr") is None, reason="needs chmod or chattr")
def test_read_only_output_location_fails_before_the_work(work, capsys):
    ro = work / "readonly"
    ro.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: make the folder immutable instead
        if not _immutable(ro):
            pytest.skip("chattr +i not supported here")
    else:
        ro.chmod(0o555)
    try:
        before = tree(work / "data")
        t0 = time.perf_counter()
        err = refused(["fit", "--data", str(work / "data"), "--out", str(ro / "run")], capsys, "cannot write in")
        assert "nothing was computed" in err and time.perf_counter() - t0 < 5
        assert tree(work / "data") == before and not (ro / "run").exists()
    finally:
        _mutable(ro)
        ro.chmod(0o755)
    # an existing run folder that is read-only itself
    run = work / "run"
    before = tree(run)
    if os.geteuid() == 0:
        if not _immutable(run):
            pytest.skip("chattr +i not supported here")
    else:
        run.chmod(0o555)
    try:
        refused(["fit", "--data", str(work / "data"), "--out", str(run)], capsys, "cannot write in")
    finally:
        _mutable(run)
        run.chmod(0o755)
    assert tree(run) == before


def test_synth_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "extract.csv").write_text("real data\n")
    refused(["synth", "--out", str(mine), "--persons", "200", "--years", "2025", "--no-services"], capsys,
            "synth writes only into a new or empty folder")
    assert sorted(p.name for p in mine.iterdir()) == ["extract.csv"]
    with pytest.raises(OutputError):
        synthetic.generate(mine, persons=200, years=[2025], services=False)
    assert sorted(p.name for p in mine.iterdir()) == ["extract.csv"]


def test_synth_rewrites_its_own_folder(tmp_path, capsys):
    d = tmp_path / "syn"
    assert cli.main(["synth", "--out", str(d), "--persons", "500", "--years", "2025", "--no-services"]) == 0
    first = tree(d)
    assert artifacts.SYNTH_MARKER not in first and "synthetic_manifest.json" in first
    # a killed synth leaves its marker: the folder is still its own
    (d / artifacts.SYNTH_MARKER).write_text("{}\n")
    (d / "synthetic_manifest.json").unlink()
    assert cli.main(["synth", "--out", str(d), "--persons", "500", "--years", "2025", "--no-services"]) == 0
    assert tree(d) == first


# ---------------------------------------------------------------------------
# killed, concurrent and swapping runs


def complete_run(folder: Path) -> bool:
    """A run folder whose manifest lists every file it holds, with matching hashes."""
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
             if p.is_file() and p.name != "manifest.json"}
    return m["command"] == "fit" and m["outputs"] == files and len(files) >= len(afit.OUTPUT_TABLES)


def leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}."))


PAUSED_FIT = """
import sys, time
from pathlib import Path
import model.artifacts as a
flag, release = Path(sys.argv[1]), Path(sys.argv[2])
def pause(tmp, target):
    flag.write_text(str(tmp))
    t0 = time.time()
    while not release.exists() and time.time() - t0 < 300:
        time.sleep(0.05)
a._before_swap = pause
from model.cli import main
raise SystemExit(main(sys.argv[3:]))
"""


def start_paused_fit(data: Path, out: Path, flag: Path, release: Path) -> subprocess.Popen:
    """``fit`` in a subprocess that signals ``flag`` just before it swaps its result in, then waits for
    ``release`` to exist."""
    return subprocess.Popen([sys.executable, "-c", PAUSED_FIT, str(flag), str(release),
                             "fit", "--data", str(data), "--out", str(out), "--no-validate"],
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(flag: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


def test_killed_run_leaves_the_previous_output_and_the_next_run_cleans_up(work, tmp_path):
    run = work / "run"
    before, data = tree(run), tree(work / "data")
    flag = tmp_path / "paused"
    proc = start_paused_fit(work / "data", run, flag, tmp_path / "never")
    wait_for(flag, proc)
    tmp = Path(flag.read_text())
    assert tmp.parent == run.parent and tmp.name.startswith(".run.tmp-") and (tmp / "manifest.json").exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # the previous output is untouched; the killed run's complete-but-unswapped folder is left behind
    assert tree(run) == before and tree(work / "data") == data
    assert tmp.exists() and (tmp / "clinic_profiles.csv").exists()
    # the next run into the same place removes it, and leaves nothing beside its output
    r = run_cli("fit", "--data", str(work / "data"), "--out", str(run), "--no-validate")
    assert r.returncode == 0, r.stderr
    assert not tmp.exists() and leftovers(run) == [] and complete_run(run)


def test_stale_temporaries_of_live_processes_are_kept(work):
    run = work / "run"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old_style = run.parent / ".run.tmp-k2j4h5g6"  # names of earlier versions (no process id)
        gone = run.parent / f".run.tmp-{dead_pid}-abcd1234"
        aside = run.parent / f".run.old-{dead_pid}-abcd1234"
        busy = run.parent / f".run.tmp-{live.pid}-abcd1234"
        other = run.parent / ".runs.tmp-1-x"  # another output's: not ours to touch
        for p in (old_style, gone, aside, busy, other):
            p.mkdir()
            (p / "clinic_profiles.csv").write_text("clinic_id,persons\n000123,2\n")
        with artifacts.AtomicFolder(run) as t:
            (t / "manifest.json").write_text('{"command": "fit"}\n')
        assert not old_style.exists() and not gone.exists() and not aside.exists()
        assert busy.exists() and other.exists()
    finally:
        live.kill()
        live.wait()


def test_concurrent_runs_into_one_folder(work, tmp_path):
    """A second run while the first writes is refused with a clear message; the folder ends complete."""
    out = work / "concurrent"
    flag = tmp_path / "paused"
    first = start_paused_fit(work / "data", out, flag, tmp_path / "release")
    wait_for(flag, first)
    second = run_cli("fit", "--data", str(work / "data"), "--out", str(out), "--no-validate")
    (tmp_path / "release").touch()
    o1, e1 = first.communicate(timeout=300)
    assert first.returncode == 0, e1
    assert second.returncode == EXIT_OUTPUT, second.stderr
    assert second.stderr.strip().splitlines() == [second.stderr.strip()]
    assert "another run is writing to it" in second.stderr and "Traceback" not in second.stderr
    assert complete_run(out) and leftovers(out) == []


def test_concurrent_runs_started_together(work):
    """Two fits started at the same moment: both end cleanly (one may be refused), the folder is complete."""
    out = work / "together"
    cmd = [sys.executable, "-m", "model", "fit", "--data", str(work / "data"), "--out", str(out), "--no-validate"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    assert all(rc in (0, EXIT_OUTPUT) for rc, _ in results) and any(rc == 0 for rc, _ in results), results
    for rc, err in results:
        assert "Traceback" not in err
        if rc == EXIT_OUTPUT:
            assert "another run is writing to it" in err
    assert complete_run(out) and leftovers(out) == []


def test_writers_in_one_process_serialise(tmp_path, monkeypatch):
    """Library writers (no command line) wait for each other: both results land, one after the other."""
    target = tmp_path / "out"
    order: list[str] = []
    real = artifacts._before_swap

    def slow(tmp, tgt):
        order.append(threading.current_thread().name)
        time.sleep(0.3)
        real(tmp, tgt)

    monkeypatch.setattr(artifacts, "_before_swap", slow)

    def write(name: str) -> None:
        with artifacts.AtomicFolder(target) as t:
            (t / "manifest.json").write_text(json.dumps({"command": "fit", "writer": name}))
            time.sleep(0.2)

    threads = [threading.Thread(target=write, args=(n,), name=n) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(order) == ["a", "b"]
    assert json.loads((target / "manifest.json").read_text())["writer"] == order[-1]
    assert leftovers(target) == []


def test_no_window_while_swapping(tmp_path):
    """While a folder is replaced again and again, a reader always finds it complete."""
    target = tmp_path / "run"
    with artifacts.AtomicFolder(target) as t:
        (t / "manifest.json").write_text('{"command": "fit", "n": 0}\n')
    stop = threading.Event()
    polls, missing = [0], [0]

    def poll() -> None:
        m = target / "manifest.json"
        while not stop.is_set():
            polls[0] += 1
            if not m.exists():
                missing[0] += 1

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for n in range(1, 200):
            with artifacts.AtomicFolder(target) as t:
                (t / "manifest.json").write_text(json.dumps({"command": "fit", "n": n}) + "\n")
    finally:
        stop.set()
        reader.join()
    assert artifacts.exchange  # the swap under test
    assert polls[0] > 1000 and missing[0] == 0, (polls, missing)
    assert json.loads((target / "manifest.json").read_text())["n"] == 199
    assert leftovers(target) == []


def test_fallback_swap_without_exchange(tmp_path, monkeypatch):
    """Where the system cannot exchange two paths, the result still lands whole and nothing is left beside it."""
    monkeypatch.setattr(artifacts, "exchange", lambda a, b: False)
    target = tmp_path / "run"
    for n in range(3):
        with artifacts.AtomicFolder(target) as t:
            (t / "manifest.json").write_text(json.dumps({"command": "fit", "n": n}))
    assert json.loads((target / "manifest.json").read_text())["n"] == 2 and leftovers(target) == []


def test_failed_write_keeps_the_old_folder(tmp_path):
    target = tmp_path / "run"
    with artifacts.AtomicFolder(target) as t:
        (t / "manifest.json").write_text('{"command": "fit"}\n')
    before = tree(target)
    with pytest.raises(RuntimeError):
        with artifacts.AtomicFolder(target) as t:
            (t / "manifest.json").write_text("half\n")
            raise RuntimeError("boom")
    assert tree(target) == before and leftovers(target) == []


def test_atomic_folder_is_still_importable_from_pipeline():
    assert artifacts.AtomicFolder is artifacts.AtomicFolder


def test_writer_checks_again_as_a_last_guard(work):
    """Called as a library (no command line), the writers refuse the same places."""
    from model.report.clinic_sheets import clinic_sheets

    data, run = work / "data", work / "run"
    before = tree(run)
    with pytest.raises(OutputError, match="is the input --run"):
        clinic_sheets(run, run)
    f = work / "file.txt"
    f.write_text("keep\n")
    with pytest.raises(OutputError, match="existing file"):
        with artifacts.AtomicFolder(f):
            pass
    foreign = work / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("keep\n")
    with pytest.raises(OutputError, match="did not write"):
        with artifacts.AtomicFolder(foreign):
            pass
    with pytest.raises(OutputError, match="contains the input --data"):
        with artifacts.AtomicFolder(work, inputs={"--data": data}):
            pass
    assert tree(run) == before and f.read_text() == "keep\n" and (foreign / "x.txt").exists()


# ---------------------------------------------------------------------------
# one line, never a traceback


def test_subprocess_refusal_is_one_line(work):
    r = run_cli("fit", "--data", str(work / "data"), "--out", str(work / "data"))
    assert r.returncode == EXIT_OUTPUT and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: --out ") and "is the input --data" in r.stderr


def test_unexpected_errors_are_one_line(monkeypatch, capsys, tmp_path):
    def boom(a):
        raise TypeError("unsupported operand\ntype(s)")

    def disk_full(a):
        raise OSError(28, "No space left on device", str(tmp_path / "x.csv"))

    for fn, code, text in ((boom, EXIT_SYSTEM, "unexpected TypeError: unsupported operand type(s)"),
                           (disk_full, EXIT_SYSTEM, "No space left on device"),
                           # the package's own errors carry their exit code; a bare ValueError is unexpected
                           (lambda a: (_ for _ in ()).throw(InputError("bad value")), EXIT_INPUT, "error: bad value"),
                           (lambda a: (_ for _ in ()).throw(ValueError("bad value")), EXIT_SYSTEM,
                            "unexpected ValueError: bad value")):
        monkeypatch.setattr(cli, "cmd_validate", fn)
        parser = cli.build_parser
        monkeypatch.setattr(cli, "build_parser", lambda parser=parser, fn=fn: _with_func(parser(), fn))
        rc = cli.main(["validate", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert rc == code and len(err.splitlines()) == 1 and text in err and "Traceback" not in err, err
        monkeypatch.setattr(cli, "build_parser", parser)


def _with_func(parser, fn):
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            if name == "validate":
                sub.set_defaults(func=fn)
    return parser


def test_help_lists_the_exit_codes():
    r = run_cli("--help")
    assert r.returncode == 0 and "exit codes:" in r.stdout and "output refused" in r.stdout
    for verb in ("fit", "stability", "sensitivity", "report", "evaluate", "clinic-sheets", "ingest", "synth", "templates"):
        assert "--force" in run_cli(verb, "--help").stdout, verb


# ---------------------------------------------------------------------------
# make: generates only into the default data folders


def _make_dry(*args: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    r = subprocess.run(["make", "-n", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_make_never_synthesises_into_a_named_data_folder():
    lines = _make_dry("report", "DATA=/some/folder")
    assert not [x for x in lines if "model synth" in x], lines
    assert any("model report" in x and "--data /some/folder" in x for x in lines)
    assert any("/some/folder/persons.parquet" in x for x in lines)  # checked to be a data folder first
    lines = _make_dry("evaluation", "EVAL_DATA=/some/folder")
    assert not [x for x in lines if "model synth" in x], lines
    assert any("model evaluate" in x and "--data /some/folder" in x for x in lines)


def test_make_generates_into_the_default_folders_only(tmp_path):
    if (ROOT / "data" / "default" / ".complete").exists():
        pytest.skip("the default data exist already")
    lines = _make_dry("report")
    assert [x for x in lines if "model synth" in x] == [x for x in lines if "model synth --out data/default " in x]
    assert any("model synth --out data/default " in x for x in lines)
    lines = _make_dry("data", "DATA=/some/folder")
    assert all("/some/folder" not in x for x in lines if "model synth" in x)


def test_make_stops_on_a_named_folder_that_is_not_data(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    empty = tmp_path / "not_data"
    empty.mkdir()
    r = subprocess.run(["make", "check-data", f"DATA={empty}"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and "is not a data folder" in r.stderr
    assert list(empty.iterdir()) == []
