# SetVariableMonitoring (OCPP 2.1 N04): install or replace monitors. Every item gets
# its own status; the accepted ones are written to flash once, before the response.
from ocpp.check import ARR, BOOL, COMPONENT, ENUM, INT, NUM, OBJ, REQ, VARIABLE

TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned",
         "TargetDelta", "TargetDeltaRelative")
REQ = (("setMonitoringData", ARR | OBJ | REQ, (
    ("id", INT, (0, None)),
    ("periodicEventStream", OBJ, (("interval", INT, (0, None)), ("values", INT, (0, None)))),
    ("transaction", BOOL, None),
    ("value", NUM | REQ, None),
    ("type", ENUM | REQ, TYPES),
    ("severity", INT | REQ, (0, None)),
    ("component", OBJ | REQ, COMPONENT),
    ("variable", OBJ | REQ, VARIABLE))),)


def handle(agent, p):
    from ocpp.msglimits import enforce
    from model import monitors as M
    items = p["setMonitoringData"]
    enforce(agent, "SetVariableMonitoring", len(items), "MonitoringCtrlr")  # N04.FR.09
    st = agent.store
    nxt = st.get("mon/next", M.FIRST_CUSTOM)
    gone = M.off(agent)
    act = M.active(agent)  # once per request: the preconfigured list is built anew
    changed = False
    out = []
    for it in items:
        status, why, mid = _one(agent, M, it, nxt, gone, act)
        r = {"status": status, "type": it["type"], "severity": it["severity"],
             "component": it["component"], "variable": it["variable"]}
        if status == "Accepted":
            changed = True
            r["id"] = mid
            if mid == nxt:
                nxt += 1
        elif "id" in it:
            r["id"] = it["id"]
        if why:
            r["statusInfo"] = {"reasonCode": why[0], "additionalInfo": why[1][:1024]}
        out.append(r)
    if changed:
        M.save(agent, nxt, {"mon/off": gone})
        M.start_sweep(agent)
    M.release(agent)
    return {"setMonitoringResult": out}


def _one(agent, M, it, nxt, gone, act):
    """-> (status, (reasonCode, additionalInfo) or None, id)."""
    dm = agent.dm
    comp = dm.match(it["component"])
    if comp is None:
        return "UnknownComponent", None, None  # N04.FR.03
    var = it["variable"]
    v = comp.find(var["name"], var.get("instance"))
    if v is None:
        return "UnknownVariable", None, None  # N04.FR.04
    t = it["type"]
    value = it["value"]
    sev = it["severity"]
    if not M.monitorable(v):
        return "UnsupportedMonitorType", ("NotMonitorable", "%s cannot be monitored (%s)" % (
            v[0], "write-only" if v[3] == "W" else "constant")), None
    limit = t in ("UpperThreshold", "LowerThreshold")
    if t != "Delta" and t not in M.PERIODIC and not (limit and v[2] in "id"):
        return "UnsupportedMonitorType", ("UnsupportedType", "%s on %s: Delta, Periodic, PeriodicClockAligned%s only" % (
            t, v[0], ", UpperThreshold, LowerThreshold" if v[2] in "id" else "")), None  # N04.FR.05
    if value - value != 0:
        # inf or nan (1e999 parses as inf): written to flash and sent back, it would be
        # JSON that is not JSON. (No float literal for the bound: a constant beyond
        # float32 cannot be frozen for boards with single-precision floats.)
        return "Rejected", ("InvalidValue", "value must be a finite number"), None
    if sev > 9:
        return "Rejected", ("InvalidSeverity", "severity %d: 0..9" % sev), None
    if it.get("transaction"):
        return "Rejected", ("NoTransactions", "this station has no transactions to limit it to"), None
    if t == "Delta" and value < 0:
        return "Rejected", ("NegativeDelta", "a Delta value cannot be negative"), None  # N04.FR.14
    if t in M.PERIODIC and (value != int(value) or not M.MIN_PERIOD <= value <= M.MAX_PERIOD):
        return "Rejected", ("InvalidInterval", "a periodic monitor's value is its interval: whole "
                            "seconds, %d..%d" % (M.MIN_PERIOD, M.MAX_PERIOD)), None
    if limit and ((v[5] and value < float(v[5])) or (v[6] and value > float(v[6]))):
        return "Rejected", ("ValueOutOfRange", "%g outside %s..%s of %s" % (
            value, v[5], v[6], v[0])), None  # N04.FR.06
    ms = M.custom(agent)
    old = None
    mid = it.get("id")
    if mid is not None:
        old = M.find(act, mid)
        if old is None:
            return "Rejected", ("UnknownMonitor", "no monitor %d" % mid), mid  # N04.FR.13
        if not M.same_var(old, comp, v):
            return "Rejected", ("OtherVariable", "monitor %d watches %s.%s" % (
                mid, old[M.CN], old[M.VN])), mid  # N04.FR.16
    for m in act:
        if m is not old and M.same_var(m, comp, v) and m[M.TYPE] == t and m[M.SEV] == sev:
            return "Duplicate", ("SameTypeSeverity", "monitor %d is %s severity %d" % (
                m[M.ID], t, sev)), mid  # N04.FR.10
    if old is None and len(ms) >= M.MAX_CUSTOM:
        return "Rejected", ("TooManyMonitors", "at most %d monitors" % M.MAX_CUSTOM), None
    m = [mid if old else nxt, comp.name, comp.instance, comp.evse, comp.connector, v[0], v[1] or None,
         t, value, sev, None, "C"]
    if old is not None:
        act.remove(old)
        if old[M.KIND] == "C":
            ms.remove(old)  # N04.FR.12: replaced
        elif old[M.ID] not in gone:
            gone.append(old[M.ID])  # N04.FR.15: a replaced preconfigured monitor becomes custom
    if t == "Delta":
        m[M.REF] = dm.value(comp, v)  # changes are counted from now
    ms.append(m)
    act.append(m)
    # A threshold already exceeded is reported at once (N07.FR.11); a period starts.
    e = M.evaluate(agent, m, comp, v) if t != "Delta" else None
    if e and M.wanted(agent, m):
        M.notify(agent, [e])
    return "Accepted", None, m[M.ID]
