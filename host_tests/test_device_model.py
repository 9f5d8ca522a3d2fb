"""Device model: GetVariables, SetVariables (with persistence), GetBaseReport and
GetReport in parts, and the ItemsPerMessage/BytesPerMessage limits."""
import pytest

from conftest import collect, gv, sv
from harness import CallErrorReply


def test_get_variables_statuses(csms, agent):
    r = gv(csms, agent.station,
           ("ChargingStation", "VendorName"),
           ({"name": "EVSE", "evse": {"id": 2}}, "AvailabilityState"),
           ({"name": "Connector", "evse": {"id": 2, "connectorId": 2}}, "ConnectorType"),
           ("DeviceDataCtrlr", {"name": "ItemsPerMessage", "instance": "GetVariables"}),
           ("NoSuchCtrlr", "X"),
           ("ClockCtrlr", "NoSuchVariable"),
           ("SecurityCtrlr", "BasicAuthPassword"),
           ({"name": "EVSE", "evse": {"id": 9}}, "AvailabilityState"))
    assert [x["attributeStatus"] for x in r] == [
        "Accepted", "Accepted", "Accepted", "Accepted", "UnknownComponent", "UnknownVariable",
        "Rejected", "UnknownComponent"]
    assert r[0]["attributeValue"] == "Acme"
    assert r[1]["attributeValue"] == "Available"
    assert r[2]["attributeValue"] == "cType2"
    assert r[3]["attributeValue"] == "16"
    assert "attributeValue" not in r[6]  # write-only: never readable
    t = csms.call(agent.station, "GetVariables", {"getVariableData": [
        {"component": {"name": "ClockCtrlr"}, "variable": {"name": "DateTime"}, "attributeType": "Target"}]})
    assert t["getVariableResult"][0]["attributeStatus"] == "NotSupportedAttributeType"


def test_set_variables_validate_and_persist(csms, make_agent):
    a = make_agent(csms)
    csms.wait_for("StatusNotification", station=a.station)
    assert sv(csms, a.station, "OCPPCommCtrlr", "OfflineThreshold", "120")["attributeStatus"] == "Accepted"
    assert sv(csms, a.station, "ClockCtrlr", "TimeZone", "Europe/Amsterdam")["attributeStatus"] == "Accepted"
    r = sv(csms, a.station, "OCPPCommCtrlr", "OfflineThreshold", "abc")
    assert (r["attributeStatus"], r["attributeStatusInfo"]["reasonCode"]) == ("Rejected", "InvalidValue")
    r = sv(csms, a.station, "OCPPCommCtrlr", "HeartbeatInterval", "0")
    assert (r["attributeStatus"], r["attributeStatusInfo"]["reasonCode"]) == ("Rejected", "ValueOutOfRange")
    r = sv(csms, a.station, "ClockCtrlr", "NtpSource", "GPS")
    assert (r["attributeStatus"], r["attributeStatusInfo"]["reasonCode"]) == ("Rejected", "ValueNotInList")
    r = sv(csms, a.station, "ChargingStation", "Model", "X")
    assert (r["attributeStatus"], r["attributeStatusInfo"]["reasonCode"]) == ("Rejected", "ReadOnly")
    assert sv(csms, a.station, "Nope", "X", "1")["attributeStatus"] == "UnknownComponent"
    assert sv(csms, a.station, "ClockCtrlr", "Nope", "1")["attributeStatus"] == "UnknownVariable"
    r = sv(csms, a.station, "SecurityCtrlr", "BasicAuthPassword", "0123456789abcdefXYZ")
    assert r["attributeStatus"] == "Accepted"
    # Restart the agent: the written values survive.
    assert a.stop() == 0
    a.start()
    csms.wait_for("BootNotification", station=a.station, after=len(csms.messages()))
    r = gv(csms, a.station, ("OCPPCommCtrlr", "OfflineThreshold"), ("ClockCtrlr", "TimeZone"))
    assert [x["attributeValue"] for x in r] == ["120", "Europe/Amsterdam"]


def test_full_base_report_in_parts(csms, agent):
    res = csms.call(agent.station, "GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"})
    assert res["status"] == "Accepted"
    parts = collect(csms, agent.station, "NotifyReport", 7)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert len(parts) > 3
    items = [d for p in parts for d in p["reportData"]]
    assert max(len(p["reportData"]) for p in parts) <= 8
    names = {(d["component"]["name"], d["variable"]["name"]) for d in items}
    for need in [("ChargingStation", "AvailabilityState"), ("EVSE", "AvailabilityState"),
                 ("Connector", "AvailabilityState"), ("OCPPCommCtrlr", "HeartbeatInterval"),
                 ("OCPPCommCtrlr", "MessageTimeout"), ("DeviceDataCtrlr", "ItemsPerMessage"),
                 ("DeviceDataCtrlr", "BytesPerMessage"), ("ClockCtrlr", "DateTime"),
                 ("SecurityCtrlr", "SecurityProfile"), ("SecurityCtrlr", "BasicAuthPassword")]:
        assert need in names, need
    # No duplicates, and every EVSE and connector has its own instance.
    keys = [(d["component"]["name"], d["component"].get("instance"), str(d["component"].get("evse")),
             d["variable"]["name"], d["variable"].get("instance")) for d in items]
    assert len(keys) == len(set(keys))
    conns = {(d["component"]["evse"]["id"], d["component"]["evse"]["connectorId"])
             for d in items if d["component"]["name"] == "Connector"}
    assert conns == {(1, 1), (2, 1), (2, 2)}
    pw = [d for d in items if d["variable"]["name"] == "BasicAuthPassword"][0]
    assert "value" not in pw["variableAttribute"][0]
    assert pw["variableAttribute"][0]["mutability"] == "WriteOnly"


def test_configuration_and_summary_inventory(csms, agent):
    csms.call(agent.station, "GetBaseReport", {"requestId": 8, "reportBase": "ConfigurationInventory"})
    items = [d for p in collect(csms, agent.station, "NotifyReport", 8) for d in p["reportData"]]
    assert items and all(d["variableAttribute"][0]["mutability"] != "ReadOnly" for d in items)
    csms.call(agent.station, "GetBaseReport", {"requestId": 9, "reportBase": "SummaryInventory"})
    items = [d for p in collect(csms, agent.station, "NotifyReport", 9) for d in p["reportData"]]
    assert {d["variable"]["name"] for d in items} <= {"AvailabilityState", "Available", "Problem", "Enabled"}
    core = [d for d in items if d["component"]["name"] in ("ChargingStation", "EVSE", "Connector")]
    assert len(core) == 2 * (1 + 2 + 3) + 1  # station, 2 EVSEs, 3 connectors (+ Problem)
    assert any(d["component"]["name"] == "DiagnosticTest" for d in items)


def test_get_report_filters(csms, agent):
    res = csms.call(agent.station, "GetReport", {"requestId": 11, "componentVariable": [
        {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage"}},
        {"component": {"name": "Connector", "evse": {"id": 2, "connectorId": 2}}}]})
    assert res["status"] == "Accepted"
    items = [d for p in collect(csms, agent.station, "NotifyReport", 11) for d in p["reportData"]]
    got = sorted((d["component"]["name"], d["variable"]["name"], d["variable"].get("instance", ""))
                 for d in items)
    assert got == sorted([("DeviceDataCtrlr", "ItemsPerMessage", i) for i in
                          ("GetReport", "GetVariables", "SetVariables")] +
                         [("Connector", v, "") for v in
                          ("AvailabilityState", "Available", "ConnectorType", "SupplyPhases")])
    res = csms.call(agent.station, "GetReport", {"requestId": 12, "componentVariable": [
        {"component": {"name": "NoSuchThing"}}]})
    assert res["status"] == "EmptyResultSet"
    res = csms.call(agent.station, "GetReport", {"requestId": 13, "componentCriteria": ["Available"]})
    assert res["status"] == "Accepted"
    items = [d for p in collect(csms, agent.station, "NotifyReport", 13) for d in p["reportData"]]
    assert {d["component"]["name"] for d in items} == {"ChargingStation", "EVSE", "Connector",
                                                        "DiagnosticsCtrlr", "MonitoringCtrlr"}


def test_items_and_bytes_per_message_limits(csms, agent):
    many = [{"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}] * 17
    with pytest.raises(CallErrorReply) as e:
        csms.call(agent.station, "GetVariables", {"getVariableData": many})
    assert e.value.code == "OccurrenceConstraintViolation"
    big = [{"component": {"name": "ChargingStation", "instance": "x" * 50},
            "variable": {"name": "y" * 50, "instance": "z" * 50},
            "customData": {"vendorId": "v" * 200}}] * 16  # about 7 KB > BytesPerMessage 4096
    with pytest.raises(CallErrorReply) as e:
        csms.call(agent.station, "GetVariables", {"getVariableData": big})
    assert e.value.code == "FormatViolation"
    sets = [{"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeZone"},
             "attributeValue": "UTC"}] * 17
    with pytest.raises(CallErrorReply) as e:
        csms.call(agent.station, "SetVariables", {"setVariableData": sets})
    assert e.value.code == "OccurrenceConstraintViolation"
    cvs = [{"component": {"name": "ClockCtrlr"}}] * 17
    with pytest.raises(CallErrorReply) as e:
        csms.call(agent.station, "GetReport", {"requestId": 1, "componentVariable": cvs})
    assert e.value.code == "OccurrenceConstraintViolation"
    # Still serving afterwards.
    assert gv(csms, agent.station, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"
