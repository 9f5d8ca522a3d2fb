# OCPP-J parsing, dispatch and payload checks, run inside MicroPython.
import asyncio
import json

from unit import raises, run

from ocpp import check as C
from fakes import make
from ocpp.rpc import CallError, Offline


async def test_errors_for_each_bad_frame():
    r, ws = make()
    cases = [("nope", "-1", "RpcFrameworkError"), ("{}", "-1", "RpcFrameworkError"),
             ('[2,"a"]', "a", "RpcFrameworkError"), ('[2,1,"Echo",{}]', "-1", "RpcFrameworkError"),
             ('[2,"%s","Echo",{}]' % ("x" * 37), "-1", "RpcFrameworkError"),
             ('[7,"b",{}]', "b", "MessageTypeNotSupported"),
             ('[2,"c","Nope",{}]', "c", "NotImplemented"),
             ('[2,"d","Authorize",{}]', "d", "NotSupported"),
             ('[2,"e","Echo",[]]', "e", "FormatViolation"),
             ('[2,"f","Echo",{}]', "f", "OccurrenceConstraintViolation"),
             ('[2,"g","Echo",{"n":"1"}]', "g", "TypeConstraintViolation"),
             ('[2,"h","Echo",{"n":99}]', "h", "PropertyConstraintViolation"),
             ('[2,"i","Echo",{"n":1,"zz":1}]', "i", "FormatViolation"),
             ('[2,"j","Echo",{"n":5}]', "j", "InternalError")]
    for text, mid, code in cases:
        ws.sent.clear()
        await r.dispatch(text)
        assert len(ws.sent) == 1, text
        m = ws.sent[0]
        assert m[0] == 4 and m[1] == mid and m[2] == code, (text, m)
        assert type(m[4]) is dict


async def test_call_result_and_follow_up():
    r, ws = make()
    await r.dispatch('[2,"k","Echo",{"n":2}]')
    assert ws.sent == [[3, "k", {"n": 2}]]
    assert len(r.agent.spawned) == 1  # the follow-up runs only after the result is out


async def test_send_message_type_gets_no_reply():
    r, ws = make()
    await r.dispatch('[6,"s","Echo",{"n":2}]')  # OCPP 2.1 SEND
    assert ws.sent == []
    ws.protocol = "ocpp2.0.1"
    r.attach(ws)
    await r.dispatch('[6,"s","Echo",{"n":2}]')  # not a 2.0.1 message type
    assert ws.sent[0][2] == "MessageTypeNotSupported"


async def test_outgoing_call_matches_its_own_id_only():
    r, ws = make()

    async def answer():
        await asyncio.sleep_ms(10)
        mid = ws.sent[0][1]
        await r.dispatch('[3,"someone-else",{"x":1}]')  # late or stray: ignored
        await r.dispatch(json.dumps([3, mid, {"ok": True}]))

    t = asyncio.create_task(answer())
    assert await r.call("Heartbeat", {}) == {"ok": True}
    await t


async def test_call_error_timeout_and_offline():
    r, ws = make()

    async def refuse():
        await asyncio.sleep_ms(10)
        await r.dispatch(json.dumps([4, ws.sent[0][1], "SecurityError", "no", {}]))

    t = asyncio.create_task(refuse())
    e = None
    try:
        await r.call("Heartbeat", {})
    except CallError as x:
        e = x
    await t
    assert e.code == "SecurityError"
    ws.sent.clear()
    raises(asyncio.TimeoutError, r.call, "Heartbeat", {})
    r.detach()
    raises(Offline, r.call, "Heartbeat", {})


def test_check_shapes():
    shape = (("a", C.STR | C.REQ, 3), ("b", C.ARR | C.INT, (0, 9)), ("c", C.OBJ, C.EVSE),
             ("d", C.ENUM, ("X", "Y")), ("e", C.NUM, None), ("f", C.BOOL, None))
    C.check({"a": "abc", "b": [1, 2], "c": {"id": 1}, "d": "X", "e": 1.5, "f": True,
             "customData": {"vendorId": "v", "anything": 1}}, shape)
    bad = [({"a": "abcd"}, "PropertyConstraintViolation"), ({}, "OccurrenceConstraintViolation"),
           ({"a": "a", "b": []}, "OccurrenceConstraintViolation"),
           ({"a": "a", "b": [1, True]}, "TypeConstraintViolation"),
           ({"a": "a", "b": [10]}, "PropertyConstraintViolation"),
           ({"a": "a", "c": {"id": "1"}}, "TypeConstraintViolation"),
           ({"a": "a", "c": {}}, "OccurrenceConstraintViolation"),
           ({"a": "a", "d": "Z"}, "PropertyConstraintViolation"),
           ({"a": "a", "e": "1"}, "TypeConstraintViolation"),
           ({"a": "a", "f": 1}, "TypeConstraintViolation"),
           ({"a": None}, "TypeConstraintViolation"),
           ({"a": "a", "customData": {}}, "OccurrenceConstraintViolation"),
           ({"a": "a", "x": 1}, "FormatViolation"), ([], "FormatViolation")]
    for obj, code in bad:
        e = raises(C.Invalid, C.check, obj, shape)
        assert e.code == code, (obj, e.code, code)


run(globals())
