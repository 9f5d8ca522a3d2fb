# The unix port with the agent frozen in: a device-like binary for measuring
# (tools/bench.py --micropython BINARY). See BOARDS.md for the build command.
include("$(MPY_DIR)/extmod/asyncio")
include("agent_manifest.py")
