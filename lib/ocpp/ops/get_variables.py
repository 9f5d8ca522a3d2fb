# GetVariables (OCPP 2.1 B06): read Actual values of named component variables.
from ocpp.check import ARR, ATTR_TYPE, COMPONENT, ENUM, OBJ, REQ, VARIABLE

REQ = (("getVariableData", ARR | OBJ | REQ, (
    ("attributeType", ENUM, ATTR_TYPE),
    ("component", OBJ | REQ, COMPONENT),
    ("variable", OBJ | REQ, VARIABLE))),)


def handle(agent, p):
    from ocpp.msglimits import enforce
    items = p["getVariableData"]
    enforce(agent, "GetVariables", len(items))
    dm = agent.dm
    size = dm.get_int("DeviceDataCtrlr", "ReportingValueSize", None, 1000)
    out = []
    for it in items:
        r = {"component": it["component"], "variable": it["variable"]}
        at = it.get("attributeType")
        if at:
            r["attributeType"] = at
        comp, v, refused = dm.lookup(it)
        if refused:
            r["attributeStatus"] = refused
        elif v[3] == "W":
            r["attributeStatus"] = "Rejected"
            r["attributeStatusInfo"] = {"reasonCode": "WriteOnly"}
        else:
            r["attributeStatus"] = "Accepted"
            r["attributeValue"] = dm.value(comp, v)[:size]
        out.append(r)
    return {"getVariableResult": out}
