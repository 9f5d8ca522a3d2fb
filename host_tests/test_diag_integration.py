"""Integration tests of the station (diag/tests/csms, dns, tcp, ntp, nts) against
real peers on loopback high ports: chronyd (NTP, NTS-KE), dnsmasq, and small
Python servers for what those will not do on request (tools/net_peers.py).
Each test also shows the OCPP connection answering GetVariables while the
integration test is running."""
import asyncio
import os
import time

import pytest

import certs
from conftest import gv, sv, wait_booted
from csms import now_iso
from diag_helpers import offered, offline_startup_result, meas, results, start, wait_status
from net_peers import (Chrony, Dnsmasq, FakeNtp, FullBacklog, SilentUdp, TlsFront, TruncatingDns,
                       free_port)

TARGETS = {"name": "DiagnosticsTargets"}


@pytest.fixture
def peers(tmp_path):
    """peers(PeerClass(...)) starts it and stops it at teardown."""
    started = []

    def add(p):
        started.append(p)
        return p.start() if hasattr(p, "start") and not hasattr(p, "sock") else p

    yield add
    for p in reversed(started):
        p.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    ca = certs.make_ca(os.path.join(d, "ca"), name="NTS Test Root")
    srv = certs.make_server_cert(os.path.join(d, "ca"), ca, cn="localhost")
    other = certs.make_ca(os.path.join(d, "other"), name="Other Root")
    expired = certs.make_ca_dated(os.path.join(d, "expired"), "Expired Root", "20200101000000Z",
                                  "20210101000000Z")
    soon = certs.make_ca(os.path.join(d, "soon"), name="Expiring Root", days=9.5)
    not_ca = certs.make_ca_dated(os.path.join(d, "notca"), "Not A CA", "20250101000000Z",
                                 "20400101000000Z", ca=False)
    return {"ca": ca, "srv": srv, "other": other, "expired": expired, "soon": soon, "notca": not_ca}


def run_test(csms, station, req_id, test, params=None, timeout=30):
    """Start one test; poll GetVariables until its result is in. -> (result,
    GetVariables answered while the test was running, slowest answer in s)."""
    res = start(csms, station, req_id, (test, params or {}))
    assert res["status"] == "Accepted", res
    during, worst = 0, 0.0
    deadline = time.monotonic() + timeout
    def mine(rec):
        return rec["payload"]["result"].get("requestId") == req_id

    while not [x for x in csms.messages(station=station, action="NotifyDiagnosticsResult") if mine(x)]:
        t0 = time.perf_counter()
        v = gv(csms, station, ("DiagnosticsCtrlr", "RunningTests"), ("ChargingStation", "Model"))
        worst = max(worst, time.perf_counter() - t0)
        assert v[1]["attributeValue"] == "ADX-1"
        if test in v[0]["attributeValue"].split(","):
            during += 1
        assert time.monotonic() < deadline, "no result for %s" % test
        time.sleep(0.05)
    (r,) = results(csms, station, 1, pred=lambda x: x.get("requestId") == req_id)
    assert r["testId"] == test and r["testType"] == "IntegrationTest"
    wait_status(csms, station, req_id, "Finished")
    assert worst < 1.0, "GetVariables took %.2f s during %s" % (worst, test)
    return r, during


def reason(r):
    return r["statusInfo"]["reasonCode"], r["statusInfo"]["additionalInfo"]


# --- csms ---------------------------------------------------------------------

def test_csms_online_heartbeat_rtt(csms, agent):
    r, _ = run_test(csms, agent.station, 1, "csms")
    m = meas(r)
    assert r["verdict"] == "Passed"
    assert m["connected"]["value"] == 1 and m["connected"]["withinLimit"]
    assert 0 <= m["heartbeatRtt"]["value"] < 2000 and m["heartbeatRtt"]["unit"] == "ms"
    assert m["heartbeatRtt"]["limit"] == "<= 2000"
    assert abs(m["csmsClockDelta"]["value"]) <= 2
    # The pong to the test's own ping (websockets answers pings itself).
    assert 0 <= m["pingRtt"]["value"] < 2000 and m["pingRtt"]["unit"] == "ms"
    assert "Heartbeat answered in" in r["evidence"] and "WebSocket ping in" in r["evidence"]


@pytest.mark.req("DG02.FR.11")
def test_csms_slow_heartbeat_fails_and_ocpp_answers_meanwhile(csms, agent):
    async def slow(station, payload):
        await asyncio.sleep(1.5)
        return {"currentTime": now_iso()}

    csms.add_handler("Heartbeat", slow)
    r, during = run_test(csms, agent.station, 2, "csms", {"maxRttMs": 500})
    assert during > 0
    assert r["verdict"] == "Failed" and reason(r)[0] == "SlowCsms"
    assert meas(r)["heartbeatRtt"]["value"] >= 1400 and not meas(r)["heartbeatRtt"]["withinLimit"]


def test_csms_offline_is_failed_not_refused(csms, make_agent):
    # Started at boot before the connection (StartupTiming BeforeBoot): offline.
    a, r = offline_startup_result(csms, make_agent, "csms")
    assert (r["testId"], r["trigger"], r["verdict"]) == ("csms", "StartUp", "Failed")
    assert reason(r)[0] == "Offline"
    assert meas(r)["connected"] == {"name": "connected", "value": 0, "limit": "= 1", "withinLimit": False}
    assert "no WebSocket connection" in r["evidence"]
    cat = csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": 3, "testId": ["csms"]})
    assert cat["status"] == "Accepted"
    t = csms.wait_for("NotifyDiagnosticsCatalog", station=a.station)["payload"]["test"][0]
    assert t["constraints"]["needsNetwork"] is False and t["testType"] == "IntegrationTest"


# --- ntp ------------------------------------------------------------------------

def test_ntp_chrony_reachable(csms, make_agent, peers, tmp_path):
    ch = peers(Chrony(str(tmp_path / "chrony")))
    a = make_agent(csms, diagTargets={"ntpServers": ["127.0.0.1:%d" % ch.port]})
    wait_booted(csms, a)
    target = "127.0.0.1:%d" % ch.port
    assert gv(csms, a.station, (TARGETS, "NtpServers"))[0]["attributeValue"] == target
    r, _ = run_test(csms, a.station, 1, "ntp")
    m = meas(r)
    assert r["verdict"] == "Passed", r
    off = m["offset@" + target]
    # The station clock follows the CSMS's currentTime in whole seconds.
    assert off["unit"] == "ms" and abs(off["value"]) < 1500 and off["withinLimit"]
    assert m["stratum@" + target]["value"] == 8  # chrony's "local stratum 8"
    assert m["leap@" + target]["value"] == 0
    assert 0 <= m["delay@" + target]["value"] < 100
    assert m["rootDispersion@" + target]["withinLimit"]
    assert "stratum 8" in r["evidence"]


def test_ntp_targets_from_device_model(csms, make_agent, peers, tmp_path):
    ch = peers(Chrony(str(tmp_path / "chrony")))
    a = make_agent(csms, diagTargets={"ntpServers": ["127.0.0.1:%d" % free_port()]})
    wait_booted(csms, a)
    # The CSMS moves the station to another server, and adds one through ClockCtrlr.
    fake = peers(FakeNtp(skew=0.2))
    assert sv(csms, a.station, TARGETS, "NtpServers", "127.0.0.1:%d" % ch.port)["attributeStatus"] == "Accepted"
    assert sv(csms, a.station, "ClockCtrlr", {"name": "NtpServerUri", "instance": "1"},
              "ntp://127.0.0.1:%d" % fake.port)["attributeStatus"] == "Accepted"
    r, _ = run_test(csms, a.station, 1, "ntp")
    assert r["verdict"] == "Passed", r
    names = {m["name"] for m in r["measurement"]}
    assert "offset@127.0.0.1:%d" % ch.port in names
    assert "offset@ntp://127.0.0.1:%d" % fake.port in names
    assert fake.queries == 1


def test_ntp_unreachable_fails_after_retries(csms, agent, peers):
    silent = peers(SilentUdp())
    r, during = run_test(csms, agent.station, 1, "ntp", {
        "servers": "127.0.0.1:%d" % silent.port, "timeoutMs": 400, "tries": 3})
    assert during > 0  # OCPP answered while the test waited for the server
    code, info = reason(r)
    assert r["verdict"] == "Failed" and code == "NoReply"
    assert "no reply after 3 tries of 400 ms" in info
    # A closed port is told apart: ICMP port unreachable comes back at once.
    r, _ = run_test(csms, agent.station, 2, "ntp", {"servers": "127.0.0.1:%d" % free_port()})
    assert r["verdict"] == "Failed" and "port closed" in reason(r)[1]


def test_ntp_offset_over_limit(csms, agent, peers):
    skewed = peers(FakeNtp(skew=3600))
    t = "127.0.0.1:%d" % skewed.port
    r, _ = run_test(csms, agent.station, 1, "ntp", {"servers": t, "maxOffsetMs": 1000})
    m = meas(r)
    assert r["verdict"] == "Failed" and reason(r)[0] == "OffsetTooLarge"
    assert 3598000 < m["offset@" + t]["value"] < 3602000 and not m["offset@" + t]["withinLimit"]
    assert type(m["offset@" + t]["value"]) is int
    assert m["offset@" + t]["limit"] == "|x| <= 1000"
    assert m["stratum@" + t]["value"] == 2 and m["rootDelay@" + t]["value"] == 31  # 1/32 s


def test_ntp_kiss_of_death(csms, agent, peers):
    kod = peers(FakeNtp(kiss="RATE"))
    ok = peers(FakeNtp())
    r, _ = run_test(csms, agent.station, 1, "ntp", {
        "servers": "127.0.0.1:%d,127.0.0.1:%d" % (kod.port, ok.port)})
    code, info = reason(r)
    assert r["verdict"] == "Failed" and code == "KissOfDeath"
    assert "kiss-of-death RATE" in info and str(kod.port) in info
    assert kod.queries == 1  # not asked again after the kiss
    assert "offset@127.0.0.1:%d" % ok.port in meas(r)


def test_ntp_unsynchronised_server(csms, agent, peers):
    alarm = peers(FakeNtp(leap=3))
    t = "127.0.0.1:%d" % alarm.port
    r, _ = run_test(csms, agent.station, 1, "ntp", {"servers": t})
    assert r["verdict"] == "Failed" and reason(r)[0] == "Unsynchronized"
    assert meas(r)["leap@" + t]["value"] == 3


# --- nts ------------------------------------------------------------------------

def test_nts_chrony_inconclusive_with_what_was_checked(csms, make_agent, peers, tmp_path, pki):
    ch = peers(Chrony(str(tmp_path / "chrony"), cert=pki["srv"].cert, key=pki["srv"].key))
    t = "127.0.0.1:%d" % ch.nts_port
    a = make_agent(csms, diagTargets={"ntsServers": [t], "ntsCaFiles": [pki["ca"].cert]})
    wait_booted(csms, a)
    r, _ = run_test(csms, a.station, 1, "nts")
    m = meas(r)
    assert r["verdict"] == "Inconclusive", r
    assert reason(r)[0] == "NtsNotVerifiable" and "missing here: set_alpn_protocols" in reason(r)[1]
    assert m["caDaysLeft@NTS Test Root"]["value"] in (364, 365) and m["caDaysLeft@NTS Test Root"]["withinLimit"]
    assert "keConnectTime@" + t in m
    ev = r["evidence"]
    assert "not verified: NTS-KE exchange" in ev and "TLS 1.3" in ev
    assert "chain cannot be verified here" in ev and "chainVerified@" + t not in m
    assert "CA NTS Test Root valid" in ev


def test_nts_chain_verified_over_tls12_front(csms, agent, peers, pki):
    front = peers(TlsFront(pki["srv"].cert, pki["srv"].key))
    t = "127.0.0.1:%d" % front.port
    r, _ = run_test(csms, agent.station, 1, "nts", {"servers": t, "caFiles": pki["ca"].der})
    assert r["verdict"] == "Inconclusive", r
    assert meas(r)["chainVerified@" + t]["value"] == 1
    assert "chain verifies against NTS Test Root" in r["evidence"]
    # Trusting only another root: a real verification failure, Failed.
    r, _ = run_test(csms, agent.station, 2, "nts", {"servers": t, "caFiles": pki["other"].cert})
    assert r["verdict"] == "Failed" and reason(r)[0] == "ChainNotVerified"
    assert meas(r)["chainVerified@" + t]["value"] == 0
    assert "does not verify against Other Root" in r["evidence"]


def test_nts_ke_port_closed(csms, agent, pki):
    r, _ = run_test(csms, agent.station, 1, "nts", {"servers": "127.0.0.1:%d" % free_port(),
                                                    "caFiles": pki["ca"].cert})
    assert r["verdict"] == "Failed" and reason(r)[0] == "NtsKePortClosed"
    assert "closed (refused)" in reason(r)[1]


@pytest.mark.req("DG02.FR.11")
def test_nts_ke_port_filtered_while_ocpp_answers(csms, agent, peers, pki):
    fb = peers(FullBacklog())
    r, during = run_test(csms, agent.station, 1, "nts", {"servers": "127.0.0.1:%d" % fb.port,
                                                         "timeoutMs": 1500})
    assert during > 0
    assert r["verdict"] == "Failed" and reason(r)[0] == "NtsKeNoAnswer"


@pytest.mark.parametrize("which,action,verdict,code,text", [
    ("expired", "Fail", "Failed", "CaExpired", "CA Expired Root expired 2021-01-01"),
    ("soon", "Fail", "Failed", "CaExpiresSoon", "in 9 days (limit 30)"),
    ("soon", "Warn", "Inconclusive", "NtsNotVerifiable", "warning: CA Expiring Root expires"),
    ("notca", "Fail", "Failed", "NotACa", "Not A CA is not a CA certificate"),
])
def test_nts_root_ca_checks(csms, agent, pki, which, action, verdict, code, text):
    r, _ = run_test(csms, agent.station, 1, "nts", {"caFiles": pki[which].cert, "expiryAction": action})
    assert r["verdict"] == verdict and reason(r)[0] == code, r
    assert text in reason(r)[1] + r.get("evidence", "")


# --- dns ------------------------------------------------------------------------

def test_dns_names_found_and_nxdomain(csms, make_agent, peers, tmp_path):
    dm = peers(Dnsmasq(str(tmp_path / "dns"), [("svc.test", ["10.1.2.3", "fd00::1"]),
                                               ("v4only.test", ["10.4.4.4"])]))
    a = make_agent(csms, diagTargets={"dnsResolver": "127.0.0.1:%d" % dm.port,
                                      "dnsNames": ["svc.test", "v4only.test"]})
    wait_booted(csms, a)
    r, _ = run_test(csms, a.station, 1, "dns")
    m = meas(r)
    assert r["verdict"] == "Passed", r
    assert m["answers@svc.test"]["value"] == 2 and m["ttl@svc.test"]["value"] == 300
    assert m["rcode@svc.test"]["value"] == 0 and m["resolveTime@svc.test"]["withinLimit"]
    assert "svc.test: NOERROR 10.1.2.3,fd00::1 ttl 300" in r["evidence"]
    assert m["answers@v4only.test"]["value"] == 1
    # NXDOMAIN names the name.
    r, _ = run_test(csms, a.station, 2, "dns", {"names": "svc.test,missing.test"})
    assert r["verdict"] == "Failed" and reason(r) == ("NXDOMAIN", "missing.test: NXDOMAIN")
    assert meas(r)["rcode@missing.test"]["value"] == 3 and meas(r)["answers@missing.test"]["value"] == 0


def test_dns_resolver_down(csms, agent, peers):
    r, _ = run_test(csms, agent.station, 1, "dns", {"names": "svc.test",
                                                    "resolver": "127.0.0.1:%d" % free_port()})
    assert r["verdict"] == "Failed" and reason(r)[0] == "ResolverDown"
    assert "svc.test" in reason(r)[1] and "port closed" in reason(r)[1]
    silent = peers(SilentUdp())
    r, during = run_test(csms, agent.station, 2, "dns", {"names": "svc.test", "timeoutMs": 300, "tries": 3,
                                                         "resolver": "127.0.0.1:%d" % silent.port})
    assert during > 0
    assert r["verdict"] == "Failed" and reason(r)[0] == "NoAnswer" and "after 3 tries" in reason(r)[1]


def test_dns_truncated_answer_retried_over_tcp(csms, agent, peers):
    tc = peers(TruncatingDns(addr="10.7.7.7", addr6="fd00::7"))
    r, _ = run_test(csms, agent.station, 1, "dns", {"names": "big.test", "resolver": "127.0.0.1:%d" % tc.port})
    assert r["verdict"] == "Passed", r
    assert "big.test: NOERROR 10.7.7.7,fd00::7 ttl 120" in r["evidence"]
    assert "(TCP after truncation)" in r["evidence"]
    assert tc.udp_queries == 2 and tc.tcp_queries == 2


def test_dns_non_ascii_name_is_a_clear_failure(csms, agent, peers, tmp_path):
    dm = peers(Dnsmasq(str(tmp_path / "dns"), [("svc.test", ["10.1.2.3"])]))
    # Set through the device model (SetVariables does not echo the value back):
    # lib/ocpp/ws.py frames a str by its length in characters, so any non-ASCII
    # text the station sends is cut short; the name is reported escaped.
    assert sv(csms, agent.station, TARGETS, "DnsNames", "bücher.test,svc.test")["attributeStatus"] == "Accepted"
    r, _ = run_test(csms, agent.station, 1, "dns", {"resolver": "127.0.0.1:%d" % dm.port})
    assert r["verdict"] == "Failed" and reason(r)[0] == "BadName"
    assert reason(r)[1] == "b\\u00fccher.test: not ASCII (write internationalised names in punycode, xn--...)"
    assert "svc.test: NOERROR 10.1.2.3" in r["evidence"]  # the other name still checked
    assert gv(csms, agent.station, ("ChargingStation", "Model"))[0]["attributeValue"] == "ADX-1"


# --- tcp ------------------------------------------------------------------------

def test_tcp_open_refused_filtered(csms, make_agent, peers, tmp_path):
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    fb = peers(FullBacklog())
    dm = peers(Dnsmasq(str(tmp_path / "dns"), [("csms.test", ["127.0.0.1"])]))
    open_ep = "127.0.0.1:%d" % listener.getsockname()[1]
    named = "csms.test:%d" % csms.port
    try:
        a = make_agent(csms, diagTargets={"tcpEndpoints": [open_ep, named],
                                          "dnsResolver": "127.0.0.1:%d" % dm.port})
        wait_booted(csms, a)
        r, _ = run_test(csms, a.station, 1, "tcp")
        assert r["verdict"] == "Passed", r
        m = meas(r)
        assert m["connectTime@" + open_ep]["unit"] == "ms" and m["connectTime@" + open_ep]["withinLimit"]
        assert "connectTime@" + named in m and (named + " open in") in r["evidence"]
        refused = "127.0.0.1:%d" % free_port()
        filtered = "127.0.0.1:%d" % fb.port
        r, during = run_test(csms, a.station, 2, "tcp", {
            "endpoints": ",".join((open_ep, refused, filtered)), "timeoutMs": 1500})
        assert during > 0
        assert r["verdict"] == "Failed" and reason(r)[0] == "Refused"
        info = reason(r)[1]
        assert (refused + " Refused") in info and (filtered + " NoAnswer") in info
        ev = r["evidence"]
        assert (refused + " refused (nothing listens)") in ev
        assert (filtered + " no answer (filtered or host down) after 15") in ev
        assert "connectTime@" + open_ep in meas(r) and "connectTime@" + refused not in meas(r)
    finally:
        listener.close()


@pytest.mark.req("DG01.FR.02")
def test_catalog_states_what_is_verified(csms, agent):
    res = csms.call(agent.station, "GetDiagnosticsCatalog", {"requestId": 9, "testType": ["IntegrationTest"]})
    assert res["status"] == "Accepted"
    tests = {}
    while True:
        p = csms.wait_for("NotifyDiagnosticsCatalog", station=agent.station,
                          after=len(csms.messages()) - 1 if tests else 0)["payload"]
        tests.update({t["testId"]: t for t in p["test"]})
        if not p.get("tbc"):
            break
    assert set(tests) == {t for t, ty in offered().items() if ty == "IntegrationTest"}
    assert set(tests) >= {"csms", "dns", "ntp", "nts", "tcp"}
    nts = tests["nts"]["expectedOutcome"]
    assert "Passed" not in nts["verdicts"] and "NOT verified" in nts["description"]
    assert "blocking getaddrinfo" in tests["dns"]["description"]
    for t in tests.values():
        for m in t["expectedOutcome"].get("measurement", []):
            assert m["name"] and ("unit" in m or m["name"].startswith(("connected", "stratum", "leap",
                                                                         "answers", "rcode", "chain")))


def test_dns_without_resolver_uses_getaddrinfo(csms, agent):
    # No DnsResolver: the blocking system lookup; "localhost" comes from /etc/hosts,
    # so the test never reaches the machine's real resolver.
    r, _ = run_test(csms, agent.station, 1, "dns", {"names": "localhost"})
    assert r["verdict"] == "Passed", r
    assert "localhost: found by getaddrinfo" in r["evidence"] and "blocking" in r["evidence"]
    assert meas(r)["answers@localhost"]["value"] >= 1


@pytest.mark.req("DG03.FR.04")
def test_cancel_closes_the_sockets(csms, agent, peers):
    # Cancelled while waiting on a silent server: Aborted, and the UDP socket of
    # the query is closed (the agent holds no more sockets than before).
    silent = peers(SilentUdp())
    def fds():  # the agent's sockets (the journal keeps its file open meanwhile)
        d = "/proc/%d/fd" % agent.proc.pid
        return sorted(x for x in (os.readlink(os.path.join(d, f)) for f in os.listdir(d))
                      if x.startswith("socket:"))
    before = fds()
    res = start(csms, agent.station, 7, ("ntp", {"servers": "127.0.0.1:%d" % silent.port,
                                                  "timeoutMs": 2000, "tries": 10}))
    assert res["status"] == "Accepted"
    deadline = time.monotonic() + 5
    while "ntp" not in gv(csms, agent.station, ("DiagnosticsCtrlr", "RunningTests"))[0]["attributeValue"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    during = fds()
    assert len(during) == len(before) + 1  # the query's socket
    assert csms.call(agent.station, "CancelDiagnostics", {"requestId": 7})["status"] == "Accepted"
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Aborted" and reason(r)[0] == "Cancelled"
    assert fds() == before


def test_ntske_records_of_chrony_read_by_the_agent_parser(peers, tmp_path, pki):
    # MicroPython's TLS cannot reach this far (no TLS 1.3, no ALPN): CPython runs
    # the NTS-KE exchange with chronyd, and lib/net/ntske.py (the part nts.py uses
    # where the TLS module offers ALPN) reads the real response inside MicroPython.
    import socket
    import ssl
    import subprocess
    from conftest import MICROPYTHON, ROOT
    ch = peers(Chrony(str(tmp_path / "chrony"), cert=pki["srv"].cert, key=pki["srv"].key))
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["ntske/1"])
    with socket.create_connection(("127.0.0.1", ch.nts_port), 5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"\x80\x01\x00\x02\x00\x00\x80\x04\x00\x02\x00\x0f\x80\x00\x00\x00")
            data = b""
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
    (tmp_path / "ke.bin").write_bytes(data)
    script = ("from net import ntske\nr = ntske.parse(open(%r, 'rb').read())\n"
              "print(r.protocols, r.aead, len(r.cookies), len(r.cookies[0]), r.server, r.port, r.problem())\n"
              "try:\n    ntske.parse(open(%r, 'rb').read()[:-4])\nexcept ntske.KeError as e:\n    print(e)\n"
              % (str(tmp_path / "ke.bin"), str(tmp_path / "ke.bin")))
    out = subprocess.run([MICROPYTHON, "-c", script], capture_output=True, text=True, timeout=20,
                         env=dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))).stdout.split("\n")
    proto, aead, n, size, server, port, problem = out[0].split(" ", 6) if out[0].count(" ") == 6 else [out] * 7
    assert (proto, aead, server, problem) == ("[0]", "[15]", "None", "None"), out
    assert int(n) == 8 and int(size) > 0 and port in ("None", str(ch.port)), out
    assert out[1] == "response ends before End of Message"
