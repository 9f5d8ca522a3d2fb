"""Network bring-up at boot (boot.py -> lib/netup.py) inside MicroPython. The unix
port has no Wi-Fi or Ethernet driver, so `network` and `machine` are test doubles
(host_tests/fakes_board/: they record what netup asks of them; the host's clock is
never set). The NTP part talks to a real SNTP peer on loopback (tools/net_peers.py)."""
import calendar
import json
import os
import subprocess
import time

import pytest

from conftest import MICROPYTHON, ROOT
from net_peers import FakeNtp

FAKES = os.path.join(ROOT, "host_tests", "fakes_board")
BASE = {"csmsUrl": "ws://127.0.0.1:9/ocpp", "stationId": "CS001", "vendor": "Acme", "model": "ADX-1"}


def run_mp(script, fakes=True, cwd=None):
    path = [FAKES] if fakes else []
    env = dict(os.environ, MICROPYPATH=":".join(path + [".frozen", os.path.join(ROOT, "lib")]))
    r = subprocess.run([MICROPYTHON, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                       cwd=cwd)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def scenario(cfg, setup="", after=""):
    """Runs netup.up on cfg (checked by the agent's config checker) after `setup`
    has shaped the fake network; prints a JSON line of what happened."""
    script = (
        "import json, network, machine, config, netup\n%s\n"
        "cfg = config.check(json.loads(%r))\n"
        "nic = netup.up(cfg)\n%s\n"
        "print('RESULT ' + json.dumps({'up': nic is not None, 'calls': network.calls, 'rtc': machine.rtc_set}))\n"
        % (setup, json.dumps(cfg), after))
    r = run_mp(script)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, r.stdout + r.stderr
    return json.loads(line[-1][7:]), r.stdout


@pytest.mark.req("DG18.FR.07")
def test_wifi_comes_up_with_the_configured_network():
    cfg = dict(BASE, wifi={"ssid": "Ladepark Süd", "password": "grün-und-sicher", "hostname": "cs001"})
    res, out = scenario(cfg)
    assert res["up"] is True
    assert ["hostname", "cs001"] in res["calls"] and ["active", True] in res["calls"]
    assert ["connect", "Ladepark Süd", "grün-und-sicher"] in res["calls"]
    assert "netup: Wi-Fi Ladepark Süd up: 192.0.2.7" in out


@pytest.mark.req("DG18.FR.07")
def test_no_link_gives_up_after_the_timeout_and_main_starts():
    cfg = dict(BASE, wifi={"ssid": "depot"}, networkTimeout=1)
    res, out = scenario(cfg, "network.polls_to_link = None")
    assert res["up"] is False
    assert "no link after 1 s; main.py starts" in out


def test_a_wrong_password_stops_the_wait_at_once():
    cfg = dict(BASE, wifi={"ssid": "depot", "password": "falsch"}, networkTimeout=600)
    res, out = scenario(cfg, "network.polls_to_link = None\nnetwork.status = network.STAT_WRONG_PASSWORD")
    assert res["up"] is False and "Wi-Fi depot: wrong password" in out


@pytest.mark.req("DG18.FR.07")
def test_ethernet_gets_its_phy_and_pins():
    cfg = dict(BASE, ethernet={"phy": "LAN8720", "phyAddr": 1, "mdc": 23, "mdio": 18, "power": 12},
               ifconfig=["192.0.2.50", "255.255.255.0", "192.0.2.1", "192.0.2.1"])
    res, out = scenario(cfg)
    assert res["up"] is True
    kind, kw = res["calls"][0]
    assert kind == "LAN" and kw == {"phy_type": 1, "phy_addr": 1, "mdc": ["Pin", 23], "mdio": ["Pin", 18],
                                    "power": ["Pin", 12]}
    assert ["ifconfig", ["192.0.2.50", "255.255.255.0", "192.0.2.1", "192.0.2.1"]] in res["calls"]
    # A PHY this port does not know: one line, no link, no exception.
    res, out = scenario(dict(BASE, ethernet={"phy": "XY9999"}))
    assert res["up"] is False and "cannot start Ethernet: AttributeError" in out


def test_nothing_configured_nothing_done():
    res, out = scenario(dict(BASE))
    assert res == {"up": False, "calls": [], "rtc": []} and "netup" not in out


@pytest.mark.req("DG18.FR.08")
def test_clock_set_by_sntp_where_the_firmware_has_no_ntptime():
    ntp = FakeNtp(skew=3600.0)
    ntp.start()
    try:
        cfg = dict(BASE, csmsUrl="wss://127.0.0.1:9/ocpp", caFile="ca.der", wifi={"ssid": "depot"},
                   ntpServer="127.0.0.1:%d" % ntp.port)
        res, out = scenario(cfg, after="print('SET', netup.set_clock(cfg))")
    finally:
        ntp.stop()
    assert "SET True" in out, out
    (t,) = res["rtc"]
    # What was set is the server's time (an hour ahead), in RTC.datetime's order.
    got = calendar.timegm((t[0], t[1], t[2], t[4], t[5], t[6]))
    assert abs(got - (time.time() + 3600)) < 120, t
    assert t[3] == time.gmtime(got).tm_wday + 1


@pytest.mark.req("DG18.FR.08")
def test_clock_uses_ntptime_when_present_and_skips_for_plain_ws(tmp_path):
    (tmp_path / "ntptime.py").write_text("host = None\ncalls = []\ndef settime():\n    calls.append(host)\n")
    cfg = dict(BASE, csmsUrl="wss://127.0.0.1:9/ocpp", caFile="ca.der")
    r = run_mp("import sys\nsys.path.insert(0, %r)\nimport config, netup, ntptime\n"
               "cfg = config.check(%s)\nprint(netup.set_clock(cfg), ntptime.calls)\n"
               "print(netup.set_clock(config.check(%s)), ntptime.calls)\n"
               % (str(tmp_path), json.dumps(cfg), json.dumps(BASE)))
    assert "True ['pool.ntp.org']" in r.stdout, r.stdout + r.stderr
    assert "False ['pool.ntp.org']" in r.stdout  # ws://: the CSMS time at boot is enough


def test_unreachable_ntp_server_is_one_line_not_a_hang():
    ntp = FakeNtp(silent=True)
    ntp.start()
    try:
        cfg = dict(BASE, ntpServer="127.0.0.1:%d" % ntp.port)
        res, out = scenario(cfg, after="print('SET', netup.set_clock(cfg))")
    finally:
        ntp.stop()
    assert "SET False" in out and "clock not set from 127.0.0.1: SntpError" in out and res["rtc"] == []


@pytest.mark.parametrize("bad, msg", [
    ({"wifi": {"ssid": "a"}, "ethernet": {}}, "give 'wifi' or 'ethernet', not both"),
    ({"wifi": {"ssid": "x" * 33}}, "'wifi.ssid' must be a string of 1..32 bytes"),
    ({"wifi": {"ssid": "Ladepark-" + "ü" * 12}}, "'wifi.ssid' must be a string of 1..32 bytes"),  # 21 characters

    ({"wifi": {"password": "p"}}, "'wifi.ssid' is missing"),
    ({"wifi": {"ssid": "a", "pasword": "p"}}, "'wifi.pasword' is not a Wi-Fi setting"),
    ({"ethernet": {"mdc": 123}}, "'ethernet.mdc' must be an integer 0..99"),
    ({"ethernet": {"phy": "LAN 8720"}}, "'ethernet.phy' must be a PHY name"),
    ({"networkTimeout": 0}, "'networkTimeout' must be an integer 1..600"),
    ({"ifconfig": ["192.0.2.1"]}, "'ifconfig' must be [ip, netmask, gateway, dns]"),
    ({"diagTests": "memory"}, "'diagTests' must be a list of test ids"),
])
def test_network_settings_are_checked(bad, msg):
    r = run_mp("import config\ntry:\n    config.check(%s)\n    print('ACCEPTED')\n"
               "except config.ConfigError as e:\n    print('ERR', e)\n" % json.dumps(dict(BASE, **bad)), fakes=False)
    assert "ERR " + msg in r.stdout, r.stdout


@pytest.mark.req("DG18.FR.07")
def test_boot_never_raises_and_does_nothing_on_the_unix_port(tmp_path):
    # A config that does not check: netup says so in one line and returns.
    (tmp_path / "config.json").write_text('{"csmsUrl": "http://x"}')
    r = run_mp("import netup\nprint('NIC', netup.main('config.json'))\n", cwd=str(tmp_path))
    assert "netup: config error: 'csmsUrl' must start with ws://" in r.stdout and "NIC None" in r.stdout
    # boot.py itself on the unix port: the host's network is up already; nothing runs.
    r = subprocess.run([MICROPYTHON, os.path.join(ROOT, "boot.py")], capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
