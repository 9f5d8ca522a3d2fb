"""Seeded fuzz of the agent through a hostile CSMS (ws_peer.py): mutated CALLs
derived from the schemas, raw frames, fragments, binary frames, pings, duplicate
ids, stray responses; then hostile CALLRESULTs to the agent's own CALLs.

Asserts: the process stays up; each readable CALL gets exactly one reply, with its
id and the error class the schemas call for; every frame the agent sends is valid
UTF-8, valid JSON and valid against the schemas; descriptors and heap stay flat;
a normal GetVariables works at the end.

FUZZ_CASES (default 2500) and FUZZ_SEED change the run:
    FUZZ_CASES=20000 FUZZ_SEED=7 .venv/bin/python -m pytest host_tests/test_fuzz.py
"""
import json
import os
import random
import time

import pytest

from fuzz_cases import RAW_FRAMES, Oracle, cases, load_schema
from jsonschema import Draft4Validator
from test_robustness import default_reply, reconnected, still_serving
from ws_peer import WsPeer, frame, settled_fds

N = int(os.environ.get("FUZZ_CASES", "2500"))
# The 64-bit unix port needs about 2.5 times a board's heap (code and names live in
# it); see the README for the smallest heap each build passes at.
HEAP = os.environ.get("FUZZ_HEAP", "448k")
HOSTILE_ANSWERS = int(os.environ.get("FUZZ_HOSTILE", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "1"))
ERROR_CODES = {"FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
               "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
               "RpcFrameworkError", "SecurityError", "TypeConstraintViolation"}


class Checker:
    """Validates every message the agent sends against the schemas."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.req = {}
        self.bad = []

    def request_validator(self, action):
        if action not in self.req:
            s = load_schema(action, "Request")
            self.req[action] = Draft4Validator(s) if s else None
        return self.req[action]

    def check_call(self, msg):
        v = self.request_validator(msg[2])
        if v is None:
            self.bad.append("agent sent an unknown action %r" % msg[2])
            return
        errs = [e.message for e in v.iter_errors(msg[3])]
        if errs:
            self.bad.append("%s from the agent invalid: %s" % (msg[2], errs[:2]))

    def check_reply(self, action, reply):
        if reply[0] == 3:
            v = self.oracle.response_validator(action)
            errs = [e.message for e in v.iter_errors(reply[2])] if v else []
            if errs:
                self.bad.append("%s response invalid: %s" % (action, errs[:2]))
        elif reply[0] == 4:
            if len(reply) != 5 or reply[2] not in ERROR_CODES or not isinstance(reply[3], str) \
                    or len(reply[3]) > 255 or not isinstance(reply[4], dict):
                self.bad.append("malformed CALLERROR %r" % (reply,))


def _memory_used(peer, mid):
    """usedHeap from a run of the memory self test (after gc.collect in the agent)."""
    for attempt in range(20):
        req = 900000 + attempt + 100 * (abs(hash(mid)) % 1000)
        peer.send(json.dumps([2, mid, "StartDiagnostics", {"requestId": req, "test": [{"testId": "memory"}]}]))
        r = peer.reply_to(mid, 5)
        if r and r[0] == 3 and r[2]["status"] == "Accepted":
            break
        time.sleep(0.5)  # runs still busy from the fuzz
    r = peer.next_message(10, pred=lambda m: m[0] == 2 and m[2] == "NotifyDiagnosticsResult"
                          and m[3]["result"].get("requestId") == req)
    return {m["name"]: m["value"] for m in r[3]["result"]["measurement"]}["usedHeap"]


@pytest.fixture
def fuzz_peer():
    p = WsPeer(default_reply).start()
    yield p
    p.stop()


def test_fuzzed_calls_get_exactly_the_right_replies(fuzz_peer, make_agent):
    peer = fuzz_peer
    oracle = Oracle()
    checker = Checker(oracle)
    a = make_agent(peer, heap=HEAP, retryBackOffWaitMinimum=0, retryBackOffRandomRange=0)
    assert peer.connected.wait(10)
    assert peer.next_message(10, pred=lambda m: m[0] == 2 and m[2] == "StatusNotification")
    rng = random.Random(SEED)
    heap0 = fds0 = None
    wrong = []
    sent = 0
    for i, (kind, action, payload) in enumerate(cases(SEED, N)):
        if i == N // 5:
            # After a warm-up that has loaded every handler and filled every bounded
            # cache: from here on the heap must not grow.
            time.sleep(1)
            heap0 = _memory_used(peer, "mem0")
            fds0 = settled_fds(a.proc.pid)
        if os.environ.get("FUZZ_TRACE_HEAP") and i % 500 == 499:
            print("heap at case %d: %d" % (i, _memory_used(peer, "mt%d" % i)))
        mid = "f%d" % i
        text = json.dumps([2, mid, action, payload], ensure_ascii=rng.random() < 0.5)
        try:
            size = len(text.encode())
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: send it escaped
            text = json.dumps([2, mid, action, payload])
            size = len(text.encode())
        if size > 8000:
            continue  # over maxMessageSize is a 1009 close, tested on its own
        sent += 1
        conns = len(peer.conns)
        if rng.random() < 0.05:  # the same CALL in fragments
            b = text.encode()
            cut = rng.randint(1, len(b) - 1)
            peer.send(frame(1, b[:cut], fin=False) + frame(9, b"p") + frame(0, b[cut:]))
        else:
            peer.send(text)
        reply = peer.reply_to(mid, 10)
        if reply is None or reply[0] == "close":
            wrong.append((kind, action, payload, "no reply: %r" % (reply,)))
            if reply and reply[0] == "close":
                reconnected(peer, conns + 1)
            continue
        checker.check_reply(action, reply)
        want = {"NotImplemented"} if kind == "unknown-action" else \
            {"NotSupported"} if kind == "unsupported-action" else oracle.expect(action, payload, size)
        got = "RESULT" if reply[0] == 3 else reply[2]
        if got not in want:
            wrong.append((kind, action, payload, "got %s, want %s" % (got, sorted(want))))
        if i % 97 == 0:  # now and then: noise between the CALLs
            for raw, rid, code in RAW_FRAMES:
                peer.send(raw)
            peer.send(frame(2, b"\x00\x01binary"))
            for _ in range(20):
                peer.send(frame(9, b"ping"))
    # Raw frames: each gets the reply it must, or none.
    peer.drain()
    for raw, rid, code in RAW_FRAMES:
        peer.send(raw)
        peer.send(json.dumps([2, "marker", "GetVariables", {"getVariableData": [
            {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}]}]))
        got = []
        while True:
            m = peer.next_message(5, pred=lambda m: m[0] in (3, 4))
            assert m and m[0] != "close", (raw, m)
            if m[1] == "marker":
                break
            got.append(m)
        if rid is None:
            assert got == [], (raw, got)
        else:
            assert len(got) == 1 and got[0][1] == rid and got[0][2] in code, (raw, got)
    # Every CALL the agent sent on the way validates.
    for m in list(peer.sent_by_agent):
        if m[0] == 2:
            checker.check_call(m)
    time.sleep(1)  # follow-ups settle
    still_serving(peer)
    heap1 = _memory_used(peer, "mem1")
    fds1 = settled_fds(a.proc.pid)
    assert a.proc.poll() is None
    assert peer.problems == [], peer.problems[:5]
    assert checker.bad == [], checker.bad[:10]
    assert wrong == [], "%d of %d cases wrong, e.g. %s" % (len(wrong), sent, wrong[:5])
    assert fds1 == fds0, (fds0, fds1)
    # Live heap varies by some KB with what is in flight (queued events, the
    # handler module kept loaded, pending results); a leak grows with the cases.
    assert heap1 - heap0 < 24 * 1024, (heap0, heap1)
    assert sent > N * 0.9
    log = a.log()
    # The smallest heap at which the run meets no MemoryError at all is a figure of
    # the issue (README, "A hostile or sloppy CSMS"); the agent fixture fails the test
    # on a MemoryError in the log, and counted here are also the InternalErrors "out of
    # memory" the oracle allows (deep nesting may meet one).
    print("fuzz: %d CALLs, seed %d, heap in use %d -> %d B, %d descriptors, %d MemoryErrors logged"
          % (sent, SEED, heap0, heap1, fds1, log.count("MemoryError") + log.count("out of memory")))


HOSTILE = [
    lambda mid: json.dumps([3, mid, "Accepted"]),
    lambda mid: json.dumps([3, mid, []]),
    lambda mid: json.dumps([3, mid, {"currentTime": 5, "interval": "x", "status": 1}]),
    lambda mid: json.dumps([3, mid, {"unexpected": {"deep": [1, 2, 3]}}]),
    lambda mid: json.dumps([3, mid, {"status": "Accepted", "data": "\ud800"}]),
    lambda mid: json.dumps([3, mid]),
    lambda mid: json.dumps([4, mid, 17, None, "x"]),
    lambda mid: json.dumps([4, mid, "X" * 300, "\U0001F600" * 300, {"a": [1]}]),
    lambda mid: json.dumps([5, mid, "FormatViolation", "no", {}]),
    lambda mid: json.dumps([3, mid + "-other", {}]),
    lambda mid: json.dumps([3, 12345, {}]),
    lambda mid: '[3,"%s",{"a":' % mid,
    lambda mid: frame(2, b"\xff\x00"),
    lambda mid: False,  # no answer at all
]


def test_hostile_answers_to_the_agents_calls(fuzz_peer, make_agent):
    peer = fuzz_peer
    rng = random.Random(SEED)
    counts = {"hostile": 0}

    def answer(action, m):
        if action == "BootNotification" or rng.random() < 0.3:
            return None  # a valid answer now and then, so the agent keeps going
        counts["hostile"] += 1
        return rng.choice(HOSTILE)(m[1])
    a = make_agent(peer, heap=HEAP, messageTimeout=1, retryBackOffWaitMinimum=0, retryBackOffRandomRange=0)
    assert peer.connected.wait(10)
    peer.answer = answer
    triggers = [("TriggerMessage", {"requestedMessage": "Heartbeat"}),
                ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
                ("GetBaseReport", {"requestId": 1, "reportBase": "SummaryInventory"}),
                ("StartDiagnostics", {"requestId": 2, "test": [{"testId": "health"}, {"testId": "memory"}]}),
                ("GetDiagnosticsCatalog", {"requestId": 3})]
    i = 0
    deadline = time.monotonic() + 120
    while counts["hostile"] < HOSTILE_ANSWERS and time.monotonic() < deadline:
        action, payload = triggers[i % len(triggers)]
        if action in ("StartDiagnostics", "GetBaseReport", "GetDiagnosticsCatalog"):
            payload = dict(payload, requestId=1000 + i)
        peer.send(json.dumps([2, "h%d" % i, action, payload]))
        i += 1
        time.sleep(0.02)
    assert counts["hostile"] >= HOSTILE_ANSWERS, counts
    # The CSMS behaves again: the agent is up, serving, and every result gets through.
    peer.answer = None
    assert a.proc.poll() is None
    reconnected(peer, 1)
    deadline = time.monotonic() + 30
    while True:
        r = None
        try:
            peer.send(json.dumps([2, "p", "GetVariables", {"getVariableData": [
                {"component": {"name": "DiagnosticsCtrlr"}, "variable": {"name": "ResultsPending"}}]}]))
            r = peer.reply_to("p", 5)
        except Exception:
            pass
        if r and r[0] == 3 and r[2]["getVariableResult"][0]["attributeValue"] == "0":
            break
        assert time.monotonic() < deadline, "results still pending: %r" % (r,)
        time.sleep(0.5)
    # The agent told the CSMS (2.1) which of its CALLRESULTs it could not take.
    assert any(m[0] == 5 for m in peer.sent_by_agent)
    log = a.log()
    assert "Traceback" not in log and "MemoryError" not in log
    assert peer.problems == [], peer.problems[:5]
