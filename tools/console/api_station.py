"""API routes that ask a station for what it holds beyond test results (playbooks
collect them into incidents):

    POST /api/stations/{sid}/variables {"variables": [{"component": "DiagnosticsCtrlr",
         "variable": "Enabled"} | {"component": {"name", "instance"?, "evse"?},
         "variable": {"name", "instance"?}}, ...]}         GetVariables, role read
    POST /api/stations/{sid}/logs {}                       GetLog DiagnosticsLog, role run
    GET  /api/stations/{sid}/logs/{requestId}              its status and upload, role read
    POST /api/uploads/{ticket}                             the station's upload (uploads.py)

A station's CALLERROR or a response that breaks the schema is answered 409 with the
station's error code; a station that is not connected 503.
"""
import asyncio
import os
import re
import sys

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import uploads as _uploads
from .api import _body, _error, _int, _Refused, route
from .auth import require
from .service import Conflict, Invalid, Unreachable
from .stations import CallErrorReply

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import csms as _csms  # noqa: E402

_MAX_VARIABLES = 20
_CALL_TIMEOUT = 15
_FILENAME = re.compile(r'filename="?([^";]{1,200})"?')


def _name(x, field):
    if not isinstance(x, str) or not 1 <= len(x) <= 50 or not x.isprintable():
        raise Invalid("%s: 1..50 printable characters" % field, field=field)
    return x


def _ref(x, field, evse=False):
    x = {"name": x} if isinstance(x, str) else x
    if not isinstance(x, dict) or set(x) - {"name", "instance", "evse"}:
        raise Invalid("%s: a name or {name, instance?%s}" % (field, ", evse?" if evse else ""),
                      field=field)
    out = {"name": _name(x.get("name"), field + ".name")}
    if x.get("instance") is not None:
        out["instance"] = _name(x["instance"], field + ".instance")
    if evse and x.get("evse") is not None:
        e = x["evse"]
        if not isinstance(e, dict) or not isinstance(e.get("id"), int) or not 0 <= e["id"] < 1000:
            raise Invalid("%s.evse: {id, connectorId?}" % field, field=field + ".evse")
        out["evse"] = {"id": e["id"]}
        if isinstance(e.get("connectorId"), int):
            out["evse"]["connectorId"] = e["connectorId"]
    elif "evse" in x and not evse:
        raise Invalid("%s: no evse here" % field, field=field)
    return out


def _connected(console, sid):
    console._station(sid)
    if console.cluster is not None and console.cluster.elsewhere(sid):
        raise Unreachable("station %s is held by another console process" % sid, station=sid)
    if not console.endpoint.is_connected(sid):
        raise Unreachable("station %s is not connected" % sid, station=sid)


async def _call(console, sid, action, payload):
    try:
        return await console.endpoint.call(sid, action, payload, _CALL_TIMEOUT)
    except (ConnectionError, TimeoutError, asyncio.TimeoutError) as e:
        raise Unreachable("station %s: %s" % (sid, e or type(e).__name__), station=sid)
    except CallErrorReply as e:
        raise Conflict("station %s answered CALLERROR %s: %s" % (sid, e.code, e.description),
                       station=sid, callError=e.code)


@route
async def variables(request, actor, console):
    require(actor, "read", "reading a station's device model")
    sid = request.path_params["sid"]
    items = (await _body(request)).get("variables")
    if not isinstance(items, list) or not 1 <= len(items) <= _MAX_VARIABLES:
        raise Invalid("variables: a list of 1..%d {component, variable}" % _MAX_VARIABLES,
                      field="variables")
    data = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise Invalid("variables[%d]: {component, variable}" % i, field="variables")
        data.append({"component": _ref(it.get("component"), "variables[%d].component" % i, True),
                     "variable": _ref(it.get("variable"), "variables[%d].variable" % i)})
    _connected(console, sid)
    res = await _call(console, sid, "GetVariables", {"getVariableData": data})
    return {"station": sid, "variables": res.get("getVariableResult", [])}


@route
async def logs(request, actor, console):
    require(actor, "run", "asking a station for its results journal")
    sid = request.path_params["sid"]
    await _body(request)
    _connected(console, sid)
    up = console.inbound.uploads
    req_id, ticket = up.issue(sid, actor.name)
    base = str(request.base_url).rstrip("/")
    try:
        res = await _call(console, sid, "GetLog", {
            "logType": "DiagnosticsLog", "requestId": req_id, "retries": 1, "retryInterval": 2,
            "log": {"remoteLocation": "%s/api/uploads/%s" % (base, ticket)}})
    except (Conflict, Unreachable) as e:
        up.rejected(sid, req_id, "Rejected", {"reasonCode": "NotSent",
                                              "additionalInfo": str(e)[:500]})
        raise
    if res.get("status") not in ("Accepted", "AcceptedCanceled"):
        up.rejected(sid, req_id, res.get("status"), res.get("statusInfo"))
    console.bus.publish("log.requested", sid, requestId=req_id, by=actor.name,
                        status=res.get("status"), filename=res.get("filename"))
    return JSONResponse(dict(up.state(sid, req_id), accepted=res.get("status"),
                             filename=res.get("filename")), 201)


@route
async def log(request, actor, console):
    require(actor, "read", "reading a journal upload")
    sid = request.path_params["sid"]
    console._station(sid)
    state = console.inbound.uploads.state(sid, _int(request.path_params["req"], "requestId"))
    if state is None:
        raise _Refused(_error(404, "notfound", "no log request %s of station %s" % (
            request.path_params["req"], sid), station=sid))
    return state


def _length(value):
    # Content-Length is the client's word: garbage counts as "too large", not a 500.
    try:
        return int(value or 0)
    except ValueError:
        return _uploads._MAX_BYTES + 1


async def upload(request: Request):
    """Not a bearer-token route: the station proves itself with the ticket in the URL
    (and a file name naming it)."""
    console = request.app.state.console
    up = console.inbound.uploads
    m = _FILENAME.search(request.headers.get("content-disposition", ""))
    key = up.take(request.path_params["ticket"], m.group(1) if m else None)
    if key is None:
        return _error(403, "forbidden", "unknown, used or expired upload ticket, or a file name "
                      "that does not name the station it was issued for")
    done = False
    try:  # the ticket is claimed: spent by received(), given back on any other way out
        if _length(request.headers.get("content-length")) > _uploads._MAX_BYTES:
            return _error(413, "too-large", "upload over %d bytes" % _uploads._MAX_BYTES)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > _uploads._MAX_BYTES:
                return _error(413, "too-large", "upload over %d bytes" % _uploads._MAX_BYTES)
        body = bytes(body)
        validator = _csms.messages._validators.get("NotifyDiagnosticsResultRequest_2.1")
        from .inbound import checksum_ok
        summary = await asyncio.to_thread(_uploads.import_journal, console.store, key[0], body,
                                          validator, checksum_ok)
        summary["filename"] = m.group(1)
        up.received(key, summary)
        done = True
    finally:
        if not done:
            up.release(key)
    console.bus.publish("log.uploaded", key[0], requestId=key[1],
                        **{k: v for k, v in summary.items() if k != "resultIds"})
    return JSONResponse({"received": summary["bytes"]})


ROUTES = [
    Route("/api/stations/{sid}/variables", variables, methods=["POST"]),
    Route("/api/stations/{sid}/logs", logs, methods=["POST"]),
    Route("/api/stations/{sid}/logs/{req}", log),
    Route("/api/uploads/{ticket}", upload, methods=["POST", "PUT"]),
]
