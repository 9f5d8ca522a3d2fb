# NTP servers: one SNTP query (RFC 4330, mode 3) to each configured server, over
# non-blocking UDP: reachability, offset of the station clock, round-trip delay,
# stratum, leap indicator, root delay and dispersion against limits. A kiss-of-
# death (stratum 0: DENY, RSTR, RATE...) is reported and that server is not asked
# again in this run. The station clock is only read, never set.
import time

TYPE = "IntegrationTest"
VERSION = "1.0"
DESCRIPTION = ("Each NTP server (DiagnosticsTargets.NtpServers, ClockCtrlr.NtpServerUri) answers SNTP; "
               "offset, delay, stratum, leap, root delay/dispersion against limits")
PARAMS = (
    ("servers", "string", None, None, None, None, None, False,
     "host[:port],... (default DiagnosticsTargets.NtpServers and ClockCtrlr.NtpServerUri)"),
    # The station clock follows the CSMS's currentTime in whole seconds: up to
    # ~1 s off by design, so the default limit leaves room for that.
    ("maxOffsetMs", "integer", "ms", 1, 86400000, None, 2000, False, "|offset| that passes"),
    ("maxDelayMs", "integer", "ms", 1, 60000, None, 500, False, "round-trip delay that passes"),
    ("maxStratum", "integer", None, 1, 15, None, 10, False, "highest stratum that passes"),
    ("maxRootDelayMs", "integer", "ms", 0, 60000, None, 1000, False, "root delay that passes"),
    ("maxRootDispersionMs", "integer", "ms", 0, 60000, None, 1000, False, "root dispersion that passes"),
    ("timeoutMs", "integer", "ms", 50, 10000, None, 1000, False, "wait per try"),
    ("tries", "integer", None, 1, 10, None, 3, False, "queries per server before it counts as silent"),
)
CONSTRAINTS = (None, False, (), 120, 0, True)
MEASURES = (("offset@server", "ms", "|x| <= maxOffsetMs"), ("delay@server", "ms", "<= maxDelayMs"),
            ("stratum@server", None, "<= maxStratum"), ("leap@server", None, "!= 3"),
            ("rootDelay@server", "ms", "<= maxRootDelayMs"),
            ("rootDispersion@server", "ms", "<= maxRootDispersionMs"))
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error", "TimedOut")
SCOPE = "station"
CLASSES = ("TimeSourceReachability",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "External")
OUTCOME = ("Passed: every server answered and every value is within its limit; the station clock "
           "is compared, never set")


def _ms(us):
    return (us + 500) // 1000


def servers(ctx):
    from diag import targets
    out = targets.get(ctx, "servers", "NtpServers")
    if ctx.p.get("servers") is None:
        uri = ctx.agent.dm.get("ClockCtrlr", "NtpServerUri", "1")
        if uri and uri not in out:
            out.append(uri)
    return out


async def run(ctx):
    from diag import targets
    from net import dns, sntp, sock
    p = ctx.p
    srv = servers(ctx)
    if not srv:
        ctx.fail("NoTargets", "no NTP server configured (DiagnosticsTargets.NtpServers)")
        return "Inconclusive"
    res = targets.resolver(ctx)
    bad = []
    for name in srv:
        try:
            host, port = sock.split_hostport(name, 123)
            ip = await dns.address(host, res)
            t0 = time.ticks_ms()
            r = await sntp.query(ip, port, p["timeoutMs"], p["tries"])
        except sntp.SntpError as e:
            code = "KissOfDeath" if e.kind == "kod" else "NoReply" if e.kind == "timeout" else "NtpError"
            ctx.evidence("%s: %s" % (name, e))
            bad.append((name, code, str(e)))
            continue
        except (ValueError, dns.DnsError, sock.NetError, OSError) as e:
            ctx.evidence("%s: cannot resolve (%s)" % (name, e))
            bad.append((name, "Unresolved", str(e)))
            continue
        # Whole milliseconds: a fraction would not survive the result checksum alike
        # on both ends (MicroPython prints 0.812 as 0.8120000000000001).
        off = _ms(r.offset_us)
        dl = _ms(r.delay_us)
        checks = (
            ("offset", off, "ms", "|x| <= %d" % p["maxOffsetMs"], abs(off) <= p["maxOffsetMs"]),
            ("delay", dl, "ms", "<= %d" % p["maxDelayMs"], dl <= p["maxDelayMs"]),
            ("stratum", r.stratum, None, "<= %d" % p["maxStratum"], r.stratum <= p["maxStratum"]),
            ("leap", r.leap, None, "!= 3", r.leap != 3),
            ("rootDelay", _ms(r.root_delay_us), "ms", "<= %d" % p["maxRootDelayMs"],
             r.root_delay_us <= p["maxRootDelayMs"] * 1000),
            ("rootDispersion", _ms(r.root_disp_us), "ms", "<= %d" % p["maxRootDispersionMs"],
             r.root_disp_us <= p["maxRootDispersionMs"] * 1000))
        over = []
        for m, v, unit, lim, ok in checks:
            if not ctx.measure(targets.key(m, name), v, unit, lim, ok):
                over.append("%s %s (limit %s)" % (m, ctx.meas[-1]["value"], lim))
        ctx.evidence("%s: stratum %d, offset %d ms, delay %d ms, %d tries in %d ms%s" % (
            name, r.stratum, off, dl, r.tries, time.ticks_diff(time.ticks_ms(), t0),
            ", leap second pending" if r.leap in (1, 2) else ""))
        if over:
            code = "Unsynchronized" if r.leap == 3 else "OffsetTooLarge" if abs(off) > p["maxOffsetMs"] \
                else "OutOfLimits"
            bad.append((name, code, ", ".join(over)))
    if not bad:
        return "Passed"
    ctx.fail(bad[0][1], "; ".join("%s: %s" % (b[0], b[2]) for b in bad))
    return "Failed"
