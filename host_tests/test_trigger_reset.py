"""TriggerMessage and Reset."""


def test_trigger_heartbeat_and_status(csms, agent):
    n = len(csms.messages())
    assert csms.call(agent.station, "TriggerMessage", {"requestedMessage": "Heartbeat"})["status"] == "Accepted"
    csms.wait_for("Heartbeat", station=agent.station, after=n)
    n = len(csms.messages())
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "StatusNotification",
                                                      "evse": {"id": 2, "connectorId": 2}})
    assert res["status"] == "Accepted"
    rec = csms.wait_for("StatusNotification", station=agent.station, after=n)
    assert (rec["payload"]["evseId"], rec["payload"]["connectorId"]) == (2, 2)
    # All connectors of EVSE 2.
    n = len(csms.messages())
    csms.call(agent.station, "TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 2}})
    a = csms.wait_for("StatusNotification", station=agent.station, after=n)
    b = csms.wait_for("StatusNotification", station=agent.station, after=a["index"] + 1)
    assert {a["payload"]["connectorId"], b["payload"]["connectorId"]} == {1, 2}
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "StatusNotification",
                                                      "evse": {"id": 7}})
    assert res["status"] == "Rejected"


def test_trigger_boot_after_accept_rejected_and_unsupported(csms, agent):
    res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": "BootNotification"})
    assert res["status"] == "Rejected"
    for what in ("MeterValues", "FirmwareStatusNotification", "TransactionEvent",
                 "SignChargingStationCertificate"):
        res = csms.call(agent.station, "TriggerMessage", {"requestedMessage": what})
        assert res["status"] == "NotImplemented", what


def test_reset_restarts_and_boots_with_reason(csms, agent):
    n = len(csms.messages())
    assert csms.call(agent.station, "Reset", {"type": "Immediate"})["status"] == "Accepted"
    d = csms.wait_for(type="DISCONNECT", station=agent.station, after=n)
    assert d["code"] == 1000
    boot = csms.wait_for("BootNotification", station=agent.station, after=n)
    assert boot["payload"]["reason"] == "RemoteReset"
    csms.wait_for("StatusNotification", station=agent.station, after=boot["index"])
    agent.wait_log("reset: restarting")
    assert csms.call(agent.station, "Reset", {"type": "OnIdle", "evseId": 1})["status"] == "Rejected"
    # A later ordinary restart boots as PowerUp again.
    agent.stop()
    n = len(csms.messages())
    agent.start()
    boot = csms.wait_for("BootNotification", station=agent.station, after=n)
    assert boot["payload"]["reason"] == "PowerUp"
