# Two commands do all the set-up: `make run` (the pipeline) and `make test` (the checks).
# Both create .venv and install the package (editable, with dev tools) when needed.
PYTHON ?= python3
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= all

.PHONY: install run test lint bench clean-work

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	snakemake --cores $(CORES)

test: install
	pytest

lint: install
	ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint

clean-work:
	rm -rf work logs

bench: install
	python benchmarks/bench_autoencoder.py
