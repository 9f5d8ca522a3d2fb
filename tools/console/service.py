"""The console's operations, shared by the HTTP API (and through it the CLI and the
web page) and the MCP server: plain Python, every call made by an `auth.Actor` and
checked against its role here, so no front end can forget a check.

Roles: read (list, view), run (start/cancel non-intrusive tests on one station),
run-intrusive (intrusive tests, fleet-wide runs and schedules), admin (stations,
passwords, tokens).  Each role includes the ones before it.
"""
import asyncio
import re

from . import auth, params, views
from .auth import require
from .stations import CallErrorReply

_STATION_ID = re.compile(r"[^/\s?#%]{1,48}")  # one URL path segment, as stations connect
_CALL_TIMEOUT = 15


class ServiceError(Exception):
    status = 400

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422


class Unreachable(ServiceError):
    status = 503


class Console:
    cluster = None  # cluster.Cluster when several processes share a PostgreSQL database

    def __init__(self, store, bus, inbound, endpoint):
        self.store, self.bus, self.inbound, self.endpoint = store, bus, inbound, endpoint

    # -- stations --

    def _station(self, sid):
        row = self.store.station(sid) if isinstance(sid, str) else None
        if row is None:
            raise NotFound("no station %r" % (sid,), station=sid)
        return row

    def stations(self, actor):
        require(actor, "read", "listing stations")
        live, cats = self.endpoint.connected(), self.store.catalog_meta()
        return [views.station(r, r["id"] in live, cats.get(r["id"])) for r in self.store.stations()]

    def station(self, actor, sid):
        require(actor, "read", "viewing a station")
        row = self._station(sid)
        out = views.station(row, self.endpoint.is_connected(sid), self.store.catalog(sid))
        out["runs"] = [views.run(r) for r in self.store.runs(station=sid, limit=10)]
        return out

    async def add_station(self, actor, sid, password):
        require(actor, "admin", "adding a station")
        if not isinstance(sid, str) or not _STATION_ID.fullmatch(sid):
            raise Invalid("station id: 1..48 characters, no '/', '%', '?', '#' or spaces",
                          field="id")
        if not self.store.add_station(sid, await _hash(password)):
            raise Conflict("station %s exists" % sid, station=sid)
        self.bus.publish("station.added", sid, by=actor.name)
        return self.station(actor, sid)

    async def set_password(self, actor, sid, password):
        require(actor, "admin", "changing a station password")
        self._station(sid)
        self.store.update_station(sid, password_hash=await _hash(password))
        self.endpoint.forget_password(sid)
        # The live connection authenticated with the old password: trusting it on would
        # leave a leaked password in use.  The station reconnects with the new one.
        dropped = await self._drop(sid)
        self.bus.publish("station.password", sid, by=actor.name, disconnected=dropped)
        return {"station": sid, "changed": True, "disconnected": dropped}

    async def remove_station(self, actor, sid):
        require(actor, "admin", "removing a station")
        self._station(sid)
        self.store.update_station(sid, password_hash=None)
        self.endpoint.forget_password(sid)
        dropped = await self._drop(sid)
        self.store.delete_station(sid)
        self.bus.publish("station.removed", sid, by=actor.name, disconnected=dropped)
        return {"station": sid, "removed": True, "disconnected": dropped}

    async def _drop(self, sid):
        """Close the station's connection (1008), held here or by another console
        process -> whether a live connection was seen to close.  Called once the new
        credential is stored: the holder compares it with the one its connection used."""
        if await self.endpoint.disconnect(sid):
            return True
        if self.cluster is not None and self.cluster.elsewhere(sid):
            return await self.cluster.drop_elsewhere(sid)
        return False

    def health(self, actor, sid):
        require(actor, "read", "viewing health history")
        self._station(sid)
        return [views.health(r) for r in self.store.health(sid)]

    # -- catalogs --

    async def catalog(self, actor, sid, refresh=False):
        require(actor, "read", "reading a catalog")
        return views.catalog(sid, await self._catalog_row(sid, refresh))

    async def _catalog_row(self, sid, refresh=False):
        self._station(sid)
        row = None if refresh else self.store.catalog(sid)
        if row is None:
            if not self.endpoint.is_connected(sid):
                raise Unreachable("station %s is not connected and no catalog is stored" % sid,
                                  station=sid)
            fetch = self.inbound.fetch_catalog
            if self.cluster is not None and self.cluster.elsewhere(sid):
                fetch = self.cluster.fetch_catalog  # asked of the process holding it
            try:
                row = await fetch(sid)
            except (ConnectionError, TimeoutError, asyncio.TimeoutError, CallErrorReply,
                    ValueError) as e:
                raise Unreachable("catalog of %s not received: %s" % (sid, e), station=sid)
        return row

    # -- runs --

    async def start_run(self, actor, sid, tests, stop_on_failure=False, fleet_id=None):
        """Check, record, send StartDiagnostics -> the run; its id is the requestId."""
        require(actor, "run", "starting a run")
        cat = await self._catalog_row(sid)
        try:
            test_list = params.check_tests(cat["tests"], tests)
        except params.ParameterError as e:
            raise Invalid(str(e), **e.details)
        if params.is_intrusive(cat["tests"], test_list):
            require(actor, "run-intrusive", "an intrusive test")
        run_id = self.store.add_run(sid, actor.name[:100], test_list, stop_on_failure, fleet_id)
        self.bus.publish("run.requested", sid, run_id, requestor=actor.name, tests=test_list)
        if self.cluster is not None and self.cluster.elsewhere(sid):
            self.cluster.dispatch_run(run_id)  # the process holding the station sends it
            return views.run(self.store.run(run_id))
        return await self._send_run(sid, run_id, actor.name, test_list, stop_on_failure)

    async def _send_run(self, sid, run_id, requestor, tests, stop_on_failure):
        req = {"requestId": run_id, "requestor": requestor[:100], "test": tests}
        if stop_on_failure:
            req["stopOnFailure"] = True
        status, info = "accepted", None
        try:
            res = await self.endpoint.call(sid, "StartDiagnostics", req, _CALL_TIMEOUT)
            if res["status"] != "Accepted":
                status, info = "rejected", res.get("statusInfo") or {"reasonCode": res["status"]}
        except (ConnectionError, TimeoutError, asyncio.TimeoutError) as e:
            status, info = "unreachable", {"reasonCode": "Unreachable", "additionalInfo": str(e)}
        except CallErrorReply as e:
            status, info = "rejected", {"reasonCode": e.code, "additionalInfo": e.description}
        run = self.store.run(run_id)
        if run["status"] == "requested" or status != "accepted":  # progress may be ahead
            self.store.update_run(run_id, status=status, status_info=info)
            self.bus.publish("run.status", sid, run_id, status=status, statusInfo=info)
        return views.run(self.store.run(run_id))

    async def cancel_run(self, actor, run_id, station=None):
        require(actor, "run", "cancelling a run")
        run = self._run(run_id, station)
        if run["status"] not in ("requested", "accepted", "running"):
            raise Conflict("run %d is %s" % (run_id, run["status"]), run=run_id)
        if self.cluster is not None and self.cluster.elsewhere(run["station_id"]):
            self.cluster.dispatch_cancel(run_id, actor.name)  # its outcome comes as events
            return views.run(run)
        try:
            res = await self.endpoint.call(run["station_id"], "CancelDiagnostics",
                                           {"requestId": run_id}, _CALL_TIMEOUT)
        except (ConnectionError, TimeoutError, asyncio.TimeoutError) as e:
            raise Unreachable("station %s: %s" % (run["station_id"], e), run=run_id)
        except CallErrorReply as e:
            raise Conflict("station refused: %s %s" % (e.code, e.description), run=run_id)
        if res["status"] != "Accepted":
            raise Conflict("station refused to cancel: %s" % (
                (res.get("statusInfo") or {}).get("reasonCode", res["status"])), run=run_id)
        if self.store.run(run_id)["status"] not in ("cancelled", "done"):
            self.store.update_run(run_id, status="cancelling")
        self.bus.publish("run.cancel", run["station_id"], run_id, by=actor.name)
        return views.run(self.store.run(run_id))

    def _run(self, run_id, station=None):
        run = self.store.run(run_id) if isinstance(run_id, int) else None
        if run is None or (station is not None and run["station_id"] != station):
            raise NotFound("no run %s%s" % (run_id, " for station %s" % station if station else ""),
                           run=run_id)
        return run

    def run(self, actor, run_id):
        require(actor, "read", "viewing a run")
        return views.run(self._run(run_id), self.store.results(run_id=run_id))

    def runs(self, actor, station=None, active=None, limit=100):
        require(actor, "read", "listing runs")
        if station is not None:
            self._station(station)
        return [views.run(r) for r in self.store.runs(station=station, active=active, limit=limit)]

    def results(self, actor, station=None, test=None, verdict=None, since=None, limit=200):
        require(actor, "read", "reading results")
        return [views.result(r) for r in self.store.results(station, test, verdict, since,
                                                            limit=min(max(limit, 1), 1000))]

    # -- fleet runs --

    async def fleet_run(self, actor, tests, stations=None, stop_on_failure=False):
        """The same tests on every (or each listed) station, at once."""
        require(actor, "run-intrusive", "a fleet-wide run")
        try:
            params.check_shape(tests)
        except params.ParameterError as e:
            raise Invalid(str(e), **e.details)
        rows = self.store.stations(stations)
        if stations is not None and len(rows) != len(set(stations)):
            missing = sorted(set(stations) - {r["id"] for r in rows})
            raise NotFound("no station %s" % ", ".join(missing), stations=missing)
        fleet_id = self.store.add_fleet(actor.name[:100], tests)
        self.bus.publish("fleet.requested", None, None, fleet=fleet_id, stations=len(rows))
        await asyncio.gather(*(self._fleet_one(actor, r["id"], tests, stop_on_failure, fleet_id)
                               for r in rows))
        return self.fleet(actor, fleet_id)

    async def _fleet_one(self, actor, sid, tests, stop_on_failure, fleet_id):
        try:
            await self.start_run(actor, sid, tests, stop_on_failure, fleet_id)
        except ServiceError as e:
            # Not connected and no catalog, or a parameter this station's catalog refuses.
            run_id = self.store.add_run(sid, actor.name[:100],
                                        [{"testId": t.get("testId")} for t in tests],
                                        stop_on_failure, fleet_id)
            status = "unreachable" if isinstance(e, Unreachable) else "rejected"
            self.store.update_run(run_id, status=status,
                                  status_info={"reasonCode": type(e).__name__,
                                               "additionalInfo": str(e)[:500]})

    def fleet(self, actor, fleet_id):
        require(actor, "read", "viewing a fleet run")
        row = self.store.fleet(fleet_id) if isinstance(fleet_id, int) else None
        if row is None:
            raise NotFound("no fleet run %s" % fleet_id, fleet=fleet_id)
        return views.fleet(row, self.store.runs(fleet_id=fleet_id, limit=100000))

    # -- events --

    def events(self, actor, after=0, station=None, run_id=None, limit=500):
        require(actor, "read", "reading events")
        return [views.event(e) for e in self.store.events(after, station, run_id, limit)]

    def subscribe(self, actor, station=None, run_id=None):
        require(actor, "read", "following events")
        return self.bus.subscribe(station, run_id)

    # -- tokens --

    def add_token(self, actor, name, role):
        require(actor, "admin", "adding a token")
        if role not in auth.ROLES:
            raise Invalid("role: one of %s" % ", ".join(auth.ROLES), field="role")
        if not isinstance(name, str) or not 1 <= len(name) <= 100 or not name.isprintable():
            raise Invalid("name: 1..100 printable characters", field="name")
        token, digest = auth.new_token()
        if not self.store.add_token(name, role, digest, actor.name):
            raise Conflict("token %s exists" % name, name=name)
        self.bus.publish("token.added", None, name=name, role=role, by=actor.name)
        return {"name": name, "role": role, "token": token}

    def tokens(self, actor):
        require(actor, "admin", "listing tokens")
        return [views.token(r) for r in self.store.tokens()]

    def remove_token(self, actor, name):
        require(actor, "admin", "removing a token")
        if not self.store.delete_token(name):
            raise NotFound("no token %s" % name, name=name)
        self.bus.publish("token.removed", None, name=name, by=actor.name)
        return {"name": name, "removed": True}

    def authenticate(self, token):
        """Bearer token -> Actor, or None."""
        row = self.store.token_by_digest(auth.token_digest(token)) if token else None
        return auth.Actor(row["name"], row["role"]) if row else None


async def _hash(pw):
    # scrypt costs ~50 ms of CPU: off the loop, so stations and the API keep being served.
    return await auth.hash_secret_async(_password(pw))


def _password(pw):
    # OCPP's BasicAuthPassword is 16..40 characters (what a station can store).
    if not isinstance(pw, str) or not 16 <= len(pw) <= 40 or not pw.isprintable():
        raise Invalid("password: 16..40 printable characters", field="password")
    return pw
