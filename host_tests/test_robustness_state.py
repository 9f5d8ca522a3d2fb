"""Robustness of what the agent keeps and loads (issue: robustness, classes 8-11):
a broken test module, power cuts during runs, corrupt files at start-up, floods of
requests that queue work, memory pressure, and checksums over decimal numbers."""
import json
import os
import shutil
import subprocess
import time

import pytest
from websockets.exceptions import ConnectionClosed

from harness import CallErrorReply
from conftest import MICROPYTHON, ROOT, AgentProc, base_config, collect, gv, result_checksum, wait_booted
from diag_helpers import offered, results, start
from test_robustness import booted, default_reply, still_serving
from ws_peer import WsPeer


# --- 8. one bad test module costs only itself -----------------------------------------

BROKEN = {
    "typo": 'TYPE = "SelfTest"\nVERSION = "1"\nDESCRIPTION = "d"\nPARAMS = (("n", "int", None, None, None, None, 1,'
            ' False, "x"),)\nCONSTRAINTS = (None, False, (), 5, 0, False)\nMEASURES = ()\nVERDICTS = ("Passed",)\n'
            'OUTCOME = "o"\n\nasync def run(ctx):\n    return "Passed"\n',
    "noimport": "import no_such_module\n",
    "badverdict": 'TYPE = "SelfTest"\nVERSION = "1"\nDESCRIPTION = "d"\nPARAMS = ()\n'
                  'CONSTRAINTS = (None, False, (), 5, 0, False)\nMEASURES = ()\nVERDICTS = ("Great",)\n'
                  'OUTCOME = "o"\n\nasync def run(ctx):\n    return "Passed"\n',
}


@pytest.mark.req("DG01.FR.07")
def test_broken_test_modules_are_left_out_and_reported(csms, build_dir, tmp_path):
    build = str(tmp_path / "build")
    shutil.copytree(build_dir, build)
    for name, src in BROKEN.items():
        with open(os.path.join(build, "lib", "diag", "tests", name + ".py"), "w") as f:
            f.write(src)
    # A build offers the tests it was built with (diag/builtin.py); modules added to
    # the tree afterwards are offered only when the config lists them.
    ids = sorted(offered()) + sorted(BROKEN)
    a = AgentProc(build, base_config(csms.url, str(tmp_path), diagTests=ids), str(tmp_path)).start()
    try:
        wait_booted(csms, a)
        log = a.log()
        assert "test module typo left out: parameter n: dataType 'int' is not one of" in log, log
        assert "test module noimport left out: ImportError" in log
        assert "test module badverdict left out: VERDICTS: 'Great' is not one of" in log
        assert csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": 1})["status"] == "Accepted"
        ids = [t["testId"] for p in collect(csms, a.station, "NotifyDiagnosticsCatalog", 1) for t in p["test"]]
        assert "memory" in ids and "health" in ids and not set(BROKEN) & set(ids)
        res = gv(csms, a.station, ({"name": "DiagnosticTest", "instance": "typo"}, "Problem"),
                 ({"name": "DiagnosticTest", "instance": "typo"}, "Description"),
                 ({"name": "DiagnosticTest", "instance": "memory"}, "Problem"))
        assert [r["attributeValue"] for r in res][0::2] == ["true", "false"]
        assert res[1]["attributeValue"].startswith("left out: parameter n: dataType")
        assert start(csms, a.station, 2, ("typo",))["statusInfo"]["reasonCode"] == "UnknownTest"
    finally:
        assert a.stop() == 0
    assert "Traceback" not in a.log()


def test_every_shipped_test_module_checks(tmp_path):
    # What a charger maker's CI runs: every module in lib/diag/tests/ against the
    # descriptor checker, inside MicroPython.
    script = tmp_path / "check.py"
    script.write_text(
        "import os, sys\nfrom diag import descriptor\nbad = 0\n"
        "for n in sorted(os.listdir('%s')):\n"
        "    if n.endswith('.py') and not n.startswith('_'):\n"
        "        try:\n"
        "            __import__('diag.tests.' + n[:-3])\n"
        "            descriptor.check(sys.modules['diag.tests.' + n[:-3]])\n"
        "            print('ok', n)\n"
        "        except Exception as e:\n"
        "            bad += 1\n"
        "            print('BAD', n, e)\n"
        "sys.exit(bad)\n" % os.path.join(ROOT, "lib", "diag", "tests"))
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), os.path.join(ROOT, ".deps")))
    r = subprocess.run([MICROPYTHON, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") >= 10, r.stdout


# --- 9. a power cut during a run ends in results ----------------------------------------

@pytest.mark.req("DG04.FR.01", "DG04.FR.03", "DG04.FR.04")
def test_power_cut_during_a_run_ends_every_test_in_a_result(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    assert start(csms, a.station, 41, ("noop", {"durationMs": 400}), ("noop", {"durationMs": 20000}),
                 ("memory",), ("health",), requestor="Zoë")["status"] == "Accepted"
    first = results(csms, a.station, 1)[0]
    assert first["verdict"] == "Passed"
    csms.wait_for("NotifyDiagnosticsStatus", station=a.station,
                  predicate=lambda r: r["payload"].get("completed") == 1 and r["payload"]["status"] == "Running")
    time.sleep(0.3)
    a.kill()  # SIGKILL: a power cut in the middle of the second test
    n = len(csms.messages())
    a.start()
    rs = results(csms, a.station, 3, after=n)
    assert [(r["testId"], r["verdict"]) for r in rs] == [("noop", "Aborted"), ("memory", "Skipped"),
                                                          ("health", "Skipped")], rs
    for r in rs:
        assert r["statusInfo"]["reasonCode"] == "StationRestarted"
        assert r["requestId"] == 41 and r["requestor"] == "Zoë" and r["checksum"] == result_checksum(r)
    assert [p["value"] for p in rs[0]["parameter"] if p["name"] == "durationMs"] == [20000]
    assert sorted(r["resultId"] for r in rs + [first]) == list(range(first["resultId"], first["resultId"] + 4))
    # And only once: a second restart adds nothing.
    deadline = time.monotonic() + 10
    while gv(csms, a.station, ("DiagnosticsCtrlr", "ResultsPending"))[0]["attributeValue"] != "0":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert a.stop() == 0
    before = len(csms.messages(station=a.station, action="NotifyDiagnosticsResult"))
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    time.sleep(1)
    assert len(csms.messages(station=a.station, action="NotifyDiagnosticsResult")) == before


# --- 10. corrupt files at start-up ----------------------------------------------------

def _valid_line(rec):
    import zlib
    body = json.dumps(rec, separators=(",", ":")).encode()
    return body + b" " + ("%08x" % (zlib.crc32(body) & 0xFFFFFFFF)).encode() + b"\n"


@pytest.mark.req("DG04.FR.05")
def test_corrupt_journal_and_state_never_stop_the_start(csms, make_agent, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    good = {"resultId": 5, "testId": "memory", "testType": "SelfTest", "requestor": "CSMS", "trigger": "OnDemand",
            "startTime": "2026-11-29T10:00:00Z", "endTime": "2026-11-29T10:00:01Z", "verdict": "Passed"}
    from hashlib import sha256
    good["checksum"] = sha256(json.dumps(good, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    with open(state / "results.log", "wb") as f:
        f.write(b"\xff\xfe garbage that is not UTF-8 \xed\xa0\x80 00000000\n")
        f.write(_valid_line(good))
        f.write(_valid_line({"resultId": "x"}))  # checks, but a result id must be a number
        f.write(b"\x00" * 300 + b"\n")
        f.write(b'{"resultId": 6, "tor')  # torn last line
    with open(state / "state.json", "wb") as f:
        f.write(b'{"diag/index": [[1, 2, 3]], "x": "\xff\xfe"}')
    a = make_agent(csms)
    wait_booted(csms, a)
    log = a.log()
    assert "journal: 4 torn or corrupt record(s) dropped" in log, log
    assert "store:" in log and "unreadable" in log
    rs = results(csms, a.station, 1)  # the intact pending result is delivered
    assert rs[0]["resultId"] == 5 and rs[0]["checksum"] == good["checksum"]
    assert start(csms, a.station, 3, ("memory",))["status"] == "Accepted"
    assert results(csms, a.station, 1, pred=lambda r: r["resultId"] > 5)[0]["resultId"] == 6


def test_config_that_is_not_utf8_is_one_clear_line(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_bytes(b'{"csmsUrl": "ws://127.0.0.1:1", "stationId": "\xff\xfe", "vendor": "a", "model": "b"}')
    r = subprocess.run([MICROPYTHON, os.path.join(ROOT, "main.py"), str(cfg)], capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    assert r.returncode == 2 and "config error:" in r.stdout and "not UTF-8" in r.stdout, r.stdout + r.stderr


# --- 11. floods of requests that queue work --------------------------------------------

def test_floods_are_bounded_and_every_accepted_one_completes(make_agent):
    peer = WsPeer(default_reply).start()
    try:
        a = make_agent(peer)
        booted(peer)
        # A result in the journal, so that GetDiagnosticsResults has something to send.
        peer.send(json.dumps([2, "m", "StartDiagnostics", {"requestId": 1, "test": [{"testId": "memory"}]}]))
        assert peer.next_message(10, pred=lambda m: m[0] == 2 and m[2] == "NotifyDiagnosticsResult")
        floods = [("GetDiagnosticsCatalog", lambda i: {"requestId": i}),
                  ("GetDiagnosticsResults", lambda i: {"requestId": i}),
                  ("TriggerMessage", lambda i: {"requestedMessage": "StatusNotification"}),
                  ("GetBaseReport", lambda i: {"requestId": i, "reportBase": "SummaryInventory"})]
        for action, body in floods:
            peer.drain()
            for i in range(50):
                peer.send(json.dumps([2, "%s-%d" % (action, i), action, body(1000 + i)]))
            replies = [peer.reply_to("%s-%d" % (action, i), 10) for i in range(50)]
            assert all(r and r[0] == 3 for r in replies), (action, replies)
            statuses_ = [r[2]["status"] for r in replies]
            accepted = statuses_.count("Accepted")
            busy = [r[2] for r in replies if r[2]["status"] == "Rejected"]
            assert accepted >= 1 and accepted + len(busy) + statuses_.count("EmptyResultSet") == 50, replies[:3]
            assert all(b["statusInfo"]["reasonCode"] == "Busy" for b in busy), busy
            still_serving(peer, "alive-" + action)
            # The accepted ones are answered in full: the agent falls quiet, and a new
            # request of the kind is accepted again.
            deadline = time.monotonic() + 60
            while peer.next_message(1.5, pred=lambda m: m[0] == 2) is not None:
                assert time.monotonic() < deadline, "follow-ups never end"
            peer.send(json.dumps([2, "probe", action, body(5000)]))
            assert peer.reply_to("probe", 10)[2]["status"] in ("Accepted", "EmptyResultSet")
        time.sleep(2)
        log = a.log()
        assert "MemoryError" not in log and "out of memory" not in log
    finally:
        peer.stop()
    assert peer.problems == []


# --- checksums over decimal numbers --------------------------------------------------------

@pytest.mark.req("DG02.FR.07")
def test_checksum_of_decimals_matches_what_the_csms_recomputes(tmp_path):
    # MicroPython prints some floats with a wrong 17th digit (0.812 ->
    # 0.8120000000000001); the CSMS recomputes the checksum from the value it parsed.
    script = tmp_path / "f.py"
    script.write_text(
        "import json, random\nfrom diag.result import float_text, number\nrandom.seed(3)\n"
        "vals = [i / 1000 for i in range(-2000, 2000)] + [random.randint(-10**12, 10**12) / 1000 for _ in range(4000)]\n"
        "vals += [random.random() * 10 ** random.randint(-9, 9) for _ in range(2000)] + [1e-4, 1e-5, 1e15, 1e16, 0.5]\n"
        "for v in vals:\n    x = number(v)\n    if type(x) is float:\n        print(json.dumps(x), float_text(x))\n")
    env = dict(os.environ, MICROPYPATH=".frozen:%s" % os.path.join(ROOT, "lib"))
    r = subprocess.run([MICROPYTHON, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    bad = []
    for line in r.stdout.splitlines():
        wire, canon = line.split()
        if repr(float(wire)) != canon:
            bad.append((wire, canon, repr(float(wire))))
    assert len(r.stdout.splitlines()) > 5000
    assert bad == [], bad[:10]


# --- memory pressure: every accepted request still ends in results ------------------------

@pytest.mark.req("DG02.FR.06")
def test_results_hold_when_the_heap_is_nearly_full(csms, build_dir, tmp_path):
    # 224 KB is just above the smallest heap this 64-bit build runs the diagnostics in
    # (about 180 KB of it are code and names): runs, reports and catalogs at once then
    # meet MemoryErrors, and each accepted test must still end in one journaled result.
    a = AgentProc(build_dir, base_config(csms.url, str(tmp_path)), str(tmp_path), heap="224k").start()
    try:
        wait_booted(csms, a)
        gv(csms, a.station, ("DiagnosticsCtrlr", "MaxConcurrentRuns"))
        from conftest import sv
        assert sv(csms, a.station, "DiagnosticsCtrlr", "MaxConcurrentRuns", "8")["attributeStatus"] == "Accepted"
        tests = [("memory",), ("health",), ("noop", {"durationMs": 50}), ("flash", {"sizeBytes": 2048}),
                 ("compliance", {"rules": "OCPPCommCtrlr.HeartbeatInterval <= 86400"})]
        accepted = {}
        refused = 0
        for i in range(6):
            # Under this pressure a request may be refused (Busy, or InternalError "out
            # of memory"); what is accepted must end in results.
            for action, body in (("GetBaseReport", {"requestId": 500 + i, "reportBase": "FullInventory"}),
                                 ("GetDiagnosticsCatalog", {"requestId": 600 + i})):
                try:
                    csms.call(a.station, action, body)
                except CallErrorReply as e:
                    assert e.code == "InternalError", e
                    refused += 1
                except (ConnectionError, ConnectionClosed, TimeoutError):  # it may drop the link, and come back
                    csms.wait_for(type="CONNECT", station=a.station, after=len(csms.messages()) - 1)
                    refused += 1
            try:
                res = start(csms, a.station, 700 + i, *tests)
            except CallErrorReply as e:
                assert e.code == "InternalError", e
                refused += 1
                continue
            except (ConnectionError, ConnectionClosed, TimeoutError):
                refused += 1
                continue
            if res["status"] == "Accepted":
                accepted[700 + i] = len(tests)
        assert accepted, "no request accepted"
        for req, n in accepted.items():
            rs = results(csms, a.station, n, timeout=60, pred=lambda r, req=req: r.get("requestId") == req)
            assert sorted(r["testId"] for r in rs) == sorted(t[0] for t in tests), rs
            assert len({r["resultId"] for r in rs}) == n
        still = gv(csms, a.station, ("ChargingStation", "Model"))[0]["attributeValue"]
        assert still == "ADX-1"
    finally:
        assert a.stop() == 0
    log = a.log()
    assert "Traceback" not in log, log[-3000:]
