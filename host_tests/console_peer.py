"""Peers for the console tests: the console as a real process (`tools/console serve`),
its CLI as a real process, and a scripted OCPP station (Python, for what the MicroPython
agent never does on purpose: claim another station's run, offer an intrusive test).

Waiting polls the console's API (no sleeps standing in for events).
"""
import asyncio
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSOLE = [sys.executable, os.path.join(ROOT, "tools", "console")]
PASSWORD = "pässwort-der-station-1"  # 22 characters: inside OCPP's 16..40

# Descriptors a ScriptedStation offers: an ordinary test and an intrusive one.
MEMORY = {"testId": "memory", "testType": "SelfTest", "version": "1.0",
          "description": "Free heap", "constraints": {"intrusive": False, "timeout": 10,
                                                      "minInterval": 0, "needsNetwork": False},
          "expectedOutcome": {"verdicts": ["Passed", "Failed"]}}
CONTACTOR = {"testId": "contactor", "testType": "IntegrationTest", "version": "1.0",
             "description": "Opens and closes the contactor (interrupts charging)",
             "constraints": {"intrusive": True, "timeout": 30, "minInterval": 0,
                             "needsNetwork": False},
             "expectedOutcome": {"verdicts": ["Passed", "Failed"]}}



class ConsoleProc:
    """`console serve` on loopback; restartable on the same ports and database."""

    def __init__(self, workdir, *extra):
        self.workdir, self.extra = workdir, list(extra)
        self.db = os.path.join(workdir, "console.db")
        self.ready = os.path.join(workdir, "ready.json")
        self.log_path = os.path.join(workdir, "console.log")
        self.ocpp_port = self.http_port = 0
        self.proc = None
        self.info = None
        self.verify = True  # or the CA file of an https console

    def start(self, timeout=60):
        if os.path.exists(self.ready):
            os.remove(self.ready)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            CONSOLE + ["serve", "--db", self.db, "--ocpp-port", str(self.ocpp_port),
                       "--http-port", str(self.http_port), "--ready-file", self.ready] + self.extra,
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_until(lambda: os.path.exists(self.ready) or self.proc.poll() is not None, timeout,
                   "console ready")
        assert self.proc.poll() is None, self.log()
        with open(self.ready) as f:
            self.info = json.load(f)
        self.ocpp_port = int(self.info["ocpp"].rsplit(":", 1)[1])
        self.http_port = int(self.info["api"].rsplit(":", 1)[1])
        with open(self.info["adminTokenFile"]) as f:
            self.admin = f.read().strip()
        return self

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc and self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("console did not stop on SIGTERM:\n" + self.log())
        finally:
            self._log.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]

    @property
    def url(self):  # what make_agent reads: stations connect here
        return self.info["ocpp"]

    @property
    def api_url(self):
        return self.info["api"]

    def api(self, method, path, token=None, json_body=None, headers=None, **params):
        h = dict(headers or {})
        token = self.admin if token is None else token
        if token:
            h["Authorization"] = "Bearer " + token
        verify = self.verify if self.verify is True else ssl.create_default_context(cafile=self.verify)
        return httpx.request(method, self.api_url + path, json=json_body, headers=h,
                             params=params or None, timeout=60, verify=verify)

    def ok(self, method, path, token=None, json_body=None, **params):
        r = self.api(method, path, token, json_body, **params)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json()

    def cli(self, *args, token=None, timeout=120):
        """-> (exit code, parsed --json output or text, stderr)."""
        env = dict(os.environ, CONSOLE_URL=self.api_url)
        env.pop("CONSOLE_TOKEN_FILE", None)
        env["CONSOLE_TOKEN"] = self.admin if token is None else token
        p = subprocess.run(CONSOLE + list(args), env=env, capture_output=True, timeout=timeout,
                           cwd=self.workdir)
        out = p.stdout.decode()
        if "--json" in args and out.strip():
            out = json.loads(out)
        return p.returncode, out, p.stderr.decode()

    def add_station(self, sid, password=PASSWORD):
        return self.ok("POST", "/api/stations", json_body={"id": sid, "password": password})

    def token(self, name, role):
        return self.ok("POST", "/api/tokens", json_body={"name": name, "role": role})["token"]

    def wait_station(self, sid, timeout=90, catalog=True):
        """Connected (and its catalog stored)."""
        def ready():
            s = self.ok("GET", "/api/stations/" + sid)
            return s["connected"] and (s["catalogFetchedAt"] or not catalog)
        wait_until(ready, timeout, "station %s connected" % sid)

    def wait_run(self, run_id, pred, timeout=60):
        box = {}

        def check():
            box["run"] = self.ok("GET", "/api/runs/%d" % run_id)
            return pred(box["run"])
        wait_until(check, timeout, lambda: "run %d: %s" % (run_id, box.get("run")))
        return box["run"]


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if fn():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % (what() if callable(what) else what))
        time.sleep(0.1)


class ScriptedStation:
    """An OCPP 2.1 station in Python on its own thread: boots, answers the console's
    calls with `answers` (action -> payload, or fn(payload) -> payload), and sends
    what the test tells it to.  `calls` lists what the console sent."""

    def __init__(self, url, sid, password=PASSWORD, answers=None):
        self.url, self.sid, self.password = url, sid, password
        self.answers = dict(answers or {})
        self.calls = []
        self._pending = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.ws = None

    def _run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def offer(self, tests, version="0123456789abcdef"):
        """Answer GetDiagnosticsCatalog with `tests` in one part (catalogVersion
        `version`), and accept every StartDiagnostics."""
        def catalog(req):
            self._loop.create_task(self._call("NotifyDiagnosticsCatalog", {
                "requestId": req["requestId"], "catalogVersion": version,
                "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "test": list(tests)}))
            return {"status": "Accepted"}
        self.answers.update(GetDiagnosticsCatalog=catalog, StartDiagnostics={"status": "Accepted"})
        return self

    def connect(self):
        """-> None, or the HTTP status that refused the handshake."""
        return self._run(self._connect())

    async def _connect(self):
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus
        cred = base64.b64encode(("%s:%s" % (self.sid, self.password)).encode()).decode()
        try:
            self.ws = await connect(self.url + "/" + self.sid, subprotocols=["ocpp2.1"],
                                    additional_headers={"Authorization": "Basic " + cred})
        except InvalidStatus as e:
            return e.response.status_code
        self._reader = asyncio.ensure_future(self._read())
        await self._call("BootNotification", {"reason": "PowerUp", "chargingStation": {
            "model": "Scripted", "vendorName": "Tests"}})
        return None

    async def _read(self):
        from websockets.exceptions import ConnectionClosed
        try:
            await self._read_frames()
        except ConnectionClosed:
            pass  # the console closed it (e.g. the station was removed)

    async def _read_frames(self):
        async for text in self.ws:
            msg = json.loads(text)
            if msg[0] == 2:
                self.calls.append((msg[2], msg[3]))
                ans = self.answers.get(msg[2], {})
                ans = ans(msg[3]) if callable(ans) else ans
                await self.ws.send(json.dumps([3, msg[1], ans]))
            elif msg[1] in self._pending:
                self._pending.pop(msg[1]).set_result(msg)

    async def _call(self, action, payload):
        mid = str(uuid.uuid4())
        fut = self._pending[mid] = self._loop.create_future()
        await self.ws.send(json.dumps([2, mid, action, payload]))
        return await asyncio.wait_for(fut, 20)

    def call(self, action, payload):
        """-> the console's reply frame: [3, id, payload] or [4, id, code, text, details]."""
        return self._run(self._call(action, payload))

    def close(self):
        async def _close():
            if self.ws is not None:
                await self.ws.close()
        try:
            self._run(_close(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


# -- fixtures (imported by the test_console_* modules) ----------------------

import pytest  # noqa: E402


@pytest.fixture
def console(tmp_path):
    d = tmp_path / "console"
    d.mkdir()
    c = ConsoleProc(str(d)).start()
    yield c
    rc = c.stop()
    log = c.log()
    assert "Traceback" not in log, log
    assert rc == 0, "console exit status %s:\n%s" % (rc, log)


@pytest.fixture
def station_agent(build_dir, tmp_path):
    """station_agent(console, sid) -> a started agent (MicroPython unix port) for
    station `sid`, with its own directory, the console's password; stopped at teardown."""
    from conftest import AgentProc, base_config, stop_all
    procs = []

    def make(console, sid, password=PASSWORD, start=True, **over):
        wd = tmp_path / ("agent-" + sid)
        wd.mkdir(exist_ok=True)
        cfg = base_config(console.url, str(wd), stationId=sid, basicAuthPassword=password,
                          evses=[1], **over)
        p = AgentProc(build_dir, cfg, str(wd))
        procs.append(p)
        return p.start() if start else p

    yield make
    stop_all(procs)
