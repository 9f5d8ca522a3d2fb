# TCP reachability: each configured endpoint (host:port) accepts a connection
# within the timeout. A refused port (RST: nothing listens) is told apart from a
# silent one (no answer: filtered, or the host is down) and from an unreachable
# network, since each points an operator at a different fault.
import time

TYPE = "IntegrationTest"
VERSION = "1.0"
DESCRIPTION = ("Each TCP endpoint (DiagnosticsTargets.TcpEndpoints) accepts a connection; "
               "names resolve through DnsResolver, else the blocking getaddrinfo")
PARAMS = (
    ("endpoints", "string", None, None, None, None, None, False,
     "host:port,... (default DiagnosticsTargets.TcpEndpoints)"),
    ("timeoutMs", "integer", "ms", 50, 30000, None, 3000, False, "connect timeout per endpoint"),
    ("maxConnectMs", "integer", "ms", 1, 30000, None, 1000, False, "connect time that passes"),
)
CONSTRAINTS = (None, False, (), 120, 0, True)
MEASURES = (("connectTime@endpoint", "ms", "<= maxConnectMs"),)
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error", "TimedOut")
SCOPE = "station"
CLASSES = ("EndpointReachability",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "External")
OUTCOME = ("Passed: every endpoint accepted a TCP connection within maxConnectMs; evidence says open, "
           "refused, timeout (filtered) or unreachable per endpoint")
_CODES = ("refused", "Refused", "timeout", "NoAnswer", "unreachable", "Unreachable")


async def run(ctx):
    from diag import targets
    from net import dns, sock
    p = ctx.p
    eps = targets.get(ctx, "endpoints", "TcpEndpoints")
    if not eps:
        ctx.fail("NoTargets", "no TCP endpoints configured (DiagnosticsTargets.TcpEndpoints)")
        return "Inconclusive"
    res = targets.resolver(ctx)
    bad = []
    for ep in eps:
        try:
            host, port = sock.split_hostport(ep, 0)
            ip = await dns.address(host, res)
        except (ValueError, dns.DnsError, sock.NetError, OSError) as e:
            ctx.evidence("%s: cannot resolve (%s)" % (ep, e))
            bad.append((ep, "Unresolved"))
            continue
        t0 = time.ticks_ms()
        s = None
        try:
            s = await sock.connect(ip, port, p["timeoutMs"])
            ms = time.ticks_diff(time.ticks_ms(), t0)
            ok = ctx.measure(targets.key("connectTime", ep), ms, "ms", "<= %d" % p["maxConnectMs"],
                             ms <= p["maxConnectMs"])
            ctx.evidence("%s open in %d ms" % (ep, ms))
            if not ok:
                bad.append((ep, "Slow"))
        except sock.NetError as e:
            ms = time.ticks_diff(time.ticks_ms(), t0)
            what = {"timeout": "no answer (filtered or host down)", "refused": "refused (nothing listens)",
                    "unreachable": "network unreachable"}.get(e.kind, str(e))
            ctx.evidence("%s %s after %d ms" % (ep, what, ms))
            bad.append((ep, _CODES[_CODES.index(e.kind) + 1] if e.kind in _CODES else "ConnectError"))
        finally:
            if s is not None:
                s.close()
    if not bad:
        return "Passed"
    ctx.fail(bad[0][1], "; ".join("%s %s" % b for b in bad))
    return "Failed"
