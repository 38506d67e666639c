# Two commands do all set-up on a fresh machine:
#   make demo   simulate the bundled IPS ung data, fit models/ipsung_employment.toml, print the report path
#   make test   lint and run the test suite (what CI runs); installs headless Chromium and pandoc
#               from Debian first when run as root (the browser and pandoc tests need them)
PYTHON ?= $(shell sh .ci/find-python)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SYSTEM_PACKAGES := chromium chromium-driver pandoc

.PHONY: demo test test-slow install install-system bytecode validate benchmark benchmark-env benchmark-contenders reproduce reproduce-rij clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || (echo "Python >= 3.12 not found" >&2; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,notebook]"
	@touch $(STAMP)

install: $(STAMP)

# The package's bytecode, compiled once: pip does this for a regular install, but an editable install leaves it
# to the first import, which cannot write it where PYTHONDONTWRITEBYTECODE is set, so every command compiled
# ipsbayes's 100 modules from source again (0.15 s of each start; benchmarks/results/whole_run_ab.md).
# compileall skips modules whose bytecode is current.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src/ipsbayes

# Debian packages for the browser and pandoc tests; skipped when present, idempotent.
install-system:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v pandoc >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(SYSTEM_PACKAGES) (Debian)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "note: install $(SYSTEM_PACKAGES) for the browser and pandoc tests (skipped without them)" >&2; \
	fi

demo: $(STAMP) bytecode
	$(BIN)/ipsbayes simulate ipsung --seed 2 --out data/ipsung
	$(BIN)/ipsbayes run models/ipsung_employment.toml

test: $(STAMP) bytecode install-system
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2

# the heavier checks the default run leaves out (pytest.mark.slow) and the reference reproductions and
# recovery fits (pytest.mark.reproduce): published examples at the ci profile, design variants end to end,
# Bambi agreement, the examples' contract tests, the tte recovery and reference fits; issue 14's null-effect
# assurance over 24 trials, prior-data conflict fits and RBesT's AS example at ci size
test-slow: $(STAMP) bytecode
	$(BIN)/python -m pytest -q -m "slow or reproduce"

validate: $(STAMP) bytecode
	for config in rij_cace rij_cace_months ipsung_employment ipsung_fidelity ipsung_outcomes ipsung_time_to_job; do \
		$(BIN)/ipsbayes validate models/$$config.toml --out runs/validation/$$config || exit 1; \
	done

benchmark: $(STAMP) bytecode
	$(BIN)/python benchmarks/run_benchmarks.py
	$(BIN)/python benchmarks/compile_cost.py
	$(BIN)/python benchmarks/bambi_graph.py
	$(BIN)/python benchmarks/time_to_event.py

# issue 15's contenders that are not project dependencies (NumPyro, JAX, PyStan; BridgeStan and CmdStanPy
# are tried, and need downloads from GitHub) go into their own venv; installs.json there says what installed
BENCH_VENV := benchmarks/.venv
benchmark-env: $(BENCH_VENV)/installs.json
$(BENCH_VENV)/installs.json:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python benchmarks/contenders.py --install-env

# every contender at 1,500 participants, 3 interleaved rounds, the per-gradient table, then the README table
benchmark-contenders: $(STAMP) bytecode $(BENCH_VENV)/installs.json
	$(BIN)/python benchmarks/contenders.py --sizes 1500 --rounds 3
	$(BIN)/python benchmarks/contenders.py --gradient --sizes 1500
	$(BIN)/python benchmarks/contenders.py --readme

# published examples at the default profile, then the reference reproductions and recovery fits
reproduce: $(STAMP) bytecode
	$(BIN)/python examples/reproduce.py --profile default
	$(BIN)/python -m pytest -q -m reproduce

# Issue 14 at full size (not CI): the MAP prior from the evidence table (rewrites priors/ips_map.toml),
# RBesT's AS example over 12 seeds, and the assurance curve of the next refugee trial
# (about an hour on 8 cores; CI runs each at a cheap size in tests/test_map_prior.py and test_assurance.py).
reproduce-rij: $(STAMP) test-slow
	$(BIN)/ipsbayes map-prior priors/map/ips_map.toml --out runs/ips_map
	$(BIN)/python benchmarks/rbest_as.py --repeats 12 --profile default
	$(BIN)/ipsbayes design models/rij_cace.toml --sizes 66,150,300,450,600 --trials 150 --out runs/rij_cace-design

clean:
	rm -rf runs .pytest_cache .ruff_cache
