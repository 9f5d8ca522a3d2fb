# GetReport (OCPP 2.1 B08): a report filtered by component/variable and by
# component criteria; EmptyResultSet when nothing matches.
from ocpp.check import ARR, COMPONENT, ENUM, INT, ITEMS, OBJ, REQ, VARIABLE

REQ = (("requestId", INT | REQ, None),
       ("componentCriteria", ARR | ENUM | ITEMS * 4, ("Active", "Available", "Enabled", "Problem")),
       ("componentVariable", ARR | OBJ, (("component", OBJ | REQ, COMPONENT),
                                         ("variable", OBJ, VARIABLE))))
FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)


def _comp_matches(c, cd):
    if c.name != cd["name"]:
        return False
    if "instance" in cd and c.instance != cd["instance"]:
        return False
    e = cd.get("evse")
    if e is not None:
        if c.evse != e["id"]:
            return False
        if "connectorId" in e and c.connector != e["connectorId"]:
            return False
    return True


def limits(agent, p):
    """ItemsPerMessage / BytesPerMessage: a request over them is a CALLERROR, before
    any Busy answer (rpc calls this ahead of the follow-up bound)."""
    from ocpp.msglimits import enforce
    cvs = p.get("componentVariable")
    enforce(agent, "GetReport", len(cvs) if cvs else 0)


def handle(agent, p):
    from model import report
    refused = report.busy(agent)
    if refused:
        return refused
    cvs = p.get("componentVariable")
    crit = p.get("componentCriteria")
    dm = agent.dm

    def criteria_ok(c):
        # A component meets a criterion when it has that variable set true.
        for name in crit:
            v = c.find(name)
            if v and dm.value(c, v) == "true":
                return True
        return False

    def select(c, v):
        if crit and not criteria_ok(c):
            return False
        if not cvs:
            return True
        for cv in cvs:
            if _comp_matches(c, cv["component"]):
                var = cv.get("variable")
                if var is None or (var["name"] == v[0] and
                                   ("instance" not in var or var["instance"] == v[1])):
                    return True
        return False

    return report.accept(agent, p["requestId"], select)
