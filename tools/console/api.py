"""The HTTP JSON API (Starlette): a thin layer over service.Console.

Every route needs an operator's bearer token; the role checks are the service's.
Errors are JSON: {"error": {"code", "message", ...details}} with 400 (bad JSON),
401 (no or unknown token, or a station's Basic credential), 403 (role too low),
404, 409 (state or the station refused), 422 (a value refused, naming the parameter
and its limit), 503 (station not reachable).
"""
import asyncio
import json
import re
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from . import auth, page, tickets, views
from .service import ServiceError

_MAX_BODY = 1 << 20
_KEEPALIVE = 15.0
_BEARER = re.compile(r"Bearer ([A-Za-z0-9_\-\.~+/]+=*)")


def _error(status, code, message, **details):
    headers = {"WWW-Authenticate": 'Bearer realm="console"'} if status == 401 else None
    return JSONResponse({"error": dict(code=code, message=message, **details)}, status,
                        headers=headers)


class _Refused(Exception):
    def __init__(self, response):
        self.response = response


def route(fn=None, *, ticket=False):
    """Authenticate, call fn(request, actor, console), turn refusals into JSON errors.
    ticket=True: a stream ticket (?ticket=, see tickets.py) may stand in for the
    bearer token, for the browser's EventSource that cannot send headers."""
    if fn is None:
        return lambda f: route(f, ticket=ticket)

    async def handler(request: Request):
        console = request.app.state.console
        header = request.headers.get("authorization", "")
        m = _BEARER.fullmatch(header)
        if header.lower().startswith("basic "):
            return _error(401, "unauthorized", "the API takes an operator's bearer token; "
                          "station credentials open only the OCPP endpoint")
        if ticket and not header and "ticket" in request.query_params:
            actor = _ticket_actor(request)
            if actor is None:
                return _error(401, "unauthorized", "unknown, used or expired stream ticket")
        else:
            actor = console.authenticate(m.group(1)) if m else None
        if actor is None:
            return _error(401, "unauthorized", "a valid operator token is required "
                          "(Authorization: Bearer TOKEN)" if m is None else "unknown token")
        try:
            out = await fn(request, actor, console)
        except _Refused as e:
            return e.response
        except auth.Forbidden as e:
            return _error(403, "forbidden", str(e), role=e.needed)
        except ServiceError as e:
            code = type(e).__name__.lower()
            return _error(e.status, code, str(e), **e.details)
        return out if hasattr(out, "status_code") else JSONResponse(out)
    handler.__name__ = fn.__name__
    return handler


async def _body(request):
    if int(request.headers.get("content-length") or 0) > _MAX_BODY:
        raise _Refused(_error(413, "too-large", "request body over %d bytes" % _MAX_BODY))
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError) as e:
        raise _Refused(_error(400, "bad-json", "body is not JSON: %s" % str(e)[:200]))
    if not isinstance(data, dict):
        raise _Refused(_error(400, "bad-json", "body must be a JSON object"))
    return data


def _int(value, name):
    # Ids are OCPP integers (32-bit): bounded before they reach the database.
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if not 0 <= n < 1 << 31:
        raise _Refused(_error(422, "invalid", "%s must be an integer 0..2147483647" % name,
                              field=name))
    return n


def _since(value):
    """RFC 3339 time -> epoch seconds."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _Refused(_error(422, "invalid", "since must be an RFC 3339 time", field="since"))


@route
async def whoami(request, actor, console):
    return {"name": actor.name, "role": actor.role}


@route
async def stations(request, actor, console):
    if request.method == "POST":
        b = await _body(request)
        return JSONResponse(await console.add_station(actor, b.get("id"), b.get("password")), 201)
    return console.stations(actor)


@route
async def station(request, actor, console):
    sid = request.path_params["sid"]
    if request.method == "DELETE":
        return await console.remove_station(actor, sid)
    return console.station(actor, sid)


@route
async def password(request, actor, console):
    b = await _body(request)
    return await console.set_password(actor, request.path_params["sid"], b.get("password"))


@route
async def catalog(request, actor, console):
    refresh = request.query_params.get("refresh") in ("1", "true")
    return await console.catalog(actor, request.path_params["sid"], refresh)


@route
async def health(request, actor, console):
    return console.health(actor, request.path_params["sid"])


@route
async def station_runs(request, actor, console):
    sid = request.path_params["sid"]
    if request.method == "POST":
        b = await _body(request)
        return JSONResponse(await console.start_run(actor, sid, b.get("tests"),
                                                    bool(b.get("stopOnFailure"))), 201)
    return console.runs(actor, station=sid)


@route
async def runs(request, actor, console):
    return console.runs(actor, active=request.query_params.get("active") in ("1", "true"))


@route
async def run(request, actor, console):
    return console.run(actor, _int(request.path_params["rid"], "run"))


@route
async def cancel(request, actor, console):
    b = await _body(request)
    return await console.cancel_run(actor, _int(request.path_params["rid"], "run"),
                                    b.get("station"))


@route
async def results(request, actor, console):
    q = request.query_params
    return console.results(actor, q.get("station"), q.get("test"), q.get("verdict"),
                           _since(q.get("since")), _int(q.get("limit", 200), "limit"))


@route
async def fleet_runs(request, actor, console):
    b = await _body(request)
    st = b.get("stations")
    if st is not None and not (isinstance(st, list) and all(isinstance(s, str) for s in st)):
        raise _Refused(_error(422, "invalid", "stations: a list of station ids", field="stations"))
    return JSONResponse(await console.fleet_run(actor, b.get("tests"), st,
                                                bool(b.get("stopOnFailure"))), 201)


@route
async def fleet(request, actor, console):
    return console.fleet(actor, _int(request.path_params["fid"], "fleet"))


@route
async def schedules(request, actor, console):
    sched = request.app.state.schedules
    if request.method == "POST":
        b = await _body(request)
        return JSONResponse(sched.add(actor, b.get("name"), b.get("tests"), b.get("intervalS"),
                                      b.get("stations"), b.get("startInS")), 201)
    return sched.list(actor)


@route
async def schedule(request, actor, console):
    key = request.path_params["key"]
    return request.app.state.schedules.remove(actor, int(key) if key.isdigit() else key)


@route
async def tokens(request, actor, console):
    if request.method == "POST":
        b = await _body(request)
        return JSONResponse(console.add_token(actor, b.get("name"), b.get("role")), 201)
    return console.tokens(actor)


@route
async def token(request, actor, console):
    return console.remove_token(actor, request.path_params["name"])


def _ticket_actor(request):
    digest = request.app.state.tickets.redeem(request.query_params["ticket"])
    row = request.app.state.console.store.token_by_digest(digest) if digest else None
    return auth.Actor(row["name"], row["role"]) if row else None


@route
async def events_ticket(request, actor, console):
    """A one-use ticket that opens the event stream for this token (tickets.py)."""
    auth.require(actor, "read", "following events")
    token = _BEARER.fullmatch(request.headers["authorization"]).group(1)
    return JSONResponse({"ticket": request.app.state.tickets.issue(auth.token_digest(token)),
                         "expiresInS": tickets.TTL}, 201)


@route(ticket=True)
async def events(request, actor, console):
    """Stored events after `after`; with Accept: text/event-stream (or follow=1) the
    server-sent-events stream that goes on live."""
    q = request.query_params
    after = _int(q["after"], "after") if "after" in q else None
    run_id = _int(q["run"], "run") if "run" in q else None
    station = q.get("station")
    follow = q.get("follow") in ("1", "true") or "text/event-stream" in request.headers.get(
        "accept", "")
    if not follow:
        return console.events(actor, after or 0, station, run_id)
    sub = console.subscribe(actor, station, run_id)
    return StreamingResponse(_stream(console, actor, sub, after, station, run_id),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(console, actor, sub, after, station, run_id):
    """Replay from `after` if given, then live.  Without `after` the stream starts with
    a `stream.open` event (not stored): from then on nothing is missed, so a client
    that reads the state it waits on after `stream.open` cannot miss the change."""
    try:
        last = after or 0
        # Subscribed before the replay: nothing falls between stored and live.
        if after is None:
            yield "event: stream.open\ndata: %s\n\n" % json.dumps({"kind": "stream.open",
                                                                  "run": None, "data": {}})
        for ev in console.events(actor, after, station, run_id, limit=10000) \
                if after is not None else ():
            last = ev["id"]
            yield _sse(ev)
        while True:
            try:
                ev = await asyncio.wait_for(sub.queue.get(), _KEEPALIVE)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if ev is None or sub.lost:
                return
            if ev["id"] > last:
                last = ev["id"]
                yield _sse(views.event(ev))
    finally:
        sub.close()


def _sse(ev):
    return "id: %d\nevent: %s\ndata: %s\n\n" % (ev["id"], ev["kind"],
                                                json.dumps(ev, ensure_ascii=False))


async def _internal(request, exc):
    # Our bug, logged with its traceback by uvicorn; the client still gets JSON.
    return _error(500, "internal", "internal error: %s" % type(exc).__name__)


def make_app(console, scheduler):
    app = Starlette(routes=[
        *page.routes(),
        Route("/api/whoami", whoami),
        Route("/api/stations", stations, methods=["GET", "POST"]),
        Route("/api/stations/{sid}", station, methods=["GET", "DELETE"]),
        Route("/api/stations/{sid}/password", password, methods=["PUT"]),
        Route("/api/stations/{sid}/catalog", catalog),
        Route("/api/stations/{sid}/health", health),
        Route("/api/stations/{sid}/runs", station_runs, methods=["GET", "POST"]),
        Route("/api/runs", runs),
        Route("/api/runs/{rid}", run),
        Route("/api/runs/{rid}/cancel", cancel, methods=["POST"]),
        Route("/api/results", results),
        Route("/api/fleet/runs", fleet_runs, methods=["POST"]),
        Route("/api/fleet/runs/{fid}", fleet),
        Route("/api/schedules", schedules, methods=["GET", "POST"]),
        Route("/api/schedules/{key}", schedule, methods=["DELETE"]),
        Route("/api/tokens", tokens, methods=["GET", "POST"]),
        Route("/api/tokens/{name}", token, methods=["DELETE"]),
        Route("/api/events", events),
        Route("/api/events/ticket", events_ticket, methods=["POST"]),
    ], exception_handlers={Exception: _internal})
    from . import api_evidence  # evidence report and signing keys (its own module)
    app.router.routes.extend(api_evidence.ROUTES)
    from . import api_station  # GetVariables, GetLog and its upload (its own module)
    app.router.routes.extend(api_station.ROUTES)
    app.state.console, app.state.schedules = console, scheduler
    app.state.tickets = tickets.Tickets()
    return app
