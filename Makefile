# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k

.PHONY: setup run test bench build clean

setup:
	@sh tools/setup.sh

run: build
	$(PY) tools/demo.py --heap $(HEAP)

test:
	$(PY) -m pytest host_tests -q

bench: build
	$(PY) tools/bench.py

build:
	@$(PY) tools/build.py

clean:
	rm -rf build state .pytest_cache
