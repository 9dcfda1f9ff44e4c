"""The model itself, on plain arrays and data frames: no files, no figures.

``features`` (the citizen characteristics and the regression's terms),
``cells`` (a year of persons reduced to atoms and cells, the engine's exact
cell-level fit), ``regression`` (OLS on cells, equal to statsmodels on
persons) and ``within`` (clinic fixed effects), ``weights`` (disease
weights), ``capacity`` and ``clinics`` (the rules of steps 4-6),
``chain`` (the one implementation of steps 3-6), ``price_list`` and
``measures``.  Imports only ``model.config`` and ``model.errors``; never
``model.inputs`` (the two layers meet in ``model.analyses``).
"""
