"""A station's new password, or its removal, ends the live connection that the old
password opened: the MicroPython agent is closed with 1008, its reconnect with the old
password is refused (HTTP 401 at the upgrade), and with the new one it is let in again.
Only an admin may do it; a refused operator changes nothing and the connection stays.
With several console processes on PostgreSQL the process that holds the connection
closes it, whichever process was asked (and also when the notification was lost)."""
import re

import pytest

import pg_peer
from console_peer import ConsoleProc, station_agent, wait_until  # noqa: F401  (fixture)
from test_console_postgres import pair, pg  # noqa: F401  (fixtures: two consoles, one database)

NEW = "neues-Passwort-2026-x"  # 21 characters, inside OCPP's 16..40
ADMIN = "Søren Åberg ✓"          # travels into the event that records the change
CLOSED = r"disconnected \(close code 1008\)"
REFUSED = r"connect failed: .*401"


@pytest.fixture(scope="module", name="console")
def shared_console(tmp_path_factory):
    c = ConsoleProc(str(tmp_path_factory.mktemp("console"))).start()
    yield c
    assert c.stop() == 0
    assert "Traceback" not in c.log(), c.log()


def _events(console, kind, station=None):
    evs = console.ok("GET", "/api/events", station=station) if station else \
        console.ok("GET", "/api/events")
    return [e for e in evs if e["kind"] == kind]


def _connected(console, sid):
    return console.ok("GET", "/api/stations/" + sid)["connected"]


def _restart(agent, password):
    """The station given its new password: the agent restarted with it in its config."""
    agent.stop()
    agent.cfg["basicAuthPassword"] = password
    agent.start()


def test_only_an_admin_changes_a_password_and_the_connection_stays(console, station_agent):
    sid = "CS-PW-REFUSED"
    console.add_station(sid)
    agent = station_agent(console, sid)
    console.wait_station(sid)
    for name, role in (("Lesende Ärztin", "read"), ("Ünal runner", "run"),
                       ("Ívar intrusive", "run-intrusive")):
        token = console.token(name, role)
        r = console.api("PUT", "/api/stations/%s/password" % sid, token=token,
                        json_body={"password": NEW})
        assert r.status_code == 403 and r.json()["error"]["role"] == "admin", r.text
        rc, _, err = console.cli("station", "password", sid, "--password", NEW, "--json",
                                 token=token)
        assert rc == 3, err
        r = console.api("DELETE", "/api/stations/" + sid, token=token)
        assert r.status_code == 403, r.text
    # Nothing changed: no event, the connection is the one it was and still trusted.
    assert _events(console, "station.password", sid) == []
    assert _events(console, "station.disconnected", sid) == []
    assert _connected(console, sid) and "disconnected (close code" not in agent.log()
    run = console.ok("POST", "/api/stations/%s/runs" % sid,
                     json_body={"tests": [{"testId": "memory"}]})
    done = console.wait_run(run["id"], lambda r: r["status"] == "done")
    assert done["verdict"] == "Passed"
    assert agent.log().count("connected to ") == 1


def test_new_password_ends_the_live_connection(console, station_agent):
    sid = "CS-PW-1"
    console.add_station(sid)
    agent = station_agent(console, sid)
    console.wait_station(sid)
    admin = console.token(ADMIN, "admin")

    rc, out, err = console.cli("station", "password", sid, "--password", NEW, "--json",
                               token=admin)
    assert rc == 0, err
    assert out == {"station": sid, "changed": True, "disconnected": True}
    agent.wait_log(CLOSED, 30)
    (ev,) = _events(console, "station.password", sid)
    assert ev["data"] == {"by": ADMIN, "disconnected": True}
    # The agent comes back with the password it has: refused at the upgrade.
    agent.wait_log(REFUSED, 60)
    wait_until(lambda: any(e["data"] == {"reason": "bad credentials", "claimed": sid}
                           for e in _events(console, "station.refused")), 30, "refusal event")
    assert not _connected(console, sid)

    _restart(agent, NEW)
    console.wait_station(sid, catalog=False)
    agent.wait_log("connected to ", 30)
    assert not re.search(REFUSED, agent.log())

    # A station that is not connected: changed, nothing to close (the text form too).
    agent.stop()
    wait_until(lambda: not _connected(console, sid), 30, "agent gone")
    rc, text, err = console.cli("station", "password", sid, "--password", NEW + "y", token=admin)
    assert rc == 0 and text.strip() == "password changed", (text, err)
    rc, out, _ = console.cli("station", "password", sid, "--password", NEW + "z", "--json")
    assert rc == 0 and out["disconnected"] is False


def test_removal_closes_the_connection_and_says_so(console, station_agent):
    sid = "CS-PW-GONE"
    console.add_station(sid)
    agent = station_agent(console, sid)
    console.wait_station(sid)
    rc, text, err = console.cli("station", "remove", sid)
    assert rc == 0 and "its live connection was closed" in text, (text, err)
    agent.wait_log(CLOSED, 30)
    agent.wait_log(REFUSED, 60)
    (ev,) = _events(console, "station.removed", sid)
    assert ev["data"]["disconnected"] is True


# -- several console processes ------------------------------------------------

needs_pg = pytest.mark.skipif(pg_peer.bindir() is None,
                              reason="PostgreSQL server binaries (Debian's postgresql, "
                                     "installed by make setup) are not installed")


def _dropped(console, sid):
    """What the holding process recorded when it closed a connection, and why."""
    return [e["data"] for e in _events(console, "station.dropped", sid)]


def _hash(password):
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tools"))
    from console import auth
    return auth.hash_secret(password)


@needs_pg
def test_change_and_removal_through_b_end_the_connection_on_a(pair, station_agent):
    (a, b), url = pair
    sid = "CSPG-PW"
    b.add_station(sid)
    agent = station_agent(a, sid)  # the agent knows only A's address
    a.wait_station(sid)
    b.wait_station(sid)
    admin = b.token(ADMIN, "admin")

    # Refused on B for an operator who is not an admin: A's connection stays.
    runner = b.token("Ünal runner", "run")
    r = b.api("PUT", "/api/stations/%s/password" % sid, token=runner, json_body={"password": NEW})
    assert r.status_code == 403
    assert _connected(a, sid) and "disconnected (close code" not in agent.log()

    # 1. Changed through B: A closes the connection, B's answer says so.
    rc, out, err = b.cli("station", "password", sid, "--password", NEW, "--json", token=admin)
    assert rc == 0, (err, a.log(), b.log())
    assert out == {"station": sid, "changed": True, "disconnected": True}
    agent.wait_log(CLOSED, 30)
    agent.wait_log(REFUSED, 60)
    assert [e["data"] for e in _events(a, "station.password", sid)] == [
        {"by": ADMIN, "disconnected": True}]
    assert _dropped(b, sid) == [{"found": "notified", "reason": "password changed"}]
    _restart(agent, NEW)
    agent.wait_log("connected to ", 60)
    b.wait_station(sid, catalog=False)

    # 2. A notification that never reached A (the hash written behind the consoles'
    # backs): A's heartbeat finds the credential changed and closes the connection.
    import psycopg
    third = NEW + "-3"
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as c:
        c.execute("UPDATE stations SET password_hash = %s WHERE id = %s", (_hash(third), sid))
    agent.wait_log(CLOSED, 60)
    agent.wait_log(REFUSED, 60)
    assert _dropped(b, sid)[1:] == [{"found": "heartbeat", "reason": "password changed"}]
    _restart(agent, third)
    agent.wait_log("connected to ", 60)
    b.wait_station(sid, catalog=False)

    # 3. Removed through B: closed on A, refused from then on.
    rc, out, err = b.cli("station", "remove", sid, "--json", token=admin)
    assert rc == 0, err
    assert out == {"station": sid, "removed": True, "disconnected": True}
    agent.wait_log(CLOSED, 30)
    agent.wait_log(REFUSED, 60)
    assert a.api("GET", "/api/stations/" + sid).status_code == 404
    assert _dropped(a, sid)[2:] == [{"found": "notified", "reason": "station removed"}]
