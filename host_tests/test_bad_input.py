"""Bad input from the CSMS: every class gets the right OCPP-J CALLERROR and the
agent stays up and keeps serving."""
import json

import pytest


def _err(reply):
    assert reply is not None, "no reply from the agent"
    msg = json.loads(reply)
    assert msg[0] == 4, msg
    return msg[1], msg[2]


GV = {"getVariableData": [{"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}]}

CASES = [
    # (raw frame, expected message id, expected error code)
    ("this is not json", "-1", "RpcFrameworkError"),
    ("{\"a\": 1}", "-1", "RpcFrameworkError"),
    ("[2]", "-1", "RpcFrameworkError"),
    ("[2, \"m1\"]", "m1", "RpcFrameworkError"),
    ("[2, \"m2\", \"GetVariables\"]", "m2", "RpcFrameworkError"),
    ("[2, 17, \"GetVariables\", {}]", "-1", "RpcFrameworkError"),
    ("[2, \"m3\", 5, {}]", "m3", "RpcFrameworkError"),
    ("[9, \"m4\", \"GetVariables\", {}]", "m4", "MessageTypeNotSupported"),
    ("[2, \"m5\", \"FlyToTheMoon\", {}]", "m5", "NotImplemented"),
    ("[2, \"m6\", \"RequestStartTransaction\", {\"idToken\": {\"idToken\": \"a\", \"type\": \"Central\"}, \"remoteStartId\": 1}]",
     "m6", "NotSupported"),
    ("[2, \"m7\", \"GetVariables\", []]", "m7", "FormatViolation"),
    ("[2, \"m8\", \"GetVariables\", {}]", "m8", "OccurrenceConstraintViolation"),
    ("[2, \"m9\", \"GetVariables\", {\"getVariableData\": []}]", "m9", "OccurrenceConstraintViolation"),
    ("[2, \"m10\", \"GetVariables\", {\"getVariableData\": 5}]", "m10", "TypeConstraintViolation"),
    ("[2, \"m11\", \"GetVariables\", {\"getVariableData\": [{\"component\": {\"name\": 1}, \"variable\": {\"name\": \"a\"}}]}]",
     "m11", "TypeConstraintViolation"),
    ("[2, \"m12\", \"GetVariables\", {\"getVariableData\": [{\"component\": {\"name\": \"a\"}}]}]",
     "m12", "OccurrenceConstraintViolation"),
    ("[2, \"m13\", \"GetVariables\", {\"getVariableData\": [{\"component\": {\"name\": \"a\"}, \"variable\": {\"name\": \"b\"}, \"attributeType\": \"Bogus\"}]}]",
     "m13", "PropertyConstraintViolation"),
    ("[2, \"m14\", \"GetVariables\", {\"getVariableData\": [{\"component\": {\"name\": \"%s\"}, \"variable\": {\"name\": \"b\"}}]}]" % ("n" * 51),
     "m14", "PropertyConstraintViolation"),
    ("[2, \"m15\", \"GetVariables\", {\"getVariableData\": [], \"extra\": 1}]", "m15", "FormatViolation"),
    ("[2, \"m16\", \"GetBaseReport\", {\"requestId\": \"x\", \"reportBase\": \"FullInventory\"}]",
     "m16", "TypeConstraintViolation"),
    ("[2, \"m17\", \"Reset\", {\"type\": \"Sometime\"}]", "m17", "PropertyConstraintViolation"),
    ("[2, \"m18\", \"GetVariables\", {\"customData\": {\"x\": 1}, \"getVariableData\": [{\"component\": {\"name\": \"a\"}, \"variable\": {\"name\": \"b\"}}]}]",
     "m18", "OccurrenceConstraintViolation"),
    ("[2, \"m19\", \"SetVariables\", {\"setVariableData\": [{\"component\": {\"name\": \"a\"}, \"variable\": {\"name\": \"b\"}, \"attributeValue\": null}]}]",
     "m19", "TypeConstraintViolation"),
    ("[2, \"m20\", \"GetVariables\", {\"getVariableData\": [{\"component\": {\"name\": \"a\", \"evse\": {\"id\": -1}}, \"variable\": {\"name\": \"b\"}}]}]",
     "m20", "PropertyConstraintViolation"),
]


@pytest.mark.parametrize("raw,mid,code", CASES, ids=[c[2] + ":" + c[1] for c in CASES])
def test_bad_frame_gets_callerror(csms, agent, raw, mid, code):
    got_id, got_code = _err(csms.send_raw(agent.station, raw))
    assert (got_id, got_code) == (mid, code), raw
    # The agent is still up and serving.
    assert csms.call(agent.station, "GetVariables", GV)["getVariableResult"][0]["attributeValue"] == "ADX-1"


def test_deeply_nested_json_and_garbage_do_not_kill_the_agent(csms, agent):
    for raw in ["[" * 4000 + "]" * 4000, "[2, \"n1\", \"GetVariables\", " + "[" * 1500 + "]" * 1500 + "]",
                "\u00e9\u00e8" * 100, "[]", "[3, \"nobody-asked\", {}]", "[4, \"nobody\", \"X\", \"y\", {}]"]:
        csms.send_raw(agent.station, raw, timeout=1)
    assert csms.call(agent.station, "GetVariables", GV)["getVariableResult"][0]["attributeValue"] == "ADX-1"
    assert agent.proc.poll() is None


def test_oversize_message_refused_without_allocating(csms, make_agent):
    a = make_agent(csms, maxMessageSize=2048)
    csms.wait_for("StatusNotification", station=a.station)
    n = len(csms.messages())
    big = "[2, \"big\", \"GetVariables\", {\"customData\": {\"vendorId\": \"%s\"}}]" % ("x" * 4000)
    with pytest.raises(ConnectionError):
        csms.send_raw(a.station, big, timeout=2)
    d = csms.wait_for(type="DISCONNECT", station=a.station, after=n)
    assert d["code"] == 1009
    # It reconnects and carries on.
    csms.wait_for(type="CONNECT", station=a.station, after=n)
    res = csms.call(a.station, "GetVariables", GV)
    assert res["getVariableResult"][0]["attributeValue"] == "ADX-1"
