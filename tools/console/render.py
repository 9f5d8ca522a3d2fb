"""How the CLI shows things to a person (rich tables); --json bypasses all of it."""
import json

import click
from rich.console import Console as Rich
from rich.table import Table

out = Rich(highlight=False)
err = Rich(stderr=True, highlight=False)


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


def show_run(r):
    out.print("run %d on %s: %s%s (requestor %s)" % (
        r["id"], r["station"], r["status"], ", " + r["verdict"] if r["verdict"] else "",
        r["requestor"]))
    if r.get("statusInfo"):
        out.print("  %s" % json.dumps(r["statusInfo"], ensure_ascii=False))
    if r.get("results"):
        show_results(r["results"])


def show_fleet(f):
    s = f["summary"]
    table(("Passed", "Failed", "unreachable", "rejected", "pending"),
          [(s["Passed"], s["Failed"], s["unreachable"], s["rejected"], s["pending"])],
          "fleet run %d (%s)" % (f["id"], f["requestor"]))
    table(("station", "run", "status", "verdict"),
          [(x["station"], x["id"], x["status"], x["verdict"]) for x in f["runs"]])


def show_results(rows):
    table(("station", "result", "test", "verdict", "end", "requestor", "checksum", "measurements"),
          [(r["station"], r["resultId"], r["testId"], r["verdict"], r["endTime"], r["requestor"],
            "ok" if r["checksumVerified"] else "BAD",
            ", ".join("%s=%s%s" % (m["name"], m["value"], m.get("unit", ""))
                      for m in r["result"].get("measurement", ())[:4])) for r in rows])


def limits_text(p):
    parts = [p[k] for k in ("unit",) if p.get(k)]
    if p.get("minValue") is not None or p.get("maxValue") is not None:
        parts.append("%s..%s" % (p.get("minValue", ""), p.get("maxValue", "")))
    if p.get("allowedValues"):
        parts.append("|".join(p["allowedValues"]))
    return (" " + " ".join(str(x) for x in parts)) if parts else ""
