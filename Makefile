# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 320k
# make firmware DEV=1: also the development tests (noop); make deploy PORT=/dev/ttyACM0
DEV ?=
PORT ?=
ROUTE ?= files
CONFIG ?=

.PHONY: setup run test bench build firmware deploy clean

setup:
	@sh tools/setup.sh

run:
	@$(PY) tools/build.py --dev >/dev/null
	$(PY) tools/demo.py --heap $(HEAP)

test:
	$(PY) -m pytest host_tests -q

bench:
	$(PY) tools/bench.py

# The deployable tree, ROMFS image and integrity manifest in build/ (tools/build.py).
firmware:
	@$(PY) tools/build.py $(if $(DEV),--dev)

build: firmware

deploy:
	@test -n "$(PORT)" || { echo "make deploy PORT=/dev/ttyACM0 (or any mpremote connect name)"; exit 2; }
	$(PY) tools/deploy.py --port $(PORT) --route $(ROUTE) $(if $(CONFIG),--config $(CONFIG))

clean:
	rm -rf build state .pytest_cache
