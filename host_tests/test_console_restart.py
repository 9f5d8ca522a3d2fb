"""Everything the console recorded survives its restart, and a run that was going on
when it stopped gets its result once the station reconnects to the new process."""
import os
import sys

from console_peer import ROOT, console, station_agent  # noqa: F401  (fixtures)


def test_restart_mid_run_loses_nothing(console, station_agent):
    console.add_station("CS001")
    agent = station_agent(console, "CS001")
    console.wait_station("CS001")
    ops = console.token("Åsa Øberg", "run")
    first = console.ok("POST", "/api/stations/CS001/runs", token=ops,
                       json_body={"tests": [{"testId": "memory"}]})
    first = console.wait_run(first["id"], lambda r: r["verdict"] is not None)
    catalog = console.ok("GET", "/api/stations/CS001/catalog")

    # A run that takes 2 s (noop's timeout is 3 s): stop the console while it runs.
    run = console.ok("POST", "/api/stations/CS001/runs", token=ops, json_body={
        "tests": [{"testId": "noop", "parameters": {"durationMs": 2000}}]})
    console.wait_run(run["id"], lambda r: r["status"] == "running")
    assert console.stop() == 0
    before = console.log().count("console: stations connect")

    console.start()  # same database, same ports
    assert console.log().count("console: stations connect") == before + 1
    assert "new database" not in console.log().split("console: stations connect")[-1]
    assert console.ok("GET", "/api/whoami", token=ops)["name"] == "Åsa Øberg"
    kept = console.ok("GET", "/api/runs/%d" % first["id"])
    assert kept["verdict"] == "Passed" and kept["results"] == first["results"]
    assert console.ok("GET", "/api/runs/%d" % run["id"])["status"] in ("running", "done")

    done = console.wait_run(run["id"], lambda r: r["verdict"] is not None, timeout=90)
    assert done["status"] == "done" and done["verdict"] == "Passed"
    (res,) = done["results"]
    assert res["checksumVerified"] and res["result"]["requestor"] == "Åsa Øberg"
    console.wait_station("CS001")
    assert console.ok("GET", "/api/stations/CS001/catalog")["tests"] == catalog["tests"]
    events = console.ok("GET", "/api/events")
    kinds = [e["kind"] for e in events]
    assert kinds.count("console.started") == 2 and kinds.count("run.requested") == 2
    (arrived,) = [i for i, e in enumerate(events) if e["kind"] == "result" and e["run"] == run["id"]]
    assert arrived > kinds.index("console.started", 1)  # delivered to the new process
    assert kinds.index("station.disconnected") < kinds.index("console.started", 1)
    assert agent.proc.poll() is None  # the same agent process all along


def test_migrations_are_versioned_and_run_once(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from console import migrations
    from console.store import Store
    path = str(tmp_path / "c.db")
    s = Store(path)
    assert s.migrated == (0, migrations.MIGRATIONS[-1][0])
    assert s.add_station("CS-ü", None)
    s.close()
    s = Store(path)  # reopened: nothing to do, nothing lost
    try:
        assert s.migrated == (migrations.MIGRATIONS[-1][0],) * 2
        assert s.station("CS-ü")["id"] == "CS-ü"
        with s.engine.connect() as c:
            assert migrations.current(c) == len(migrations.MIGRATIONS)
        import time
        s.add_event("old", "CS-ü")
        assert s.prune_events(time.time() + 1) == 1 and s.events() == []
        assert s.station("CS-ü") is not None  # pruning events keeps the record
        # A run recorded but perhaps never sent when the console stopped: marked so.
        run = s.add_run("CS-ü", "Zoë", [{"testId": "memory"}])
        assert s.orphan_requested_runs() == 1
        assert s.run(run)["status_info"]["reasonCode"] == "ConsoleRestarted"
    finally:
        s.close()


def test_wss_for_stations_and_https_for_the_api(tmp_path, station_agent):
    from certs import make_ca, make_server_cert
    from console_peer import ConsoleProc
    pki = str(tmp_path / "pki")
    ca = make_ca(pki, "Console test CA")
    srv = make_server_cert(pki, ca, name="console")
    (tmp_path / "c").mkdir()
    c = ConsoleProc(str(tmp_path / "c"), "--cert", srv.cert, "--key", srv.key,
                    "--http-cert", srv.cert, "--http-key", srv.key).start()
    c.verify = ca.cert
    try:
        assert c.url.startswith("wss://") and c.api_url.startswith("https://")
        c.add_station("CS-TLS")
        url = "wss://localhost:%d" % c.ocpp_port
        station_agent(c, "CS-TLS", csmsUrl=url, caFile=ca.der)
        bad = station_agent(c, "CS-TLS2", password="not-the-password-x", csmsUrl=url,
                            caFile=ca.der)
        c.wait_station("CS-TLS")
        run = c.ok("POST", "/api/stations/CS-TLS/runs", json_body={"tests": [{"testId": "memory"}]})
        assert c.wait_run(run["id"], lambda r: r["verdict"] is not None)["verdict"] == "Passed"
        bad.wait_log("401", timeout=90)  # TLS fine, Basic auth refused
        refused = [e for e in c.ok("GET", "/api/events") if e["kind"] == "station.refused"]
        assert refused and refused[0]["data"] == {"reason": "unknown station", "claimed": "CS-TLS2"}
        # The CLI over https: trusts the console's CA when told, refuses it otherwise.
        rc, out, _ = c.cli("stations", "--json", "--ca-file", ca.cert)
        assert rc == 0 and [s["id"] for s in out] == ["CS-TLS"]
        rc, _, err = c.cli("stations", "--json")
        assert rc == 5 and "CERTIFICATE_VERIFY_FAILED" in err
    finally:
        assert c.stop() == 0
