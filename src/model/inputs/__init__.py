"""Everything that reads, checks or writes the model's inputs.

``contracts`` (the data_schema/ contracts: spec, decoding, pandas and DuckDB
engines, folder checks, the failure report), ``readers`` (typed reads of one
file), ``tables`` (one year's input tables as :class:`~model.inputs.tables.Inputs`),
``panel`` (years of persons as arrays), ``services`` and ``service_sql``
(service lines -> fees), ``capacity_reports`` and ``capacity_sheets`` (the
regions' reports), ``reference`` (the embedded reference data) and
``synthetic`` (the national synthetic data set).  Imports ``model.config``,
``model.errors`` and ``model.artifacts``; never ``model.core``.
"""
