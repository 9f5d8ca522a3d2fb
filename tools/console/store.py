"""Reads and writes of the console's state: rows in, plain dicts out.

Synchronous SQLAlchemy Core: each call is one short transaction (SQLite in WAL mode
commits in well under a millisecond here), so the service calls it from the event
loop directly.  Nothing else touches the tables.
"""
import time

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from . import db, migrations


def _row(r):
    return dict(r._mapping) if r is not None else None


class Store:
    def __init__(self, url):
        self.engine = db.make_engine(url)
        self.migrated = migrations.migrate(self.engine)

    def close(self):
        self.engine.dispose()

    def _one(self, stmt):
        with self.engine.connect() as c:
            return _row(c.execute(stmt).first())

    def _all(self, stmt):
        with self.engine.connect() as c:
            return [_row(r) for r in c.execute(stmt)]

    def _write(self, stmt):
        with self.engine.begin() as c:
            return c.execute(stmt)

    # -- stations --

    def station(self, sid):
        return self._one(select(db.stations).where(db.stations.c.id == sid))

    def stations(self, ids=None):
        q = select(db.stations).order_by(db.stations.c.id)
        if ids is not None:
            q = q.where(db.stations.c.id.in_(list(ids)))
        return self._all(q)

    def add_station(self, sid, password_hash):
        try:
            self._write(insert(db.stations).values(id=sid, password_hash=password_hash,
                                                   created_at=time.time(), connected=False))
        except IntegrityError:
            return False
        return True

    def update_station(self, sid, **values):
        return self._write(update(db.stations).where(db.stations.c.id == sid)
                           .values(**values)).rowcount

    def delete_station(self, sid):
        with self.engine.begin() as c:
            for t in (db.health, db.results, db.runs, db.catalogs):
                c.execute(delete(t).where(t.c.station_id == sid))
            return c.execute(delete(db.stations).where(db.stations.c.id == sid)).rowcount

    def mark_all_disconnected(self):
        self._write(update(db.stations).values(connected=False))

    def orphan_requested_runs(self):
        """Runs recorded but maybe never sent when the console stopped: marked so; a
        result that does arrive for one still completes it."""
        return self._write(update(db.runs).where(db.runs.c.status == "requested").values(
            status="unreachable", updated_at=time.time(),
            status_info={"reasonCode": "ConsoleRestarted",
                         "additionalInfo": "the console stopped before the station answered"})
        ).rowcount

    # -- catalogs --

    def catalog(self, sid):
        return self._one(select(db.catalogs).where(db.catalogs.c.station_id == sid))

    def catalog_meta(self):
        """station id -> {catalog_version, fetched_at}, without the descriptors."""
        c = db.catalogs.c
        return {r["station_id"]: r for r in self._all(
            select(c.station_id, c.catalog_version, c.fetched_at))}

    def save_catalog(self, sid, tests, version):
        with self.engine.begin() as c:
            c.execute(delete(db.catalogs).where(db.catalogs.c.station_id == sid))
            c.execute(insert(db.catalogs).values(station_id=sid, tests=tests,
                                                 catalog_version=version, fetched_at=time.time()))

    # -- runs and fleets --

    def add_run(self, sid, requestor, tests, stop_on_failure=False, fleet_id=None):
        now = time.time()
        res = self._write(insert(db.runs).values(
            station_id=sid, fleet_id=fleet_id, requestor=requestor, tests=tests,
            stop_on_failure=bool(stop_on_failure), status="requested", total=len(tests),
            completed=0, created_at=now, updated_at=now))
        return res.inserted_primary_key[0]

    def run(self, run_id):
        return self._one(select(db.runs).where(db.runs.c.id == run_id))

    def update_run(self, run_id, **values):
        values["updated_at"] = time.time()
        self._write(update(db.runs).where(db.runs.c.id == run_id).values(**values))

    def runs(self, station=None, fleet_id=None, active=None, limit=100):
        q = select(db.runs).order_by(db.runs.c.id.desc()).limit(limit)
        if station is not None:
            q = q.where(db.runs.c.station_id == station)
        if fleet_id is not None:
            q = q.where(db.runs.c.fleet_id == fleet_id)
        if active:
            q = q.where(db.runs.c.status.in_(("requested", "accepted", "running", "cancelling")))
        return self._all(q)

    def add_fleet(self, requestor, tests):
        return self._write(insert(db.fleets).values(requestor=requestor, tests=tests,
                                                    created_at=time.time())).inserted_primary_key[0]

    def fleet(self, fleet_id):
        return self._one(select(db.fleets).where(db.fleets.c.id == fleet_id))

    # -- results and health --

    def add_result(self, sid, payload, checksum_ok, run_id):
        """-> the new row id, or None when the station's resultId is already held."""
        try:
            res = self._write(insert(db.results).values(
                station_id=sid, result_id=payload["resultId"], run_id=run_id,
                test_id=payload["testId"], verdict=payload["verdict"],
                health_status=payload.get("healthStatus"), requestor=payload.get("requestor"),
                trigger=payload.get("trigger"), end_time=payload.get("endTime"),
                received_at=time.time(), checksum_ok=checksum_ok, payload=payload))
        except IntegrityError:
            return None
        return res.inserted_primary_key[0]

    def results(self, station=None, test=None, verdict=None, since=None, run_id=None, limit=200):
        t = db.results.c
        conds = [c for c in (
            t.station_id == station if station is not None else None,
            t.test_id == test if test is not None else None,
            t.verdict == verdict if verdict is not None else None,
            t.received_at >= since if since is not None else None,
            t.run_id == run_id if run_id is not None else None) if c is not None]
        q = select(db.results).order_by(t.id.desc()).limit(limit)
        if conds:
            q = q.where(and_(*conds))
        return self._all(q)

    def run_result_count(self, run_id):
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(db.results)
                             .where(db.results.c.run_id == run_id)).scalar()

    def add_health(self, sid, status, row_id):
        now = time.time()
        self._write(insert(db.health).values(station_id=sid, time=now, status=status,
                                             result_row=row_id))
        self.update_station(sid, health=status, health_at=now)

    def health(self, sid, limit=100):
        return self._all(select(db.health).where(db.health.c.station_id == sid)
                         .order_by(db.health.c.id.desc()).limit(limit))

    # -- events --

    def add_event(self, kind, station=None, run_id=None, data=None):
        now = time.time()
        res = self._write(insert(db.events).values(time=now, kind=kind, station_id=station,
                                                   run_id=run_id, data=data))
        return {"id": res.inserted_primary_key[0], "time": now, "kind": kind,
                "station_id": station, "run_id": run_id, "data": data}

    def prune_events(self, before):
        """Events are a journal of what happened, not the record: results, runs and
        health history stay; events older than `before` go."""
        return self._write(delete(db.events).where(db.events.c.time < before)).rowcount

    def events(self, after=0, station=None, run_id=None, limit=500):
        q = select(db.events).where(db.events.c.id > after).order_by(db.events.c.id).limit(limit)
        if station is not None:
            q = q.where(db.events.c.station_id == station)
        if run_id is not None:
            q = q.where(db.events.c.run_id == run_id)
        return self._all(q)

    # -- schedules --

    def add_schedule(self, **values):
        try:
            return self._write(insert(db.schedules).values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None

    def schedules(self):
        return self._all(select(db.schedules).order_by(db.schedules.c.id))

    def schedule(self, key):
        col = db.schedules.c.id if isinstance(key, int) else db.schedules.c.name
        return self._one(select(db.schedules).where(col == key))

    def update_schedule(self, sched_id, **values):
        self._write(update(db.schedules).where(db.schedules.c.id == sched_id).values(**values))

    def claim_schedule(self, sched_id, due_at, next_at):
        """Move a due schedule on -> True for exactly one caller, so that several
        console processes on one database fire it once."""
        t = db.schedules.c
        return self._write(update(db.schedules).where(t.id == sched_id, t.next_at == due_at)
                           .values(next_at=next_at)).rowcount == 1

    def delete_schedule(self, sched_id):
        return self._write(delete(db.schedules).where(db.schedules.c.id == sched_id)).rowcount

    # -- tokens --

    def token_by_digest(self, digest):
        return self._one(select(db.tokens).where(db.tokens.c.token_hash == digest))

    def tokens(self):
        return self._all(select(db.tokens.c.name, db.tokens.c.role, db.tokens.c.created_at,
                                db.tokens.c.created_by).order_by(db.tokens.c.name))

    def add_token(self, name, role, digest, created_by):
        try:
            self._write(insert(db.tokens).values(name=name, role=role, token_hash=digest,
                                                 created_at=time.time(), created_by=created_by))
        except IntegrityError:
            return False
        return True

    def delete_token(self, name):
        return self._write(delete(db.tokens).where(db.tokens.c.name == name)).rowcount
