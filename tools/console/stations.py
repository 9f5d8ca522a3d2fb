"""The OCPP endpoint where stations connect: the one place that knows the CSMS
implementation underneath (today tools/csms.py; the `ocppdiag` library later).

It authenticates each station (HTTP Basic, the station id from the URL path and the
password checked against the stored scrypt hash), keeps no per-message records
(a console runs for months), and hands what stations send to `hooks`
(console.inbound.Inbound): connect, boot, disconnect, and the diagnostics
notifications, natively or in DataTransfer.  The station id every hook receives is
the one its connection authenticated as, never one taken from a payload.
"""
import asyncio
import collections
import http
import logging
import os
import sys

from websockets.headers import parse_authorization_basic

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import csms as _csms  # noqa: E402  (tools/csms.py; becomes ocppdiag)

from . import auth  # noqa: E402

LOG = logging.getLogger("console.stations")
CallErrorReply = _csms.CallErrorReply
DIAG_VENDOR = "org.openchargealliance.diagnostics"
NOTIFICATIONS = ("NotifyDiagnosticsCatalog", "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult")
# Standard messages the console records as events (station_events.py); native only.
STATION_EVENTS = ("NotifyEvent", "SecurityEventNotification", "LogStatusNotification")

_csms.register_diagnostics_schemas()


class _Csms(_csms.Csms):
    """tools/csms.py's Csms, with stored hashed passwords and no record keeping."""

    def __init__(self, hooks, **kw):
        super().__init__(generic_replies=True, **kw)
        self.hooks = hooks
        self.cache = auth.PasswordCache()
        # Bounded: the reference CSMS keeps every failure for the tests to assert on.
        self.violations = collections.deque(maxlen=100)
        self.errors = collections.deque(maxlen=100)
        self._checks = set()

    async def _check_request(self, connection, request):
        sid = self._station_id(request.path)
        if not sid or len(sid) > 48:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No station id in path\n")
        try:
            user, password = parse_authorization_basic(request.headers["Authorization"])
        except Exception:  # missing or malformed header
            user = password = None
        stored = self.hooks.password_hash(sid)
        ok = user == sid and stored is not None and password is not None
        if ok and not self.cache.known(sid, stored, password):
            ok = await auth.verify_secret_async(password, stored)
            if ok:
                self.cache.remember(sid, stored, password)
        if not ok:
            self.hooks.refused(sid, "unknown station" if stored is None else "bad credentials")
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        # Kept on the connection it opens: a later check (Endpoint.stale) tells whether
        # that credential still holds, also in a process that did not change it.
        connection.console_hash = stored
        return None

    def _record(self, station, type, action=None, id=None, payload=None, **extra):
        try:
            if type == "CONNECT":
                self.hooks.connected(station, extra.get("subprotocol"))
                task = asyncio.ensure_future(self._still_valid(station))
                self._checks.add(task)
                task.add_done_callback(self._checks.discard)
            elif type == "DISCONNECT":
                # A reconnect replaces the old session before the old one ends.
                if station not in self.stations:
                    self.hooks.disconnected(station, extra.get("code"))
            elif type in ("CALL", "CALLRESULT", "CALLERROR", "SEND"):
                self.hooks.contact(station)
                if type == "CALL" and action == "BootNotification" and isinstance(payload, dict):
                    self.hooks.booted(station, payload)
        except Exception:  # a hook's bug must not end the station's session
            LOG.exception("hook failed for %s %s", type, station)
        return None

    def stale(self, sid, stored):
        """Whether `sid` has a live connection that did not authenticate with the hash
        `stored` (the database's now; None: the station is gone)."""
        st = self.stations.get(sid)
        return st is not None and (stored is None
                                   or getattr(st.ws, "console_hash", None) != stored)

    async def _still_valid(self, sid):
        # Runs once the new connection is registered (CONNECT is recorded just before).
        # A password changed or a station removed while this handshake was being
        # checked found no connection to close: the check is made again here.
        try:
            if self.stale(sid, self.hooks.password_hash(sid)):
                LOG.warning("credential of %s changed during its handshake: closed", sid)
                await self.drop(sid, 1008)
        except Exception as e:  # closing slowly, or the database is restarting
            LOG.warning("credential check of %s failed: %r", sid, e)

    def _violation(self, station, action, msg_id, error, raw):
        LOG.info("violation by %s: %s", station, error)
        self.violations.append((station, action, error))
        try:
            self.hooks.violation(station, action, error)
        except Exception:
            LOG.exception("violation hook failed")


class Endpoint:
    def __init__(self, hooks, host="127.0.0.1", port=0, ssl=None, call_timeout=10):
        self.hooks = hooks
        self.csms = _Csms(hooks, host=host, port=port, ssl=ssl, call_timeout=call_timeout)
        for action in NOTIFICATIONS + STATION_EVENTS:
            self.csms.add_handler(action, self._native(action))
        self.csms.add_handler("DataTransfer", self._data_transfer)

    @property
    def url(self):
        return self.csms.url

    async def start(self):
        await self.csms.start()
        return self

    async def stop(self):
        await self.csms.stop()

    def is_connected(self, sid):
        return sid in self.csms.stations

    def connected(self):
        return set(self.csms.stations)

    def forget_password(self, sid):
        self.csms.cache.forget(sid)

    async def call(self, sid, action, payload, timeout=10):
        """-> the station's validated response; raises ConnectionError (not connected),
        TimeoutError, CallErrorReply."""
        return await self.csms.call(sid, action, payload, timeout)

    async def disconnect(self, sid):
        """Close the station's connection with 1008 (policy violation) -> whether one
        was live here."""
        st = self.csms.stations.get(sid)
        if st is None:
            return False
        try:
            await self.csms.drop(sid, 1008)
        except ConnectionError:  # ended by itself meanwhile
            pass
        except TimeoutError:  # closed on our side; the session's end is still being recorded
            LOG.warning("connection of %s closed, its end not yet recorded", sid)
        return True

    def stale(self, sid, stored):
        """Whether `sid` has a live connection here that did not authenticate with the
        hash `stored` (the database's now; None: the station is gone).  A password
        changed or a station removed through another console process is found so."""
        return self.csms.stale(sid, stored)

    def _native(self, action):
        async def handle(sid, payload):
            return await self.hooks.notification(sid, action, payload)
        return handle

    async def _data_transfer(self, sid, payload):
        if payload.get("vendorId") != DIAG_VENDOR:
            return {"status": "UnknownVendorId"}
        action, data = payload.get("messageId"), payload.get("data")
        if action not in NOTIFICATIONS:
            return {"status": "UnknownMessageId"}
        validator = _csms.messages._validators.get("%sRequest_2.1" % action)
        error = next(iter(validator.iter_errors(data)), None) if validator else None
        if error is not None:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "InvalidPayload", "additionalInfo": ("FormatViolation: %s"
                                                                  % error.message)[:1024]}}
        try:
            reply = await self.hooks.notification(sid, action, data)
        except CallErrorReply as e:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": e.code[:20], "additionalInfo": e.description[:1024]}}
        return {"status": "Accepted", "data": reply}
