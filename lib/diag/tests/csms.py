# CSMS round trip: one Heartbeat CALL timed from send to CALLRESULT, against a
# limit, and the CSMS's clock next to the station's. Offline is the finding this
# test exists for, so it is a Failed result ("Offline"), never a refusal: the
# constraint needsNetwork stays false on purpose (the runner refuses or skips a
# needsNetwork test while offline, which would hide exactly this).
# Beside it, the WebSocket ping RTT (a ping whose pong the receive loop recognises
# by its data): the transport's round trip without the CSMS's application work.
import asyncio
import time

TYPE = "IntegrationTest"
VERSION = "1.0"
DESCRIPTION = "CSMS reachable: Heartbeat round-trip time against a limit (Failed 'Offline' when not connected)"
PARAMS = (
    ("maxRttMs", "integer", "ms", 1, 60000, None, 2000, False, "Heartbeat round trip that passes"),
    ("timeoutMs", "integer", "ms", 100, 60000, None, 5000, False, "wait for the response at most"),
)
# allowedStates, intrusive, exclusiveResources, timeout s, minInterval s, needsNetwork
CONSTRAINTS = (None, False, (), 70, 0, False)
MEASURES = (("connected", None, "= 1"), ("heartbeatRtt", "ms", "<= maxRttMs"), ("pingRtt", "ms", None),
            ("csmsClockDelta", "s", None))
VERDICTS = ("Passed", "Failed", "Error", "TimedOut")
SCOPE = "station"
CLASSES = ("CsmsLatency",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "Csms")
OUTCOME = ("Passed: connected, and a Heartbeat answered within maxRttMs. The WebSocket ping round "
           "trip (pingRtt) and csmsClockDelta are informational")


async def run(ctx):
    from ocpp.responses import HEARTBEAT
    from ocpp.rpc import CallError, Offline
    a = ctx.agent
    p = ctx.p
    if not a.rpc.online:
        ctx.measure("connected", 0, None, "= 1", False)
        ctx.evidence("no WebSocket connection to %s" % a.cfg["csmsUrl"])
        ctx.fail("Offline", "not connected to the CSMS")
        return "Failed"
    ctx.measure("connected", 1, None, "= 1", True)
    t0 = time.ticks_ms()
    try:
        res = await a.rpc.call("Heartbeat", {}, p["timeoutMs"], HEARTBEAT)
    except Offline:
        ctx.fail("Offline", "connection lost during the Heartbeat")
        return "Failed"
    except asyncio.TimeoutError:
        ctx.measure("heartbeatRtt", p["timeoutMs"], "ms", "<= %d" % p["maxRttMs"], False)
        ctx.fail("NoResponse", "no Heartbeat response within %d ms" % p["timeoutMs"])
        return "Failed"
    except CallError as e:
        ctx.fail("CallError", "Heartbeat answered with %s %s" % (e.code, e.desc))
        return "Failed"
    rtt = time.ticks_diff(time.ticks_ms(), t0)
    ok = ctx.measure("heartbeatRtt", rtt, "ms", "<= %d" % p["maxRttMs"], rtt <= p["maxRttMs"])
    import clock
    try:
        delta = clock.parse(res.get("currentTime", "")) - int(clock.now())
        ctx.measure("csmsClockDelta", delta, "s")
    except (ValueError, IndexError):
        pass
    ws = a.rpc.ws
    try:
        ping = await ws.ping_rtt(p["timeoutMs"])
        ctx.measure("pingRtt", ping, "ms")
        ctx.evidence("Heartbeat answered in %d ms, WebSocket ping in %d ms" % (rtt, ping))
    except (asyncio.TimeoutError, AttributeError, OSError) as e:
        ctx.evidence("Heartbeat answered in %d ms; no pong within %d ms (%s)" % (rtt, p["timeoutMs"],
                                                                               type(e).__name__))
    if ok:
        return "Passed"
    ctx.fail("SlowCsms", "Heartbeat round trip %d ms over %d ms" % (rtt, p["maxRttMs"]))
    return "Failed"
