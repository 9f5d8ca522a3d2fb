# Freeze the agent into a MicroPython firmware image for a board (ESP32, RP2040 / Pico W):
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/this/manifest.py
# or `make board-image BOARD=RPI_PICO_W MPY_DIR=...` from this repository.
# Frozen bytecode runs from flash, so the agent's code costs no heap.

# The board's own manifest first: it brings asyncio (from extmod, through the port's
# manifest) and, on network boards, the networking bundle (network, ntptime, mip...).
# Only when a board has none does the port's generic manifest stand in. (asyncio is not a
# micropython-lib package: `require("asyncio")` fails.)
_mf = include.__self__  # the ManifestFile running us: resolves $(BOARD_DIR) as include() does
_board = _mf._resolve_path("$(BOARD_DIR)/manifest.py") if _mf._path_vars.get("BOARD_DIR") else None
include(_board if _board and __import__("os").path.exists(_board) else "$(PORT_DIR)/boards/manifest.py")

include("agent_manifest.py")
