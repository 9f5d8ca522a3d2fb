# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k

.PHONY: setup run test bench build spec clean

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

# docs/diagnostics/SPEC.md: example messages from a real run (kept when only volatile
# fields differ), then the conformance table from the tests' req markers.
spec:
	$(PY) tools/spec_examples.py
	$(PY) tools/spec_conformance.py

clean:
	rm -rf build state .pytest_cache
