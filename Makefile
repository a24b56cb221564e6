# Two commands do everything on a fresh machine (python3 with pip is all they need):
#   make run    the nightly job on the offline demo data (ends with the run summary and RTY's note)
#   make test   every gate: format, lint, types, tests
UV_VERSION := 0.13.9
TOOLS      := .tools
UV         := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN        := $(UV) run --frozen
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: install run test check format lint types pytest bench clean-data browser

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Byte-compiled once here: the commands then start without compiling thousands of modules
# (and where PYTHONDONTWRITEBYTECODE is set, without compiling them on every start).
install: $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode

run: install
	$(RUN) callbook nightly

test: browser check

# The site's browser tests drive Debian's Chromium (never a downloaded browser). Where we run as
# root on Debian (as CI does) and it is missing, install it; elsewhere those tests skip, saying why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then \
		echo "installing Debian's chromium for the site's browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }; \
	fi

check: install format lint types pytest

format:
	$(RUN) ruff format --check pipeline warehouse flows tests bench

lint:
	$(RUN) ruff check pipeline warehouse flows tests bench

types:
	$(RUN) mypy

pytest:
	$(RUN) pytest -n 2 --dist loadfile -q

bench: install
	$(RUN) python bench/bench_indicators.py
	$(RUN) python bench/bench_calls.py
	$(RUN) python bench/bench_backfill.py
	$(RUN) python bench/bench_probability_model.py
	$(RUN) python bench/bench_quality.py  # needs ../shared/data
	$(RUN) python bench/bench_startup.py
	$(RUN) python bench/bench_rolls.py
	$(RUN) python bench/bench_scale.py

clean-data:
	rm -rf data
