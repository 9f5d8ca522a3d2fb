"""Several console processes on one PostgreSQL database.

A station's OCPP connection lands on any process; operators may ask any process.
What a process must know of the others goes through the database only:
- `consoles`: one row per live process, its heartbeat in `seen_at` (the database's
  clock, so processes on several machines agree).  A process not seen for DEAD_AFTER
  is reaped by whichever process notices: its stations stop being "held".
- `station_holders`: which process holds which station's connection.
- LISTEN/NOTIFY: `console_runs` tells the holder "run N (stored) is yours to send",
  "cancel run N", "fetch the catalog of S" or "drop S" (its password changed or it was
  removed); `console_events` hands every event to the other processes' event
  streams.  NOTIFY is the fast path; the rows are the record: a run nobody picks up
  is marked unreachable after PICKUP_WAIT by the process that stored it, and each
  heartbeat closes a held connection whose stored credential changed or went.

With SQLite (one process) none of this runs: Parts builds a Cluster only for PostgreSQL.
"""
import asyncio
import json
import logging
import os
import socket
import time
import uuid

from sqlalchemy import Float, delete, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from . import db
from .cluster_db import consoles, holders

LOG = logging.getLogger("console.cluster")
EVENTS, RUNS = "console_events", "console_runs"
HEARTBEAT = 5.0      # s between heartbeats (and reaps)
DEAD_AFTER = 20.0    # s without a heartbeat: the process is gone
PICKUP_WAIT = 40.0   # s for the holder to answer a dispatched run (the call timeout is 15)
DROP_WAIT = 15.0     # s for the holder to close a connection whose credential changed
_NOTIFY_MAX = 7900   # NOTIFY payloads stop at 8000 bytes: bigger events go by id
_NOW = literal_column("extract(epoch from clock_timestamp())", Float)


def wanted(store):
    return store.engine.dialect.name == "postgresql"


def conninfo(engine):
    """The SQLAlchemy URL as libpq takes it (for the LISTEN connection)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class ClusterEndpoint:
    """The OCPP endpoint as the service sees it: a station held by another live
    process counts as connected; calls still go to this process's connections."""

    def __init__(self, endpoint, cluster):
        self._endpoint, self._cluster = endpoint, cluster

    def __getattr__(self, name):
        return getattr(self._endpoint, name)

    def is_connected(self, sid):
        return self._endpoint.is_connected(sid) or self._cluster.elsewhere(sid)

    def connected(self):
        return self._endpoint.connected() | self._cluster.held_elsewhere()


class Cluster:
    def __init__(self, store, bus, endpoint):
        self.store, self.bus, self.endpoint = store, bus, endpoint  # endpoint: the local one
        self.console = None      # service.Console, set by Parts
        self.id = str(uuid.uuid4())
        self.listening = asyncio.Event()
        self._tasks = set()
        self._stale = set()      # stations whose connection the last heartbeat found stale

    # -- life --

    async def start(self):
        with self.store.engine.begin() as c:
            c.execute(pg_insert(consoles).values(
                id=self.id, host=socket.gethostname()[:255], pid=os.getpid(),
                started_at=_NOW, seen_at=_NOW))
        self.reap()
        self.bus.listeners.append(self._published)
        self._spawn(self._heartbeat())
        self._spawn(self._listen())
        # Stations may connect once we hear what the others ask of us.
        await asyncio.wait_for(self.listening.wait(), 30)

    async def stop(self):
        if self._published in self.bus.listeners:
            self.bus.listeners.remove(self._published)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with self.store.engine.begin() as c:
            self._release_all(c, self.id)
            c.execute(delete(consoles).where(consoles.c.id == self.id))

    # -- who holds which station --

    def _live(self):
        return select(consoles.c.id).where(consoles.c.seen_at >= _NOW - DEAD_AFTER)

    def holder(self, sid):
        """-> id of the live process holding `sid`, or None."""
        with self.store.engine.connect() as c:
            return c.execute(select(holders.c.console_id).where(
                holders.c.station_id == sid, holders.c.console_id.in_(self._live()))).scalar()

    def elsewhere(self, sid):
        if self.endpoint.is_connected(sid):
            return False
        h = self.holder(sid)
        return h is not None and h != self.id

    def held_elsewhere(self):
        with self.store.engine.connect() as c:
            return {r[0] for r in c.execute(select(holders.c.station_id).where(
                holders.c.console_id != self.id, holders.c.console_id.in_(self._live())))}

    def _hold(self, sid):
        with self.store.engine.begin() as c:
            ins = pg_insert(holders).values(station_id=sid, console_id=self.id, since=_NOW)
            c.execute(ins.on_conflict_do_update(index_elements=["station_id"], set_={
                "console_id": self.id, "since": _NOW}))
            c.execute(update(db.stations).where(db.stations.c.id == sid).values(connected=True))

    def _release(self, sid):
        with self.store.engine.begin() as c:
            c.execute(delete(holders).where(holders.c.station_id == sid,
                                            holders.c.console_id == self.id))
            # A reconnect may have landed on another process before this one saw the
            # old connection end: the station is still connected there.
            if c.execute(select(holders.c.console_id).where(holders.c.station_id == sid)).first():
                c.execute(update(db.stations).where(db.stations.c.id == sid).values(connected=True))

    def _release_all(self, c, console_id):
        gone = [r[0] for r in c.execute(select(holders.c.station_id).where(
            holders.c.console_id == console_id))]
        c.execute(delete(holders).where(holders.c.console_id == console_id))
        if gone:
            c.execute(update(db.stations).where(db.stations.c.id.in_(gone)).values(connected=False))
        return gone

    def reap(self):
        """Processes not seen for DEAD_AFTER: their stations are no longer held, and
        runs recorded for stations nobody holds that were never sent are marked."""
        with self.store.engine.begin() as c:
            dead = [r[0] for r in c.execute(select(consoles.c.id).where(
                consoles.c.seen_at < _NOW - DEAD_AFTER))]
            for cid in dead:
                gone = self._release_all(c, cid)
                c.execute(delete(consoles).where(consoles.c.id == cid))
                LOG.warning("console %s not seen for %ds: %d stations released", cid,
                            DEAD_AFTER, len(gone))
            # Marked connected but held by nobody: left so by a console that stopped.
            c.execute(update(db.stations).where(
                db.stations.c.connected.is_(True),
                db.stations.c.id.not_in(select(holders.c.station_id))).values(connected=False))
            orphans = c.execute(update(db.runs).where(
                db.runs.c.status == "requested",
                db.runs.c.updated_at < time.time() - PICKUP_WAIT,
                db.runs.c.station_id.not_in(select(holders.c.station_id))).values(
                status="unreachable", updated_at=time.time(),
                status_info={"reasonCode": "ConsoleRestarted",
                             "additionalInfo": "the console holding the station stopped"})).rowcount
        return dead, orphans

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                with self.store.engine.begin() as c:
                    seen = c.execute(update(consoles).where(consoles.c.id == self.id)
                                     .values(seen_at=_NOW)).rowcount
                    if not seen:
                        # Reaped while stalled: come back, with the stations still ours.
                        LOG.warning("this console was reaped; registering again")
                        c.execute(pg_insert(consoles).values(
                            id=self.id, host=socket.gethostname()[:255], pid=os.getpid(),
                            started_at=_NOW, seen_at=_NOW))
                if not seen:
                    for sid in self.endpoint.connected():
                        self._hold(sid)
                self.reap()
                await self._recheck(self.endpoint.connected(), "heartbeat")
            except Exception:  # the database may be restarting: try again next beat
                LOG.exception("heartbeat failed")

    # -- what goes to the other processes --

    def _published(self, ev):
        """EventBus listener: every local event, as it is stored."""
        if ev["kind"] == "station.connected" and ev["station_id"]:
            self._hold(ev["station_id"])
        elif ev["kind"] == "station.disconnected" and ev["station_id"]:
            self._release(ev["station_id"])
        msg = json.dumps({"o": self.id, "e": ev}, separators=(",", ":"), ensure_ascii=False)
        if len(msg.encode()) > _NOTIFY_MAX:
            msg = json.dumps({"o": self.id, "id": ev["id"]})
        self._notify(EVENTS, msg)

    def _notify(self, channel, payload):
        with self.store.engine.begin() as c:
            c.execute(text("SELECT pg_notify(:ch, :p)"), {"ch": channel, "p": payload})

    def dispatch_run(self, run_id):
        """A stored run for a station another process holds: that process sends it."""
        self._notify(RUNS, json.dumps({"op": "run", "run": run_id, "o": self.id}))
        self._spawn(self._watch_pickup(run_id))

    def dispatch_cancel(self, run_id, by):
        self._notify(RUNS, json.dumps({"op": "cancel", "run": run_id, "by": by, "o": self.id},
                                      ensure_ascii=False))

    async def fetch_catalog(self, sid):
        """GetDiagnosticsCatalog by the process holding `sid` -> the stored catalog row.
        Raises TimeoutError, or ConnectionError when that process could not get it."""
        sub = self.bus.subscribe(sid)  # before asking: the answer cannot be missed
        try:
            self._notify(RUNS, json.dumps({"op": "catalog", "station": sid, "o": self.id},
                                          ensure_ascii=False))
            while True:
                ev = await asyncio.wait_for(sub.queue.get(), PICKUP_WAIT)
                if ev is None or sub.lost:
                    raise ConnectionError("console stopping")
                if ev["kind"] == "catalog":
                    return self.store.catalog(sid)
                if ev["kind"] == "catalog.failed":
                    raise ConnectionError((ev["data"] or {}).get("error", "catalog not received"))
        finally:
            sub.close()

    async def drop_elsewhere(self, sid):
        """Ask the process holding `sid` to check its connection against the stored
        credential (op "drop"; call it once the new one is stored) -> whether the
        connection was seen to close within DROP_WAIT.  If not, the holder's heartbeat
        check closes it."""
        sub = self.bus.subscribe(sid)  # before asking: the answer cannot be missed
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DROP_WAIT
        try:
            self._notify(RUNS, json.dumps({"op": "drop", "station": sid, "o": self.id},
                                          ensure_ascii=False))
            while True:
                ev = await asyncio.wait_for(sub.queue.get(), max(0.0, deadline - loop.time()))
                if ev is None or sub.lost:
                    return False
                if ev["kind"] == "station.disconnected":
                    return True
        except (TimeoutError, asyncio.TimeoutError):
            LOG.warning("connection of %s not seen to close within %ds", sid, DROP_WAIT)
            return False
        finally:
            sub.close()

    async def _recheck(self, sids, found):
        """Connections held here whose station's credential changed or went: closed,
        and a "station.dropped" event says how it was found.  The heartbeat closes only
        what it found stale on the beat before too: it stands in for a lost "drop", and
        the notification, sent as the change is stored, comes first."""
        sids = list(sids)
        stored = {r["id"]: r["password_hash"] for r in self.store.stations(sids)} if sids else {}
        stale = {sid for sid in sids if self.endpoint.stale(sid, stored.get(sid))}
        if found == "heartbeat":
            stale, self._stale = stale & self._stale, stale
        for sid in stale:
            if await self.endpoint.disconnect(sid):
                self.bus.publish("station.dropped", sid, found=found, reason=(
                    "password changed" if stored.get(sid) else "station removed"))

    async def _catalog(self, sid):
        try:
            await self.console.inbound.fetch_catalog(sid)  # publishes "catalog"
        except Exception as e:
            self.bus.publish("catalog.failed", sid, error=repr(e)[:300])

    async def _watch_pickup(self, run_id):
        await asyncio.sleep(PICKUP_WAIT)
        info = {"reasonCode": "Unreachable",
                "additionalInfo": "the console holding the station did not send the run"}
        with self.store.engine.begin() as c:
            n = c.execute(update(db.runs).where(db.runs.c.id == run_id,
                                                db.runs.c.status == "requested").values(
                status="unreachable", status_info=info, updated_at=time.time())).rowcount
        if n:
            run = self.store.run(run_id)
            self.bus.publish("run.status", run["station_id"], run_id, status="unreachable",
                             statusInfo=info)

    # -- what comes from them --

    async def _listen(self):
        import psycopg  # only a PostgreSQL console needs it
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(conninfo(self.store.engine),
                                                             autocommit=True)
                async with conn:
                    await conn.execute("LISTEN %s" % EVENTS)
                    await conn.execute("LISTEN %s" % RUNS)
                    self.listening.set()
                    async for n in conn.notifies():
                        try:
                            self._notified(n.channel, json.loads(n.payload))
                        except Exception:  # one bad message must not end the listener
                            LOG.exception("notification on %s not handled", n.channel)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                LOG.warning("LISTEN connection lost (%s); reconnecting", e)
                await asyncio.sleep(1)

    def _notified(self, channel, msg):
        if msg.get("o") == self.id:
            return
        if channel == EVENTS:
            ev = msg.get("e")
            if ev is None and isinstance(msg.get("id"), int):
                ev = self.store._one(select(db.events).where(db.events.c.id == msg["id"]))
            if ev is not None:
                self.bus.deliver(ev)
        elif channel == RUNS and msg.get("op") == "catalog" and isinstance(msg.get("station"), str):
            if self.endpoint.is_connected(msg["station"]):
                self._spawn(self._catalog(msg["station"]))
        elif channel == RUNS and msg.get("op") == "drop" and isinstance(msg.get("station"), str):
            # Not taken on trust: the holder closes the connection only if the stored
            # credential is no longer the one it authenticated with.
            if self.endpoint.is_connected(msg["station"]):
                self._spawn(self._recheck([msg["station"]], "notified"))
        elif channel == RUNS and isinstance(msg.get("run"), int):
            run = self.store.run(msg["run"])
            if run is None or not self.endpoint.is_connected(run["station_id"]):
                return  # not ours: the holder acts
            if msg.get("op") == "run" and run["status"] == "requested":
                self._spawn(self.console._send_run(run["station_id"], run["id"], run["requestor"],
                                                   run["tests"], run["stop_on_failure"]))
            elif msg.get("op") == "cancel":
                self._spawn(self._cancel(run["id"], str(msg.get("by"))[:100]))

    async def _cancel(self, run_id, by):
        from .auth import Actor
        from .service import ServiceError
        try:  # the role was checked by the process that was asked
            await self.console.cancel_run(Actor(by, "run"), run_id)
        except ServiceError as e:
            self.bus.publish("run.cancel.failed", None, run_id, by=by, error=str(e)[:300])

    def _spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
