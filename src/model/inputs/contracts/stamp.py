"""Validation stamps: a data folder validated once is not validated again until a byte changes.

A model verb validates only the tables it reads (:data:`MODEL_TABLES`: the
model never reads ``services.parquet``, 45 million lines at national scale).
When that validation passes, a *stamp* is written to the user's cache folder
(:func:`stamp_dir`; never into the data folder): a small JSON file named by
a key made of

* the sha256 of every file the validation read (the tables' files and the
  capacity reports), so a changed byte gives a new key,
* the sha256 of every contract in ``data_schema/`` (a changed rule re-validates),
* the years, planning year(s) and tables asked for, and the package version.

It holds the report's text (the warnings) and its summary line. The next run
with the same key prints them again and skips the checks: the price is one
pass of sha256 over the files, which the run's manifest needs anyway
(:func:`model.artifacts.sha256_file` remembers each digest within a process).
A failed validation is never stamped. ``FORDELINGSMODEL_NO_STAMP=1`` turns
stamps off; ``FORDELINGSMODEL_CACHE`` moves the cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from model.artifacts import sha256_file, user_cache
from model.inputs.contracts.folder import _capacity_report_sheets, _selected_tables, validate_folder
from model.inputs.contracts.report import ValidationReport
from model.inputs.contracts.spec import FOLDER_TABLES, cached_schema, schema_dir

_DIST = "fordelingsmodel"
#: The tables the model's verbs (fit, stability, sensitivity, report, clinic sheets) read: everything
#: but the service lines, which only ``ingest`` and the evaluation read.
MODEL_TABLES: tuple[str, ...] = tuple(t for t in FOLDER_TABLES if t != "services")


@dataclass(frozen=True)
class StampedReport:
    """What a stamp remembers of a passed validation: the report's text and its summary line."""

    text: str
    summary: str
    n_warnings: int
    by_rule: tuple[tuple, ...] = ()
    ok: bool = True
    from_stamp: bool = True
    n_errors: int = 0
    stamp: str = ""

    @property
    def note(self) -> str:
        """One line for the console: these bytes passed these checks before (the report itself is unchanged)."""
        return f"validated before: unchanged files and contracts (stamp {self.stamp[:12]}), checks skipped"

    @property
    def warnings(self) -> list[str]:
        return [self.text] * bool(self.n_warnings)

    def format(self) -> str:
        return self.text

    def summary_line(self) -> str:
        return self.summary

    def summary_frame(self) -> pd.DataFrame:
        """:meth:`ValidationReport.summary_frame` as it was when the stamp was written."""
        return pd.DataFrame(list(self.by_rule), columns=["severity", "file", "column", "rule", "count", "listed"])


def stamp_dir() -> Path:
    """The cache folder of stamps: ``$FORDELINGSMODEL_CACHE/validation``, else ``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``fordelingsmodel/validation``."""
    return user_cache("validation")


def _package_version() -> str:
    try:
        return metadata.version(_DIST)
    except metadata.PackageNotFoundError:
        return "unknown"


def _contracts_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(schema_dir().glob("*.yaml")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def stamp_key(folder: Path, years: Iterable[int] | None, tables: Iterable[str] | str | None,
              planning_year: object) -> str:
    """The stamp's key (hex sha256) for validating ``tables`` of ``folder`` for ``years`` and ``planning_year``.

    In: the arguments of :func:`validate_folder`. Out: a digest of the files
    those tables read (by content), the contracts, the arguments and the package version.
    """
    selected = sorted(_selected_tables(tables))
    files: dict[str, str] = {}
    for name in selected:
        path = folder / cached_schema(name)["path"]
        files[name] = sha256_file(path) if path.is_file() else "absent"
    for name, path, label in _capacity_report_sheets(folder / "capacity_reports"):
        if name in selected:
            files[label] = sha256_file(path)
    key = {
        "files": files, "contracts": _contracts_digest(), "tables": selected, "version": _package_version(),
        "years": None if years is None else sorted({int(y) for y in years}),
        "planning_year": planning_year if isinstance(planning_year, (str, type(None)))
        else sorted({int(y) for y in (planning_year if isinstance(planning_year, Iterable) else [planning_year])}),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


#: Where a stamp's texts named the folder they were made for (filled with the folder asked about when read).
_FOLDER = "\u0000folder\u0000"
#: The stamps' format: a stamp of another format is not used (the folder is validated again).
_FORMAT = 2


def validate_folder_stamped(folder: str | Path, years: Iterable[int] | None = None, *,
                            tables: Iterable[str] | str | None = MODEL_TABLES,
                            planning_year: object = None) -> ValidationReport | StampedReport:
    """:func:`validate_folder`, skipped when a stamp says the same bytes passed the same checks.

    Out: the full :class:`ValidationReport` when the checks ran (a passed one is
    stamped), or a :class:`StampedReport` (``ok`` True, the stored text) when a
    stamp matched. Stamps are best effort: an unwritable cache folder only means
    the next run validates again.
    """
    folder = Path(folder)
    years = None if years is None else sorted({int(y) for y in years})
    off = os.environ.get("FORDELINGSMODEL_NO_STAMP", "") not in ("", "0")
    key = None if off or not folder.is_dir() else stamp_key(folder, years, tables, planning_year)
    path = stamp_dir() / f"{key}.json" if key else None
    if path is not None and path.is_file():
        try:
            s = json.loads(path.read_text(encoding="utf-8"))
            if s.get("format") != _FORMAT:
                raise ValueError("a stamp of an earlier format")
            here = str(folder)  # a stamp may come from a copy of the same bytes elsewhere: name this folder
            return StampedReport(text=s["text"].replace(_FOLDER, here), summary=s["summary"].replace(_FOLDER, here),
                                 n_warnings=int(s["warnings"]),
                                 by_rule=tuple(tuple(r) for r in s["by_rule"]), stamp=key)
        except (OSError, ValueError, KeyError):
            pass  # a damaged stamp: validate again
    report = validate_folder(folder, years=years, tables=tables, planning_year=planning_year)
    if path is not None and report.ok:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            by_rule = [[str(r.severity), r.file, r.column, str(r.rule), int(r.count), int(r.listed)]
                       for r in report.summary_frame().itertuples(index=False)]
            tmp.write_text(json.dumps({"format": _FORMAT, "text": report.format().replace(str(folder), _FOLDER),
                                       "summary": report.summary_line().replace(str(folder), _FOLDER),
                                       "warnings": report.n_warnings, "folder": folder.name, "by_rule": by_rule}),
                           encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass
    return report
