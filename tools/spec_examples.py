"""Example messages of docs/diagnostics/SPEC.md's use cases, from a real run: the agent
(the real MicroPython binary, lib/ compiled as deployed) against the reference CSMS, one
scenario per use case, every OCPP-J frame exchanged for it written between the markers
`<!-- example:DGnn:begin -->` and `<!-- example:DGnn:end -->`.

    python tools/spec_examples.py           # (`make spec`)
    python tools/spec_examples.py --force   # rewrite every example from this run

Timestamps, message ids, checksums and measured values are kept as they were in the run.
A use case whose new frames differ from the ones in SPEC.md only in such volatile values
(and in the order of concurrent messages) keeps its old text: `make spec` twice gives no
diff, and a change in what the agent sends shows up.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
ROOT = os.path.dirname(TOOLS)
SPEC = os.path.join(ROOT, "docs", "diagnostics", "SPEC.md")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
STATION = "CS001"
VID = "org.openchargealliance.diagnostics"
_BLOCK = re.compile(r"<!-- example:(DG\d\d):begin -->\n(.*?)<!-- example:\1:end -->", re.S)
_JSON = re.compile(r"```json\n(.*?)\n```", re.S)
_NOTE = re.compile(r"^> (.*)$", re.M)
_INTRO = ("<details><summary>Messages of a real run (reference agent and CSMS; message ids, "
          "timestamps, measured values and checksums as they were)</summary>\n")


# --- reading and comparing examples (also used by host_tests/test_spec_conformance.py) ---

def examples(text):
    """SPEC.md text -> {use case: (frames, notes)} of the example blocks."""
    out = {}
    for m in _BLOCK.finditer(text):
        body = m.group(2)
        out[m.group(1)] = ([json.loads(j) for j in _JSON.findall(body)], _NOTE.findall(body))
    return out


def _norm(x):
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, (int, float)):
        return 0
    if isinstance(x, str):
        return re.sub(r"\d+", "0", re.sub(r"[0-9a-f]{64}", "H", x))
    if isinstance(x, list):
        return [_norm(v) for v in x]
    return {k: _norm(v) for k, v in x.items()}


def signature(frames, notes):
    """What must stay the same for an example to be kept: every frame with message ids,
    numbers, digits and checksums blanked, as a sorted list (concurrent messages, e.g. a
    result and a status notification, may arrive in either order)."""
    fs = sorted(json.dumps(_norm([f[0]] + f[2:]), sort_keys=True) for f in frames)
    return fs, sorted(_norm(n) for n in notes)


# CALLs the CS sends; the CSMS sends the others. A response goes the other way.
_FROM_CS = {"NotifyDiagnosticsCatalog", "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult", "NotifyEvent",
            "LogStatusNotification", "BootNotification", "StatusNotification", "Heartbeat", "NotifyReport"}


def actions(frames):
    """[(frame, action, sent by the CS)]: a response gets the action of the CALL with its id."""
    by_id = {}
    out = []
    for f in frames:
        if f[0] == 2:
            cs = f[2] in _FROM_CS or (f[2] == "DataTransfer" and isinstance(f[3], dict)
                                      and str(f[3].get("messageId", "")).startswith("Notify"))
            by_id[f[1]] = (f[2], cs)
            out.append((f, f[2], cs))
        else:
            action, cs = by_id.get(f[1], (None, False))
            out.append((f, action, not cs))
    return out


def pretty(x, ind=0, width=110):
    """JSON with every object or array that fits in `width` on one line: a result reads
    as a page, not as a column."""
    flat = json.dumps(x, ensure_ascii=False, separators=(", ", ": "))
    if len(flat) + ind <= width or not isinstance(x, (list, dict)) or not x:
        return flat
    pad = " " * (ind + 2)
    if isinstance(x, list):
        items = [pad + pretty(v, ind + 2, width) for v in x]
        return "[\n" + ",\n".join(items) + "\n" + " " * ind + "]"
    items = [pad + json.dumps(k, ensure_ascii=False) + ": " + pretty(v, ind + 2, width) for k, v in x.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"


def render(frames, notes):
    lines = [_INTRO]
    for f, action, cs in actions(frames):
        way = "CS → CSMS" if cs else "CSMS → CS"
        if f[0] == 2:
            head = "%s: %sRequest" % (way, action)
        else:
            head = "%s: %s%s" % (way, action, "Response" if f[0] == 3 else " (CALLERROR)")
        # The envelope on the first line, the payload below it.
        text = json.dumps(f[:-1], ensure_ascii=False, separators=(", ", ": "))[:-1] + ", " + pretty(f[-1]) + "]"
        lines += ["**%s**" % head, "", "```json", text, "```", ""]
    lines += ["> %s" % n for n in notes]
    if notes:
        lines.append("")
    lines.append("</details>\n")
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------

class Run:
    def __init__(self, work):
        from csms import register_diagnostics_schemas
        from harness import ThreadedCsms
        import build
        register_diagnostics_schemas(ROOT)
        self.build = os.path.join(work, "build")
        build.build(self.build)
        self.frames = []  # (direction, frame) in the order the CSMS saw them
        self.csms = ThreadedCsms()
        self.csms.csms.listeners.append(self._on_event)
        self.csms.start()
        cfg = {"csmsUrl": self.csms.url, "stationId": STATION, "vendor": "Acme", "model": "ADX-1",
               "dataDir": os.path.join(work, "state"), "evses": [1, 1], "heartbeatInterval": 300,
               "messageTimeout": 3, "retryBackOffWaitMinimum": 1, "retryBackOffRandomRange": 1}
        self.cfg_path = os.path.join(work, "config.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(work, "agent.log"), "wb")
        # One agent plays every use case in turn; at the host tests' 384 KB (64-bit port,
        # bytecode in the heap) the eighth scenario ran out of memory: see issue 7/8's
        # memory work. The examples are about messages, so they get room.
        heap = os.environ.get("AGENT_HEAP", "512k")
        self.proc = subprocess.Popen([MICROPYTHON, "-X", "heapsize=" + heap, os.path.join(self.build, "main.py"),
                                      self.cfg_path], stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=work)
        rec = self.csms.wait_for("BootNotification", station=STATION, timeout=30)
        for _ in range(2):
            rec = self.csms.wait_for("StatusNotification", station=STATION, after=rec["index"] + 1)

    def _on_event(self, kind, rec):  # CSMS thread
        raw = rec.get("raw")
        if rec.get("station") != STATION or not raw or kind not in ("record", "sent"):
            return
        try:
            f = json.loads(raw)
        except ValueError:
            return
        if isinstance(f, list) and len(f) >= 3:
            self.frames.append(f)

    def stop(self):
        try:
            self.proc.stdin.write(b"stop\n")
            self.proc.stdin.flush()
            self.proc.wait(15)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.csms.stop()
        self.log.close()

    # helpers, as the host tests use them
    def call(self, action, payload):
        return self.csms.call(STATION, action, payload)

    def wait(self, action, pred=None, after=0, timeout=20):
        return self.csms.wait_for(action, station=STATION, after=after, timeout=timeout,
                                  predicate=(lambda r: pred(r["payload"])) if pred else None)

    def n(self):
        return len(self.csms.messages())

    def mark(self):
        return len(self.frames)

    def take(self, since, keep):
        """The frames since `since` whose action is in `keep`, with their responses."""
        _settle(self)
        out = []
        ids = set()
        for f in list(self.frames[since:]):
            if f[0] == 2 and f[2] in keep:
                ids.add(f[1])
                out.append(f)
            elif f[0] != 2 and f[1] in ids:
                out.append(f)
        return out


def _settle(run):
    """Let replies to the last frames arrive (a CALLRESULT follows its CALL within ms)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        calls = {f[1] for f in run.frames if f[0] == 2}
        answered = {f[1] for f in run.frames if f[0] != 2}
        if calls <= answered:
            return
        time.sleep(0.05)


def _quiet(run):
    """Every result acknowledged and every CALL answered: one scenario's messages never
    run into the next one's."""
    deadline = time.monotonic() + 30
    while run.call("GetVariables", {"getVariableData": [
            {"component": {"name": "DiagnosticsCtrlr"}, "variable": {"name": "ResultsPending"}}]}
            )["getVariableResult"][0].get("attributeValue") != "0":
        assert time.monotonic() < deadline, "results still pending"
        time.sleep(0.1)
    _settle(run)


def dg01(run):
    m = run.mark()
    run.call("GetVariables", {"getVariableData": [
        {"component": {"name": "DiagnosticsCtrlr"}, "variable": {"name": v}}
        for v in ("Available", "Version", "VendorId")]})
    run.call("GetDiagnosticsCatalog", {"requestId": 1, "testId": ["memory"]})
    run.wait("NotifyDiagnosticsCatalog", lambda p: p["requestId"] == 1 and not p.get("tbc"))
    return run.take(m, {"GetVariables", "GetDiagnosticsCatalog", "NotifyDiagnosticsCatalog"}), []


def dg02(run):
    m = run.mark()
    run.call("StartDiagnostics", {"requestId": 2, "requestor": "opérateur:zoë", "test": [
        {"testId": "memory", "parameter": [{"name": "minFreeBytes", "value": -1}]}]})
    n = run.n()
    run.call("StartDiagnostics", {"requestId": 3, "requestor": "opérateur:zoë", "test": [
        {"testId": "memory", "parameter": [{"name": "minFreeBytes", "value": 20000}]}]})
    run.wait("NotifyDiagnosticsStatus", lambda p: p["requestId"] == 3 and p["status"] == "Finished", after=n)
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"].get("requestId") == 3, after=n)
    return run.take(m, {"StartDiagnostics", "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult"}), []


def dg03(run):
    m = run.mark()
    n = run.n()
    run.call("StartDiagnostics", {"requestId": 4, "test": [
        {"testId": "noop", "parameter": [{"name": "durationMs", "value": 4000}]}, {"testId": "memory"}]})
    deadline = time.monotonic() + 10
    while "noop" not in run.call("GetVariables", {"getVariableData": [
            {"component": {"name": "DiagnosticsCtrlr"}, "variable": {"name": "RunningTests"}}]}
            )["getVariableResult"][0].get("attributeValue", ""):
        assert time.monotonic() < deadline, "noop never ran"
        time.sleep(0.05)
    run.call("CancelDiagnostics", {"requestId": 4})
    run.wait("NotifyDiagnosticsStatus", lambda p: p["requestId"] == 4 and p["status"] == "Cancelled", after=n)
    rec = run.wait("NotifyDiagnosticsResult", lambda p: p["result"].get("requestId") == 4, after=n)
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"].get("requestId") == 4, after=rec["index"] + 1)
    return run.take(m, {"StartDiagnostics", "CancelDiagnostics", "NotifyDiagnosticsStatus",
                        "NotifyDiagnosticsResult"}), []


def dg04(run):
    from harness import NO_REPLY
    m = run.mark()
    n = run.n()
    silent = [1]

    def once_silent(station, payload):  # the first result gets no answer, later ones do
        if silent and payload["result"].get("requestId") == 5:
            silent.pop()
            return NO_REPLY
        return {}

    run.csms.add_handler("NotifyDiagnosticsResult", once_silent)
    run.call("StartDiagnostics", {"requestId": 5, "test": [{"testId": "memory"}]})
    first = run.wait("NotifyDiagnosticsResult", lambda p: p["result"].get("requestId") == 5, after=n)
    rid = first["payload"]["result"]["resultId"]
    # No answer within the message timeout: the same result again.
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"]["resultId"] == rid, after=first["index"] + 1)
    n = run.n()
    run.call("GetDiagnosticsResults", {"requestId": 6, "resultIdFrom": rid, "maxResults": 1})
    run.wait("NotifyDiagnosticsResult", lambda p: p.get("reportRequestId") == 6, after=n)
    notes = ["The first NotifyDiagnosticsResultRequest got no answer (the CSMS was told to stay silent): "
             "after the message timeout the station sent the same result again, same resultId and checksum."]
    return run.take(m, {"StartDiagnostics", "NotifyDiagnosticsResult", "NotifyDiagnosticsStatus",
                        "GetDiagnosticsResults"}), notes


def dg05(run):
    m = run.mark()
    n = run.n()
    run.call("StartDiagnostics", {"requestId": 7, "test": [
        {"testId": "memory", "parameter": [{"name": "minFreeBytes", "value": 16384}]}], "schedule": {"interval": 2}})
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"]["trigger"] == "Scheduled", after=n)
    run.call("StartDiagnostics", {"requestId": 8, "test": [{"testId": "memory"}], "schedule": {"interval": 0}})
    _settle(run)
    frames = run.take(m, {"StartDiagnostics", "NotifyDiagnosticsResult"})
    # A second scheduled run may have started before the schedule was removed: show one.
    seen, out, drop = False, [], set()
    for f in frames:
        if f[0] == 2 and f[2] == "NotifyDiagnosticsResult":
            if seen:
                drop.add(f[1])
                continue
            seen = True
        if f[1] not in drop:
            out.append(f)
    return out, []


def dg06(run):
    n = run.n()
    # A failed self test first (not shown), so that the health check degrades.
    run.call("StartDiagnostics", {"requestId": 9, "test": [
        {"testId": "noop", "parameter": [{"name": "durationMs", "value": 0}, {"name": "outcome", "value": "Failed"}]}]})
    run.wait("NotifyEvent", lambda p: p["eventData"][0]["component"].get("instance") == "noop", after=n)
    _settle(run)
    m = run.mark()
    n = run.n()
    set_iv = {"setVariableData": [{"component": {"name": "DiagnosticsCtrlr"},
                                   "variable": {"name": "HealthCheckInterval"}, "attributeValue": "2"}]}
    run.call("SetVariables", set_iv)
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"]["testId"] == "health", after=n)
    run.wait("NotifyEvent", lambda p: p["eventData"][0]["component"].get("instance") == "health", after=n)
    set_iv["setVariableData"][0]["attributeValue"] = "0"
    run.call("SetVariables", set_iv)
    _settle(run)
    frames = run.take(m, {"SetVariables", "NotifyDiagnosticsResult", "NotifyEvent"})
    # One health run is enough to show (the interval may have fired twice).
    out, seen, drop = [], 0, set()
    for f in frames:
        if f[0] == 2 and f[2] in ("NotifyDiagnosticsResult", "NotifyEvent"):
            seen += 1
            if seen > 2:
                drop.add(f[1])
                continue
        if f[1] not in drop:
            out.append(f)
    return out, ["Before this, a run of `noop` with `outcome` `Failed` (not shown) made the health check "
                 "count a failed self test."]


def dg07(run):
    m = run.mark()
    n = run.n()
    run.call("DataTransfer", {"vendorId": VID, "messageId": "StartDiagnostics",
                              "data": {"requestId": 10, "test": [{"testId": "memory"}]}})
    run.wait("DataTransfer", lambda p: p.get("messageId") == "NotifyDiagnosticsStatus"
             and p["data"].get("status") == "Finished", after=n)
    run.wait("DataTransfer", lambda p: p.get("messageId") == "NotifyDiagnosticsResult", after=n)
    _settle(run)
    return run.take(m, {"DataTransfer"}), []


def dg08(run):
    m = run.mark()
    n = run.n()
    run.call("TriggerMessage", {"requestedMessage": "CustomTrigger", "customTrigger": "memory",
                                "customData": {"vendorId": VID, "parameter": [{"name": "minFreeBytes", "value": 30000}]}})
    run.wait("NotifyDiagnosticsResult", lambda p: p["result"]["trigger"] == "CustomTrigger", after=n)
    _settle(run)
    return run.take(m, {"TriggerMessage", "NotifyDiagnosticsResult"}), []


def dg09(run):
    from upload_server import UploadServer
    srv = UploadServer().start()
    try:
        m = run.mark()
        n = run.n()
        run.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 11,
                            "log": {"remoteLocation": srv.url + "/upload/CS001"}})
        up = srv.wait(1)
        run.wait("LogStatusNotification", lambda p: p["status"] == "Uploaded", after=n)
        _settle(run)
        lines = up["body"].decode().splitlines()
        h = up["headers"]
        notes = ["The upload: `POST /upload/CS001`, `Content-Type: %s`, `Content-Disposition: %s`, "
                 "%d lines, one result each, the first `resultId` %d." % (
                     h["Content-Type"], h["Content-Disposition"], len(lines), json.loads(lines[0])["resultId"])]
        return run.take(m, {"GetLog", "LogStatusNotification"}), notes
    finally:
        srv.stop()


SCENARIOS = [("DG01", dg01), ("DG02", dg02), ("DG03", dg03), ("DG04", dg04), ("DG05", dg05),
             ("DG06", dg06), ("DG07", dg07), ("DG08", dg08), ("DG09", dg09)]


def main(argv):
    force = "--force" in argv
    with open(SPEC, encoding="utf-8") as f:
        text = f.read()
    old = examples(text)
    with tempfile.TemporaryDirectory(prefix="spec-examples-") as work:
        run = Run(work)
        try:
            new = {}
            for uc, fn in SCENARIOS:
                _quiet(run)
                new[uc] = fn(run)
            assert run.csms.violations == [], run.csms.violations
        finally:
            run.stop()
    changed = []
    for uc, (frames, notes) in new.items():
        begin, end = "<!-- example:%s:begin -->" % uc, "<!-- example:%s:end -->" % uc
        if begin not in text:
            print("spec_examples: SPEC.md has no %s marker; %s left out" % (begin, uc), file=sys.stderr)
            continue
        if not force and uc in old and signature(*old[uc]) == signature(frames, notes):
            continue  # only volatile values differ: keep the text as it is
        i, j = text.index(begin) + len(begin), text.index(end)
        text = text[:i] + "\n" + render(frames, notes) + text[j:]
        changed.append(uc)
    if changed:
        with open(SPEC, "w", encoding="utf-8") as f:
            f.write(text)
    print("spec_examples: %s" % ("rewritten: " + ", ".join(changed) if changed else "unchanged"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
