# Security test: the station's settings against well-known insecure ones. Each check
# is a measurement whose value is the severity of its finding (0 none, 1 low,
# 2 medium, 3 high); every finding is named in the evidence with its severity. The
# test fails when a finding is at or above minSeverity. Findings describe secrets,
# never quote them (SPEC section 13).
import asyncio

TYPE = "SecurityTest"
VERSION = "1.0"
DESCRIPTION = ("No well-known insecure settings: transport, basic-auth password, CSMS CA certificate, "
               "log upload location, tests that fabricate results in production")
PARAMS = (
    ("minSeverity", "enum", None, None, None, ("high", "medium", "low"), "high", False,
     "fail on any finding at or above this severity"),
    ("caWarnDays", "integer", "d", 0, 3650, None, 30, False,
     "a CSMS CA certificate expiring within this many days is a finding"),
)
CONSTRAINTS = (None, False, (), 10, 0, False)
MEASURES = (("transport", None, "< minSeverity"), ("basicAuth", None, "< minSeverity"),
            ("caCertificate", None, "< minSeverity"), ("caValidDays", "d", ">= caWarnDays"),
            ("logUpload", None, "< minSeverity"), ("fabricatingTests", None, "< minSeverity"))
VERDICTS = ("Passed", "Failed", "Error")
SCOPE = "station"
CLASSES = ("CertificateValidity",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "None")
OUTCOME = "Passed: no finding at or above minSeverity (severity 3 high, 2 medium, 1 low, 0 none)"

_SEV = ("none", "low", "medium", "high")
# Tests whose parameters choose their verdict (pipeline checks): in production they let
# anyone with CSMS access produce any result.
_FABRICATING = ("noop",)
# Passwords that come with manuals and tutorials (16+ characters, as OCPP requires).
_DEFAULTS = ("0123456789abcdef", "1234567890123456", "passwordpassword", "changemechangeme",
             "defaultpassword1", "administrator123", "ocppocppocppocpp")


def _password(a, prod):
    cfg = a.cfg
    pw = a.store.get("dm/SecurityCtrlr/BasicAuthPassword") or cfg.get("basicAuthPassword")
    if not pw:
        return 3 if prod else 2, "no basic-auth password: the CSMS cannot authenticate the station"
    if len(pw) < 16:
        return 3, "basic-auth password shorter than 16 characters"
    low = pw.lower()
    if cfg["stationId"].lower() in low:
        return 3, "basic-auth password contains the station id"
    if low in _DEFAULTS:
        return 3, "basic-auth password is a well-known default"
    n = len(set(pw))
    if n < 6:
        return 3, "basic-auth password has only %d distinct characters" % n
    return 0, None


def _ca(ctx):
    import clock
    import lazy
    import tlsctx
    cfg = ctx.agent.cfg
    path = cfg.get("caFile")
    if not path:
        return (3, "no CSMS CA certificate for wss://") if cfg["csmsUrl"].startswith("wss://") else (0, None)
    try:
        der = tlsctx.read_ca(path)
    except (OSError, ValueError) as e:
        return 3, "CSMS CA certificate %s unreadable (%s)" % (path, e)
    x509 = lazy.load("x509")
    try:
        nb, na = x509.validity(der)
    except ValueError as e:
        return 3, "CSMS CA certificate %s is not an X.509 certificate (%s)" % (path, e)
    finally:
        lazy.drop("x509")
    now = clock.now()
    days = (na - now) // 86400
    warn = ctx.p["caWarnDays"]
    ctx.measure("caValidDays", days, "d", ">= %d" % warn, days >= warn)
    if now < nb:
        return 3, "CSMS CA certificate not valid before %s" % clock.iso(nb)
    if na <= now:
        return 3, "CSMS CA certificate expired on %s" % clock.iso(na)
    if days < warn:
        return 2, "CSMS CA certificate expires in %d days (%s)" % (days, clock.iso(na))
    return 0, None


async def run(ctx):
    a = ctx.agent
    cfg = a.cfg
    prod = cfg["production"]
    where = " in production" if prod else ""
    least = _SEV.index(ctx.p["minSeverity"])
    found = []

    def check(name, sev, text):
        ctx.measure(name, sev, None, "< %d (%s)" % (least, _SEV[least]), sev < least)
        if sev:
            found.append((sev, "%s: %s" % (_SEV[sev], text)))

    sev, text = 0, None
    if not cfg["csmsUrl"].startswith("wss://"):
        sev, text = 3 if prod else 1, "plain ws:// (no TLS, security profile %d)%s" % (
            cfg["securityProfile"], where)
    elif cfg["securityProfile"] < 2:
        sev, text = 3 if prod else 1, "security profile 1 over wss://%s" % where
    check("transport", sev, text)
    check("basicAuth", *_password(a, prod))
    await asyncio.sleep_ms(0)
    check("caCertificate", *_ca(ctx))
    await asyncio.sleep_ms(0)
    loc = a.diag.upload[2]
    sev, text = 0, None
    if loc and loc.startswith("http://"):
        sev, text = 2 if prod else 1, "last GetLog upload went to %s over plain http" % loc
    check("logUpload", sev, text)
    fab = [t for t in _FABRICATING if t in a.diag.registry.ids()] if prod else []
    check("fabricatingTests", 3 if fab else 0,
          "test %s offered in production: its parameters choose the verdict" % ",".join(fab))
    if not found:
        ctx.evidence("no finding")
        return "Passed"
    found.sort(key=lambda f: -f[0])
    ctx.evidence("; ".join(f[1] for f in found))
    bad = [f[1] for f in found if f[0] >= least]
    if bad:
        ctx.fail("InsecureSettings", "; ".join(bad))
        return "Failed"
    return "Passed"
