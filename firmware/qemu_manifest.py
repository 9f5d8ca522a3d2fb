# MicroPython's qemu port (Cortex-M3, MPS2-AN385) with the agent frozen in, for
# `make qemu-check`. The port has no `_asyncio` C module (MICROPY_PY_ASYNCIO 0), so
# extmod's asyncio needs its pure-Python task queue too, which extmod's own manifest
# leaves out (boards get it in C).
include("$(MPY_DIR)/extmod/asyncio")
module("asyncio/task.py", base_path="$(MPY_DIR)/extmod", opt=3)
include("agent_manifest.py")
