"""`make run`: the diagnostics console with three demo stations (the agent on the
MicroPython unix port), so a newcomer sees it working.  Prints the page's address,
where the admin token is, and CLI commands to try.  Ctrl-C stops the agents and the
console.  State is kept in state/console-demo/ (delete it to start afresh).

    python tools/console_demo.py [--heap 448k] [--once]

--once: start everything, run the health check on every station from the CLI, stop.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
CONSOLE = [sys.executable, os.path.join(ROOT, "tools", "console")]
STATIONS = ("CS-DEMO-1", "CS-DEMO-2", "CS-DEMO-3")
PASSWORD = "demo-password-%s"  # per station; 16..40 characters as OCPP requires


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--heap", default="448k")
    p.add_argument("--dir", default=os.path.join(ROOT, "state", "console-demo"))
    p.add_argument("--ocpp-port", type=int, default=9000)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--once", action="store_true")
    p.add_argument("--agent-main", help="the agent's main.py (default build/main.py, else main.py)")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    ready = os.path.join(args.dir, "ready.json")
    if os.path.exists(ready):
        os.remove(ready)
    log = open(os.path.join(args.dir, "console.log"), "ab")
    console = subprocess.Popen(
        CONSOLE + ["serve", "--db", os.path.join(args.dir, "console.db"), "--ocpp-port",
                   str(args.ocpp_port), "--http-port", str(args.http_port), "--ready-file", ready],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    agents = []
    try:
        while not os.path.exists(ready):
            if console.poll() is not None:
                sys.exit("console did not start; see %s" % log.name)
            time.sleep(0.1)
        with open(ready) as f:
            info = json.load(f)
        with open(info["adminTokenFile"]) as f:
            admin = f.read().strip()
        api = httpx.Client(base_url=info["api"], headers={"Authorization": "Bearer " + admin})
        for sid in STATIONS:
            r = api.post("/api/stations", json={"id": sid, "password": PASSWORD % sid})
            if r.status_code not in (201, 200, 409):  # 409: kept from an earlier run
                sys.exit("adding %s: %s" % (sid, r.text))
            agents.append(_agent(args, info["ocpp"], sid))
        env = "CONSOLE_URL=%s CONSOLE_TOKEN_FILE=%s" % (info["api"], info["adminTokenFile"])
        print("Diagnostics console running (log: %s)" % log.name)
        print("  page:     %s  (sign in with the admin token in the file below)" % info["page"])
        print("  API:      %s/api/  stations connect to %s/<stationId>" % (info["api"], info["ocpp"]))
        print("  token:    %s (admin)" % info["adminTokenFile"])
        print("Try, in another terminal:\n  export %s" % env)
        for cmd in ("stations", "catalog CS-DEMO-1", "run CS-DEMO-1 memory minFreeBytes=5000 --wait",
                    "run --all health --wait", "results --since 1d"):
            print("  tools/bin/console " + cmd)
        print("Ctrl-C stops the agents and the console.", flush=True)
        _wait_connected(api)
        if args.once:
            r = subprocess.run(CONSOLE + ["run", "--all", "health", "maxLoopLagMs=10000", "--wait"],
                               env=dict(os.environ, CONSOLE_URL=info["api"], CONSOLE_TOKEN=admin))
            return r.returncode
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        signal.sigwait(stops)
        return 0
    finally:
        for a in agents:
            _stop_agent(a)
        console.send_signal(signal.SIGTERM)
        console.wait(20)
        print("agents and console stopped", flush=True)


def _agent(args, url, sid):
    wd = os.path.join(args.dir, "agents", sid)
    os.makedirs(wd, exist_ok=True)
    cfg = {"csmsUrl": url, "stationId": sid, "basicAuthPassword": PASSWORD % sid,
           "vendor": "Acme Charging", "model": "ADX-22", "serialNumber": "ADX22-%s" % sid[-1],
           "firmwareVersion": "0.1.0", "evses": [1, 1], "dataDir": os.path.join(wd, "state"),
           "healthCheckInterval": 300, "retryBackOffWaitMinimum": 1, "retryBackOffRandomRange": 1}
    path = os.path.join(wd, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    main_py = args.agent_main or os.path.join(ROOT, "build", "main.py")
    if not os.path.exists(main_py):
        main_py = os.path.join(ROOT, "main.py")
    return subprocess.Popen([MICROPYTHON, "-X", "heapsize=" + args.heap, main_py, path],
                            stdin=subprocess.PIPE, stdout=open(os.path.join(wd, "agent.log"), "ab"),
                            stderr=subprocess.STDOUT, cwd=wd, start_new_session=True)


def _wait_connected(api, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = api.get("/api/stations").json()
        if all(s["connected"] and s["catalogFetchedAt"] for s in st if s["id"] in STATIONS):
            return
        time.sleep(0.2)
    print("not every demo station connected within %ds" % timeout, flush=True)


def _stop_agent(proc):
    # "stop" on stdin: the agent closes its WebSocket from its own loop (README).
    try:
        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
        proc.wait(10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
