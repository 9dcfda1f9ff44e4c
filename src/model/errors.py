"""The package's own errors, and the exit code the command line gives each.

Every failure the package anticipates is one of these, raised where the
problem is found (core, inputs, analyses, report); :func:`model.cli.main`
prints it as one line, ``error: <message>`` (a failed validation: its
failure report), and exits with its ``exit_code``, never with a traceback.

==================  ==========================================================
ModelError          base; ``str(error)`` is the message
InputError          an input the model cannot use (file, column, row, value)
ConfigError         a parameter or configuration value outside what is allowed
EstimationError     the model cannot be computed on these data
ValidationFailed    data broke their contract; ``report`` holds every failure
NotebookFailed      a notebook of a report chain raised
OutputError         an output location refused before any work
==================  ==========================================================

The classes subclass ``ValueError`` as well, so code and tests that catch
``ValueError`` keep working.

Exit codes of ``python -m model``:

====  =====================================================================
0     success
1     validation failed (the full failure report is printed), a notebook failed, or
      ``check-release`` found a blocking check failed (the gate's table is printed)
2     bad input, arguments or configuration (:class:`InputError`, :class:`ConfigError`)
3     output refused (:class:`OutputError`): ``--out`` is, contains or lies
      inside an input, is an existing file, a folder this package did not
      write (without ``--force``), is not writable, or another run is
      writing to it; nothing was computed and nothing was written
4     the system refused (disk full, permission lost mid-run, ...) or an
      unexpected internal error; set ``MODEL_TRACEBACK=1`` to see the traceback
130   interrupted (Ctrl-C)
====  =====================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VALIDATION = 1
EXIT_INPUT = 2
EXIT_OUTPUT = 3
EXIT_SYSTEM = 4
EXIT_INTERRUPTED = 130


class ModelError(ValueError):
    """Base of the package's anticipated failures; ``str(error)`` is the one-line message."""

    exit_code = EXIT_VALIDATION

    def _render_traceback_(self) -> list[str]:
        """How IPython shows the error in a notebook: the message alone, no traceback (the error is anticipated;
        the notebook still stops, and papermill and nbclient still report it with its name and message)."""
        return f"{type(self).__name__}: {self}".splitlines()


class InputError(ModelError):
    """An input (data folder, file, column, row) the model cannot use."""

    exit_code = EXIT_INPUT


class ConfigError(ModelError):
    """A parameter or configuration value outside what the model allows."""

    exit_code = EXIT_INPUT


class EstimationError(ModelError):
    """The model cannot be computed on these data: a rank-deficient design, non-positive predicted use, no persons."""

    exit_code = EXIT_INPUT


class ValidationFailed(ModelError):
    """Input data broke their contract (``data_schema/``); ``report`` holds every failure found.

    ``report`` is a :class:`model.inputs.contracts.ValidationReport` (anything
    with ``format()``); the message is the report's first 40 failures.
    """

    exit_code = EXIT_VALIDATION

    def __init__(self, report, message: str | None = None):
        self.report = report
        super().__init__(message if message is not None else report.format(max_rows=40))


class NotebookFailed(ModelError):
    """A notebook of the report chain raised; the message names the notebook and the saved failed copy."""

    exit_code = EXIT_VALIDATION


class OutputError(ModelError):
    """An output location the package refuses to write (checked before any work starts)."""

    exit_code = EXIT_OUTPUT


EXIT_CODES_HELP = """exit codes:
  0    success
  1    validation failed (the full failure report is printed), a notebook failed,
       or check-release found a blocking check failed (the year may not be released)
  2    bad input, arguments or configuration
  3    output refused before any work: --out is, contains or lies inside an input
       (--data, --run, --previous), is an existing file, is a folder this package
       did not write (give --force to replace it), is not writable, or another run
       is writing to it; nothing is written
  4    the system refused (disk full, ...) or an unexpected internal error
       (MODEL_TRACEBACK=1 shows the traceback)
  130  interrupted

outputs: every folder is written beside its target (.<name>.tmp-*) and swapped in
atomically when the run succeeded; a run folder being replaced is never missing,
concurrent runs into one folder are refused while one is writing (a lock file
.<name>.lock beside the target), and temporary folders left by killed runs are
removed by the next run into the same place."""
