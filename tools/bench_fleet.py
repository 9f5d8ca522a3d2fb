"""`make bench-fleet`: N agents (MicroPython unix port) held by one console process,
the health check run on all of them from the CLI (`console run --all health --wait`).

For each fleet size it reports: the time until every verdict is recorded (the CLI's
wall time: it returns when the last run has its verdict), the console's CPU time
during that run and its peak RSS (VmHWM, the whole life of the process: adding and
connecting N stations included), the agents' CPU time and RSS, and the load average
(the machine may be shared). Targets (issue 10): 500 agents held, 500 verdicts in
<= 30 s, console <= 300 MB.  Results also go to build/bench_fleet.json.

    python tools/bench_fleet.py                    # N = 50 and 200
    python tools/bench_fleet.py --sizes 50,200,500
    python tools/bench_fleet.py --db postgresql://user@127.0.0.1:5432/db   # a new, empty database

Each agent is a process with its own small heap (--heap); the console verifies each
station's password once (scrypt, ~50 ms of CPU) when it first connects.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
CONSOLE = [sys.executable, os.path.join(ROOT, "tools", "console")]
PASSWORD = "flotte-passwort-01"  # 18 characters: inside OCPP's 16..40
TARGET_N, TARGET_S, TARGET_MB = 500, 30.0, 300
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """utime + stime of a live process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_for(fn, timeout, what, every=0.5):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit("bench-fleet: timed out waiting for %s" % what)
        time.sleep(every)


class Fleet:
    def __init__(self, n, heap, build_dir, db, keep, profile=None):
        self.profile = profile
        self.n, self.heap, self.build_dir = n, heap, build_dir
        self.dir = tempfile.mkdtemp(prefix="bench-fleet-%d-" % n)
        self.db = db or os.path.join(self.dir, "console.db")
        self.keep = keep
        self.console = None
        self.agents = []
        self.all_connected = None

    def start_console(self):
        ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "console.log"), "wb")
        cmd = CONSOLE
        if self.profile:  # where the console's (event-loop thread's) CPU goes
            cmd = [sys.executable, "-m", "cProfile", "-o", self.profile,
                   os.path.join(ROOT, "tools", "console", "__main__.py")]
        self.console = subprocess.Popen(
            cmd + ["serve", "--db", self.db, "--ocpp-port", "0", "--http-port", "0",
                       "--ready-file", ready, "--admin-token-file",
                       os.path.join(self.dir, "admin.token")],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        wait_for(lambda: os.path.exists(ready) or self.console.poll() is not None, 60, "console")
        if self.console.poll() is not None:
            raise SystemExit("bench-fleet: console did not start:\n" + self.console_log())
        with open(ready) as f:
            self.info = json.load(f)
        with open(self.info["adminTokenFile"]) as f:
            self.token = f.read().strip()
        self.http = httpx.Client(base_url=self.info["api"], timeout=120,
                                 headers={"Authorization": "Bearer " + self.token})

    def console_log(self):
        with open(os.path.join(self.dir, "console.log"), errors="replace") as f:
            return f.read()[-3000:]

    def seed_stations(self):
        """The N stations written to the database before the console starts, all with
        one password hash (one scrypt, not N: adding is not what is measured; the
        console still verifies each station's password once when it connects)."""
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        from console import auth
        from console.store import Store
        store = Store(self.db)
        try:
            digest = auth.hash_secret(PASSWORD)
            for i in range(self.n):
                if not store.add_station(self.sid(i), digest):
                    raise SystemExit("bench-fleet: the database already holds %s: give an "
                                     "empty one" % self.sid(i))
        finally:
            store.close()

    @staticmethod
    def sid(i):
        return "FLEET%04d" % i

    def start_agents(self):
        for i in range(self.n):
            wd = os.path.join(self.dir, "a%04d" % i)
            os.mkdir(wd)
            # The smallest configuration: one EVSE, no heartbeats during the bench.
            cfg = {"csmsUrl": self.info["ocpp"], "stationId": self.sid(i), "vendor": "Bench",
                   "model": "ADX-1", "dataDir": os.path.join(wd, "state"), "evses": [1],
                   "heartbeatInterval": 3600, "messageTimeout": 30, "logLevel": "warn",
                   "basicAuthPassword": PASSWORD, "retryBackOffWaitMinimum": 2,
                   "retryBackOffRandomRange": 5, "retryBackOffRepeatTimes": 20}
            path = os.path.join(wd, "config.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            log = open(os.path.join(wd, "agent.log"), "wb")
            self.agents.append(subprocess.Popen(
                [MICROPYTHON, "-X", "heapsize=" + self.heap,
                 os.path.join(self.build_dir, "main.py"), path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=wd))
            log.close()

    def held(self):
        """-> number of stations connected with their catalog stored (and notes when
        the last one connected)."""
        dead = [a for a in self.agents if a.poll() is not None]
        if dead:
            raise SystemExit("bench-fleet: %d agents exited (first: %s)" % (
                len(dead), " ".join(dead[0].args[-1:])))
        rows = self.http.get("/api/stations").json()
        if self.all_connected is None and sum(1 for s in rows if s["connected"]) >= self.n:
            self.all_connected = time.monotonic()
        return sum(1 for s in rows if s["connected"] and s["catalogFetchedAt"])

    def fleet_run(self, timeout):
        env = dict(os.environ, CONSOLE_URL=self.info["api"], CONSOLE_TOKEN=self.token)
        t0 = time.monotonic()
        p = subprocess.run(CONSOLE + ["run", "--all", "health", "--wait", "--json",
                                      "--timeout", str(int(timeout))],
                           env=env, capture_output=True, cwd=self.dir, timeout=timeout + 60)
        took = time.monotonic() - t0
        try:
            out = json.loads(p.stdout)
        except ValueError:
            raise SystemExit("bench-fleet: CLI exit %d: %s %s" % (p.returncode, p.stdout[-500:],
                                                                  p.stderr[-2000:]))
        return took, p.returncode, out

    def agents_cpu_rss(self):
        cpu = rss = 0
        for a in self.agents:
            if a.poll() is None:
                try:
                    cpu += cpu_s(a.pid)
                    rss += status_kb(a.pid, "VmRSS")
                except OSError:
                    pass
        return cpu, rss

    def stop(self):
        for a in self.agents:
            if a.poll() is None:
                a.terminate()
        for a in self.agents:
            try:
                a.wait(10)
            except subprocess.TimeoutExpired:
                a.kill()
                a.wait()
        if self.console is not None and self.console.poll() is None:
            self.console.terminate()
            try:
                self.console.wait(30)
            except subprocess.TimeoutExpired:
                self.console.kill()
                self.console.wait()
        if self.console is not None:
            self.log.close()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def bench(n, args):
    fleet = Fleet(n, args.heap, args.build, args.db, args.keep,
                  args.profile and "%s.%d" % (args.profile, n))
    try:
        t0 = time.monotonic()
        fleet.seed_stations()
        fleet.start_console()
        t_added = time.monotonic()
        fleet.start_agents()
        wait_for(lambda: fleet.held() is not None and fleet.all_connected, args.connect_timeout,
                 "%d stations connected" % n, every=1.0)
        # Catalogs are fetched after each boot; one lost in the connect storm is fetched
        # again by the fleet run itself, so wait a little for them, not for ever.
        try:
            held = wait_for(lambda: fleet.held() >= n and n, 60, "catalogs", every=1.0)
        except SystemExit:
            held = fleet.held()
        connect_s = time.monotonic() - t0
        pid = fleet.console.pid
        rss_held = status_kb(pid, "VmRSS")
        agents_cpu0, agents_rss = fleet.agents_cpu_rss()
        cpu0 = cpu_s(pid)
        load0 = os.getloadavg()[0]
        took, rc, out = fleet.fleet_run(args.run_timeout)
        cpu1 = cpu_s(pid)
        agents_cpu1, _ = fleet.agents_cpu_rss()
        peak = status_kb(pid, "VmHWM")
        summary = out["summary"]
        recorded = summary["Passed"] + summary["Failed"]
        row = {"agents": n, "withCatalog": held, "connectSeconds": round(connect_s, 1),
               "consoleStartSeconds": round(t_added - t0, 1),
               "allConnectedSeconds": round((fleet.all_connected or time.monotonic()) - t_added, 1),
               "verdictsRecorded": recorded, "summary": summary, "cliExit": rc,
               "runSeconds": round(took, 2), "consoleCpuSeconds": round(cpu1 - cpu0, 2),
               "agentsCpuSeconds": round(agents_cpu1 - agents_cpu0, 2),
               "agentsCpuToConnectSeconds": round(agents_cpu0, 1),
               "consoleCpuToConnectSeconds": round(cpu0, 1),
               "consoleRssHeldMB": round(rss_held / 1024, 1),
               "consolePeakRssMB": round(peak / 1024, 1),
               "agentRssMB": round(agents_rss / 1024 / max(n, 1), 2),
               "agentsRssTotalMB": round(agents_rss / 1024, 1), "heap": args.heap,
               "loadAvg1mBefore": round(load0, 2), "loadAvg1mAfter": round(os.getloadavg()[0], 2),
               "db": args.db.split(":", 1)[0] if args.db else "sqlite"}
        return row
    finally:
        fleet.stop()


def print_row(row):
    print("N=%(agents)d (%(db)s): %(verdictsRecorded)d verdicts in %(runSeconds)ss (console CPU "
          "%(consoleCpuSeconds)ss, agents CPU %(agentsCpuSeconds)ss), console RSS "
          "%(consoleRssHeldMB)s MB held / %(consolePeakRssMB)s MB peak, agent RSS "
          "%(agentRssMB)s MB each, connect %(connectSeconds)ss, load %(loadAvg1mBefore)s" % row,
          flush=True)


def checks_of(rows):
    checks = []
    for r in rows:
        checks.append(("N=%d all verdicts recorded" % r["agents"], r["verdictsRecorded"] == r["agents"]))
        checks.append(("N=%d console <= %d MB" % (r["agents"], TARGET_MB),
                       r["consolePeakRssMB"] <= TARGET_MB))
        if r["agents"] >= TARGET_N:
            checks.append(("N=%d verdicts in <= %gs" % (r["agents"], TARGET_S),
                           r["runSeconds"] <= TARGET_S))
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50,200", help="fleet sizes, comma separated")
    ap.add_argument("--heap", default="320k", help="each agent's -X heapsize")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="built agent (make build)")
    ap.add_argument("--db", help="a database URL instead of a new SQLite file per size")
    ap.add_argument("--pg", action="store_true", help="a throw-away PostgreSQL server "
                    "(host_tests/pg_peer.py), a new database per size")
    ap.add_argument("--connect-timeout", type=float, default=600)
    ap.add_argument("--run-timeout", type=float, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the work directories (logs)")
    ap.add_argument("--profile", help="run the console under cProfile, stats to PROFILE.N")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench_fleet.json"))
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.build, "main.py")):
        raise SystemExit("bench-fleet: no built agent in %s (make build)" % args.build)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    # Each agent is one socket at the console (plus the database and the listeners).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(sizes) * 2 + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
        if hard < need:
            print("bench-fleet: file descriptors limited to %d (ulimit -n)" % hard)
    pg = None
    if args.pg:
        sys.path.insert(0, os.path.join(ROOT, "host_tests"))
        import pg_peer
        pg = pg_peer.PgServer().start()
    rows = []
    try:
        for n in sizes:
            if pg is not None:
                args.db = pg.new_database("fleet%d" % n)
            rows.append(bench(n, args))
            print_row(rows[-1])
    finally:
        if pg is not None:
            pg.stop()
    checks = checks_of(rows)
    for name, ok in checks:
        print("  %-40s %s" % (name, "ok" if ok else "MISSED"))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"rows": rows, "checks": dict(checks), "cores": os.cpu_count()}, f, indent=1)
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
