"""`console`: one command per action, each the twin of an API resource.

    console serve                          # the console itself (OCPP endpoint + API)
    console stations                       # GET /api/stations
    console catalog CS001                  # GET /api/stations/CS001/catalog
    console run CS001 memory minFreeBytes=5000 --wait
    console run --all health --wait        # POST /api/fleet/runs, summary table
    console results CS001 --since 1d       # GET /api/results
    console cancel CS001 42                # POST /api/runs/42/cancel

Every command takes --json (machine-readable output) and reads the console's URL and
token from --url/--token or CONSOLE_URL/CONSOLE_TOKEN (or CONSOLE_TOKEN_FILE).
Exit codes: see console/client.py (0 passed, 1 failed, 2 usage, 3 auth, 4 unreachable,
5 other).
"""
import asyncio
import functools
import json
import sys
import time

import click

from . import client as C
from .render import emit, err, limits_text, out, show_fleet, show_results, show_run, table


def api_command(group, name=None):
    """A command that talks to the API: connection options, --json, errors -> exit codes."""
    def deco(fn):
        @click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
        @click.option("--ca-file", envvar="CONSOLE_CA", type=click.Path(dir_okay=False),
                      help="CA certificate (PEM) an https console's certificate chains to "
                           "(or CONSOLE_CA)")
        @click.option("--token-file", type=click.Path(dir_okay=False),
                      help="file holding the token (or CONSOLE_TOKEN_FILE)")
        @click.option("--token", envvar="CONSOLE_TOKEN", help="operator token (or CONSOLE_TOKEN)")
        @click.option("--url", envvar="CONSOLE_URL", default="http://127.0.0.1:8080",
                      show_default=True, help="console API (or CONSOLE_URL)")
        @functools.wraps(fn)
        def wrapper(url, token, token_file, ca_file, as_json, **kw):
            api = C.Client(url, C.token_from(token, token_file), ca_file=ca_file)
            try:
                code = fn(api, as_json, **kw)
            except C.ApiError as e:
                if as_json and e.body is not None:
                    click.echo(json.dumps(e.body, ensure_ascii=False))
                click.echo("error: %s" % e, err=True)  # one line, never wrapped
                sys.exit(e.exit_code)
            sys.exit(code or 0)
        return group.command(name)(wrapper)
    return deco


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Diagnostics console for OCPP 2.1 stations: serve it, or drive it through its API."""


@main.command()
@click.option("--db", default="state/console/console.db", show_default=True,
              help="SQLite file, or a SQLAlchemy URL (postgresql+psycopg://...)")
@click.option("--ocpp-host", default="127.0.0.1", show_default=True)
@click.option("--ocpp-port", default=9000, show_default=True, help="stations connect here (0: any)")
@click.option("--http-host", default="127.0.0.1", show_default=True)
@click.option("--http-port", default=8080, show_default=True, help="API and page (0: any)")
@click.option("--cert", type=click.Path(exists=True), help="server certificate PEM: wss://")
@click.option("--key", type=click.Path(exists=True), help="its private key PEM")
@click.option("--http-cert", type=click.Path(exists=True), help="certificate PEM: API over https")
@click.option("--http-key", type=click.Path(exists=True), help="its private key PEM")
@click.option("--admin-token-file", help="where a new database's admin token is written")
@click.option("--ready-file", help="write the addresses here (JSON) once listening")
@click.option("--keep-events-days", default=90, show_default=True,
              help="events older than this are removed (runs, results, health stay)")
@click.option("-v", "--verbose", is_flag=True)
def serve(**kw):
    """Run the console: OCPP endpoint for stations + HTTP API, in one process."""
    import logging
    from types import SimpleNamespace
    from .app import serve as run
    if bool(kw["cert"]) != bool(kw["key"]) or bool(kw["http_cert"]) != bool(kw["http_key"]):
        raise click.UsageError("a certificate and its key go together")
    logging.basicConfig(level=logging.INFO if kw.pop("verbose") else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(run(SimpleNamespace(**kw))))


@api_command(main)
def stations(api, as_json):
    """List stations: connected, health, last contact."""
    emit(api.get("/api/stations"), as_json, lambda rows: table(
        ("station", "connected", "health", "last contact", "model", "catalog"),
        [(s["id"], "yes" if s["connected"] else "no", s["health"], s["lastContact"],
          s["boot"].get("model"), s["catalogFetchedAt"]) for s in rows]))


@api_command(main)
@click.argument("station")
@click.option("--refresh", is_flag=True, help="ask the station again")
def catalog(api, as_json, station, refresh):
    """The tests STATION offers, with their parameters and limits."""
    def render(c):
        rows = []
        for t in c["tests"]:
            ps = ", ".join("%s%s (%s%s)" % (p["name"], "*" if p.get("required") else "",
                                             p["dataType"], limits_text(p)) for p in t.get("parameter", ()))
            rows.append((t["testId"], t["testType"],
                         "yes" if t.get("constraints", {}).get("intrusive") else "", ps))
        table(("test", "type", "intrusive", "parameters (* required)"), rows,
              "%s  catalog %s" % (c["station"], c["catalogVersion"] or ""))
    emit(api.get("/api/stations/%s/catalog" % _seg(station), refresh=1 if refresh else None),
         as_json, render)


@api_command(main)
@click.argument("words", nargs=-1, required=True)
@click.option("--all", "fleet", is_flag=True, help="run on every station (role run-intrusive)")
@click.option("--station", "only", multiple=True, help="with --all: only these stations")
@click.option("--wait", is_flag=True, help="follow progress until every result is in")
@click.option("--stop-on-failure", is_flag=True)
@click.option("--timeout", default=600, show_default=True, help="seconds --wait waits")
def run(api, as_json, words, fleet, only, wait, stop_on_failure, timeout):
    """Start tests: run STATION TEST [NAME=VALUE...] [TEST ...], or run --all TEST ..."""
    if not fleet and len(words) < 2:
        raise click.UsageError("give a station and a test, or --all and a test")
    try:
        tests = C.parse_tests(words if fleet else words[1:])
    except ValueError as e:
        raise click.UsageError(str(e))
    body = {"tests": tests, "stopOnFailure": stop_on_failure}
    deadline = time.monotonic() + timeout
    if fleet:
        if only:
            body["stations"] = list(only)
        f = api.post("/api/fleet/runs", body)
        if wait:
            f = _wait_fleet(api, f, deadline, as_json)
        emit(f, as_json, show_fleet)
        return C.run_exit_code(f["runs"])
    r = api.post("/api/stations/%s/runs" % _seg(words[0]), body)
    if wait:
        r = _wait_run(api, r, deadline, as_json)
    emit(r, as_json, show_run)
    return C.run_exit_code([r]) if wait or r["status"] in ("rejected", "unreachable") else C.OK


def _wait_run(api, r, deadline, quiet):
    from rich.progress import Progress
    path = "/api/runs/%d" % r["id"]
    if C.run_finished(r):
        return api.get(path)
    with Progress(console=err, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("run %d on %s" % (r["id"], r["station"]), total=r["total"])
        # The console ends a stream that falls too far behind: open it again (its
        # stream.open makes the state be read again) until the run ends or time is up.
        while not C.run_finished(r) and time.monotonic() < deadline:
            for ev in api.events(deadline, run=r["id"]):
                d = ev["data"]
                if ev["kind"] == "run.status" and d.get("testId"):
                    bar.update(task, description="run %d: %s" % (r["id"], d["testId"]))
                if ev["kind"] == "result" and not err.is_terminal and not quiet:
                    err.print("%s %s: %s" % (r["station"], d["testId"], d["verdict"]))
                # stream.open: from here nothing is missed, so the state read now is current.
                if ev["kind"] in ("stream.open", "result", "run.done", "run.status"):
                    r = api.get(path)
                    bar.update(task, completed=r["completed"])
                    if C.run_finished(r):
                        break
    r = api.get(path)
    if not C.run_finished(r):
        raise C.ApiError("run %d not finished within the timeout" % r["id"], C.OTHER)
    return r


def _wait_fleet(api, f, deadline, quiet):
    """Until every run of the fleet run has ended; pending runs are tracked from the
    events, the summary is read again only at the start and the end."""
    from rich.progress import Progress
    path = "/api/fleet/runs/%d" % f["id"]
    total = len(f["runs"])
    with Progress(console=err, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("fleet run %d" % f["id"], total=total)
        done = f["done"]
        # A fleet's burst of events can put this stream more than the console keeps
        # for one subscriber behind: the console ends it; it is opened again, and its
        # stream.open reads the pending runs again.
        while not done and time.monotonic() < deadline:
            pending = set()
            for ev in api.events(deadline):
                if ev["kind"] == "stream.open":
                    f = api.get(path)
                    pending = {x["id"] for x in f["runs"]
                               if x["verdict"] is None and x["status"] not in ("rejected", "unreachable")}
                elif ev["run"] in pending and (ev["kind"] == "run.done" or (
                        ev["kind"] == "run.status" and ev["data"].get("status") in (
                            "rejected", "unreachable"))):
                    pending.discard(ev["run"])
                bar.update(task, completed=total - len(pending))
                if not pending:
                    done = True
                    break
    f = api.get(path)
    if not f["done"]:
        raise C.ApiError("fleet run %d not finished within the timeout" % f["id"], C.OTHER)
    return f


@api_command(main)
@click.argument("station", required=False)
@click.option("--test", help="only this test id")
@click.option("--verdict", help="only this verdict")
@click.option("--since", help="age (30m, 2h, 1d) or RFC 3339 time")
@click.option("--limit", default=50, show_default=True)
def results(api, as_json, station, test, verdict, since, limit):
    """Results received, newest first."""
    emit(api.get("/api/results", station=station, test=test, verdict=verdict,
                 since=C.parse_age(since) if since else None, limit=limit), as_json, show_results)


@api_command(main)
@click.argument("station")
@click.argument("run_id", type=int)
def cancel(api, as_json, station, run_id):
    """Cancel run RUN_ID on STATION."""
    emit(api.post("/api/runs/%d/cancel" % run_id, {"station": station}), as_json, show_run)


@api_command(main)
@click.argument("run_id", type=int)
def status(api, as_json, run_id):
    """A run: its status, verdict and results."""
    r = api.get("/api/runs/%d" % run_id)
    emit(r, as_json, show_run)
    return C.run_exit_code([r]) if C.run_finished(r) else C.OK


@api_command(main)
@click.argument("station", required=False)
@click.option("--active", is_flag=True, help="only runs not finished yet")
def runs(api, as_json, station, active):
    """Recent runs, of STATION or of every station."""
    path = "/api/stations/%s/runs" % _seg(station) if station else "/api/runs"
    emit(api.get(path, active=1 if active else None), as_json, lambda rows: table(
        ("run", "station", "status", "verdict", "done", "requestor", "created"),
        [(r["id"], r["station"], r["status"], r["verdict"], "%d/%d" % (r["completed"], r["total"]),
          r["requestor"], r["createdAt"]) for r in rows]))


@api_command(main)
@click.argument("fleet_id", type=int)
def fleet(api, as_json, fleet_id):
    """A fleet run: its summary and each station's run."""
    f = api.get("/api/fleet/runs/%d" % fleet_id)
    emit(f, as_json, show_fleet)
    return C.run_exit_code(f["runs"]) if f["done"] else C.OK


@api_command(main)
def whoami(api, as_json):
    """The token's name and role."""
    emit(api.get("/api/whoami"), as_json, lambda w: out.print("%s (%s)" % (w["name"], w["role"])))


@api_command(main)
@click.argument("station")
def health(api, as_json, station):
    """Health history of STATION (from its HealthCheck results)."""
    emit(api.get("/api/stations/%s/health" % _seg(station)), as_json,
         lambda rows: table(("time", "health"), [(h["time"], h["status"]) for h in rows]))


@api_command(main)
@click.option("--station")
@click.option("--run", "run_id", type=int)
@click.option("--follow", is_flag=True, help="keep following live events")
@click.option("--after", default=0, help="only events after this id")
def events(api, as_json, station, run_id, follow, after):
    """Events: connections, runs, results, refusals."""
    show = (lambda e: click.echo(json.dumps(e, ensure_ascii=False))) if as_json else \
        (lambda e: out.print("%s %s %s %s %s" % (e["id"], e["time"], e["kind"], e["station"] or "",
                                                 json.dumps(e["data"], ensure_ascii=False))))
    if follow:
        for e in api.events(float("inf"), station=station, run=run_id, after=after):
            show(e)
        return
    for e in api.get("/api/events", station=station, run=run_id, after=after):
        show(e)


def _seg(text):
    from urllib.parse import quote
    return quote(text, safe="")


from . import cli_admin  # noqa: E402,F401  (station, token, schedule groups)
from . import cli_evidence  # noqa: E402,F401  (report, verify, key)
