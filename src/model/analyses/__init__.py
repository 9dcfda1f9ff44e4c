"""Analyses: inputs (``model.inputs``) through the model (``model.core``) to tables and facts; no figures, no HTML.

``fit`` (the annual fit and its run folder), ``panel`` (years ready for the
model), ``stability`` and ``bootstrap``, ``sensitivity``, ``evaluation``
(with ``evaluation_prediction`` and ``evaluation_capacity``: the 2028
evaluation), ``data_checks`` and ``disclosure`` (which counts may be shown).
Never imports ``model.report``.
"""
