# Two commands for a newcomer on a fresh Linux machine:
#   make demo   install LeadQ (no test tools, no Spark) in .venv and build + refresh the sample workbook (out/demo.xlsm)
#   make test   add the test tools and the Spark engine (extras "test"), and run the whole test suite
#   (make test-fast skips the LibreOffice and Spark tests, for the inner loop)
# LeadQ's command is .venv/bin/leadq: `source .venv/bin/activate` puts it on PATH.
PY ?= python3
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
TESTED := $(VENV)/.leadq-test-extras

.PHONY: demo test test-fast install bench

$(BIN)/leadq: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(BIN)/leadq

# The test tools and PySpark (about 0.5 GB), only for the tests and benchmarks.
$(TESTED): $(BIN)/leadq pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(TESTED)

# The developer's install (LeadQ with its test tools and PySpark), as before; `make demo` needs only LeadQ.
install: $(TESTED)

demo: $(BIN)/leadq
	mkdir -p out
	$(BIN)/leadq demo out/demo.xlsm --force
	@echo "leadq is $(abspath $(BIN))/leadq; run 'source $(BIN)/activate' to type just 'leadq' in this shell"

test: install
	$(BIN)/python -m pytest

# The inner loop: everything but the tests that open files in LibreOffice.
test-fast: install
	$(BIN)/python -m pytest -m "not libreoffice and not spark"

# Every figure with its baseline and ratio: start-up, refresh vs the bare read and zip floor, the
# engine alone, Lead history; then the DuckDB engine vs the bare DuckDB group-by on a 10M-event log.
# Ends with every ratio of the run in one list (benchmarks/ratios.py over the results kept in .data).
bench: $(BIN)/leadq
	mkdir -p benchmarks/.data
	$(BIN)/python benchmarks/bench.py all | tee benchmarks/.data/bench-results.jsonl; test $${PIPESTATUS[0]} -eq 0
	$(BIN)/python benchmarks/log_bench.py --sizes 10M --pandas "" | tee -a benchmarks/.data/bench-results.jsonl; test $${PIPESTATUS[0]} -eq 0
	@echo "ratios (of medians):"
	@$(BIN)/python benchmarks/ratios.py benchmarks/.data/bench-results.jsonl
