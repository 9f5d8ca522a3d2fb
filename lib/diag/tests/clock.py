# Clock self test: is the station's clock right, and how fast does it run away from
# the CSMS's between two adoptions? A Heartbeat of its own gives the CSMS time without
# adopting it (the test must not change what it measures):
#   offset = station time at the middle of the round trip - currentTime, +-RTT/2;
#   drift  = that offset / time since the clock last adopted the CSMS time
#            (clock.adopted), judged only beyond its measuring uncertainty (a short
#            time since the last adoption makes a large one).
# Offline it cannot ask: Inconclusive, saying what it knows.
import asyncio

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Station clock against the CSMS time (a Heartbeat, not adopted): offset and drift"
PARAMS = (
    ("maxOffsetMs", "integer", "ms", 1, 86400000, None, 2000, False, "largest offset that passes"),
    ("maxDriftPpm", "integer", "ppm", 1, 1000000, None, 500, False,
     "largest drift since the last adoption that passes (beyond the measuring uncertainty)"),
)
# needsNetwork False: offline or before the first boot it still reports why it cannot decide.
CONSTRAINTS = (None, False, (), 15, 0, False)
MEASURES = (("offset", "ms", "abs <= maxOffsetMs"), ("roundTrip", "ms", None),
            ("drift", "ppm", "abs <= maxDriftPpm"), ("sinceAdoption", "ms", None),
            ("lastCorrection", "ms", None))
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error")
SCOPE = "station"
CLASSES = ("ClockDrift",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "Csms")
OUTCOME = "Passed: station clock within maxOffsetMs of the CSMS time and drifting less than maxDriftPpm"


def _undecided(ctx, code, info):
    ctx.evidence(info)
    ctx.fail(code, info)
    return "Inconclusive"


async def run(ctx):
    import time
    import clock
    from ocpp.responses import HEARTBEAT
    from ocpp.rpc import CallError, Offline
    a = ctx.agent
    p = ctx.p
    last = clock.adopted
    if last:
        ctx.measure("lastCorrection", last[1], "ms")
    if not a.rpc.online:
        if not last:
            return _undecided(ctx, "NeverSynced", "the station has never received the CSMS time "
                              "(no BootNotification or Heartbeat response yet) and is offline")
        return _undecided(ctx, "Offline", "offline: cannot ask the CSMS for its time; last adopted "
                          "%d s ago, correcting %d ms" % ((clock.local_ms() - last[0]) // 1000, last[1]))
    t0 = time.ticks_ms()
    try:
        res = await a.rpc.call("Heartbeat", {}, resp=HEARTBEAT)
    except (CallError, Offline, asyncio.TimeoutError) as e:
        return _undecided(ctx, "NoCsmsTime", "Heartbeat failed: %s %s" % (type(e).__name__, e))
    t1 = time.ticks_ms()
    st = clock.now_ms()
    # Waiting for the RPC lock is not network time: time from when our CALL left
    # (the agent stamps station.last_tx on every send).
    sent = a.station.last_tx
    if time.ticks_diff(sent, t0) < 0 or time.ticks_diff(t1, sent) < 0:
        sent = t0
    rtt = time.ticks_diff(t1, sent)
    ct = res.get("currentTime")
    try:
        csms = clock.parse_ms(ct)
    except (ValueError, IndexError, TypeError):
        return _undecided(ctx, "NoCsmsTime", "the CSMS answered Heartbeat without a readable "
                          "currentTime: %r" % (ct,))
    off = st - rtt // 2 - csms
    lim = p["maxOffsetMs"]
    ctx.measure("roundTrip", rtt, "ms")
    if rtt // 2 > lim:
        return _undecided(ctx, "SlowRoundTrip", "round trip %d ms: too slow to measure an offset "
                          "to %d ms" % (rtt, lim))
    ok = ctx.measure("offset", off, "ms", "abs <= %d" % lim, abs(off) <= lim)
    bad = []
    if not ok:
        bad.append("offset %d ms (limit %d ms)" % (off, lim))
    ctx.evidence("offset %d ms +-%d ms: station %s, CSMS %s" % (off, rtt // 2 + 1, clock.iso(st // 1000), ct))
    if last is None:
        ctx.evidence("drift not measured: the clock never adopted the CSMS time")
    else:
        since = clock.local_ms() - last[0]
        ctx.measure("sinceAdoption", since, "ms")
        if since > 0:
            # The last adoption was off by up to its one-way delay too: +-RTT in all,
            # plus 20 ms for a loaded station that runs its tasks late (seen: a drift
            # of 3000 ppm +-1300 measured 2.3 s after adoption on a busy machine).
            drift = off * 1000000 // since
            unc = (rtt + 21) * 1000000 // since
            lim = p["maxDriftPpm"]
            ok = ctx.measure("drift", drift, "ppm", "abs <= %d (measured +-%d)" % (lim, unc),
                             abs(drift) - unc <= lim)
            ctx.evidence("drift %d ppm +-%d over %d ms since the last adoption" % (drift, unc, since))
            if not ok:
                bad.append("drift %d ppm +-%d (limit %d ppm)" % (drift, unc, lim))
    if bad:
        ctx.fail("ClockOffset" if not bad[0].startswith("drift") else "ClockDrift", "; ".join(bad))
        return "Failed"
    return "Passed"
