"""Presentation: notebooks run with papermill and rendered to HTML, tables, figures and clinic sheets.

``notebooks`` (one ``render`` of a notebook chain, used by the annual report
and the evaluation), ``html`` (offline nbconvert export), ``display`` (tables,
masking of small counts), ``figures`` (static matplotlib), ``annual`` and
``annual_tables`` (the annual report), ``evaluation`` (the 2028 evaluation's
views), ``clinic_sheets``.  The top layer below ``model.cli``: only the
command line and the notebooks import it.
"""
