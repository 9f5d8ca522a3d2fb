"""A Csms on its own event loop in a daemon thread, with a blocking API for pytest.

    csms = ThreadedCsms(boot_status="Accepted").start()
    ...start the agent against csms.url + "/CS001"...
    boot = csms.wait_for("BootNotification", station="CS001")
    res = csms.call("CS001", "GetVariables", {...})
    assert csms.violations == []
    csms.stop()

Waiting is done on a threading.Condition notified by every event, never by
sleeping.  Records are the dicts described in csms.Csms._record; each carries
its "index", so `wait_for(..., after=rec["index"] + 1)` waits for a later one.
"""

import asyncio
import os
import sys
import threading
import time

# tools/ is a directory of scripts, not a package: make `csms` importable
# however this module was found.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from csms import NO_REPLY, CallErrorReply, Csms, format_event, register_schema  # noqa: E402

__all__ = ["ThreadedCsms", "CallErrorReply", "NO_REPLY", "register_schema"]

# Extra seconds a blocking wrapper waits beyond the coroutine's own timeout.
_GRACE = 5


class ThreadedCsms:
    def __init__(self, **csms_kwargs):
        self.csms = Csms(**csms_kwargs)
        self._cond = threading.Condition()
        self._events = []  # (kind, record) in arrival order, for failure messages
        self.csms.listeners.append(self._on_event)
        self._loop = None
        self._thread = None

    # -- lifecycle --

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="csms", daemon=True)
        self._thread.start()
        self._run(self.csms.start(), 10)
        return self

    def stop(self):
        if self._loop is None:
            return
        try:
            self._run(self.csms.stop(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _on_event(self, kind, rec):  # runs in the CSMS thread
        with self._cond:
            self._events.append((kind, rec))
            self._cond.notify_all()

    # -- configuration --

    @property
    def url(self):
        return self.csms.url

    @property
    def port(self):
        return self.csms.port

    @property
    def violations(self):
        with self._cond:
            return list(self.csms.violations)

    @property
    def errors(self):
        """Failures of the CSMS itself (bad handler replies, handler crashes)."""
        with self._cond:
            return list(self.csms.errors)

    # Plain attribute/dict assignments (atomic under the GIL), done directly so
    # they are in effect when these return, before the next frame is handled.
    def set_boot_status(self, status, interval=None):
        self.csms.set_boot_status(status, interval)

    def add_handler(self, action, fn):
        """fn(station_id, payload) -> dict, runs in the CSMS thread; see Csms.add_handler."""
        self.csms.add_handler(action, fn)

    register_schema = staticmethod(register_schema)

    # -- talking to a station --

    def call(self, station, action, payload, timeout=10):
        return self._run(self.csms.call(station, action, payload, timeout), timeout + _GRACE)

    def send_raw(self, station, text, timeout=3):
        return self._run(self.csms.send_raw(station, text, timeout), timeout + _GRACE)

    def drop(self, station, code=None, timeout=5):
        return self._run(self.csms.drop(station, code, timeout), timeout + _GRACE)

    def connected(self, station):
        return station in self.csms.stations

    # -- diagnostics (ocppdiag), on the CSMS's loop --

    def station(self, station):
        """The connected session (a Station21: ocppdiag.DiagnosticsMixin); use its
        coroutines through run(), e.g. csms.run(csms.station("CS001").get_diagnostics_catalog())."""
        return self.csms.station(station)

    def run(self, coro, timeout=30):
        """Run a coroutine on the CSMS's loop and return its result (blocking)."""
        return self._run(coro, timeout + _GRACE)

    @property
    def csms_loop(self):
        """The CSMS's event loop (for asyncio.run_coroutine_threadsafe)."""
        return self._loop

    def diagnostics(self, station):
        """The ocppdiag.StationDiagnostics of station (read it from the test thread
        only after the events you wait for)."""
        return self.csms.diagnostics(station)

    # -- records --

    def messages(self, station=None, action=None, type=None):
        with self._cond:
            return [r for r in self.csms.records if _match(r, station, action, type, None)]

    def wait_for(self, action=None, station=None, type="CALL", timeout=10, predicate=None,
                 after=0):
        """First record with index >= after matching all given filters.

        `type=None` matches any type.  On timeout raises AssertionError listing
        what was received.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = after
            while True:
                records = self.csms.records
                for rec in records[seen:]:
                    if _match(rec, station, action, type, predicate):
                        return rec
                seen = max(seen, len(records))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(self._summary(
                        "no %s %s from %s (index >= %d) within %ss" % (
                            type or "record", action or "", station or "any station",
                            after, timeout)))
                self._cond.wait(left)

    def wait_connected(self, station, timeout=10, after=0):
        """The CONNECT record of `station` (index >= after)."""
        return self.wait_for(station=station, type="CONNECT", timeout=timeout, after=after)

    def wait_disconnected(self, station, timeout=10, after=0):
        return self.wait_for(station=station, type="DISCONNECT", timeout=timeout, after=after)

    def _summary(self, headline, last=40):
        lines = [headline, "events (last %d):" % last]
        lines += ["  " + format_event(k, r, 400) for k, r in self._events[-last:]] or ["  (none)"]
        if self.csms.violations:
            lines.append("violations:")
            lines += ["  %s %s: %s" % (v["station"], v["action"], v["error"])
                      for v in self.csms.violations]
        return "\n".join(lines)


def _match(rec, station, action, type, predicate):
    return ((station is None or rec["station"] == station)
            and (action is None or rec["action"] == action)
            and (type is None or rec["type"] == type)
            and (predicate is None or predicate(rec)))
