"""The agent on an emulated Cortex-M3: MicroPython's qemu port (MPS2-AN385) with the agent
frozen in, driven over its serial port with mpremote, as a board would be.

    make qemu-check MPY_DIR=/path/to/micropython

1. builds ports/qemu with firmware/qemu_manifest.py (agent frozen, heap as the port sets it);
2. boots it under qemu-system-arm with the UART on a pty;
3. deploys the configuration and the unit tests with mpremote (`mount`: the port has no
   writable flash filesystem, so the host directory is the board's filesystem — the
   agent's state/ lands there too, where this check reads it);
4. runs the agent's MicroPython unit tests (host_tests/mp) on the emulated board;
5. runs the agent itself for a while. The qemu port has no network stack (the board's
   LAN9118 has no driver in MicroPython), so the agent meets "network down": a stand-in
   `socket` refuses every connection. The check expects what a station with a dead link
   must do: its start-up tests run, their results are journaled on "flash", and it keeps
   retrying the CSMS without crashing.

The port lacks os.urandom, time.gmtime/mktime and hashlib.sha1: tools/boards/qemu_standins/
holds small stand-ins, put on the board's path by this check only (never in lib/).
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
BOARD = "MPS2_AN385"
MPREMOTE = [sys.executable, "-m", "mpremote"]


# Unit tests that cannot run on this emulated board, and why. They still run on the
# unix port in `make test`.
NOT_HERE = {
    "test_tcp_skips_a_late_answer_and_checks_the_unit": "needs a TCP server: no network stack",
}


def build(mpy_dir, heap=None):
    """heap=None: the port's own heap (140 KB, a device's figure: the agent runs there).
    The unit tests get 2 MB: some of them build 128 KB frames on purpose."""
    if not os.path.exists(os.path.join(mpy_dir, "mpy-cross", "build", "mpy-cross")):
        subprocess.run(["make", "-C", os.path.join(mpy_dir, "mpy-cross")], check=True)
    build_dir = "build-%s-agent%s" % (BOARD, "-heap%d" % heap if heap else "")
    subprocess.run(["make", "-C", os.path.join(mpy_dir, "ports", "qemu"), "BOARD=" + BOARD,
                    "BUILD=" + build_dir, "-j%d" % (os.cpu_count() or 2),
                    "FROZEN_MANIFEST=" + os.path.join(ROOT, "firmware", "qemu_manifest.py")]
                   + (["MICROPY_HEAP_SIZE=%d" % heap] if heap else []), check=True)
    return os.path.join(mpy_dir, "ports", "qemu", build_dir, "firmware.elf")


class Qemu:
    def __init__(self, elf):
        self.p = subprocess.Popen(
            ["qemu-system-arm", "-machine", "mps2-an385", "-nographic", "-monitor", "null",
             "-semihosting", "-serial", "pty", "-kernel", elf],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.pty = None
        t = time.monotonic() + 30
        while self.pty is None and time.monotonic() < t:
            line = self.p.stdout.readline()
            if not line:
                break
            m = re.search(r"redirected to (/dev/pts/\d+)", line)
            if m:
                self.pty = m.group(1)
        if self.pty is None:
            self.stop()
            raise SystemExit("qemu did not offer its serial port")

    def stop(self):
        self.p.kill()
        self.p.wait()


def mpremote(pty, *args, timeout=120):
    r = subprocess.run(MPREMOTE + ["connect", pty] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def stage(dirpath, config):
    """What the board sees through `mpremote mount`: stand-ins, unit tests, config."""
    for p in glob.glob(os.path.join(HERE, "qemu_standins", "*.py")):
        shutil.copy(p, dirpath)
    mp = os.path.join(ROOT, "host_tests", "mp")
    for p in glob.glob(os.path.join(mp, "*.py")):
        shutil.copy(p, dirpath)
    for d in os.listdir(mp):
        if os.path.isdir(os.path.join(mp, d)) and not d.startswith("__"):
            shutil.copytree(os.path.join(mp, d), os.path.join(dirpath, d))
    shutil.copy(os.path.join(HERE, "qemu_agent.py"), dirpath)
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(config, f)


def unit_tests(pty, dirpath):
    failed = []
    for path in sorted(glob.glob(os.path.join(dirpath, "test_*.py"))):
        name = os.path.basename(path)
        # (mpremote's own clean-up complains after the test's sys.exit() soft-resets
        # the board; the verdict is the test runner's last line.)
        rc, out = mpremote(pty, "mount", dirpath, "run", path)
        last = [ln for ln in out.splitlines() if re.match(r"\d+ passed, \d+ failed", ln)]
        bad = [ln[5:].strip() for ln in out.splitlines() if ln.startswith("FAIL ")]
        excused = [b for b in bad if b in NOT_HERE]
        ok = bool(last) and not last[-1].startswith("0 passed") and len(bad) == len(excused) \
            and last[-1].endswith(" %d failed" % len(excused))
        print("  %-18s %s" % (name, last[-1] if last else "no result"))
        for b in excused:
            print("    not run here: %s (%s)" % (b, NOT_HERE[b]))
        if not ok:
            failed.append(name)
            print(out[-3000:])
    return failed


CONFIG = {
    "csmsUrl": "ws://127.0.0.1:9000/ocpp", "stationId": "QEMU-Ä1", "vendor": "Ünïcode Werk",
    "model": "qemu-mps2-an385", "dataDir": "state",
    "startupTests": "memory,health,integrity",  # no diagTests: the frozen build's own list
    "retryBackOffWaitMinimum": 1, "retryBackOffRandomRange": 1,
}


def agent_run(pty, dirpath, seconds):
    rc, out = mpremote(pty, "mount", dirpath, "exec", "RUN_SECONDS = %d" % seconds,
                       "run", os.path.join(dirpath, "qemu_agent.py"), timeout=seconds + 120)
    print("\n".join("  | " + ln for ln in out.splitlines()[-25:]))
    journal = glob.glob(os.path.join(dirpath, "state", "**", "*"), recursive=True)
    problems = []
    if "AGENT-ON-QEMU done" not in out:
        problems.append("the agent did not run to the end of its window")
    if "Traceback" in out:
        problems.append("a traceback was printed")
    m = re.search(r"results journaled: (\d+)", out)
    if not m or int(m.group(1)) < len(CONFIG["startupTests"].split(",")):
        problems.append("start-up results not journaled (%s)" % (m.group(0) if m else "no count"))
    if not journal:
        problems.append("nothing written under state/")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mpy-dir", required=True)
    ap.add_argument("--seconds", type=int, default=20, help="how long the agent runs")
    ap.add_argument("--keep", action="store_true", help="keep the staged board filesystem")
    a = ap.parse_args(argv)
    mpy = os.path.abspath(a.mpy_dir)
    big, elf = build(mpy, heap=2 << 20), build(mpy)
    print("image: %s (%d B)" % (elf, os.path.getsize(elf)))
    dirpath = tempfile.mkdtemp(prefix="qemu-board-")
    stage(dirpath, CONFIG)
    q = Qemu(big)
    try:
        print("board (2 MB heap) on %s; unit tests:" % q.pty)
        failed = unit_tests(q.pty, dirpath)
    finally:
        q.stop()
    q = Qemu(elf)
    try:
        print("board (the port's own heap) on %s; the agent, %d s without a network:" % (q.pty, a.seconds))
        problems = agent_run(q.pty, dirpath, a.seconds)
    finally:
        q.stop()
        if not a.keep:
            shutil.rmtree(dirpath, ignore_errors=True)
        else:
            print("board filesystem kept in", dirpath)
    for p in problems:
        print("FAIL agent:", p)
    if failed:
        print("FAIL unit tests:", ", ".join(failed))
    print("qemu-check: %s" % ("OK" if not (failed or problems) else "FAILED"))
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
