# The diagnostics model in the device model, so that any OCPP 2.1 CSMS can see and
# configure it with GetBaseReport / GetReport / GetVariables / SetVariables:
# DiagnosticsCtrlr for the whole, one DiagnosticTest instance per test.
from model.devmodel import Component

_CTRLR = """
Enabled||b|RW||||||true
Available||b|R||||||true
MaxConcurrentRuns||i|RW||1|8|||2
HealthCheckInterval||i|RW|s|0|604800|||0
StartupTests||s|RW|||500|||
StartupTiming||o|RW||||BeforeBoot;AfterBoot||AfterBoot
VendorId||s|R|||||c|
ResultsStored||i|R||||||
ResultsPending||i|R||||||
RunningTests||s|R||||||
CatalogVersion||s|R|||36||c|
IntrusiveAllowed||b|RW||||||true
FlashWriteBudget||i|RW|B|0|16777216|||1048576"""

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
        return None

    def bad_get(var, reason):
        # A module left out of the catalog: visible here, with the reason.
        if var == "Problem":
            return "true"
        if var == "Description":
            return ("left out: " + reason)[:500]
        if var == "Enabled":
            return "false"
        return ""

    def test_get(var, tid):
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

    def ctrlr_set(var, inst, value):
        # The installer's "no intrusive tests" (config allowIntrusive false) is not the
        # CSMS's to lift (DG14).
        if var == "IntrusiveAllowed" and value == "true" and cfg.get("allowIntrusive") is False:
            return "PinnedByConfig"  # a reasonCode: at most 20 characters
        return None

    agent.dm.add(Component("DiagnosticsCtrlr", _CTRLR, get=ctrlr, on_set=ctrlr_set))
    for tid in d.registry.ids():
        # `get` is called with the variable's instance; the test is the component's.
        agent.dm.add(Component("DiagnosticTest", _TEST, instance=tid,
                               get=lambda var, inst, tid=tid: test_get(var, tid)))
    for tid, reason in d.registry.bad:
        agent.dm.add(Component("DiagnosticTest", _TEST, instance=tid,
                               get=lambda var, inst, r=reason: bad_get(var, r)))
