"""The CSMS-side diagnostics library (tools/ocppdiag/) against the real agent: the
README's example CSMS (stock `ocpp` package + the mixin, installed with pip), catalog,
parameter checks before sending, runs with verified checksums, tampered results, the
DataTransfer binding, the device-model binding, CustomTrigger and NotifyEvent, and the
command-line CSMS receiving a start-up result natively."""

import asyncio
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import types

import pytest
from websockets.sync.client import connect

from conftest import ROOT
from harness import ThreadedCsms

TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import ocppdiag  # noqa: E402
from net_peers import free_port  # noqa: E402
from ocppdiag import ParameterError, binding, checksum  # noqa: E402

REQUESTOR = "opérateur:zoë/机器"


class Lines:
    """The stdout lines of a subprocess, read by a thread; wait() for one matching."""

    def __init__(self, proc):
        self.proc, self.seen, self._q = proc, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if re.search(pattern, line):
                    return line
            left = deadline - time.monotonic()
            try:
                line = self._q.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = None
            if line is None and (left <= 0 or self.proc.poll() is not None):
                raise AssertionError("no line matching %r; got:\n%s" % (
                    pattern, "\n".join(self.seen[-40:])))
            if line is not None:
                self.seen.append(line)


class Collector:
    """Diagnostics events, appended on the CSMS loop; wait() from the test thread."""

    def __init__(self):
        self.events, self._cond = [], threading.Condition()

    def __call__(self, ev):
        with self._cond:
            self.events.append(ev)
            self._cond.notify_all()

    def wait(self, kind, n=1, timeout=30):
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.of(kind)) >= n, timeout)
            assert ok, "no %d %s events in %r" % (n, kind, self.events)
            return self.of(kind)

    def of(self, kind):
        return [e.data for e in self.events if e.kind == kind]


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def readme_example():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- ocppdiag-example -->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md lost its ocppdiag example"
    return m.group(1)


def install_ocppdiag(tmp_path):
    """pip install of a copy of tools/ocppdiag (links resolved, as an sdist has them)
    into a target directory: the package builds, and carries its schemas."""
    src = tmp_path / "ocppdiag-src"
    shutil.copytree(os.path.join(TOOLS, "ocppdiag"), src, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(src)],
                   check=True, timeout=300)
    assert (target / "ocppdiag" / "schemas" / "StartDiagnosticsRequest.json").is_file()
    assert (target / "ocppdiag" / "handlers.py").is_file()
    return target


def test_readme_example_installed_with_pip_runs_a_test_on_the_agent(make_agent, tmp_path):
    """The README's few lines, on the package as pip installs it (not tools/ on the
    path): catalog, a refusal before sending, a run whose checksum verifies."""
    site = install_ocppdiag(tmp_path)
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env,
                            cwd=str(tmp_path))
    try:
        out = Lines(proc)
        make_agent(types.SimpleNamespace(url="ws://127.0.0.1:%d" % port), stationId="CS-E1")
        offers = out.wait(r"^CS-E1 offers ")
        assert " memory " in offers + " " and " noop" in offers
        refused = out.wait(r"^refused: ")
        assert refused == ("refused: OutOfRange: test memory, parameter minFreeBytes: "
                           "1000000000 outside 0..16777216 B")
        done = out.wait(r"^memory ")
        assert done == "memory Passed opérateur:zoë checksum ok"
        assert not any("Traceback" in line for line in out.seen), out.seen
    finally:
        _stop(proc)
    # The ocppdiag README for pip users shows the same example.
    with open(os.path.join(TOOLS, "ocppdiag", "README.md"), encoding="utf-8") as f:
        assert readme_example() in f.read()


def test_catalog_read_and_parameters_checked_before_sending(csms, agent):
    st = csms.station(agent.station)
    cat = csms.run(st.get_diagnostics_catalog())
    assert cat.complete and {"memory", "noop", "health"} <= set(cat.tests)
    assert cat.parameters("memory")["minFreeBytes"]["maxValue"] == 16777216
    assert csms.diagnostics(agent.station).catalog is cat
    noop = cat.json_schema("noop")  # for forms and AI agents (issue 11)
    assert noop["required"] == ["durationMs"]
    assert noop["properties"]["outcome"]["enum"] == ["Passed", "Failed", "Error", "OutOfMemory"]
    assert noop["properties"]["durationMs"]["x-unit"] == "ms"
    before = len(csms.messages(action="StartDiagnostics", type=None))
    cases = [
        (("memory", {"minFreeBytes": 16777217}), "OutOfRange", "minFreeBytes",
         "16777217 outside 0..16777216 B"),
        (("memory", {"minFreeBytes": "viel"}), "InvalidParameter", "minFreeBytes",
         "must be an integer"),
        (("memory", {"minFreeBytes": 5.5}), "InvalidParameter", "minFreeBytes", "integer"),
        (("memory", {"minFreeBytes": True}), "InvalidParameter", "minFreeBytes", "integer"),
        (("memory", {"größe": 1}), "UnknownParameter", "größe", "not a parameter"),
        (("noop", {"outcome": "Vielleicht"}), "InvalidParameter", "outcome",
         "Vielleicht is not one of Passed,Failed,Error,OutOfMemory"),
        (("noop", {}), "MissingParameter", "durationMs", "required"),
        (("mémoire", {}), "UnknownTest", None, "not offered"),
    ]
    for test, reason, param, text in cases:
        with pytest.raises(ParameterError) as e:
            csms.run(st.start_diagnostics([("memory", None), test]))
        assert e.value.reason == reason and e.value.parameter == param, e.value
        assert e.value.test_id == test[0] and text in str(e.value), e.value
        if param:
            assert "parameter %s" % param in str(e.value)
    # Refused locally: no StartDiagnostics reached the station, no run is waiting.
    assert len(csms.messages(action="StartDiagnostics", type=None)) == before
    assert csms.diagnostics(agent.station).runs == {}
    # The station agrees with the library: unchecked, it refuses the same way.
    with pytest.raises(ocppdiag.Refused) as e:
        csms.run(st.start_diagnostics([("memory", {"minFreeBytes": 16777217})], check=False))
    assert e.value.reason == "OutOfRange" and "minFreeBytes" in e.value.info


def test_run_results_arrive_verified_with_events(csms, agent):
    st = csms.station(agent.station)
    seen = Collector()
    csms.csms.diag_hub.subscribe(seen)  # called on the CSMS loop
    run = csms.run(st.start_diagnostics(
        [("memory", {"minFreeBytes": 1000}), ("noop", {"durationMs": 0, "outcome": "Failed"})],
        requestor=REQUESTOR))
    results = csms.run(run.wait(60))
    assert [(r.test_id, r.verdict, r.verified, r.binding) for r in results] == [
        ("memory", "Passed", True, "native"), ("noop", "Failed", True, "native")]
    assert all(r.payload["requestor"] == REQUESTOR and r.request_id == run.request_id
               for r in results)
    assert {1000} == {p["value"] for p in results[0].payload["parameter"]
                      if p["name"] == "minFreeBytes"}
    assert [r.result_id for r in seen.wait("result", 2)] == [r.result_id for r in results]
    statuses = [p["status"] for p in seen.wait("status", 3)]
    assert statuses[:2] == ["Running", "Running"] and "Finished" in statuses, statuses
    assert {e.station for e in seen.events} == {agent.station}
    held = csms.diagnostics(agent.station).results
    assert all(held[r.result_id] is r for r in results)
    # The stored results, asked for again: the same objects, checksums intact.
    again = csms.run(st.get_diagnostics_results(result_id_from=results[0].result_id))
    assert [r.payload for r in again] == [r.payload for r in results]
    assert all(r.repeat and r.verified and r.report_request_id is not None for r in again)
    assert len(seen.of("result")) == 2  # repeats are not news


def test_tampered_result_is_acknowledged_and_marked(tmp_path):
    """A result whose content no longer matches its checksum (a changed measurement,
    verdict or requestor): acknowledged (else it is sent forever), event marked
    unverified, and the strict CSMS lists it as a violation."""
    c = ThreadedCsms().start()
    try:
        got = Collector()
        c.csms.diag_hub.subscribe(got)
        good = {"resultId": 7, "testId": "memory", "testType": "SelfTest",
                "requestor": REQUESTOR, "trigger": "OnDemand", "requestId": 3,
                "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:01Z",
                "verdict": "Failed", "evidence": "frei: 100 B — zu wenig",
                "measurement": [{"name": "freeBytes", "value": 100, "unit": "B"}]}
        good["checksum"] = checksum.compute(good)
        forged = json.loads(json.dumps(good))
        forged.update(resultId=8, verdict="Passed")
        forged2 = json.loads(json.dumps(good))
        forged2["resultId"] = 9
        forged2["measurement"][0]["value"] = 100000
        with connect("%s/CS-%%C3%%BC" % c.url, subprotocols=["ocpp2.1"], open_timeout=5) as ws:
            ws.send(json.dumps([2, "n1", "NotifyDiagnosticsResult", {"result": good}],
                               ensure_ascii=False))
            assert json.loads(ws.recv(timeout=5)) == [3, "n1", {}]
            ws.send(json.dumps([2, "n2", "NotifyDiagnosticsResult", {"result": forged}]))
            assert json.loads(ws.recv(timeout=5)) == [3, "n2", {}]
            ws.send(json.dumps([2, "n3", "DataTransfer", binding.data_transfer_request(
                "NotifyDiagnosticsResult", {"result": forged2})]))
            assert json.loads(ws.recv(timeout=5)) == [3, "n3", {"status": "Accepted",
                                                                "data": {}}]
            # A DataTransfer whose data breaks the schema: Rejected, naming code and field.
            for data, text in (({}, "OccurrenceConstraintViolation: 'result' is a required"),
                               ({"result": good, "résultat": 1},
                                "FormatViolation: Additional properties are not allowed "
                                "('résultat' was unexpected)")):
                ws.send(json.dumps([2, "n4", "DataTransfer", binding.data_transfer_request(
                    "NotifyDiagnosticsResult", data)]))
                reply = json.loads(ws.recv(timeout=5))
                assert reply[:2] == [3, "n4"] and reply[2]["status"] == "Rejected"
                info = reply[2]["statusInfo"]
                assert info["reasonCode"] == "InvalidPayload"
                assert info["additionalInfo"].startswith(text), info
            # Another vendor's DataTransfer is not ours: the generic answer.
            ws.send(json.dumps([2, "n5", "DataTransfer", {"vendorId": "com.example",
                                                          "messageId": "NotifyDiagnosticsResult"}]))
            assert json.loads(ws.recv(timeout=5))[2] == {"status": "Accepted"}
        c.wait_disconnected("CS-ü")
        res = [(r.result_id, r.verified, r.binding) for r in got.wait("result", 3)]
        assert res == [(7, True, "native"), (8, False, "native"), (9, False, "dataTransfer")]
        errors = sorted(v["error"] for v in c.violations)
        assert errors[2:] == ["result 8: checksum does not verify",
                              "result 9: checksum does not verify"], errors
        assert len([e for e in errors if e.startswith("DataTransfer NotifyDiagnosticsResult: ")
                    ]) == 2, errors
        assert c.errors == []
    finally:
        c.stop()


def test_data_transfer_binding_end_to_end(csms, agent):
    st = csms.station(agent.station)
    st.diag_binding = ocppdiag.DATA_TRANSFER
    cat = csms.run(st.get_diagnostics_catalog(test_ids=["memory"]))
    assert list(cat.tests) == ["memory"]

    async def first_result():  # the async-iterator form of the events
        async with contextlib.aclosing(st.diag.events(kinds=("result",))) as events:
            async for ev in events:
                return ev.data

    # Submitted first, so it listens before the run starts (the loop runs them in order).
    listening = asyncio.run_coroutine_threadsafe(first_result(), csms.csms_loop)
    run = csms.run(st.start_diagnostics([("memory", {"minLargestBlock": 64})],
                                        requestor=REQUESTOR))
    (r,) = csms.run(run.wait(60))
    assert (r.verdict, r.verified, r.binding) == ("Passed", True, "dataTransfer")
    assert listening.result(30) is r
    assert st.diag._callbacks == []  # the iterator, closed, unsubscribed
    sent = csms.messages(station=agent.station, action="DataTransfer", type="CALL")
    assert {m["payload"]["messageId"] for m in sent} >= {"NotifyDiagnosticsCatalog",
                                                        "NotifyDiagnosticsResult"}
    assert not csms.messages(station=agent.station, action="NotifyDiagnosticsResult")
    # A request the station cannot honour comes back Refused, through the binding too.
    with pytest.raises(ocppdiag.Refused) as e:
        csms.run(st.cancel_diagnostics(987654))
    assert e.value.reason == "UnknownRequest"


def test_binding_falls_back_to_data_transfer_and_checks_what_comes_back():
    """A station that answers the native request NotImplemented gets it again inside
    DataTransfer, and DataTransfer from then on; what comes back inside is input too."""
    c = ThreadedCsms().start()
    try:
        with connect("%s/CS-AUTO" % c.url, subprotocols=["ocpp2.1"], open_timeout=5) as ws:
            c.wait_connected("CS-AUTO")
            st = c.station("CS-AUTO")

            def ask(coro):
                return asyncio.run_coroutine_threadsafe(coro, c.csms_loop)

            def answer(action, reply):
                msg = json.loads(ws.recv(timeout=10))
                assert msg[0] == 2 and msg[2] == action, msg
                ws.send(json.dumps(reply(msg[1], msg[3]), ensure_ascii=False))
                return msg[3]

            fut = ask(st.get_diagnostics_catalog())
            answer("GetDiagnosticsCatalog", lambda i, p: [4, i, "NotImplemented", "nö", {}])
            inner = answer("DataTransfer", lambda i, p: [3, i, {
                "status": "Accepted", "data": {"status": "EmptyResultSet"}}])
            assert inner["vendorId"] == ocppdiag.DEFAULT_VENDOR_ID
            assert inner["messageId"] == "GetDiagnosticsCatalog" and "requestId" in inner["data"]
            assert len(fut.result(15)) == 0 and st.diag_binding == ocppdiag.DATA_TRANSFER

            fut = ask(st.start_diagnostics(["prüfung"], check=False))
            answer("DataTransfer", lambda i, p: [3, i, {
                "status": "Accepted", "data": {"status": "Vielleicht"}}])
            with pytest.raises(ocppdiag.CallError) as e:
                fut.result(15)
            assert e.value.code == "InvalidCallResult" and "Vielleicht" in e.value.description
            assert st.diag.runs == {}  # nothing waits for a run that never started

            fut = ask(st.cancel_diagnostics(5))
            answer("DataTransfer", lambda i, p: [3, i, {
                "status": "Rejected", "statusInfo": {"reasonCode": "Nein",
                                                     "additionalInfo": "pas de ça"}}])
            with pytest.raises(ocppdiag.CallError) as e:
                fut.result(15)
            assert e.value.code == "Rejected" and e.value.description == "pas de ça"
        assert c.violations == [] and c.errors == []
    finally:
        c.stop()


def test_diagnostic_tests_read_from_a_base_report(csms, agent):
    """Without the native catalog: the DiagnosticTest components of a GetBaseReport give
    the tests and their parameters, enough to check a request before sending it."""
    st = csms.station(agent.station)
    tests, ctrlr = csms.run(st.read_diagnostic_tests())
    assert ctrlr["VendorId"] == ocppdiag.DEFAULT_VENDOR_ID and ctrlr["Enabled"] == "true"
    assert tests["memory"]["TestType"] == "SelfTest"
    params = binding.parse_parameters(tests["memory"]["Parameters"])
    assert params[0] == {"name": "minFreeBytes", "dataType": "integer", "required": False,
                         "minValue": 0, "maxValue": 16777216, "defaultValue": 8192}
    cat = csms.diagnostics(agent.station).catalog
    assert cat.source == "deviceModel" and "noop" in cat
    assert cat.parameters("noop")["outcome"]["allowedValues"] == [
        "Passed", "Failed", "Error", "OutOfMemory"]
    with pytest.raises(ParameterError) as e:
        csms.run(st.start_diagnostics([("memory", {"minLargestBlock": -1})]))
    assert e.value.reason == "OutOfRange" and e.value.parameter == "minLargestBlock"


def test_custom_trigger_result_and_notify_event(csms, agent):
    st = csms.station(agent.station)
    seen = Collector()
    csms.diagnostics(agent.station).subscribe(seen)
    res = csms.run(st.custom_trigger("noop", {"durationMs": 0, "outcome": "Failed"}))
    assert res["status"] == "Accepted"
    (r,) = seen.wait("result")
    assert (r.test_id, r.verdict, r.payload["trigger"], r.verified) == (
        "noop", "Failed", "CustomTrigger", True)
    (ev,) = seen.wait("event")
    assert (ev["testId"], ev["state"], ev["severity"], ev["cleared"]) == ("noop", "Failed", 4,
                                                                         False)
    # The request's evse aims a test (DG08.FR.06): memory runs for the whole station.
    res = csms.run(st.custom_trigger("memory", evse={"id": 1}))
    assert (res["status"], res["statusInfo"]["reasonCode"]) == ("Rejected", "TargetNotAllowed"), res


def test_cli_csms_takes_a_startup_result_natively(make_agent, tmp_path):
    """python tools/csms.py answers NotifyDiagnosticsResult (no NotImplemented, so no
    DataTransfer fallback), prints messages whole and keeps a JSONL log."""
    port, log = free_port(), tmp_path / "csms.jsonl"
    proc = subprocess.Popen([sys.executable, os.path.join(TOOLS, "csms.py"), "--port", str(port),
                             "--log", str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    try:
        out = Lines(proc)
        out.wait(r"CSMS listening on ")
        make_agent(types.SimpleNamespace(url="ws://127.0.0.1:%d" % port),
                   stationId="CS-CLI", startupTests="memory")
        line = out.wait(r"CS-CLI RESULT #\d+ memory ")
        assert line.endswith("memory Passed (StartUp, checksum ok)"), line
        raw = out.wait(r"CS-CLI -> CSMS: CALL NotifyDiagnosticsResult ")
        # Whole, not cut at 160 characters: the JSON payload parses.
        payload = json.loads(raw.split(" id=", 1)[1].split(" ", 1)[1])
        assert len(raw) > 160 and checksum.verify(payload["result"])
    finally:
        _stop(proc)
    assert proc.returncode == 0, "\n".join(out.seen[-20:])
    assert "NotImplemented" not in "\n".join(out.seen)
    records = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    calls = [(r.get("type"), r.get("action")) for r in records if r["kind"] == "record"]
    assert ("CALL", "NotifyDiagnosticsResult") in calls
    assert ("CALL", "DataTransfer") not in calls
    sent = [r["raw"] for r in records if r["kind"] == "sent"]
    assert sent and not any(json.loads(s)[0] == 4 for s in sent)


# -- the library's own rules, without an agent --

def test_checksum_worked_example_of_the_spec():
    r = {"endTime": "2025-06-01T10:15:02Z",
         "evidence": "48213 B free after gc; largest block 30016 B",
         "measurement": [{"limit": ">= 20000", "name": "freeBytes", "unit": "B",
                          "value": 48213, "withinLimit": True},
                         {"name": "fragmentation", "value": 0.125}],
         "parameter": [{"name": "minFreeBytes", "value": 20000},
                       {"name": "mode", "value": "quick"}],
         "requestId": 7, "requestor": "ops-agent/anomaly-7", "resultId": 42,
         "startTime": "2025-06-01T10:15:00Z", "testId": "MemoryCheck",
         "testType": "SelfTest", "trigger": "OnDemand", "verdict": "Passed",
         "checksum": "c65d436541c474321a242de9ddea972cb9f955d0e302cbce73cab9844217ee68"}
    assert checksum.verify(r)
    for bad in ({**r, "verdict": "Failed"}, {**r, "checksum": r["checksum"].upper()},
                {**r, "checksum": None}, {k: v for k, v in r.items() if k != "checksum"},
                {**r, "measurement": [{"name": "x", "value": float("nan")}]}, "not a dict"):
        assert not checksum.verify(bad)
    # Non-ASCII is hashed as raw UTF-8 (ensure_ascii=False), control characters escaped.
    assert checksum.canonical({"b": "é\n", "a": 1}) == '{"a":1,"b":"é\\n"}'


def test_catalog_assembled_from_parts_in_any_order():
    mem = {"testId": "memory", "testType": "SelfTest", "version": "1", "description": "Spéicher",
           "parameter": [{"name": "n", "dataType": "decimal", "required": True,
                          "minValue": 0.5, "maxValue": 2}]}
    other = dict(mem, testId="zwei")
    cat = ocppdiag.Catalog(5)
    assert not cat.add_part({"requestId": 5, "seqNo": 1, "test": [other]})
    assert not cat.complete
    assert cat.add_part({"requestId": 5, "seqNo": 0, "tbc": True, "test": [mem]})
    assert set(cat.tests) == {"memory", "zwei"}
    assert cat.check("memory", {"n": 2}) == {"n": 2}
    assert cat.check("memory", [{"name": "n", "value": 0.5}]) == {"n": 0.5}
    with pytest.raises(ParameterError, match="n: given twice"):
        cat.check("memory", [{"name": "n", "value": 1}, {"name": "n", "value": 1}])
    with pytest.raises(ParameterError, match="n: 2.5 outside 0.5..2"):
        cat.check("memory", {"n": 2.5})
    with pytest.raises(ParameterError, match="n: must be a decimal"):
        cat.check("memory", {"n": float("inf")})
    schema = cat.json_schema("memory")
    assert schema["properties"]["n"] == {"type": "number", "minimum": 0.5, "maximum": 2}
    assert schema["required"] == ["n"] and schema["description"] == "Spéicher"
    from jsonschema import Draft4Validator
    v = Draft4Validator(schema)
    assert v.is_valid({"n": 1.5}) and not v.is_valid({"n": 3}) and not v.is_valid({})
    assert binding.parse_parameters("a:string=x y;b:enum{p|q}=q;broken;c:decimal[..1.5]") == [
        {"name": "a", "dataType": "string", "required": False, "defaultValue": "x y"},
        {"name": "b", "dataType": "enum", "required": False, "allowedValues": ["p", "q"],
         "defaultValue": "q"},
        {"name": "c", "dataType": "decimal", "required": False, "maxValue": 1.5}]
