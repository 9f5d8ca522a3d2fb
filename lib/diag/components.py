# The diagnostics model in the device model, so that any OCPP 2.1 CSMS can see and
# configure it with GetBaseReport / GetReport / GetVariables / SetVariables:
# DiagnosticsCtrlr for the whole, one DiagnosticTest instance per test.
from model.devmodel import Component

_SKEY = "dm/DiagnosticsCtrlr/ResultSigningKey"  # where the device model keeps it (diag.sign.SKEY)

# Version: the version of docs/diagnostics/SPEC.md implemented here (its front matter);
# with Available, how a CSMS discovers support and version (SPEC.md 4.8).
_CTRLR = """
Enabled||b|RW||||||true
Available||b|R||||||true
Version||s|R|||||c|1.0
MaxConcurrentRuns||i|RW||1|8|||2
HealthCheckInterval||i|RW|s|0|604800|||0
StartupTests||s|RW|||500|||
StartupTiming||o|RW||||BeforeBoot;AfterBoot||AfterBoot
VendorId||s|R|||||c|
ResultsStored||i|R||||||
ResultsPending||i|R||||||
RunningTests||s|R||||||
ResultSigningKey||s|W|||165|||
ResultSigningKeyId||s|R|||36|||
CatalogVersion||s|R|||36||c|
IntrusiveAllowed||b|RW||||||true
FlashWriteBudget||i|RW|B|0|16777216|||1048576
ReflexOnDegraded||s|RW|||200|||
ReflexMinIntervalS||i|RW|s|0|604800|||3600"""

_TEST = """
TestType||o|R||||SelfTest;IntegrationTest;HealthCheck;SecurityTest;ComplianceTest;PerformanceTest|c|
Description||s|R|||500||c|
Version||s|R|||||c|
Parameters||s|R|||1000||c|
Interval||i|RW|s|0|31536000|||0
Enabled||b|RW||||||true
LastVerdict||o|R||||Passed;Failed;Inconclusive;Error;Aborted;TimedOut;Skipped||
LastHealth||o|R||||Healthy;Degraded;Unhealthy||
LastRunTime||t|R||||||
LastResultId||i|R||||||
Problem||b|R||||||false"""


def install(agent):
    d = agent.diag
    cfg = agent.cfg

    def ctrlr(var, inst):
        if var == "VendorId":
            return d.vendor_id
        if var == "ResultsStored":
            return str(len(d.journal.ids))
        if var == "ResultsPending":
            return str(len(d.journal.pending))
        if var == "RunningTests":
            r = d._runner
            return ",".join(r.current) if r else ""
        if var == "CatalogVersion":
            return d.registry.version()
        if var == "IntrusiveAllowed" and cfg.get("allowIntrusive") is False:
            return "false"
        if var == "HealthCheckInterval":
            return cfg.get("healthCheckInterval")
        if var == "StartupTests":
            return cfg.get("startupTests")
        if var == "ResultSigningKeyId":  # the id only: the key is write-only
            return (agent.store.get(_SKEY) or "").split(":")[0]
        return None

    def ctrlr_set(var, inst, value):
        if var == "ResultSigningKey":
            return _signing_key(agent, value)
        if var == "ReflexOnDegraded" and value:
            import lazy
            try:
                return lazy.load("diag.reflex").refusal(agent, value)
            finally:
                lazy.drop("diag.reflex")
        # The installer's "no intrusive tests" (config allowIntrusive false) is not the
        # CSMS's to lift (DG14).
        if var == "IntrusiveAllowed" and value == "true" and cfg.get("allowIntrusive") is False:
            return "PinnedByConfig"  # a reasonCode: at most 20 characters
        return None

    agent.dm.add(Component("DiagnosticsCtrlr", _CTRLR, get=ctrlr, on_set=ctrlr_set))
    for tid in d.registry.ids():
        add_test(agent, tid)
    for tid, reason in d.registry.bad:
        add_bad(agent, tid, reason)


class _Test(Component):
    """The DiagnosticTest instance of an offered test. `get` is a method, not a
    closure per test: one component per test is RAM held for good."""

    def __init__(self, d, tid):
        super().__init__("DiagnosticTest", _TEST, instance=tid)
        self.d = d

    def get(self, var, inst):
        d = self.d
        tid = self.instance
        if var == "TestType":
            return d.registry.type_of(tid)
        if var in ("Description", "Version", "Parameters"):
            m = d.registry.load(tid)
            try:
                if var == "Parameters":
                    from diag.params import compact
                    return compact(m.PARAMS)
                return m.DESCRIPTION if var == "Description" else m.VERSION
            finally:
                d.registry.unload(tid)
        last = d.last.get(tid)
        if var == "LastVerdict":
            return last[0] if last else ""
        if var == "LastHealth":
            return (last[3] or "") if last else ""
        if var == "LastRunTime":
            return last[1] if last else ""
        if var == "LastResultId":
            return str(last[2]) if last else ""
        return None


def add_test(agent, tid):
    agent.dm.add(_Test(agent.diag, tid))


def add_bad(agent, tid, reason):
    """A module left out of the catalog: visible in its DiagnosticTest instance,
    with the reason."""

    def bad_get(var, inst):
        if var == "Problem":
            return "true"
        if var == "Description":
            return ("left out: " + reason)[:500]
        if var == "Enabled":
            return "false"
        return ""

    agent.dm.add(Component("DiagnosticTest", _TEST, instance=tid, get=bad_get))


def _signing_key(agent, value):
    """SetVariables DiagnosticsCtrlr.ResultSigningKey "<keyId>:<hex key>" (SPEC DG16):
    None to accept, else the reasonCode. Results made from now on are signed with
    it; older ones keep the key id they were signed with."""
    import lazy
    had = agent.store.get(_SKEY)
    why = _refusal(agent, lazy.load("diag.sign").parse_key(value), value, had)
    if why and not had:
        lazy.drop("diag.sign")
    # Once a key is set diag.sign stays loaded: every result uses it, and loading it
    # here rather than in the middle of a run keeps its objects clear of the large
    # blocks tests allocate.
    return why


def _refusal(agent, k, value, had):
    if type(k) is not tuple:
        return k  # the reasonCode parse_key gives
    cfg = agent.cfg
    if cfg["production"] and cfg["securityProfile"] < 2:
        # A key sent over plain ws:// is known to whoever listened: not one to sign with.
        return "InsecureTransport"
    old = had or ""
    n = len(k[0]) + 1
    if old[:n] == value[:n] and old[n:].lower() != value[n:].lower():
        # A key id names one key forever: a verifier keeps old keys by id.
        return "KeyIdInUse"
    import log
    log.info("diag: result signing key %s set", k[0])
    return None
