# funnelsim: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NB_BUILD := build/notebooks
REPORT := reports/demo

.PHONY: install demo test test-fast lint bench notebooks clean

# the modules compiled at install (src/funnelsim/compiled.py): editing one reinstalls, to compile
# it again (until then funnelsim runs it from source, with a warning)
COMPILED_SRC := $(shell $(PYTHON) -c "import pathlib, runpy; c = runpy.run_path('src/funnelsim/compiled.py'); \
  print(' '.join(str(c['source_path'](m, pathlib.Path('src'))) for m in c['MODULES']))")

$(STAMP): pyproject.toml setup.py $(COMPILED_SRC)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

## demo: inbound-heavy against outbound-heavy at the same budget: side by side with records,
## then paired differences on common random numbers, then inbound-heavy against a variant of
## itself with two more SDRs (no second file), then the budget-split study, the budget split
## optimised at a quick setting (16 trials), each into a
## results folder under reports/demo; then one SQL query over the comparison, and the
## budget reviews (HTML, PDF, Markdown): the comparison, with the decision over the inputs'
## ranges, the inputs that decide and the optimised split; and the study
demo: install
	rm -rf $(REPORT)
	$(BIN)/funnelsim validate scenarios/inbound-heavy.yaml
	$(BIN)/funnelsim validate scenarios/outbound-heavy.yaml
	$(BIN)/funnelsim run scenarios/inbound-heavy.yaml scenarios/outbound-heavy.yaml \
	  --replications 10 --out $(REPORT)/run
	$(BIN)/funnelsim compare scenarios/inbound-heavy.yaml scenarios/outbound-heavy.yaml \
	  --replications 10 --out $(REPORT)/compare
	$(BIN)/funnelsim compare scenarios/inbound-heavy.yaml \
	  --variant "Inbound-heavy, 5 SDRs: teams.sdr.headcount=5" \
	  --replications 10 --out $(REPORT)/more-sdrs
	$(BIN)/funnelsim study scenarios/studies/inbound-vs-outbound.yaml --replications 5 \
	  --out $(REPORT)/study
	$(BIN)/funnelsim compare scenarios/inbound-heavy.yaml scenarios/outbound-heavy.yaml \
	  --uncertainty 16 --replications 4 --out $(REPORT)/uncertainty > $(REPORT)/uncertainty.txt
	$(BIN)/funnelsim sensitivity scenarios/inbound-heavy.yaml scenarios/outbound-heavy.yaml \
	  --method morris --trajectories 2 --replications 1 --out $(REPORT)/sensitivity \
	  > $(REPORT)/sensitivity.txt
	$(BIN)/funnelsim optimize scenarios/studies/optimize-budget.yaml --trials 16 \
	  --confirm-replications 8 --out $(REPORT)/optimize > $(REPORT)/optimize.txt
	@tail -n 1 $(REPORT)/uncertainty.txt; tail -n 1 $(REPORT)/sensitivity.txt
	@tail -n 1 $(REPORT)/optimize.txt
	$(BIN)/funnelsim query $(REPORT)/compare \
	  "SELECT scenario, round(avg(sqls)) AS sqls, round(avg(new_arr)) AS new_arr, \
	   round(avg(cac_ratio), 2) AS cac_ratio, round(avg(cac_payback_months), 1) AS payback_months \
	   FROM replications GROUP BY scenario ORDER BY scenario"
	$(BIN)/funnelsim report $(REPORT)/compare --with $(REPORT)/uncertainty \
	  --with $(REPORT)/sensitivity --with $(REPORT)/optimize
	$(BIN)/funnelsim report $(REPORT)/study
	@echo "results folders (manifest, metrics, records, weekly series, summaries) in $(REPORT)/;"
	@echo "the budget review of inbound-heavy against outbound-heavy, with the decision over the"
	@echo "inputs' ranges, the inputs that decide and the optimised split (open in a browser, print):"
	@echo "  $(REPORT)/compare/report/report.html"
	@echo "  $(REPORT)/compare/report/report.pdf"
	@echo "the budget-split study's: $(REPORT)/study/report/report.html and report.pdf"

## test: the whole suite, slow tests and notebooks included (what CI runs); outside CI (CI unset)
## the statistical tests rotate their seeds (FUNNELSIM_TEST_SEED=random unless set: a failure
## prints the seed that replays it), in CI they keep their fixed ones
test: install notebooks
	$(if $(CI),,FUNNELSIM_TEST_SEED=$${FUNNELSIM_TEST_SEED:-random}) $(BIN)/python -m pytest -q tests
	$(if $(CI),FUNNELSIM_FAST=1 ,)$(BIN)/python -m pytest -q --nbmake $(NB_BUILD)

## test-fast: everything but the slow tests (tests/ marked slow) and notebooks
test-fast: install
	$(if $(CI),,FUNNELSIM_TEST_SEED=$${FUNNELSIM_TEST_SEED:-random}) \
	  $(BIN)/python -m pytest -q -m "not slow" tests

notebooks: install
	rm -rf $(NB_BUILD) && mkdir -p $(NB_BUILD)
	for nb in notebooks/*.py; do \
	  $(BIN)/jupytext --quiet --to ipynb --set-kernel python3 \
	    --output $(NB_BUILD)/$$(basename $$nb .py).ipynb $$nb || exit 1; \
	done

lint: install
	$(BIN)/ruff check src tests benchmarks notebooks setup.py
	$(BIN)/ruff format --check src tests benchmarks notebooks setup.py
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/bench_startup.py --write-docs
	$(BIN)/python benchmarks/bench_core.py --write-docs
	$(BIN)/python benchmarks/memory.py --write-docs
	$(BIN)/python benchmarks/bench_funnel.py --write-docs
	$(BIN)/python benchmarks/bench_compiled.py --write-docs
	$(BIN)/python benchmarks/bench_parallel.py --write-docs

clean:
	rm -rf $(VENV) build reports .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
	find src -name '*.so' -delete  # the compiled modules, built in place
