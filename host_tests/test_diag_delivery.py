"""Results reach the CSMS reliably: across a dropped connection, an agent killed
mid-write and a torn journal; none lost, none duplicated in the journal; past
results on request."""
import json
import os
import time

import pytest

from conftest import gv, result_checksum, wait_booted
from diag_helpers import results, start


def _journal(agent):
    path = os.path.join(agent.cfg["dataDir"], "results.log")
    recs = []
    with open(path) as f:
        for line in f:
            body, _, crc = line.rstrip("\n").rpartition(" ")
            recs.append(json.loads(body))
    return recs


def pending(csms, agent):
    return gv(csms, agent.station, ("DiagnosticsCtrlr", "ResultsPending"))[0]["attributeValue"]


@pytest.mark.req("DG04.FR.02")
def test_results_delivered_after_reconnect(csms, agent):
    start(csms, agent.station, 1, *[("noop", {"durationMs": 400})] * 5)
    csms.wait_for("NotifyDiagnosticsResult", station=agent.station)
    n = len(csms.messages())
    csms.drop(agent.station)  # TCP abort while tests are still running
    csms.wait_for(type="CONNECT", station=agent.station, after=n)
    got = {}
    after = 0
    while len(got) < 5:
        rec = csms.wait_for("NotifyDiagnosticsResult", station=agent.station, after=after, timeout=20)
        after = rec["index"] + 1
        r = rec["payload"]["result"]
        assert r["checksum"] == result_checksum(r)
        got[r["resultId"]] = r  # a repeat carries the same id: the CSMS drops it
    assert sorted(r["testId"] for r in got.values()) == ["noop"] * 5
    assert all(r["verdict"] == "Passed" for r in got.values())
    # The journal holds each result once, all acknowledged.
    deadline = time.monotonic() + 10
    while pending(csms, agent) != "0":
        assert time.monotonic() < deadline, "results still pending"
        time.sleep(0.1)
    assert agent.stop() == 0
    recs = _journal(agent)
    ids = [r["resultId"] for r in recs if "resultId" in r]
    assert sorted(ids) == sorted(got) and len(ids) == len(set(ids))
    assert {r["ack"] for r in recs if "ack" in r} == set(ids)


@pytest.mark.req("DG04.FR.01", "DG04.FR.02", "DG04.FR.03", "DG04.FR.05")
def test_killed_agent_keeps_journal_and_delivers_after_restart(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    # Stop answering results: they stay pending in the journal.
    from harness import NO_REPLY
    csms.add_handler("NotifyDiagnosticsResult", lambda station, payload: NO_REPLY)
    start(csms, a.station, 1, *[("memory",)] * 3)
    csms.wait_for("NotifyDiagnosticsStatus", station=a.station, timeout=15,
                  predicate=lambda r: r["payload"]["status"] == "Finished")
    a.kill()  # SIGKILL: no clean shutdown
    recs = _journal(a)
    pending = [r["resultId"] for r in recs if "resultId" in r]
    assert len(pending) == 3
    # A power cut in mid-write: a torn last line.
    with open(os.path.join(a.cfg["dataDir"], "results.log"), "a") as f:
        f.write('{"resultId": 99, "testId": "mem')
    csms.add_handler("NotifyDiagnosticsResult", lambda station, payload: {})
    n = len(csms.messages())
    a.start()
    a.wait_log("journal: 1 torn or corrupt record")
    got = results(csms, a.station, 3, after=n)
    assert sorted(r["resultId"] for r in got) == sorted(pending)
    # New results continue the numbering; the torn record is gone for good.
    start(csms, a.station, 2, ("memory",))
    (r,) = results(csms, a.station, 1, pred=lambda r: r.get("requestId") == 2)
    assert r["resultId"] == max(pending) + 1
    assert all(x.get("resultId") != 99 for x in _journal(a))


@pytest.mark.req("DG04.FR.08", "DG04.FR.09")
def test_get_results_replays_from_journal(csms, agent):
    start(csms, agent.station, 1, ("memory",), ("noop", {"durationMs": 0, "outcome": "Failed"}))
    first = results(csms, agent.station, 2)
    n = len(csms.messages())
    res = csms.call(agent.station, "GetDiagnosticsResults", {"requestId": 77, "testId": ["noop"]})
    assert res["status"] == "Accepted"
    rec = csms.wait_for("NotifyDiagnosticsResult", station=agent.station, after=n,
                        predicate=lambda r: r["payload"].get("reportRequestId") == 77)
    assert rec["payload"]["result"] == first[1] and rec["payload"]["tbc"] is False
    res = csms.call(agent.station, "GetDiagnosticsResults", {"requestId": 78, "testId": ["health"]})
    assert res["status"] == "EmptyResultSet"
    res = csms.call(agent.station, "GetDiagnosticsResults", {"requestId": 79, "resultIdFrom": 1,
                                                             "maxResults": 1})
    assert res["status"] == "Accepted"
    rec = csms.wait_for("NotifyDiagnosticsResult", station=agent.station, after=n,
                        predicate=lambda r: r["payload"].get("reportRequestId") == 79)
    assert rec["payload"]["result"]["resultId"] == first[0]["resultId"]
    res = csms.call(agent.station, "GetDiagnosticsResults", {"requestId": 80, "from": "gestern"})
    assert res["status"] == "Rejected" and res["statusInfo"]["reasonCode"] == "InvalidRange"


@pytest.mark.req("DG04.FR.07")
def test_result_refused_by_the_csms_is_not_sent_again_but_kept(csms, agent):
    from harness import CallErrorReply

    def refuse(station, payload):
        raise CallErrorReply("FormatViolation", "refusé: «résultat» illisible")

    csms.add_handler("NotifyDiagnosticsResult", refuse)
    start(csms, agent.station, 1, ("memory",))
    r1 = csms.wait_for("NotifyDiagnosticsResult", station=agent.station)["payload"]["result"]
    csms.add_handler("NotifyDiagnosticsResult", lambda station, payload: {})
    start(csms, agent.station, 2, ("memory",))
    # Pending results go out oldest first: had r1 stayed pending it would come before r2.
    (r2,) = results(csms, agent.station, 1, pred=lambda r: r.get("requestId") == 2)
    sent = [r["payload"]["result"]["resultId"] for r in
            csms.messages(station=agent.station, action="NotifyDiagnosticsResult")]
    assert sent == [r1["resultId"], r2["resultId"]]
    deadline = time.monotonic() + 10  # r2's acknowledgement is journaled just after it arrives
    while pending(csms, agent) != "0":
        assert time.monotonic() < deadline, "a result still pending"
        time.sleep(0.1)
    # Still in the journal, for GetDiagnosticsResults (and GetLog).
    n = len(csms.messages())
    res = csms.call(agent.station, "GetDiagnosticsResults", {"requestId": 9, "resultIdFrom": r1["resultId"],
                                                             "maxResults": 1})
    assert res["status"] == "Accepted"
    rec = csms.wait_for("NotifyDiagnosticsResult", station=agent.station, after=n)
    assert rec["payload"]["result"] == r1 and rec["payload"]["reportRequestId"] == 9


@pytest.mark.req("DG04.FR.06")
def test_journal_is_bounded(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    for i in range(5):
        start(csms, a.station, 100 + i, *[("noop", {"durationMs": 0})] * 20)
        csms.wait_for("NotifyDiagnosticsStatus", station=a.station, timeout=30,
                      predicate=lambda r, i=i: r["payload"]["requestId"] == 100 + i
                      and r["payload"]["status"] == "Finished")
    results(csms, a.station, 100, timeout=30)
    recs = _journal(a)
    kept = [r for r in recs if "resultId" in r]
    assert 0 < len(kept) <= 96, len(kept)
    assert kept[-1]["resultId"] == max(r["resultId"] for r in kept)


@pytest.mark.req("DG04.FR.02", "DG05.FR.06")
def test_offline_results_and_events_delivered_when_csms_returns(make_agent):
    from harness import ThreadedCsms
    c1 = ThreadedCsms().start()
    port = c1.port
    a = make_agent(c1)
    wait_booted(c1, a)
    # A failing test every second, scheduled with its parameters.
    start(c1, a.station, 1, ("memory", {"minFreeBytes": 16777216}), schedule={"interval": 1})
    c1.stop()  # the CSMS goes away; the station keeps testing
    a.wait_log("(?s)disconnected.*diag: memory Failed")
    c2 = ThreadedCsms(port=port).start()
    try:
        rs = results(c2, a.station, 1, timeout=20)
        assert rs[0]["verdict"] == "Failed" and rs[0]["trigger"] == "Scheduled"
        ev = c2.wait_for("NotifyEvent", station=a.station, timeout=20)
        assert ev["payload"]["eventData"][0]["actualValue"] == "Failed"
        assert c2.violations == []
    finally:
        start(c2, a.station, 2, ("memory",), schedule={"interval": 0})
        a.stop()
        c2.stop()
