# Performance test: how long the station takes to report its entire device model
# (a FullInventory report sent to the CSMS for real, through model/report.py, each
# part awaiting its CALLRESULT), the heap that takes, and a Heartbeat round trip.
# The report's requestId is negative: the CSMS never asked for it, and the requestIds
# of its own GetBaseReport/GetReport requests cannot be matched by mistake.
import asyncio

TYPE = "PerformanceTest"
VERSION = "1.0"
DESCRIPTION = "Time and heap to report the entire device model to the CSMS; Heartbeat round trip"
PARAMS = (
    ("maxReportMs", "integer", "ms", 1, 600000, None, 10000, False, "longest full report that passes"),
    ("maxHeapBytes", "integer", "B", 1, 16777216, None, 16384, False,
     "most live heap above the start while reporting (sampled once per part)"),
    ("maxRoundTripMs", "integer", "ms", 1, 60000, None, 2000, False, "slowest Heartbeat round trip that passes"),
)
CONSTRAINTS = (None, False, (), 120, 0, True)
MEASURES = (("reportTime", "ms", "<= maxReportMs"), ("reportItems", None, None), ("reportParts", None, None),
            ("heapUsed", "B", "<= maxHeapBytes"), ("heapAllocated", "B", None),
            ("roundTrip", "ms", "<= maxRoundTripMs"))
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error")
SCOPE = "station"
CLASSES = ("ReportPerformance",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (2, 0, 0, "Csms")
OUTCOME = "Passed: full device-model report, its heap and a Heartbeat round trip within their limits"


async def run(ctx):
    import gc
    import time
    from model import report
    from ocpp.responses import HEARTBEAT
    from ocpp.rpc import CallError, Offline
    a = ctx.agent
    p = ctx.p
    if report.busy(a):
        ctx.fail("Busy", "%d reports queued: try later" % a.reporting)
        return "Inconclusive"
    try:
        import micropython
        total = micropython.mem_total  # bytes allocated so far (ports with memory stats)
    except (ImportError, AttributeError):
        total = None
    # Heap the report needs: live data, sampled after a collection when a part is
    # complete and not yet sent (its items all held). Without collecting, heap in use
    # is mostly garbage and only says when the GC last ran; mem_peak() is the
    # process's high-water mark, garbage included, never lowered.
    per = a.cfg["reportItemsPerPart"]
    st = [0, 0, 0]  # ticks of the first variable (the report lock is ours), variables, peak live

    def select(comp, v):
        if not st[1]:
            st[0] = time.ticks_ms()
        st[1] += 1
        if st[1] % per == 1:
            gc.collect()
            m = gc.mem_alloc()
            if m > st[2]:
                st[2] = m
        return True

    rid = -1 - (time.ticks_ms() & 0xFFFFFF)
    gc.collect()
    base = st[2] = gc.mem_alloc()
    a0 = total() if total else 0
    a.reporting += 1  # report.send counts it down, as for a GetBaseReport
    parts = await report.send(a, rid, select)
    t1 = time.ticks_ms()
    alloc = total() - a0 if total else None
    used = st[2] - base
    if parts is None:
        ctx.fail("ReportAborted", "report %d aborted after %d variables (link lost or part refused)"
                 % (rid, st[1]))
        return "Inconclusive"
    bad = []
    ms = time.ticks_diff(t1, st[0])
    if not ctx.measure("reportTime", ms, "ms", "<= %d" % p["maxReportMs"], ms <= p["maxReportMs"]):
        bad.append("full report %d ms (limit %d ms)" % (ms, p["maxReportMs"]))
    ctx.measure("reportItems", st[1])
    ctx.measure("reportParts", parts)
    if not ctx.measure("heapUsed", used, "B", "<= %d" % p["maxHeapBytes"], used <= p["maxHeapBytes"]):
        bad.append("heap used %d B (limit %d B)" % (used, p["maxHeapBytes"]))
    if alloc is not None:
        ctx.measure("heapAllocated", alloc, "B")
    await asyncio.sleep_ms(0)
    t0 = time.ticks_ms()
    try:
        await a.rpc.call("Heartbeat", {}, resp=HEARTBEAT)
    except (CallError, Offline, asyncio.TimeoutError) as e:
        ctx.fail("NoHeartbeat", "Heartbeat failed: %s %s" % (type(e).__name__, e))
        return "Inconclusive"
    t1 = time.ticks_ms()
    # Waiting for the RPC lock is not network time: from when our CALL left.
    sent = a.station.last_tx
    if time.ticks_diff(sent, t0) < 0 or time.ticks_diff(t1, sent) < 0:
        sent = t0
    rtt = time.ticks_diff(t1, sent)
    if not ctx.measure("roundTrip", rtt, "ms", "<= %d" % p["maxRoundTripMs"], rtt <= p["maxRoundTripMs"]):
        bad.append("Heartbeat round trip %d ms (limit %d ms)" % (rtt, p["maxRoundTripMs"]))
    ctx.evidence("report %d: %d variables in %d parts, %d ms; heap +%d B live%s; Heartbeat %d ms" % (
        rid, st[1], parts, ms, used, "" if alloc is None else ", %d B allocated" % alloc, rtt))
    if bad:
        ctx.fail("OverLimit", "; ".join(bad))
        return "Failed"
    return "Passed"
