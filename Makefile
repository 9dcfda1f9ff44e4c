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

.PHONY: test lint report evaluation data eval-data check-data check-eval-data lab clean venv benchmark example

# The project's Jupyter kernel lives inside .venv (--sys-prefix), not in the user's home: it belongs to this clone.
KERNEL      := fordelingsmodel
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json

venv: $(VENV)/.installed $(KERNEL_SPEC)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(KERNEL_SPEC): $(VENV)/.installed
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
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

# the tests run side by side on the machine's cores (pytest-xdist; one test file is one unit of work, see
# tests/conftest.py); TEST_WORKERS=0 runs them in this one process
TEST_WORKERS ?= auto

test: lint
	$(PY) -m pytest -n $(TEST_WORKERS)

report: venv $(REPORT_DATA)
	$(PY) -m model report --year $(YEAR) --data $(DATA) --out $(OUT) $(if $(PREVIOUS),--previous $(PREVIOUS))

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

# JupyterLab on notebooks/ with the .venv's kernel first (JUPYTER_PREFER_ENV_PATH); as root (containers) it needs
# --allow-root.  The notebooks run as opened: without data they say what to run first (`make data`).
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
lab: venv
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab $(LAB_ROOT) notebooks/

# The small example folder shipped in examples/small (3,000 synthetic citizens, 2024-2025, no service lines):
# regenerated from the synthetic generator on demand, deterministic for one version of the generator.
EXAMPLE := examples/small
example: venv
	$(PY) -m model synth --out $(EXAMPLE) --persons 3000 --years 2024-2025 --seed 20250630 --no-services

benchmark: venv
	$(PY) benchmarks/fit_national.py --persons 1000000
	$(PY) benchmarks/fit_national.py --persons 6025511

clean:
	rm -rf $(VENV) reports data
