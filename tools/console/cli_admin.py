"""CLI groups for the admin's and planner's resources: stations, tokens, schedules."""
import click

from . import client as C
from .cli import _seg, api_command, main
from .render import emit, out, table


@main.group()
def station():
    """Add, show, re-key or remove a station (admin, except show)."""


@api_command(station, "add")
@click.argument("station_id")
@click.option("--password", required=True, prompt=True, hide_input=True,
              help="the station's Basic-auth password, 16..40 characters (stored hashed)")
def station_add(api, as_json, station_id, password):
    """Register STATION_ID with its password."""
    emit(api.post("/api/stations", {"id": station_id, "password": password}), as_json,
         lambda s: out.print("station %s added" % s["id"]))


@api_command(station, "show")
@click.argument("station_id")
def station_show(api, as_json, station_id):
    """One station: connection, health, boot data, recent runs."""
    def render(s):
        out.print("%s  connected: %s  health: %s  last contact: %s" % (
            s["id"], s["connected"], s["health"], s["lastContact"]))
        out.print("  %s" % ", ".join("%s=%s" % kv for kv in s["boot"].items()))
        table(("run", "status", "verdict", "requestor"),
              [(r["id"], r["status"], r["verdict"], r["requestor"]) for r in s["runs"]])
    emit(api.get("/api/stations/%s" % _seg(station_id)), as_json, render)


@api_command(station, "password")
@click.argument("station_id")
@click.option("--password", required=True, prompt=True, hide_input=True)
def station_password(api, as_json, station_id, password):
    """Set a new password for STATION_ID (the station must be given it too).  Its live
    connection, opened with the old password, is closed: it reconnects with the new one."""
    emit(api.request("PUT", "/api/stations/%s/password" % _seg(station_id),
                     {"password": password}), as_json,
         lambda r: out.print("password changed" + _closed(r)))


@api_command(station, "remove")
@click.argument("station_id")
def station_remove(api, as_json, station_id):
    """Remove STATION_ID, its runs and results; disconnects it."""
    emit(api.request("DELETE", "/api/stations/%s" % _seg(station_id)), as_json,
         lambda r: out.print("station %s removed" % station_id + _closed(r)))


def _closed(r):
    return "; its live connection was closed" if r.get("disconnected") else ""


@main.group()
def token():
    """Operator tokens (admin): add, list, remove."""


@api_command(token, "add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(("read", "run", "run-intrusive", "admin")))
def token_add(api, as_json, name, role):
    """Create a token for NAME; it is shown once."""
    emit(api.post("/api/tokens", {"name": name, "role": role}), as_json,
         lambda t: out.print("token for %s (%s), shown once:\n%s" % (t["name"], t["role"],
                                                                     t["token"])))


@api_command(token, "list")
def token_list(api, as_json):
    """Token names and roles (never the tokens)."""
    emit(api.get("/api/tokens"), as_json, lambda rows: table(
        ("name", "role", "created", "by"),
        [(t["name"], t["role"], t["createdAt"], t["createdBy"]) for t in rows]))


@api_command(token, "remove")
@click.argument("name")
def token_remove(api, as_json, name):
    """Revoke NAME's token."""
    emit(api.request("DELETE", "/api/tokens/%s" % _seg(name)), as_json,
         lambda r: out.print("token %s removed" % name))


@main.group()
def schedule():
    """Tests the console runs every interval (requestor schedule:NAME)."""


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@api_command(schedule, "add")
@click.argument("name")
@click.argument("words", nargs=-1, required=True)
@click.option("--every", required=True, help="interval: 90s, 15m, 1h, 1d")
@click.option("--station", "stations", multiple=True, help="a station (repeat); none: all")
@click.option("--now", is_flag=True, help="first run now instead of one interval from now")
def schedule_add(api, as_json, name, words, every, stations, now):
    """Schedule NAME: TEST [NAME=VALUE...] ... every interval."""
    try:
        tests = C.parse_tests(words)
        n, unit = (every[:-1], every[-1]) if every[-1] in _UNITS else (every, "s")
        interval = int(n) * _UNITS[unit]
    except ValueError as e:
        raise click.UsageError(str(e))
    body = {"name": name, "tests": tests, "intervalS": interval,
            "stations": list(stations) or None}
    if now:
        body["startInS"] = 0
    emit(api.post("/api/schedules", body), as_json,
         lambda s: out.print("schedule %s: every %ds, next %s" % (s["name"], s["intervalS"],
                                                                  s["nextAt"])))


@api_command(schedule, "list")
def schedule_list(api, as_json):
    """Schedules with their next run."""
    emit(api.get("/api/schedules"), as_json, lambda rows: table(
        ("name", "tests", "stations", "every (s)", "next", "by"),
        [(s["name"], " ".join(t["testId"] for t in s["tests"]),
          ", ".join(s["stations"]) if s["stations"] else "all", s["intervalS"], s["nextAt"],
          s["createdBy"]) for s in rows]))


@api_command(schedule, "remove")
@click.argument("name")
def schedule_remove(api, as_json, name):
    """Remove schedule NAME."""
    emit(api.request("DELETE", "/api/schedules/%s" % _seg(name)), as_json,
         lambda r: out.print("schedule %s removed" % name))
