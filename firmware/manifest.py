# Freeze the agent into a MicroPython firmware image (ESP32, RP2040):
#   make BOARD=... FROZEN_MANIFEST=/path/to/this/manifest.py   (in ports/esp32 or ports/rp2)
# Frozen bytecode runs from flash, so the agent's code costs no heap.
include("$(PORT_DIR)/boards/manifest.py")
require("asyncio")
include("agent_manifest.py")
