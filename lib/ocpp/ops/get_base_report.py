# GetBaseReport (OCPP 2.1 B07): answered at once, the report follows as NotifyReport
# parts once our CALLRESULT is out.
from ocpp.check import ENUM, INT, REQ

REQ = (("requestId", INT | REQ, None),
       ("reportBase", ENUM | REQ, ("ConfigurationInventory", "FullInventory", "SummaryInventory")))

# SummaryInventory: the variables that say whether each component can serve.
_SUMMARY = ("AvailabilityState", "Available", "Problem", "Enabled", "Active")


def handle(agent, p):
    if agent.reporting >= 3:  # one running, two waiting: enough for any CSMS
        return {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    from model import report
    base = p["reportBase"]
    if base == "FullInventory":
        def select(c, v):
            return True
    elif base == "ConfigurationInventory":
        def select(c, v):
            return "W" in v[3]
    else:
        def select(c, v):
            return v[0] in _SUMMARY
    if not report.count(agent.dm, select):
        return {"status": "EmptyResultSet"}
    agent.reporting += 1
    return {"status": "Accepted"}, report.send(agent, p["requestId"], select)
