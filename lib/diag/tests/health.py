# Health check: a cheap aggregated indicator of whether the station can start a
# charging session now: free RAM, free flash, event-loop headroom (loop lag),
# CSMS connectivity and the last verdicts of the self tests.
#   Unhealthy: RAM or flash below the hard limits.
#   Degraded:  loop lag high, CSMS not reachable, or a self test last failed.
import gc
import os
import time

TYPE = "HealthCheck"
VERSION = "1.0"
DESCRIPTION = "Enough RAM, flash and event-loop headroom to start a charging session"
PARAMS = (
    ("minFreeHeap", "integer", "B", 0, 16777216, None, 8192, False, "Unhealthy below"),
    ("minFreeFlash", "integer", "B", 0, 1073741824, None, 16384, False, "Unhealthy below"),
    ("maxLoopLagMs", "integer", "ms", 1, 10000, None, 50, False, "Degraded above"),
)
CONSTRAINTS = (None, False, (), 5, 0, False)
MEASURES = (("freeHeap", "B", ">= minFreeHeap"), ("freeFlash", "B", ">= minFreeFlash"),
            ("loopLag", "ms", "<= maxLoopLagMs"), ("csmsConnected", None, "= 1"),
            ("failedSelfTests", None, "= 0"))
VERDICTS = ("Passed", "Failed", "Error")
SCOPE = "station"
CLASSES = ("StationHealth",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "None")
OUTCOME = "Passed when Healthy; Failed when Degraded or Unhealthy (healthStatus and evidence say why)"


async def run(ctx):
    import asyncio
    p = ctx.p
    a = ctx.agent
    bad = []
    soft = []
    # Collect first: uncollected garbage is memory a session can have. On a
    # 100-200 KB heap a collection takes about a millisecond.
    gc.collect()
    free = gc.mem_free()
    if not ctx.measure("freeHeap", free, "B", ">= %d" % p["minFreeHeap"], free >= p["minFreeHeap"]):
        bad.append("free heap %d B" % free)
    try:
        st = os.statvfs(a.store.dir)
    except (OSError, AttributeError) as e:
        # A filesystem that cannot say (seen: a host directory mounted over mpremote):
        # an aggregate check still gives its verdict, with flash counted as unknown.
        st = None
        soft.append("free flash unknown (%s)" % e)
    if st:
        flash = st[0] * st[4]
        if not ctx.measure("freeFlash", flash, "B", ">= %d" % p["minFreeFlash"], flash >= p["minFreeFlash"]):
            bad.append("free flash %d B" % flash)
    lag = 0
    for _ in range(3):
        t0 = time.ticks_us()
        await asyncio.sleep_ms(1)
        lag = max(lag, time.ticks_diff(time.ticks_us(), t0) - 1000)
    lag_ms = max(0, lag) // 1000
    if not ctx.measure("loopLag", lag_ms, "ms", "<= %d" % p["maxLoopLagMs"], lag_ms <= p["maxLoopLagMs"]):
        soft.append("loop lag %d ms" % lag_ms)
    up = a.rpc.online and a.station.boot_status == "Accepted"
    if not ctx.measure("csmsConnected", 1 if up else 0, None, "= 1", up):
        soft.append("CSMS not connected")
    failed = []
    for tid, last in a.diag.last.items():
        if last[0] in ("Failed", "Error", "TimedOut") and a.diag.registry.type_of(tid) == "SelfTest":
            failed.append(tid)
    if not ctx.measure("failedSelfTests", len(failed), None, "= 0", not failed):
        soft.append("self tests last failed: " + ",".join(failed))
    if bad:
        ctx.health = "Unhealthy"
    elif soft:
        ctx.health = "Degraded"
    else:
        ctx.health = "Healthy"
        return "Passed"
    ctx.evidence("; ".join(bad + soft))
    ctx.fail(ctx.health, "; ".join(bad + soft))
    return "Failed"
