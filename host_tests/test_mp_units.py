"""Runs the pure-logic unit tests (host_tests/mp/) inside MicroPython itself."""
import glob
import os
import subprocess

import pytest

from conftest import MICROPYTHON, ROOT

FILES = sorted(glob.glob(os.path.join(ROOT, "host_tests", "mp", "test_*.py")))


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_in_micropython(path):
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"),
                                                          os.path.join(ROOT, "host_tests", "mp")))
    r = subprocess.run([MICROPYTHON, path], capture_output=True, text=True, timeout=60, env=env)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    assert r.returncode == 0 and last.endswith(" 0 failed"), r.stdout[-3000:] + r.stderr[-2000:]
    assert not last.startswith("0 passed"), last
