"""What stations send, recorded: connections, boots, catalogs, run progress, results.

Every hook gets the station id its connection authenticated as.  A station may only
report on runs requested of it: a status or result naming another station's run is
refused with CALLERROR SecurityError and recorded as a security event.
"""
import asyncio
import hashlib
import itertools
import json
import logging
import time

from . import station_events
from .stations import CallErrorReply
from .uploads import Uploads

LOG = logging.getLogger("console.inbound")
TERMINAL = ("done", "cancelled", "rejected", "unreachable")
_CONTACT_EVERY = 5.0  # s: last_contact is written at most this often per station
_CATALOG_WAIT = 30.0
_REFUSED_EVERY = 10.0  # s
_MAX_TESTS = 500  # descriptors in one catalog (the agent offers 14)


def checksum_ok(result):
    """SPEC section 11: SHA-256 of the result without `checksum`, keys sorted, no spaces."""
    body = {k: v for k, v in result.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest() == result.get("checksum")


def verdict_of(verdicts):
    return "Passed" if verdicts and all(v == "Passed" for v in verdicts) else "Failed"


class Inbound:
    def __init__(self, store, bus):
        self.store, self.bus = store, bus
        self.endpoint = None          # set by the app once the endpoint exists
        self._contact = {}
        self._knocks = {}             # claimed station id -> last refused event
        self._fetching = {}           # station -> the catalog fetch under way
        self._parts = {}              # (station, requestId) -> [parts]
        self._waiting = {}            # (station, requestId) -> future of the catalog
        self._req_ids = itertools.count(1)
        self._tasks = set()
        self.uploads = Uploads(store.engine)  # GetLog requests, uploads (api_station.py)
        self.limiter = station_events.Limiter()

    # -- connection hooks (called by stations.Endpoint) --

    def password_hash(self, sid):
        row = self.store.station(sid)
        return row["password_hash"] if row else None

    def refused(self, sid, why):
        # Anyone can knock: at most one stored event per claimed id per interval, and a
        # bounded table of who knocked, so a flood cannot grow the database.
        now = time.monotonic()
        if now - self._knocks.get(sid, -_REFUSED_EVERY) < _REFUSED_EVERY:
            return
        if len(self._knocks) > 10000:
            self._knocks.clear()
        self._knocks[sid] = now
        self.bus.publish("station.refused", None, reason=why, claimed=sid[:48])

    def connected(self, sid, subprotocol):
        self.store.update_station(sid, connected=True, last_contact=time.time())
        self.bus.publish("station.connected", sid, subprotocol=subprotocol)

    def disconnected(self, sid, code):
        self.store.update_station(sid, connected=False, last_contact=time.time())
        self.bus.publish("station.disconnected", sid, code=code)

    def contact(self, sid):
        now = time.monotonic()
        if now - self._contact.get(sid, 0) >= _CONTACT_EVERY:
            self._contact[sid] = now
            self.store.update_station(sid, last_contact=time.time())

    def booted(self, sid, payload):
        cs = payload.get("chargingStation") or {}
        self.store.update_station(sid, boot={k: cs.get(k) for k in (
            "vendorName", "model", "serialNumber", "firmwareVersion") if k in cs})
        self.bus.publish("station.booted", sid, reason=payload.get("reason"))
        self.spawn(self._catalog_after_boot(sid))

    def violation(self, sid, action, error):
        self.bus.publish("station.violation", sid, action=action, error=error[:300])

    # -- catalogs --

    async def _catalog_after_boot(self, sid):
        # After our BootNotification answer is on the wire: a CSMS must not send
        # requests before it has accepted the station.
        await asyncio.sleep(0.2)
        try:
            await self.fetch_catalog(sid)
        except Exception as e:  # the station may be gone again: keep the stored one
            LOG.info("catalog of %s not fetched: %r", sid, e)

    async def fetch_catalog(self, sid):
        """GetDiagnosticsCatalog and the parts that follow -> the stored catalog row.
        Callers asking while a fetch is under way share it (a fleet run right after a
        boot would otherwise send a second request the station may refuse as Busy)."""
        task = self._fetching.get(sid)
        if task is None:
            task = self._fetching[sid] = asyncio.ensure_future(self._fetch_catalog(sid))
            task.add_done_callback(lambda t: self._fetching.pop(sid, None))
        return await asyncio.shield(task)

    async def _fetch_catalog(self, sid):
        req = next(self._req_ids)
        key = (sid, req)
        fut = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            res = await self.endpoint.call(sid, "GetDiagnosticsCatalog", {"requestId": req})
            if res["status"] == "EmptyResultSet":
                self.store.save_catalog(sid, [], None)
            elif res["status"] != "Accepted":
                raise CallErrorReply("Rejected", (res.get("statusInfo") or {}).get("reasonCode", ""))
            else:
                await asyncio.wait_for(fut, _CATALOG_WAIT)
        finally:
            self._waiting.pop(key, None)
            self._parts.pop(key, None)
        row = self.store.catalog(sid)
        self.bus.publish("catalog", sid, version=row["catalog_version"], tests=len(row["tests"]))
        return row

    def _catalog_part(self, sid, p):
        key = (sid, p["requestId"])
        if key not in self._waiting:
            return  # not asked for (or given up on): acknowledged, not stored
        parts = self._parts.setdefault(key, [])
        parts.append(p)
        if sum(len(x["test"]) for x in parts) > _MAX_TESTS:
            # A catalog that never ends: keep the stored one, stop collecting.
            self._waiting[key].set_exception(ValueError("catalog over %d tests" % _MAX_TESTS))
            del self._waiting[key]
            self._parts.pop(key, None)
            return
        if not p.get("tbc"):
            tests = [t for part in sorted(parts, key=lambda x: x["seqNo"]) for t in part["test"]]
            version = p.get("catalogVersion")
            # The column is 50 wide (PostgreSQL enforces it); a station's text is input.
            self.store.save_catalog(sid, tests, version[:50] if isinstance(version, str) else None)
            if not self._waiting[key].done():
                self._waiting[key].set_result(True)

    # -- notifications --

    async def notification(self, sid, action, p):
        if action == "NotifyDiagnosticsCatalog":
            self._catalog_part(sid, p)
        elif action == "NotifyDiagnosticsStatus":
            self._status(sid, p)
        elif action == "NotifyDiagnosticsResult":
            self._result(sid, p["result"])
        elif action == "NotifyEvent":
            station_events.notify_event(self.bus, self.limiter, sid, p)
        elif action == "SecurityEventNotification":
            station_events.security_event(self.bus, self.limiter, sid, p)
        elif action == "LogStatusNotification":
            station_events.log_status(self.bus, self.limiter, self.uploads, sid, p)
        return {}

    def _own_run(self, sid, request_id, what):
        run = self.store.run(request_id) if request_id is not None else None
        if run is not None and run["station_id"] != sid:
            self.bus.publish("security.cross-station", sid, what=what, requestId=request_id)
            raise CallErrorReply("SecurityError", "requestId %d is not a request to station %s"
                                 % (request_id, sid))
        return run

    def _status(self, sid, p):
        run = self._own_run(sid, p["requestId"], "NotifyDiagnosticsStatus")
        if run is None:
            return
        status = p["status"]
        if status == "Cancelled":
            new = "cancelled"
        elif run["status"] in TERMINAL:
            new = run["status"]
        elif status == "Accepted":  # accepted, waiting to start
            new = "accepted" if run["status"] == "requested" else run["status"]
        elif status == "Finished" and run["completed"] >= run["total"]:
            new = "done"
        else:
            new = "running"  # Finished with results still on their way stays running
        self.store.update_run(run["id"], status=new)
        self.bus.publish("run.status", sid, run["id"], status=new, stationStatus=status,
                         testId=p.get("testId"), completed=p.get("completed"), total=p.get("total"))

    def _result(self, sid, r):
        run = self._own_run(sid, r.get("requestId"), "NotifyDiagnosticsResult")
        if run is not None and r["testId"] not in [t["testId"] for t in run["tests"]]:
            run = None  # a requestId from before this console's database: keep, unattached
        ok = checksum_ok(r)
        row = self.store.add_result(sid, r, ok, run and run["id"])
        if row is None:
            return  # a repeat of a result we hold: acknowledged, dropped (SPEC 5)
        if r.get("healthStatus"):
            self.store.add_health(sid, r["healthStatus"], row)
        self.bus.publish("result", sid, run and run["id"], resultId=r["resultId"],
                         testId=r["testId"], verdict=r["verdict"], checksumOk=ok,
                         healthStatus=r.get("healthStatus"))
        if run is not None:
            self._progress(run)

    def _progress(self, run):
        rows = self.store.results(run_id=run["id"], limit=run["total"] + 1)
        values = {"completed": len(rows)}
        if len(rows) >= run["total"]:
            values["verdict"] = verdict_of([r["verdict"] for r in rows])
            if run["status"] != "cancelled":
                values["status"] = "done"
        self.store.update_run(run["id"], **values)
        if "verdict" in values:
            self.bus.publish("run.done", run["station_id"], run["id"], verdict=values["verdict"],
                             status=values.get("status", run["status"]))

    # -- housekeeping --

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel_all(self):
        for t in list(self._tasks) + list(self._fetching.values()):
            t.cancel()
