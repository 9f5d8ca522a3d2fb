"""Fixtures for the meter test: a socat pty pair made in the test's tmp_path (the agent
opens one end as its RS485 line) and a simulated Modbus meter (tools/meter_peer.py,
pymodbus) in a subprocess on the other end, or on a loopback TCP port."""
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "tools", "meter_peer.py")


from net_peers import free_port  # noqa: E402,F401 (one port finder for every peer)


def _stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture
def pty_pair(tmp_path):
    """(agent end, meter end): two linked ptys, raw, no echo."""
    a, b = str(tmp_path / "meterA"), str(tmp_path / "meterB")
    log = open(tmp_path / "socat.log", "wb")
    p = subprocess.Popen(["socat", "-d", "-d", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while not (os.path.exists(a) and os.path.exists(b)):
        assert p.poll() is None and time.monotonic() < deadline, "socat did not make the pty pair"
        time.sleep(0.02)
    yield a, b
    _stop(p)
    log.close()


@pytest.fixture
def meter(tmp_path):
    """meter(serial=PATH or tcp=PORT, unit=1, value=230.1, delay_ms=0, corrupt=0, line=False)
    -> the running peer (subprocess), stopped at teardown."""
    procs = []

    def start(serial=None, tcp=None, **opts):
        cmd = [sys.executable, PEER] + (["--serial", serial] if serial else ["--tcp", str(tcp)])
        for k, v in opts.items():
            if v is True:
                cmd.append("--" + k.replace("_", "-"))
            elif v is not False:
                cmd += ["--" + k.replace("_", "-"), str(v)]
        err = open(tmp_path / ("peer-%d.log" % len(procs)), "wb")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        procs.append(p)
        line = p.stdout.readline()
        assert line.strip() == "READY", "meter peer did not start: %r, %s" % (
            line, (tmp_path / ("peer-%d.log" % (len(procs) - 1))).read_text())
        return p

    yield start
    for p in procs:
        _stop(p)
