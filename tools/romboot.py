# MicroPython side of the benchmark: runs the agent from a ROMFS image, the way a
# board with a ROMFS partition runs it (bytecode executed in place, not copied
# into the heap). On the unix port the image itself has to sit in the heap; its
# size is printed so the benchmark can tell it apart from the agent's own use.
#   micropython tools/romboot.py build/agent.romfs CONFIG.json
import sys
import vfs

with open(sys.argv[1], "rb") as f:
    _img = f.read()
print("ROMFS image=%d" % len(_img))
vfs.mount(vfs.VfsRom(_img), "/rom")
sys.path.insert(0, "/rom/lib")

import agent  # noqa: E402

sys.exit(agent.main(sys.argv[1:]) or 0)
