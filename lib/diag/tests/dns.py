# DNS: each configured host name resolves (A and AAAA) through the configured
# resolver, asked directly with a small non-blocking stub (net/dns.py) so the
# answer, its TTL, its rcode and the time taken are all seen. With no resolver
# configured, socket.getaddrinfo is used instead: it BLOCKS the event loop (OCPP
# traffic waits) and tells only found / not found.
import time

TYPE = "IntegrationTest"
VERSION = "1.0"
DESCRIPTION = ("Each name (DiagnosticsTargets.DnsNames) resolves (A and AAAA) through DnsResolver; "
               "without a resolver, the blocking getaddrinfo (event loop stalls while it runs)")
PARAMS = (
    ("names", "string", None, None, None, None, None, False,
     "host names, comma-separated (default DiagnosticsTargets.DnsNames)"),
    ("resolver", "string", None, None, None, None, None, False,
     "ip[:port] (default DiagnosticsTargets.DnsResolver)"),
    ("maxResolveMs", "integer", "ms", 1, 30000, None, 1000, False, "resolution time that passes"),
    ("timeoutMs", "integer", "ms", 50, 10000, None, 1000, False, "wait per query"),
    ("tries", "integer", None, 1, 10, None, 3, False, "queries before the resolver counts as silent"),
)
CONSTRAINTS = (None, False, (), 120, 0, True)
MEASURES = (("resolveTime@name", "ms", "<= maxResolveMs"), ("answers@name", None, ">= 1"),
            ("ttl@name", "s", None), ("rcode@name", None, "= 0"))
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error", "TimedOut")
SCOPE = "station"
CLASSES = ("DnsResolution",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "External")
OUTCOME = ("Passed: every name has at least one A or AAAA address, rcode NOERROR, within maxResolveMs; "
           "evidence lists the addresses and TTLs")


async def run(ctx):
    from diag import targets
    from net import dns
    p = ctx.p
    names = targets.get(ctx, "names", "DnsNames")
    if not names:
        ctx.fail("NoTargets", "no names configured (DiagnosticsTargets.DnsNames)")
        return "Inconclusive"
    try:
        res = targets.resolver(ctx)
    except ValueError as e:
        ctx.fail("BadResolver", str(e))
        return "Error"
    bad = []
    for name in names:
        if res is None:
            _blocking(ctx, name, bad)
            continue
        t0 = time.ticks_ms()
        addrs, ttl, rcode, tcp = [], None, 0, False
        try:
            for qt in (dns.A, dns.AAAA):
                a = await dns.lookup(res, name, qt, p["timeoutMs"], p["tries"])
                rcode = rcode or a.rcode
                tcp = tcp or a.tcp
                addrs += a.addrs
                if a.ttl is not None:
                    ttl = a.ttl if ttl is None else min(ttl, a.ttl)
                if a.rcode:
                    break  # NXDOMAIN for A is NXDOMAIN for AAAA too
        except dns.DnsError as e:
            code = {"name": "BadName", "timeout": "NoAnswer", "refused": "ResolverDown"}.get(e.kind, "DnsError")
            # The name as given may be what is wrong with it: reported escaped.
            text = "%s: %s" % (dns.printable(name), e)
            ctx.evidence(text)
            bad.append((code, text))
            continue
        ms = time.ticks_diff(time.ticks_ms(), t0)
        rname = dns.RCODES[rcode] if rcode < len(dns.RCODES) else str(rcode)
        k = targets.key
        ok = ctx.measure(k("resolveTime", name), ms, "ms", "<= %d" % p["maxResolveMs"], ms <= p["maxResolveMs"])
        ok = ctx.measure(k("answers", name), len(addrs), None, ">= 1", len(addrs) > 0) and ok
        if ttl is not None:
            ctx.measure(k("ttl", name), ttl, "s")
        ok = ctx.measure(k("rcode", name), rcode, None, "= 0", rcode == 0) and ok
        ctx.evidence("%s: %s %s ttl %s in %d ms%s" % (name, rname, ",".join(addrs) or "no address", ttl, ms,
                                                     " (TCP after truncation)" if tcp else ""))
        if rcode:
            bad.append((rname if rname == "NXDOMAIN" else "DnsError", "%s: %s" % (name, rname)))
        elif not ok:
            bad.append(("NoAddress" if not addrs else "SlowDns", "%s: %s in %d ms" % (name, ",".join(addrs), ms)))
    if not bad:
        return "Passed"
    ctx.fail(bad[0][0], "; ".join(b[1] for b in bad))
    return "Failed"


def _blocking(ctx, name, bad):
    # No resolver configured: the system's getaddrinfo, which blocks.
    import socket
    from net import dns
    try:
        dns.encode_name(name)
        t0 = time.ticks_ms()
        n = len(socket.getaddrinfo(name, 0))
    except (dns.DnsError, OSError) as e:
        text = "%s: %s" % (dns.printable(name), e)
        ctx.evidence(text + " (getaddrinfo)")
        bad.append(("BadName" if isinstance(e, dns.DnsError) else "NotFound", text))
        return
    ms = time.ticks_diff(time.ticks_ms(), t0)
    ctx.measure(targets_key("resolveTime", name), ms, "ms", "<= %d" % ctx.p["maxResolveMs"],
                ms <= ctx.p["maxResolveMs"])
    ctx.measure(targets_key("answers", name), n, None, ">= 1", n > 0)
    ctx.evidence("%s: found by getaddrinfo in %d ms (blocking; no resolver configured)" % (name, ms))


def targets_key(m, name):
    from diag import targets
    return targets.key(m, name)
