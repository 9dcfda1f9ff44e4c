"""A DuckDB connection that never shows a progress bar, also inside a notebook kernel.

In a Jupyter kernel DuckDB draws its progress bar with ipywidgets; without
ipywidgets installed, changing the ``enable_progress_bar`` setting itself can
raise (DuckDB imports the widget module to apply it). The bar is off by
default outside notebooks, so that one failure is caught and ignored: the
connection works either way, and validation runs inside Jupyter.
"""

from __future__ import annotations

import duckdb

__all__ = ["quiet_connect"]


def quiet_connect(database: str = ":memory:") -> "duckdb.DuckDBPyConnection":
    """Open a DuckDB connection with the progress bar off where DuckDB allows it.

    In: the database (default in memory). Out: the open connection. Only the
    error of ``SET enable_progress_bar = false`` (a DuckDB error or a failed
    import of ipywidgets) is swallowed; anything else raises.
    """
    con = duckdb.connect(database)
    try:
        con.execute("SET enable_progress_bar = false")
    except (duckdb.Error, ImportError):  # a notebook kernel without ipywidgets: the bar cannot be configured
        pass
    return con
