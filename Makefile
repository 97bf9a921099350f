# Everything a fresh machine needs: `make test` and `make demo` create .venv and install on their own.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench fuzz model model-paper pymca browser clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: a free resolution pulls several GB of CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/pigmentmap demo --out demo-output

# A real browser for the viewer's test (Debian's chromium, driven by Playwright; Playwright's own
# browser download is not used).
browser: $(STAMP)
	apt-get update && apt-get install -y chromium
	$(BIN)/pip install --quiet playwright

# Optional reference engine (compiles fisx with g++, about 80 s).
pymca: $(STAMP)
	$(BIN)/pip install --quiet -e ".[pymca]"

bench: $(STAMP)
	$(BIN)/python benchmarks/simulate_speed.py --out benchmarks/results/simulate_speed.json
	$(BIN)/python benchmarks/pymca_agreement.py --out benchmarks/results/pymca_agreement.json
	$(BIN)/python benchmarks/map_speed.py --out benchmarks/results/map_speed.json
	$(BIN)/python benchmarks/map_scale.py --out benchmarks/results/map_scale.json
	$(BIN)/python benchmarks/regress.py --out benchmarks/results/regress.json
	$(BIN)/python benchmarks/universal_model.py --work runs --out benchmarks/results/universal_model.json

# Readers never crash, hang or eat the machine (issue 13): thousands of mutated files of every
# format, each read in a child process under time and memory limits (about 20-30 min on 2 cores;
# inputs that fail are saved under benchmarks/results/fuzz_findings/, which git ignores).
fuzz: $(STAMP)
	$(BIN)/python benchmarks/fuzz_campaign.py --out benchmarks/results/fuzz_campaign.json

# The shipped default model (universal, fast-cnn for every instrument): simulate the universal
# design, train (30 epochs, cosine learning rate), train the layer head on its features,
# calibrate on a held-out set, copy into the package (about 55-60 min on 2 cores; the card's
# made_by records each step's time).
model: $(STAMP)
	$(BIN)/python benchmarks/build_default_model.py --work runs

# The paper's Table 3 model (elio-mixtures), kept for reproducing the paper.
model-paper: $(STAMP)
	$(BIN)/python benchmarks/reproduce_table3.py --steps d,ship

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
