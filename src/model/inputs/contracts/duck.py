"""A DuckDB connection that never shows a progress bar, also inside a notebook kernel.

In a Jupyter kernel DuckDB draws its progress bar with ipywidgets; without
ipywidgets (or IPython) installed it refuses to change any progress-bar
setting: ``SET enable_progress_bar = false`` raises
``duckdb.InvalidInputException: ... Could not change the progress bar setting
because: ...``. DuckDB then shows no bar anyway, so exactly that error is
caught and ignored: the connection works either way, and validation and the
service-line aggregation run inside Jupyter.
"""

from __future__ import annotations

import duckdb
import numpy as np

__all__ = ["quiet_connect", "repeated_hashes"]


def quiet_connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the progress bar off where DuckDB allows it.

    In: the database (default in memory). Out: the open connection. Only
    DuckDB's refusal to change the progress-bar setting (see the module
    docstring) is swallowed; any other error raises.
    """
    con = duckdb.connect(database)
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException as exc:  # a notebook kernel without ipywidgets: no bar to switch off
        if "progress bar" not in str(exc):
            con.close()
            raise
    return con


def repeated_hashes(h: np.ndarray) -> np.ndarray:
    """The values that occur more than once in ``h`` (64-bit key hashes from DuckDB's ``hash()``), sorted.

    Both validation engines find duplicated keys this way: sorting the hashes in numpy takes a third of
    the CPU of a GROUP BY, and only rows whose hash repeats are then compared exactly."""
    srt = np.sort(np.asarray(h))
    return np.unique(srt[1:][srt[1:] == srt[:-1]])
