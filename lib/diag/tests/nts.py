# NTS (RFC 8915) readiness, checked as far as this firmware can: the NTS-KE port
# of each server accepts TCP; the server's certificate chain verifies against each
# configured root CA where the TLS module can complete a handshake; each root CA
# is itself valid (dates, cA, keyCertSign; parsed by net/x509.py) and not about to
# expire. The NTS-KE exchange itself needs TLS 1.3 with ALPN "ntske/1": where the
# TLS module offers ALPN (asked at run time) it is run and its records read
# (net/ntske.py); MicroPython's TLS has no ALPN today. The authenticated NTP
# request also needs a key exporter and AES-SIV-CMAC-256, which no firmware here
# has. So the verdict is Inconclusive at best, never Passed; a real fault found
# on the way is Failed.
import asyncio
import time

TYPE = "IntegrationTest"
VERSION = "1.0"
DESCRIPTION = ("NTS-KE port open, server chain vs root CAs where TLS allows, root CAs valid; "
               "the NTS-KE exchange is not possible with this TLS module (Inconclusive)")
PARAMS = (
    ("servers", "string", None, None, None, None, None, False,
     "host[:port],... of NTS-KE (default port 4460; default DiagnosticsTargets.NtsServers)"),
    ("caFiles", "string", None, None, None, None, None, False,
     "root CA files (DER or PEM), comma-separated (default DiagnosticsTargets.NtsCaFiles)"),
    ("expiryDays", "integer", "d", 0, 3650, None, 30, False, "a CA expiring within this many days is flagged"),
    ("expiryAction", "enum", None, None, None, ("Fail", "Warn"), "Fail", False,
     "Fail: an expiring CA fails the test; Warn: evidence only"),
    ("timeoutMs", "integer", "ms", 50, 30000, None, 3000, False, "connect and handshake timeout"),
)
CONSTRAINTS = (None, False, (), 120, 0, True)
MEASURES = (("caDaysLeft@ca", "d", ">= expiryDays"), ("keConnectTime@server", "ms", None),
            ("chainVerified@server", None, "= 1"))
VERDICTS = ("Failed", "Inconclusive", "Error", "TimedOut")
SCOPE = "station"
CLASSES = ("TimeSourceAuthenticity",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (2, 0, 0, "External")  # a TLS handshake: seconds on a microcontroller
OUTCOME = ("Never Passed: checks the NTS-KE TCP port, the root CAs (validity, cA, keyCertSign, "
           "expiry) and the server chain where a TLS 1.2 handshake gets that far. NOT verified with "
           "MicroPython's TLS (no TLS 1.3 / ALPN): the NTS-KE exchange (next protocol, AEAD, "
           "cookies); nowhere: an authenticated NTP request. Inconclusive, evidence names why")


def _cas(ctx, bad):
    from diag import targets
    from net import x509
    import tlsctx
    p = ctx.p
    now = x509.now_s()
    out = []
    for path in targets.get(ctx, "caFiles", "NtsCaFiles"):
        try:
            der = tlsctx.read_ca(path)
            c = x509.parse(der)
        except (OSError, ValueError) as e:
            ctx.evidence("CA %s unreadable: %s" % (path, e))
            bad.append(("CaUnreadable", "%s: %s" % (path, e)))
            continue
        name = c.cn or path
        left = (c.not_after - now) // 86400
        soon = ctx.measure(targets.key("caDaysLeft", name), left, "d", ">= %d" % p["expiryDays"],
                           left >= p["expiryDays"])
        if now < c.not_before:
            bad.append(("CaNotYetValid", "CA %s not valid before %s" % (name, _date(c.not_before))))
        elif now > c.not_after:
            bad.append(("CaExpired", "CA %s expired %s" % (name, _date(c.not_after))))
        elif not soon:
            msg = "CA %s expires %s, in %d days (limit %d)" % (name, _date(c.not_after), left, p["expiryDays"])
            if p["expiryAction"] == "Fail":
                bad.append(("CaExpiresSoon", msg))
            else:
                ctx.evidence("warning: " + msg)
        if not (c.has_bc and c.ca):
            bad.append(("NotACa", "%s is not a CA certificate (basicConstraints cA false or absent)" % name))
        elif not c.cert_sign():
            bad.append(("NotACa", "CA %s may not sign certificates (keyUsage without keyCertSign)" % name))
        ctx.evidence("CA %s valid %s..%s" % (name, _date(c.not_before), _date(c.not_after)))
        out.append((name, der))
    return out


def _ke_result(ctx, name, ke, bad):
    why = ke.problem()
    ctx.evidence("%s: NTS-KE next protocol %s, AEAD %s, %d cookies, NTP at %s:%s" % (
        name, ke.protocols, ke.aead, len(ke.cookies), ke.server or "(same host)", ke.port or 123))
    if why:
        bad.append(("NtsKeRefused", "%s: NTS-KE %s" % (name, why)))


def _date(s):
    from net import x509
    d = s // 86400
    # inverse of days_from_civil, for the evidence text only
    y = 1970 + d * 400 // 146097
    while x509.days_from_civil(y, 1, 1) > d:
        y -= 1
    while x509.days_from_civil(y + 1, 1, 1) <= d:
        y += 1
    m = 1
    while m < 12 and x509.days_from_civil(y, m + 1, 1) <= d:
        m += 1
    return "%04d-%02d-%02d" % (y, m, d - x509.days_from_civil(y, m, 1) + 1)


async def _handshake(host, ip, port, der, timeout_ms, alpn):
    """-> "ok" (chain verified), ("ke", KeResponse) after a full NTS-KE exchange
    (alpn: the TLS module offers ALPN), ("bad", why) when the chain does not
    verify, ("cannot", why) when the handshake ends before the certificate is
    judged."""
    import tls
    from net import ntske, sock
    s = await sock.connect(ip, port, timeout_ms)
    ss = None
    try:
        c = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        c.verify_mode = tls.CERT_REQUIRED  # the default is CERT_NONE
        c.load_verify_locations(der)
        if alpn:
            c.set_alpn_protocols(["ntske/1"])
        ss = c.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
        st = asyncio.StreamReader(ss)
        # The request drives the handshake; over TLS 1.2 no server answers it.
        st.write(ntske.REQUEST)
        await asyncio.wait_for_ms(st.drain(), timeout_ms)
        if not alpn:
            return "ok"
        buf = b""
        while True:  # records up to End of Message
            head = await asyncio.wait_for_ms(st.readexactly(4), timeout_ms)
            body = await asyncio.wait_for_ms(st.readexactly(ntske.record_len(head)), timeout_ms)
            buf += head + body
            if ntske.is_end(head) or len(buf) > 8192:
                return ("ke", ntske.parse(buf))
    except asyncio.TimeoutError:
        return ("cannot", "no TLS handshake or NTS-KE answer within %d ms" % timeout_ms)
    except ValueError as e:  # mbedTLS: certificate verification failed (or KeError)
        return ("bad", " ".join(str(e).split()))
    except (OSError, EOFError) as e:
        return ("cannot", " ".join(str(e).split()) or "connection closed")
    finally:
        if ss is not None:
            try:
                ss.close()
            except OSError:
                pass
        s.close()


async def run(ctx):
    import tls
    from diag import targets
    from net import dns, sock
    p = ctx.p
    # The NTS-KE exchange needs what this TLS module may lack: asked, never assumed.
    missing = [n for n in ("set_alpn_protocols", "export_keying_material")
               if not hasattr(tls.SSLContext, n)]
    alpn = "set_alpn_protocols" not in missing
    if not hasattr(tls, "PROTOCOL_TLSv1_3"):
        missing.append("TLS 1.3")
    if alpn:
        ctx.evidence("not verified: an authenticated NTP request (needs the TLS key exporter and "
                     "AES-SIV-CMAC-256, which this firmware's crypto lacks)")
    else:
        ctx.evidence("not verified: NTS-KE exchange (next protocol, AEAD, cookies) and an authenticated "
                     "NTP request; this TLS module lacks %s" % ", ".join(missing))
    bad = []
    cas = _cas(ctx, bad)
    srv = targets.get(ctx, "servers", "NtsServers")
    if not srv and not cas:
        ctx.fail("NoTargets", "no NTS server and no root CA configured (DiagnosticsTargets)")
        return "Inconclusive"
    res = targets.resolver(ctx)
    cannot = []
    for name in srv:
        try:
            host, port = sock.split_hostport(name, 4460)
            ip = await dns.address(host, res)
        except (ValueError, dns.DnsError, sock.NetError, OSError) as e:
            bad.append(("Unresolved", "%s: %s" % (name, e)))
            continue
        t0 = time.ticks_ms()
        try:
            s = await sock.connect(ip, port, p["timeoutMs"])
            s.close()
        except sock.NetError as e:
            bad.append(("NtsKePortClosed" if e.kind == "refused" else "NtsKeNoAnswer",
                        "%s: NTS-KE port %s" % (name, "closed (refused)" if e.kind == "refused" else e)))
            continue
        ctx.measure(targets.key("keConnectTime", name), time.ticks_diff(time.ticks_ms(), t0), "ms")
        verified = None
        for ca, der in cas:
            r = await _handshake(host, ip, port, der, p["timeoutMs"], alpn)
            if r == "ok" or r[0] == "ke":
                verified = ca
                if r != "ok":
                    _ke_result(ctx, name, r[1], bad)
                break
            if r[0] == "bad":
                ctx.evidence("%s: chain does not verify against %s (%s)" % (name, ca, r[1]))
                verified = verified or False
            else:
                cannot.append("%s: chain cannot be verified here (TLS 1.2 handshake ended before the "
                              "certificate: %s; NTS-KE servers require TLS 1.3)" % (name, r[1]))
                break
        if verified:
            ctx.measure(targets.key("chainVerified", name), 1, None, "= 1", True)
            ctx.evidence("%s: chain verifies against %s (TLS 1.2)" % (name, verified))
        elif verified is False:
            ctx.measure(targets.key("chainVerified", name), 0, None, "= 1", False)
            bad.append(("ChainNotVerified", "%s: chain verifies against no configured root CA" % name))
    for c in cannot:
        ctx.evidence(c)
    if bad:
        ctx.fail(bad[0][0], "; ".join(b[1] for b in bad))
        return "Failed"
    ctx.fail("NtsNotVerifiable", "NTS needs TLS 1.3 + ALPN ntske/1, a key exporter and AES-SIV "
             "(missing here: %s)" % ", ".join(missing or ["AES-SIV-CMAC-256"]))
    return "Inconclusive"
