"""CLI of the evidence report (SPEC DG19) and the result-signing keys (DG16):

    console report CS001 --since 30d --html out.html --json out.json
    console report --all --since 7d --json fleet.json
    console verify out.json --keys keys.json          # offline: no console needed
    console key provision CS001                        # admin: a new key set on the station
    console key export -o keys.json                    # admin: the keys file for verify
"""
import json
import os
import sys

import click

from . import client as C
from .cli import _seg, api_command, main
from .render import emit, out, table


@main.command()
@click.argument("stations", nargs=-1)
@click.option("--all", "fleet", is_flag=True, help="every station")
@click.option("--since", required=True, help="start of the window: age (30d, 12h) or RFC 3339")
@click.option("--until", help="end of the window (default: now)")
@click.option("--html", "html_path", type=click.Path(dir_okay=False),
              help="write the printable HTML report here")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="write the JSON report here (what `console verify` checks); - for stdout")
@click.option("--ca-file", envvar="CONSOLE_CA", type=click.Path(dir_okay=False),
              help="CA certificate (PEM) of an https console (or CONSOLE_CA)")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="file holding the token (or CONSOLE_TOKEN_FILE)")
@click.option("--token", envvar="CONSOLE_TOKEN", help="operator token (or CONSOLE_TOKEN)")
@click.option("--url", envvar="CONSOLE_URL", default="http://127.0.0.1:8080",
              show_default=True, help="console API (or CONSOLE_URL)")
def report(stations, fleet, since, until, html_path, json_path, url, token, token_file, ca_file):
    """Evidence report of STATION(s) or --all over a window: every result as the station
    sent it (checksum, signature), who asked, parameters, verdicts, measurements against
    limits, evidence, incidents. Role read. (Here --json takes a file: the report.)"""
    if bool(stations) == bool(fleet):
        raise click.UsageError("give station ids or --all")
    api = C.Client(url, C.token_from(token, token_file), ca_file=ca_file)
    params = {"since": C.parse_age(since), "until": C.parse_age(until) if until else None}
    if stations:
        params["station"] = list(stations)
    try:
        rep = api.get("/api/report", **params)
    except C.ApiError as e:
        click.echo("error: %s" % e, err=True)
        sys.exit(e.exit_code)
    text = json.dumps(rep, ensure_ascii=False, indent=1) + "\n"
    if json_path == "-":
        click.echo(text, nl=False)
    elif json_path:
        _write(json_path, text)
    if html_path:
        from .report_html import render
        _write(html_path, render(rep))  # from the same JSON: the two never disagree
    if json_path != "-":
        table(("station", "results", "resultIds", "digest"),
              [(s["stationId"], s["count"], "%s..%s" % (s["resultIds"][0], s["resultIds"][-1])
                if s["resultIds"] else "", s["digest"][:16] + "...") for s in rep["stations"]],
              "evidence report %s to %s" % (rep["window"]["since"], rep["window"]["until"]))


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@main.command()
@click.argument("report_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False),
              help='keys file: {"station id": {"keyId": "hex key"}} (console key export)')
@click.option("--allow-unsigned", is_flag=True,
              help="with --keys: accept results made before the station had a key")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
def verify(report_file, keys_file, allow_unsigned, as_json):
    """Check an evidence report offline: every result's checksum, its signature with its
    station's keys (--keys), that it belongs to the station it is filed under, and that no
    result is missing. Exit 0: all verified; 1: some failed (each named); 2: unreadable."""
    from ocppdiag.evidence import verify_report
    try:
        with open(report_file, encoding="utf-8") as f:
            rep = json.load(f)
        keys = None
        if keys_file:
            with open(keys_file, encoding="utf-8") as f:
                keys = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        click.echo("error: cannot read %s" % (str(e)[:300]), err=True)
        sys.exit(C.USAGE)
    fails, stats = verify_report(rep, keys, allow_unsigned)
    if as_json:
        click.echo(json.dumps({"verified": not fails, "failures": fails, "stats": stats},
                              ensure_ascii=False, indent=1))
    else:
        for f in fails:
            where = "station %s" % f["station"] if f["station"] is not None else "report"
            if f["resultId"] is not None:
                where += " result %s" % f["resultId"]
            click.echo("FAILED %s: %s" % (where, f["reason"]))
        click.echo("%d result(s) of %d station(s), %d signed, %d signature(s) checked: %s" % (
            stats["results"], stats["stations"], stats["signed"], stats["signatureChecked"],
            "%d failure(s)" % len(fails) if fails else "all verified"))
    sys.exit(C.FAILED if fails else C.OK)


@main.group()
def key():
    """Result-signing keys (admin): provision a station, export the keys file."""


@api_command(key, "provision")
@click.argument("station_id")
@click.option("--key-id", help="1..36 of A-Z a-z 0-9 . _ - (default k-<UTC time>)")
def key_provision(api, as_json, station_id, key_id):
    """A new random key for STATION_ID, kept by the console and set write-only on the
    station (SetVariables DiagnosticsCtrlr.ResultSigningKey); later results are signed."""
    emit(api.post("/api/stations/%s/signing-key" % _seg(station_id),
                  {"keyId": key_id} if key_id else {}), as_json,
         lambda k: out.print("station %s signs with key %s" % (k["station"], k["keyId"])))


@api_command(key, "export")
@click.option("--station", "stations", multiple=True, help="only this station (repeat)")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="where to write the keys file (mode 0600)")
def key_export(api, as_json, stations, output):
    """Write the keys file an auditor gives `console verify --keys`."""
    keys = api.get("/api/signing-keys", station=list(stations) or None)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f, ensure_ascii=False, indent=1)
    emit({"stations": sorted(keys), "file": output}, as_json,
         lambda r: out.print("keys of %d station(s) written to %s" % (len(keys), output)))
