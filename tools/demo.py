"""`make run`: the agent on the MicroPython unix port against the reference CSMS,
no hardware needed. Shows what an operator sees: the station connecting and booting,
its heartbeats, its device model read back through GetBaseReport, its diagnostics
catalog, a test run with parameters and its verdict.

    python tools/demo.py [--heap 160k] [--once] [--trace]

Ctrl-C stops the agent (it closes its WebSocket properly) and the CSMS.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from csms import Csms, format_event, register_diagnostics_schemas, stop_agent  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
STATION = "CS-DEMO"


def say(*parts):
    print("  >", *parts, flush=True)


class Demo:
    def __init__(self, args):
        self.args = args
        register_diagnostics_schemas(ROOT)
        self.csms = Csms(boot_interval=args.heartbeat)
        self.events = asyncio.Queue()
        self.csms.listeners.append(self._on_event)

    def _on_event(self, kind, rec):
        if self.args.trace or kind == "violation":
            print("    |", format_event(kind, rec), flush=True)
        # Only the demo's own station drives the story.
        if kind == "record" and rec["station"] == STATION:
            self.events.put_nowait(rec)

    async def next(self, action=None, type="CALL", timeout=30):
        while True:
            rec = await asyncio.wait_for(self.events.get(), timeout)
            if rec["type"] == type and (action is None or rec["action"] == action):
                return rec

    async def run(self, stop):
        await self.csms.start()
        work = self.args.workdir or tempfile.mkdtemp(prefix="adx-demo-")
        cfg = {"csmsUrl": self.csms.url, "stationId": STATION, "vendor": "Acme Charging",
               "model": "ADX-22", "serialNumber": "ADX22-000042", "firmwareVersion": "0.1.0",
               "evses": [1, 1], "dataDir": os.path.join(work, "state"),
               "retryBackOffWaitMinimum": 1, "retryBackOffRandomRange": 1}
        cfg_path = os.path.join(work, "config.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)
        print("CSMS listening on %s; starting the agent (MicroPython unix port, heap %s)"
              % (self.csms.url, self.args.heap), flush=True)
        main = os.path.join(self.args.build or os.path.join(ROOT, "build"), "main.py")
        if not os.path.exists(main):
            main = os.path.join(ROOT, "main.py")
        proc = await asyncio.create_subprocess_exec(
            MICROPYTHON, "-X", "heapsize=" + self.args.heap, main, cfg_path,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            # Its own process group: a terminal's Ctrl-C (or a group-wide SIGTERM)
            # reaches only this script, which then stops the agent ("stop" on its stdin).
            start_new_session=True)
        pump = asyncio.create_task(self._pump(proc))
        try:
            await self._story(stop)
        finally:
            await stop_agent(proc)
            await pump
            await self.csms.stop()
        return proc.returncode

    async def _pump(self, proc):
        async for line in proc.stdout:
            print("  agent |", line.decode(errors="replace").rstrip(), flush=True)

    async def _story(self, stop):
        con = await self.next(type="CONNECT")
        say("station %s connected, OCPP %s" % (con["station"], con["subprotocol"][4:]))
        boot = await self.next("BootNotification")
        cs = boot["payload"]["chargingStation"]
        say("BootNotification: %s %s, reason %s -> Accepted, heartbeat every %d s"
            % (cs["vendorName"], cs["model"], boot["payload"]["reason"], self.args.heartbeat))
        for _ in range(2):
            st = await self.next("StatusNotification")
            p = st["payload"]
            say("connector %d/%d is %s" % (p["evseId"], p["connectorId"], p["connectorStatus"]))
        say("asking for the full device model (GetBaseReport FullInventory)...")
        res = await self.csms.call(STATION, "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
        say("GetBaseReport:", res["status"])
        rows, parts = [], 0
        while True:
            rec = await self.next("NotifyReport")
            parts += 1
            for d in rec["payload"]["reportData"]:
                c, v, a = d["component"], d["variable"], d["variableAttribute"][0]
                where = c["name"] + ("(%s)" % ",".join(str(x) for x in c["evse"].values()) if "evse" in c
                                     else "(%s)" % c["instance"] if "instance" in c else "")
                name = v["name"] + ("[%s]" % v["instance"] if "instance" in v else "")
                rows.append((where, name, a.get("value", "<write-only>"), a["mutability"],
                             d["variableCharacteristics"].get("unit", "")))
            if not rec["payload"].get("tbc"):
                break
        say("device model: %d variables in %d NotifyReport parts" % (len(rows), parts))
        for r in rows:
            print("      %-22s %-30s %-22s %-9s %s" % r, flush=True)
        await self._diagnostics()
        res = await self.csms.call(STATION, "SetVariables", {"setVariableData": [
            {"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeZone"},
             "attributeValue": "Europe/Amsterdam"}]})
        say("SetVariables ClockCtrlr.TimeZone = Europe/Amsterdam ->",
            res["setVariableResult"][0]["attributeStatus"], "(persisted on the station's flash)")
        if self.args.once:
            hb = await self.next("Heartbeat", timeout=self.args.heartbeat + 10)
            say("heartbeat received at", _hms(hb["time"]))
            return
        say("running; heartbeats follow. Ctrl-C stops the agent and the CSMS.")
        while not stop.is_set():
            waiter = asyncio.create_task(self.next("Heartbeat", timeout=None))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for t in (waiter, stopper):
                if t not in done:
                    t.cancel()
            if waiter in done:
                say("heartbeat from %s at %s" % (STATION, _hms(waiter.result()["time"])))


    async def _diagnostics(self):
        say("discovering the station's diagnostics catalog (GetDiagnosticsCatalog)...")
        res = await self.csms.call(STATION, "GetDiagnosticsCatalog", {"requestId": 2})
        tests = []
        while True:
            p = (await self.next("NotifyDiagnosticsCatalog"))["payload"]
            tests += p["test"]
            if not p.get("tbc"):
                break
        say("catalog: %d tests" % len(tests))
        for t in tests:
            params = ", ".join("%s:%s%s" % (p["name"], p["dataType"],
                                            "=%s" % p["defaultValue"] if "defaultValue" in p else " (required)")
                               for p in t.get("parameter", []))
            print("      %-8s %-12s %s" % (t["testId"], t["testType"], t["description"]), flush=True)
            if params:
                print("               parameters: %s" % params, flush=True)
        # The 64-bit unix port fragments its heap far more than a 32-bit board with the
        # code frozen in flash: a 2 KB contiguous block is the fair bar here.
        say("running the memory self test with minFreeBytes=4096, minLargestBlock=2048 (StartDiagnostics)...")
        res = await self.csms.call(STATION, "StartDiagnostics", {
            "requestId": 3, "requestor": "demo operator",
            "test": [{"testId": "memory", "parameter": [{"name": "minFreeBytes", "value": 4096},
                                                        {"name": "minLargestBlock", "value": 2048}]}]})
        say("StartDiagnostics:", res["status"])
        r = (await self.next("NotifyDiagnosticsResult"))["payload"]["result"]
        say("result %d: %s %s -> %s%s" % (r["resultId"], r["testId"], r["trigger"], r["verdict"], _why(r)))
        for m in r.get("measurement", []):
            print("      %-14s %10s %-3s limit %s" % (m["name"], m["value"], m.get("unit", ""),
                                                    m.get("limit", "-")), flush=True)
        say("checksum %s... (SHA-256 of the canonical result)" % r["checksum"][:16])
        say("and the health check through a plain OCPP 2.1 TriggerMessage(CustomTrigger=HealthCheck)...")
        await self.csms.call(STATION, "TriggerMessage", {"requestedMessage": "CustomTrigger",
                                                         "customTrigger": "HealthCheck"})
        r = (await self.next("NotifyDiagnosticsResult"))["payload"]["result"]
        say("health: %s (verdict %s)%s" % (r.get("healthStatus"), r["verdict"], _why(r)))


def _why(result):
    """The station's own reason for a verdict other than Passed."""
    if result["verdict"] == "Passed" and result.get("healthStatus", "Healthy") == "Healthy":
        return ""
    info = result.get("statusInfo", {})
    return " (%s: %s; evidence: %s)" % (info.get("reasonCode"), info.get("additionalInfo"),
                                        result.get("evidence", "-"))


def _hms(t):
    import time
    return time.strftime("%H:%M:%S", time.localtime(t))


async def amain(args):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rc = await Demo(args).run(stop)
    print("agent exited with code %s; CSMS stopped" % rc, flush=True)
    return 0 if rc == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heap", default="320k", help="MicroPython -X heapsize for the agent")
    ap.add_argument("--heartbeat", type=int, default=5, help="heartbeat interval the CSMS gives (s)")
    ap.add_argument("--workdir", help="where the demo config and station state go (default: a temp dir)")
    ap.add_argument("--once", action="store_true", help="run the story once and exit (for tests)")
    ap.add_argument("--trace", action="store_true", help="also print every OCPP message both ways")
    ap.add_argument("--build", help="the compiled agent to run (default: build/ when present, else the sources)")
    sys.exit(asyncio.run(amain(ap.parse_args())))


if __name__ == "__main__":
    main()
