"""`make run`: the demo story runs end to end (here once, without waiting for Ctrl-C)."""
import os
import subprocess
import sys

from conftest import ROOT


def test_demo_runs_the_whole_story(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--once",
                        "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    for line in ("BootNotification: Acme Charging ADX-22, reason PowerUp -> Accepted",
                 "connector 1/1 is Available", "GetBaseReport: Accepted", "catalog: 4 tests",
                 "StartDiagnostics: Accepted", "memory OnDemand -> Passed", "health: Healthy",
                 "heartbeat received", "agent exited with code 0"):
        assert line in out, (line, out[-3000:])
    assert "Traceback" not in out and "VIOLATION" not in out
