# SetVariables (OCPP 2.1 B05): write values; every accepted write is persisted by
# the device model before the response goes out.
from ocpp.check import ARR, ATTR_TYPE, COMPONENT, ENUM, OBJ, REQ, STR, VARIABLE

REQ = (("setVariableData", ARR | OBJ | REQ, (
    ("attributeType", ENUM, ATTR_TYPE),
    ("attributeValue", STR | REQ, 2500),
    ("component", OBJ | REQ, COMPONENT),
    ("variable", OBJ | REQ, VARIABLE))),)


def handle(agent, p):
    from ocpp.msglimits import enforce
    items = p["setVariableData"]
    enforce(agent, "SetVariables", len(items))
    dm = agent.dm
    out = []
    for it in items:
        r = {"component": it["component"], "variable": it["variable"]}
        at = it.get("attributeType")
        if at:
            r["attributeType"] = at
        comp, v, status = dm.lookup(it)
        reason = None
        if not status:
            status, reason = dm.set(comp, v, it["attributeValue"])
        r["attributeStatus"] = status
        if reason:
            r["attributeStatusInfo"] = {"reasonCode": reason}
        out.append(r)
    return {"setVariableResult": out}
