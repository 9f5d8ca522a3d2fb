"""The station's self tests against real peers: clock (offset and drift against the
CSMS time), security (well-known insecure settings), compliance (rules over the live
device model) and performance (a full device-model report sent for real)."""
import time
from datetime import datetime, timedelta, timezone

from conftest import wait_booted
from diag_helpers import meas, results, start


def _iso(dt):
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- clock -------------------------------------------------------------------

def test_clock_passes_against_the_reference_csms(csms, agent):
    start(csms, agent.station, 1, ("clock",))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Passed", r
    m = meas(r)
    assert m["offset"]["unit"] == "ms" and abs(m["offset"]["value"]) <= 2000
    assert m["offset"]["limit"] == "abs <= 2000" and m["offset"]["withinLimit"] is True
    assert 0 <= m["roundTrip"]["value"] < 1000 and m["drift"]["unit"] == "ppm"
    assert m["sinceAdoption"]["value"] > 0
    assert "offset" in r["evidence"] and "since the last adoption" in r["evidence"]
    # Measured with a Heartbeat of its own; the station's clock was not changed by it
    # (the test does not adopt what it measures): DateTime is still the CSMS's.
    assert csms.messages(station=agent.station, action="Heartbeat")


def test_clock_offset_against_a_skewed_csms_fails_naming_it(csms, make_agent):
    # Boot gives the true time; the heartbeat answers two minutes ahead. The
    # station's own heartbeats are 300 s apart, so only the test's heartbeat
    # sees the skew, and the station does not adopt it.
    csms.set_boot_status("Accepted", interval=300)
    csms.add_handler("Heartbeat", lambda st, p: {
        "currentTime": _iso(datetime.now(timezone.utc) + timedelta(seconds=120))})
    a = make_agent(csms)
    wait_booted(csms, a)
    start(csms, a.station, 1, ("clock", {"maxOffsetMs": 1000}))
    (r,) = results(csms, a.station, 1)
    assert r["verdict"] == "Failed", r
    off = meas(r)["offset"]
    assert -121000 < off["value"] < -119000 and off["withinLimit"] is False and off["limit"] == "abs <= 1000"
    assert r["statusInfo"]["reasonCode"] == "ClockOffset"
    assert "offset %d ms (limit 1000 ms)" % off["value"] in r["statusInfo"]["additionalInfo"]
    # Measuring did not adopt the skew: a second run sees the same offset.
    start(csms, a.station, 2, ("clock", {"maxOffsetMs": 1000}))
    r2 = results(csms, a.station, 2)[1]
    assert r2["requestId"] == 2
    assert abs(meas(r2)["offset"]["value"] - off["value"]) < 1000


def test_clock_drift_against_a_fast_csms_fails(csms, make_agent):
    # The CSMS clock runs 5 % fast from the boot on: the station adopted the time at
    # boot, so after a second or two it is behind by ~50,000 ppm of that time.
    csms.set_boot_status("Accepted", interval=300)
    t0 = []

    def boot(st, p):
        t0.append(datetime.now(timezone.utc))
        return {"currentTime": _iso(t0[-1]), "interval": 300, "status": "Accepted"}

    def hb(st, p):
        now = datetime.now(timezone.utc)
        return {"currentTime": _iso(now + (now - t0[-1]) * 0.05)}

    csms.add_handler("BootNotification", boot)
    csms.add_handler("Heartbeat", hb)
    a = make_agent(csms)
    wait_booted(csms, a)
    time.sleep(1.5)
    start(csms, a.station, 1, ("clock",))
    (r,) = results(csms, a.station, 1)
    m = meas(r)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == "ClockDrift", r
    assert m["offset"]["withinLimit"] is True  # ~-75 ms: the offset alone passes
    assert -60000 < m["drift"]["value"] < -40000 and m["drift"]["withinLimit"] is False
    assert m["drift"]["limit"].startswith("abs <= 500 (measured +-")
    assert "drift %d ppm" % m["drift"]["value"] in r["statusInfo"]["additionalInfo"]


def test_clock_inconclusive_before_the_station_heard_the_csms_time(csms, make_agent):
    from conftest import sv
    a = make_agent(csms, startupTests="clock")
    wait_booted(csms, a)
    sv(csms, a.station, "DiagnosticsCtrlr", "StartupTiming", "BeforeBoot")
    a.stop()
    n = len(csms.messages())
    a.start()
    (r,) = results(csms, a.station, 1, after=n)
    assert r["testId"] == "clock" and r["trigger"] == "StartUp"
    assert r["verdict"] == "Inconclusive" and r["statusInfo"]["reasonCode"] == "NeverSynced", r
    assert "never received the CSMS time" in r["evidence"]
    assert "offset" not in meas(r)
