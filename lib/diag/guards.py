# Runtime guards for tests that can hurt the station (SPEC.md, DG14), loaded only
# when such a test is asked for:
# - who may start an intrusive test: a StartDiagnostics that names a requestor, on
#   a station where DiagnosticsCtrlr.IntrusiveAllowed is true; never a run the
#   station starts itself (schedule, start-up, CustomTrigger), since nobody
#   accountable would be on record for interrupting charging;
# - a SecurityEventNotification when an intrusive test starts (OCPP A04: security
#   events go to the CSMS, queued while offline);
# - a flash-write budget per test per day (DiagnosticsCtrlr.FlashWriteBudget): the
#   CSMS may run a test often (minInterval), but never wear out the flash with it.
import clock
from diag.params import Refused

_EVENT = "IntrusiveDiagnosticsStarted"


def authorize(agent, tid, requestor, trigger):
    """Raise Refused unless this intrusive test may run for this requestor."""
    if agent.dm.get("DiagnosticsCtrlr", "IntrusiveAllowed") != "true":
        raise Refused("IntrusiveNotAllowed", "test %s is intrusive: refused on this station "
                      "(DiagnosticsCtrlr.IntrusiveAllowed)" % tid)
    if trigger != "OnDemand":
        raise Refused("IntrusiveNotAllowed", "test %s is intrusive: it runs only on a StartDiagnostics "
                      "request that names its requestor, not %s" % (tid, trigger))
    if not requestor or requestor == "CSMS":
        raise Refused("IntrusiveNotAllowed", "test %s is intrusive: the request must name its requestor" % tid)


def bytes_per_run(m, vals):
    # A test whose writes depend on its parameters says how (flash_bytes); otherwise
    # its declared cost at the default parameters.
    f = getattr(m, "flash_bytes", None)
    return f(vals) if f and vals is not None else m.COST[2]


def _used(agent, tid):
    """Bytes this test wrote today (UTC day of the station clock), from the store so
    that a restart does not hand out a fresh budget."""
    w = agent.store.get("diag/wear") or {}
    x = w.get(tid)
    day = clock.iso()[:10]
    return (x[1] if type(x) is list and len(x) == 2 and x[0] == day and type(x[1]) is int else 0), w, day


def check_budget(agent, tid, m, vals):
    budget = agent.dm.get_int("DiagnosticsCtrlr", "FlashWriteBudget", None, 1048576)
    need = bytes_per_run(m, vals)
    used = _used(agent, tid)[0]
    if used + need > budget:
        raise Refused("FlashBudget", "test %s: %d B of its daily flash-write budget of %d B used, "
                      "a run writes %d B (DiagnosticsCtrlr.FlashWriteBudget)" % (tid, used, budget, need))


def started(agent, tid, m, vals, requestor, req_id, evse):
    """Account for the run as it starts (a cancel does not give the bytes back) and
    report an intrusive start."""
    if getattr(m, "COST", None) and m.COST[2]:
        used, w, day = _used(agent, tid)
        w[tid] = [day, used + bytes_per_run(m, vals)]
        agent.store.put("diag/wear", w)
    if m.CONSTRAINTS[1]:
        info = "test %s, request %s, requestor %s" % (tid, req_id, requestor)
        if evse:
            info += ", evse %d%s" % (evse["id"], "/%d" % evse["connectorId"] if "connectorId" in evse else "")
        agent.station.outbox.put("SecurityEventNotification",
                                 {"type": _EVENT, "timestamp": clock.iso(), "techInfo": info[:255]})
