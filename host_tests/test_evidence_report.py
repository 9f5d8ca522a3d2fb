"""Evidence reports an auditor can check (SPEC DG19), from real runs of live agents
(MicroPython unix port) through the console: keys provisioned by the console (DG16),
runs asked by an operator, an AI agent's token and a failing test, the report as JSON and
printable HTML, and `console verify` offline: the untouched report verifies; a changed
byte in a measurement, a dropped result (also with its list and digest rewritten), a
result signed with another station's key, a stripped signature each fail, named by
station and resultId. A `read` token may produce a report, not provision or export keys."""
import copy
import json
import os

import pytest

from console_peer import console, station_agent, wait_until  # noqa: F401  (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A, B = "CS001", "CS-Ünï-2"               # a non-ASCII station id travels through all of it
AUDITOR = "Prüferin Zoë ✓"               # read token: the report's generatedBy
OPERATOR = "Opérateur ☃ 測試"             # run token
AI_AGENT = "mcp:claude-ops Ω"            # an AI agent's token (requestor kind ai-agent)
RULE = "SecurityCtrlr.OrganizationName == Ünïcødé <b>&</b>"  # evidence with markup in it
SCHEDULE = "nachtlauf-ß"
KEY_ID = "audit-1"                       # both stations under the same key id: only the key differs


def _signing():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "ocppdiag_signing_t", os.path.join(ROOT, "tools", "ocppdiag", "signing.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def _run(console, token, sid, tests):
    r = console.api("POST", "/api/stations/%s/runs" % _seg(sid), token,
                    json_body={"tests": tests})
    assert r.status_code == 201, r.text
    return console.wait_run(r.json()["id"], lambda x: x["verdict"] is not None, timeout=120)


def _scheduled(console, sid):
    """A run the console's scheduler starts (requestor schedule:NAME), waited for."""
    rc, _, err = console.cli("schedule", "add", SCHEDULE, "memory", "--every", "1d", "--now",
                             "--station", sid)
    assert rc == 0, err
    box = {}

    def done():
        box["r"] = [r for r in console.ok("GET", "/api/runs")
                    if r["requestor"] == "schedule:" + SCHEDULE and r["verdict"]]
        return box["r"]
    wait_until(done, 120, "the scheduled run")
    return box["r"][0]


def _seg(sid):
    from urllib.parse import quote
    return quote(sid, safe="")


def _verify(console, tmp_path, rep, keys=True, name="t.json"):
    p = tmp_path / name
    p.write_text(json.dumps(rep, ensure_ascii=False), encoding="utf-8")
    args = ["verify", str(p)] + (["--keys", str(tmp_path / "keys.json")] if keys else [])
    return console.cli(*args, token="")


def _reseal(section):
    """What a console that hides its change would also do: list, count, digest redone."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from ocppdiag.evidence import seal_station
    seal_station(section)


@pytest.mark.req("DG19.FR.01", "DG19.FR.02", "DG19.FR.03", "DG19.FR.04", "DG19.FR.05",
                 "DG19.FR.06", "DG19.FR.07")
def test_report_from_real_runs_verifies_and_each_tampering_is_named(console, station_agent,
                                                                    tmp_path):
    for sid in (A, B):
        console.add_station(sid)
        station_agent(console, sid)
    for sid in (A, B):
        console.wait_station(sid)
        rc, k, err = console.cli("key", "provision", sid, "--key-id", KEY_ID, "--json")
        assert rc == 0 and k["keyId"] == KEY_ID and k["status"] == "active", (k, err)

    op = console.token(OPERATOR, "run")
    ai = console.token(AI_AGENT, "run")
    runs = [_run(console, op, A, [{"testId": "memory", "parameters": {"minFreeBytes": 5000}}]),
            _run(console, op, A, [{"testId": "compliance", "parameters": {"rules": RULE}}])]
    # Key rotation on A: later results name the new key, earlier ones keep the old one.
    rc, k, err = console.cli("key", "provision", A, "--key-id", "audit-2", "--json")
    assert rc == 0 and k["keyId"] == "audit-2", (k, err)
    runs += [_run(console, ai, A, [{"testId": "noop", "parameters": {"durationMs": 10,
                                                                     "outcome": "Failed"}}]),
             _run(console, op, A, [{"testId": "memory", "parameters": {"minFreeBytes": 6000}}]),
             _scheduled(console, B),
             _run(console, ai, B, [{"testId": "memory", "parameters": {}}])]
    assert [r["verdict"] for r in runs] == ["Passed", "Failed", "Failed", "Passed", "Passed",
                                            "Passed"]

    reader = console.token(AUDITOR, "read")
    html, js = tmp_path / "report.html", tmp_path / "report.json"
    rc, out, err = console.cli("report", A, B, "--since", "1d", "--html", str(html),
                               "--json=" + str(js), token=reader)  # --json FILE, as one word
    assert "CS001" in out and "1..4" in out  # the summary table
    assert rc == 0, (out, err)
    rep = json.loads(js.read_text(encoding="utf-8"))
    assert rep["generatedBy"] == AUDITOR and rep["stationIds"] == sorted([A, B])
    ia = rep["stationIds"].index(A)
    sa, sb = rep["stations"][ia], rep["stations"][1 - ia]
    assert sa["stationId"] == A and sa["count"] == 4 and sa["resultIds"] == [1, 2, 3, 4]
    assert sb["stationId"] == B and sb["resultIds"] == [1, 2]
    # Every result exactly as the station sent it (the console's stored payload), signed.
    sent = {(r["station"], x["resultId"]): x["result"] for r in runs
            for x in console.ok("GET", "/api/runs/%d" % r["id"])["results"]}
    for s in (sa, sb):
        for e in s["results"]:
            assert e["result"] == sent[(s["stationId"], e["resultId"])]
            assert e["checksumVerifiedOnReceipt"]
    assert [e["result"]["signature"]["keyId"] for e in sa["results"] + sb["results"]] == \
        [KEY_ID, KEY_ID, "audit-2", "audit-2", KEY_ID, KEY_ID]
    who = {e["resultId"]: (e["requestor"], e["requestorKind"]) for e in sa["results"]}
    assert who == {1: (OPERATOR, "operator"), 2: (OPERATOR, "operator"),
                   3: (AI_AGENT, "ai-agent"), 4: (OPERATOR, "operator")}
    assert {e["resultId"]: (e["requestor"], e["requestorKind"]) for e in sb["results"]} == \
        {1: ("schedule:" + SCHEDULE, "schedule"), 2: (AI_AGENT, "ai-agent")}
    assert {"name": "minFreeBytes", "value": 5000} in sa["results"][0]["result"]["parameter"]
    assert [k["keyId"] for k in sa["signingKeys"]] == [KEY_ID, "audit-2"]
    assert rep["incidents"]["recorded"] is False and "no incident" in rep["incidents"]["note"]
    # The fleet form: every station, the same sections.
    rc, _, err = console.cli("report", "--all", "--since", "1d",
                             "--json=" + str(tmp_path / "fleet.json"), token=reader)
    fleet = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
    assert rc == 0 and fleet["stationIds"] == rep["stationIds"], err
    assert [s["digest"] for s in fleet["stations"]] == [s["digest"] for s in rep["stations"]]

    # The HTML: charts inline, evidence and requestors as escaped text, nothing external.
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and "Verdicts by test" in page
    assert ('<a href="#station-2">CS001</a></td><td>4</td><td>2</td>\n<td class="bad">2</td>'
            '<td>4</td><td class="">0</td>') in page  # the summary row: 2 passed, 2 not
    assert "memory: freeHeap (B)" in page and 'class="limit"' in page  # measurement vs limit
    assert "Ünïcødé &lt;b&gt;&amp;&lt;/b&gt;" in page and "<b>&</b>" not in page
    assert OPERATOR in page and AI_AGENT in page and "(ai-agent)" in page
    assert "schedule:" + SCHEDULE + " (schedule)" in page
    assert sa["results"][0]["result"]["checksum"] in page and AUDITOR in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")

    # The keys file, by an admin; then verify offline (no console involved: token "").
    rc, _, err = console.cli("key", "export", "-o", str(tmp_path / "keys.json"))
    assert rc == 0, err
    keys = json.loads((tmp_path / "keys.json").read_text(encoding="utf-8"))
    assert set(keys) == {A, B} and set(keys[A]) == {KEY_ID, "audit-2"} and set(keys[B]) == {KEY_ID}
    assert keys[A][KEY_ID] != keys[B][KEY_ID]
    assert oct(os.stat(tmp_path / "keys.json").st_mode & 0o777) == "0o600"
    rc, text, _ = console.cli("verify", str(js), "--keys", str(tmp_path / "keys.json"), token="")
    assert rc == 0 and "6 result(s) of 2 station(s), 6 signed, 6 signature(s) checked: all verified" \
        in text, text
    rc, v, _ = console.cli("verify", str(js), "--json", token="")
    assert rc == 0 and v["verified"] and v["stats"]["results"] == 6

    signing = _signing()

    # 1. One byte changed in a measurement.
    bad = copy.deepcopy(rep)
    m = bad["stations"][ia]["results"][0]["result"]["measurement"][0]
    m["value"] += 1
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "FAILED station CS001 result 1: checksum mismatch" in text, text
    # ...and with the checksum recomputed (a console can do that): the signature catches it.
    r1 = bad["stations"][ia]["results"][0]["result"]
    r1["checksum"] = signing.checksum(r1)
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "FAILED station CS001 result 1: signature mismatch (key id 'audit-1')" in text
    rc, text, _ = _verify(console, tmp_path, bad, keys=False)
    assert rc == 1 and "station CS001: digest mismatch" in text  # even without keys

    # 2. A dropped result: from the list of results only, then with resultIds, count and
    #    digest rewritten to match; the gap in the station's consecutive ids names it.
    bad = copy.deepcopy(rep)
    del bad["stations"][ia]["results"][2]
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "FAILED station CS001 result 3: listed in the report but missing" in text
    _reseal(bad["stations"][ia])
    assert bad["stations"][ia]["resultIds"] == [1, 2, 4]
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "FAILED station CS001 result 3: missing: a gap between results 2 and 4" \
        in text, text

    # 3. Station B's real result filed under station A (same resultId, same key id): only
    #    A's key verifies A's results.
    bad = copy.deepcopy(rep)
    bad["stations"][ia]["results"][0] = copy.deepcopy(sb["results"][0])
    _reseal(bad["stations"][ia])
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and ("FAILED station CS001 result 1: signed with the key of station %s, "
                        "not of CS001" % B) in text, text
    assert text.count("FAILED") == 1

    # 3b. A whole station left out of the fleet report.
    bad = copy.deepcopy(rep)
    del bad["stations"][1 - ia]
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "do not match the station sections" in text and "FAILED report" in text

    # 4. The signature stripped and the checksum redone: unsigned where a key is held.
    bad = copy.deepcopy(rep)
    r4 = bad["stations"][ia]["results"][3]["result"]
    del r4["signature"]
    r4["checksum"] = signing.checksum(r4)
    _reseal(bad["stations"][ia])
    rc, text, _ = _verify(console, tmp_path, bad)
    assert rc == 1 and "FAILED station CS001 result 4: unsigned" in text
    # --allow-unsigned (results made before a station had a key) accepts it: the auditor's
    # choice, which is why it is not the default.
    (tmp_path / "u.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    rc, text, _ = console.cli("verify", str(tmp_path / "u.json"), "--keys",
                              str(tmp_path / "keys.json"), "--allow-unsigned", token="")
    assert rc == 0 and "6 result(s) of 2 station(s), 5 signed, 5 signature(s) checked" in text

    # The same report from the API as HTML, for the web page (role read).
    r = console.api("GET", "/api/report", reader, station=[A], since="2000-01-01T00:00:00Z",
                    format="html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Station CS001" in r.text and B not in r.text


@pytest.mark.req("DG19.FR.08")
def test_who_may_report_provision_and_export_keys(console):
    console.add_station(A)
    reader = console.token(AUDITOR, "read")
    runner = console.token(OPERATOR, "run-intrusive")
    # read: a report, yes (an empty window is still a verifiable report) ...
    r = console.api("GET", "/api/report", reader, station=A, since="2000-01-01T00:00:00Z")
    assert r.status_code == 200 and r.json()["stations"][0]["count"] == 0
    # ... but no keys: not exported, not provisioned (nor by a run-intrusive token).
    for tok in (reader, runner):
        r = console.api("GET", "/api/signing-keys", tok)
        assert r.status_code == 403 and r.json()["error"]["role"] == "admin"
        r = console.api("POST", "/api/stations/%s/signing-key" % A, tok, json_body={})
        assert r.status_code == 403 and r.json()["error"]["role"] == "admin"
    rc, _, err = console.cli("key", "export", "-o", "k.json", token=reader)
    assert rc == 3 and "admin" in err and not os.path.exists(os.path.join(console.workdir,
                                                                          "k.json"))
    rc, _, err = console.cli("key", "provision", A, token=reader)
    assert rc == 3
    r = console.api("GET", "/api/report", "", station=A, since="2000-01-01T00:00:00Z")
    assert r.status_code == 401
    # A station that is not connected cannot take a key: refused, nothing kept.
    r = console.api("POST", "/api/stations/%s/signing-key" % A, json_body={"keyId": "k1"})
    assert r.status_code == 503 and r.json()["error"]["station"] == A
    assert console.ok("GET", "/api/signing-keys") == {}
    r = console.api("GET", "/api/report", reader, station="nope", since="2000-01-01T00:00:00Z")
    assert r.status_code == 404
    r = console.api("GET", "/api/report", reader, station=A, since="yesterday")
    assert r.status_code == 422


def _verify_files(tmp_path, report_text, keys_text=None):
    import subprocess
    from console_peer import CONSOLE
    (tmp_path / "r.json").write_text(report_text, encoding="utf-8")
    args = CONSOLE + ["verify", str(tmp_path / "r.json")]
    if keys_text is not None:
        (tmp_path / "k.json").write_text(keys_text, encoding="utf-8")
        args += ["--keys", str(tmp_path / "k.json")]
    p = subprocess.run(args, capture_output=True, timeout=60, env=dict(os.environ, CONSOLE_URL=""))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.req("DG19.FR.06", "DG19.FR.07")
def test_verify_names_failures_of_a_hostile_report_and_never_crashes(tmp_path):
    signing = _signing()
    key = bytes(range(32))

    def result(rid, **extra):
        r = dict({"resultId": rid, "testId": "memory", "verdict": "Passed",
                  "evidence": "évidence ☃ %d" % rid}, **extra)
        return signing.sign(r, "k1", key)

    good = [result(1), result(2), result(3)]
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from ocppdiag.evidence import FORMAT, seal_station
    sec = seal_station({"stationId": "Zoë-1", "results": [{"result": r} for r in good]})
    rep = {"format": FORMAT, "stations": [sec]}
    keys = json.dumps({"Zoë-1": {"k1": key.hex()}})
    rc, out, err = _verify_files(tmp_path, json.dumps(rep), keys)
    assert rc == 0 and "3 result(s) of 1 station(s), 3 signed, 3 signature(s) checked: all verified" \
        in out, (out, err)

    hostile = [
        ("not json {", None, 2, "cannot read"),
        ("[" * 100000 + "]" * 100000, None, 2, "cannot read"),
        ("[1, 2]", None, 1, "FAILED report: not an evidence report"),
        (json.dumps({"format": FORMAT, "stations": "x"}), None, 1, "no list of stations"),
        (json.dumps({"format": FORMAT, "stations": [1, {"stationId": "S", "results": [
            "x", {"result": {"resultId": True}}], "resultIds": ["a"]}]}), None, 1,
         "FAILED station S: an entry that is not a result"),
        (json.dumps({"format": FORMAT, "stations": [dict(sec, resultIds=[1, 2, 3, 10 ** 9],
                                                        count=4)]}),
         None, 1, "FAILED station Zoë-1 result 4: missing: a gap between results 3 and 1000000000"),
        (json.dumps(rep).replace('"resultId": 2', '"resultId": NaN'), None, 1,
         "FAILED station Zoë-1: an entry that is not a result"),
        (json.dumps(rep), '{"Zoë-1": {"k1": "not hex"}}', 1,
         "FAILED station Zoë-1 result 1: unknown key id 'k1'"),
        (json.dumps(rep), '["keys"]', 1, "FAILED report: keys: not an object"),
    ]
    for report_text, keys_text, want_rc, want in hostile:
        rc, out, err = _verify_files(tmp_path, report_text, keys_text)
        assert rc == want_rc and want in out + err, (report_text[:80], out, err)
        assert "Traceback" not in err
    # A gap of a billion ids is named, but not line by line a billion times.
    rc, out, _ = _verify_files(tmp_path, hostile[5][0])
    assert out.count("missing: a gap") <= 1000


@pytest.mark.req("DG19.FR.08")
def test_a_key_the_station_refuses_is_kept_out_of_the_keys_file(console, station_agent):
    # A production station on plain ws:// refuses a key (DG16.FR.07): a key sent in clear.
    console.add_station(A)
    station_agent(console, A, production=True)
    console.wait_station(A, catalog=False)
    r = console.api("POST", "/api/stations/%s/signing-key" % A, json_body={"keyId": "k-clear"})
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["reasonCode"] == "InsecureTransport" and err["keyId"] == "k-clear"
    assert console.ok("GET", "/api/signing-keys") == {}
    # The attempt is journaled; the report shows no key for the station.
    evs = console.ok("GET", "/api/events", station=A)
    assert "key.provisioned" not in [e["kind"] for e in evs]
    (refused,) = [e for e in evs if e["kind"] == "key.refused"]
    assert refused["data"] == {"keyId": "k-clear", "reasonCode": "InsecureTransport", "by": "admin"}
    rep = console.ok("GET", "/api/report", station=A, since="2000-01-01T00:00:00Z")
    assert rep["stations"][0]["signingKeys"] == [
        {"keyId": "k-clear", "status": "rejected", "createdBy": "admin"}]
