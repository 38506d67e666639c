# Two commands do all set-up on a fresh machine:
#   make demo   simulate the bundled IPS ung data, fit models/ipsung_employment.toml, print the report path
#   make test   lint and run the test suite (what CI runs)
PYTHON ?= $(shell sh .ci/find-python)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install validate benchmark reproduce clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || (echo "Python >= 3.12 not found" >&2; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ipsbayes simulate ipsung --seed 2 --out data/ipsung
	$(BIN)/ipsbayes run models/ipsung_employment.toml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	for config in rij_cace rij_cace_months ipsung_employment ipsung_fidelity ipsung_outcomes; do \
		$(BIN)/ipsbayes validate models/$$config.toml --out runs/validation/$$config || exit 1; \
	done

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py
	$(BIN)/python benchmarks/compile_cost.py
	$(BIN)/python benchmarks/bambi_graph.py

reproduce: $(STAMP)
	$(BIN)/python examples/reproduce.py --profile default

clean:
	rm -rf runs .pytest_cache .ruff_cache
