"""What the CSMS knows of one station's diagnostics: its catalog, the results
received (by resultId, repeats dropped), the runs it asked for and who waits on them.
Fed by the handlers (handlers.py), read by the application."""

import asyncio
from collections import OrderedDict

from . import binding, checksum
from .catalog import Catalog
from .events import CATALOG, EVENT, LOG, RESULT, STATUS, Event, Listeners, Result

# Results kept per station for lookups and duplicate detection, and finished runs;
# older ones are forgotten (an application stores what it needs from the events).
MAX_RESULTS = 10000
MAX_RUNS = 1000
# Catalogs being assembled that nobody asked for (a station may send one unasked;
# a flood of them must not grow without bound).
MAX_UNASKED_CATALOGS = 4


class Run:
    """A StartDiagnostics request we sent: its statuses and results.  Done when every
    test has a result (Skipped ones included): results are the ground truth, statuses
    are advisory and may be lost (SPEC.md section 5)."""

    def __init__(self, request_id, test_ids):
        self.request_id, self.test_ids = request_id, list(test_ids)
        self.statuses, self.results = [], []
        self.response = None  # the StartDiagnosticsResponse
        self._done = asyncio.get_running_loop().create_future()

    @property
    def done(self):
        return self._done.done()

    @property
    def status(self):
        return self.statuses[-1]["status"] if self.statuses else None

    def _add_result(self, res):
        self.results.append(res)
        if len(self.results) >= len(self.test_ids) and not self._done.done():
            self._done.set_result(self.results)

    async def wait(self, timeout=None):
        """-> the list of Results once every test of the run has one."""
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)


class StationDiagnostics(Listeners):
    def __init__(self, station_id, hub=None):
        super().__init__()
        self.station_id, self.hub = station_id, hub
        self.catalog = None               # the last complete Catalog
        self.results = OrderedDict()      # resultId -> Result
        self.runs = {}                    # requestId -> Run
        self._catalogs = {}               # requestId -> (Catalog, future)
        self._reports = {}                # reportRequestId -> (list of Results, future)
        self._base_reports = {}           # GetBaseReport requestId -> (parts, future)

    def emit(self, ev):
        super().emit(ev)
        if self.hub is not None:
            self.hub.emit(ev)

    # -- awaiting what we asked for --

    def expect_catalog(self, request_id):
        fut = asyncio.get_running_loop().create_future()
        self._catalogs[request_id] = (Catalog(request_id), fut)
        return fut

    def expect_run(self, request_id, test_ids):
        if len(self.runs) >= MAX_RUNS:
            for rid in [k for k, r in self.runs.items() if r.done][:len(self.runs) // 2]:
                del self.runs[rid]
        run = self.runs[request_id] = Run(request_id, test_ids)
        return run

    def expect_results(self, report_request_id):
        fut = asyncio.get_running_loop().create_future()
        self._reports[report_request_id] = ([], fut)
        return fut

    def expect_report(self, request_id):
        fut = asyncio.get_running_loop().create_future()
        self._base_reports[request_id] = ([], fut)
        return fut

    def forget(self, request_id, kind):
        """Drop what expect_* registered for a request the station refused."""
        table = {"catalog": self._catalogs, "results": self._reports, "run": self.runs,
                 "report": self._base_reports}[kind]
        entry = table.pop(request_id, None)
        fut = entry[1] if isinstance(entry, tuple) else None
        if fut is not None and not fut.done():
            fut.cancel()

    async def wait_result(self, request_id, timeout=None):
        """The Results of run `request_id` (see Run.wait)."""
        return await self.runs[request_id].wait(timeout)

    # -- fed by the handlers --

    def on_catalog_part(self, payload):
        rid = payload.get("requestId")
        cat, fut = self._catalogs.get(rid, (None, None))
        if cat is None:  # a catalog nobody here asked for: collect it all the same
            unasked = [k for k, (_, f) in self._catalogs.items() if f is None]
            if len(unasked) >= MAX_UNASKED_CATALOGS:
                del self._catalogs[unasked[0]]
            cat, fut = Catalog(rid), None
            self._catalogs[rid] = (cat, fut)
        try:
            complete = cat.add_part(payload)
        except ValueError:
            LOG.warning("%s: %s; dropped", self.station_id, "catalog %s: too many parts" % rid)
            del self._catalogs[rid]
            if fut is not None and not fut.done():
                fut.set_exception(ValueError("the station's catalog has too many parts"))
            return
        if complete:
            del self._catalogs[rid]
            self.catalog = cat
            if fut is not None and not fut.done():
                fut.set_result(cat)
            self.emit(Event(CATALOG, self.station_id, cat))

    def on_status(self, payload):
        run = self.runs.get(payload.get("requestId"))
        if run is not None:
            run.statuses.append(payload)
        self.emit(Event(STATUS, self.station_id, payload))

    def on_result(self, payload, via=binding.NATIVE):
        """-> the Result.  A repeat (resultId already held) is acknowledged by the
        caller and dropped here, except that it still answers a GetDiagnosticsResults."""
        r = payload.get("result", {})
        res = Result(r, checksum.verify(r), via, payload.get("reportRequestId"))
        rid = r.get("resultId")
        res.repeat = rid in self.results
        if res.report_request_id is not None:
            got, fut = self._reports.get(res.report_request_id, (None, None))
            if got is not None:
                got.append(res)
                if not payload.get("tbc"):
                    del self._reports[res.report_request_id]
                    if not fut.done():
                        fut.set_result(got)
        if res.repeat:
            return res
        self.results[rid] = res
        while len(self.results) > MAX_RESULTS:
            self.results.popitem(last=False)
        run = self.runs.get(r.get("requestId"))
        if run is not None:
            run._add_result(res)
        self.emit(Event(RESULT, self.station_id, res))
        return res

    def on_report(self, payload):
        """A NotifyReport part: kept only when read_diagnostic_tests asked for it."""
        parts, fut = self._base_reports.get(payload.get("requestId"), (None, None))
        if parts is not None:
            parts.append(payload)
            if not payload.get("tbc") and not fut.done():
                fut.set_result(parts)

    def on_notify_event(self, payload):
        for ev in binding.diagnostic_events(payload):
            self.emit(Event(EVENT, self.station_id, ev))
