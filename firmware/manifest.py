# Freeze the agent into a MicroPython firmware image (ESP32, RP2040):
#   make BOARD=... FROZEN_MANIFEST=/path/to/this/manifest.py   (in ports/esp32 or ports/rp2)
# Frozen bytecode runs from flash, so the agent's code costs no heap.
include("$(PORT_DIR)/boards/manifest.py")
require("asyncio")
package("ocpp", base_path="../lib")
package("model", base_path="../lib")
package("diag", base_path="../lib")
module("agent.py", base_path="../lib")
module("clock.py", base_path="../lib")
module("config.py", base_path="../lib")
module("log.py", base_path="../lib")
module("store.py", base_path="../lib")
module("tlsctx.py", base_path="../lib")
