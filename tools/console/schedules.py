"""Console-side schedules: tests run on a set of stations (or all) every N seconds.

Each due schedule becomes a fleet run whose requestor is "schedule:<name>", so its
results say who asked.  Who may create one is checked when it is created (role run
for one station, run-intrusive for several or all); parameters are checked against
each station's catalog at every run, as for any run.
"""
import asyncio
import logging
import time

from . import params, views
from .auth import Actor, require
from .service import Conflict, Invalid, NotFound

LOG = logging.getLogger("console.schedules")
_MIN_INTERVAL = 10  # s: a schedule is not a load generator
_IDLE = 30.0


class Schedules:
    def __init__(self, console):
        self.console, self.store = console, console.store
        self._wake = asyncio.Event()
        self._tasks = set()  # running schedule fires (a task nobody holds may be collected)

    def add(self, actor, name, tests, interval_s, stations=None, start_in=None):
        require(actor, "run", "adding a schedule")
        if stations is None or len(stations) != 1:
            require(actor, "run-intrusive", "a schedule on more than one station")
        if not isinstance(name, str) or not 1 <= len(name) <= 80 or not name.isprintable():
            raise Invalid("name: 1..80 printable characters", field="name")
        if not isinstance(interval_s, int) or isinstance(interval_s, bool) \
                or interval_s < _MIN_INTERVAL:
            raise Invalid("intervalS: an integer >= %d" % _MIN_INTERVAL, field="intervalS")
        try:
            params.check_shape(tests)
        except params.ParameterError as e:
            raise Invalid(str(e), field="tests")
        for sid in stations or ():
            self.console._station(sid)
        first = time.time() + (interval_s if start_in is None else max(0, start_in))
        sched_id = self.store.add_schedule(name=name, stations=stations, tests=tests,
                                           interval_s=interval_s, next_at=first,
                                           created_by=actor.name[:100], enabled=True)
        if sched_id is None:
            raise Conflict("schedule %s exists" % name, name=name)
        self.console.bus.publish("schedule.added", None, name=name, by=actor.name)
        self._wake.set()
        return views.schedule(self.store.schedule(sched_id))

    def list(self, actor):
        require(actor, "read", "listing schedules")
        return [views.schedule(r) for r in self.store.schedules()]

    def remove(self, actor, key):
        require(actor, "run", "removing a schedule")
        row = self.store.schedule(key)
        if row is None:
            raise NotFound("no schedule %s" % key, schedule=key)
        if row["stations"] is None or len(row["stations"]) != 1:
            require(actor, "run-intrusive", "removing a schedule on more than one station")
        self.store.delete_schedule(row["id"])
        self.console.bus.publish("schedule.removed", None, name=row["name"], by=actor.name)
        return {"schedule": row["name"], "removed": True}

    async def loop(self):
        """Run due schedules until cancelled; a failing run never stops the loop."""
        while True:
            now = time.time()
            wait = _IDLE
            for row in self.store.schedules():
                if not row["enabled"]:
                    continue
                if row["next_at"] <= now:
                    # Missed periods (console down) are skipped, not caught up.  Claimed:
                    # another console process on the database may have fired it.
                    if not self.store.claim_schedule(row["id"], row["next_at"],
                                                     now + row["interval_s"]):
                        continue
                    task = asyncio.ensure_future(self._fire(row))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    wait = min(wait, row["interval_s"])
                else:
                    wait = min(wait, row["next_at"] - now)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))
            except asyncio.TimeoutError:
                pass

    async def _fire(self, row):
        actor = Actor("schedule:%s" % row["name"], "run-intrusive")
        try:
            await self.console.fleet_run(actor, row["tests"], row["stations"])
        except Exception:
            LOG.exception("schedule %s failed", row["name"])
