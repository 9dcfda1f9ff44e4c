"""What a notebook's first cell checks, however the notebook is run (papermill, ``python -m model report``, JupyterLab).

Every notebook in ``notebooks/`` has one cell tagged ``parameters`` (plain
literals) and, as the first code cell after it, a check:

* :func:`check_parameters` stops the notebook when a parameter it does not
  know was given: papermill injects its parameters as a cell of its own
  (tagged ``injected-parameters``, first line ``# Parameters``) after the
  parameters cell and only *warns* about an unknown name ("Passed unknown
  parameter"), so ``-p citizen_per_capacity 1500`` would otherwise run the
  default 1,600.  The check reads the kernel's input history (IPython's
  ``In``): the cells run just before it are the injected cell and the
  parameters cell, and every name they assign must be a known parameter.
  A name a user adds to the parameters cell in JupyterLab is caught the same
  way.  :func:`model.report.notebooks.check_notebook_parameters` checks the
  same before any kernel starts, for the chains the package renders.
* :func:`require_data` stops a notebook opened in a fresh clone with one
  sentence saying what to run first (``No data at ../data/default: run `make
  data` first ...``).

A :class:`model.errors.ModelError` shows in a notebook as its one-line
message, without a traceback (see ``ModelError._render_traceback_``).
This module imports nothing heavy: it runs in every notebook's first cell.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from model.errors import ConfigError, InputError

#: First line of the cell papermill injects (its Python translator's comment).
INJECTED_MARK = "# Parameters"
#: Where the embedded data of a default data folder come from: folder name -> the make target writing it.
MAKE_TARGETS = {"default": "make data", "evaluation": "make eval-data"}
#: A small shipped data folder to try a notebook on (relative to notebooks/).
EXAMPLE_DATA = "../examples/small"


class ParameterError(ConfigError):
    """A notebook's parameters cell is missing, mis-tagged, duplicated, or a passed name is unknown."""


def assigned_names(source: str) -> list[str] | None:
    """Names a parameters-like cell assigns, in order; ``None`` if the cell is anything else.

    A parameters-like cell holds only assignments ``name = <literal>``
    (comments allowed), as the parameters cell and papermill's injected
    cell do.  Magics (lines starting ``%`` or ``!``) make it not one.
    """
    try:
        tree = ast.parse(source or "")
    except SyntaxError:
        return None
    names = []
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            return None
        try:
            ast.literal_eval(stmt.value)
        except ValueError:
            return None
        names.append(stmt.targets[0].id)
    return names


def _known(known: str | Iterable[str]) -> list[str]:
    return known.replace(",", " ").split() if isinstance(known, str) else list(known)


def unknown_parameters(history: list[str], known: str | Iterable[str]) -> list[str]:
    """Names assigned by the parameter cells just run that are not in ``known``.

    In: the kernel's input history up to and including the current cell
    (IPython's ``In``) and the notebook's parameter names.  The cells
    checked are those right before the current one that are papermill's
    injected cell or a parameters-like cell (:func:`assigned_names`)
    assigning at least one known name: at most two (injected, then the
    parameters cell).  A cell run on its own in between (say ``x = 5``) is
    not a parameters cell and is left alone.
    """
    known_set = set(_known(known))
    unknown: list[str] = []
    for source in list(reversed(history[:-1]))[:2]:
        names = assigned_names(source)
        injected = (source or "").lstrip().startswith(INJECTED_MARK)
        if names is None or not (injected or known_set & set(names)):
            break
        unknown += [n for n in names if n not in known_set and n not in unknown]
    return unknown


def check_parameters(namespace: Mapping[str, Any], known: str | Iterable[str]) -> None:
    """Stop the notebook when a parameter it does not know was given; otherwise do nothing.

    In: the notebook's ``globals()`` and its parameter names (a text of
    names separated by spaces or commas, or a list): exactly the names of
    its parameters cell.  Raises :class:`ParameterError` naming each unknown
    parameter, the closest known one, and listing the known ones.  Outside
    IPython (no input history) nothing is checked.
    """
    history = namespace.get("In")
    if not isinstance(history, list) or len(history) < 2:
        return
    names = _known(known)
    unknown = unknown_parameters(history, names)
    if unknown:
        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u, names, n=1)
            hints.append(f"{u!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(f"unknown parameter(s) {', '.join(hints)}: this notebook's parameters are "
                             f"{', '.join(names)}")


def require_data(data_dir: str | Path, table: str = "persons.parquet") -> Path:
    """``data_dir`` as a path when it holds ``table``; else :class:`InputError` with what to run first.

    The sentence names the folder and, for the embedded data folders
    (``data/default``, ``data/evaluation``), the make target that writes
    them; for any folder it suggests the small shipped example
    (``../examples/small`` from ``notebooks/``).
    """
    path = Path(data_dir)
    if (path / table).is_file():
        return path
    make = MAKE_TARGETS.get(path.name) if path.parent.name == "data" else None
    first = f"run `{make}` first" if make else "set data_dir to a data folder"
    what = "No data" if not path.exists() else f"No {table}"
    raise InputError(f"{what} at {data_dir}: {first} (or try data_dir = \"{EXAMPLE_DATA}\", "
                     f"the small example shipped with the project)")
