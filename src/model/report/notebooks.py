"""Executing notebooks with papermill: one notebook (:func:`run_notebook`) and a chain of them (:func:`render`).

The papermill traps (a misspelt parameter, a cell tagged ``parameter``, an implicit kernel) are handled here: the parameters cell
and every parameter name are checked before running
(:func:`check_notebook_parameters`), kernel, language, timeout and working folder are
explicit, and a failure names the notebook, the cell of the source notebook
and the error (:class:`model.errors.NotebookFailed`), keeping the failed
executed notebook for inspection.

:func:`render` runs a chain (:class:`Chain`) into a report folder: every
notebook is executed in the folder and converted to offline HTML
(:func:`model.report.html.to_html`), a ``manifest.json`` records what went
in and the hash of every file written, and the folder replaces the old one
in one rename only when everything succeeded
(:class:`model.artifacts.AtomicFolder`).  The annual report
(:func:`model.report.annual.render_report`) and the 2028 evaluation
(:func:`model.report.evaluation.render_evaluation`) are two such chains.

``nbformat`` and ``papermill`` are imported inside the functions that use
them: together they take seconds to import, and the report notebooks import
this package's report modules without executing any notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from model.artifacts import AtomicFolder, sha256_file
from model.errors import NotebookFailed
from model.report.html import _skip_slow_iri_checker, nav_html, to_html
from model.report.parameters import ParameterError

#: The notebooks shipped with the package (model/notebooks: a link to the top-level notebooks/ in the repository).
NOTEBOOKS = Path(str(resources.files("model").joinpath("notebooks")))


#: The project's kernel: the name the notebooks' metadata ask for and ``make venv`` installs inside ``.venv``
#: (``ipykernel install --sys-prefix``), so that the kernel belongs to the clone, not to the user's home.
KERNEL_NAME = "fordelingsmodel"
KERNEL_DISPLAY_NAME = "Python (fordelingsmodel)"


def _same_python(argv0: str) -> bool:
    """Whether a kernelspec's interpreter is the Python running this code (the same file, not just the same binary)."""
    a, b = Path(argv0).absolute(), Path(sys.executable).absolute()
    if a == b:
        return True
    try:  # python and python3 of one environment's bin/ (links to one binary)
        return a.parent == b.parent and os.path.samefile(a, b)
    except OSError:
        return False


def project_kernel_spec():
    """The kernelspec notebooks of this package run in: the project's kernel in *this* Python.

    The registered :data:`KERNEL_NAME` kernelspec when it starts this
    interpreter (``make venv`` installs it in ``.venv``); otherwise, e.g. a
    stale registration in the user's home pointing at another clone's (or a
    deleted) ``.venv``, or an install without ``make``, the same kernel
    built for ``sys.executable``.  So ``python -m model report`` always
    executes the notebooks with the package that renders them.
    """
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and _same_python(spec.argv[0]):
            return spec
    except NoSuchKernel:
        pass
    return KernelSpec(argv=[sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f",
                            "{connection_file}"],
                      display_name=KERNEL_DISPLAY_NAME, language="python", metadata={"debugger": True},
                      resource_dir=str(Path(sys.executable).parent))


def project_kernel_manager():
    """The kernel-manager class papermill and nbclient start the notebooks' kernel with (``kernel_manager_class``):
    :data:`KERNEL_NAME` resolves to :func:`project_kernel_spec`, any other name as Jupyter resolves it."""
    global _KERNEL_MANAGER
    if _KERNEL_MANAGER is None:
        from jupyter_client.manager import AsyncKernelManager
        from traitlets import CaselessStrEnum, default

        class ProjectKernelManager(AsyncKernelManager):
            # Unix sockets in the temporary folder, one path per kernel, not TCP ports: a port is picked by
            # binding to 0 and releasing it before the kernel binds it, and another process starting a kernel
            # at the same moment (notebooks side by side, test workers) can take it ("Address already in
            # use": the kernel dies and its notebook waits a minute for it)
            transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp",
                                        config=True)

            @default("ip")
            def _ip_default(self) -> str:
                if self.transport == "ipc":  # a socket path of this kernel's own (jupyter_client's default is shared)
                    return os.path.join(tempfile.gettempdir(), f"fordelingsmodel-kernel-{uuid.uuid4().hex[:16]}")
                return super()._ip_default()

            @property
            def kernel_spec(self):
                if self._kernel_spec is None and self.kernel_name == KERNEL_NAME:
                    self._kernel_spec = project_kernel_spec()
                return super().kernel_spec

            async def _async_interrupt_kernel(self) -> None:
                # jupyter_client interrupts every kernel before shutting it down; a kernel whose notebook has
                # finished is idle and logs "ERROR | KeyboardInterrupt caught in kernel" on the render's
                # console. The shutdown request alone stops it (a busy one too: it is handled on the
                # kernel's control thread, and a kernel that does not answer is killed).
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        _KERNEL_MANAGER = ProjectKernelManager
    return _KERNEL_MANAGER


_KERNEL_MANAGER = None


def notebook_failed(notebook: str, cell: int | None, source_line: str, ename: str, evalue: str,
                    kept_at: Path | None, exec_count: int | None = None) -> NotebookFailed:
    """The :class:`NotebookFailed` for a notebook that raised; the message names notebook, cell and error.

    The error carries ``notebook`` (name), ``cell`` (1-based position in the
    source notebook, or None), ``source_line`` (first line of the cell's
    code), ``ename``, ``evalue``, ``kept_at`` (path of the failed executed
    notebook) and ``exec_count``.
    """
    where = f"cell {cell}" if cell is not None else "an unknown cell"
    if exec_count is not None:
        where += f" (execution count [{exec_count}])"
    msg = f"notebook {notebook} failed in {where}: `{source_line}`\n  {ename}: {evalue}"
    if kept_at is not None:
        msg += f"\n  the executed notebook with the traceback is kept at {kept_at}"
    e = NotebookFailed(msg)
    e.notebook, e.cell, e.source_line = notebook, cell, source_line
    e.ename, e.evalue, e.kept_at, e.exec_count = ename, evalue, kept_at, exec_count
    return e


_NEAR_MISS_TAGS = {"parameter", "params", "param", "parametres", "paramters", "parmeters", "parameters "}


def parameters_cell(nb) -> int:
    """Index of the one code cell tagged ``parameters``; :class:`ParameterError` otherwise.

    Catches the papermill trap of a cell tagged ``parameter`` (singular) or
    another near miss, which papermill ignores with only a warning, letting
    the notebook's own defaults silently win.
    """
    name = nb.metadata.get("_name", "notebook")
    tagged, near = [], []
    for i, c in enumerate(nb.cells):
        for t in c.get("metadata", {}).get("tags", []) or []:
            if t == "parameters":
                tagged.append(i)
            elif t.strip().lower() in _NEAR_MISS_TAGS or t.strip().lower() == "parameters":
                near.append((i, t))
    if near:
        i, t = near[0]
        raise ParameterError(
            f"{name}: cell {i + 1} is tagged {t!r}; papermill only knows the tag 'parameters' "
            f"and would ignore that cell's role silently. Retag it 'parameters'.")
    if not tagged:
        raise ParameterError(f"{name}: no cell is tagged 'parameters'; papermill needs exactly one")
    if len(tagged) > 1:
        raise ParameterError(f"{name}: {len(tagged)} cells are tagged 'parameters' (cells "
                             f"{', '.join(str(i + 1) for i in tagged)}); there must be exactly one")
    if nb.cells[tagged[0]].cell_type != "code":
        raise ParameterError(f"{name}: the cell tagged 'parameters' (cell {tagged[0] + 1}) is not a code cell")
    return tagged[0]


def check_notebook_parameters(nb_path: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check a notebook before running it; return its parameters as papermill sees them.

    Exactly one cell tagged ``parameters`` (:func:`parameters_cell`), and
    every name in ``parameters`` must be defined in it (papermill would
    otherwise inject the misspelt name and exit 0).  Raises
    :class:`ParameterError` naming the unknown names and listing the known ones.
    """
    _skip_slow_iri_checker()
    import nbformat  # slow imports (see the module docstring)
    import papermill as pm

    nb_path = Path(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["_name"] = nb_path.name
    parameters_cell(nb)
    known = pm.inspect_notebook(str(nb_path))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ParameterError(
            f"{nb_path.name}: unknown parameter(s) {', '.join(repr(u) for u in unknown)}; "
            f"the notebook's parameters are: {', '.join(known) or '(none)'}")
    return dict(known)


def _source_cell_number(src_nb, error_source: str, exec_index: int | None, params_index: int) -> int | None:
    """1-based number of the failing cell in the source notebook (papermill injects one cell)."""
    for i, c in enumerate(src_nb.cells):
        if c.cell_type == "code" and c.source == error_source:
            return i + 1
    if exec_index is None:
        return None
    return (exec_index if exec_index <= params_index else exec_index - 1) + 1


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def run_notebook(nb_path: str | Path, out_path: str | Path, parameters: Mapping[str, Any], cwd: str | Path,
                 timeout: int | None, kernel_name: str = KERNEL_NAME, failed_dir: str | Path | None = None) -> Path:
    """Execute one notebook with papermill's Python API; return ``out_path``.

    Before running, :func:`check_notebook_parameters`.  The kernel (default the project's,
    :func:`project_kernel_spec`: this Python), language, cell
    timeout (``execution_timeout``) and working folder are explicit; no
    progress bar, no output logging.  On failure the executed notebook
    (with papermill's error banner and the traceback) is copied to
    ``failed_dir / '<name>.failed.ipynb'`` (default: beside ``out_path``)
    and :class:`NotebookFailed` is raised naming the cell and the error.
    """
    _skip_slow_iri_checker()
    import nbformat  # slow imports (see the module docstring)
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_path, out_path = Path(nb_path), Path(out_path)
    check_notebook_parameters(nb_path, parameters)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(nb_path), str(out_path), parameters=dict(parameters),
            kernel_name=kernel_name, language="python", execution_timeout=timeout,
            # the kernel starts in ``cwd`` (nbclient's resources path), without papermill's ``cwd=``: that
            # changes this whole process's working folder while the notebook runs, which notebooks run side
            # by side (threads of one process) would change under each other
            cwd=None, resources={"metadata": {"path": str(Path(cwd).resolve())}},
            progress_bar=False, log_output=False,
            # the kernel's own log: errors only
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=project_kernel_manager(),
        )
        return out_path
    except Exception as e:
        src = nbformat.read(nb_path, as_version=4)
        params_index = parameters_cell(src)
        kept = None
        if out_path.exists():
            fdir = Path(failed_dir) if failed_dir is not None else out_path.parent
            fdir.mkdir(parents=True, exist_ok=True)
            kept = fdir / f"{nb_path.stem}.failed.ipynb"
            shutil.copyfile(out_path, kept)
        if isinstance(e, PapermillExecutionError):
            cell = _source_cell_number(src, e.source, e.cell_index, params_index)
            raise notebook_failed(nb_path.name, cell, _first_line(e.source), e.ename, one_line(e.evalue),
                                 kept, e.exec_count) from None
        # e.g. a cell timeout or a dead kernel: the culprit is the last cell that was started
        cell, line, count = None, "", None
        if out_path.exists():
            ex = nbformat.read(out_path, as_version=4)
            started = [(i, c) for i, c in enumerate(ex.cells) if c.cell_type == "code"
                       and c.get("metadata", {}).get("papermill", {}).get("start_time")]
            if started:
                i, c = started[-1]
                cell = _source_cell_number(src, c.source, i, params_index)
                line, count = _first_line(c.source), c.get("execution_count")
        raise notebook_failed(nb_path.name, cell, line, type(e).__name__, one_line(str(e)), kept, count) from e


def say_since(t0: float, text: str) -> None:
    """One progress line ``[seconds since t0] text``, written whole (notebooks run side by side report from
    their own threads)."""
    sys.stdout.write(f"[{time.perf_counter() - t0:7.1f} s] {text}\n")
    sys.stdout.flush()


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line for a message: terminal colour codes dropped, whitespace collapsed, cut at ``limit``."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _readable_dirs(root: Path) -> None:
    """Give the folders the umask's usual permissions (``mkdtemp`` makes them private, 0700)."""
    mask = os.umask(0)
    os.umask(mask)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        d.chmod(0o777 & ~mask)


def source_name(name: str) -> str:
    """The notebook file of a chain entry: ``"annual_report.ipynb#da"`` (the same notebook run again, here in
    Danish) is ``annual_report.ipynb``."""
    return name.split("#", 1)[0]


def executed_name(name: str) -> str:
    """The executed notebook's file of a chain entry: ``"annual_report.ipynb#da"`` -> ``annual_report.da.ipynb``."""
    src, _, tag = name.partition("#")
    return f"{Path(src).stem}.{tag}.ipynb" if tag else src


@dataclass
class Chain:
    """A chain of notebooks executed into one report folder by :func:`render`.

    ``out``: the report folder; ``notebooks``: the notebook names in the
    order they run (``name#tag`` runs a notebook again, e.g. in another language,
    executed as ``<stem>.<tag>.ipynb``), each with its ``parameters`` (paths relative to the
    report folder, the notebooks' working folder), the ``html`` file it
    becomes and the ``titles`` of that page; ``source``: the folder of the
    notebooks; ``inputs``: the input paths the output may not touch (for
    :class:`~model.artifacts.AtomicFolder`, e.g. ``{"--data": data}``);
    ``timeout``: seconds per cell; ``say``: progress lines.  A failed
    notebook is kept in ``<out>/../failed/``.
    """

    out: Path
    notebooks: tuple[str, ...]
    parameters: Mapping[str, Mapping[str, Any]]
    html: Mapping[str, str]
    titles: Mapping[str, str]
    source: Path = NOTEBOOKS
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timeout: int | None = 900
    kernel_name: str = KERNEL_NAME
    say: Callable[[str], None] = print
    #: HTML banner on every page (:func:`model.report.html.data_banner`: synthetic data), None for none; a
    #: mapping gives each notebook its own (e.g. in its language)
    banner: str | Mapping[str, str | None] | None = None
    #: the navigation line's pages as (label, file), in order; extra files (e.g. the method document) may be listed
    pages: tuple[tuple[str, str], ...] = ()
    #: what each notebook waits for: the chain entries (or :func:`render`'s ``jobs``) that must finish
    #: before it starts; None: every notebook waits for the one before it (one after the other)
    after: Mapping[str, tuple[str, ...]] | None = None
    #: notebooks (and jobs) run at the same time, each in its own kernel (:func:`default_workers`)
    workers: int = field(default_factory=lambda: default_workers())
    #: among the notebooks ready to start, these first (e.g. the longest), then the others in chain order
    start_first: tuple[str, ...] = ()

    def redactions(self, tmp: Path | None = None) -> dict[str, str]:
        """Absolute paths a published page shows by name only: inputs, the report folder, its temporary
        folder, the working folder and the home folder."""
        out = {str(Path.home()): "~", str(Path.cwd()): "."}
        for p in self.inputs.values():
            if p:
                out[str(Path(p).resolve())] = Path(p).resolve().name
                out[str(p)] = Path(p).resolve().name
        out[str(self.out)] = self.out.name
        if tmp is not None:
            out[str(tmp)] = self.out.name
            out[str(tmp.resolve())] = self.out.name
        return out

    @property
    def failed_dir(self) -> Path:
        return self.out.parent / "failed"

    def check(self, jobs: tuple[str, ...] = ()) -> None:
        """:func:`check_notebook_parameters` of every notebook: fail before any work on a bad parameter; every
        name in :attr:`after` must be a notebook of the chain or one of ``jobs``."""
        for name in self.notebooks:
            check_notebook_parameters(self.source / source_name(name), self.parameters[name])
        known = set(self.notebooks) | set(jobs)
        for name, before in self.prerequisites(jobs).items():
            unknown = [b for b in before if b not in known]
            if unknown:
                raise ValueError(f"chain entry {name} waits for {', '.join(unknown)}: not in the chain")

    def prerequisites(self, jobs: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
        """What each notebook and job waits for (:attr:`after`; None: the notebook before it)."""
        if self.after is None:
            order = list(self.notebooks)
            return {**{j: () for j in jobs},
                    **{n: ((order[i - 1],) if i else ()) for i, n in enumerate(order)}}
        return {**{j: tuple(self.after.get(j, ())) for j in jobs},
                **{n: tuple(self.after.get(n, ())) for n in self.notebooks}}


def default_workers() -> int:
    """How many notebooks a render runs at the same time: ``FORDELINGSMODEL_WORKERS`` if set, else the
    machine's cores (at most 4).  Each runs in its own kernel, so each needs its own core and memory."""
    env = os.environ.get("FORDELINGSMODEL_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"FORDELINGSMODEL_WORKERS={env!r}: give a whole number of notebooks run at once") from None
    return max(1, min(4, os.cpu_count() or 1))


def _run_graph(tasks: Mapping[str, Callable[[], None]], after: Mapping[str, tuple[str, ...]], workers: int,
               order: tuple[str, ...]) -> None:
    """Run ``tasks`` (name -> callable) so that each starts only when everything in ``after[name]`` finished,
    at most ``workers`` at a time, in ``order`` among those ready.  The first failure stops the start of
    more tasks; the tasks running then are waited for, and the failure is raised."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    done: set[str] = set()
    waiting = [n for n in order if n in tasks]
    running: dict[Any, str] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while waiting or running:
            if failure is None:
                for n in [n for n in waiting if all(b in done for b in after.get(n, ()))]:
                    if len(running) >= max(1, workers):
                        break
                    waiting.remove(n)
                    running[pool.submit(tasks[n])] = n
            if not running:
                if failure is None and waiting:
                    raise ValueError(f"chain entries {', '.join(waiting)} wait for each other")
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for f in finished:
                n = running.pop(f)
                if f.exception() is not None:
                    failure = failure or f.exception()
                else:
                    done.add(n)
    if failure is not None:
        raise failure


def render(chain: Chain, manifest: Callable[[Path, dict[str, Any], dict[str, list[str]]], dict[str, Any]],
           prepare: Callable[[Path], None] | None = None,
           jobs: Mapping[str, Callable[[Path], None]] | None = None) -> Path:
    """Execute a chain of notebooks into ``chain.out`` and convert each to HTML; return ``chain.out``.

    Steps: :meth:`Chain.check`; then in a temporary folder that replaces
    ``chain.out`` only when all succeeded: ``prepare(tmp)`` (the caller's
    files, e.g. ``validation.json``); each notebook
    executed to ``notebooks/<name>`` (:func:`run_notebook`) and converted to
    ``chain.html[name]`` (:func:`~model.report.html.to_html`), timed;
    ``manifest.json`` = ``manifest(tmp, timings, stderr)`` (timings per
    notebook ``{"execute", "html"}`` in seconds; the stderr texts left out
    of each page) plus ``outputs``, the SHA-256 of every file written.

    ``jobs`` (name -> ``job(tmp)``) are the caller's own steps run beside the
    notebooks (e.g. a computed run folder); notebooks wait for them when
    :attr:`Chain.after` says so.  Notebooks and jobs run ``chain.workers`` at a
    time, each notebook when what it waits for has finished
    (:attr:`Chain.after`); what each writes does not depend on that order.

    A failing notebook raises :class:`NotebookFailed` and leaves the old
    folder untouched (the notebooks still running are waited for, none is
    started); after a success, stale failed copies of the chain's
    notebooks are removed.
    """
    import threading

    jobs = dict(jobs or {})
    chain.check(tuple(jobs))
    out = chain.out
    timings: dict[str, Any] = {}
    stderr_log: dict[str, list[str]] = {}
    lock = threading.Lock()
    with AtomicFolder(out, inputs=dict(chain.inputs)) as tmp:
        if prepare is not None:
            prepare(tmp)
        (tmp / "notebooks").mkdir(exist_ok=True)
        redact = chain.redactions(tmp)

        def notebook(name: str) -> None:
            executed = tmp / "notebooks" / executed_name(name)
            chain.say(f"{name}: executing")
            t = time.perf_counter()
            try:
                run_notebook(chain.source / source_name(name), executed, chain.parameters[name], cwd=tmp,
                             timeout=chain.timeout, kernel_name=chain.kernel_name, failed_dir=chain.failed_dir)
            except NotebookFailed:
                chain.say(f"{name}: FAILED; nothing was written to {out}")
                raise
            t_exec = time.perf_counter() - t
            chain.say(f"{name}: executed in {t_exec:.1f} s; converting to HTML")
            t = time.perf_counter()
            banner = chain.banner.get(name) if isinstance(chain.banner, Mapping) else chain.banner
            stderr = to_html(executed, tmp / chain.html[name], chain.titles[name], banner=banner,
                             nav=nav_html(list(chain.pages), chain.html[name]) if chain.pages else None,
                             redact=redact)
            with lock:
                if stderr:
                    stderr_log[name] = stderr
                    chain.say(f"{name}: {len(stderr)} warning output(s) left out of the HTML (see manifest.json)")
                timings[name] = {"execute": round(t_exec, 3), "html": round(time.perf_counter() - t, 3)}

        def job(name: str) -> None:
            t = time.perf_counter()
            jobs[name](tmp)
            with lock:
                timings[name] = round(time.perf_counter() - t, 3)

        tasks: dict[str, Callable[[], None]] = {n: (lambda n=n: notebook(n)) for n in chain.notebooks}
        tasks.update({j: (lambda j=j: job(j)) for j in jobs})
        order = tuple(dict.fromkeys((*chain.start_first, *jobs, *chain.notebooks)))
        _run_graph(tasks, chain.prerequisites(tuple(jobs)), chain.workers, order)
        m = dict(manifest(tmp, timings, stderr_log))
        m["outputs"] = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True, default=str) + "\n",
                                           encoding="utf-8")
        _readable_dirs(tmp)
    for name in chain.notebooks:  # failures of earlier renders are now stale
        (chain.failed_dir / f"{Path(source_name(name)).stem}.failed.ipynb").unlink(missing_ok=True)
    if chain.failed_dir.is_dir() and not any(chain.failed_dir.iterdir()):
        chain.failed_dir.rmdir()
    return out
