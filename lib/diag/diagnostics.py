# The diagnostics model's state on the station: the tests it offers, the runner,
# the results journal and the delivery of results to the CSMS.
import asyncio

import log
from diag.journal import Journal
from diag.registry import Registry
from ocpp.rpc import CallError, Offline


_MAX_EVENTS = 8  # integrity events queued at a start; the rest in one summary


def _open_journal(agent):
    """The journal, every result checked as it is read (checksum, and signature
    under the current key); a result that fails is reported to the CSMS as a
    SecurityEventNotification naming it (SPEC DG16): a journal altered on flash."""
    import lazy
    sign = lazy.load("diag.sign")
    key = sign.current(agent.store)
    try:
        j = Journal(agent.store.dir, check=lambda r: sign.check(r, key))
    finally:
        if key is None:
            lazy.drop("diag.sign")  # a station that signs keeps it: every result uses it
    if j.tampered:
        import clock
        bad = j.tampered
        for rid, why in bad[:_MAX_EVENTS]:
            info = "resultId %d: %s mismatch; the record was dropped" % (rid, why)
            agent.station.outbox.put("SecurityEventNotification", {
                "type": "DiagnosticsResultIntegrityFailure", "timestamp": clock.iso(), "techInfo": info})
        if len(bad) > _MAX_EVENTS:
            agent.station.outbox.put("SecurityEventNotification", {
                "type": "DiagnosticsResultIntegrityFailure", "timestamp": clock.iso(),
                "techInfo": ("%d more result(s) failed: %s" % (len(bad) - _MAX_EVENTS, ",".join(
                    str(t[0]) for t in bad[_MAX_EVENTS:])))[:255]})
    return j


class Diagnostics:
    def __init__(self, agent):
        cfg = agent.cfg
        self.agent = agent
        self.vendor_id = cfg.get("diagVendorId") or "org.openchargealliance.diagnostics"
        self.binding = "native"  # diag.binding.NATIVE, without importing it at start
        self.via = None  # binding of the CALL being handled right now
        self.registry = Registry(agent.store, cfg.get("diagTests"))
        self.journal = _open_journal(agent)
        self._runner = None
        # GetLog: the upload task under way, its requestId, and scheme://host of the
        # last location (the security test flags plain http; no path, no credentials).
        self.upload = [None, None, None]
        st = agent.store
        self.last = st.get("diag/last") or {}  # testId -> [verdict, endTime, resultId, health]
        self.event_seq = st.get("diag/eventSeq", 0)
        try:
            top = max([v[2] for v in self.last.values()] or [0]) + 0
            self.event_seq += 0
        except Exception:  # state of another shape: start afresh rather than fail
            log.warn("diag: stored verdicts unreadable, reset")
            self.last = {}
            self.event_seq = 0
            top = 0
        self._next = max(self.journal.last_id, top) + 1
        self._wake = asyncio.Event()
        self._delivering = False
        self.booted = False
        if self.journal.runs:
            self.recover()

    @property
    def runner(self):
        # Imported on the first run: a station that is never asked costs no RAM for it.
        if self._runner is None:
            from diag.runner import Runner
            self._runner = Runner(self.agent)
        return self._runner

    def next_result_id(self):
        return self.reserve(1)

    def reserve(self, n):
        """n consecutive result ids -> the first."""
        rid = self._next
        self._next += n
        return rid

    def recover(self):
        """After a restart: every test of a journaled run that has no result gets one,
        the first Aborted (it was running, or about to), the rest Skipped. A result
        dropped for failing its integrity check is not replaced: it was reported as
        a security event, and a new result under its id would hide the alteration."""
        import clock
        from diag import result
        j = self.journal
        for run in j.unfinished():
            first = run["run"]
            verdict = "Aborted"
            for i, t in enumerate(run.get("tests") or ()):
                rid = first + i
                if rid in j.ids or type(t) is not list or len(t) != 2:
                    continue
                if [1 for x in j.tampered if x[0] == rid]:
                    verdict = "Skipped"
                    continue
                ctx = result.Ctx(self.agent, None)
                ctx.fail("StationRestarted", "the station restarted before this test ended")
                params = {p["name"]: p["value"] for p in t[1] or () if type(p) is dict}
                r = result.make(rid, t[0], self.registry.type_of(t[0]) or "SelfTest",
                                run.get("requestor") or "CSMS", run.get("trigger") or "OnDemand",
                                params, run.get("t") or clock.iso(), clock.iso(), verdict, ctx,
                                run.get("requestId"))
                j.append(r)
                self.remember(t[0], verdict, r["endTime"], rid, None)
                log.warn("diag: result %d (%s) %s: station restarted", rid, t[0], verdict)
                verdict = "Skipped"
            j.runs.pop(first, None)

    def remember(self, tid, verdict, when, rid, health):
        self.last[tid] = [verdict, when, rid, health]
        self.agent.store.update({"diag/last": self.last, "diag/eventSeq": self.event_seq})

    def wake(self):
        self._wake.set()
        if not self._delivering and self.agent.station.boot_status == "Accepted" and self.agent.rpc.online:
            self.agent.spawn(self.deliver())

    def tests_of_type(self, ttype):
        return [t for t, ty in self.registry.index if ty == ttype]

    def start_internal(self, tid, params, requestor, trigger):
        """A run the station decides on (schedule, start-up, health interval,
        CustomTrigger). A refusal is journaled as a Skipped result."""
        r = self.runner
        try:
            coro = r.start(None, requestor, trigger, [{"testId": tid, "parameter": params}])
        except Exception as e:
            code = getattr(e, "code", "Exception")
            info = getattr(e, "info", str(e))
            log.info("diag: %s run of %s skipped: %s", trigger, tid, info)
            if self.registry.type_of(tid):
                r.skip(tid, {}, requestor, trigger, None, code, info)
            return None
        return self.agent.spawn(coro)

    async def deliver(self):
        """Send pending results in order until none is left or the link is lost.
        At-least-once: a result is acknowledged in the journal only after the CSMS
        answered; a repeat after a reconnect carries the same resultId."""
        if self._delivering:
            return
        self._delivering = True
        j = self.journal
        try:
            while True:
                while not j.pending:
                    self._wake.clear()
                    await self._wake.wait()
                rid = j.pending[0]
                from diag import binding
                try:
                    r = j.get(rid)  # MemoryError here is not a missing result: retried
                    if r is None:
                        log.warn("diag: result %d missing from the journal", rid)
                        j.pending.remove(rid)
                        continue
                    await binding.notify(self.agent, "NotifyDiagnosticsResult", {"result": r},
                                         self._runner and self._runner.via.get(r.get("requestId")))
                except (Offline, asyncio.CancelledError):
                    raise
                except CallError as e:
                    # Refused by the CSMS: resending the same bytes cannot succeed.
                    log.warn("diag: result %d refused by the CSMS: %s %s", rid, e.code, e.desc)
                except Exception as e:  # a timeout, or MemoryError: keep it, try again
                    r = None
                    log.info("diag: result %d not delivered yet: %s", rid, type(e).__name__)
                    await asyncio.sleep(1)
                    continue
                r = None
                j.ack(rid)
        except Offline:
            pass
        finally:
            self._delivering = False

    def on_online(self):
        if not self.booted:
            self.booted = True
            if self.agent.dm.get("DiagnosticsCtrlr", "StartupTiming") == "AfterBoot":
                self.run_startup()
        self.wake()

    def run_startup(self):
        ids = self.agent.dm.get("DiagnosticsCtrlr", "StartupTests") or ""
        for tid in ids.split(","):
            tid = tid.strip()
            if tid:
                self.start_internal(tid, None, "StartUp", "StartUp")
