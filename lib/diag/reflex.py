# On-station reflex (SPEC DG20): a health check that is not Healthy starts the tests
# of DiagnosticsCtrlr.ReflexOnDegraded (comma-separated ids; empty = off) once, in
# one run with requestor "station:reflex", at most once per ReflexMinIntervalS. The
# time of the last one is in the store, so a reboot loop cannot turn it into a storm
# of tests. Loaded (lazily, then dropped) only when a health verdict is bad and the
# list is not empty, or when the list is set. Intrusive tests are refused when the
# list is set, and the runner refuses a station-started intrusive run anyway (DG14).
import clock

REQUESTOR = "station:reflex"
_KEY = "diag/reflex"  # station clock (s) of the last reflex run


def ids(value):
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def refusal(agent, value):
    """SetVariables ReflexOnDegraded: None to accept, else the reasonCode."""
    reg = agent.diag.registry
    for tid in ids(value):
        if not reg.type_of(tid):
            return "UnknownTest"
        m = reg.load(tid)
        try:
            if m.CONSTRAINTS[1]:
                return "IntrusiveTest"
        finally:
            m = None
            reg.unload(tid)
    return None


def fire(agent, requestor):
    """After a health result that is not Healthy: the run, or None (off, too soon,
    or the result came from a reflex run itself)."""
    dm = agent.dm
    tests = ids(dm.get("DiagnosticsCtrlr", "ReflexOnDegraded"))
    if not tests or requestor == REQUESTOR:
        return None
    iv = dm.get_int("DiagnosticsCtrlr", "ReflexMinIntervalS", None, 3600)
    now = clock.now()
    last = agent.store.get(_KEY)
    # A clock set back before the last run does not block the reflex for ever.
    if type(last) is int and 0 <= now - last < iv:
        return None
    agent.store.put(_KEY, now)
    import log
    log.info("diag: reflex on bad health: %s", ",".join(tests))
    return agent.diag.start_internal(tests[0], None, REQUESTOR, "HealthCheck", None, tests[1:])
