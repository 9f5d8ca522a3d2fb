"""What an application (a console, an MCP server, a test) receives: events for each
catalog, status, result and diagnostic NotifyEvent, as callbacks or as an async
iterator, from one station (StationDiagnostics) or from all of them (DiagnosticsHub)."""

import asyncio
import logging
import time

LOG = logging.getLogger("ocppdiag")

# Event kinds.
CATALOG, STATUS, RESULT, EVENT = "catalog", "status", "result", "event"


class Event:
    """kind: catalog (data: the complete Catalog), status (data: the
    NotifyDiagnosticsStatus payload), result (data: a Result), event (data: one
    diagnostic NotifyEvent entry, see binding.diagnostic_events)."""

    __slots__ = ("kind", "station", "data", "time")

    def __init__(self, kind, station, data):
        self.kind, self.station, self.data, self.time = kind, station, data, time.time()

    def __repr__(self):
        return "Event(%s, %s, %r)" % (self.kind, self.station, self.data)


class Result:
    """One received result.  `verified` is false when its checksum does not match
    its content (SPEC.md section 7: acknowledged anyway, marked unverified)."""

    __slots__ = ("payload", "verified", "binding", "report_request_id", "repeat")

    def __init__(self, payload, verified, binding, report_request_id=None, repeat=False):
        self.payload, self.verified, self.binding = payload, verified, binding
        self.report_request_id, self.repeat = report_request_id, repeat

    result_id = property(lambda self: self.payload.get("resultId"))
    request_id = property(lambda self: self.payload.get("requestId"))
    test_id = property(lambda self: self.payload.get("testId"))
    verdict = property(lambda self: self.payload.get("verdict"))

    def __repr__(self):
        return "Result(%s %s %s%s)" % (self.result_id, self.test_id, self.verdict,
                                       "" if self.verified else " UNVERIFIED")


class Listeners:
    """Callbacks and async iterators of Events."""

    def __init__(self):
        self._callbacks = []

    def subscribe(self, fn):
        """fn(event), plain or async; -> a function that unsubscribes."""
        self._callbacks.append(fn)
        return lambda: self._callbacks.remove(fn) if fn in self._callbacks else None

    async def events(self, kinds=None, maxsize=10000):
        """Async iterator of the events from now on (only `kinds` if given).  A reader
        that falls `maxsize` events behind loses the oldest, never blocks the station."""
        queue = asyncio.Queue(maxsize)

        def put(ev):
            if kinds and ev.kind not in kinds:
                return
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(ev)

        unsubscribe = self.subscribe(put)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    def emit(self, ev):
        for fn in list(self._callbacks):
            try:
                r = fn(ev)
                if asyncio.iscoroutine(r):
                    asyncio.ensure_future(r)
            except Exception:  # an application's bug must not cost the station its ack
                LOG.exception("diagnostics listener failed on %r", ev)


class DiagnosticsHub(Listeners):
    """Events of every station: set as the charge-point class's `diag_hub`."""
