"""Output folders: where a verb may write, and writing there so that nothing is ever lost or half-written.

Every verb that writes (``fit``, ``report``, ``stability``, ``sensitivity``,
``evaluate``, ``clinic-sheets``, ``ingest``, ``synth``) goes through this
module:

* :func:`check_output` refuses, before any work starts, an output that is,
  contains or lies inside an input, the current folder (``--out .``) or a
  folder above it, an existing file where a folder is meant (or the other way
  round), an existing folder this package did not write (unless ``force``),
  and a location that cannot be written.
* :func:`guard_output` (the command line) checks, takes the output's lock
  (:func:`output_lock`; a second run into the same place is refused with a
  clear message) and remembers the inputs and ``--force`` so that the writer
  repeats the check as a last guard.
* :class:`AtomicFolder` writes into a temporary sibling
  ``.<name>.tmp-<pid>-*`` and swaps it with the target in one atomic step
  (:func:`swap_into_place`: ``renameat2(RENAME_EXCHANGE)`` on Linux, so the
  target path always holds a complete folder); it also removes temporary
  folders left by killed runs into the same place (:func:`clean_stale`).
* :func:`prepare_synth_folder` / :func:`finish_synth_folder`: ``synth``
  writes only into a new or empty folder or one it wrote before.

A folder "of this package" is recognised by :func:`output_kind`: a
``manifest.json`` naming one of the package's commands, a data folder with
``synthetic_manifest.json`` (written by ``synth``; replaced only by ``synth``),
a folder of clinic sheets, or a run's ``checks/`` folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from model.errors import OutputError

#: ``command`` values of the manifests this package writes (run folders).
RUN_COMMANDS = frozenset({"fit", "report", "stability", "sensitivity", "evaluate", "check-release", "stress-test"})
#: Marker of a data folder that ``synth`` is writing (removed when it has finished).
SYNTH_MARKER = ".fordelingsmodel-synth"
#: Kinds of existing folder a verb may replace (see :func:`output_kind`).
REPLACEABLE = ("empty", "run", "clinic-sheets", "checks")

_PROBE = ".fordelingsmodel-probe-"


# ---------------------------------------------------------------------------
# paths


def resolve(path: str | os.PathLike) -> Path:
    """Absolute path with ``~`` expanded and symbolic links resolved (the path need not exist)."""
    return Path(path).expanduser().resolve()


def _within(child: Path, parent: Path) -> bool:
    """True when ``child`` is ``parent`` or lies below it (both resolved)."""
    return child == parent or parent in child.parents


def input_paths(inputs: Mapping[str, str | os.PathLike | None] | None) -> list[tuple[str, Path]]:
    """``{label: path}`` -> ``[(label, resolved path)]``, plus the targets of symbolic links in input folders.

    A data folder whose files are links to files elsewhere has those files
    as inputs too: an output over their folder would destroy them.
    """
    out: list[tuple[str, Path]] = []
    for label, p in (inputs or {}).items():
        if p is None or str(p) == "":
            continue
        r = resolve(p)
        out.append((label, r))
        raw = Path(p).expanduser()
        if raw.is_dir():
            try:
                entries = list(raw.iterdir())
            except OSError:
                entries = []
            for e in entries:
                if e.is_symlink():
                    out.append((f"{label} (via the link {e.name})", resolve(e)))
    return out


# ---------------------------------------------------------------------------
# what an existing folder is


def _manifest_command(folder: Path) -> str | None:
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    c = m.get("command") if isinstance(m, dict) else None
    return c if isinstance(c, str) and c in RUN_COMMANDS else None


def _is_sheet_name(name: str) -> bool:
    return name == "index.html" or name.endswith(".da.html") or name.endswith(".en.html")


def output_kind(folder: str | os.PathLike) -> str | None:
    """What an existing folder is: ``"empty"``, ``"run"`` (a manifest.json of this package's commands),
    ``"synth"`` (a data folder written by ``synth``), ``"clinic-sheets"``, ``"checks"`` (a run's data
    checks), or None (a folder this package did not write)."""
    f = Path(folder)
    try:
        entries = [e for e in f.iterdir() if not e.name.startswith(_PROBE)]
    except OSError:
        return None
    if not entries:
        return "empty"
    if _manifest_command(f):
        return "run"
    if (f / "synthetic_manifest.json").is_file() or (f / SYNTH_MARKER).is_file():
        return "synth"
    if all(e.is_file() and not e.is_symlink() and _is_sheet_name(e.name) for e in entries):
        return "clinic-sheets"
    if f.name == "checks" and _manifest_command(f.parent):
        return "checks"
    return None


# ---------------------------------------------------------------------------
# the checks


def check_writable(out: Path, kind: str = "folder", given: str | None = None) -> None:
    """Refuse (:class:`OutputError`) when ``out`` could not be written: probe by creating a file.

    The probe goes into the nearest existing folder above ``out`` (where the
    temporary folder and the lock will be) and, for an existing folder, into
    ``out`` itself (its old contents must be removable).  Root ignores
    permission bits, so only a probe tells the truth.
    """
    where = out.parent
    while not where.exists():
        where = where.parent
    if not where.is_dir():
        raise OutputError(f"--out {given or out}: cannot create it, {where} is a file")
    places = [where]
    if kind == "folder" and out.is_dir():
        places.append(out)
    for place in places:
        try:
            fd, name = tempfile.mkstemp(prefix=_PROBE, dir=place)
            os.close(fd)
            os.unlink(name)
        except OSError as e:
            raise OutputError(f"--out {given or out}: cannot write in {place} ({e.strerror or e}); "
                              f"nothing was computed") from None


def check_output(out: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None] | None = None, *,
                 force: bool = False, kind: str = "folder", accept: tuple[str, ...] = REPLACEABLE,
                 allow_inside: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Check an output location before any work; return it resolved, or raise :class:`OutputError`.

    ``out``: the folder (``kind="folder"``) or file (``kind="file"``) to write.
    ``inputs``: ``{label: path}`` of everything the verb reads (e.g.
    ``{"--data": "data/default"}``); ``out`` may not be one, contain one or lie
    inside one (except at a path in ``allow_inside``, e.g. a run's own
    ``clinic_sheets/``).  An existing folder must be of a kind in ``accept``
    (see :func:`output_kind`) unless ``force``.  ``force`` never allows
    replacing an input, the current folder or a folder above it.
    """
    given = str(out)
    o = resolve(out)
    if o == Path(o.anchor) or o == resolve(Path.home()):
        raise OutputError(f"--out {given} is {o}; give a folder of its own for the output")
    allowed = {resolve(p) for p in allow_inside}
    for label, p in input_paths(inputs):
        if o == p:
            raise OutputError(f"--out {given} is the input {label} ({p}); inputs are never replaced: "
                              f"write the output elsewhere")
        if _within(p, o):
            raise OutputError(f"--out {given} contains the input {label} ({p}); the output would replace it: "
                              f"write the output elsewhere")
        if _within(o, p) and o not in allowed:
            where = "is a file of" if o.is_file() else "lies inside"
            raise OutputError(f"--out {given} {where} the input {label} ({p}); "
                              f"write the output outside the inputs")
    if kind == "folder":
        cwd = resolve(os.getcwd())
        if _within(cwd, o):
            where = "the current folder" if o == cwd else "a folder above the current folder"
            raise OutputError(f"--out {given} is {where} ({o}); the output replaces the whole folder: "
                              f"give a new folder for it, e.g. --out runs/name")
    if o.exists() or o.is_symlink():
        if kind == "folder" and not o.is_dir():
            raise OutputError(f"--out {given} is an existing file, not a folder; give a folder")
        if kind == "file" and o.is_dir():
            raise OutputError(f"--out {given} is an existing folder; give a file name")
        if kind == "folder":
            k = output_kind(o)
            if k not in accept and not force:
                what = {None: "an existing folder this package did not write (no manifest.json of a run)",
                        "synth": "a data folder written by synth"}.get(k, f"an output folder of this package ({k})")
                if "synth" in accept:
                    raise OutputError(f"--out {given} is {what}; synth writes only into a new or empty folder "
                                      f"or a data folder it wrote (--force to write into it anyway)")
                raise OutputError(f"--out {given} is {what}; it would be replaced: give a new or empty folder, "
                                  f"or --force to replace it")
    check_writable(o, kind, given)
    return o


# ---------------------------------------------------------------------------
# the lock: one writer per output location


_HELD: dict[tuple[str, int], list] = {}  # (lock path, thread) -> [fd, depth]


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside it."""
    t = resolve(target)
    return t.parent / f".{t.name}.lock"


def _lock_owner(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


@contextmanager
def output_lock(target: str | os.PathLike, wait: bool = True) -> Iterator[Path]:
    """Hold the lock of ``target`` (``fcntl.flock`` on ``.<name>.lock`` beside it) for the ``with`` block.

    ``wait=True`` waits for another writer to finish (runs serialise);
    ``wait=False`` raises :class:`OutputError` naming the other process.
    Re-entrant within a process.  The lock file is removed on release
    (whoever waits on a removed file retries on the new one).
    """
    lp = lock_path(target)
    key = (str(lp), threading.get_ident())  # re-entrant per thread; other threads wait like other processes
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield lp
        finally:
            _HELD[key][1] -= 1
        return
    created = [d for d in (lp.parent, *lp.parent.parents) if not d.exists()]  # removed again if left empty
    lp.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"--out {resolve(target)}: another run is writing to it{_lock_owner(lp)}; "
                              f"wait for it to finish or give another --out") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(lp).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file while we waited: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    _HELD[key] = [fd, 1]
    try:
        yield lp
    finally:
        del _HELD[key]
        try:
            os.unlink(lp)
        except OSError:
            pass
        os.close(fd)
        for d in created:  # deepest first: folders made only for the lock of a run that wrote nothing
            try:
                d.rmdir()
            except OSError:
                break


# ---------------------------------------------------------------------------
# stale temporary folders


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str, stem: str) -> int | None:
    """The process id in ``.<stem>.tmp-<pid>-xxxx`` / ``.<stem>.old-<pid>-xxxx`` (None in older names)."""
    rest = name[len(stem):]
    head = rest.split("-", 2)
    if len(head) >= 2 and head[1].isdigit():
        return int(head[1])
    return None


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Temporary folders and files this package left beside ``target`` whose process is gone.

    Names: ``.<name>.tmp-*`` and ``.<name>.old-*`` (folders), ``.<name>.*.tmp``
    (files of ``ingest``).  Call with the target's lock held, so that no live
    writer of this package uses them.
    """
    t = resolve(target)
    if not t.parent.is_dir():
        return []
    out = []
    n = glob.escape(t.name)
    for pattern, stem in ((f".{n}.tmp-*", f".{t.name}.tmp"), (f".{n}.old-*", f".{t.name}.old"), (f".{n}.*.tmp", None)):
        for p in sorted(t.parent.glob(pattern)):
            pid = _owner_pid(p.name, stem) if stem else None
            if pid is not None and _pid_alive(pid):
                continue
            out.append(p)
    return out


def clean_stale(target: str | os.PathLike) -> list[Path]:
    """Remove :func:`stale_temporaries` of ``target`` (they may hold small counts); return what went."""
    gone = []
    for p in stale_temporaries(target):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                p.unlink()
            except OSError:
                pass
        if not p.exists():
            gone.append(p)
    return gone


# ---------------------------------------------------------------------------
# the atomic swap


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2 = None


def _load_renameat2():
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        if sys.platform.startswith("linux"):
            try:
                f = ctypes.CDLL(None, use_errno=True).renameat2
                f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                f.restype = ctypes.c_int
                _renameat2 = f
            except (AttributeError, OSError):
                pass
    return _renameat2


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if not supported."""
    f = _load_renameat2()
    if not f:
        return False
    if f(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # the kernel or the file system cannot exchange
    raise OSError(e, f"cannot swap {a} and {b}: {os.strerror(e)}")


def _before_swap(tmp: Path, target: Path) -> None:
    """Called just before the swap (a seam for tests that kill a run mid-write; does nothing)."""


def swap_into_place(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target``; remove the old ``target``.

    With an existing target the two are exchanged in one step (``target``
    always holds a complete folder); where the system cannot exchange, the
    old folder is renamed aside first (a short window without ``target``).
    """
    if target.exists():
        if exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
            return
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.rename(tmp, target)


# ---------------------------------------------------------------------------
# what the command line asked for (the writer's last guard)


@dataclass(frozen=True)
class Policy:
    """The inputs and ``--force`` of the verb writing to one output (set by :func:`guard_output`)."""

    inputs: Mapping[str, str | os.PathLike | None] = field(default_factory=dict)
    force: bool = False
    accept: tuple[str, ...] = REPLACEABLE
    allow_inside: tuple[str | os.PathLike, ...] = ()


_POLICY: dict[str, Policy] = {}


@contextmanager
def guard_output(out: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None] | None = None, *,
                 force: bool = False, kind: str = "folder", accept: tuple[str, ...] = REPLACEABLE,
                 allow_inside: tuple[str | os.PathLike, ...] = ()) -> Iterator[Path]:
    """For a verb, before any work: check ``out`` (:func:`check_output`), take its lock without waiting
    (a concurrent run is refused), remove stale temporaries, and register the inputs so that the writer
    checks again.  Yields the resolved output path."""
    o = check_output(out, inputs, force=force, kind=kind, accept=accept, allow_inside=allow_inside)
    with output_lock(o, wait=False):
        clean_stale(o)
        key = str(o)
        _POLICY[key] = Policy(dict(inputs or {}), force, accept, tuple(allow_inside))
        try:
            yield o
        finally:
            _POLICY.pop(key, None)


@dataclass
class AtomicFolder:
    """Write into a temporary sibling folder; on success swap it with ``target`` atomically.

    Used as a context manager that yields the temporary folder.  On entry:
    the output is checked (:func:`check_output` with ``inputs``/``force``, or
    what the command line registered for ``target``), its lock is taken
    (concurrent writers serialise) and stale temporaries are removed.  On an
    exception the temporary folder is removed and ``target`` is left as it
    was; on success the new folder replaces ``target`` in one step
    (:func:`swap_into_place`).
    """

    target: Path
    inputs: Mapping[str, str | os.PathLike | None] | None = None
    force: bool | None = None
    allow_inside: tuple[str | os.PathLike, ...] = ()

    def __enter__(self) -> Path:
        self.target = resolve(self.target)
        pol = _POLICY.get(str(self.target), Policy())
        inputs = {**pol.inputs, **(self.inputs or {})}
        force = pol.force if self.force is None else self.force
        check_output(self.target, inputs, force=force, accept=pol.accept,
                     allow_inside=(*pol.allow_inside, *self.allow_inside))
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._lock = output_lock(self.target, wait=True)
        self._lock.__enter__()
        try:
            clean_stale(self.target)
            if self.target.exists() and not self.target.is_dir():  # appeared while we waited
                raise OutputError(f"--out {self.target} is an existing file, not a folder; give a folder")
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-",
                                             dir=self.target.parent))
            os.chmod(self.tmp, 0o755)  # mkdtemp makes 0700; the finished folder should read like any other
        except BaseException:
            self._lock.__exit__(*sys.exc_info())
            raise
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
                return False
            try:
                _before_swap(self.tmp, self.target)
                swap_into_place(self.tmp, self.target)
            except BaseException:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
            return False
        finally:
            self._lock.__exit__(None, None, None)


# ---------------------------------------------------------------------------
# synth: only into a new or empty folder, or one it wrote


def prepare_synth_folder(out: str | os.PathLike) -> Path:
    """Create ``out`` for ``synth`` and mark it as being written; return it.

    Refuses (:class:`OutputError`) an existing file and a non-empty folder
    that ``synth`` did not write (no ``synthetic_manifest.json``), unless the
    command line gave ``--force``.  The marker is removed by
    :func:`finish_synth_folder`; a killed ``synth`` leaves it, so the next
    ``synth`` recognises the folder as its own.
    """
    o = resolve(out)
    pol = _POLICY.get(str(o))
    if o.exists() and not o.is_dir():
        raise OutputError(f"--out {out} is an existing file, not a folder; give a folder")
    if o.is_dir() and output_kind(o) not in ("empty", "synth") and not (pol and pol.force):
        raise OutputError(f"--out {out} is a folder that synth did not write (no synthetic_manifest.json) "
                          f"and is not empty; synth writes only into a new or empty folder or its own data "
                          f"(--force to write into it anyway)")
    o.mkdir(parents=True, exist_ok=True)
    (o / SYNTH_MARKER).write_text(json.dumps({"written_by": "fordelingsmodel", "command": "synth",
                                              "complete": False}) + "\n", encoding="utf-8")
    return o


def finish_synth_folder(out: str | os.PathLike) -> None:
    """Remove the in-progress marker of :func:`prepare_synth_folder` (``synthetic_manifest.json`` now marks it)."""
    (resolve(out) / SYNTH_MARKER).unlink(missing_ok=True)


__all__ = [
    "AtomicFolder", "OutputError", "Policy", "REPLACEABLE", "RUN_COMMANDS", "SYNTH_MARKER", "check_output",
    "check_writable", "clean_stale", "exchange", "finish_synth_folder", "guard_output", "input_paths",
    "lock_path", "output_kind", "output_lock", "prepare_synth_folder", "resolve", "stale_temporaries",
    "swap_into_place",
]


_DIGESTS: dict[tuple, str] = {}
_DIGEST_LOCKS: dict[tuple, threading.Lock] = {}
_DIGEST_LOCKS_LOCK = threading.Lock()


def user_cache(part: str) -> Path:
    """The folder ``part`` of the package's cache in the user's own folder: ``$FORDELINGSMODEL_CACHE/<part>``,
    else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``fordelingsmodel/<part>`` (not created here)."""
    base = os.environ.get("FORDELINGSMODEL_CACHE")
    if base:
        return Path(base) / part
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fordelingsmodel" / part


def caching_enabled() -> bool:
    """False when ``FORDELINGSMODEL_NO_CACHE`` is set (to anything but 0): every cache of the package is off."""
    return os.environ.get("FORDELINGSMODEL_NO_CACHE", "") in ("", "0")


#: content-keyed results of this process (pickled: every call gets its own copy), by (part, key)
_KEPT: dict[tuple[str, str], bytes] = {}
#: how many entries each part of the cache folder keeps (the newest by use)
CACHE_KEEP = 2000


def content_key(path: str | os.PathLike, *parts: str | bytes) -> str | None:
    """A cache key for a result computed from a file: its content (sha256) and ``parts`` (e.g. the code and
    library versions that compute it); None when caching is off (:func:`caching_enabled`)."""
    if not caching_enabled():
        return None
    h = hashlib.sha256(sha256_file(Path(path)).encode())
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()


def kept(part: str, key: str | None, build: Callable[[], Any]) -> Any:
    """``build()``, kept by ``key`` in this process and in the user's cache folder (:func:`user_cache`
    ``(part)``, written atomically, best effort; a damaged entry is built again); every call returns its own
    copy (unpickled).  ``key`` None (caching off): ``build()`` every time."""
    if key is None:
        return build()
    blob = _KEPT.get((part, key))
    f = user_cache(part) / f"{key}.pickle"
    if blob is None:
        try:
            blob = f.read_bytes()
            os.utime(f)  # newest by use
        except OSError:
            blob = None
    value = _NOTHING
    if blob is not None:
        try:
            value = pickle.loads(blob)
        except Exception:  # a damaged entry of the cache folder: built again
            value = _NOTHING
    if value is _NOTHING:
        blob = pickle.dumps(build(), protocol=5)
        value = pickle.loads(blob)
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=f.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, f)
            entries = sorted(f.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in entries[CACHE_KEEP:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass
    _KEPT[(part, key)] = blob
    return value


_NOTHING = object()


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks.

    Remembered within the process by (path, device, inode, size, modification time in ns), so the
    validation stamp and the run's manifest hash a 200 MB persons file once per run.
    """
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    with _DIGEST_LOCKS_LOCK:
        lock = _DIGEST_LOCKS.setdefault(key, threading.Lock())
    with lock:  # two threads asking for the same file (validation and reading side by side) hash it once
        if key not in _DIGESTS:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while b := f.read(chunk):
                    h.update(b)
            _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


# ---------------------------------------------------------------------------
# writing a run: temporary folder, then move into place

def git_commit(root: Path | None = None) -> str | None:
    """The current git commit of the project, or None outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root or Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except Exception:
        return None


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine the results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("fordelingsmodel", "numpy", "pandas", "pyarrow", "duckdb", "statsmodels", "scipy", "pandera",
                 "matplotlib", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    import platform

    out["python"] = platform.python_version()
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV: fixed float format, LF line endings, UTF-8."""
    df.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


# ---------------------------------------------------------------------------
# what a data folder is: the project's synthetic data or an extract


def data_origin(folder: str | os.PathLike | None) -> dict:
    """What the data in ``folder`` are, as the folder's own files say (not its name).

    Out: ``{"folder": <the folder's name only>, "synthetic": bool, ...}``; for
    the project's synthetic data (a ``synthetic_manifest.json`` written by
    ``synth``) also ``persons``, ``years`` and ``seed`` from that manifest.
    A folder without it is treated as a register extract (``synthetic`` False).
    Only the folder's name is kept: published pages never show a machine's path.
    """
    if folder is None:
        return {"folder": None, "synthetic": False}
    f = Path(folder)
    out: dict = {"folder": f.resolve().name, "synthetic": False}
    m = f / "synthetic_manifest.json"
    if m.is_file():
        try:
            p = json.loads(m.read_text(encoding="utf-8")).get("parameters", {})
        except (OSError, ValueError):
            p = {}
        out.update(synthetic=True, persons=p.get("persons"), years=p.get("years"), seed=p.get("seed"))
    return out
