"""The reference CSMS's server: websockets, HTTP Basic auth per station, the OCPP
subprotocols, one session per connected station, and everything recorded
(records, violations, errors) for tests and the CLI to read."""

import asyncio
import hmac
import http
import logging
import time
import urllib.parse

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.headers import parse_authorization_basic

from ocppdiag import RESULT, DiagnosticsHub, register_schema

from .session import STATION_CLASSES

LOG = logging.getLogger("csms")


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
            if sp not in STATION_CLASSES:
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
        # Diagnostics (ocppdiag): every station's events, and per station its catalog,
        # runs and results, kept across reconnects.
        self.diag_hub = DiagnosticsHub()
        self.diag_states = {}
        self.diag_hub.subscribe(self._check_result)
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
        st = STATION_CLASSES[ws.subprotocol](station_id, ws, self, ws.subprotocol)
        st.diag  # its StationDiagnostics, now in diag_states
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

    def diagnostics(self, station_id):
        """The ocppdiag.StationDiagnostics of a station (known once it has connected)."""
        return self.diag_states[station_id]

    def _check_result(self, ev):
        # A strict peer: a result whose checksum does not verify is the station's bug.
        if ev.kind == RESULT and not ev.data.verified:
            self._violation(ev.station, "NotifyDiagnosticsResult", None,
                            "result %s: checksum does not verify" % ev.data.result_id,
                            str(ev.data.payload))

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
