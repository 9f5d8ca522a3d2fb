"""`make run`: the console with its demo stations comes up, and a fleet health check
from the CLI reaches every demo station (here once, without waiting for Ctrl-C)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_console_demo_once(tmp_path, build_dir):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "console_demo.py"), "--once",
                        "--dir", str(tmp_path), "--ocpp-port", "0", "--http-port", "0",
                        "--agent-main", os.path.join(build_dir, "main.py")],
                       capture_output=True, timeout=300, cwd=str(tmp_path))
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "page:     http://127.0.0.1:" in out and "tools/bin/console run --all health" in out
    # The summary table of the fleet run: three stations passed, nobody unreachable.
    lines = out.splitlines()
    header = [i for i, line in enumerate(lines) if "Passed" in line and "unreachable" in line][0]
    counts = [c.strip() for c in lines[header + 2].split("│")[1:6]]
    assert counts == ["3", "0", "0", "0", "0"], out  # Passed Failed unreachable rejected pending
    assert "agents and console stopped" in out
    log = (tmp_path / "console.log").read_text()
    assert "Traceback" not in log, log
