# The diagnostics model's built-in events, as OCPP monitors: one PreconfiguredMonitor
# per test, on DiagnosticTest[<test>].LastHealth for a test that reports health (type
# HealthCheck) and on .LastVerdict for every other test. A standard CSMS sees them in
# GetMonitoringReport, silences them with SetMonitoringLevel, ClearVariableMonitoring
# or SetMonitoringBase HardWiredOnly, and can replace one with its own monitor
# (SetVariableMonitoring with its id). Everything one result changes goes out in one
# NotifyEvent: the preconfigured monitor's EventData and those of the CSMS's monitors
# on the same test, each with its variableMonitoringId, so no change is reported as
# two unrelated events.
from micropython import const

SEVERITY = const(4)  # OCPP severity 4 (Error): the test's component does not work as it should
_BAD = {"LastVerdict": ("Failed", "Error", "TimedOut"), "LastHealth": ("Degraded", "Unhealthy")}


def var_of(agent, tid):
    return "LastHealth" if agent.diag.registry.type_of(tid) == "HealthCheck" else "LastVerdict"


def preconfigured(agent, only=None):
    """The built-in monitors (of test `only`, or all), ids 1.. in test-id order (OCPP
    lets ids change with the firmware: a CSMS asks GetMonitoringReport after a
    reboot, N04.FR.19)."""
    out = []
    for i, tid in enumerate(agent.diag.registry.ids()):
        if only is None or tid == only:
            out.append([1 + i, "DiagnosticTest", tid, None, None, var_of(agent, tid), None,
                        "Delta", 1, SEVERITY, None, "P"])
    return out


def on_result(agent, tid, state, prev, info):
    """After a result is journaled (and DiagnosticTest[tid] shows it). state: its
    health status for a test that reports one, else its verdict; prev: the same of
    the test's previous result (or None); info: the reason of a bad state.
    The preconfigured monitor reports a change into, between and out of the bad
    values (out of them with cleared=true); a change among good values (Passed to
    Inconclusive) and the same bad value again are no alert."""
    var = var_of(agent, tid)
    bad = _BAD[var]
    if var == "LastHealth":
        last = agent.diag.last.get(tid)
        state = last and last[3]
        if not state:
            return _custom(agent, tid, None)  # no health measured: LastHealth unchanged in meaning
    now_bad = state in bad
    alert = (now_bad and state != prev) or (not now_bad and prev in bad)
    if not alert:
        return _custom(agent, tid, None)
    from model import monitors as M
    m = M.preconfigured(agent, tid)
    m = m[0] if m else None
    if m is None or not M.wanted(agent, m):
        M.release(agent)
        return _custom(agent, tid, None)  # cleared, replaced, or below the level
    comp, v = M.target(agent, m)
    e = M.event(agent, m, comp, v, "Delta", state, not now_bad, state, info if now_bad else None)
    _custom(agent, tid, [e])


def _custom(agent, tid, events):
    # The CSMS's own monitors on this test and on DiagnosticsCtrlr (result counters).
    mine = agent.monitors or (agent.monitors is None and agent.store.get("mon/c"))
    if not mine and not events:
        return
    from model import monitors as M
    if mine:
        M.check(agent, ("DiagnosticTest:" + tid, "DiagnosticsCtrlr"), events)
    else:
        M.notify(agent, events)
    M.release(agent)
