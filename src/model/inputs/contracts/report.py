"""The failure record and the report that collects every failure of a table or data folder.

:class:`Failure` is the one failure record of the package's input checks: the
contracts' validation and the capacity reports' annex rules
(:mod:`model.inputs.capacity_reports`, which fill in ``sheet``, ``message``
and ``column_letter`` as well). :class:`ValidationReport` collects failures
with a full count per rule and at most ``max_examples`` examples each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.errors import EXIT_INPUT, InputError, ValidationFailed
from model.inputs.contracts.spec import DEFAULT_MAX_EXAMPLES, ERROR, ROW_CONVENTION, WARNING

# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


class InputRejected(ValidationFailed, InputError):
    """A file read for use broke its contract: the report's errors, raised by a reader, not by a check.

    Raised by :meth:`ValidationReport.raise_if_errors` and so by the readers
    (:func:`model.inputs.contracts.load_table`, :func:`~model.inputs.contracts.read_table`,
    :func:`model.inputs.readers.read_typed`, ...). A
    :class:`model.errors.ValidationFailed` (``.report``, the message is the
    report's first 40 failures) with the exit code of bad input (2, as
    :class:`model.errors.InputError`): a verb that reads a file it cannot use
    stops as on any bad input, while the ``validate`` verb's own verdict is
    exit code 1.
    """

    exit_code = EXIT_INPUT


@dataclass(frozen=True)
class Failure:
    """One failed check: the package's one failure record for its input checks.

    file: file name (or the name given to :func:`validate_table`).
    column: column name; for rules over several columns, the names joined by
    ", "; ``None`` for a failure of the whole file.
    row: 1-based data row (see :data:`ROW_CONVENTION`), ``None`` for a whole
    file or column; in a capacity report, the Excel row as the user sees it
    (headings in row 1) or the CSV record number. value: the offending value
    as found (text as read, or a description such as
    ``"vacant_capacities=3; capacities=2"``).
    rule: the contract rule in the contract's words, e.g. ``"maximum: 125"``;
    in a capacity report a stable identifier such as ``"extra_column"``.
    severity: ``"error"`` or ``"warning"``.
    sheet, message, column_letter: a capacity report's sheet, the
    explanation for the region, and the spreadsheet column (``None`` for the
    contracts' failures, whose rule text is the explanation).
    """

    file: str | None
    column: str | None
    row: int | None
    value: Any
    rule: str
    severity: str = ERROR
    sheet: str | None = None
    message: str | None = None
    column_letter: str | None = None

    def __str__(self) -> str:
        """``file, sheet 'S', row R, column 'C' (L): value 'V': message [rule]`` (the parts known)."""
        where = [str(self.file)]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'" + (f" ({self.column_letter})" if self.column_letter else ""))
        elif self.column_letter:
            where.append(f"column {self.column_letter}")
        val = f" value {self.value!r}:" if self.value is not None else ""
        if self.message is None:
            return f"{', '.join(where)}:{val} {self.rule}"
        return f"{', '.join(where)}:{val} {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, Any]:
        """The record as a dict of its fields."""
        return asdict(self)


class ValidationReport:
    """All failures found in one table or data folder.

    ``failures`` lists the examples (at most ``max_examples`` per file,
    column, rule and severity); ``counts`` holds the full number of failures
    per (severity, file, column, rule), so a rule broken in 6 million rows is
    listed with 20 examples and the count 6,000,000.
    """

    def __init__(self, max_examples: int = DEFAULT_MAX_EXAMPLES, source: str | None = None):
        self.max_examples = max_examples
        self.source = source
        self.failures: list[Failure] = []
        self.counts: dict[tuple, int] = {}
        self._shown: dict[tuple, int] = {}

    # -- building ---------------------------------------------------------
    def add(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        *,
        row: int | None = None,
        value: Any = None,
        severity: str = ERROR,
        count: int = 1,
    ) -> None:
        """Record one failure (counted ``count`` times)."""
        key = (severity, file, column, rule)
        self.counts[key] = self.counts.get(key, 0) + count
        if self._shown.get(key, 0) < self.max_examples:
            self._shown[key] = self._shown.get(key, 0) + 1
            self.failures.append(Failure(file, column, row, value, rule, severity))

    def add_rows(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        positions: np.ndarray | Sequence[int],
        values: Sequence[Any] | Callable[[np.ndarray], Sequence[Any]],
        *,
        severity: str = ERROR,
    ) -> None:
        """Record failures at 0-based ``positions`` (reported as rows
        position + 1). ``values`` is either aligned with ``positions`` or a
        function of the first ``max_examples`` positions (so 6 million values
        are never formatted)."""
        positions = np.asarray(positions)
        n = len(positions)
        if n == 0:
            return
        key = (severity, file, column, rule)
        room = max(self.max_examples - self._shown.get(key, 0), 0)
        shown = positions[:room]
        vals = values(shown) if callable(values) else list(values)[:room]
        for pos, val in zip(shown, vals):
            self.failures.append(Failure(file, column, int(pos) + 1, py_value(val), rule, severity))
        self._shown[key] = self._shown.get(key, 0) + len(shown)
        self.counts[key] = self.counts.get(key, 0) + n

    def add_found(
        self,
        file: str | None,
        column: str | None,
        rule: str,
        rows: Sequence[int | None],
        values: Sequence[Any],
        count: int,
        *,
        severity: str = ERROR,
    ) -> None:
        """Record ``count`` failures of which ``rows`` (1-based data rows,
        ascending) with ``values`` are the first ones; used where the
        failures were counted elsewhere (the DuckDB path) and only the
        examples were fetched."""
        if count <= 0:
            return
        key = (severity, file, column, rule)
        room = max(self.max_examples - self._shown.get(key, 0), 0)
        shown = list(zip(rows, values))[:room]
        for row, val in shown:
            self.failures.append(Failure(file, column, None if row is None else int(row), py_value(val), rule, severity))
        self._shown[key] = self._shown.get(key, 0) + len(shown)
        self.counts[key] = self.counts.get(key, 0) + int(count)

    def extend(self, other: ValidationReport | None) -> ValidationReport:
        """Merge another report into this one (examples stay capped)."""
        if other is None:
            return self
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        for f in other.failures:
            key = (f.severity, f.file, f.column, f.rule)
            if self._shown.get(key, 0) < self.max_examples:
                self._shown[key] = self._shown.get(key, 0) + 1
                self.failures.append(f)
        return self

    # -- reading ----------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def errors(self) -> list[Failure]:
        """The listed error examples."""
        return [f for f in self.failures if f.severity == ERROR]

    @property
    def warnings(self) -> list[Failure]:
        """The listed warning examples."""
        return [f for f in self.failures if f.severity == WARNING]

    @property
    def n_errors(self) -> int:
        """Total number of errors, including those not listed."""
        return sum(n for (sev, *_), n in self.counts.items() if sev == ERROR)

    @property
    def n_warnings(self) -> int:
        """Total number of warnings, including those not listed."""
        return sum(n for (sev, *_), n in self.counts.items() if sev == WARNING)

    @property
    def files(self) -> list[str]:
        """Files with at least one failure, in order of first appearance."""
        return list(dict.fromkeys(f for (_, f, _, _) in self.counts if f is not None))

    def to_frame(self) -> pd.DataFrame:
        """The listed failures as a DataFrame with columns file, column, row,
        value, rule, severity (errors first); ``row`` is nullable Int64."""
        cols = ["file", "column", "row", "value", "rule", "severity"]
        rows = [asdict(f) for f in self._sorted()]
        out = pd.DataFrame(rows, columns=cols).astype({"row": "Int64", "value": object})
        return out

    def summary_frame(self) -> pd.DataFrame:
        """One row per (severity, file, column, rule) with the full count and
        the number of examples listed."""
        rows = [
            {"severity": s, "file": f, "column": c, "rule": r, "count": n, "listed": self._shown.get((s, f, c, r), 0)}
            for (s, f, c, r), n in self.counts.items()
        ]
        out = pd.DataFrame(rows, columns=["severity", "file", "column", "rule", "count", "listed"])
        return out.sort_values("severity", kind="stable", key=lambda s: s != ERROR).reset_index(drop=True)

    def summary_line(self) -> str:
        """One line: verdict, error and warning counts, and the files
        concerned, e.g. ``Data validation FAILED: 3 errors (3 rules), 1
        warning (1 rule) in clinics.csv, persons.parquet``."""
        verdict = "OK" if self.ok else "FAILED"
        ne, nw = self.n_errors, self.n_warnings
        re_ = sum(1 for k in self.counts if k[0] == ERROR)
        rw = sum(1 for k in self.counts if k[0] == WARNING)

        def part(n: int, word: str, rules: int) -> str:
            s = f"{n:,} {word}{'s' if n != 1 else ''}"
            return s + (f" ({rules} rule{'s' if rules != 1 else ''})" if n else "")

        where = f" in {', '.join(self.files)}" if self.files else ""
        src = f" of {self.source}" if self.source else ""
        return f"Data validation{src} {verdict}: {part(ne, 'error', re_)}, {part(nw, 'warning', rw)}{where}"

    def format(self, max_rows: int = 60, per_rule: int = 5, value_width: int = 60) -> str:
        """A readable report: the summary line, the row convention, and a
        table of severity, file, column, row, value and rule, errors first,
        with at most ``per_rule`` examples per (file, column, rule) followed
        by a "... N more" line with the full count, and at most ``max_rows``
        example lines in all (:meth:`to_frame` has every listed example)."""
        lines = [self.summary_line()]
        if not self.counts:
            return lines[0]
        lines.append(f"({ROW_CONVENTION}; '-' = whole file or column)")
        body: list[tuple[str, ...]] = []
        more: dict[int, str] = {}
        printed: dict[tuple, int] = {}
        omitted = 0
        for f in self._sorted():
            key = (f.severity, f.file, f.column, f.rule)
            if printed.get(key, 0) >= per_rule:
                continue
            if len(body) >= max_rows:
                omitted += 1
                continue
            body.append((
                f.severity,
                f.file or "-",
                f.column or "-",
                "-" if f.row is None else str(f.row),
                _short(f.value, value_width) if (f.value is not None or f.row is not None) else "-",
                f.rule,
            ))
            printed[key] = printed.get(key, 0) + 1
            rest = self.counts[key] - printed[key]
            more[len(body) - 1] = (
                f"... {rest:,} more failing {'rows' if f.row is not None else 'cases'} for "
                f"{f.file} / {f.column or '-'} / {f.rule}" if rest > 0 else ""
            )
        head = ("severity", "file", "column", "row", "value", "rule")
        widths = [max(len(head[i]), *(len(r[i]) for r in body)) for i in range(5)]
        fmt = lambda r: "  ".join(  # noqa: E731
            [r[i].rjust(widths[i]) if i == 3 else r[i].ljust(widths[i]) for i in range(5)] + [r[5]]
        )
        lines.append(fmt(head))
        lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
        for i, r in enumerate(body):
            lines.append(fmt(r))
            nxt_same = i + 1 < len(body) and body[i + 1][:3] == r[:3] and body[i + 1][5] == r[5]
            if more.get(i) and not nxt_same:
                lines.append(" " * (sum(widths[:3]) + 6) + more[i])
        if omitted:
            lines.append(f"... {omitted:,} more listed failures not printed (max_rows={max_rows}); see .to_frame()")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        """Raise :class:`InputRejected` (a :class:`model.errors.ValidationFailed`) if the report holds an error."""
        if not self.ok:
            raise InputRejected(self)

    def _sorted(self) -> list[Failure]:
        """Errors first; the examples of one (file, column, rule) together,
        in order of first appearance."""
        order: dict[tuple, int] = {}
        for f in self.failures:
            order.setdefault((f.severity, f.file, f.column, f.rule), len(order))
        return sorted(self.failures, key=lambda f: (f.severity != ERROR, order[(f.severity, f.file, f.column, f.rule)]))

    def __repr__(self) -> str:
        return f"<ValidationReport {self.summary_line()}>"

    def __str__(self) -> str:
        return self.format()

def py_value(v: Any) -> Any:
    """A plain Python value for the report (None for missing values)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _short(v: Any, width: int) -> str:
    if v is None:
        return "<missing>" if width else ""
    s = repr(v) if isinstance(v, str) and (v != v.strip() or v == "") else str(v)
    return s if len(s) <= width else s[: width - 1] + "…"

