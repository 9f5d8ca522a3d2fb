# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k

.PHONY: setup run demo test bench bench-fleet build clean

setup:
	@sh tools/setup.sh

# The diagnostics console with three demo stations (Ctrl-C stops all).
run: build
	$(PY) tools/console_demo.py --heap $(HEAP)

# The reference CSMS and one agent, telling the OCPP story step by step.
demo: build
	$(PY) tools/demo.py --heap $(HEAP)

test:
	$(PY) -m pytest host_tests -q

bench: build
	$(PY) tools/bench.py

# N agents on one console, the health check on all from the CLI (not part of make test).
# FLEET="50,200,500" for the full set; each agent is one process with a 320 KB heap.
FLEET ?= 50,200
bench-fleet: build
	$(PY) tools/bench_fleet.py --sizes $(FLEET)

build:
	@$(PY) tools/build.py

clean:
	rm -rf build state .pytest_cache
