# Two commands do all the set-up: `make run` (the pipeline) and `make test` (the checks).
# Both create .venv and install the package (editable, with dev tools) when needed.
PYTHON ?= python3
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= all

.PHONY: install run test lint readme report bench clean-work

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[pipeline,dev]'
	touch $@

install: $(VENV)/.installed

run: install
	snakemake --cores $(CORES)

test: install
	pytest

readme: install
	tridrop readme
	cd tests && python3 failures.py

lint: install
	ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint

bench: install
	python benchmarks/bench_autoencoder.py
	python benchmarks/head_cache.py

clean-work:
	rm -rf work logs

report: install
	snakemake --report results/$$(python3 -c "import yaml; print(yaml.safe_load(open('config/config.yaml'))['preset'])")/report.html
