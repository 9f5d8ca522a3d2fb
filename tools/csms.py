"""Reference CSMS for host tests: the `ocpp` package (2.1.0) on `websockets`.

A strict, observable peer for the agent.  It records everything a station
sends, validates it against the OCPP JSON schemas (through the package's own
validator cache), and lists every schema failure in `Csms.violations`.

Library use (asyncio):

    csms = Csms(port=0, boot_status="Accepted")
    await csms.start()                  # csms.url == "ws://127.0.0.1:PORT"
    ...station connects to csms.url + "/CS001"...
    res = await csms.call("CS001", "GetVariables", {...})
    await csms.stop()

For pytest use tools/harness.py (ThreadedCsms).  CLI:

    python tools/csms.py --port 9000 [--cert C --key K] [--password PW]

What the package does not do for 2.1 and this module adds (see
/work/shared/platform-notes.md): replies to CALLs nobody handles
(NotImplemented), replies to unreadable frames, survives frames that crash
the package's message loop (deep JSON nesting), sends CALLs with plain
dicts, validates custom actions through `register_schema`.
"""

import argparse
import asyncio
import hmac
import http
import inspect
import json
import logging
import os
import re
import signal
import sys
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from ocpp import messages, v21, v201
from ocpp.exceptions import (
    FormatViolationError,
    InternalError,
    NotImplementedError as OcppNotImplemented,
    NotSupportedError,
    OccurrenceConstraintViolationError,
    OCPPError,
    ProtocolError,
)
from ocpp.routing import on
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.headers import parse_authorization_basic

LOG = logging.getLogger("csms")

# Message type ids.  5 (CALLRESULTERROR) and 6 (SEND) exist from OCPP 2.1 on.
CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND = 2, 3, 4, 5, 6
TYPE_NAMES = {CALL: "CALL", CALLRESULT: "CALLRESULT", CALLERROR: "CALLERROR",
              CALLRESULTERROR: "CALLRESULTERROR", SEND: "SEND"}
# Element count per message type: [type, id, ...].
_FRAME_LEN = {CALL: 4, CALLRESULT: 3, CALLERROR: 5, CALLRESULTERROR: 5, SEND: 4}
_TYPES_BY_VERSION = {"2.0.1": (CALL, CALLRESULT, CALLERROR),
                     "2.1": (CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND)}
# The RPC error codes of OCPP-J 2.x.
ERROR_CODES = frozenset((
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation"))

# A handler returning this sends no reply at all (to test station time-outs).
NO_REPLY = object()

# OCPP-J: a CALLERROR answering a message whose id is unreadable uses "-1".
UNKNOWN_ID = "-1"

_ACTION_RE = re.compile(r"[A-Za-z0-9_]{1,64}")  # also keeps get_validator inside its dir


class CallErrorReply(Exception):
    """The station answered our CALL with a CALLERROR.

    Handlers added with Csms.add_handler may also raise it to answer a
    station's CALL with that CALLERROR.
    """

    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s %s" % (code, description, details or ""))
        self.code, self.description, self.details = code, description, details or {}


def register_diagnostics_schemas(root=None):
    """Register the proposed diagnostics messages (docs/diagnostics/schemas) so that
    they validate in both directions like spec actions."""
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = os.path.join(root, "docs", "diagnostics", "schemas")
    for name in sorted(os.listdir(d)):
        if name.endswith("Request.json"):
            action = name[:-len("Request.json")]
            with open(os.path.join(d, name)) as f, open(os.path.join(d, action + "Response.json")) as g:
                register_schema(action, json.load(f), json.load(g))


async def stop_agent(proc, timeout=10):
    """Stop an agent subprocess: a "stop" line on its stdin when it was started with
    stdin=PIPE (handled in its event loop, see tools/run-agent), else SIGINT;
    -> True if it stopped by itself."""
    if proc.returncode is not None:
        return True
    if proc.stdin is not None:
        try:
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
        except (ConnectionError, OSError):
            proc.send_signal(signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return False


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- schemas -------------------------------------------------------------

def register_schema(action, request_schema, response_schema, versions=("2.1", "2.0.1")):
    """Make a custom action validate in both directions, like a spec action.

    ocpp.messages.get_validator caches Draft4Validators in
    messages._validators under "<Action>Request_<ver>" / "<Action>Response_<ver>"
    and looks there before reading a schema file, so an entry there is all
    the package needs.  Process-wide, like the package's cache.
    """
    if not _ACTION_RE.fullmatch(action):
        raise ValueError("bad action name %r" % action)
    for schema in (request_schema, response_schema):
        Draft4Validator.check_schema(schema)
    for ver in versions:
        messages._validators["%sRequest_%s" % (action, ver)] = Draft4Validator(request_schema)
        messages._validators["%sResponse_%s" % (action, ver)] = Draft4Validator(response_schema)


def _schema(message_type, action, version):
    """The package's schema dict for action, or None if it has none."""
    if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
        return None
    try:
        return messages.get_validator(message_type, action, version).schema
    except (OSError, ValueError):
        return None


def minimal_instance(schema, root=None):
    """Smallest value valid for `schema`: required fields only, enums prefer
    "Accepted".  Used to accept any spec action without a hand-written handler."""
    root = root or schema
    while "$ref" in schema:  # OCPP schemas only use "#/definitions/Name"
        schema = _walk(root, schema["$ref"])
    if "enum" in schema:
        return "Accepted" if "Accepted" in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {}), root) for k in schema.get("required", ())}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}), root)
                for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return now_iso() if schema.get("format") == "date-time" else "x" * schema.get("minLength", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def _load_send_schema(action, version):
    """SEND payload schemas are named "<Action>.json" in the package (no
    "Request" suffix), which get_validator never looks for.  Cache them under
    the key it does look for, so validate_payload(Call) checks SEND too."""
    key = "%sRequest_%s" % (action, version)
    if key in messages._validators or not _ACTION_RE.fullmatch(action):
        return
    path = os.path.join(os.path.dirname(messages.__file__),
                        "v" + version.replace(".", ""), "schemas", action + ".json")
    try:
        with open(path, encoding="utf-8-sig") as f:
            messages._validators[key] = Draft4Validator(json.load(f))
    except OSError:
        pass  # unknown: validate_payload reports NotImplemented


def _walk(root, ref):
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        node = node[part]
    return node


async def _validate_incoming(msg, version):
    """Package validation, with the OCPP-J 2.x error code for a missing field.

    The package maps a missing required property (and only that) to
    ProtocolError; OCPP-J 2.x says OccurrenceConstraintViolation.
    """
    try:
        await messages.validate_payload(msg, version)
    except ProtocolError as e:
        raise OccurrenceConstraintViolationError(details=e.details) from e
    except OCPPError:
        raise
    except Exception as e:  # e.g. RecursionError inside jsonschema
        raise FormatViolationError(details={"cause": repr(e)[:200]}) from e


# --- frames --------------------------------------------------------------

class Frame:
    """A loosely parsed OCPP-J frame.  Never raises; `problem` says what is wrong."""

    def __init__(self, text, types=tuple(_FRAME_LEN)):
        self.text, self.type, self.id, self.action, self.payload = text, None, None, None, None
        self.problem = None
        self.unsupported_type = False  # readable but not one of `types`
        self._parse(text, types)

    def _parse(self, text, types):
        if not isinstance(text, str):
            self.problem = "binary frame (OCPP-J uses text frames)"
            return
        try:
            data = json.loads(text)
        except RecursionError:
            self.problem = "JSON nested too deeply"
            return
        except (ValueError, TypeError) as e:
            self.problem = "not JSON: %s" % e
            return
        if not isinstance(data, list) or not data:
            self.problem = "not a non-empty JSON array"
            return
        if len(data) > 1 and isinstance(data[1], str):
            self.id = data[1]
        if type(data[0]) is not int or data[0] not in types:
            self.problem = "unsupported message type %r" % (data[0],)
            self.unsupported_type = True
            return
        self.type = data[0]
        if len(data) != _FRAME_LEN[self.type]:
            self.problem = "%s with %d elements" % (TYPE_NAMES[self.type], len(data))
            return
        if self.id is None or len(self.id) > 36:
            self.problem = "message id %r is not a string of at most 36 chars" % (data[1],)
            return
        if self.type in (CALL, SEND):
            self.action, self.payload = data[2], data[3]
            if not isinstance(self.action, str):
                self.problem = "action %r is not a string" % (self.action,)
        elif self.type == CALLRESULT:
            self.payload = data[2]
        else:
            code, desc, details = data[2:]
            self.payload = {"errorCode": code, "errorDescription": desc, "errorDetails": details}
            if not (isinstance(code, str) and isinstance(desc, str) and isinstance(details, dict)):
                self.problem = "malformed %s fields" % TYPE_NAMES[self.type]
        if self.problem is None and not isinstance(self.payload, dict):
            self.problem = "payload is not a JSON object"

    @property
    def kind(self):
        """Record type: a frame with a problem is "RAW"."""
        return "RAW" if self.problem else TYPE_NAMES[self.type]


def _loose_id(text):
    """Message id of a frame we are about to send raw, if it has a readable one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, list) and len(data) > 1 and isinstance(data[1], str):
        return data[1]
    return None


# --- one connected station -----------------------------------------------

class _Pending:
    """A CALL we sent (by call() or send_raw()) and its future reply Frame."""

    def __init__(self, action, loop):
        self.action, self.future = action, loop.create_future()


class _StationMixin:
    """Per-connection state and dispatch, mixed into the package's ChargePoint.

    The package's own handlers (@on below) return its call_result objects;
    everything else goes through _answer().  The package's start() loop is
    replaced: it dies on the first unexpected exception and routes only
    through ocpp.messages.unpack.
    """

    def __init__(self, station_id, ws, csms, subprotocol):
        super().__init__(station_id, ws, response_timeout=csms.call_timeout)
        self.csms, self.ws, self.subprotocol = csms, ws, subprotocol
        self._pending = {}          # message id -> _Pending
        self._anon_waiters = []     # send_raw() of frames without readable id
        self._sent_ids = set()      # to tell late replies from replies to nothing
        self._tasks = set()
        self.closed = asyncio.Event()

    # -- the package's handlers --

    @on("BootNotification")
    def on_boot_notification(self, **_):
        return self._call_result.BootNotification(
            current_time=now_iso(), interval=self.csms.boot_interval,
            status=self.csms.boot_status)

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return self._call_result.Heartbeat(current_time=now_iso())

    @on("StatusNotification")
    def on_status_notification(self, **_):
        return self._call_result.StatusNotification()

    @on("NotifyReport")
    def on_notify_report(self, **_):
        return self._call_result.NotifyReport()

    @on("NotifyEvent")
    def on_notify_event(self, **_):
        return self._call_result.NotifyEvent()

    @on("LogStatusNotification")
    def on_log_status_notification(self, **_):
        return self._call_result.LogStatusNotification()

    @on("SecurityEventNotification")
    def on_security_event_notification(self, **_):
        return self._call_result.SecurityEventNotification()

    # -- receiving --

    async def start(self):
        while True:
            text = await self.ws.recv()  # ConnectionClosed ends the session
            try:
                await self.route_message(text)
            except Exception:  # a bad frame must never end the session
                LOG.exception("%s: failed to route %.200r", self.id, text)
                self.csms.errors.append("route_message crashed on %.200r" % (text,))

    async def route_message(self, text):
        f = Frame(text, _TYPES_BY_VERSION[self._ocpp_version])
        text = f.text = text if isinstance(text, str) else repr(text)  # records hold str
        pending = self._pending.get(f.id) if f.kind in ("CALLRESULT", "CALLERROR") else None
        self.csms._record(self.id, f.kind, f.action or (pending and pending.action),
                          f.id, text if f.problem else f.payload, raw=text)
        if f.type in (CALLERROR, CALLRESULTERROR) and not f.problem \
                and f.payload["errorCode"] not in ERROR_CODES:
            self.csms._violation(self.id, pending and pending.action, f.id,
                                 "unknown error code %r" % f.payload["errorCode"], text)
        if f.problem:
            self.csms._violation(self.id, f.action, f.id, f.problem, text)
            await self._reply_to_bad_frame(f)
        elif f.type == CALL:
            self._spawn(self._answer(messages.Call(f.id, f.action, f.payload), text))
        elif f.type in (CALLRESULT, CALLERROR):
            self._resolve(f)
        elif f.type == SEND:  # unconfirmed: validate, never answer
            self._spawn(self._check_send(f))
        # CALLRESULTERROR: recorded; nothing to answer.

    async def _reply_to_bad_frame(self, f):
        """OCPP-J: answer what cannot be processed, but never a response."""
        if f.type in (CALLRESULT, CALLERROR, CALLRESULTERROR, SEND):
            return
        readable = f.id is not None and len(f.id) <= 36
        code = "MessageTypeNotSupported" if f.unsupported_type and readable \
            else "RpcFrameworkError"
        await self._send_quietly(messages.CallError(
            f.id if readable else UNKNOWN_ID, code, f.problem[:255], {}).to_json())

    def _resolve(self, f):
        pending = self._pending.pop(f.id, None)
        if pending is None and f.type == CALLERROR and self._anon_waiters:
            pending = self._anon_waiters.pop(0)
        if pending is not None:
            if not pending.future.done():
                pending.future.set_result(f)
        elif f.id not in self._sent_ids and f.id != UNKNOWN_ID:
            self.csms._violation(self.id, None, f.id, "%s for a message id never sent" % f.kind,
                                 f.text)
        # else: a late reply to a CALL that timed out; recorded, nothing more.

    async def _check_send(self, f):
        _load_send_schema(f.action, self._ocpp_version)
        call = messages.Call(f.id, f.action, f.payload)
        try:
            await _validate_incoming(call, self._ocpp_version)
        except OCPPError as e:
            self.csms._violation(self.id, f.action, f.id,
                                 _error_text(e, call, self._ocpp_version), f.text)

    # -- answering the station's CALLs --

    def _handler_for(self, action):
        """(kind, target) for action; kind in custom/package/generic/None."""
        fn = self.csms._handlers.get(action)
        if fn is not None:
            return "custom", fn
        if action in self.route_map:
            return "package", None
        known = _schema(CALLRESULT, action, self._ocpp_version) is not None
        if known and self.csms.generic_replies:
            return "generic", None
        return ("known" if known else None), None

    async def _answer(self, call, text):
        kind, fn = self._handler_for(call.action)
        try:
            if kind in (None, "known"):
                # OCPP-J: NotImplemented = action unknown; NotSupported = known, not supported.
                err = OcppNotImplemented if kind is None else NotSupportedError
                raise err(description="%s is not handled by this CSMS" % call.action)
            try:
                await _validate_incoming(call, self._ocpp_version)
            except OCPPError as e:
                self.csms._violation(self.id, call.action, call.unique_id,
                                     _error_text(e, call, self._ocpp_version), text)
                raise
            if kind == "package":
                # Validates again (cheap) and runs the @on handler.  Handler
                # exceptions are answered by the package (InternalError).
                await self._handle_call(call)
                return
            if kind == "custom":
                result = fn(self.id, call.payload)
                if inspect.isawaitable(result):
                    result = await result
                if result is NO_REPLY:
                    return
            else:
                result = minimal_instance(_schema(CALLRESULT, call.action, self._ocpp_version))
            reply = call.create_call_result(result)
            try:
                await messages.validate_payload(reply, self._ocpp_version)
            except OCPPError as e:  # our bug, not the station's
                self.csms.errors.append("invalid reply to %s: %s" % (
                    call.action, _error_text(e, reply, self._ocpp_version)))
                raise InternalError(description="CSMS built an invalid reply") from e
            await self._send(reply.to_json())
        except CallErrorReply as e:
            await self._send(messages.CallError(call.unique_id, e.code, e.description,
                                                e.details).to_json())
        except OCPPError as e:
            # The package puts the whole offending message into the details
            # ("ocpp_message"); echo only a short cause.
            details = dict(e.details) if isinstance(e.details, dict) else {}
            details.pop("ocpp_message", None)
            if "cause" in details:
                details["cause"] = str(details["cause"]).split("\n")[0][:200]
            await self._send(messages.CallError(call.unique_id, e.code, e.description,
                                                details).to_json())
        except ConnectionClosed:
            pass  # the station closed while we answered: nothing left to answer
        except Exception as e:
            LOG.exception("%s: handler for %s failed", self.id, call.action)
            self.csms.errors.append("handler for %s raised %r" % (call.action, e))
            await self._send(call.create_call_error(e).to_json())

    # -- sending --

    async def _send(self, text):
        self.csms._emit("sent", {"station": self.id, "raw": text, "time": time.time()})
        await self.ws.send(text)

    async def _send_quietly(self, text):
        try:
            await self._send(text)
        except ConnectionClosed:
            pass

    async def csms_call(self, action, payload, timeout):
        msg = messages.Call(str(uuid.uuid4()), action, payload)
        # A request that fails here is the test's mistake: raise, no violation.
        await messages.validate_payload(msg, self._ocpp_version)
        try:
            async with asyncio.timeout(timeout):
                # OCPP-J: one outstanding CALL per direction; the package's lock.
                async with self._call_lock:
                    reply = await self._send_and_wait(msg.to_json(), msg.unique_id, action)
        except TimeoutError:
            raise TimeoutError("%s: no reply to %s within %ss" % (self.id, action, timeout)) \
                from None
        if reply.type == CALLERROR:
            p = reply.payload
            raise CallErrorReply(p["errorCode"], p["errorDescription"], p["errorDetails"])
        result = messages.CallResult(reply.id, reply.payload, action)
        try:
            await messages.validate_payload(result, self._ocpp_version)
        except OCPPError as e:
            text = _error_text(e, result, self._ocpp_version)
            self.csms._violation(self.id, action, reply.id, text, reply.text)
            raise CallErrorReply("InvalidCallResult", text) from e
        return reply.payload

    async def send_raw(self, text, timeout):
        """Send text; return the first reply Frame matching it, or None."""
        msg_id = _loose_id(text)
        call = Frame(text, _TYPES_BY_VERSION[self._ocpp_version])
        try:
            async with asyncio.timeout(timeout):
                reply = await self._send_and_wait(text, msg_id, call.action)
        except TimeoutError:
            return None
        # A well-formed CALL sent raw still gets its reply checked.
        if reply.type == CALLRESULT and call.type == CALL and not call.problem \
                and _schema(CALLRESULT, call.action, self._ocpp_version):
            result = messages.CallResult(reply.id, reply.payload, call.action)
            try:
                await messages.validate_payload(result, self._ocpp_version)
            except OCPPError as e:
                self.csms._violation(self.id, call.action, reply.id,
                                     _error_text(e, result, self._ocpp_version), reply.text)
        return reply

    async def _send_and_wait(self, text, msg_id, action):
        pending = _Pending(action, asyncio.get_running_loop())
        if msg_id is None:
            self._anon_waiters.append(pending)
        else:
            self._pending[msg_id] = pending
            self._sent_ids.add(msg_id)
        try:
            await self._send(text)
            return await pending.future
        finally:
            if self._pending.get(msg_id) is pending:
                del self._pending[msg_id]
            if pending in self._anon_waiters:
                self._anon_waiters.remove(pending)

    # -- housekeeping --

    def _spawn(self, coro):
        task = asyncio.ensure_future(self._quiet(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quiet(self, coro):
        try:
            await coro
        except ConnectionClosed:
            pass

    def shutdown(self):
        for task in list(self._tasks):
            task.cancel()
        gone = ConnectionError("station %s disconnected" % self.id)
        for pending in list(self._pending.values()) + self._anon_waiters:
            if not pending.future.done():
                pending.future.set_exception(gone)
        self.closed.set()


class Station21(_StationMixin, v21.ChargePoint):
    pass


class Station201(_StationMixin, v201.ChargePoint):
    pass


_STATION_CLASSES = {"ocpp2.1": Station21, "ocpp2.0.1": Station201}


def _error_text(e, msg=None, version=None):
    """One readable line for a validation failure of `msg`.

    The package's cause text can embed the whole payload and a multi-line
    jsonschema report; the best-matching jsonschema error with its JSON path
    says more in less.
    """
    cause = e.details.get("cause") if isinstance(e.details, dict) else None
    text = str(cause or e.description).strip().split("\n")[0]
    if msg is not None:
        try:
            validator = messages.get_validator(msg.message_type_id, msg.action, version)
            err = best_match(validator.iter_errors(msg.payload))
        except Exception:  # no schema, or RecursionError: keep the package's text
            err = None
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path)
            text = "%s%s" % (err.message, " at /" + where if where else "")
    text = "%s: %s" % (e.code, text)
    return text if len(text) <= 300 else text[:300] + "..."


# --- the server ----------------------------------------------------------

class Csms:
    """OCPP 2.1 / 2.0.1 CSMS.  Stations connect to `<url>/<stationId>`.

    passwords: None (no auth) or {stationId: password}; the key "*" applies
    to any station.  When set, HTTP Basic auth "stationId:password" is
    required, else the handshake gets HTTP 401.
    generic_replies: answer any spec action without a handler with the
    smallest schema-valid response (else NotSupported).
    """

    def __init__(self, host="127.0.0.1", port=0, ssl=None, subprotocols=("ocpp2.1", "ocpp2.0.1"),
                 boot_status="Accepted", boot_interval=10, passwords=None,
                 generic_replies=True, call_timeout=10, ping_interval=20):
        for sp in subprotocols:
            if sp not in _STATION_CLASSES:
                raise ValueError("unsupported subprotocol %r" % sp)
        self.host, self.port, self.ssl = host, port, ssl
        self.subprotocols = list(subprotocols)
        self.boot_status, self.boot_interval = boot_status, boot_interval
        self.passwords, self.generic_replies = passwords, generic_replies
        self.call_timeout, self.ping_interval = call_timeout, ping_interval
        self.stations = {}    # stationId -> connected Station21/Station201
        self.records = []     # everything received, see _record()
        self.violations = []  # schema/framing failures of what stations sent
        self.errors = []      # failures of this CSMS itself (handlers, bad replies)
        self.listeners = []   # fn(kind, dict), kind in record/violation/sent/refused
        self._handlers = {}
        self._server = None

    @property
    def url(self):
        return "%s://%s:%d" % ("wss" if self.ssl else "ws", self.host, self.port)

    # -- configuration --

    def set_boot_status(self, status, interval=None):
        self.boot_status = status
        if interval is not None:
            self.boot_interval = interval

    def add_handler(self, action, fn):
        """fn(station_id, payload_dict) -> response dict (or NO_REPLY; may be
        async; may raise CallErrorReply).  Overrides built-in handlers.  The
        action needs a schema (spec action, or register_schema) to validate."""
        self._handlers[action] = fn

    register_schema = staticmethod(register_schema)

    # -- lifecycle --

    async def start(self):
        self._server = await serve(
            self._session, self.host, self.port, ssl=self.ssl,
            subprotocols=self.subprotocols, process_request=self._check_request,
            ping_interval=self.ping_interval, close_timeout=2)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self):
        await self._server.serve_forever()

    # -- operations on a station --

    def station(self, station_id):
        try:
            return self.stations[station_id]
        except KeyError:
            raise ConnectionError("station %s is not connected" % station_id) from None

    async def call(self, station_id, action, payload, timeout=10):
        """CALL with a camelCase dict; returns the validated CALLRESULT payload.

        Raises CallErrorReply for a CALLERROR (code "InvalidCallResult" when
        the CALLRESULT broke the schema, also recorded as a violation),
        TimeoutError, ConnectionError, or the package's OCPPError when our own
        request breaks the schema.
        """
        return await self.station(station_id).csms_call(action, payload, timeout)

    async def send_raw(self, station_id, text, timeout=3):
        """Send any text frame; return the station's first CALLRESULT/CALLERROR
        to it as text (matched by message id if `text` has a readable one,
        else the first CALLERROR), or None on timeout."""
        reply = await self.station(station_id).send_raw(text, timeout)
        return reply.text if reply is not None else None

    async def drop(self, station_id, code=None, timeout=5):
        """Close with `code`, or abort the TCP connection when code is None.
        Returns once the session has ended (DISCONNECT recorded)."""
        st = self.station(station_id)
        if code is None:
            st.ws.transport.abort()
        else:
            await st.ws.close(code)
        async with asyncio.timeout(timeout):
            await st.closed.wait()

    # -- connection handling --

    def _station_id(self, path):
        path = urllib.parse.urlsplit(path).path
        return urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])

    def _check_request(self, connection, request):
        station_id = self._station_id(request.path)
        if not station_id:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No station id in path\n")
        if self.passwords is None:
            return None
        expected = self.passwords.get(station_id, self.passwords.get("*"))
        try:
            user, password = parse_authorization_basic(request.headers["Authorization"])
        except Exception:  # missing or malformed header
            user = password = None
        if (expected is None or user != station_id or password is None
                or not hmac.compare_digest(password.encode(), expected.encode())):
            # Not a violation: tests refuse stations on purpose.  Shown by the CLI.
            self._emit("refused", {"station": station_id, "time": time.time(),
                                   "error": "HTTP 401 (user %r)" % user})
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="csms"'
            return response
        return None

    async def _session(self, ws):
        station_id = self._station_id(ws.request.path)
        st = _STATION_CLASSES[ws.subprotocol](station_id, ws, self, ws.subprotocol)
        self._record(station_id, "CONNECT", subprotocol=ws.subprotocol,
                     headers=dict(ws.request.headers.raw_items()),
                     remote=ws.remote_address)
        old = self.stations.get(station_id)
        self.stations[station_id] = st
        if old is not None:  # a reconnect while the old socket looked alive
            old.ws.transport.abort()
        try:
            await st.start()
        except ConnectionClosed:
            pass
        finally:
            st.shutdown()
            if self.stations.get(station_id) is st:
                del self.stations[station_id]
            code = ws.close_code  # a CloseCode enum member, or None
            self._record(station_id, "DISCONNECT", code=None if code is None else int(code),
                         reason=ws.close_reason)

    # -- records --

    def _record(self, station, type, action=None, id=None, payload=None, **extra):
        rec = {"station": station, "type": type, "action": action, "id": id,
               "payload": payload, "time": time.time(), "index": len(self.records)}
        rec.update(extra)
        self.records.append(rec)
        self._emit("record", rec)
        return rec

    def _violation(self, station, action, msg_id, error, raw):
        rec = {"station": station, "action": action, "id": msg_id, "error": error,
               "raw": raw if len(raw) <= 2000 else raw[:2000] + "...", "time": time.time()}
        self.violations.append(rec)
        LOG.info("violation by %s: %s", station, error)
        self._emit("violation", rec)

    def _emit(self, kind, rec):
        for fn in list(self.listeners):
            try:
                fn(kind, rec)
            except Exception:
                LOG.exception("listener failed")


# --- CLI -------------------------------------------------------------------

def _short(obj, limit=160):
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "..."


def format_event(kind, rec):
    """One readable line per event, for the CLI and for test failure messages."""
    stamp = time.strftime("%H:%M:%S", time.localtime(rec["time"])) + ".%03d" % (
        rec["time"] % 1 * 1000)
    who = rec.get("station")
    if kind == "sent":
        return "%s CSMS -> %s: %s" % (stamp, who, _short(rec["raw"]))
    if kind == "violation":
        return "%s VIOLATION %s %s: %s" % (stamp, who, rec.get("action") or "", rec["error"])
    if kind == "refused":
        return "%s %s refused: %s" % (stamp, who, rec["error"])
    t = rec["type"]
    if t == "CONNECT":
        return "%s %s connected (%s)" % (stamp, who, rec["subprotocol"])
    if t == "DISCONNECT":
        return "%s %s disconnected (code %s %s)" % (stamp, who, rec["code"], rec["reason"] or "")
    return "%s %s -> CSMS: %s %s id=%s %s" % (stamp, who, t, rec["action"] or "", rec["id"],
                                              _short(rec["payload"]))


async def _main_async(args):
    import ssl as ssl_mod  # only the CLI builds contexts; tests pass their own

    ctx = None
    if args.cert:
        ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    csms = Csms(host=args.host, port=args.port, ssl=ctx, boot_status=args.boot_status,
                boot_interval=args.heartbeat_interval,
                passwords={"*": args.password} if args.password else None)
    csms.listeners.append(lambda kind, rec: print(format_event(kind, rec), flush=True))
    # Ctrl-C / SIGTERM: close the stations' connections (1001) and exit 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await csms.start()
    print("CSMS listening on %s/<stationId> (%s)" % (csms.url, ", ".join(csms.subprotocols)),
          flush=True)
    await stop.wait()
    await csms.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description="Reference OCPP 2.1/2.0.1 CSMS (loopback tests)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--cert", help="server certificate PEM (enables wss)")
    p.add_argument("--key", help="server key PEM")
    p.add_argument("--boot-status", default="Accepted", choices=("Accepted", "Pending", "Rejected"))
    p.add_argument("--heartbeat-interval", type=int, default=10,
                   help="interval in the BootNotification response (s)")
    p.add_argument("--password", help="require HTTP Basic auth stationId:PASSWORD")
    args = p.parse_args(argv)
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main_async(args))
    except KeyboardInterrupt:  # only if Ctrl-C lands before the handlers are set
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
