"""One connected station: the `ocpp` package's ChargePoint with the reference CSMS's
per-connection state and dispatch (_StationMixin) and the diagnostics model
(ocppdiag.DiagnosticsMixin).  Station21 / Station201 by subprotocol."""

import asyncio
import inspect
import logging
import time
import uuid

from ocpp import messages, v21, v201
from ocpp.exceptions import (
    InternalError,
    NotImplementedError as OcppNotImplemented,
    NotSupportedError,
    OCPPError,
)
from ocpp.routing import on
from websockets.exceptions import ConnectionClosed

from ocppdiag import CallError, DiagnosticsMixin

from .validation import (
    CALL,
    CALLERROR,
    CALLRESULT,
    CALLRESULTERROR,
    ERROR_CODES,
    SEND,
    TYPES_BY_VERSION,
    UNKNOWN_ID,
    Frame,
    error_text,
    load_send_schema,
    loose_id,
    minimal_instance,
    now_iso,
    schema_of,
    validate_incoming,
)

LOG = logging.getLogger("csms")

# A handler returning this sends no reply at all (to test station time-outs).
NO_REPLY = object()


class CallErrorReply(CallError):
    """The station answered our CALL with a CALLERROR.

    Handlers added with Csms.add_handler may also raise it to answer a
    station's CALL with that CALLERROR.  An ocppdiag.CallError, so that the
    diagnostics calls raise one kind of error whichever CSMS sends them.
    """


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
    through ocpp.messages.unpack.  Before DiagnosticsMixin in the bases, so
    that the diagnostics requests go through csms_call (_diag_rpc) and the
    diagnostics CALLs through the package's _handle_call (diag_wants).
    """

    def __init__(self, station_id, ws, csms, subprotocol):
        super().__init__(station_id, ws, response_timeout=csms.call_timeout)
        self.csms, self.ws, self.subprotocol = csms, ws, subprotocol
        self.diag_hub, self.diag_states = csms.diag_hub, csms.diag_states
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
        f = Frame(text, TYPES_BY_VERSION[self._ocpp_version])
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
        load_send_schema(f.action, self._ocpp_version)
        call = messages.Call(f.id, f.action, f.payload)
        try:
            await validate_incoming(call, self._ocpp_version)
        except OCPPError as e:
            self.csms._violation(self.id, f.action, f.id,
                                 error_text(e, call, self._ocpp_version), f.text)

    # -- answering the station's CALLs --

    def _handler_for(self, action, payload=None):
        """(kind, target) for action; kind in custom/package/generic/None."""
        fn = self.csms._handlers.get(action)
        if fn is not None:
            return "custom", fn
        if action in self.route_map or self.diag_wants(action, payload):
            return "package", None
        known = schema_of(CALLRESULT, action, self._ocpp_version) is not None
        if known and self.csms.generic_replies:
            return "generic", None
        return ("known" if known else None), None

    async def _answer(self, call, text):
        kind, fn = self._handler_for(call.action, call.payload)
        try:
            if kind in (None, "known"):
                # OCPP-J: NotImplemented = action unknown; NotSupported = known, not supported.
                err = OcppNotImplemented if kind is None else NotSupportedError
                raise err(description="%s is not handled by this CSMS" % call.action)
            try:
                await validate_incoming(call, self._ocpp_version)
            except OCPPError as e:
                self.csms._violation(self.id, call.action, call.unique_id,
                                     error_text(e, call, self._ocpp_version), text)
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
                result = minimal_instance(schema_of(CALLRESULT, call.action, self._ocpp_version))
            reply = call.create_call_result(result)
            try:
                await messages.validate_payload(reply, self._ocpp_version)
            except OCPPError as e:  # our bug, not the station's
                self.csms.errors.append("invalid reply to %s: %s" % (
                    call.action, error_text(e, reply, self._ocpp_version)))
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
            text = error_text(e, result, self._ocpp_version)
            self.csms._violation(self.id, action, reply.id, text, reply.text)
            raise CallErrorReply("InvalidCallResult", text) from e
        return reply.payload

    async def send_raw(self, text, timeout):
        """Send text; return the first reply Frame matching it, or None."""
        msg_id = loose_id(text)
        call = Frame(text, TYPES_BY_VERSION[self._ocpp_version])
        try:
            async with asyncio.timeout(timeout):
                reply = await self._send_and_wait(text, msg_id, call.action)
        except TimeoutError:
            return None
        # A well-formed CALL sent raw still gets its reply checked.
        if reply.type == CALLRESULT and call.type == CALL and not call.problem \
                and schema_of(CALLRESULT, call.action, self._ocpp_version):
            result = messages.CallResult(reply.id, reply.payload, call.action)
            try:
                await messages.validate_payload(result, self._ocpp_version)
            except OCPPError as e:
                self.csms._violation(self.id, call.action, reply.id,
                                     error_text(e, result, self._ocpp_version), reply.text)
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

    # -- diagnostics (ocppdiag.DiagnosticsMixin) --

    def diag_wants(self, action, payload=None):
        # A DataTransfer of another vendor keeps the generic (or a test's) answer.
        if action == "DataTransfer":
            return isinstance(payload, dict) and payload.get("vendorId") == self.diag_vendor_id
        return super().diag_wants(action, payload)

    def diag_payload_error(self, action, error, raw):
        self.csms._violation(self.id, action, None, "DataTransfer %s: %s" % (action, error), raw)

    async def _diag_rpc(self, action, payload, timeout):
        # Our own request machinery: recorded, checked, CallErrorReply on CALLERROR.
        return await self.csms_call(action, payload, timeout)

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


class Station21(_StationMixin, DiagnosticsMixin, v21.ChargePoint):
    pass


class Station201(_StationMixin, DiagnosticsMixin, v201.ChargePoint):
    pass


STATION_CLASSES = {"ocpp2.1": Station21, "ocpp2.0.1": Station201}
