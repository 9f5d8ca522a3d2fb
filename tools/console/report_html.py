"""The evidence report as one printable HTML file, rendered from the report's JSON
(evidence.build), so the page and the JSON an auditor verifies never disagree.

Charts are inline SVG drawn here: the file needs nothing else (no script, no network),
prints as it shows, and its text stays text (jinja2 escapes everything a station or an
operator wrote: evidence, requestor, ids).
"""
import os
import re
from collections import Counter, OrderedDict
from datetime import datetime, timezone

import jinja2
from markupsafe import Markup, escape

_VERDICT_COLOURS = OrderedDict([("Passed", "#2e7d32"), ("Failed", "#c62828"),
                                ("Error", "#6a1b9a"), ("TimedOut", "#ef6c00"),
                                ("Aborted", "#795548"), ("Inconclusive", "#9e9e9e"),
                                ("Skipped", "#bdbdbd")])
_LIMIT = re.compile(r"\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)\s*$")
_MAX_CHARTS = 40  # measurement charts per report: beyond, the tables still list every value
_W, _H, _PAD = 480, 160, 36


def _env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
        autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["params"] = _params
    return env


def render(report):
    """-> the HTML text of `report` (a dict as evidence.build makes it)."""
    stations = []
    for s in report["stations"]:
        verdicts = Counter(str(e["result"].get("verdict")) for e in s["results"])
        stations.append({"s": s, "verdicts": verdict_chart(s["results"]),
                         "charts": measurement_charts(s["results"]),
                         "passed": verdicts.pop("Passed", 0), "other": sum(verdicts.values()),
                         "signed": sum(1 for e in s["results"] if e["result"].get("signature")),
                         "unverified": sum(1 for e in s["results"]
                                           if not e["checksumVerifiedOnReceipt"])})
    charts_left = _MAX_CHARTS
    for st in stations:
        st["charts"], charts_left = st["charts"][:charts_left], max(0, charts_left - len(st["charts"]))
    return _env().get_template("report_html.j2").render(
        r=report, stations=stations, colours=_VERDICT_COLOURS)


def _params(params):
    """[{name, value}] -> "name=value, ..." (parameters as the result states them)."""
    return ", ".join("%s=%s" % (p.get("name"), p.get("value")) for p in params or ()
                     if isinstance(p, dict))


def verdict_chart(entries):
    """Horizontal stacked bars: per test, how many results of each verdict."""
    per = OrderedDict()
    for e in entries:
        r = e["result"]
        per.setdefault(str(r.get("testId")), Counter())[str(r.get("verdict"))] += 1
    if not per:
        return Markup("")
    row, left, width = 22, 140, 380
    most = max(sum(c.values()) for c in per.values())
    h = row * len(per) + 30
    out = ['<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" '
           'xmlns="http://www.w3.org/2000/svg"><title>Verdicts by test</title>'
           % (left + width + 60, h, left + width + 60, h)]
    for i, (tid, counts) in enumerate(per.items()):
        y = 8 + i * row
        out.append('<text x="%d" y="%d" text-anchor="end" class="lbl">%s</text>'
                   % (left - 6, y + 14, escape(tid[:24])))
        x = left
        for verdict, n in sorted(counts.items(), key=lambda kv: _order(kv[0])):
            w = width * n / most
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="16" fill="%s">'
                       '<title>%s: %d %s</title></rect>'
                       % (x, y, w, _VERDICT_COLOURS.get(verdict, "#616161"), escape(tid), n,
                          escape(verdict)))
            x += w
        out.append('<text x="%.1f" y="%d" class="lbl">%d</text>' % (x + 4, y + 13,
                                                                     sum(counts.values())))
    legend_y = 8 + len(per) * row + 10
    x = left
    for verdict, colour in _VERDICT_COLOURS.items():
        if any(verdict in c for c in per.values()):
            out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>'
                       '<text x="%d" y="%d" class="lbl">%s</text>'
                       % (x, legend_y - 9, colour, x + 14, legend_y, verdict))
            x += 24 + 7 * len(verdict)
    out.append("</svg>")
    return Markup("".join(out))


def _order(verdict):
    keys = list(_VERDICT_COLOURS)
    return keys.index(verdict) if verdict in keys else len(keys)


def _when(e):
    r = e["result"]
    for text in (r.get("endTime"), e.get("receivedAt")):
        try:
            return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return 0.0


def measurement_charts(entries):
    """One chart per (test, measurement): values over time, the limit as a dashed line
    when it is a plain comparison, points outside their limit in red."""
    series = OrderedDict()
    for e in entries:
        r = e["result"]
        for m in r.get("measurement") or ():
            if isinstance(m, dict) and isinstance(m.get("value"), (int, float)) \
                    and not isinstance(m.get("value"), bool):
                key = (str(r.get("testId")), str(m.get("name")), str(m.get("unit") or ""))
                series.setdefault(key, []).append((_when(e), m["value"], m.get("limit"),
                                                   m.get("withinLimit"), r.get("resultId")))
    return [{"test": k[0], "name": k[1], "unit": k[2], "svg": _series_svg(k, pts)}
            for k, pts in series.items()]


def _series_svg(key, pts):
    limits = [float(m.group(2)) for m in (_LIMIT.match(str(p[2] or "")) for p in pts) if m]
    values = [p[1] for p in pts] + limits
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
    span = (t1 - t0) or 1.0

    def xy(t, v):
        x = _PAD + (_W - 2 * _PAD) * ((t - t0) / span if t1 > t0 else 0.5)
        y = _H - _PAD + (-(_H - 2 * _PAD) * (v - lo) / (hi - lo))
        return x, y

    title = "%s: %s%s" % (key[0], key[1], " (%s)" % key[2] if key[2] else "")
    out = ['<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" '
           'xmlns="http://www.w3.org/2000/svg"><title>%s</title>' % (_W, _H, _W, _H, escape(title)),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (_PAD, _H - _PAD, _W - _PAD,
                                                                     _H - _PAD),
           '<text x="4" y="%d" class="lbl">%s</text>' % (_PAD - 4, escape(_num(hi))),
           '<text x="4" y="%d" class="lbl">%s</text>' % (_H - _PAD, escape(_num(lo))),
           '<text x="%d" y="%d" class="lbl">%s</text>' % (_PAD, _H - 8, escape(_day(t0))),
           '<text x="%d" y="%d" text-anchor="end" class="lbl">%s</text>'
           % (_W - _PAD, _H - 8, escape(_day(t1)))]
    for lim in sorted(set(limits)):
        y = xy(t0, lim)[1]
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="limit"><title>limit %s'
                   '</title></line>' % (_PAD, y, _W - _PAD, y, escape(_num(lim))))
    if len(pts) > 1:
        out.append('<polyline class="series" points="%s"/>' % " ".join(
            "%.1f,%.1f" % xy(p[0], p[1]) for p in pts))
    for t, v, limit, within, rid in pts:
        x, y = xy(t, v)
        out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>result %s: %s %s'
                   '</title></circle>' % (x, y, "#c62828" if within is False else "#1565c0",
                                          escape(rid), escape(_num(v)), escape(limit or "")))
    out.append("</svg>")
    return Markup("".join(out))


def _num(v):
    return ("%d" % v) if float(v).is_integer() else ("%.3f" % v).rstrip("0")


def _day(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M") if t else ""
