# Two commands do all the set-up: `make run` (the pipeline) and `make test` (the checks).
# Both create .venv and install the package (editable, with dev tools) when needed.
PYTHON ?= python3
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= all

.PHONY: install run test lint readme report bench bench-paper clean-work fashion-data

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[pipeline,dev]'
	touch $@

install: $(VENV)/.installed

# `make run PRESET=paper` picks another preset of config/config.yaml.
run: install
	snakemake --cores $(CORES) $(if $(PRESET),--config preset=$(PRESET))

test: install
	pytest

# Debian's Fashion-MNIST, the `fashion` preset's offline copy (as root; nothing when present).
FASHION_DIR := /usr/share/datasets/fashion-mnist
fashion-data:
	@test -f $(FASHION_DIR)/train-images-idx3-ubyte.gz || \
	  (apt-get update -q && apt-get install -y -q dataset-fashion-mnist)

readme: install
	tridrop results readme --spec '{"presets": [$(if $(PRESET),"$(PRESET)")]}' \
	  --config config/config.yaml --captions workflow/report
	cd tests && python3 failures.py
	snakemake --rulegraph --quiet all 2>/dev/null | python3 -m tridrop.rulegraph

lint: install
	ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint

bench: install
	python benchmarks/bench_autoencoder.py
	python benchmarks/head_cache.py
	python benchmarks/narrow.py
	python benchmarks/onnx_widths.py
	python benchmarks/train_efficiency.py

# The paper preset's memory and wall time, estimated from a few timed steps per experiment
# (CSV and JSON under results/benchmarks/); on a GPU add e.g. ARGS="--steps 50 --images 512".
bench-paper: install
	python benchmarks/paper_scale.py $(ARGS)

clean-work:
	rm -rf work logs

report: install
	snakemake --report results/$$(python3 -c "import yaml; print(yaml.safe_load(open('config/config.yaml'))['preset'])")/report.html
