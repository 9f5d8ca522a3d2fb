# Device entry point; on the unix port: micropython main.py CONFIG.json
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/.deps", _here + "/lib"):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import agent  # noqa: E402

sys.exit(agent.main(sys.argv) or 0)
