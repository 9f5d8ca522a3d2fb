# `make check-tests` (MicroPython): every test module in LIB/diag/tests/ checked as
# the registry checks it when it loads (diag/descriptor.py), so that a typo in a
# descriptor ("int" for "integer") is found before a station leaves a test out.
#   MICROPYPATH=lib:.deps micropython tools/check_tests.py lib
# One line per module, "ok ID" or "BAD ID: reason"; the exit code counts the bad.
import os
import sys

lib = sys.argv[1] if len(sys.argv) > 1 else "lib"
sys.path.insert(0, lib)
from diag import descriptor  # noqa: E402

bad = 0
for n in sorted(os.listdir(lib + "/diag/tests")):
    if not n.endswith(".py") or n.startswith("_"):
        continue
    tid = n[:-3]
    try:
        __import__("diag.tests." + tid)
        descriptor.check(sys.modules["diag.tests." + tid])
        print("ok", tid)
    except Exception as e:  # descriptor.Bad, or a module that does not even import
        bad += 1
        print("BAD %s: %s" % (tid, e if isinstance(e, descriptor.Bad) else "%s: %s" % (type(e).__name__, e)))
print("check-tests: %d bad" % bad)
sys.exit(bad)
