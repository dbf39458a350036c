# Two commands for a newcomer on a fresh Linux machine:
#   make demo   install LeadQ in .venv and build + refresh the sample workbook (out/demo.xlsm)
#   make test   install LeadQ with its test tools and run the whole test suite
#   (make test-fast skips the LibreOffice and Spark tests, for the inner loop)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast install bench

$(BIN)/leadq: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(BIN)/leadq

install: $(BIN)/leadq

demo: install
	mkdir -p out
	$(BIN)/leadq demo out/demo.xlsm --force

test: install
	$(BIN)/python -m pytest

# The inner loop: everything but the tests that open files in LibreOffice.
test-fast: install
	$(BIN)/python -m pytest -m "not libreoffice and not spark"

bench: install
	$(BIN)/python benchmarks/bench.py all
