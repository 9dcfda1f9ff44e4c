# The two commands: `make test` (lint, then the tests) and `make report`. Both create .venv on first use
# (with the dev tools: pytest, ruff, import-linter).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
YEAR   ?= 2025
# make generates synthetic data only into these default folders; a DATA= / EVAL_DATA= you name is used as it is
DEFAULT_DATA := data/default
DEFAULT_EVAL_DATA := data/evaluation
DATA   ?= $(DEFAULT_DATA)
PERSONS ?= 6025511
OUT    ?= reports/$(YEAR)
# the generator's sources: the default data are regenerated when they change
SYNTH_SOURCES := $(shell find src/model/inputs -path "*synthetic*" -name "*.py" 2>/dev/null)

.PHONY: test lint report evaluation data eval-data check-data check-eval-data lab clean venv benchmark

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --user --name fordelingsmodel --display-name "Python (fordelingsmodel)" >/dev/null
	touch $@

# The embedded default data: national-scale synthetic data, generated once (deterministic), only into
# data/default.  A DATA= folder you name is never generated into: it must already be a data folder.
$(DEFAULT_DATA)/.complete: $(VENV)/.installed $(SYNTH_SOURCES)
	$(PY) -m model synth --out $(DEFAULT_DATA) --persons $(PERSONS) --years 2021-$(YEAR)
	touch $@

data: $(DEFAULT_DATA)/.complete

# a data folder the user named: used as it is (never passed to synth)
check-data:
	@test -f '$(DATA)/persons.parquet' || { echo "error: DATA=$(DATA) is not a data folder (no persons.parquet); make generates synthetic data only into $(DEFAULT_DATA) (leave DATA unset)" >&2; exit 2; }

ifeq ($(DATA),$(DEFAULT_DATA))
REPORT_DATA := data
else
REPORT_DATA := check-data
endif

# lint: ruff (rules in pyproject.toml) and the layers contract (import-linter: imports only go down)
lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(PY) -m pytest

report: venv $(REPORT_DATA)
	$(PY) -m model report --year $(YEAR) --data $(DATA) --out $(OUT)

# The 2028 evaluation on its own embedded data: national-scale synthetic data through 2028 (the fit year
# 2025, later years under the 2027 fee structure, the regions' capacity reports over time), generated once.
EVAL_DATA  ?= $(DEFAULT_EVAL_DATA)
EVAL_YEARS ?= 2024-2028
FIT_YEAR   ?= 2025
EVAL_OUT   ?= reports/evaluation

$(DEFAULT_EVAL_DATA)/.complete: $(VENV)/.installed $(SYNTH_SOURCES)
	$(PY) -m model synth --out $(DEFAULT_EVAL_DATA) --persons $(PERSONS) --years $(EVAL_YEARS)
	touch $@

eval-data: $(DEFAULT_EVAL_DATA)/.complete

check-eval-data:
	@test -f '$(EVAL_DATA)/persons.parquet' || { echo "error: EVAL_DATA=$(EVAL_DATA) is not a data folder (no persons.parquet); make generates synthetic data only into $(DEFAULT_EVAL_DATA) (leave EVAL_DATA unset)" >&2; exit 2; }

ifeq ($(EVAL_DATA),$(DEFAULT_EVAL_DATA))
EVALUATION_DATA := eval-data
else
EVALUATION_DATA := check-eval-data
endif

evaluation: venv $(EVALUATION_DATA)
	$(PY) -m model evaluate --data $(EVAL_DATA) --fit-year $(FIT_YEAR) --out $(EVAL_OUT)

lab: venv
	$(VENV)/bin/jupyter lab notebooks/

benchmark: venv
	$(PY) benchmarks/fit_national.py --persons 1000000
	$(PY) benchmarks/fit_national.py --persons 6025511

clean:
	rm -rf $(VENV) reports data
