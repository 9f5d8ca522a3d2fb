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
from rich.console import Console as Rich
from rich.table import Table

from . import client as C

out = Rich(highlight=False)
err = Rich(stderr=True, highlight=False)


def api_command(group, name=None):
    """A command that talks to the API: connection options, --json, errors -> exit codes."""
    def deco(fn):
        @click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
        @click.option("--token-file", type=click.Path(dir_okay=False),
                      help="file holding the token (or CONSOLE_TOKEN_FILE)")
        @click.option("--token", envvar="CONSOLE_TOKEN", help="operator token (or CONSOLE_TOKEN)")
        @click.option("--url", envvar="CONSOLE_URL", default="http://127.0.0.1:8080",
                      show_default=True, help="console API (or CONSOLE_URL)")
        @functools.wraps(fn)
        def wrapper(url, token, token_file, as_json, **kw):
            api = C.Client(url, C.token_from(token, token_file))
            try:
                code = fn(api, as_json, **kw)
            except C.ApiError as e:
                if as_json and e.body is not None:
                    click.echo(json.dumps(e.body, ensure_ascii=False))
                err.print("error: %s" % e, markup=False)
                sys.exit(e.exit_code)
            sys.exit(code or 0)
        return group.command(name)(wrapper)
    return deco


def emit(data, as_json, render):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        render(data)


def table(columns, rows, title=None):
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    out.print(t)


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
@click.option("--admin-token-file", help="where a new database's admin token is written")
@click.option("--ready-file", help="write the addresses here (JSON) once listening")
@click.option("-v", "--verbose", is_flag=True)
def serve(**kw):
    """Run the console: OCPP endpoint for stations + HTTP API, in one process."""
    import logging
    from types import SimpleNamespace
    from .app import serve as run
    if bool(kw["cert"]) != bool(kw["key"]):
        raise click.UsageError("--cert and --key go together")
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
                                             p["dataType"], _limits(p)) for p in t.get("parameter", ()))
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
        emit(f, as_json, _render_fleet)
        return C.run_exit_code(f["runs"])
    r = api.post("/api/stations/%s/runs" % _seg(words[0]), body)
    if wait:
        r = _wait_run(api, r, deadline, as_json)
    emit(r, as_json, _render_run)
    return C.run_exit_code([r]) if wait or r["status"] in ("rejected", "unreachable") else C.OK


def _wait_run(api, r, deadline, quiet):
    from rich.progress import Progress
    if C.run_finished(r):
        return api.get("/api/runs/%d" % r["id"])
    with Progress(console=err, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("run %d on %s" % (r["id"], r["station"]), total=r["total"])
        for ev in api.events(deadline, run=r["id"]):
            d = ev["data"]
            if ev["kind"] == "run.status" and d.get("testId"):
                bar.update(task, description="run %d: %s" % (r["id"], d["testId"]))
            if ev["kind"] == "result":
                bar.advance(task)
                if not err.is_terminal and not quiet:
                    err.print("%s %s: %s" % (r["station"], d["testId"], d["verdict"]))
            if ev["kind"] in ("run.done", "run.status") and C.run_finished(
                    api.get("/api/runs/%d" % r["id"])):
                break
    r = api.get("/api/runs/%d" % r["id"])
    if not C.run_finished(r):
        raise C.ApiError("run %d not finished within the timeout" % r["id"], C.OTHER)
    return r


def _wait_fleet(api, f, deadline, quiet):
    from rich.progress import Progress
    ids = {x["id"] for x in f["runs"]}
    with Progress(console=err, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("fleet run %d" % f["id"], total=len(ids))
        bar.update(task, completed=len(ids) - f["summary"]["pending"])
        if not f["done"]:
            for ev in api.events(deadline):
                if ev["run"] in ids and ev["kind"] in ("run.done", "run.status"):
                    f = api.get("/api/fleet/runs/%d" % f["id"])
                    bar.update(task, completed=len(ids) - f["summary"]["pending"])
                    if f["done"]:
                        break
    f = api.get("/api/fleet/runs/%d" % f["id"])
    if not f["done"]:
        raise C.ApiError("fleet run %d not finished within the timeout" % f["id"], C.OTHER)
    return f


def _render_run(r):
    out.print("run %d on %s: %s%s (requestor %s)" % (
        r["id"], r["station"], r["status"], ", " + r["verdict"] if r["verdict"] else "",
        r["requestor"]))
    if r.get("statusInfo"):
        out.print("  %s" % json.dumps(r["statusInfo"], ensure_ascii=False))
    if r.get("results"):
        _render_results(r["results"])


def _render_fleet(f):
    s = f["summary"]
    table(("Passed", "Failed", "unreachable", "rejected", "pending"),
          [(s["Passed"], s["Failed"], s["unreachable"], s["rejected"], s["pending"])],
          "fleet run %d (%s)" % (f["id"], f["requestor"]))
    table(("station", "run", "status", "verdict"),
          [(x["station"], x["id"], x["status"], x["verdict"]) for x in f["runs"]])


def _render_results(rows):
    table(("station", "result", "test", "verdict", "end", "requestor", "checksum", "measurements"),
          [(r["station"], r["resultId"], r["testId"], r["verdict"], r["endTime"], r["requestor"],
            "ok" if r["checksumVerified"] else "BAD",
            ", ".join("%s=%s%s" % (m["name"], m["value"], m.get("unit", ""))
                      for m in r["result"].get("measurement", ())[:4])) for r in rows])


@api_command(main)
@click.argument("station", required=False)
@click.option("--test", help="only this test id")
@click.option("--verdict", help="only this verdict")
@click.option("--since", help="age (30m, 2h, 1d) or RFC 3339 time")
@click.option("--limit", default=50, show_default=True)
def results(api, as_json, station, test, verdict, since, limit):
    """Results received, newest first."""
    emit(api.get("/api/results", station=station, test=test, verdict=verdict,
                 since=C.parse_age(since) if since else None, limit=limit), as_json, _render_results)


@api_command(main)
@click.argument("station")
@click.argument("run_id", type=int)
def cancel(api, as_json, station, run_id):
    """Cancel run RUN_ID on STATION."""
    emit(api.post("/api/runs/%d/cancel" % run_id, {"station": station}), as_json, _render_run)


@api_command(main)
@click.argument("run_id", type=int)
def status(api, as_json, run_id):
    """A run: its status, verdict and results."""
    r = api.get("/api/runs/%d" % run_id)
    emit(r, as_json, _render_run)
    return C.run_exit_code([r]) if C.run_finished(r) else C.OK


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


def _limits(p):
    parts = [p[k] for k in ("unit",) if p.get(k)]
    if p.get("minValue") is not None or p.get("maxValue") is not None:
        parts.append("%s..%s" % (p.get("minValue", ""), p.get("maxValue", "")))
    if p.get("allowedValues"):
        parts.append("|".join(p["allowedValues"]))
    return (" " + " ".join(str(x) for x in parts)) if parts else ""


def _seg(text):
    from urllib.parse import quote
    return quote(text, safe="")


from . import cli_admin  # noqa: E402,F401  (station, token, schedule groups)
