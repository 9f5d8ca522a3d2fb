"""Checks of the reference CSMS (tools/csms.py, tools/harness.py) itself,
with a CPython websockets client speaking raw OCPP-J 2.1 JSON."""

import json
import os
import ssl
import sys
import threading

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import certs  # noqa: E402
from harness import CallErrorReply, ThreadedCsms  # noqa: E402

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M1", "vendorName": "V"}}


@pytest.fixture
def csms_factory():
    started = []

    def make(**kwargs):
        c = ThreadedCsms(**kwargs).start()
        started.append(c)
        return c

    yield make
    for c in started:
        c.stop()


@pytest.fixture
def csms(csms_factory):
    return csms_factory()


def station(csms, sid="CS1", **kwargs):
    return connect("%s/%s" % (csms.url, sid), subprotocols=["ocpp2.1"], open_timeout=5,
                   **kwargs)


def rpc(ws, msg_id, action, payload):
    ws.send(json.dumps([2, msg_id, action, payload]))
    return json.loads(ws.recv(timeout=5))


def test_boot_accepted_is_recorded(csms):
    with station(csms) as ws:
        assert ws.subprotocol == "ocpp2.1"
        reply = rpc(ws, "b1", "BootNotification", BOOT)
        assert reply[:2] == [3, "b1"] and reply[2]["status"] == "Accepted"
        assert reply[2]["interval"] == 10
        rec = csms.wait_for("BootNotification", station="CS1")
        assert rec["payload"] == BOOT and rec["id"] == "b1"
        assert csms.wait_connected("CS1")["subprotocol"] == "ocpp2.1"
    csms.wait_disconnected("CS1")
    assert csms.violations == [] and csms.errors == []


def test_boot_status_and_subprotocol_choice(csms_factory):
    csms = csms_factory(subprotocols=["ocpp2.0.1"], boot_status="Pending", boot_interval=3)
    with connect(csms.url + "/CS2", subprotocols=["ocpp2.1", "ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        reply = rpc(ws, "b1", "BootNotification", BOOT)
        assert (reply[2]["status"], reply[2]["interval"]) == ("Pending", 3)
        csms.set_boot_status("Rejected")
        assert rpc(ws, "b2", "BootNotification", BOOT)[2]["status"] == "Rejected"


def test_schema_violation_gets_callerror(csms):
    with station(csms) as ws:
        reply = rpc(ws, "b1", "BootNotification", {"chargingStation": BOOT["chargingStation"]})
        assert reply[:3] == [4, "b1", "OccurrenceConstraintViolation"]
    assert len(csms.violations) == 1
    assert "reason" in csms.violations[0]["error"]


def test_unknown_action_and_garbage(csms):
    with station(csms) as ws:
        assert rpc(ws, "u1", "NoSuchAction", {})[:3] == [4, "u1", "NotImplemented"]
        # A spec action without a dedicated handler gets a minimal valid reply.
        assert rpc(ws, "m1", "MeterValues", {"evseId": 1, "meterValue": [
            {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": 1.5}]}]}) \
            == [3, "m1", {}]
        ws.send("not json")
        assert json.loads(ws.recv(timeout=5))[:3] == [4, "-1", "RpcFrameworkError"]
        ws.send("[" * 5000 + "]" * 5000)  # kills the package's own message loop
        assert json.loads(ws.recv(timeout=5))[:3] == [4, "-1", "RpcFrameworkError"]
        assert rpc(ws, "h1", "Heartbeat", {})[:2] == [3, "h1"]  # session still alive
    assert len(csms.violations) == 2 and csms.errors == []


def test_call_send_raw_and_callerror(csms):
    with station(csms) as ws:
        csms.wait_connected("CS1")

        def answer_two():  # the station side, in its own thread
            for _ in range(2):
                msg = json.loads(ws.recv(timeout=5))
                if msg[2] == "Reset":
                    ws.send(json.dumps([3, msg[1], {"status": "Accepted"}]))
                else:
                    ws.send(json.dumps([4, msg[1], "NotSupported", "no", {}]))
        t = threading.Thread(target=answer_two)
        t.start()
        assert csms.call("CS1", "Reset", {"type": "Immediate"}) == {"status": "Accepted"}
        with pytest.raises(CallErrorReply) as err:
            csms.call("CS1", "ClearCache", {})
        assert err.value.code == "NotSupported"
        t.join()

        def echo_error():
            msg = json.loads(ws.recv(timeout=5))
            ws.send(json.dumps([4, msg[1], "RpcFrameworkError", "bad", {}]))
        t = threading.Thread(target=echo_error)
        t.start()
        reply = csms.send_raw("CS1", '[2,"r1","Reset"]')
        assert json.loads(reply)[:3] == [4, "r1", "RpcFrameworkError"]
        t.join()
    assert csms.violations == []


def test_tls_with_generated_ca(tmp_path, csms_factory):
    ca = certs.make_ca(str(tmp_path / "pki"))
    srv = certs.make_server_cert(str(tmp_path / "pki"), ca)
    other_ca = certs.make_ca(str(tmp_path / "other"), name="Other CA")
    assert open(ca.der, "rb").read(1) == b"\x30"  # DER SEQUENCE
    csms = csms_factory(ssl=certs.server_ssl_context(srv.cert, srv.key))
    assert csms.url.startswith("wss://127.0.0.1:")
    with station(csms, ssl=certs.client_ssl_context(ca.cert)) as ws:
        assert rpc(ws, "b1", "BootNotification", BOOT)[2]["status"] == "Accepted"
    with pytest.raises(ssl.SSLCertVerificationError):
        station(csms, ssl=certs.client_ssl_context(other_ca.cert))


def test_expired_server_cert_is_refused(tmp_path, csms_factory):
    ca = certs.make_ca(str(tmp_path))
    old = certs.make_server_cert(str(tmp_path), ca, expired=True)
    csms = csms_factory(ssl=certs.server_ssl_context(old.cert, old.key))
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        station(csms, ssl=certs.client_ssl_context(ca.cert))


def test_basic_auth(csms_factory):
    csms = csms_factory(passwords={"CS1": "secret-pass-16ch"})
    host = csms.url.split("//")[1]
    for bad in ("ws://CS1:wrong@%s/CS1", "ws://%s/CS1", "ws://CS9:secret-pass-16ch@%s/CS1"):
        with pytest.raises(InvalidStatus) as err:
            connect(bad % host, subprotocols=["ocpp2.1"])
        assert err.value.response.status_code == 401
    with connect("ws://CS1:secret-pass-16ch@%s/CS1" % host, subprotocols=["ocpp2.1"]) as ws:
        assert rpc(ws, "b1", "BootNotification", BOOT)[2]["status"] == "Accepted"
    assert "Authorization" in csms.wait_connected("CS1")["headers"]


def test_drop_and_reconnect(csms):
    with station(csms) as ws:
        first = csms.wait_connected("CS1")
        csms.drop("CS1", 1001)
        assert csms.wait_disconnected("CS1")["code"] == 1001
        assert ws.close_code == 1001
    with station(csms) as ws:
        again = csms.wait_connected("CS1", after=first["index"] + 1)
        csms.drop("CS1")  # TCP abort, no close frame
        assert csms.wait_disconnected("CS1", after=again["index"])["code"] == 1006
    assert not csms.connected("CS1")
    with pytest.raises(ConnectionError):
        csms.call("CS1", "ClearCache", {})
