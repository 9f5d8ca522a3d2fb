# GetMonitoringReport (OCPP 2.1 N02): the monitors in force, filtered by component/
# variable and by kind, as NotifyMonitoringReport parts that follow the response (one
# part at a time, like NotifyReport: model/report.py).
from ocpp.check import ARR, COMPONENT, ENUM, INT, ITEMS, OBJ, REQ, VARIABLE

REQ = (("componentVariable", ARR | OBJ, (("component", OBJ | REQ, COMPONENT),
                                         ("variable", OBJ, VARIABLE))),
       ("requestId", INT | REQ, None),
       ("monitoringCriteria", ARR | ENUM | ITEMS * 3,
        ("ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring")))
FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)
_KINDS = ("ThresholdMonitoring", ("UpperThreshold", "LowerThreshold"), "DeltaMonitoring", ("Delta",),
          "PeriodicMonitoring", ("Periodic", "PeriodicClockAligned"))


def limits(agent, p):
    # N02.FR.07: componentVariable entries are bounded by ItemsPerMessageGetReport.
    from ocpp.msglimits import enforce
    cvs = p.get("componentVariable")
    enforce(agent, "GetReport", len(cvs) if cvs else 0)


def _matches(m, cv):
    # N02.FR.15-17: what the request leaves out (instance, evse, variable) matches all.
    c = cv["component"]
    if m[1] != c["name"] or ("instance" in c and m[2] != c["instance"]):
        return False
    e = c.get("evse")
    if e is not None and (m[3] != e["id"] or ("connectorId" in e and m[4] != e["connectorId"])):
        return False
    v = cv.get("variable")
    return v is None or (m[5] == v["name"] and ("instance" not in v or m[6] == v["instance"]))


def handle(agent, p):
    from model import monitors as M
    from model import report
    refused = report.busy(agent)
    if refused:
        return refused
    crit = p.get("monitoringCriteria")
    types = None
    if crit:
        types = ()
        for c in crit:
            types += _KINDS[_KINDS.index(c) + 1]
    cvs = p.get("componentVariable")
    sel = [m for m in M.active(agent) if (types is None or m[M.TYPE] in types)
           and (not cvs or any(_matches(m, cv) for cv in cvs))]
    M.release(agent)
    if not sel:
        return {"status": "EmptyResultSet"}  # N02.FR.10
    # Grouped by component and variable: one MonitoringData per variable.
    sel.sort(key=lambda m: (m[1], m[2] or "", m[3] or 0, m[4] or 0, m[5], m[6] or "", m[0]))
    agent.reporting += 1
    return {"status": "Accepted"}, _send(agent, p["requestId"], sel)


async def _send(agent, rid, sel):
    import clock
    import log
    async with agent.report_lock:
        try:
            per = agent.cfg["reportItemsPerPart"]
            v21 = agent.rpc.version != "2.0.1"  # eventNotificationType is new in 2.1
            seq = 0
            part = []
            last = None
            for i, m in enumerate(sel):
                key = m[1:7]
                if key != last:
                    last = key
                    c = {"name": m[1]}
                    if m[2]:
                        c["instance"] = m[2]
                    if m[3] is not None:
                        c["evse"] = {"id": m[3]}
                        if m[4] is not None:
                            c["evse"]["connectorId"] = m[4]
                    v = {"name": m[5]}
                    if m[6]:
                        v["instance"] = m[6]
                    part.append({"component": c, "variable": v, "variableMonitoring": []})
                vm = {"id": m[0], "transaction": False, "value": m[8], "type": m[7], "severity": m[9]}
                if v21:
                    vm["eventNotificationType"] = "CustomMonitor" if m[11] == "C" else "PreconfiguredMonitor"
                part[-1]["variableMonitoring"].append(vm)
                more = i + 1 < len(sel)
                if not more or (len(part) == per and sel[i + 1][1:7] != key):
                    await agent.rpc.call("NotifyMonitoringReport", {
                        "requestId": rid, "seqNo": seq, "generatedAt": clock.iso(), "tbc": more,
                        "monitor": part})  # N02.FR.04/.09
                    seq += 1
                    part = []
            log.info("monitoring report %d: %d parts sent", rid, seq)
        except Exception as e:
            log.exc(e, "monitoring report %d aborted" % rid)
        finally:
            agent.reporting -= 1
