"""Who may do what on the console, and each refusal: operator tokens and roles on the
API, station credentials that never open it, stations that cannot act as another or
report on another's runs.  Credentials are stored hashed."""
import base64
import sqlite3

import pytest

from console_peer import CONTACTOR, MEMORY, PASSWORD, ConsoleProc, ScriptedStation


@pytest.fixture(scope="module", name="console")
def shared_console(tmp_path_factory):
    """One console for the module (each test uses its own station ids and tokens):
    these tests talk to scripted stations, so the console's start dominates."""
    c = ConsoleProc(str(tmp_path_factory.mktemp("console"))).start()
    yield c
    assert c.stop() == 0
    assert "Traceback" not in c.log(), c.log()


def scripted(console, sid, tests=(MEMORY, CONTACTOR)):
    """A Python station that offers `tests` and accepts every run."""
    return ScriptedStation(console.url, sid).offer(tests)


def result(run_id, result_id, test="memory"):
    import hashlib
    import json
    r = {"resultId": result_id, "requestId": run_id, "testId": test, "testType": "SelfTest",
         "requestor": "x", "trigger": "OnDemand", "startTime": "2026-01-01T00:00:00Z",
         "endTime": "2026-01-01T00:00:01Z", "verdict": "Passed"}
    text = json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    r["checksum"] = hashlib.sha256(text.encode()).hexdigest()
    return r


def test_api_refuses_without_a_valid_operator_token(console):
    console.add_station("CS-REF")
    for token, why in (("", "valid operator token"), ("cdt_forged", "unknown token")):
        r = console.api("GET", "/api/stations", token=token)
        assert r.status_code == 401 and why in r.json()["error"]["message"], r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
    # A station's own credential never opens the API, as Basic auth or as a bearer token.
    basic = base64.b64encode(("CS-REF:" + PASSWORD).encode()).decode()
    r = console.api("GET", "/api/stations", token="", headers={"Authorization": "Basic " + basic})
    assert r.status_code == 401 and "station credentials" in r.json()["error"]["message"]
    r = console.api("GET", "/api/stations", token="",
                    headers={"Authorization": ("Bearer " + PASSWORD).encode()})
    assert r.status_code == 401
    rc, _, err = console.cli("stations", "--json", token="cdt_forged")
    assert rc == 3 and "unknown token" in err
    # A token removed by the admin stops working.
    t = console.token("temp", "read")
    assert console.api("GET", "/api/stations", token=t).status_code == 200
    console.ok("DELETE", "/api/tokens/temp")
    assert console.api("GET", "/api/stations", token=t).status_code == 401


def test_roles(console):
    console.add_station("CS-ROLES")
    read, run = console.token("lecteur-é", "read"), console.token("runner", "run")
    assert "CS-ROLES" in [s["id"] for s in console.ok("GET", "/api/stations", token=read)]
    cases = [
        (read, "POST", "/api/stations/CS-ROLES/runs", {"tests": [{"testId": "memory"}]}, "run"),
        (read, "POST", "/api/runs/1/cancel", {}, "run"),
        (run, "POST", "/api/fleet/runs", {"tests": [{"testId": "memory"}]}, "run-intrusive"),
        (run, "POST", "/api/tokens", {"name": "mine", "role": "admin"}, "admin"),
        (run, "GET", "/api/tokens", None, "admin"),
        (run, "POST", "/api/stations", {"id": "CS9", "password": PASSWORD}, "admin"),
        (run, "PUT", "/api/stations/CS-ROLES/password", {"password": PASSWORD}, "admin"),
        (run, "DELETE", "/api/stations/CS-ROLES", None, "admin"),
        (run, "POST", "/api/schedules", {"name": "n", "tests": [{"testId": "memory"}],
                                         "intervalS": 60}, "run-intrusive"),
    ]
    for token, method, path, body, role in cases:
        r = console.api(method, path, token=token, json_body=body)
        assert r.status_code == 403, (method, path, r.text)
        err = r.json()["error"]
        assert err["code"] == "forbidden" and err["role"] == role, (path, err)
    rc, _, err = console.cli("token", "add", "x", "--role", "admin", "--json", token=run)
    assert rc == 3
    assert "x" not in [t["name"] for t in console.ok("GET", "/api/tokens")]


def test_intrusive_tests_need_the_higher_role(console):
    console.add_station("CS-I")
    st = scripted(console, "CS-I")
    try:
        assert st.connect() is None
        console.wait_station("CS-I")
        run = console.token("runner-i", "run")
        r = console.api("POST", "/api/stations/CS-I/runs", token=run,
                        json_body={"tests": [{"testId": "contactor"}]})
        assert r.status_code == 403 and r.json()["error"]["role"] == "run-intrusive"
        assert not [c for c in st.calls if c[0] == "StartDiagnostics"]
        r = console.api("POST", "/api/stations/CS-I/runs", token=run,
                        json_body={"tests": [{"testId": "memory"}]})
        assert r.status_code == 201, r.text
        intr = console.token("intrusive-ops", "run-intrusive")
        r = console.api("POST", "/api/stations/CS-I/runs", token=intr,
                        json_body={"tests": [{"testId": "contactor"}]})
        assert r.status_code == 201 and r.json()["status"] == "accepted"
        sent = [c[1] for c in st.calls if c[0] == "StartDiagnostics"]
        assert [s["test"][0]["testId"] for s in sent] == ["memory", "contactor"]
        assert sent[1]["requestor"] == "intrusive-ops"
    finally:
        st.close()


def test_a_station_cannot_act_as_or_for_another(console):
    console.add_station("CS-A")
    console.add_station("CS-B", password="another-password-for-B")
    # A's password does not open B's connection; nor does an unknown station get in.
    assert ScriptedStation(console.url, "CS-B").connect() == 401
    assert ScriptedStation(console.url, "CS-Z").connect() == 401
    a, b = scripted(console, "CS-A"), scripted(console, "CS-B")
    b.password = "another-password-for-B"
    try:
        assert a.connect() is None and b.connect() is None
        console.wait_station("CS-A")
        console.wait_station("CS-B")
        run_b = console.ok("POST", "/api/stations/CS-B/runs",
                           json_body={"tests": [{"testId": "memory"}]})["id"]
        # A claims a result and a status for B's run: refused, nothing recorded for B.
        reply = a.call("NotifyDiagnosticsResult", {"result": result(run_b, 1)})
        assert reply[0] == 4 and reply[2] == "SecurityError", reply
        reply = a.call("NotifyDiagnosticsStatus", {"requestId": run_b, "status": "Finished",
                                                   "timestamp": "2026-01-01T00:00:00Z"})
        assert reply[0] == 4 and reply[2] == "SecurityError", reply
        reply = a.call("DataTransfer", {"vendorId": "org.openchargealliance.diagnostics",
                                        "messageId": "NotifyDiagnosticsResult",
                                        "data": {"result": result(run_b, 2)}})
        assert reply[2]["status"] == "Rejected"
        assert reply[2]["statusInfo"]["reasonCode"] == "SecurityError"
        run = console.ok("GET", "/api/runs/%d" % run_b)
        assert run["status"] == "accepted" and run["results"] == []
        assert console.ok("GET", "/api/results", station="CS-A") == []
        kinds = [e["kind"] for e in console.ok("GET", "/api/events", station="CS-A")]
        assert kinds.count("security.cross-station") == 3
        # B's own result for its run is taken, and a repeat of it is acknowledged once.
        for _ in range(2):
            assert b.call("NotifyDiagnosticsResult", {"result": result(run_b, 1)})[0] == 3
        run = console.ok("GET", "/api/runs/%d" % run_b)
        assert run["status"] == "done" and [r["station"] for r in run["results"]] == ["CS-B"]
    finally:
        a.close()
        b.close()


def test_credentials_are_stored_hashed(console):
    console.add_station("CS-HASH")
    token = console.token("Jürgen", "read")
    db = sqlite3.connect(console.db)
    try:
        (stored,) = db.execute("select password_hash from stations").fetchone()
        digests = [r[0] for r in db.execute("select token_hash from tokens")]
    finally:
        db.close()
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    with open(console.db, "rb") as f:
        raw = f.read()
    for secret in (PASSWORD, token, console.admin):
        assert secret.encode() not in raw
    assert len(digests) >= 2 and all(len(d) == 64 for d in digests)


def test_new_password_and_removal_lock_the_old_credential_out(console):
    console.add_station("CS-P")
    st = scripted(console, "CS-P")
    try:
        assert st.connect() is None
        console.wait_station("CS-P")
        answer = console.ok("PUT", "/api/stations/CS-P/password",
                            json_body={"password": "nouveau-mot-de-passe-✓"})
        assert answer == {"station": "CS-P", "changed": True, "disconnected": True}
    finally:
        st.close()
    assert ScriptedStation(console.url, "CS-P").connect() == 401  # the old one, even cached
    again = scripted(console, "CS-P")
    again.password = "nouveau-mot-de-passe-✓"
    try:
        assert again.connect() is None
        console.wait_station("CS-P")
        rc, out, _ = console.cli("station", "remove", "CS-P", "--json")
        assert rc == 0 and out == {"station": "CS-P", "removed": True, "disconnected": True}
    finally:
        again.close()
    assert ScriptedStation(console.url, "CS-P").connect() == 401
    assert console.api("GET", "/api/stations/CS-P").status_code == 404


def test_bad_input_gets_clear_json_errors(console):
    console.add_station("CS-BAD")
    cases = [
        ("POST", "/api/stations/CS-BAD/runs", b"{not json", 400, "bad-json"),
        ("POST", "/api/stations/CS-BAD/runs", b"[1, 2]", 400, "bad-json"),
        ("POST", "/api/stations/CS-BAD/runs", b"[" * 5000 + b"]" * 5000, 400, "bad-json"),
        ("POST", "/api/stations/CS-BAD/runs", b'{"tests": [{"testId": "memory"}]}', 503,
         "unreachable"),  # never connected: no catalog to check against
        ("POST", "/api/fleet/runs", b'{"tests": "memory"}', 422, "invalid"),
        ("POST", "/api/fleet/runs", b'{"tests": [{"testId": "memory"}], "stations": ["CS-\xc3\xb6"]}',
         404, "notfound"),
        ("POST", "/api/stations", b'{"id": "a/b", "password": "0123456789abcdef"}', 422, "invalid"),
        ("POST", "/api/stations", b'{"id": "CS002", "password": "short"}', 422, "invalid"),
        ("POST", "/api/stations", b'{"id": "CS-BAD", "password": "0123456789abcdef"}', 409,
         "conflict"),
        ("POST", "/api/tokens", b'{"name": "x", "role": "root"}', 422, "invalid"),
        ("GET", "/api/runs/abc", None, 422, "invalid"),
        ("GET", "/api/runs/99", None, 404, "notfound"),
        ("GET", "/api/runs/99999999999999999999", None, 422, "invalid"),
        ("GET", "/api/stations/nobody/runs", None, 404, "notfound"),
        ("GET", "/api/results?since=yesterday", None, 422, "invalid"),
        ("GET", "/api/stations/%C3%BCnknown/catalog", None, 404, "notfound"),
    ]
    import httpx
    for method, path, body, status, code in cases:
        r = httpx.request(method, console.api_url + path, content=body, timeout=30,
                          headers={"Authorization": "Bearer " + console.admin})
        assert r.status_code == status and r.json()["error"]["code"] == code, (path, body, r.text)
    r = httpx.post(console.api_url + "/api/stations", content=b"x" * (2 << 20), timeout=30,
                   headers={"Authorization": "Bearer " + console.admin})
    assert r.status_code == 413


def test_a_result_with_a_wrong_checksum_is_kept_as_unverified(console):
    console.add_station("CS-X")
    st = scripted(console, "CS-X")
    try:
        assert st.connect() is None
        console.wait_station("CS-X")
        bad = result(None, 7)
        del bad["requestId"]
        bad["verdict"] = "Failed"  # changed after the checksum was computed
        assert st.call("NotifyDiagnosticsResult", {"result": bad})[0] == 3
        (r,) = console.ok("GET", "/api/results", station="CS-X")
        assert r["resultId"] == 7 and r["checksumVerified"] is False and r["run"] is None
    finally:
        st.close()


def test_data_transfer_binding_and_a_non_ascii_station_id(console):
    sid = "CS-Zoë-1"  # reaches the console percent-encoded in the URL path
    console.add_station(sid)
    st = scripted(console, sid)
    try:
        assert st.connect() is None
        console.wait_station(sid)
        run = console.ok("POST", "/api/stations/%s/runs" % sid,
                         json_body={"tests": [{"testId": "memory"}]})["id"]
        dt = {"vendorId": "org.openchargealliance.diagnostics", "messageId": "NotifyDiagnosticsResult",
              "data": {"result": result(run, 3)}}
        assert st.call("DataTransfer", dt)[2] == {"status": "Accepted", "data": {}}
        assert st.call("DataTransfer", dict(dt, vendorId="com.example"))[2]["status"] == "UnknownVendorId"
        assert st.call("DataTransfer", dict(dt, messageId="Bogus"))[2]["status"] == "UnknownMessageId"
        reply = st.call("DataTransfer", dict(dt, data={"result": {"resultId": 0}}))[2]
        assert reply["status"] == "Rejected" and reply["statusInfo"]["reasonCode"] == "InvalidPayload"
        done = console.ok("GET", "/api/runs/%d" % run)
        assert done["status"] == "done" and done["results"][0]["station"] == sid
        assert done["results"][0]["checksumVerified"] is True
        rc, listed, _ = console.cli("stations", "--json")
        assert rc == 0 and sid in [s["id"] for s in listed]
    finally:
        st.close()


def test_a_catalog_that_never_ends_is_given_up(console):
    console.add_station("CS-LOOP")
    st = ScriptedStation(console.url, "CS-LOOP")

    def endless(req):
        async def parts():
            for seq in range(6):  # 6 x 100 descriptors, every part saying "more follows"
                await st._call("NotifyDiagnosticsCatalog", {
                    "requestId": req["requestId"], "catalogVersion": "00000000000000ff",
                    "generatedAt": "2026-01-01T00:00:00Z", "seqNo": seq, "tbc": True,
                    "test": [dict(MEMORY, testId="t%d-%d" % (seq, i)) for i in range(100)]})
        st._loop.create_task(parts())
        return {"status": "Accepted"}
    st.answers["GetDiagnosticsCatalog"] = endless
    try:
        assert st.connect() is None
        console.wait_station("CS-LOOP", catalog=False)
        r = console.api("GET", "/api/stations/CS-LOOP/catalog")
        assert r.status_code == 503 and "over 500 tests" in r.json()["error"]["message"], r.text
    finally:
        st.close()
