"""The prepared-year cache: one year of persons reduced to atoms, kept between runs.

Reading a national year of persons (6 million rows) and reducing it to atoms
(:func:`model.analyses.panel.read_year`) takes a few seconds; every verb and
every notebook kernel of the annual report used to do it again. The result, a
:class:`~model.core.cells.YearData`, is fully determined by

* the bytes of the files it is built from (persons, clinics, municipalities,
  population projection, fee index, the regions' capacity reports),
* the year, price year, insurance group and planning year asked for,
* the code that builds it (a digest of the package's source files),

so it is stored once in the user's cache folder under a key of all three
(:func:`key`) and loaded by later calls (:func:`load`): numpy arrays as
``.npy`` files, the small tables (municipalities, clinics, projection,
atoms, island reports) as a pickle. A changed byte in any input or in the
code gives a new key; entries beyond the newest :data:`KEEP` are removed.
The cache lives in the user's own folder (``$FORDELINGSMODEL_CACHE/years``,
else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``fordelingsmodel/years``), is
written atomically (a temporary folder renamed into place) and is best effort:
an unwritable folder or a damaged entry only means the year is read again.
``FORDELINGSMODEL_NO_CACHE=1`` turns it off. Person-level arrays stay on the
secure server's own disk, like the data folder they come from.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from dataclasses import fields
from functools import cache
from pathlib import Path

import numpy as np

from model.artifacts import caching_enabled, sha256_file, user_cache
from model.core.cells import YearData

#: How many prepared years the cache keeps (the newest by use).
KEEP = 12
#: Files a prepared year is built from (besides the capacity reports).
SOURCE_FILES = ("persons.parquet", "clinics.csv", "municipalities.csv", "population_projection.csv", "fee_index.csv")
_ARRAYS = ("clinic_form", "pm", "pc", "sex", "form", "atom", "atom_moments", "residents", "days")
_FRAMES = ("municipalities", "clinics", "projection", "atoms", "island_reports")
_SCALARS = ("year", "price_factor", "muni_codes", "clinic_ids", "has_contact_fee")


def cache_dir() -> Path:
    """The folder of prepared years (:func:`model.artifacts.user_cache` ``("years")``)."""
    return user_cache("years")


def enabled() -> bool:
    """False when ``FORDELINGSMODEL_NO_CACHE`` is set (:func:`model.artifacts.caching_enabled`)."""
    return caching_enabled()


@cache
def code_digest() -> str:
    """sha256 of the package's Python source (any code change gives new keys)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def key(data_dir: Path, year: int, price_year: int | None, insurance_group: int, planning_year: int) -> str | None:
    """The cache key (hex sha256) of a prepared year, or None when caching is off.

    In: the data folder and :func:`~model.analyses.panel.read_year`'s
    arguments (``price_year`` None is the year itself). Out: a digest of the
    source files' content, the capacity reports' content, the arguments and
    :func:`code_digest`.
    """
    if not enabled():
        return None
    d = Path(data_dir)
    files = {f: sha256_file(d / f) for f in SOURCE_FILES if (d / f).is_file()}
    reports = d / "capacity_reports"
    if reports.is_dir():
        files.update({f"capacity_reports/{p.name}": sha256_file(p) for p in sorted(reports.iterdir()) if p.is_file()})
    spec = {"files": files, "year": int(year), "price_year": int(price_year if price_year is not None else year),
            "insurance_group": int(insurance_group), "planning_year": int(planning_year), "code": code_digest(),
            "numpy": np.__version__}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def exists(k: str) -> bool:
    return (cache_dir() / k / "complete").is_file()


def load(k: str) -> YearData | None:
    """The prepared year stored under ``k``, or None (absent or damaged)."""
    folder = cache_dir() / k
    if not (folder / "complete").is_file():
        return None
    try:
        with open(folder / "tables.pickle", "rb") as f:
            small = pickle.load(f)
        arrays = {a: np.load(folder / f"{a}.npy") for a in _ARRAYS if (folder / f"{a}.npy").is_file()}
        fees = [np.load(folder / f"fee{i}.npy") for i in range(4)]
        os.utime(folder / "complete")  # newest by use
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, KeyError):
        return None
    return YearData(**small, **{a: arrays.get(a) for a in _ARRAYS}, fees=fees, files={})


def save(k: str, yd: YearData) -> None:
    """Store a prepared year under ``k`` (atomically; errors are ignored), then prune to :data:`KEEP` entries."""
    root = cache_dir()
    folder = root / k
    if (folder / "complete").is_file():
        return
    tmp = root / f".{k}.tmp{os.getpid()}"
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        small = {f: getattr(yd, f) for f in _SCALARS + _FRAMES}
        with open(tmp / "tables.pickle", "wb") as f:
            pickle.dump(small, f, protocol=5)
        for a in _ARRAYS:
            v = getattr(yd, a)
            if v is not None:
                np.save(tmp / f"{a}.npy", v)
        for i, fee in enumerate(yd.fees):
            np.save(tmp / f"fee{i}.npy", fee)
        (tmp / "complete").write_text("", encoding="utf-8")
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    _prune(root)


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if (p / "complete").is_file()),
                     key=lambda p: (p / "complete").stat().st_mtime_ns, reverse=True)
    for p in entries[KEEP:]:
        shutil.rmtree(p, ignore_errors=True)


# every field of YearData is either stored, rebuilt (``cache``) or recorded by the caller (``files``)
assert {f.name for f in fields(YearData)} == set(_ARRAYS + _FRAMES + _SCALARS) | {"fees", "files", "cache"}
