# The agent as `make firmware` built it, for include() from a port's manifest (manifest.py
# for boards, qemu_manifest.py, unix_manifest.py): the same modules and the same test list
# as the deployable tree (firmware/tests.json; production leaves the development tests
# out) and the generated diag/builtin.py, so a frozen firmware needs no diagTests.
# Paths are relative to this file.
import os

if not os.path.exists("../build/gen/manifest.py"):
    raise Exception("no build/gen/manifest.py: run `make firmware` (or DEV=1) first")
include("../build/gen/manifest.py")
