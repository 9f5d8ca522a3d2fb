"""Results signed at the source (SPEC DG16): the CSMS provisions a per-station key
write-only through the device model, the station signs every result with it, and the
CPython verifier (tools/ocppdiag/signing.py) checks them offline; key rotation, reboot,
hostile keys and a journal altered on flash."""
import copy
import importlib.util
import json
import os
import zlib

import pytest

from conftest import ROOT, collect, gv, sv, wait_booted
from diag_helpers import results, start

_spec = importlib.util.spec_from_file_location(
    "ocppdiag_signing", os.path.join(ROOT, "tools", "ocppdiag", "signing.py"))
signing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(signing)

KEY1 = bytes(range(32))
KEY2 = bytes(range(100, 148))  # 48 bytes
OTHER_STATION = bytes(range(1, 33))
CTRLR = "DiagnosticsCtrlr"
REQUESTOR = "opérateur ☃ 測試"


def _set_key(csms, a, kid, key):
    return sv(csms, a.station, CTRLR, "ResultSigningKey", signing.key_value(kid, key))


def _run(csms, a, req_id, *tests):
    assert start(csms, a.station, req_id, *tests, requestor=REQUESTOR)["status"] == "Accepted"
    return results(csms, a.station, len(tests), pred=lambda r: r.get("requestId") == req_id)


def _replay(csms, a, req_id, **sel):
    n = len(csms.messages())
    res = csms.call(a.station, "GetDiagnosticsResults", dict({"requestId": req_id}, **sel))
    assert res["status"] == "Accepted", res
    out = []
    while True:
        rec = csms.wait_for("NotifyDiagnosticsResult", station=a.station, after=n,
                            predicate=lambda r: r["payload"].get("reportRequestId") == req_id)
        out.append(rec["payload"]["result"])
        n = rec["index"] + 1
        if not rec["payload"].get("tbc"):
            return {r["resultId"]: r for r in out}


def _journal_lines(a):
    with open(os.path.join(a.cfg["dataDir"], "results.log"), "rb") as f:
        return f.read().splitlines(keepends=True)


def _line(rec):
    body = json.dumps(rec).encode()
    return body + b" " + ("%08x" % (zlib.crc32(body) & 0xFFFFFFFF)).encode() + b"\n"


@pytest.mark.req("DG16.FR.01", "DG16.FR.02", "DG16.FR.04")
def test_results_signed_with_the_provisioned_key_verify_offline(csms, agent):
    assert sv(csms, agent.station, "SecurityCtrlr", "OrganizationName", "Énergie ☃ 測試")["attributeStatus"] == \
        "Accepted"
    assert _set_key(csms, agent, "k-2026.1", KEY1)["attributeStatus"] == "Accepted"
    (kid,) = gv(csms, agent.station, (CTRLR, "ResultSigningKeyId"))
    assert kid["attributeStatus"] == "Accepted" and kid["attributeValue"] == "k-2026.1"
    rules = "SecurityCtrlr.OrganizationName == Énergie ☃ 測試; SecurityCtrlr.OrganizationName == Ünïcødé"
    mem, comp = _run(csms, agent, 1, ("memory",), ("compliance", {"rules": rules}))
    for r in (mem, comp):
        assert r["signature"]["algorithm"] == "HMAC-SHA256" and r["signature"]["keyId"] == "k-2026.1"
        assert r["requestor"] == REQUESTOR
        assert signing.verify(r, {"k-2026.1": KEY1}, require_signature=True) == (True, "ok")
    assert "Ünïcødé" in comp["evidence"] and comp["verdict"] == "Failed"
    assert signing.verify(mem, {"k-2026.1": KEY1.hex()})[0]  # keys also as hex text
    # The signature is journaled with the result (GetLog uploads the same records).
    journaled = [json.loads(ln.rsplit(b" ", 1)[0]) for ln in _journal_lines(agent)]
    assert [r for r in journaled if r.get("resultId") == comp["resultId"]] == [comp]


@pytest.mark.req("DG16.FR.05")
def test_one_changed_byte_or_another_stations_key_fails(csms, agent):
    _set_key(csms, agent, "k1", KEY1)
    (mem,) = _run(csms, agent, 1, ("memory",))
    keys = {"k1": KEY1}
    assert signing.verify(mem, keys)[0]
    # One byte of a measurement (its last digit), the checksum left alone: the checksum
    # says so.
    changed = copy.deepcopy(mem)
    m = next(m for m in changed["measurement"] if type(m["value"]) is int)
    m["value"] ^= 1
    assert signing.verify(changed, keys) == (False, "checksum mismatch")
    # A CSMS that rewrites the verdict and recomputes the checksum: the signature says so.
    forged = dict(mem, verdict="Failed" if mem["verdict"] != "Failed" else "Passed")
    forged["checksum"] = signing.checksum(forged)
    ok, why = signing.verify(forged, keys)
    assert not ok and why.startswith("signature mismatch")
    # Re-signed with another station's key under the same id: caught.
    other = signing.sign(dict(forged), "k1", OTHER_STATION)
    ok, why = signing.verify(other, keys)
    assert not ok and why.startswith("signature mismatch")
    # Signature stripped (checksum recomputed): only a verifier that requires it notices.
    stripped = {k: v for k, v in mem.items() if k != "signature"}
    stripped["checksum"] = signing.checksum(stripped)
    assert signing.verify(stripped, keys, require_signature=True) == (False, "unsigned")
    # Hostile shapes never raise.
    for bad in (None, [], {"resultId": "1"}, dict(mem, signature="x"), dict(mem, checksum=5),
                dict(mem, signature={"algorithm": "HMAC-SHA256", "keyId": "k1", "value": "zz"})):
        assert signing.verify(bad, keys)[0] is False


@pytest.mark.req("DG16.FR.03")
def test_the_key_is_never_readable(csms, agent):
    value = signing.key_value("k1", KEY2)
    assert sv(csms, agent.station, CTRLR, "ResultSigningKey", value)["attributeStatus"] == "Accepted"
    (g,) = gv(csms, agent.station, (CTRLR, "ResultSigningKey"))
    assert g["attributeStatus"] == "Rejected" and g["attributeStatusInfo"]["reasonCode"] == "WriteOnly"
    assert "attributeValue" not in g
    assert csms.call(agent.station, "GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"})[
        "status"] == "Accepted"
    parts = collect(csms, agent.station, "NotifyReport", 5)
    items = [it for p in parts for it in p["reportData"]
             if it["component"]["name"] == CTRLR and it["variable"]["name"] == "ResultSigningKey"]
    assert len(items) == 1
    attr = items[0]["variableAttribute"][0]
    assert attr["mutability"] == "WriteOnly" and "value" not in attr
    # Nowhere in anything the station sent, nor in its log: only the key id.
    sent = json.dumps([r["payload"] for r in csms.messages(station=agent.station)])
    assert KEY2.hex() not in sent and KEY2.hex() not in agent.log()
    assert "k1" in agent.log()


@pytest.mark.req("DG16.FR.06", "DG16.FR.10")
def test_hostile_keys_are_rejected(csms, agent):
    good = signing.key_value("k1", KEY1)
    bad = [
        "", "k1", ":" + KEY1.hex(), KEY1.hex(),  # no id, no key
        "k1:" + KEY1.hex()[:-2],  # 31 bytes: shorter than the hash output
        "k1:" + KEY1.hex() + "a",  # odd number of digits
        "k1:" + "zz" * 32, "k1:" + KEY1.hex()[:-2] + "٠٠",  # not hex (Arabic-Indic zeros)
        "clé:" + KEY1.hex(), "k 1:" + KEY1.hex(), "k1:" + "é" * 64,  # non-ASCII, space
        "x" * 37 + ":" + KEY1.hex(), "k1:" + "ab" * 65, "k1:" + "ab" * 600,  # too long
    ]
    for value in bad:
        r = sv(csms, agent.station, CTRLR, "ResultSigningKey", value)
        assert r["attributeStatus"] == "Rejected", (value, r)
        assert r["attributeStatusInfo"]["reasonCode"] in ("InvalidValue", "ValueTooLarge"), r
    # Nothing was set: results stay unsigned.
    (g,) = gv(csms, agent.station, (CTRLR, "ResultSigningKeyId"))
    assert g["attributeValue"] == ""
    (r,) = _run(csms, agent, 1, ("noop", {"durationMs": 0}))
    assert "signature" not in r and signing.verify(r, {}) == (True, "ok (unsigned)")
    # A key id names one key for good: a second key under the same id is refused.
    assert sv(csms, agent.station, CTRLR, "ResultSigningKey", good)["attributeStatus"] == "Accepted"
    assert sv(csms, agent.station, CTRLR, "ResultSigningKey", good)["attributeStatus"] == "Accepted"
    r = sv(csms, agent.station, CTRLR, "ResultSigningKey", signing.key_value("k1", KEY2))
    assert r["attributeStatus"] == "Rejected" and r["attributeStatusInfo"]["reasonCode"] == "KeyIdInUse"
    (r,) = _run(csms, agent, 2, ("noop", {"durationMs": 0}))
    assert signing.verify(r, {"k1": KEY1}, require_signature=True) == (True, "ok")


@pytest.mark.req("DG16.FR.07")
def test_production_station_refuses_a_key_over_plain_ws(csms, make_agent):
    a = make_agent(csms, production=True)
    wait_booted(csms, a)
    r = _set_key(csms, a, "k1", KEY1)
    assert r["attributeStatus"] == "Rejected" and r["attributeStatusInfo"]["reasonCode"] == "InsecureTransport"
    (g,) = gv(csms, a.station, (CTRLR, "ResultSigningKeyId"))
    assert g["attributeValue"] == ""


@pytest.mark.req("DG16.FR.08", "DG16.FR.09")
def test_rotation_and_reboot_keep_every_result_verifiable(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    (unsigned,) = _run(csms, a, 1, ("noop", {"durationMs": 0}))
    _set_key(csms, a, "k1", KEY1)
    (r1,) = _run(csms, a, 2, ("memory",))
    assert _set_key(csms, a, "k2", KEY2)["attributeStatus"] == "Accepted"
    (r2,) = _run(csms, a, 3, ("memory",))
    assert r1["signature"]["keyId"] == "k1" and r2["signature"]["keyId"] == "k2"
    # Reboot: the key is on flash.
    a.stop()
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    (g,) = gv(csms, a.station, (CTRLR, "ResultSigningKeyId"))
    assert g["attributeValue"] == "k2"
    (r3,) = _run(csms, a, 4, ("noop", {"durationMs": 0, "outcome": "Failed"}))
    assert r3["signature"]["keyId"] == "k2"
    # Replayed from the journal after the rotation and the reboot: unchanged, each
    # under its own key.
    got = _replay(csms, a, 50, resultIdFrom=unsigned["resultId"])
    assert [got[r["resultId"]] for r in (unsigned, r1, r2, r3)] == [unsigned, r1, r2, r3]
    keys = {"k1": KEY1, "k2": KEY2}
    for r in (r1, r2, r3):
        assert signing.verify(got[r["resultId"]], keys, require_signature=True) == (True, "ok")
    assert signing.verify(got[unsigned["resultId"]], keys) == (True, "ok (unsigned)")
    # A verifier that lost the old key says which.
    assert signing.verify(r1, {"k2": KEY2}) == (False, "unknown key id 'k1'")
    assert signing.verify(r2, {"k2": KEY1})[1].startswith("signature mismatch")


@pytest.mark.req("DG16.FR.11")
def test_altered_journal_is_reported_as_a_security_event(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    _set_key(csms, a, "k1", KEY1)
    r1, r2, r3 = _run(csms, a, 1, ("memory",), ("noop", {"durationMs": 0, "outcome": "Failed"}),
                      ("noop", {"durationMs": 0}))
    a.stop()
    lines = _journal_lines(a)
    out = []
    for ln in lines:
        rec = json.loads(ln.rsplit(b" ", 1)[0])
        if rec.get("resultId") == r2["resultId"]:
            # Someone with the checksum rule and the CRC but not the key: verdict rewritten.
            rec["verdict"] = "Passed"
            rec.pop("statusInfo", None)
            rec["checksum"] = signing.checksum(rec)
            ln = _line(rec)
        elif rec.get("resultId") == r3["resultId"]:
            ln = ln.replace(b'"durationMs"', b'"durationMS"', 1)  # CRC left wrong
        out.append(ln)
    with open(os.path.join(a.cfg["dataDir"], "results.log"), "wb") as f:
        f.writelines(out)
    n = len(csms.messages())
    a.start()
    ev = [csms.wait_for("SecurityEventNotification", station=a.station, after=n)]
    ev.append(csms.wait_for("SecurityEventNotification", station=a.station, after=ev[0]["index"] + 1))
    infos = sorted(e["payload"]["techInfo"] for e in ev)
    assert all(e["payload"]["type"] == "DiagnosticsResultIntegrityFailure" for e in ev)
    assert infos[0].startswith("resultId %d: signature" % r2["resultId"]), infos
    assert infos[1].startswith("resultId %d: crc" % r3["resultId"]), infos
    a.wait_log("failing the integrity check")
    # The altered records are gone; the intact one is still served and verifies.
    got = _replay(csms, a, 60, resultIdFrom=r1["resultId"])
    assert set(got) == {r1["resultId"]} and got[r1["resultId"]] == r1
    # The next start has nothing more to report.
    a.stop()
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    (r4,) = _run(csms, a, 2, ("noop", {"durationMs": 0}))
    assert signing.verify(r4, {"k1": KEY1}, require_signature=True)[0]
    assert not csms.messages(station=a.station, action="SecurityEventNotification")[2:]


@pytest.mark.req("DG16.FR.11")
def test_many_altered_results_are_named_in_a_bounded_number_of_events(csms, make_agent):
    a = make_agent(csms)
    wait_booted(csms, a)
    _set_key(csms, a, "k1", KEY1)
    rs = _run(csms, a, 1, *[("noop", {"durationMs": 0})] * 10)
    a.stop()
    # Bits flipped in every record: whole lines, CRCs no longer matching.
    out = [ln.replace(b'"Passed"', b'"Passme"') for ln in _journal_lines(a)]
    with open(os.path.join(a.cfg["dataDir"], "results.log"), "wb") as f:
        f.writelines(out)
    n = len(csms.messages())
    a.start()
    wait_booted(csms, a, after=n)
    ev, after = [], n
    for _ in range(9):
        rec = csms.wait_for("SecurityEventNotification", station=a.station, after=after)
        ev.append(rec["payload"]["techInfo"])
        after = rec["index"] + 1
    ids = [r["resultId"] for r in rs]
    assert ev[:8] == ["resultId %d: crc mismatch; the record was dropped" % i for i in ids[:8]], ev
    assert ev[8] == "2 more result(s) failed: %d,%d" % (ids[8], ids[9]), ev
    (r,) = _run(csms, a, 2, ("noop", {"durationMs": 0}))
    assert r["resultId"] not in ids
    assert len(csms.messages(station=a.station, action="SecurityEventNotification")) == 9


@pytest.mark.req("DG16.FR.01", "DG16.FR.05")
def test_getlog_upload_verifies_offline_and_names_an_altered_result(csms, agent, tmp_path):
    import subprocess
    import sys
    from upload_server import UploadServer
    _set_key(csms, agent, "k1", KEY1)
    _run(csms, agent, 1, ("memory",), ("compliance", {"rules": "SecurityCtrlr.OrganizationName == Ünïcødé"}))
    srv = UploadServer().start()
    try:
        res = csms.call(agent.station, "GetLog", {"logType": "DiagnosticsLog", "requestId": 9,
                                                  "log": {"remoteLocation": srv.url + "/upload/cs1"}})
        assert res["status"] == "Accepted"
        body = srv.wait(1)["body"]
    finally:
        srv.stop()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"k1": KEY1.hex()}))
    up = tmp_path / "up.ndjson"
    cli = [sys.executable, os.path.join(ROOT, "tools", "ocppdiag", "signing.py"), str(keys), str(up),
           "--require-signature"]
    up.write_bytes(body)
    r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "2 result(s), 0 failed" in r.stdout, r.stdout + r.stderr
    lines = body.decode().splitlines()
    second = json.loads(lines[1])
    assert "Ünïcødé" in second["evidence"]
    second["evidence"] = second["evidence"].replace("Ünïcødé", "Ünïcøde")
    second["checksum"] = signing.checksum(second)
    up.write_text(lines[0] + "\n" + json.dumps(second, ensure_ascii=False) + "\n", encoding="utf-8")
    r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout
    assert "line 2 resultId %d: signature mismatch" % second["resultId"] in r.stdout, r.stdout
