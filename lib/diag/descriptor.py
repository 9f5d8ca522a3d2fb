# A test module's descriptor, checked when the registry first loads it: a typo in
# one module ("int" for "integer") must cost that test, never the whole catalog. The
# limits are those of DiagnosticTestDescriptorType (docs/diagnostics/schemas), so a
# descriptor that passes here always makes a valid catalog message.
from diag.result import VERDICTS  # the runner needs them too, without this module

TEST_TYPES = ("SelfTest", "IntegrationTest", "HealthCheck", "SecurityTest", "ComplianceTest",
              "PerformanceTest")
_DATA_TYPES = ("integer", "decimal", "boolean", "string", "enum")
_STATES = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
SCOPES = ("station", "evse", "connector")
NETWORK = ("None", "Local", "Csms", "External")
# Well-known test classes (SPEC.md, DG12): a test claiming one declares at least
# these measurements, with these units (None: any unit). Kept here, in the module
# that is loaded only when the test index is rebuilt, never in the running agent.
# Vendor classes carry a dot (reverse domain name) and are not checked.
CLASSES = (
    ("MemoryHeadroom", (("freeHeap", "B"), ("largestBlock", "B"))),
    ("StorageHealth", (("freeSpace", "B"), ("writeTime", "ms"), ("readTime", "ms"))),
    ("ClockDrift", (("offset", "ms"), ("drift", "ppm"))),
    ("MeterReachability", (("responseTime", "ms"), ("value", None))),
    ("CsmsLatency", (("heartbeatRtt", "ms"),)),
    ("DnsResolution", (("resolveTime@name", "ms"), ("rcode@name", None))),
    ("TimeSourceReachability", (("offset@server", "ms"), ("delay@server", "ms"), ("stratum@server", None))),
    ("TimeSourceAuthenticity", (("chainVerified@server", None),)),
    ("EndpointReachability", (("connectTime@endpoint", "ms"),)),
    ("CertificateValidity", (("caValidDays", "d"),)),
    ("StationHealth", (("freeHeap", "B"), ("freeFlash", "B"), ("loopLag", "ms"))),
    ("ConfigurationCompliance", ()),
    ("ReportPerformance", (("reportTime", "ms"), ("heapUsed", "B"))),
    ("SoftwareIntegrity", (("integrityVerified", None),)),
)


class Bad(Exception):
    pass


def _text(v, most, what, optional=False):
    if v is None and optional:
        return
    if type(v) is not str or not v or len(v) > most:
        raise Bad("%s must be a string of 1..%d characters, not %r" % (what, most, v))


def _strings(v, most, what, allowed=None):
    if type(v) is not tuple or not v:
        raise Bad("%s must be a non-empty tuple" % what)
    for x in v:
        _text(x, most, what + " entry")
        if allowed and x not in allowed:
            raise Bad("%s: %r is not one of %s" % (what, x, ",".join(allowed)))


def _num(v):
    return type(v) is int or type(v) is float


def _param(p):
    if type(p) is not tuple or len(p) != 9:
        raise Bad("a PARAMS entry must be a 9-tuple (name, dataType, unit, min, max, "
                  "allowedValues, default, required, description)")
    name, dt, unit, lo, hi, allowed, default, required, desc = p
    _text(name, 50, "parameter name")
    where = "parameter %s: " % name
    if dt not in _DATA_TYPES:
        raise Bad(where + "dataType %r is not one of %s" % (dt, ",".join(_DATA_TYPES)))
    _text(unit, 20, where + "unit", True)
    _text(desc, 500, where + "description", True)
    for b in (lo, hi):
        if b is not None and (dt not in ("integer", "decimal") or not _num(b)):
            raise Bad(where + "min/max must be numbers, on integer or decimal parameters only")
    if lo is not None and hi is not None and lo > hi:
        raise Bad(where + "min %s above max %s" % (lo, hi))
    if dt == "enum":
        _strings(allowed, 50, where + "allowedValues")
    elif allowed is not None:
        raise Bad(where + "allowedValues are for enum parameters only")
    if type(required) is not bool:
        raise Bad(where + "required must be True or False")
    if default is not None:
        from diag.params import Refused, check_value
        try:
            check_value(p, default)
        except Refused as e:
            raise Bad(where + "default " + e.info)


def check(m):
    """Raise Bad naming the field when module m's descriptor is not usable."""
    for attr in ("TYPE", "VERSION", "DESCRIPTION", "PARAMS", "CONSTRAINTS", "MEASURES",
                 "VERDICTS", "OUTCOME", "run"):
        if not hasattr(m, attr):
            raise Bad("%s is missing" % attr)
    if m.TYPE not in TEST_TYPES:
        raise Bad("TYPE %r is not one of %s" % (m.TYPE, ",".join(TEST_TYPES)))
    _text(m.VERSION, 20, "VERSION")
    _text(m.DESCRIPTION, 500, "DESCRIPTION")
    _text(m.OUTCOME, 500, "OUTCOME")
    if type(m.PARAMS) is not tuple:
        raise Bad("PARAMS must be a tuple")
    names = []
    for p in m.PARAMS:
        _param(p)
        if p[0] in names:
            raise Bad("parameter %s declared twice" % p[0])
        names.append(p[0])
    c = m.CONSTRAINTS
    if type(c) is not tuple or len(c) != 6:
        raise Bad("CONSTRAINTS must be (allowedStates, intrusive, exclusiveResources, "
                  "timeout, minInterval, needsNetwork)")
    states, intrusive, resources, timeout, min_iv, network = c
    if states is not None:
        _strings(states, 20, "CONSTRAINTS allowedStates", _STATES)
    if resources:
        _strings(resources, 50, "CONSTRAINTS exclusiveResources")
    elif resources != ():
        raise Bad("CONSTRAINTS exclusiveResources must be a tuple")
    if type(intrusive) is not bool or type(network) is not bool:
        raise Bad("CONSTRAINTS intrusive and needsNetwork must be True or False")
    if type(timeout) is not int or timeout < 1 or type(min_iv) is not int or min_iv < 0:
        raise Bad("CONSTRAINTS timeout must be an integer >= 1 and minInterval >= 0")
    if type(m.MEASURES) is not tuple:
        raise Bad("MEASURES must be a tuple")
    for x in m.MEASURES:
        if type(x) is not tuple or len(x) != 3:
            raise Bad("a MEASURES entry must be (name, unit, limit)")
        _text(x[0], 50, "measurement name")
        _text(x[1], 20, "measurement %s unit" % x[0], True)
        _text(x[2], 100, "measurement %s limit" % x[0], True)
    _strings(m.VERDICTS, 20, "VERDICTS", VERDICTS)
    _planning(m)
    if not callable(m.run):
        raise Bad("run must be an async function")


def _planning(m):
    """SCOPE, CLASSES and COST: optional (a module written before them is a
    station-wide test with no declared class or cost), checked when present."""
    scope = getattr(m, "SCOPE", "station")
    if scope not in SCOPES:
        raise Bad("SCOPE %r is not one of %s" % (scope, ",".join(SCOPES)))
    classes = getattr(m, "CLASSES", ())
    if classes != ():
        _strings(classes, 50, "CLASSES")
    have = [(x[0], x[1]) for x in m.MEASURES]
    for c in classes:
        if "." in c:
            continue  # a vendor's class: its definition is the vendor's
        for name, need in CLASSES:
            if name == c:
                break
        else:
            raise Bad("CLASSES: %r is not a well-known class (a vendor class has a dot)" % c)
        for mname, unit in need:
            for hn, hu in have:
                if hn == mname and (unit is None or hu == unit):
                    break
            else:
                raise Bad("class %s needs measurement %s%s" % (c, mname, " in " + unit if unit else ""))
    cost = getattr(m, "COST", None)
    if cost is None:
        return
    if type(cost) is not tuple or len(cost) != 4:
        raise Bad("COST must be (expectedDuration s, flashWrites, flashBytes, network)")
    for v in cost[:3]:
        if type(v) is not int or v < 0:
            raise Bad("COST expectedDuration, flashWrites and flashBytes must be integers >= 0")
    if cost[3] not in NETWORK:
        raise Bad("COST network %r is not one of %s" % (cost[3], ",".join(NETWORK)))
