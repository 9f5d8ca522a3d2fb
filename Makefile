# Everything a developer or CI runs. `make setup` first on a fresh machine.
PY := .venv/bin/python
HEAP ?= 448k
# make firmware DEV=1: also the development tests (noop); make deploy PORT=/dev/ttyACM0
DEV ?=
PORT ?=
ROUTE ?= files
CONFIG ?=

.PHONY: setup run demo test bench bench-fleet build firmware deploy spec clean check-tests board-image manifest-check qemu-check

setup:
	@sh tools/setup.sh

# The diagnostics console with three demo stations (Ctrl-C stops all). Agents run the
# development build (noop included), as compiled .mpy.
run:
	@$(PY) tools/build.py --dev >/dev/null
	$(PY) tools/console_demo.py --heap $(HEAP)

# The reference CSMS and one agent, telling the OCPP story step by step.
demo:
	@$(PY) tools/build.py --dev >/dev/null
	$(PY) tools/demo.py --heap $(HEAP)

test:
	$(PY) -m pytest host_tests -q

# Every module in lib/diag/tests/ against the descriptor checker, in MicroPython
# (also run by make test: host_tests/test_writing_a_test.py).
check-tests:
	@MICROPYPATH=.frozen:lib:.deps .venv/bin/micropython tools/check_tests.py lib

bench:
	$(PY) tools/bench.py

# The deployable tree, ROMFS image and integrity manifest in build/ (tools/build.py).
firmware:
	@$(PY) tools/build.py $(if $(DEV),--dev)

build: firmware

deploy:
	@test -n "$(PORT)" || { echo "make deploy PORT=/dev/ttyACM0 (or any mpremote connect name)"; exit 2; }
	$(PY) tools/deploy.py --port $(PORT) --route $(ROUTE) $(if $(CONFIG),--config $(CONFIG))

# docs/diagnostics/SPEC.md: example messages from a real run (kept when only volatile
# fields differ), then the conformance table from the tests' req markers.
spec:
	$(PY) tools/spec_examples.py
	$(PY) tools/spec_conformance.py

# Board images need a MicroPython checkout (firmware/BOARDS.md): not part of `make test`.
board-image: firmware
	@test -n "$(MPY_DIR)" -a -n "$(BOARD)" || { echo "usage: make board-image BOARD=RPI_PICO_W MPY_DIR=/path/to/micropython [BASELINE=1]"; exit 2; }
	$(PY) tools/boards/image.py --board $(BOARD) --mpy-dir $(MPY_DIR) $(if $(BASELINE),--baseline)

# Resolve firmware/manifest.py for any board without building (e.g. ESP32_GENERIC).
manifest-check: firmware
	@test -n "$(MPY_DIR)" -a -n "$(BOARD)" || { echo "usage: make manifest-check BOARD=ESP32_GENERIC MPY_DIR=/path/to/micropython"; exit 2; }
	$(PY) tools/boards/image.py --board $(BOARD) --mpy-dir $(MPY_DIR) --check-manifest

qemu-check: firmware
	@test -n "$(MPY_DIR)" || { echo "usage: make qemu-check MPY_DIR=/path/to/micropython"; exit 2; }
	$(PY) tools/boards/qemu_check.py --mpy-dir $(MPY_DIR)

# N agents on one console, the health check on all from the CLI (not part of make test).
# FLEET="50,200,500" for the full set; each agent is one process with a 320 KB heap.
FLEET ?= 50,200
bench-fleet: build
	$(PY) tools/bench_fleet.py --sizes $(FLEET)

clean:
	rm -rf build state .pytest_cache
