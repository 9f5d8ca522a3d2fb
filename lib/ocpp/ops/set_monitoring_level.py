# SetMonitoringLevel (OCPP 2.1 N05): only monitors with a severity at or below the
# level (0 Danger .. 9 Debug) raise NotifyEvent; a CSMS turns the noise down with it.
from ocpp.check import INT, REQ

REQ = (("severity", INT | REQ, (0, None)),)


def handle(agent, p):
    sev = p["severity"]
    if sev > 9:  # N05.FR.02
        return {"status": "Rejected", "statusInfo": {"reasonCode": "OutOfRange",
                                                     "additionalInfo": "severity %d: 0..9" % sev}}
    agent.store.put("mon/level", sev)  # shown as MonitoringCtrlr.ActiveMonitoringLevel
    return {"status": "Accepted"}  # N05.FR.01
