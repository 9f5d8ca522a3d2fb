"""Connection life cycle: reconnect, clean stop, TLS (security profile 2), HTTP
Basic auth, keep-alive."""
import os
import signal

import pytest

from certs import make_ca, make_server_cert, server_ssl_context
from conftest import gv, sv
from harness import ThreadedCsms

PW = "0123456789abcdef-secret"


def test_reconnect_after_drop_keeps_boot_and_delivers_queued(csms, make_agent):
    a = make_agent(csms, evses=[1])
    csms.wait_for("StatusNotification", station=a.station)
    n = len(csms.messages())
    csms.drop(a.station)  # TCP abort: no close frame
    csms.wait_for(type="CONNECT", station=a.station, after=n)
    # Boot happens once per start, not per connection (B01); short offline period
    # (< OfflineThreshold) -> no full status resend.
    gv(csms, a.station, ("ChargingStation", "Model"))
    assert len(csms.messages(station=a.station, action="BootNotification")) == 1
    # Drop with a close code this time: reconnects too.
    n = len(csms.messages())
    csms.drop(a.station, code=1001)
    csms.wait_for(type="CONNECT", station=a.station, after=n)
    a.wait_log("disconnected \\(close code 1001\\)")


def test_status_resent_after_long_offline(csms, make_agent):
    a = make_agent(csms, evses=[1])
    csms.wait_for("StatusNotification", station=a.station)
    sv(csms, a.station, "OCPPCommCtrlr", "OfflineThreshold", "0")
    n = len(csms.messages())
    csms.drop(a.station)
    csms.wait_for("StatusNotification", station=a.station, after=n, timeout=10)


def test_sigint_closes_websocket_and_exits_0(csms, agent):
    n = len(csms.messages())
    assert agent.stop(signal.SIGINT) == 0
    d = csms.wait_for(type="DISCONNECT", station=agent.station, after=n)
    assert d["code"] == 1000, (d, agent.log()[-2000:])
    assert "agent stopped" in agent.log()


def test_sigterm_through_launcher_closes_cleanly(csms, make_agent):
    a = make_agent(csms, launcher=True)
    csms.wait_for("StatusNotification", station=a.station)
    n = len(csms.messages())
    assert a.stop(signal.SIGTERM) == 0
    d = csms.wait_for(type="DISCONNECT", station=a.station, after=n)
    assert d["code"] == 1000


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    ca = make_ca(d, "Test CSMS CA")
    other = make_ca(os.path.join(d, "other"), "Some Other CA") if os.makedirs(os.path.join(d, "other")) is None else None
    good = make_server_cert(d, ca, cn="localhost", san=("DNS:localhost", "IP:127.0.0.1"), name="good")
    expired = make_server_cert(d, ca, cn="localhost", san=("DNS:localhost", "IP:127.0.0.1"),
                               expired=True, name="expired")
    wrong_host = make_server_cert(d, ca, cn="csms.example", san=("DNS:csms.example",), name="wronghost")
    return {"ca": ca, "other": other, "good": good, "expired": expired, "wrong_host": wrong_host}


def _tls_csms(cert):
    return ThreadedCsms(ssl=server_ssl_context(cert.cert, cert.key)).start()


@pytest.mark.parametrize("ca_format", ["der", "pem"])
def test_tls_with_right_ca_connects(pki, make_agent, ca_format):
    c = _tls_csms(pki["good"])
    try:
        ca = pki["ca"].der if ca_format == "der" else pki["ca"].cert
        a = make_agent(c, csmsUrl="wss://localhost:%d" % c.port, caFile=ca)
        c.wait_for("StatusNotification", station=a.station)
        assert gv(c, a.station, ("SecurityCtrlr", "SecurityProfile"))[0]["attributeValue"] == "2"
        assert c.violations == []
    finally:
        c.stop()


@pytest.mark.parametrize("case,cert,ca,reason", [
    ("wrong CA", "good", "other", "not correctly signed"),
    ("expired certificate", "expired", "ca", "expired"),
    ("wrong host name", "wrong_host", "ca", "(CN|name)"),
])
def test_tls_refused(pki, make_agent, case, cert, ca, reason):
    c = _tls_csms(pki[cert])
    try:
        a = make_agent(c, csmsUrl="wss://localhost:%d" % c.port, caFile=pki[ca].der)
        # Refused with a clear line, then retried with back-off, never connected.
        a.wait_log("connect failed: ValueError: .*%s.*; retry in" % reason, timeout=10)
        a.wait_log("(?s)connect failed: .*connect failed: .*retry in", timeout=15)
        assert not c.messages(type="CONNECT"), case
        assert a.proc.poll() is None
    finally:
        c.stop()


def test_basic_auth(make_agent):
    c = ThreadedCsms(passwords={"CS001": PW}).start()
    try:
        a = make_agent(c, basicAuthPassword=PW)
        c.wait_for("BootNotification", station="CS001")
        con = c.messages(type="CONNECT")[0]
        assert con["headers"]["Authorization"].startswith("Basic ")
        # The CSMS rotates the password: the station uses the new one from then on.
        new = "another-password-1234"
        assert sv(c, "CS001", "SecurityCtrlr", "BasicAuthPassword", new)["attributeStatus"] == "Accepted"
        c.csms.passwords["CS001"] = new
        n = len(c.messages())
        c.drop("CS001")
        c.wait_for(type="CONNECT", station="CS001", after=n)
        a.stop()
    finally:
        c.stop()


def test_wrong_password_refused_and_retried(make_agent):
    c = ThreadedCsms(passwords={"CS001": PW}).start()
    try:
        a = make_agent(c, basicAuthPassword="wrong-password-0000")
        a.wait_log("(?s)connect failed: .*401.*connect failed: .*401", timeout=15)
        assert not c.messages(type="CONNECT")
    finally:
        c.stop()


def test_keepalive_ping_drops_a_silent_link(csms, make_agent):
    # A half-open link: the CSMS side stops reading (no pongs, nothing at all).
    # With WebSocketPingInterval = 1 the agent notices within ~2 s and reconnects.
    a = make_agent(csms)
    csms.wait_for("StatusNotification", station=a.station)
    sv(csms, a.station, "OCPPCommCtrlr", "WebSocketPingInterval", "1")
    n = len(csms.messages())
    csms.drop(a.station, code=1000)  # the keep-alive starts with the next connection
    con = csms.wait_for(type="CONNECT", station=a.station, after=n)
    # Pings answered: the link stays up over three intervals.
    with pytest.raises(AssertionError):
        csms.wait_for(type="CONNECT", station=a.station, after=con["index"] + 1, timeout=3.5)
    assert "no traffic" not in a.log()
    st = csms.csms.stations[a.station]
    csms._loop.call_soon_threadsafe(st.ws.transport.pause_reading)
    a.wait_log("no traffic from the CSMS", timeout=10)
    csms.wait_for(type="CONNECT", station=a.station, after=con["index"] + 1, timeout=10)
