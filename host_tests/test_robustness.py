"""A hostile or sloppy CSMS (issue: robustness): each class of defect an outside
fuzz run found, reproduced with its frame against the real agent. Most tests use
the raw hostile peer (ws_peer.py), which checks every frame the agent sends as a
strict peer would; the others the schema-validating reference CSMS."""
import json
import re
import time

import pytest

from conftest import gv, result_checksum
from diag_helpers import results, start
from ws_peer import WsPeer, frame, open_fds, settled_fds

NOW = "2026-11-29T12:00:00Z"


def default_reply(action):
    if action == "BootNotification":
        return {"currentTime": NOW, "interval": 300, "status": "Accepted"}
    if action == "Heartbeat":
        return {"currentTime": NOW}
    return {}


@pytest.fixture
def peer():
    p = WsPeer(default_reply).start()
    yield p
    p.stop()
    assert p.problems == [], "frames a strict peer refuses: %s" % p.problems[:5]


def booted(peer, timeout=10):
    """Wait for the boot and the connectors' status: the agent is serving."""
    assert peer.connected.wait(timeout)
    got = peer.next_message(timeout, pred=lambda m: m[0] == 2 and m[2] == "StatusNotification")
    assert got and got[0] == 2, got


def reconnected(peer, n, timeout=10):
    """Wait until the agent has opened its n-th connection."""
    deadline = time.monotonic() + timeout
    while len(peer.conns) < n:
        assert time.monotonic() < deadline, "no connection %d" % n
        time.sleep(0.02)
    time.sleep(0.1)


def call(peer, mid, action, payload, timeout=5):
    peer.send(json.dumps([2, mid, action, payload], ensure_ascii=False))
    return peer.reply_to(mid, timeout)


def raw_call(peer, mid, text, timeout=5):
    peer.send(text)
    return peer.reply_to(mid, timeout)


GV_MODEL = {"getVariableData": [{"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}]}


def still_serving(peer, mid="alive"):
    r = call(peer, mid, "GetVariables", GV_MODEL)
    assert r and r[0] == 3 and r[2]["getVariableResult"][0]["attributeStatus"] == "Accepted", r


# --- 1. non-ASCII text: frames counted in bytes -----------------------------------

def test_non_ascii_everywhere_gives_whole_frames(peer, make_agent):
    make_agent(peer, model="Wallbox Ünïcødé 日本 😀", vendor="Ströme")
    booted(peer)
    r = call(peer, "c1", "GetVariables", {"getVariableData": [
        {"component": {"name": "Café"}, "variable": {"name": "Zähler"}},
        {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}]})
    res = r[2]["getVariableResult"]
    assert res[0]["component"]["name"] == "Café" and res[0]["attributeStatus"] == "UnknownComponent"
    assert res[1]["attributeValue"] == "Wallbox Ünïcødé 日本 😀"
    boot = [m for m in peer.sent_by_agent if m[0] == 2 and m[2] == "BootNotification"][0]
    assert boot[3]["chargingStation"]["vendorName"] == "Ströme"
    # Long multi-byte payloads across the 1 KB send chunks.
    r = call(peer, "c2", "GetVariables", {"getVariableData": [
        {"component": {"name": "é" * 50}, "variable": {"name": "日" * 50}}] * 7})
    assert r[0] == 3 and len(r[2]["getVariableResult"]) == 7


def test_non_ascii_requestor_result_is_delivered_and_verifies(csms, agent):
    who = "José Ñandú 😀 運用者"
    assert start(csms, agent.station, 7, ("memory",), requestor=who)["status"] == "Accepted"
    r = results(csms, agent.station, 1)[0]
    assert r["requestor"] == who and r["checksum"] == result_checksum(r)
    deadline = time.monotonic() + 10
    while gv(csms, agent.station, ("DiagnosticsCtrlr", "ResultsPending"))[0]["attributeValue"] != "0":
        assert time.monotonic() < deadline, "result never acknowledged"
        time.sleep(0.1)


# --- 2. surrogates and invalid UTF-8 ------------------------------------------------

def test_escaped_surrogates_are_answered_as_valid_utf8(peer, make_agent):
    make_agent(peer)
    booted(peer)
    text = ('[2,"s1","GetVariables",{"getVariableData":[{"component":{"name":"\\ud800x"},'
            '"variable":{"name":"\\ud83d\\ude00\\udc00"}}]}]')
    r = raw_call(peer, "s1", text)
    item = r[2]["getVariableResult"][0]
    assert item["component"]["name"] == "\ufffdx"
    assert item["variable"]["name"] == "\U0001F600\ufffd"
    # 50 escaped emoji fit a string[50]: each pair is one character.
    r = raw_call(peer, "s2", '[2,"s2","GetVariables",{"getVariableData":[{"component":{"name":"%s"},'
                 '"variable":{"name":"x"}}]}]' % ("\\ud83d\\ude00" * 50))
    assert r[0] == 3 and r[2]["getVariableResult"][0]["component"]["name"] == "\U0001F600" * 50


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"],
                         ids=["ff", "surrogate", "overlong", "above-10FFFF"])
def test_invalid_utf8_text_fails_the_connection_with_1007(peer, make_agent, bad):
    make_agent(peer)
    booted(peer)
    first = peer.conn
    peer.send(frame(1, b'[2,"u1","GetVariables",{"x":"' + bad + b'"}]'))
    assert peer.next_message(5, conn=first, pred=lambda m: False) == ("close", 1007)
    reconnected(peer, 2)  # and it comes back
    still_serving(peer)


# --- 3. the CSMS's responses are checked -------------------------------------------

def test_bad_heartbeat_response_gets_callresulterror_not_a_traceback(peer, make_agent):
    a = make_agent(peer)
    booted(peer)
    peer.answer = lambda action, m: json.dumps([3, m[1], {"currentTime": 5}]) if action == "Heartbeat" else None
    for i in range(3):
        r = call(peer, "t%d" % i, "TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert r[2]["status"] == "Accepted"
        e = peer.next_message(5, pred=lambda m: m[0] == 5)
        assert e[2] == "TypeConstraintViolation", e
    still_serving(peer)
    log = a.log()
    assert log.count("invalid Heartbeat response") == 1, log  # logged once
    assert "Traceback" not in log


@pytest.mark.parametrize("bad", [
    {"status": "Accepted"},
    {"currentTime": NOW, "interval": "300", "status": "Accepted"},
    {"currentTime": NOW, "interval": 300, "status": "Welcome"},
    {"currentTime": NOW, "interval": 300, "status": "Accepted", "extra": 1},
    [1, 2, 3], "Accepted"], ids=["missing", "type", "enum", "extra", "array", "string"])
def test_invalid_boot_response_is_not_an_acceptance(peer, make_agent, bad):
    seen = []

    def answer(action, m):
        if action != "BootNotification":
            return None
        seen.append(m)
        if len(seen) == 1:
            return json.dumps([3, m[1], bad])
        return None  # then a valid one
    peer.answer = answer
    make_agent(peer, retryBackOffWaitMinimum=0, retryBackOffRandomRange=0)
    assert peer.connected.wait(10)
    first = peer.next_message(10, pred=lambda m: m[0] == 2)
    assert first[2] == "BootNotification"
    # The next CALL is another BootNotification, not a StatusNotification.
    nxt = peer.next_message(10, pred=lambda m: m[0] == 2)
    assert nxt[2] == "BootNotification", nxt
    booted(peer)


def test_back_off_grows_when_the_csms_answers_badly(peer, make_agent):
    # Every BootNotification is answered with a frame over maxMessageSize: the agent
    # closes with 1009 each time, and must not reconnect in a tight loop.
    def answer(action, m):
        return frame(1, b" " * 20000) if action == "BootNotification" else None
    peer.answer = answer
    a = make_agent(peer, retryBackOffWaitMinimum=1, retryBackOffRandomRange=0, retryBackOffRepeatTimes=3)
    time.sleep(8)
    n = len(peer.conns)
    # 1 + 2 + 4 (+ 8) s of back-off: 3 or 4 connections in 8 s (152 in 40 s before).
    assert 2 <= n <= 4, n
    assert all(c.close_code == 1009 for c in peer.conns if c.closed), [c.close_code for c in peer.conns]
    assert "Traceback" not in a.log()


# --- 4. DataTransfer data is anyType -------------------------------------------------

def test_data_transfer_data_of_any_type(csms, agent):
    for data in ("hello", 5, [1, "x"], None, {"a": 1}):
        p = {"vendorId": "com.example", "messageId": "x"}
        if data is not None:
            p["data"] = data
        assert csms.call(agent.station, "DataTransfer", p)["status"] == "UnknownVendorId"
    ours = "org.openchargealliance.diagnostics"
    assert csms.call(agent.station, "DataTransfer", {"vendorId": ours, "messageId": "Nope",
                                                     "data": [1]})["status"] == "UnknownMessageId"
    # Our own message needs an object: refused with the reason, like the native one.
    res = csms.call(agent.station, "DataTransfer", {"vendorId": ours, "messageId": "GetDiagnosticsCatalog",
                                                    "data": "x"})
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "InvalidPayload"


# --- 5. messages near maxMessageSize at the device-like heap -----------------------

def _dt_of_size(mid, size):
    head = '[2,"%s","DataTransfer",{"vendorId":"com.example","messageId":"m","data":"' % mid
    tail = '"}]'
    return head + "x" * (size - len(head) - len(tail)) + tail


def test_messages_up_to_max_size_are_answered(peer, make_agent):
    # Each of these parses into one 8 KB string, which needs that much contiguous heap
    # beside the reserved receive buffer (README, "Memory" has the 32-bit figures).
    a = make_agent(peer)
    booted(peer)
    for i, size in enumerate((8000, 8192, 8100, 8192, 7000, 8192) * 4):
        text = _dt_of_size("big%d" % i, size)
        assert len(text.encode()) == size
        r = raw_call(peer, "big%d" % i, text)
        assert r == [3, "big%d" % i, {"status": "UnknownVendorId"}], r
    # One byte over: refused with 1009 before it is read.
    first = peer.conn
    peer.send(_dt_of_size("over", 8193))
    assert peer.next_message(5, conn=first, pred=lambda m: False) == ("close", 1009)
    assert "MemoryError" not in a.log()


def test_fragmented_message_over_the_limit_closes_1009(peer, make_agent):
    make_agent(peer)
    booted(peer)
    first = peer.conn
    chunk = b"x" * 2500
    peer.send(frame(1, b'[2,"f","DataTransfer",{"vendorId":"v","data":"' + chunk, fin=False)
              + frame(0, chunk, fin=False) + frame(0, chunk, fin=False) + frame(0, chunk + b'"}]'))
    assert peer.next_message(5, conn=first, pred=lambda m: False) == ("close", 1009)
    # A fragmented message within the limit is answered.
    reconnected(peer, 2)
    body = json.dumps([2, "g", "GetVariables", GV_MODEL]).encode()
    peer.send(frame(1, body[:10], fin=False) + frame(9, b"ping") + frame(0, body[10:30], fin=False)
              + frame(0, body[30:]))
    r = peer.reply_to("g")
    assert r[0] == 3 and r[2]["getVariableResult"][0]["attributeValue"] == "ADX-1"


# --- 6. no socket or heap leak over reconnects ---------------------------------------

def _heap_at(a, n):
    m = re.search(r"connection %d, heap in use (\d+) B" % n, a.log())
    return int(m.group(1)) if m else None


def test_descriptors_and_heap_flat_over_100_reconnects(peer, make_agent):
    a = make_agent(peer, logLevel="debug", retryBackOffWaitMinimum=0, retryBackOffRandomRange=0)
    booted(peer)
    fds = {}
    for i in range(1, 101):
        reconnected(peer, i)
        c = peer.conns[i - 1]
        if i in (2, 100):
            fds[i] = settled_fds(a.proc.pid)
        # A TCP abort (RST), as a crashed CSMS or a NAT timeout gives.
        peer._loop.call_soon_threadsafe(c.w.transport.abort)
    deadline = time.monotonic() + 10
    while _heap_at(a, 101) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert fds[100] == fds[2], fds
    h2, h101 = _heap_at(a, 2), _heap_at(a, 101)
    assert h101 - h2 < 2048, (h2, h101)


def test_refused_csms_costs_no_descriptor(make_agent, tmp_path):
    from net_peers import free_port

    class Nowhere:
        url = "ws://127.0.0.1:%d" % free_port()
    a = make_agent(Nowhere, retryBackOffWaitMinimum=0, retryBackOffRandomRange=0, retryBackOffRepeatTimes=0)
    a.wait_log("connect failed", 10)

    def most_fds():  # an attempt may be in flight at any moment: the largest of many looks
        out = 0
        for _ in range(50):
            out = max(out, open_fds(a.proc.pid))
            time.sleep(0.005)
        return out
    before = most_fds()
    n0 = a.log().count("connect failed")
    deadline = time.monotonic() + 30
    while a.log().count("connect failed") < n0 + 50:  # many attempts in between
        assert time.monotonic() < deadline, a.log()[-2000:]
        time.sleep(0.1)
    assert most_fds() <= before


# --- 7. reply ids -------------------------------------------------------------------

@pytest.mark.parametrize("text,mid,code", [
    ('[2,"id-x","GetVariables",{},"extra"]', "id-x", "RpcFrameworkError"),
    ('["2","id-y","GetVariables",{}]', "-1", "RpcFrameworkError"),
    ('[2,"id-y2","GetVariables",' + "[" * 60 + "]" * 60 + "]", "id-y2", "FormatViolation"),
    # Nested so deep that parsing may exhaust the heap (InternalError) or, with room,
    # parses into a payload of the wrong type (FormatViolation): answered, with its id.
    ('[2,"id-z","GetVariables",' + "[" * 3000 + "]" * 3000 + "]", "id-z", ("InternalError", "FormatViolation")),
    ('[2,"id-t","GetVariables",{"getVariableData":[]}', "-1", "RpcFrameworkError"),
])
def test_reply_carries_the_id_of_a_well_formed_envelope(peer, make_agent, text, mid, code):
    make_agent(peer)
    booted(peer)
    peer.send(text)
    r = peer.next_message(5, pred=lambda m: m[0] == 4)
    assert r[1] == mid and r[2] in (code if type(code) is tuple else (code,)), r
    still_serving(peer)
