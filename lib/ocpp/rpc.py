# OCPP-J RPC layer: CALL / CALLRESULT / CALLERROR over one WebSocket.
# One outstanding CALL at a time (OCPP-J 2.x, section 4.1.1: a sender must wait for
# the response or a timeout before the next CALL); incoming CALLs are answered
# inline by the operation module named in the handler table, imported on first use
# so that an operation the CSMS never asks for costs no RAM.
import asyncio
import json
import sys
from micropython import const

import lazy
import log
from ocpp import text
from ocpp.check import Invalid, check

CALL = const(2)
CALLRESULT = const(3)
CALLERROR = const(4)
CALLRESULTERROR = const(5)  # OCPP 2.1: reply to an invalid CALLRESULT
SEND = const(6)             # OCPP 2.1: unconfirmed message

_MAX_ID = const(36)
_MAX_DESC = const(255)
_MAX_FOLLOWUPS = const(4)  # follow-up tasks of FOLLOWS handlers at once


class CallError(Exception):
    def __init__(self, code, desc="", details=None):
        super().__init__(desc)
        self.code = code
        self.desc = desc
        self.details = details


class BadResponse(CallError):
    """The CSMS answered with a CALLRESULT that does not check (already logged)."""


class Offline(Exception):
    pass


class Rpc:
    def __init__(self, agent, timeout_ms):
        self.agent = agent
        self.handlers = {}  # action -> module name ("ocpp.ops.get_variables")
        self._hot = None  # the handler module loaded now
        self._hot_with = ()  # modules its import brought in
        self.timeout_ms = timeout_ms
        self.ws = None
        self.version = None  # "2.1" or "2.0.1", from the negotiated subprotocol
        self.rx_len = 0  # byte length of the CALL being handled (BytesPerMessage checks)
        self.gate = None  # callable(action) -> CallError or None (e.g. Boot Rejected)
        self._lock = asyncio.Lock()
        self._seq = 0
        import os
        self._prefix = "%x" % int.from_bytes(os.urandom(3), "big")
        self._pend_id = None
        self._pend_ev = asyncio.Event()
        self._pend_res = None
        self._bad_seen = []  # actions whose invalid responses were logged
        self.followups = 0  # follow-up tasks of FOLLOWS handlers still running
        self.answered = False

    def on(self, action, module):
        self.handlers[action] = module

    def attach(self, ws):
        self.ws = ws
        self.answered = False  # a CALLRESULT that checked arrived on this connection
        self.version = "2.0.1" if ws.protocol == "ocpp2.0.1" else "2.1"

    def detach(self):
        self.ws = None
        if self._pend_id is not None:
            self._pend_res = Offline("connection lost")
            self._pend_ev.set()

    @property
    def online(self):
        return self.ws is not None and not self.ws.closed

    async def call(self, action, payload, timeout_ms=None, resp=(), items=None):
        """Send a CALL and return the CALLRESULT payload, checked against `resp`
        (the response's shape; the default is an empty response, as most
        notifications have). The CSMS is input too: a CALLRESULT that does not
        check is answered with CALLRESULTERROR (2.1) and raised as CallError.
        items=(key, iterable): the payload's list `key` is made while the CALL goes
        out, one element at a time, and `payload` is then a function returning the
        rest of the payload, called after the last element (a report part's `tbc`
        is known only then); see _pieces for a list deeper in the payload.
        Raises CallError (refused or invalid), Offline, or asyncio.TimeoutError."""
        async with self._lock:
            ws = self.ws
            if ws is None or ws.closed:
                raise Offline("not connected")
            self._seq += 1
            mid = "%s-%d" % (self._prefix, self._seq)
            self._pend_id = mid
            self._pend_res = None
            self._pend_ev.clear()
            try:
                if items:
                    await ws.send_stream(_pieces(mid, action, items[0], items[1], payload))
                else:
                    text = _dumps([CALL, mid, action, payload])
                    await ws.send(text)
                    text = None
                self.agent.on_sent(action)
                await asyncio.wait_for_ms(self._pend_ev.wait(), timeout_ms or self.timeout_ms)
            finally:
                self._pend_id = None
            res = self._pend_res
            self._pend_res = None
            if isinstance(res, Exception):
                raise res
            try:
                check(res, resp)
            except Invalid as e:
                await self._bad_result(mid, action, e)
                raise BadResponse(e.code, "invalid %s response: %s" % (action, e))
            self.answered = True
            return res

    async def _bad_result(self, mid, action, e):
        if action not in self._bad_seen:  # once per action: a broken CSMS repeats itself
            if len(self._bad_seen) < 8:
                self._bad_seen.append(action)
            log.warn("rpc: invalid %s response from the CSMS: %s %s", action, e.code, e)
        if self.version == "2.1":
            await self._send([CALLRESULTERROR, mid, e.code, str(e)[:_MAX_DESC], {}])

    async def recv_loop(self):
        """Read and dispatch until the connection closes."""
        ws = self.ws
        while True:
            mv = await ws.recv()
            if mv is None:
                return
            if ws.binary:
                log.warn("rpc: binary frame ignored")  # OCPP-J uses text frames only
                continue
            n = len(mv)
            mv = None
            await self.dispatch(ws._buf, n)

    async def dispatch(self, buf, n=None):
        """Handle one message: the JSON text buf[:n] (a bytearray, e.g. the socket's
        receive buffer, which it may rewrite; a str in unit tests)."""
        if type(buf) is str:
            buf = buf.encode()
        if type(buf) is not bytearray:
            buf = bytearray(buf)
        if n is None:
            n = len(buf)
        n = text.fix_surrogates(buf, n)
        self.rx_len = n  # bytes, for BytesPerMessage
        try:
            msg = _loads(buf, n)
        except MemoryError:
            # Valid or not, it did not fit: answer the CALL if its id can be read.
            return await self._error(_scan_id(buf, n), "InternalError", "out of memory")
        except Exception:
            # Not JSON: no id is guessed from it (a partial parse could pick a string
            # that is not the id and answer somebody else's CALL).
            return await self._error("-1", "RpcFrameworkError", "message is not valid JSON")
        # A well-formed envelope: [<int type>, "<id of 1..36 chars>", ...]. Only then
        # is the id read; anything else is answered with "-1".
        if type(msg) is not list or len(msg) < 2 or type(msg[0]) is not int:
            return await self._error("-1", "RpcFrameworkError", "not an OCPP-J message array")
        t = msg[0]
        mid = msg[1]
        if type(mid) is not str or not mid or len(mid) > _MAX_ID:
            # A response or SEND is never answered, whatever is wrong with it.
            return await self._error("-1", "RpcFrameworkError", "message id unreadable",
                                     t not in (CALLRESULT, CALLERROR, CALLRESULTERROR, SEND))
        if t == CALL or (t == SEND and self.version == "2.1"):
            if len(msg) != 4 or type(msg[2]) is not str:
                return await self._error(mid, "RpcFrameworkError", "CALL must be [2, id, action, payload]",
                                         t == CALL)
            await self._on_call(mid, msg[2], msg[3], t == CALL)
        elif t == CALLRESULT or t == CALLERROR or (t == CALLRESULTERROR and self.version == "2.1"):
            if mid != self._pend_id:
                # A late answer to a CALL that already timed out: drop it (it must not
                # complete the CALL now outstanding).
                log.debug("rpc: unmatched response %s", mid)
                return
            if t == CALLRESULT:
                p = msg[2] if len(msg) == 3 else None
                self._pend_res = p if type(p) is dict else CallError("FormatViolation", "bad CALLRESULT")
            else:
                code = msg[2] if len(msg) > 2 and type(msg[2]) is str else "GenericError"
                desc = msg[3] if len(msg) > 3 and type(msg[3]) is str else ""
                self._pend_res = CallError(code[:_MAX_ID], desc[:_MAX_DESC])
            self._pend_ev.set()
        else:
            await self._error(mid, "MessageTypeNotSupported", "message type %d not supported" % t)

    async def _on_call(self, mid, action, payload, reply):
        a = self.agent
        mod = None
        try:
            if self.gate:
                refusal = self.gate(action)
                if refusal:
                    raise refusal
            modname = self.handlers.get(action)
            if modname is None:
                from ocpp import actions
                if actions.known(action):
                    raise CallError("NotSupported", "%s is not supported" % action)
                raise CallError("NotImplemented", "unknown action %s" % action)
            before = None  # sys.modules before the handler's import, when it is imported now
            if self._hot != modname:
                # One handler module stays loaded: a burst of one request type
                # (GetVariables) costs one import, and RAM holds one handler; what
                # its import brought in (the diagnostics messages' shapes: 1.5 KB)
                # goes with it.
                if self._hot:
                    for n in self._hot_with:
                        lazy.drop(n)
                    lazy.drop(self._hot)
                self._hot = modname
                self._hot_with = ()
                if modname not in sys.modules:
                    before = set(sys.modules)
            mod = lazy.load(modname)
            if before is not None:
                self._hot_with = tuple(n for n in lazy.since(before) if n != modname)
                before = None
            check(payload, mod.REQ)
            lim = getattr(mod, "limits", None)
            if lim:
                lim(a, payload)
            if self.followups >= _MAX_FOLLOWUPS and getattr(mod, "FOLLOWS", 0):
                # A flood of requests that each queue messages: refuse what does not
                # fit instead of running out of memory (every such response has a
                # Rejected status).
                res = {"status": "Rejected", "statusInfo": {
                    "reasonCode": "Busy", "additionalInfo": "%d requests still being answered" % self.followups}}
            else:
                res = mod.handle(a, payload)
        except Invalid as e:
            return await self._error(mid, e.code, str(e), reply)
        except CallError as e:
            return await self._error(mid, e.code, e.desc, reply, e.details)
        except MemoryError:
            return await self._error(mid, "InternalError", "out of memory", reply)
        except Exception as e:
            log.exc(e, "rpc: %s handler failed" % action)
            return await self._error(mid, "InternalError", "%s: %s" % (type(e).__name__, e), reply)
        after = None
        if type(res) is tuple:
            res, after = res
        if reply:
            await self._send([CALLRESULT, mid, res])
        if after is not None:
            # Follow-up CALLs (e.g. NotifyReport parts) only after our CALLRESULT is out,
            # and in their own task: this loop must keep reading their responses.
            if getattr(mod, "FOLLOWS", 0):
                self.followups += 1
                after = self._counted(after)
            a.spawn(after)

    async def _counted(self, coro):
        try:
            await coro
        finally:
            self.followups -= 1

    async def _error(self, mid, code, desc, reply=True, details=None):
        log.info("rpc: CALLERROR %s %s (%s)", mid, code, desc)
        if reply:
            await self._send([CALLERROR, mid, code, desc[:_MAX_DESC], details or {}])

    async def _send(self, msg):
        ws = self.ws
        if ws is None or ws.closed:
            return
        try:
            out = _dumps(msg)
        except MemoryError:
            # A reply whose text finds no block: the CSMS still gets an answer (a
            # CALL left unanswered holds its sender until its timeout), in the few
            # bytes a fixed error takes.
            out = '[%d,%s,"InternalError","out of memory",{}]' % (
                CALLRESULTERROR if msg[0] == CALLRESULTERROR else CALLERROR, json.dumps(msg[1]))
            log.warn("rpc: reply %s too big for the heap: InternalError sent", msg[1])
        try:
            await ws.send(out)
        except Exception as e:
            log.warn("rpc: send failed: %s: %s", type(e).__name__, e)


def _loads(buf, n):
    try:
        return json.loads(memoryview(buf)[:n])
    except MemoryError:  # see _dumps
        import gc
        gc.collect()
        return json.loads(memoryview(buf)[:n])


def _dumps(msg):
    # The text of a message needs one contiguous block: after a burst of big
    # messages the heap may hold enough in total but in pieces, and a collection
    # usually joins them.
    try:
        return json.dumps(msg)
    except MemoryError:
        import gc
        gc.collect()
        return json.dumps(msg)


def _pieces(mid, action, path, items, rest):
    # The CALL's text a piece at a time. `path`: the key of the list ("reportData"),
    # or the keys down to it (("data", "test") inside a DataTransfer). The list comes
    # first in each object on the path, the rest after it (JSON objects are
    # unordered), so what the last element decides can be in it. rest(): the other
    # members of those objects, a dict or a tuple of dicts, outermost first.
    if type(path) is str:
        path = (path,)
    yield "[%d,%s,%s," % (CALL, json.dumps(mid), json.dumps(action))
    for k in path:
        yield "{%s:" % json.dumps(k)
    yield "["
    sep = ""
    for x in items:
        yield sep
        yield _dumps(x)  # a MemoryError from here on drops the connection (ws)
        sep = ","
    yield "]"
    rs = rest()
    for r in reversed((rs,) if type(rs) is dict else rs):
        r = _dumps(r)
        if len(r) < 3:  # "{}"
            yield "}"
        else:
            yield ","
            yield memoryview(r)[1:]  # its "}" closes the object
    yield "]"


def _scan_id(buf, n):
    """The id of `[<digit>, "<id>",` at the start of buf[:n], read without parsing
    the rest (for a message too big to parse); "-1" when it is not that."""
    i = 0
    while i < n and buf[i] in b" \t\r\n":
        i += 1
    if i + 5 > n or buf[i] != 0x5B:
        return "-1"
    j = buf.find(b'"', i, min(n, i + 8))
    k = buf.find(b'"', j + 1, min(n, j + 2 + _MAX_ID)) if j > 0 else -1
    if k <= j + 1 or not bytes(buf[i + 1:j]).strip().rstrip(b",").strip().isdigit():
        return "-1"
    mid = bytes(buf[j + 1:k])
    if b"\\" in mid:
        return "-1"
    try:
        return mid.decode()
    except UnicodeError:
        return "-1"
