"""`make run`: the demo story runs end to end (here once, without waiting for Ctrl-C)."""
import os
import subprocess
import sys

from conftest import ROOT
from diag_helpers import offered


def _story(out):
    """What to show when the story went wrong: the demo's own lines, the agent's
    diagnostics log and the diagnostics messages, not an arbitrary tail."""
    keep = [l for l in out.splitlines()
            if l.startswith(("  >", "  agent |", "Traceback")) or "VIOLATION" in l
            or (l.startswith("    |") and "Diagnostics" in l)]
    return "\n".join(keep)[-6000:]


def test_demo_runs_the_whole_story(tmp_path, build_dir):
    # The agent as deployed (lib/ compiled), like every host test: from the sources
    # MicroPython would also hold the compiler's work in the agent's heap.
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--once", "--trace",
                        "--workdir", str(tmp_path), "--build", build_dir], capture_output=True, text=True,
                       timeout=120)
    out = r.stdout + r.stderr
    with open(tmp_path / "demo.out", "w") as f:
        f.write(out)
    assert r.returncode == 0, _story(out)
    for line in ("BootNotification: Acme Charging ADX-22, reason PowerUp -> Accepted",
                 "connector 1/1 is Available", "GetBaseReport: Accepted",
                 "catalog: %d tests" % len(offered()),  # every module in lib/diag/tests/
                 "StartDiagnostics: Accepted", "memory OnDemand -> Passed", "health: Healthy",
                 "heartbeat received", "agent exited with code 0"):
        assert line in out, (line, _story(out))
    assert "Traceback" not in out and "VIOLATION" not in out, _story(out)
