"""Live events: every event is stored (GET /api/events replays from an id) and
handed to the subscribers of this process (the SSE stream, `--wait`).

A subscriber that falls behind by more than its queue loses the stream (it is told
so and reconnects with its last id) instead of making the console hold memory for it.
"""
import asyncio
import logging

LOG = logging.getLogger("console.events")
_QUEUE = 1000


class Subscription:
    def __init__(self, bus, station=None, run_id=None):
        self.bus, self.station, self.run_id = bus, station, run_id
        self.queue = asyncio.Queue(_QUEUE)
        self.lost = False

    def wants(self, ev):
        if self.station is not None and ev["station_id"] != self.station:
            return False
        return self.run_id is None or ev["run_id"] == self.run_id

    def close(self):
        self.bus._subs.discard(self)


class EventBus:
    def __init__(self, store):
        self.store = store
        self._subs = set()
        # Called with each event this process publishes, once stored (cluster.py
        # hands them to the other console processes).
        self.listeners = []

    def publish(self, kind, station=None, run_id=None, **data):
        ev = self.store.add_event(kind, station, run_id, data or None)
        for fn in list(self.listeners):
            try:
                fn(ev)
            except Exception:  # a listener's failure must not lose the local stream
                LOG.exception("event listener failed")
        return self.deliver(ev)

    def deliver(self, ev):
        """To this process's subscribers (also events another process published)."""
        for sub in list(self._subs):
            if not sub.wants(ev):
                continue
            try:
                sub.queue.put_nowait(ev)
            except asyncio.QueueFull:
                sub.lost = True
                sub.close()
                LOG.warning("event subscriber dropped: %d events behind", _QUEUE)
        return ev

    def close_all(self):
        """Console shutdown: every stream ends (None), so no client holds it open."""
        for sub in list(self._subs):
            sub.close()
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass

    def subscribe(self, station=None, run_id=None):
        sub = Subscription(self, station, run_id)
        self._subs.add(sub)
        return sub
