"""Where a station keeps its state (DG17): two agents started in one directory never
share a journal silently. Without `dataDir` each station id gets its own directory,
state/<id encoded as a safe file name>; a directory another station id owns (its
`owner` file) is refused at start-up with one line."""
import itertools
import os
import re
import subprocess

import pytest

from conftest import MICROPYTHON, AgentProc, base_config, wait_booted
from diag_helpers import results, start


_configs = itertools.count()


def _agent(build_dir, workdir, url, sid, **over):
    cfg = base_config(url, workdir, stationId=sid, **over)
    if "dataDir" not in over:
        del cfg["dataDir"]  # the default is what is tested
    p = AgentProc(build_dir, cfg, workdir)
    # One working directory (the default dataDir is relative to it), a config file each.
    p.cfg_path = os.path.join(workdir, "config-%d.json" % next(_configs))
    return p


def _owners(state):
    """directory name -> the station id in its owner file."""
    out = {}
    for name in os.listdir(state):
        with open(os.path.join(state, name, "owner"), "rb") as f:
            out[name] = f.read().decode()
    return out


@pytest.mark.req("DG17.FR.09")
def test_data_dir_defaults_per_station_id(csms, build_dir, tmp_path):
    work = str(tmp_path)
    # Ids that are unsafe as file names: '.', '*', '\\', spaces, non-ASCII, very long.
    a = _agent(build_dir, work, csms.url, "CS.1")
    b = _agent(build_dir, work, csms.url, "CS*1")
    try:
        a.start()
        b.start()
        wait_booted(csms, a)
        wait_booted(csms, b)
        # Each runs a test; each result lands in its own station's journal.
        assert start(csms, a.station, 1, ("memory",))["status"] == "Accepted"
        ra = results(csms, a.station, 1)[0]
        assert start(csms, b.station, 1, ("flash",))["status"] == "Accepted"
        rb = results(csms, b.station, 1)[0]
    finally:
        assert a.stop() == 0 and b.stop() == 0
    state = os.path.join(work, "state")
    assert _owners(state) == {"CS%2E1": "CS.1", "CS%2A1": "CS*1"}
    for name, r, other in (("CS%2E1", ra, "flash"), ("CS%2A1", rb, "memory")):
        with open(os.path.join(state, name, "results.log"), "rb") as f:
            journal = f.read().decode()
        ids = set(re.findall(r'"testId": ?"(\w+)"', journal))
        assert r["testId"] in ids and other not in ids, journal

    odd = ["Zoë ☀ \\..", "..", "☀" * 48, "a" * 48]
    procs = [_agent(build_dir, work, "ws://127.0.0.1:1", sid) for sid in odd]
    try:
        for p in procs:
            p.start().wait_log("agent .* starting")
    finally:
        for p in procs:
            assert p.stop() == 0
    owners = _owners(state)
    assert sorted(owners.values()) == sorted(odd + ["CS.1", "CS*1"])
    for name, sid in owners.items():
        # One safe path segment each, short enough for any filesystem.
        assert re.fullmatch(r"[A-Za-z0-9_%~-]{1,64}", name), name
    byid = {sid: name for name, sid in owners.items()}
    assert byid[".."] == "%2E%2E" and byid["a" * 48] == "a" * 48
    assert byid["Zoë ☀ \\.."] == "Zo%C3%AB%20%E2%98%80%20%5C%2E%2E"
    import hashlib
    assert byid["☀" * 48] == "%E2%98%80" * 4 + "%E2%98%80"[:4] + "~" + \
        hashlib.sha256(("☀" * 48).encode()).hexdigest()[:16]


@pytest.mark.req("DG17.FR.10")
def test_a_data_dir_another_station_owns_is_refused(csms, build_dir, tmp_path):
    work = str(tmp_path)
    shared = os.path.join(work, "shared-state")
    a = _agent(build_dir, work, csms.url, "CS001", dataDir=shared).start()
    try:
        wait_booted(csms, a)
        assert start(csms, a.station, 1, ("memory",))["status"] == "Accepted"
        results(csms, a.station, 1)
    finally:
        assert a.stop() == 0
    journal = os.path.join(shared, "results.log")
    with open(journal, "rb") as f:
        before = f.read()

    def refused(sid):
        b = _agent(build_dir, work, "ws://127.0.0.1:1", sid, dataDir=shared).start()
        try:
            assert b.exit_code() == 2
        finally:
            b.stop()  # only if it did start after all
        out = b.log().strip()
        assert len(out.splitlines()) == 1 and out.startswith("config error: dataDir %s belongs to station" % shared)
        return out

    out = refused("Borne-Zoë")
    assert "belongs to station 'CS001', not 'Borne-Zoë'" in out and "state/<stationId>" in out
    with open(journal, "rb") as f:
        assert f.read() == before  # untouched
    # The owner still starts there, with its journal.
    n = len(csms.messages())
    a.start()
    try:
        wait_booted(csms, a, after=n)
    finally:
        assert a.stop() == 0
    # A directory from before owner files is adopted by the first station to start in it.
    os.remove(os.path.join(shared, "owner"))
    c = _agent(build_dir, work, "ws://127.0.0.1:1", "Borne-Zoë", dataDir=shared).start()
    try:
        c.wait_log("agent Borne-Zoë starting")
    finally:
        assert c.stop() == 0
    with open(os.path.join(shared, "owner"), "rb") as f:
        assert f.read() == "Borne-Zoë".encode()
    assert "belongs to station 'Borne-Zoë', not 'CS001'" in refused("CS001")
    # An owner file that is not even text still refuses (never a silent share).
    with open(os.path.join(shared, "owner"), "wb") as f:
        f.write(b"\xff\xfe")
    assert "belongs to station unreadable (2 bytes)" in refused("CS001")


def test_data_dir_must_be_a_path(tmp_path):
    from conftest import ROOT
    p = tmp_path / "c.json"
    for value, expect in (("5", "'dataDir' must be a directory path"),
                          ('""', "'dataDir' must be a path of 1..200 characters")):
        p.write_text('{"csmsUrl": "ws://127.0.0.1:1", "stationId": "S", "vendor": "V", "model": "M", '
                     '"dataDir": %s}' % value)
        r = subprocess.run([MICROPYTHON, os.path.join(ROOT, "main.py"), str(p)], capture_output=True, text=True,
                           timeout=20, cwd=str(tmp_path))
        out = (r.stdout + r.stderr).strip()
        assert r.returncode == 2 and out == "config error: " + expect, out
