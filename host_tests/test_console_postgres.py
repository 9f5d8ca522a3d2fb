"""Two console processes on one real PostgreSQL server (a throw-away cluster in a
temporary directory): a live agent connected to process A, a run requested through
process B's CLI, sent by A, its result and events seen through both processes.
Also: both processes migrate a new database at once, the run-role refusal holds
across processes, a cancel crosses too, a dead process's stations are let go, and a
journal asked for (GetLog) through one process is uploaded to the other."""
import http.server
import json
import os
import signal
import threading

import httpx
import pytest

import pg_peer
from console_peer import ConsoleProc, station_agent, wait_until  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(pg_peer.bindir() is None,
                                reason="PostgreSQL server binaries (Debian's postgresql, "
                                       "installed by make setup) are not installed")

OPERATOR = "Ingrid Ødegård ✓"  # travels to the station as requestor and back


@pytest.fixture(scope="module")
def pg():
    server = pg_peer.PgServer().start()
    yield server
    server.stop()


class PgConsole(ConsoleProc):
    """`console serve --db postgresql://...`; the admin token file shared by all."""

    def __init__(self, workdir, url, token_file):
        super().__init__(workdir, "--admin-token-file", token_file)
        self.db = url
        self.token_file = token_file

    def start(self, timeout=60):
        try:
            return super().start(timeout)
        except FileNotFoundError:
            # The other process won the bootstrap and is writing the token file now.
            wait_until(lambda: os.path.exists(self.token_file)
                       and open(self.token_file).read().strip(), 10, "admin token file")
            with open(self.token_file) as f:
                self.admin = f.read().strip()
            return self


@pytest.fixture
def pair(pg, tmp_path, request):
    """Consoles A and B on a new database of their own, started at the same moment."""
    url = pg.new_database("t_" + request.node.name[:40].lower())
    token_file = str(tmp_path / "admin.token")
    procs = []
    for n in "AB":
        d = tmp_path / n
        d.mkdir()
        procs.append(PgConsole(str(d), url, token_file))
    errors = []

    def start(p):
        try:
            p.start()
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)
    threads = [threading.Thread(target=start, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, (errors, [p.log() for p in procs])
    yield procs, url
    for p in procs:
        rc = p.stop()
        log = p.log()
        assert "Traceback" not in log, log
        assert rc in (0, -signal.SIGKILL), "console exit status %s:\n%s" % (rc, log)


class Follow:
    """A process's live event stream (SSE), read on a thread until `until(ev)`."""

    def __init__(self, console, until, **params):
        self.events, self.opened = [], threading.Event()
        self.until = until
        self.thread = threading.Thread(target=self._read, args=(console, params), daemon=True)
        self.thread.start()
        assert self.opened.wait(30), "event stream did not open"

    def _read(self, console, params):
        headers = {"Authorization": "Bearer " + console.admin, "Accept": "text/event-stream"}
        with httpx.stream("GET", console.api_url + "/api/events", params=dict(params, follow=1),
                          headers=headers, timeout=120) as r:
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if ev["kind"] == "stream.open":
                    self.opened.set()
                    continue
                self.events.append(ev)
                if self.until(ev):
                    return

    def kinds(self, timeout=120):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "stream ended without its last event: %s" % self.events
        return [e["kind"] for e in self.events]


def test_run_asked_of_b_reaches_the_station_on_a(pair, station_agent):
    (a, b), url = pair
    # Both started on an empty database at once: migrated once, one admin token.
    import psycopg
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as c:
        versions = [r[0] for r in c.execute("SELECT version FROM schema_version ORDER BY 1")]
        from console.migrations import MIGRATIONS
        assert versions == [m[0] for m in MIGRATIONS]  # each migration once
        assert c.execute("SELECT count(*) FROM tokens").fetchone()[0] == 1
        assert c.execute("SELECT count(*) FROM consoles").fetchone()[0] == 2
    assert a.admin == b.admin
    assert (a.log() + b.log()).count("new database") == 1

    b.add_station("CSPG01")                 # added through B ...
    station_agent(a, "CSPG01")
    a.wait_station("CSPG01")                # ... connected to A
    b.wait_station("CSPG01")                # B sees it connected, catalog and all
    (listed,) = b.ok("GET", "/api/stations")
    assert listed["id"] == "CSPG01" and listed["connected"] and listed["boot"]["model"] == "ADX-1"
    stored = b.ok("GET", "/api/stations/CSPG01/catalog")
    assert stored["tests"]
    # Asked again through B: A sends GetDiagnosticsCatalog, B answers with what A stored.
    rc, fresh, err = b.cli("catalog", "CSPG01", "--refresh", "--json")
    assert rc == 0, (fresh, err)
    assert fresh["fetchedAt"] > stored["fetchedAt"] and fresh["tests"] == stored["tests"]

    ops = b.token(OPERATOR, "run")
    done = lambda ev: ev["kind"] == "run.done"  # noqa: E731
    on_a, on_b = Follow(a, done, station="CSPG01"), Follow(b, done, station="CSPG01")
    rc, run, err = b.cli("run", "CSPG01", "memory", "minFreeBytes=5000", "--wait", "--json",
                         token=ops)
    assert rc == 0, (run, err, a.log(), b.log())
    assert run["status"] == "done" and run["verdict"] == "Passed" and run["requestor"] == OPERATOR
    (res,) = run["results"]
    assert res["checksumVerified"] is True and res["result"]["requestor"] == OPERATOR
    assert res["result"]["requestId"] == run["id"]

    # The same record through A; and both live streams saw B's request and A's outcome.
    assert a.ok("GET", "/api/runs/%d" % run["id"]) == b.ok("GET", "/api/runs/%d" % run["id"])
    for stream in (on_a, on_b):
        kinds = stream.kinds()
        assert {"run.requested", "run.status", "result", "run.done"} <= set(kinds), kinds
        assert kinds.index("run.requested") < kinds.index("run.done")
    rc, listed, _ = a.cli("results", "CSPG01", "--json")
    assert rc == 0 and [r["resultId"] for r in listed] == [res["resultId"]]

    # A read-only operator is refused on B too: nothing recorded, nothing dispatched.
    reader = b.token("Lesende Ärztin", "read")
    r = b.api("POST", "/api/stations/CSPG01/runs", token=reader,
              json_body={"tests": [{"testId": "memory"}]})
    assert r.status_code == 403
    assert [x["id"] for x in a.ok("GET", "/api/runs")] == [run["id"]]


def test_cancel_crosses_and_a_dead_process_lets_its_stations_go(pair, station_agent):
    (a, b), _ = pair
    a.add_station("CSPG02")
    station_agent(a, "CSPG02")
    b.wait_station("CSPG02")
    ops = b.token(OPERATOR, "run")

    # noop's own timeout caps a run at 3 s; on a loaded machine the cancel can arrive after
    # the run ended: try again (at most five runs), the cancel must land once.
    for _ in range(5):
        run = b.ok("POST", "/api/stations/CSPG02/runs", token=ops, json_body={
            "tests": [{"testId": "noop", "parameters": {"durationMs": 2500}}]})
        assert run["status"] == "requested"  # stored and handed to A, not sent by B
        b.wait_run(run["id"], lambda r: r["status"] == "running")
        b.ok("POST", "/api/runs/%d/cancel" % run["id"], token=ops, json_body={})
        ended = b.wait_run(run["id"], lambda r: r["status"] in ("cancelled", "done"))
        if ended["status"] == "cancelled":
            break
    assert ended["status"] == "cancelled", ended
    assert a.ok("GET", "/api/runs/%d" % run["id"])["status"] == "cancelled"

    # A dies without a word: once its heartbeat is overdue B no longer counts the
    # station as held, and a run asked of B is not dispatched to the dead process.
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    wait_until(lambda: not b.ok("GET", "/api/stations/CSPG02")["connected"], 90,
               "station of the dead console released")
    late = b.ok("POST", "/api/stations/CSPG02/runs", token=ops,
                json_body={"tests": [{"testId": "memory"}]})
    assert late["status"] == "unreachable", late


class Relay:
    """The load balancer in front of the consoles' APIs, as far as an upload sees it:
    each POST that reaches this port is forwarded to `target` (one process's API) and
    recorded with the answer; with target None it is only recorded and answered 200
    (held, so that the test can present the ticket itself)."""

    def __init__(self, target):
        relay, self.target, self.seen = self, target, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "content-disposition")}
                status = 200 if relay.target is None else httpx.post(
                    relay.target + self.path, content=body, headers=headers, timeout=60
                ).status_code
                relay.seen.append({"path": self.path, "headers": headers, "body": body,
                                   "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.host = "127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _ask_log(console, sid, token, host):
    """GetLog through `console`; the upload URL it hands the station names `host`, as
    it names a load balancer's address when the request came through one (Host)."""
    r = console.api("POST", "/api/stations/%s/logs" % sid, token=token, json_body={},
                    headers={"Host": host})
    assert r.status_code == 201, r.text
    assert r.json()["accepted"] == "Accepted" and r.json()["by"] == OPERATOR
    return r.json()["requestId"]


def test_journal_asked_of_one_process_is_uploaded_to_the_other(pair, station_agent):
    """Tickets and GetLog requests live in the database: the upload, the station's
    LogStatusNotification (on the process holding its connection) and the status read
    may each land on another process than the one that asked, with the same checks."""
    (a, b), _ = pair
    a.add_station("CSPG03")
    station_agent(a, "CSPG03")
    a.wait_station("CSPG03")
    ops = a.token(OPERATOR, "run")
    run = a.ok("POST", "/api/stations/CSPG03/runs", token=ops,
               json_body={"tests": [{"testId": "memory"}]})
    (res,) = a.wait_run(run["id"], lambda r: r["verdict"] is not None, timeout=90)["results"]

    # Asked through A, which holds the station; the balancer routes the upload to B.
    to_b = Relay(b.api_url)
    held = Relay(None)
    try:
        req = _ask_log(a, "CSPG03", ops, to_b.host)
        state = {}

        def uploaded():
            state.update(b.ok("GET", "/api/stations/CSPG03/logs/%d" % req))
            return state["status"] == "Uploaded" and state["upload"] is not None
        wait_until(uploaded, 90, lambda: (state, to_b.seen, a.log(), b.log()))
        (sent,) = to_b.seen
        assert sent["status"] == 200 and sent["path"].startswith("/api/uploads/up_")
        u = state["upload"]
        assert u["filename"].startswith("diagnostics-CSPG03-") and state["by"] == OPERATOR
        assert res["resultId"] in u["resultIds"] and (u["invalid"], u["checksumFailed"]) == (0, 0)
        assert u["new"] == 0  # the console held the run's result already
        assert u["sha256"] == __import__("hashlib").sha256(sent["body"]).hexdigest()
        assert a.ok("GET", "/api/stations/CSPG03/logs/%d" % req) == state

        def post(console, up, name=None):
            headers = dict(up["headers"])
            if name:
                headers["Content-Disposition"] = 'attachment; filename="%s"' % name
            return httpx.post(console.api_url + up["path"], content=up["body"],
                              headers=headers, timeout=60)
        # Used on B: refused on A and on B.
        assert post(a, sent).status_code == 403 and post(b, sent).status_code == 403

        # A live ticket of CSPG03 (asked through A), presented on B with another
        # station's file name: refused; with the station's own: accepted, read on A.
        req2 = _ask_log(a, "CSPG03", ops, held.host)
        wait_until(lambda: held.seen, 90, lambda: (a.log(), b.log()))
        (kept,) = held.seen
        r = post(b, kept, "diagnostics-CSPG04-20260101T000000Z.ndjson")
        assert r.status_code == 403, r.text
        assert b.ok("GET", "/api/stations/CSPG03/logs/%d" % req2)["upload"] is None
        assert post(b, kept).status_code == 200
        assert post(b, kept).status_code == 403  # once
        again = a.ok("GET", "/api/stations/CSPG03/logs/%d" % req2)["upload"]
        assert again["filename"] == kept["headers"]["Content-Disposition"].split('"')[1]
        assert res["resultId"] in again["resultIds"]
        # Another station's read of the request: not found on either process.
        a.add_station("CSPG04")
        for c in (a, b):
            assert c.api("GET", "/api/stations/CSPG04/logs/%d" % req2).status_code == 404
    finally:
        to_b.close()
        held.close()


def test_migrations_and_schedule_claims_across_processes(pg):
    """Two stores (as two processes would have) on one new database: the second finds
    it migrated; a due schedule is moved on by exactly one of them."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tools"))
    from console.migrations import MIGRATIONS
    from console.store import Store
    url = pg.new_database("t_claims")
    first, second = Store(url), Store(url)
    n = MIGRATIONS[-1][0]
    try:
        assert first.migrated == (0, n) and second.migrated == (n, n)
        sid = first.add_schedule(name="nächtlich", stations=None, tests=[{"testId": "health"}],
                                 interval_s=60, next_at=1000.5, created_by="Zoë")
        due = second.schedule(sid)["next_at"]
        assert [first.claim_schedule(sid, due, due + 60), second.claim_schedule(sid, due, due + 60)
                ] == [True, False]
        assert second.schedule("nächtlich")["next_at"] == due + 60
    finally:
        first.close()
        second.close()


def test_one_ticket_presented_to_two_processes_at_once_is_taken_once(pg):
    """The claim is one conditional UPDATE: of two uploads with one ticket arriving at
    two processes at the same moment exactly one goes on; and a requestId beyond
    PostgreSQL's integer changes nothing instead of failing the statement."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tools"))
    from console.store import Store
    from console.uploads import Uploads
    url = pg.new_database("t_ticket_race")
    stores = [Store(url), Store(url)]
    try:
        ups = [Uploads(s.engine) for s in stores]
        name = "diagnostics-CS__rebro-20260101T000000Z.ndjson"  # "CS Örebro"
        for _ in range(10):
            req, ticket = ups[0].issue("CS Örebro", "Zoë")
            start, got = threading.Barrier(2), [None, None]

            def take(i):
                start.wait(10)
                got[i] = ups[i].take(ticket, name)
            threads = [threading.Thread(target=take, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert got.count(None) == 1 and ("CS Örebro", req) in got, got
        ups[1].status("CS Örebro", 1 << 40, "Uploaded")
        assert ups[1].state("CS Örebro", 1 << 40) is None
        assert ups[1].state("CS Örebro", req)["status"] == "Requested"
    finally:
        for s in stores:
            s.close()
