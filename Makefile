# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k

.PHONY: setup run demo test bench build clean

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

build:
	@$(PY) tools/build.py

clean:
	rm -rf build state .pytest_cache
