# GetBaseReport (OCPP 2.1 B07): answered at once, the report follows as NotifyReport
# parts once our CALLRESULT is out.
from ocpp.check import ENUM, INT, REQ

REQ = (("requestId", INT | REQ, None),
       ("reportBase", ENUM | REQ, ("ConfigurationInventory", "FullInventory", "SummaryInventory")))
FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)

# SummaryInventory: the variables that say whether each component can serve.
_SUMMARY = ("AvailabilityState", "Available", "Problem", "Enabled", "Active")


def handle(agent, p):
    from model import report
    refused = report.busy(agent)
    if refused:
        return refused
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
    return report.accept(agent, p["requestId"], select)
