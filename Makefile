# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k

.PHONY: setup run test bench build clean check-tests

setup:
	@sh tools/setup.sh

run: build
	$(PY) tools/demo.py --heap $(HEAP)

test:
	$(PY) -m pytest host_tests -q

# Every module in lib/diag/tests/ against the descriptor checker, in MicroPython
# (also run by make test: host_tests/test_writing_a_test.py).
check-tests:
	@MICROPYPATH=.frozen:lib:.deps .venv/bin/micropython tools/check_tests.py lib

bench: build
	$(PY) tools/bench.py

build:
	@$(PY) tools/build.py

clean:
	rm -rf build state .pytest_cache
