# Runs tests: each request is an asyncio task running its tests in order; each test
# runs under its own timeout, holds its exclusive resources, and ends in exactly one
# journaled result whatever happens inside it (exception, MemoryError, timeout,
# cancel). Constraints are checked before a test starts; parameters before the
# request is accepted.
import asyncio
import gc
import sys
import time

import clock
import lazy
import log
from diag import result
from diag.params import Refused, resolve
from ocpp.rpc import CallError, Offline

from diag.result import VERDICTS
_FAILURES = ("Failed", "Error", "TimedOut", "Aborted")


class Busy(Refused):
    pass


class Runner:
    def __init__(self, agent):
        self.agent = agent
        self.runs = {}  # requestId -> task
        self.via = {}  # requestId -> binding its notifications use, when not the default
        self.current = []  # ids of the tests running now (DiagnosticsCtrlr.RunningTests)
        self.active = 0  # requests accepted and not finished (MaxConcurrentRuns)
        self.locks = {}  # resource -> testId holding it
        self.started = {}  # testId -> ticks_ms of its last start (minInterval)
        self.stall = agent.stall  # benchmark only: .reset() and .max_ms

    # --- checks ---------------------------------------------------------------
    def plan(self, tests):
        """[{testId, parameter, evse}] -> [(testId, values, evse)]; raises Refused."""
        reg = self.agent.diag.registry
        out = []
        for t in tests:
            tid = t["testId"]
            if reg.type_of(tid) is None:
                raise Refused("UnknownTest", "test %s: not offered by this station" % tid)
            m = reg.load(tid)
            try:
                vals = resolve(m.PARAMS, t.get("parameter"))
            except Refused as e:
                e.info = "test %s, %s" % (tid, e.info)
                raise
            finally:
                reg.unload(tid)
            scope = getattr(m, "SCOPE", "station")
            m = None
            evse = t.get("evse")
            if evse is not None or scope != "station":
                from diag.scope import target
                evse = target(self.agent, tid, scope, evse)
            out.append((tid, vals, evse))
        return out

    def authorize(self, plan, requestor, trigger):
        """Who may run the intrusive tests of a plan: judged for the request as a
        whole, before anything starts (DG14); raises Refused."""
        reg = self.agent.diag.registry
        for tid, _, _ in plan:
            m = reg.load(tid)
            try:
                if m.CONSTRAINTS[1]:
                    from diag import guards
                    guards.authorize(self.agent, tid, requestor, trigger)
            finally:
                m = None
                reg.unload(tid)

    def check(self, tid, m, own=0, evse=None, vals=None):
        """Raise Refused / Busy when the test may not start now. `own`: 1 when the
        asking request is itself one of the active ones; `evse`: its target (only the
        targeted connectors count); `vals`: its parameters (flash-write budget)."""
        a = self.agent
        dm = a.dm
        if dm.get("DiagnosticsCtrlr", "Enabled") != "true":
            raise Refused("Disabled", "diagnostics are disabled (DiagnosticsCtrlr.Enabled)")
        c = dm.component("DiagnosticTest", tid)
        if c and dm.value(c, c.find("Enabled")) != "true":
            raise Refused("TestDisabled", "test %s is disabled (DiagnosticTest.Enabled)" % tid)
        states, intrusive, resources, timeout, min_iv, network = m.CONSTRAINTS
        if states or intrusive:
            allowed = states or ("Available", "Unavailable", "Faulted")
            for e, n in a.connectors_of(evse):
                s = a.connector_status(e, n)
                if s not in allowed:
                    raise Refused("StateNotAllowed", "test %s: connector %d/%d is %s" % (tid, e, n, s))
        # The charger's firmware says when a session runs (charger.py): an intrusive
        # test would interrupt it, whatever the connector states say.
        if intrusive and a._charger is not None and a._charger.sessions:
            raise Refused("SessionActive", "test %s is intrusive and a charging session is in progress" % tid)
        if network and not a.rpc.online:
            raise Refused("NoNetwork", "test %s needs the network" % tid)
        if getattr(m, "COST", None) and m.COST[2]:
            from diag import guards
            guards.check_budget(a, tid, m, vals)
        last = self.started.get(tid)
        if last is not None and min_iv:
            left = min_iv * 1000 - time.ticks_diff(time.ticks_ms(), last)
            if left > 0:
                raise Refused("MinInterval", "test %s: minimum interval %d s, %d s left"
                              % (tid, min_iv, (left + 999) // 1000))
        for r in resources:
            if r in self.locks:
                raise Busy("ResourceBusy", "test %s: %s in use by %s" % (tid, r, self.locks[r]))
        most = dm.get_int("DiagnosticsCtrlr", "MaxConcurrentRuns", None, 2)
        if self.active - own >= most:
            raise Busy("MaxConcurrent", "%d runs active (MaxConcurrentRuns %d)" % (self.active, most))

    # --- requests -------------------------------------------------------------
    def start(self, req_id, requestor, trigger, tests, stop_on_failure=False, via=None):
        """Validate everything, then return the coroutine that runs the request
        (to be started once the response is out). Raises Refused / Busy."""
        if req_id is not None and req_id in self.runs:
            raise Refused("DuplicateRequest", "request %d is still running" % req_id)
        plan = self.plan(tests)
        reg = self.agent.diag.registry
        self.authorize(plan, requestor, trigger)
        for i, (tid, vals, evse) in enumerate(plan):
            m = reg.load(tid)
            try:
                if i == 0:
                    self.check(tid, m, 0, evse, vals)
                elif self.agent.dm.get("DiagnosticsCtrlr", "Enabled") != "true":
                    raise Refused("Disabled", "diagnostics are disabled")
            finally:
                reg.unload(tid)
        first = self._journal_run(req_id, requestor, trigger, plan)
        if req_id is not None:
            if via is not None:
                # Remembered for the results still to be delivered; bounded, since a
                # station runs for years (an old request falls back to the default).
                if len(self.via) >= 16:
                    for k in self.via:
                        break
                    del self.via[k]
                self.via[req_id] = via
            self.runs[req_id] = None  # reserved until the task exists
        self.active += 1
        return self._request(req_id, requestor, trigger, plan, stop_on_failure, via, first)

    def _journal_run(self, req_id, requestor, trigger, plan):
        """Reserve a result id per test and journal the run before it starts: after a
        power cut, Diagnostics.recover() ends what this run left open."""
        from diag.params import as_list
        d = self.agent.diag
        first = d.reserve(len(plan))
        rec = {"n": len(plan), "tests": [[tid, as_list(v)] + ([e] if e else []) for tid, v, e in plan],
               "requestor": requestor, "trigger": trigger, "t": clock.iso()}
        if req_id is not None:
            rec["requestId"] = req_id
        try:
            d.journal.start_run(first, rec)
        except Exception as e:  # a full filesystem: run anyway, the results may still fit
            log.warn("diag: run marker not journaled: %s", e)
        return first

    def cancel(self, req_id):
        t = self.runs.get(req_id)
        if t is None:
            return False
        t.cancel()
        return True

    async def _request(self, req_id, requestor, trigger, plan, stop, via, first):
        if req_id is not None:
            self.runs[req_id] = asyncio.current_task()
        total = len(plan)
        done = 0  # tests with a result
        failed = False
        final = "Finished"
        try:
            for tid, vals, evse in plan:
                if failed and stop:
                    self.skip(tid, vals, requestor, trigger, req_id, "StopOnFailure",
                              "an earlier test of this request failed", first + done, evse)
                else:
                    await self._status(req_id, "Running", via, tid, done, total, evse)
                    # From here on the test writes its own result, even when cancelled.
                    done += 1
                    v = await self._run_one_surely(tid, vals, requestor, trigger, req_id, done > 1,
                                                   first + done - 1, evse)
                    failed = failed or v in _FAILURES
                    continue
                done += 1
        except asyncio.CancelledError:
            for i in range(done, total):
                tid, vals, evse = plan[i]
                self.skip(tid, vals, requestor, trigger, req_id, "Cancelled", "request cancelled", first + i,
                          evse)
            done = total
            final = "Cancelled"
        finally:
            # Free the slot before the last notification: the CSMS may start the
            # next request as soon as it reads it.
            self.active -= 1
            if req_id is not None:
                self.runs.pop(req_id, None)
        if req_id is not None:
            # In a task of its own: after a cancel, MicroPython's wait_for cancels the
            # task it waited in once more when the test's runner task ends, which
            # would cut any await here short.
            self.agent.spawn(self._finish(req_id, final, via, done, total, first))

    async def _finish(self, req_id, final, via, done, total, first):
        # The final status follows the request's results on the wire (SPEC 6.2, 6.3):
        # a CSMS that reads Finished or Cancelled already has every result.
        await self.agent.diag.delivered(first, total)
        await self._status(req_id, final, via, None, done, total)

    async def _status(self, req_id, status, via, tid, done, total, evse=None):
        if req_id is None:
            return
        p = {"requestId": req_id, "status": status, "timestamp": clock.iso(),
             "completed": done, "total": total}
        if tid:
            p["testId"] = tid
        if evse:
            p["evse"] = evse
        from diag import binding
        try:
            await binding.notify(self.agent, "NotifyDiagnosticsStatus", p, via)
        except Exception as e:  # MemoryError too: never at the cost of the results
            # Progress is advisory; results are what must arrive, and they are journaled.
            log.info("diag: status %s for request %d not delivered: %s", status, req_id, e)

    # --- one test -------------------------------------------------------------
    async def run_one(self, tid, vals, requestor, trigger, req_id=None, check=True, rid=None, evse=None):
        d = self.agent.diag
        reg = d.registry
        m = reg.load(tid)
        reg.busy[tid] = reg.busy.get(tid, 0) + 1
        ctx = result.Ctx(self.agent, vals)
        start = clock.iso()
        resources = m.CONSTRAINTS[2]
        locked = False
        cancelled = None
        # A run alone notes the modules loaded now: what the test imports besides
        # (DNS, NTP, TLS, Modbus helpers: up to 5 KB) goes again after it.
        mods = None if self.current else set(sys.modules)
        t0 = time.ticks_ms()
        try:
            if check:
                try:
                    self.check(tid, m, 1, evse, vals)
                except Refused as e:
                    ctx.fail(e.code, e.info)
                    verdict = "Skipped"
                    return await self._journal(tid, m.TYPE, vals, requestor, trigger, req_id, start, verdict,
                                               ctx, rid, evse)
            for r in resources:
                self.locks[r] = tid
            locked = True
            self.current.append(tid)
            self.started[tid] = t0
            if m.CONSTRAINTS[1] or getattr(m, "COST", None) and m.COST[2]:
                from diag import guards
                guards.started(self.agent, tid, m, vals, requestor, req_id, evse)
            if self.stall:
                import micropython
                self.stall.reset()
                a0 = micropython.mem_total()
            try:
                verdict = await asyncio.wait_for(m.run(ctx), m.CONSTRAINTS[3])
                if verdict not in VERDICTS:
                    ctx.fail("BadVerdict", "test returned %r" % (verdict,))
                    verdict = "Error"
            except asyncio.TimeoutError:
                verdict = "TimedOut"
                ctx.fail("Timeout", "no verdict within %d s" % m.CONSTRAINTS[3])
            except asyncio.CancelledError as e:
                verdict = "Aborted"
                ctx.fail("Cancelled", "cancelled while running")
                cancelled = e
            except MemoryError:
                ctx.meas = []
                gc.collect()
                verdict = "Error"
                ctx.fail("OutOfMemory", "MemoryError inside the test")
            except Exception as e:
                verdict = "Error"
                ctx.fail("Exception", "%s: %s" % (type(e).__name__, e))
            ms = time.ticks_diff(time.ticks_ms(), t0)
            if self.stall:
                log.info("diag: %s %s in %d ms (loop stall %d ms, allocated %d B)", tid, verdict, ms,
                         self.stall.max_ms, micropython.mem_total() - a0)
            else:
                log.info("diag: %s %s in %d ms", tid, verdict, ms)
            await self._journal(tid, m.TYPE, vals, requestor, trigger, req_id, start, verdict, ctx, rid, evse)
        finally:
            if locked:
                self.current.remove(tid)
                for r in resources:
                    if self.locks.get(r) == tid:
                        del self.locks[r]
            reg.busy[tid] -= 1
            reg.unload(tid)
            if mods is not None and not self.current:
                _drop_since(mods)
        if cancelled:
            raise cancelled
        return verdict

    def skip(self, tid, vals, requestor, trigger, req_id, code, info, rid=None, evse=None):
        ctx = result.Ctx(self.agent, vals)
        ctx.fail(code, info)
        now = clock.iso()
        self._record(tid, self.agent.diag.registry.type_of(tid), vals, requestor, trigger, req_id,
                     now, "Skipped", ctx, rid, evse)

    async def _run_one_surely(self, tid, vals, requestor, trigger, req_id, check, rid, evse=None):
        """run_one, again when the heap was too short to even start it (loading the
        module, logging): the test ends in a result whatever the heap does."""
        for _ in range(20):
            try:
                return await self.run_one(tid, vals, requestor, trigger, req_id, check, rid, evse)
            except MemoryError:
                gc.collect()
                await asyncio.sleep_ms(100)
        ctx = result.Ctx(self.agent, None)
        ctx.fail("OutOfMemory", "the test could not be started: no heap left")
        return await self._journal(tid, self.agent.diag.registry.type_of(tid), vals, requestor, trigger,
                                   req_id, clock.iso(), "Error", ctx, rid, evse)

    async def _journal(self, *args):
        """_record, retried while the heap is short: a burst of reports and catalogs
        holds memory for a moment, and the result must still be written."""
        for _ in range(50):
            try:
                return self._record(*args)
            except MemoryError:
                gc.collect()
                await asyncio.sleep_ms(100)
        return self._record(*args)

    def _record(self, tid, ttype, vals, requestor, trigger, req_id, start, verdict, ctx, rid=None, evse=None):
        """Journal the result: exactly one per test, even when the heap is nearly full
        (then without its measurements and evidence, saying why)."""
        d = self.agent.diag
        if rid is None:
            rid = d.next_result_id()
        try:
            r = result.make(rid, tid, ttype, requestor, trigger, vals, start, clock.iso(), verdict, ctx, req_id,
                            evse)
            d.journal.append(r)
        except MemoryError:
            r = None
            ctx.meas = []
            ctx.ev = []
            gc.collect()
            ctx.fail("OutOfMemory", "no heap left for the full result; measurements dropped")
            r = result.make(rid, tid, ttype, requestor, trigger, None, start, clock.iso(), verdict, ctx, req_id,
                            evse)
            d.journal.append(r)
        try:
            prev = d.last.get(tid)
            state = ctx.health or verdict
            d.remember(tid, verdict, r["endTime"], rid, ctx.health)
            if ctx.health in ("Degraded", "Unhealthy") and \
                    self.agent.dm.get("DiagnosticsCtrlr", "ReflexOnDegraded"):
                try:  # the reflex (DG20), loaded only when configured and needed
                    lazy.load("diag.reflex").fire(self.agent, requestor)
                finally:
                    lazy.drop("diag.reflex")
            if verdict != "Skipped":
                from diag import events
                events.on_result(self.agent, tid, state, prev and (prev[3] or prev[0]),
                                 ctx.reason and ctx.reason[1])
        except Exception as e:  # the result is safe in the journal; the rest is advisory
            log.warn("diag: after result %d: %s: %s", rid, type(e).__name__, e)
        d.wake()
        return verdict


def _drop_since(mods):
    # Runs overlapping this one may still use what they imported: called only when
    # none is left. Test modules are the registry's to keep or drop (health checks
    # stay); diag.sign stays loaded on purpose (components.py).
    for name in lazy.since(mods):
        if not name.startswith("diag.tests") and name != "diag.sign":
            lazy.drop(name)
