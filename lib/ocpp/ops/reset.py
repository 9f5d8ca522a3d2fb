# Reset (OCPP 2.1 B11/B12). The agent owns no transaction yet, so OnIdle is
# honoured at once. On a device the restart is machine.reset(); on the unix port
# the agent tears down and rebuilds its own state in the same process.
from ocpp.check import ENUM, INT, REQ

REQ = (("type", ENUM | REQ, ("Immediate", "OnIdle", "ImmediateAndResume")),
       ("evseId", INT, (0, None)))


def handle(agent, p):
    if p.get("evseId"):
        # Resetting a single EVSE is optional (B11.FR.09); this station has no
        # EVSE-level restart.
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoEvseReset"}}
    return {"status": "Accepted"}, agent.reset("RemoteReset")
