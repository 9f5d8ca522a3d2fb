# TriggerMessage (OCPP 2.1 F06): the CSMS asks for a message now.
from ocpp.check import ENUM, EVSE, OBJ, REQ, STR

REQ = (("requestedMessage", ENUM | REQ, (
    "BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat",
    "MeterValues", "SignChargingStationCertificate", "SignV2GCertificate", "SignV2G20Certificate",
    "StatusNotification", "TransactionEvent", "SignCombinedCertificate",
    "PublishFirmwareStatusNotification", "CustomTrigger")),
    ("evse", OBJ, EVSE),
    ("customTrigger", STR, 50))
FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)


def handle(agent, p):
    what = p["requestedMessage"]
    evse = p.get("evse")
    st = agent.station
    if what == "BootNotification":
        if st.boot_status == "Accepted":
            # F06.FR.17: no BootNotification trigger once the boot was accepted.
            return {"status": "Rejected", "statusInfo": {"reasonCode": "AlreadyAccepted"}}
        return {"status": "Accepted"}, st.trigger_boot()
    if what == "Heartbeat":
        return {"status": "Accepted"}, st.heartbeat()
    if what == "StatusNotification":
        targets = agent.connectors_of(evse)
        if not targets:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        return {"status": "Accepted"}, st.send_status(targets)
    hook = agent.triggers.get(what)  # extensions (e.g. CustomTrigger) plug in here
    if hook:
        return hook(agent, p)
    return {"status": "NotImplemented"}
