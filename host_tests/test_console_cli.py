"""The console's CLI against a live console and live agents (MicroPython unix port):
list stations, read a catalog, run with --wait and parse --json, refuse an
out-of-range parameter before sending, cancel, a fleet run with one station offline."""
from console_peer import console, station_agent  # noqa: F401  (fixtures)

OPERATOR = "Zoë Ópérateur ✓"  # non-ASCII: it travels to the station as requestor and back


def test_stations_catalog_and_a_run_with_wait(console, station_agent):
    console.add_station("CS001")
    station_agent(console, "CS001")
    console.wait_station("CS001")

    rc, stations, _ = console.cli("stations", "--json")
    assert rc == 0
    (s,) = stations
    assert s["id"] == "CS001" and s["connected"] and s["boot"]["model"] == "ADX-1"

    rc, cat, _ = console.cli("catalog", "CS001", "--json")
    assert rc == 0
    memory = {t["testId"]: t for t in cat["tests"]}["memory"]
    assert {p["name"]: p for p in memory["parameter"]}["minFreeBytes"]["maxValue"] == 16777216

    token = console.token(OPERATOR, "run")
    rc, run, err = console.cli("run", "CS001", "memory", "minFreeBytes=5000", "--wait", "--json",
                               token=token)
    assert rc == 0, (run, err)
    assert run["status"] == "done" and run["verdict"] == "Passed" and run["requestor"] == OPERATOR
    (res,) = run["results"]
    assert res["checksumVerified"] is True
    assert res["result"]["requestor"] == OPERATOR  # as the station recorded it
    assert res["result"]["requestId"] == run["id"]
    assert {"name": "minFreeBytes", "value": 5000} in res["result"]["parameter"]

    rc, listed, _ = console.cli("results", "CS001", "--since", "1d", "--json", token=token)
    assert rc == 0 and [r["resultId"] for r in listed] == [res["resultId"]]
    rc, listed, _ = console.cli("results", "--verdict", "Failed", "--json", token=token)
    assert rc == 0 and listed == []


def test_out_of_range_parameter_refused_before_sending(console, station_agent):
    console.add_station("CS001")
    station_agent(console, "CS001")
    console.wait_station("CS001")
    events_before = console.ok("GET", "/api/events")

    r = console.api("POST", "/api/stations/CS001/runs",
                    json_body={"tests": [{"testId": "memory", "parameters": {"minFreeBytes": 99999999}}]})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["parameter"] == "minFreeBytes" and err["limit"] == "<= 16777216"
    assert err["testId"] == "memory" and "16777216" in err["message"]

    rc, out, _ = console.cli("run", "CS001", "noop", "durationMs=abc", "--json")
    assert rc == 2 and out["error"]["parameter"] == "durationMs"
    rc, out, _ = console.cli("run", "CS001", "noop", "--json")  # durationMs is required
    assert rc == 2 and out["error"]["parameter"] == "durationMs" and out["error"]["limit"] == "required"
    rc, out, _ = console.cli("run", "CS001", "nosuchtest", "--json")
    assert rc == 2 and out["error"]["testId"] == "nosuchtest"

    # Nothing was recorded or sent: no run, no new run event.
    assert console.ok("GET", "/api/runs") == []
    after = console.ok("GET", "/api/events", after=events_before[-1]["id"])
    assert not [e for e in after if e["kind"].startswith("run.")], after


def test_failed_test_and_cancel_exit_codes(console, station_agent):
    console.add_station("CS001")
    station_agent(console, "CS001")
    console.wait_station("CS001")

    rc, run, _ = console.cli("run", "CS001", "noop", "durationMs=10", "outcome=Failed", "--wait",
                             "--json")
    assert rc == 1 and run["verdict"] == "Failed" and run["results"][0]["verdict"] == "Failed"

    rc, run, _ = console.cli("run", "CS001", "noop", "durationMs=2500", "memory", "--json")
    assert rc == 0 and run["status"] in ("accepted", "running")
    rc, cancelled, _ = console.cli("cancel", "CS001", str(run["id"]), "--json")
    assert rc == 0 and cancelled["status"] in ("cancelling", "cancelled")
    done = console.wait_run(run["id"], lambda r: r["verdict"] is not None)
    assert done["status"] == "cancelled"
    assert sorted(r["verdict"] for r in done["results"]) == ["Aborted", "Skipped"]
    rc, _, _ = console.cli("status", str(run["id"]), "--json")
    assert rc == 1

    rc, out, _ = console.cli("cancel", "CS002", str(run["id"]), "--json")  # not that station's run
    assert rc == 5 and out["error"]["code"] == "notfound"


def test_fleet_run_with_one_station_offline(console, station_agent):
    for sid in ("CS-A", "CS-B", "CS-C"):
        console.add_station(sid)
    station_agent(console, "CS-A")
    station_agent(console, "CS-B")  # CS-C never connects
    console.wait_station("CS-A")
    console.wait_station("CS-B")
    fleet_token = console.token("fleet-Ærø", "run-intrusive")

    # Generous limits: the verdict must not depend on how loaded the machine is.
    words = ("health", "maxLoopLagMs=10000", "minFreeHeap=0", "minFreeFlash=0")
    rc, out, _ = console.cli("run", "--all", *words, "--json", token=console.token("ops", "run"))
    assert rc == 3 and out["error"]["role"] == "run-intrusive"

    rc, fleet, err = console.cli("run", "--all", *words, "--wait", "--json", token=fleet_token)
    assert rc == 4, (fleet, err)  # every test passed, one station unreachable
    assert fleet["done"] and fleet["summary"] == {"Passed": 2, "Failed": 0, "unreachable": 1,
                                                  "rejected": 0, "pending": 0}
    by_station = {r["station"]: r for r in fleet["runs"]}
    assert by_station["CS-C"]["status"] == "unreachable"
    assert by_station["CS-A"]["verdict"] == by_station["CS-B"]["verdict"] == "Passed"
    assert fleet["requestor"] == "fleet-Ærø"

    rc, again, _ = console.cli("fleet", str(fleet["id"]), "--json")
    assert rc == 4 and again["summary"] == fleet["summary"]
    rc, runs, _ = console.cli("runs", "CS-A", "--json")
    assert rc == 0 and [r["id"] for r in runs] == [by_station["CS-A"]["id"]]
    rc, me, _ = console.cli("whoami", "--json", token=fleet_token)
    assert rc == 0 and me == {"name": "fleet-Ærø", "role": "run-intrusive"}

    rc, text, _ = console.cli("run", "--all", *words, "--wait", token=fleet_token)
    assert rc == 4 and "unreachable" in text and "Passed" in text  # the summary table

    history = console.ok("GET", "/api/stations/CS-A/health")
    assert [h["status"] for h in history] == ["Healthy", "Healthy"]


def test_schedule_runs_with_its_own_requestor(console, station_agent):
    console.add_station("CS001")
    station_agent(console, "CS001")
    console.wait_station("CS001")
    planner = console.token("planificación", "run")
    rc, out, _ = console.cli("schedule", "add", "nächtlich", "memory", "minFreeBytes=1000",
                             "--every", "1h", "--station", "CS001", "--now", "--json", token=planner)
    assert rc == 0 and out["intervalS"] == 3600 and out["createdBy"] == "planificación"
    rc, out, _ = console.cli("schedule", "add", "fleet-wide", "memory", "--every", "1h", "--json",
                             token=planner)
    assert rc == 3 and out["error"]["role"] == "run-intrusive"  # every station: higher role

    def scheduled():
        return [r for r in console.ok("GET", "/api/results", station="CS001")
                if r["requestor"] == "schedule:nächtlich"]
    from console_peer import wait_until
    wait_until(scheduled, 60, "the scheduled run's result")
    (res,) = scheduled()
    assert res["verdict"] == "Passed" and {"name": "minFreeBytes", "value": 1000} in \
        res["result"]["parameter"]
    rc, listed, _ = console.cli("schedule", "list", "--json")
    assert rc == 0 and [s["name"] for s in listed] == ["nächtlich"]
    assert listed[0]["nextAt"] > res["receivedAt"][:19]  # next one an interval later
    rc, _, _ = console.cli("schedule", "remove", "nächtlich", "--json", token=planner)
    assert rc == 0 and console.ok("GET", "/api/schedules") == []
