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


async def test_a_reply_with_no_heap_for_its_text_still_gets_an_answer():
    # Serialising a big CALLRESULT can find no block on a fragmented heap: the CSMS
    # must still get an answer for its id (non-ASCII and a quote: escaped), not silence.
    from ocpp import rpc
    r, ws = make()
    real = rpc._dumps

    def no_heap(msg):
        if msg[0] == 3:
            raise MemoryError()
        return real(msg)
    rpc._dumps = no_heap
    try:
        await r.dispatch('[2,"K\\u00e9\\"y","Echo",{"n":2}]')
    finally:
        rpc._dumps = real
    assert ws.sent == [[4, 'K\u00e9"y', "InternalError", "out of memory", {}]], ws.sent


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
    assert await r.call("Heartbeat", {}, resp=(("ok", C.BOOL | C.REQ, None),)) == {"ok": True}
    await t


async def test_streamed_call_is_the_same_message():
    # A CALL whose list is made while it goes out: one element per piece, and the
    # rest of the payload decided after the last one (non-ASCII, quotes, an empty rest).
    for items, rest in (([{"v": "\u00e9t\u00e9 \"q\""}, {"v": "\u20ac"}], {"tbc": False, "n": "\u00fc"}),
                        ([], {"tbc": True}), ([1, 2, 3], {})):
        r, ws = make()
        made = []

        def gen():
            for x in items:
                made.append(x)
                yield x

        def later():
            assert len(made) == len(items)  # asked for only after the last element
            return rest

        async def answer():
            await asyncio.sleep_ms(5)
            await r.dispatch(json.dumps([3, ws.sent[0][1], {}]))

        t = asyncio.create_task(answer())
        assert await r.call("NotifyReport", later, items=("reportData", gen())) == {}
        await t
        want = dict(rest)
        want["reportData"] = items
        assert ws.sent[0][0] == 2 and ws.sent[0][2] == "NotifyReport" and ws.sent[0][3] == want
        assert len(ws.pieces) >= len(items) + 2


async def _answered(r, ws, reply, resp=()):
    """r.call() answered with `reply` (a function of the CALL's id) -> result or error."""
    async def answer():
        await asyncio.sleep_ms(5)
        await r.dispatch(reply(ws.sent[-1][1]))

    t = asyncio.create_task(answer())
    try:
        return await r.call("Heartbeat", {}, resp=resp)
    except CallError as e:
        return e
    finally:
        await t


async def test_invalid_call_result_is_refused_with_callresulterror():
    from ocpp import responses
    r, ws = make()
    e = await _answered(r, ws, lambda mid: json.dumps([3, mid, {"currentTime": 5}]), responses.HEARTBEAT)
    assert isinstance(e, CallError) and e.code == "TypeConstraintViolation"
    # OCPP 2.1: the CSMS is told its CALLRESULT was not acceptable.
    assert ws.sent[-1][0] == 5 and ws.sent[-1][2] == "TypeConstraintViolation"
    assert ws.sent[-1][1] == ws.sent[-2][1]
    e = await _answered(r, ws, lambda mid: json.dumps([3, mid, {}]), responses.HEARTBEAT)
    assert e.code == "OccurrenceConstraintViolation"
    e = await _answered(r, ws, lambda mid: json.dumps([3, mid, {"currentTime": "x", "extra": 1}]),
                        responses.HEARTBEAT)
    assert e.code == "FormatViolation"
    ok = await _answered(r, ws, lambda mid: json.dumps([3, mid, {"currentTime": "2026-01-01T00:00:00Z"}]),
                         responses.HEARTBEAT)
    assert ok == {"currentTime": "2026-01-01T00:00:00Z"} and r.answered
    # An empty response is the default shape: anything else is refused.
    e = await _answered(r, ws, lambda mid: json.dumps([3, mid, {"surprise": [1]}]))
    assert e.code == "FormatViolation"


async def test_malformed_call_error_fields_are_not_trusted():
    r, ws = make()
    e = await _answered(r, ws, lambda mid: json.dumps([4, mid, 17, {"x": 1}, "no"]))
    assert e.code == "GenericError" and e.desc == ""
    e = await _answered(r, ws, lambda mid: json.dumps([4, mid, "X" * 500, "d" * 1000, {}]))
    assert len(e.code) <= 36 and len(e.desc) <= 255


async def test_escaped_surrogates_become_valid_text():
    r, ws = make()
    # A pair is the character; a lone half becomes U+FFFD; the reply is valid UTF-8.
    await r.dispatch('[2,"\\ud83d\\ude00\\ud800","Nope",{}]')
    assert ws.sent[-1][1] == "\U0001F600\ufffd", ws.sent[-1]
    await r.dispatch('[2,"x\\\\ud800","Nope",{}]')  # an escaped backslash, then text
    assert ws.sent[-1][1] == "x\\ud800"


def test_fix_surrogates_in_place():
    from ocpp.text import fix_surrogates
    cases = [(b'"\\ud83d\\ude00"', "\U0001F600"), (b'"a\\uD83D\\uDE00b"', "a\U0001F600b"),
             (b'"\\udc00\\ud800"', "\ufffd\ufffd"), (b'"\\ud800x"', "\ufffdx"),
             (b'"\\\\ud800"', "\\ud800"), (b'"\\u00e9"', "\u00e9"), (b'"\\ud8zz"', None)]
    for raw, want in cases:
        b = bytearray(raw)
        n = fix_surrogates(b, len(b))
        if want is None:  # not a surrogate escape: left alone
            assert bytes(b[:n]) == raw
            continue
        got = json.loads(bytes(b[:n]))
        assert got == want, (raw, got)
        got.encode().decode()  # valid UTF-8


def test_scan_id_reads_only_a_well_formed_start():
    from ocpp.rpc import _scan_id
    for raw, want in ((b'[2,"abc","X",{', "abc"), (b' [ 2 , "a-1", ', "a-1"), (b'[2,"a\\"b",', "-1"),
                      (b'{"a":1}', "-1"), (b'[x,"abc",', "-1"), (b'[2,"' + b"x" * 40 + b'",', "-1"),
                      (b'[2,""', "-1"), (b"", "-1")):
        assert _scan_id(bytearray(raw), len(raw)) == want, raw


async def test_flood_of_follow_up_requests_is_refused_beyond_the_bound():
    import slow_op
    r, ws = make()
    r.on("Slow", "slow_op")
    for i in range(6):
        await r.dispatch('[2,"f%d","Slow",{"n":%d}]' % (i, i))
    statuses = [m[2]["status"] for m in ws.sent]
    assert statuses == ["Accepted"] * 4 + ["Rejected"] * 2, statuses
    assert ws.sent[-1][2]["statusInfo"]["reasonCode"] == "Busy"
    # The follow-ups end: room again.
    for c in r.agent.spawned:
        asyncio.create_task(c)
    slow_op.release.set()
    await asyncio.sleep_ms(10)
    assert r.followups == 0
    await r.dispatch('[2,"f9","Slow",{"n":9}]')
    assert ws.sent[-1][2]["status"] == "Accepted"


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


async def test_message_id_rules():
    r, ws = make()
    cases = [('["2","a","Echo",{}]', "-1", "RpcFrameworkError"),   # type not an integer
             ('[2,"","Echo",{}]', "-1", "RpcFrameworkError"),      # empty id
             ('[2,"b","Echo",{"n":1},"extra"]', "b", "RpcFrameworkError"),
             ('[2,"c",{"n":1}]', "c", "RpcFrameworkError"),
             ('[2,"d","Echo",{"n":1},]', "d", None),               # lenient JSON: accepted
             ('[2,"\u00e9\u00e8","Nope",{}]', "\u00e9\u00e8", "NotImplemented")]
    for text, mid, code in cases:
        ws.sent.clear()
        await r.dispatch(text)
        assert len(ws.sent) == 1 and ws.sent[0][1] == mid, (text, ws.sent)
        if code:
            assert ws.sent[0][0] == 4 and ws.sent[0][2] == code, (text, ws.sent)
        else:
            assert ws.sent[0][0] == 3, (text, ws.sent)


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
