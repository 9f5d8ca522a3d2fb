"""The console's web page in headless Chromium (Debian's /usr/bin/chromium driven by
Playwright for Python) against a live console, a live agent (MicroPython unix port)
and a scripted station that offers an intrusive test: sign-in and refusals, stations,
the catalog's forms (checked in the page and again by the API), a run started from the
page followed live over server-sent events with its verdict, evidence, checksum and
chart, and the page on a phone-sized screen.  Screenshots are kept in
host_tests/artifacts/ (git-ignored); their paths are printed."""
import json
import os
import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from conftest import AgentProc, base_config
from console_peer import PASSWORD, ConsoleProc, ScriptedStation

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
AGENT = "CS-WEB-1"
SCRIPTED = "Ladesäule-Süd-✓"      # non-ASCII ids travel in URLs, JSON and the page
OFFLINE = "<i>Station-Ωmega-Ærø"  # added, never connected; markup in it stays text
WAIT = 30000  # ms: how long the page may take on a shared 2-core machine (a bound, not a target)

CONTACTOR = {"testId": "contactor", "testType": "IntegrationTest", "version": "1.0",
             "description": "Öffnet und schließt das Schütz (unterbricht das Laden)",
             "parameter": [{"name": "cycles", "dataType": "integer", "unit": "×", "minValue": 1,
                            "maxValue": 5, "defaultValue": 1, "required": False}],
             "constraints": {"intrusive": True, "timeout": 30, "minInterval": 0,
                             "needsNetwork": False},
             "expectedOutcome": {"verdicts": ["Passed", "Failed"]}}


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = ConsoleProc(str(tmp_path_factory.mktemp("console"))).start()
    yield c
    assert c.stop() == 0
    assert "Traceback" not in c.log(), c.log()


@pytest.fixture(scope="module")
def stations(console, build_dir, tmp_path_factory):
    """The agent, a scripted station with an intrusive test, and one never connected."""
    for sid in (AGENT, SCRIPTED, OFFLINE):
        console.add_station(sid)
    wd = str(tmp_path_factory.mktemp("agent"))
    agent = AgentProc(build_dir, base_config(console.url, wd, stationId=AGENT,
                                             basicAuthPassword=PASSWORD,
                                             evses=[1]), wd).start()
    st = ScriptedStation(console.url, SCRIPTED).offer([CONTACTOR])
    try:
        assert st.connect() is None
        console.wait_station(AGENT, timeout=60)
        console.wait_station(SCRIPTED)
        yield agent, st
    finally:
        st.close()
        agent.stop()
        assert "Traceback" not in agent.log(), agent.log()[-3000:]


@pytest.fixture(scope="module")
def browser():
    # Playwright's own browser download cannot work here: Debian's chromium instead.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # Console errors too (a CSP refusal, a failed module), except the refusals the
    # tests provoke on purpose (401/404 responses are logged by the browser).
    pg.on("console", lambda m: m.type == "error" and not m.text.startswith(
        "Failed to load resource") and errors.append(m.text))
    yield pg
    ctx.close()
    assert not errors, errors  # no script error on any page a test opened


def sign_in(page, console, token):
    page.goto(console.api_url + "/")
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")


def open_station(page, sid, *tests):
    """Show station sid and unfold the forms of `tests`."""
    page.locator("#stations tr", has=page.get_by_role("link", name=sid, exact=True)).click()
    expect(page.locator("#station-id")).to_have_text(sid)
    for t in tests:
        page.locator("details.test-box[data-test='%s'] > summary" % t).click()
        expect(page.locator("form.test[data-test='%s']" % t)).to_be_visible()


def save(page, name):
    """The whole page, and what the screen shows first (NAME-top.png)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name + ".png")
    page.screenshot(path=path, full_page=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name + "-top.png"))
    print("screenshots:", path, "and", name + "-top.png")
    return path


expect.set_options(timeout=WAIT)


def test_wrong_token_refused_in_the_page(console, page):
    sign_in(page, console, "cdt_gefälscht")
    err = page.locator("#error")
    expect(err).to_contain_text("that is not an operator token")
    sign_in(page, console, "cdt_forged")
    expect(err).to_be_visible()
    expect(err).to_contain_text("Token refused (401)")
    expect(err).to_contain_text("unknown token")
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#login")).to_be_visible()
    # The refused token is not kept for the next load.
    assert page.evaluate("sessionStorage.getItem('console.token')") is None
    # The page itself is public HTML; the data is not.
    assert httpx.get(console.api_url + "/api/stations").status_code == 401


def test_event_stream_needs_a_token_or_a_one_use_ticket(console):
    url = console.api_url + "/api/events"
    assert httpx.get(url, params={"follow": "1"}).status_code == 401
    assert httpx.get(url, params={"follow": "1", "ticket": "cst_erfunden"}).status_code == 401
    assert console.api("POST", "/api/events/ticket", token="").status_code == 401
    assert console.api("POST", "/api/events/ticket", token="cdt_forged").status_code == 401

    def opens(ticket):
        with httpx.stream("GET", url, params={"ticket": ticket, "follow": "1"}, timeout=30) as r:
            if r.status_code != 200:
                return r.status_code
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("event: "):
                    assert line == "event: stream.open"
                    return 200
        raise AssertionError("stream ended before its first event")

    reader = console.token("Lectrice Ève", "read")
    t = console.ok("POST", "/api/events/ticket", token=reader)
    assert t["ticket"].startswith("cst_") and reader not in json.dumps(t)
    assert opens(t["ticket"]) == 200
    assert opens(t["ticket"]) == 401  # once only
    # A ticket does not outlive its token.
    gone = console.token("gone", "read")
    t = console.ok("POST", "/api/events/ticket", token=gone)["ticket"]
    console.ok("DELETE", "/api/tokens/gone")
    assert opens(t) == 401
    # A ticket opens the stream, nothing else.
    t = console.ok("POST", "/api/events/ticket", token=reader)["ticket"]
    assert httpx.get(console.api_url + "/api/stations", params={"ticket": t}).status_code == 401


def test_stations_listed_and_a_read_token_cannot_start(console, stations, page):
    sign_in(page, console, console.token("Lecteur Noël", "read"))
    expect(page.locator("#who")).to_have_text("Lecteur Noël · read")
    rows = page.locator("#stations tbody tr")
    expect(rows).to_have_count(3)
    for sid, online in ((AGENT, True), (SCRIPTED, True), (OFFLINE, False)):
        row = page.locator("#stations tr[data-station='%s']" % sid)
        expect(row.locator("td").nth(0)).to_have_text(sid)
        expect(row.locator("td").nth(1)).to_have_text("online" if online else "offline")
        if online:
            expect(row.locator("td").nth(3).locator("time")).to_have_attribute(
                "datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
        else:
            expect(row.locator("td").nth(3)).to_have_text("never")
    open_station(page, AGENT, "memory")
    memory = page.locator("form.test[data-test=memory]")
    expect(memory.locator("button[type=submit]")).to_be_disabled()
    expect(memory.locator(".role-note")).to_have_text("needs role run; this token has read")
    # The offline station without a stored catalog says why there is no form.
    open_station(page, OFFLINE)
    expect(page.locator("#catalog-note")).to_contain_text("not connected")
    expect(page.locator("#catalog form")).to_have_count(0)


def test_catalog_form_refuses_out_of_range_in_the_page_and_the_api(console, stations, page):
    sign_in(page, console, console.token("Opérateur Ünal", "run"))
    open_station(page, AGENT, "memory")
    memory = page.locator("form.test[data-test=memory]")
    field = memory.locator("input[name=minFreeBytes]")
    # The descriptor became input attributes: type, limits, default.
    assert field.get_attribute("type") == "number" and field.get_attribute("step") == "1"
    assert (field.get_attribute("min"), field.get_attribute("max")) == ("0", "16777216")
    expect(memory.locator("label[for='p-memory-minFreeBytes']")).to_contain_text("[B]")

    field.fill("99999999")
    memory.locator("button[type=submit]").click()
    expect(memory.locator(".form-error")).to_contain_text(
        "minFreeBytes: 99999999 is above the maximum 16777216 — checked in the page")
    # Bypass the page's check (as an edited page would): the API refuses, naming it.
    field.evaluate("e => e.removeAttribute('max')")
    memory.locator("button[type=submit]").click()
    expect(memory.locator(".form-error")).to_contain_text("refused by the console (422)")
    expect(memory.locator(".form-error")).to_contain_text("16777216")
    expect(memory.locator(".field-error[data-for=minFreeBytes]")).to_contain_text("minFreeBytes")
    field.fill("1.5")
    memory.locator("button[type=submit]").click()
    expect(memory.locator(".form-error")).to_contain_text("minFreeBytes: must be an integer")
    assert console.ok("GET", "/api/stations/%s/runs" % AGENT) == []  # nothing was sent

    # An intrusive test is marked, and this role may not start it.
    open_station(page, SCRIPTED, "contactor")
    contactor = page.locator("form.test[data-test=contactor]")
    expect(contactor).to_have_class(re.compile(r"\bintrusive\b"))
    mark = page.locator("details.test-box[data-test=contactor] > summary .tag.danger")
    expect(mark).to_have_text("intrusive")
    expect(contactor.locator("button[type=submit]")).to_be_disabled()
    expect(contactor.locator(".role-note")).to_contain_text("needs role run-intrusive")
    expect(contactor.locator("label[for='p-contactor-cycles']")).to_contain_text("[×]")


def test_run_from_the_page_is_followed_live(console, stations, page, browser):
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    sign_in(page, console, console.token("Zoë Ópérateur ✓", "run"))
    open_station(page, AGENT, "memory")
    memory = page.locator("form.test[data-test=memory]")
    run_ids = []
    # The second limit is above any free heap the agent has: Failed, with evidence.
    for limit, verdict in (("5000", "Passed"), ("16777216", "Failed")):
        memory.locator("input[name=minFreeBytes]").fill(limit)
        memory.locator("button[type=submit]").click()
        done = page.locator("#runs li.run[data-verdict=%s]" % verdict)
        expect(done).to_have_count(1)
        run_ids.append(int(done.get_attribute("data-run")))
    run = console.ok("GET", "/api/runs/%d" % run_ids[-1])
    assert run["requestor"] == "Zoë Ópérateur ✓" and run["verdict"] == "Failed"
    assert run["results"][0]["result"]["requestId"] == run_ids[-1]  # it reached the agent

    # Live: the verdict arrived with an event on the stream (the page records which),
    # and the page fetched a run only when an event about it came: no polling loop.
    last = page.locator("#runs li.run[data-run='%d']" % run_ids[-1])
    assert int(last.get_attribute("data-event")) > 0
    assert any(m == "GET" and "/api/events?" in u and "ticket=" in u for m, u in requests)
    for rid in run_ids:
        events = console.ok("GET", "/api/events", run=rid)
        fetched = [u for m, u in requests if m == "GET" and u.endswith("/api/runs/%d" % rid)]
        assert 1 <= len(fetched) <= len(events), (fetched, events)

    # The result: evidence, measurements against limits, checksum verified.
    result = page.locator("#results li.result[data-verdict=Failed]")
    expect(result.locator(".evidence")).to_have_text(run["results"][0]["result"]["evidence"])
    row = result.locator("table.measurements tr", has_text="freeHeap")
    expect(row).to_contain_text(">= 16777216")
    expect(row.locator("td.bad")).to_have_text("no")  # outside its limit, marked
    expect(result.locator(".checksum")).to_contain_text("✓ checksum verified")
    expect(result.locator(".checksum code")).to_have_attribute(
        "title", run["results"][0]["result"]["checksum"])
    # The chart of each measurement over time, both runs in it.
    chart = page.locator("figure.chart[data-series='memory · freeHeap']")
    expect(chart.locator("figcaption")).to_contain_text("2 points")
    expect(chart.locator("canvas")).to_have_count(1)

    # The filters: station, test, verdict.
    page.select_option("#filter [name=verdict]", "Failed")
    page.click("#filter button[type=submit]")
    expect(page.locator("#results li.result")).to_have_count(1)
    page.select_option("#filter [name=verdict]", "Passed")
    page.fill("#filter [name=test]", "noop")
    page.click("#filter button[type=submit]")
    expect(page.locator("#no-results")).to_be_visible()
    page.fill("#filter [name=test]", "memory")
    page.select_option("#filter [name=verdict]", "")
    page.fill("#filter [name=since]", "2099-01-01T00:00")  # time: nothing after 2099
    page.click("#filter button[type=submit]")
    expect(page.locator("#no-results")).to_be_visible()
    page.fill("#filter [name=since]", "2000-01-01T00:00")
    page.click("#filter button[type=submit]")
    expect(page.locator("#results li.result")).to_have_count(2)
    save(page, "console-desktop")

    # A phone: one column, nothing wider than the screen, the form still usable.
    # The station's address (#id) opens it again after a reload.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(console.api_url + "/#" + AGENT)
    page.reload()  # goto changed only the hash: load the page anew
    expect(page.locator("#station-id")).to_have_text(AGENT)
    expect(page.locator("#stations tbody tr")).to_have_count(3)
    page.locator("details.test-box[data-test=memory] > summary").click()
    expect(page.locator("form.test[data-test=memory]")).to_be_visible()
    expect(page.locator("figure.chart canvas").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for fig in page.locator("figure.chart").all():  # each chart fits its frame
        assert fig.evaluate("f => f.querySelector('canvas').getBoundingClientRect().right"
                            " <= f.getBoundingClientRect().right")
    box = page.locator("form.test[data-test=memory] button[type=submit]").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    save(page, "console-phone")


def test_page_says_so_when_the_chart_library_is_missing(console, stations, browser):
    if not console.ok("GET", "/api/results", station=AGENT):  # this test run alone
        rid = console.ok("POST", "/api/stations/%s/runs" % AGENT,
                         json_body={"tests": [{"testId": "memory"}]})["id"]
        console.wait_run(rid, lambda r: r["verdict"] is not None)
    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_default_timeout(WAIT)
    page.route(re.compile(r".*/vendor/uplot/.*"), lambda route: route.fulfill(status=404))
    try:
        sign_in(page, console, console.admin)
        open_station(page, AGENT)
        expect(page.locator("#charts .chart-missing")).to_contain_text("run make setup")
        expect(page.locator("#results li.result").first).to_be_visible()  # the rest works
    finally:
        ctx.close()


def test_station_text_stays_text_and_an_unverified_checksum_is_flagged(console, stations, page):
    """A station is input: markup in its evidence is shown, never run; a result whose
    checksum does not verify says so."""
    _, st = stations
    sign_in(page, console, console.admin)  # the contactor test is intrusive
    open_station(page, SCRIPTED, "contactor")
    form = page.locator("form.test[data-test=contactor]")
    form.locator("input[name=cycles]").fill("2")
    form.locator("button[type=submit]").click()
    row = page.locator("#runs li.run", has_text=SCRIPTED)
    expect(row).to_have_count(1)
    rid = int(row.get_attribute("data-run"))
    (call,) = [c for c in st.calls if c[0] == "StartDiagnostics"]
    assert call[1]["test"] == [{"testId": "contactor", "parameter": [{"name": "cycles",
                                                                      "value": 2}]}]
    evidence = 'Schütz klemmt <img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    reply = st.call("NotifyDiagnosticsResult", {"result": {
        "resultId": 1, "requestId": rid, "testId": "contactor", "testType": "IntegrationTest",
        "requestor": call[1]["requestor"], "trigger": "OnDemand",
        "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:02Z",
        "verdict": "Failed", "evidence": evidence,
        "measurement": [{"name": "openMs", "value": 12.5, "unit": "ms", "limit": "<= 10",
                         "withinLimit": False}],
        "checksum": "0" * 64}})
    assert reply[0] == 3, reply
    expect(page.locator("#runs li.run[data-run='%d']" % rid)).to_have_attribute(
        "data-verdict", "Failed")
    page.select_option("#filter [name=station]", SCRIPTED)
    page.click("#filter button[type=submit]")
    result = page.locator("#results li.result[data-station='%s']" % SCRIPTED)
    expect(result.locator(".evidence")).to_have_text(evidence)
    expect(result.locator(".checksum")).to_contain_text("✗ checksum NOT verified")
    expect(result.locator("table.measurements td.bad")).to_have_text("no")
    assert result.locator("img, script").count() == 0
    assert page.evaluate("window.pwned") is None


def test_page_follows_again_after_a_console_restart(console, stations, page):
    sign_in(page, console, console.token("Nachtschicht", "run"))
    expect(page.locator("#live")).to_have_class(re.compile(r"\bup\b"))
    console.stop()
    expect(page.locator("#live")).to_have_class(re.compile(r"\bdown\b"))
    console.start()
    console.wait_station(AGENT, timeout=60)
    # Started from elsewhere (the API): the page learns of it only from its stream,
    # which it reopened with a new ticket.
    rid = console.ok("POST", "/api/stations/%s/runs" % AGENT,
                     json_body={"tests": [{"testId": "memory"}]})["id"]
    expect(page.locator("#live")).to_have_class(re.compile(r"\bup\b"), timeout=2 * WAIT)
    expect(page.locator("#runs li.run[data-run='%d']" % rid)).to_have_attribute(
        "data-verdict", "Passed", timeout=2 * WAIT)
    expect(page.locator("#stations tr[data-station='%s'] td" % AGENT).nth(1)).to_have_text(
        "online")


def test_missing_chart_library_is_a_404_and_the_page_has_its_headers(monkeypatch, tmp_path):
    """Without `make setup`'s npm step the library's URL answers 404 (the page then says
    charts are unavailable: test_page_says_so_when_the_chart_library_is_missing)."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from console import page
    monkeypatch.setattr(page, "UPLOT", str(tmp_path / "no-node-modules"))
    with TestClient(Starlette(routes=page.routes())) as client:
        assert client.get("/vendor/uplot/uPlot.iife.min.js").status_code == 404
        r = client.get("/")
        assert r.status_code == 200 and "<title>Diagnostics console</title>" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        r = client.get("/static/app.js")
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
        assert client.get("/static/../page.py").status_code == 404

def test_stream_tickets_expire_and_are_bounded():
    """The ticket store itself, with a clock the test moves (no waiting)."""
    from console.tickets import TTL, Tickets
    now = [1000.0]
    t = Tickets(clock=lambda: now[0])
    a, b = t.issue("digest-a"), t.issue("digest-b")
    assert a != b
    now[0] += TTL - 1
    assert t.redeem(a) == "digest-a"
    now[0] += 2  # b is now older than TTL
    assert t.redeem(b) is None
    assert t.redeem(None) is None and t.redeem("x" * 100) is None
    # A client asking in a loop holds at most 1000 tickets: the oldest go first.
    first = t.issue("d")
    rest = [t.issue("d") for _ in range(1000)]
    assert t.redeem(first) is None and t.redeem(rest[-1]) == "d"
