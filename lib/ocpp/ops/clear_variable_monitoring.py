# ClearVariableMonitoring (OCPP 2.1 N06): remove monitors by id. A preconfigured
# monitor can be cleared too (SetMonitoringBase All or FactoryDefault brings it back).
from ocpp.check import ARR, INT, REQ

REQ = (("id", ARR | INT | REQ, (0, None)),)


def handle(agent, p):
    from ocpp.msglimits import enforce
    from model import monitors as M
    ids = p["id"]
    enforce(agent, "ClearVariableMonitoring", len(ids), "MonitoringCtrlr")  # N06.FR.06/.07
    ms = M.custom(agent)
    gone = M.off(agent)
    pre = [m[M.ID] for m in M.preconfigured(agent)]
    out = []
    changed = False
    for mid in ids:
        status = "NotFound"  # N06.FR.02, also for an id given twice
        for m in ms:
            if m[M.ID] == mid:
                ms.remove(m)  # a tripped threshold is not cleared by an event (N07.FR.12)
                status = "Accepted"
                break
        else:
            if mid in pre and mid not in gone:
                gone.append(mid)
                status = "Accepted"
        changed = changed or status == "Accepted"
        out.append({"id": mid, "status": status})  # N06.FR.05: one result per id
    if changed:
        M.save(agent, None, {"mon/off": gone})
    M.release(agent)  # the sweep ends by itself once no monitor is left
    return {"clearMonitoringResult": out}
