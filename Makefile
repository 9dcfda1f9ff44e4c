# The two commands: `make test` and `make report`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
YEAR   ?= 2025
DATA   ?= data/default
PERSONS ?= 6025511
OUT    ?= reports/$(YEAR)

.PHONY: test report evaluation data lab clean venv benchmark

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --user --name fordelingsmodel --display-name "Python (fordelingsmodel)" >/dev/null
	touch $@

# The embedded default data: national-scale synthetic data, generated once (deterministic).
$(DATA)/.complete: $(VENV)/.installed src/model/synthetic.py
	$(PY) -m model synth --out $(DATA) --persons $(PERSONS) --years 2021-$(YEAR)
	touch $@

data: $(DATA)/.complete

test: venv
	$(PY) -m pytest

report: venv data
	$(PY) -m model report --year $(YEAR) --data $(DATA) --out $(OUT)

# The 2028 evaluation on its own embedded data: national-scale synthetic data through 2028 (the fit year
# 2025, later years under the 2027 fee structure, the regions' capacity reports over time), generated once.
EVAL_DATA  ?= data/evaluation
EVAL_YEARS ?= 2024-2028
FIT_YEAR   ?= 2025
EVAL_OUT   ?= reports/evaluation

$(EVAL_DATA)/.complete: $(VENV)/.installed src/model/synthetic.py
	$(PY) -m model synth --out $(EVAL_DATA) --persons $(PERSONS) --years $(EVAL_YEARS)
	touch $@

evaluation: venv $(EVAL_DATA)/.complete
	$(PY) -m model evaluate --data $(EVAL_DATA) --fit-year $(FIT_YEAR) --out $(EVAL_OUT)

lab: venv
	$(VENV)/bin/jupyter lab notebooks/

benchmark: venv
	$(PY) benchmarks/fit_national.py --persons 1000000
	$(PY) benchmarks/fit_national.py --persons 6025511

clean:
	rm -rf $(VENV) reports data
