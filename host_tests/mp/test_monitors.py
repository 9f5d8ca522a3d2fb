# Monitor evaluation (model/monitors.py) and the DiagnosticsLog file name, run inside
# MicroPython with a device model of its own.
from unit import TMP, remove_dir, run

from model import monitors as M
from model.devmodel import Component, DeviceModel, monitorable
from store import Store

_T = """
Count||i|R||0|100|||0
Name||s|RW|||20|||é
Pw||p|W||||||
Ro||s|R|||||c|fixed"""
_DIR = TMP + "/mp_unit_monitors"


class _Box:
    def __init__(self):
        self.items = []

    def put(self, action, payload, key=None):
        self.items.append((action, payload))


class _Rpc:
    version = "2.1"
    online = True


class _Station:
    boot_status = "Accepted"

    def __init__(self):
        self.outbox = _Box()


class _Agent:
    def __init__(self):
        remove_dir(_DIR)  # a fresh store each time (Store makes the directory again)
        self.store = Store(_DIR)
        self.dm = DeviceModel(self.store)
        self.comp = self.dm.add(Component("TestCtrlr", _T, instance="été"))
        self.dm.add(Component("MonitoringCtrlr", "\nEnabled||b|RW||||||true\n"
                              "ActiveMonitoringLevel||i|R||0|9|||9\nOfflineQueuingSeverity||i|RW||0|9|||9"))
        self.rpc = _Rpc()
        self.station = _Station()
        self.monitors = []
        self.monitors_dirty = False
        self.premon = None
        self.event_seq = 0
        self.cfg = {"stationId": "Borne \"é\"/1"}

    def setv(self, var, value):
        self.store.put("dm/TestCtrlr:été/" + var, value)


def _mon(a, var, t, value, sev=5):
    v = a.comp.find(var)
    m = [1000 + len(a.monitors), "TestCtrlr", "été", None, None, var, None, t, value, sev, None, "C"]
    if t == "Delta":
        m[M.REF] = a.dm.value(a.comp, v)
    a.monitors.append(m)
    return m


def _events(a):
    out = [e for _, p in a.station.outbox.items for e in p["eventData"]]
    a.station.outbox.items = []
    return out


def test_monitorable():
    a = _Agent()
    assert [monitorable(v) for v in a.comp.vars()] == [True, True, False, False]


def test_numeric_delta_counts_from_the_value_last_reported():
    a = _Agent()
    m = _mon(a, "Count", "Delta", 5)
    for x in ("3", "5"):  # 5 from 0 is not more than 5
        a.setv("Count", x)
        M.check(a)
    assert _events(a) == []
    a.setv("Count", "6")
    M.check(a)
    (e,) = _events(a)
    assert (e["trigger"], e["actualValue"], e["variableMonitoringId"], e["severity"]) == ("Delta", "6", m[0], 5)
    assert e["component"] == {"name": "TestCtrlr", "instance": "été"} and e["eventNotificationType"] == "CustomMonitor"
    a.setv("Count", "2")  # 4 below the last report: nothing
    M.check(a)
    assert _events(a) == []


def test_string_delta_any_change_once():
    a = _Agent()
    _mon(a, "Name", "Delta", 1)
    M.check(a)
    assert _events(a) == []
    a.setv("Name", "ünïcode")
    M.check(a)
    M.check(a)
    (e,) = _events(a)
    assert e["actualValue"] == "ünïcode"


def test_threshold_alerts_then_clears_and_persists():
    a = _Agent()
    m = _mon(a, "Count", "UpperThreshold", 10)
    a.setv("Count", "10")  # at the limit is not over it
    M.check(a)
    assert _events(a) == []
    a.setv("Count", "11")
    M.check(a)
    M.check(a)
    (e,) = _events(a)
    assert e["trigger"] == "Alerting" and "cleared" not in e
    assert Store(_DIR).get("mon/c")[0][M.REF] == 1  # the trip survives a reboot
    a.setv("Count", "4")
    M.check(a)
    (e,) = _events(a)
    assert e["cleared"] is True and e["actualValue"] == "4"
    assert m[M.REF] == 0


def test_periodic_reports_its_value_on_time_and_never_in_a_burst():
    import clock
    a = _Agent()
    m = _mon(a, "Count", "Periodic", 60)
    real = clock.now
    t = [1000000]
    clock.now = lambda: t[0]
    try:
        M.check(a)  # the period starts: nothing yet
        assert _events(a) == [] and m[M.REF] == 1000060
        t[0] = 1000059
        M.check(a)
        assert _events(a) == []
        t[0] = 1000060
        a.setv("Count", "7")
        M.check(a)
        (e,) = _events(a)
        assert (e["trigger"], e["actualValue"], e["variableMonitoringId"]) == ("Periodic", "7", m[0])
        assert m[M.REF] == 1000120  # counted from the one due, not from when it ran
        t[0] = 1000500  # several periods missed (busy, asleep): one event, then from now
        M.check(a)
        assert len(_events(a)) == 1 and m[M.REF] == 1000560
        t[0] = 1000000  # the clock set back: rescheduled from now, no event
        M.check(a)
        assert _events(a) == [] and m[M.REF] == 1000060
        assert 20 <= M.nap_ms(a) <= 5000  # the sweep wakes for it, at most every 5 s
        a.rpc.online = False  # offline: a due period passes without queueing its value
        t[0] = 1000060
        M.check(a)
        assert _events(a) == [] and m[M.REF] == 1000120
    finally:
        clock.now = real


def test_clock_aligned_period_falls_on_multiples_since_midnight():
    m = [None] * 12
    m[M.TYPE], m[M.VAL] = "PeriodicClockAligned", 900
    day = 86400 * 20000
    assert [M.due(m, day + s) for s in (0, 899, 900, 86399)] == [
        day + 900, day + 900, day + 1800, day + 86400]
    m[M.VAL] = 7 * 3600  # does not divide a day: 21:00 is the last, then midnight
    assert M.due(m, day + 22 * 3600) == day + 86400
    m[M.TYPE], m[M.VAL] = "Periodic", 60
    assert M.due(m, 123) == 183


def test_level_offline_and_version():
    a = _Agent()
    _mon(a, "Name", "Delta", 1, sev=7)
    a.store.put("mon/level", 6)
    a.setv("Name", "x")
    M.check(a)
    assert _events(a) == []  # severity 7 above level 6
    a.store.put("mon/level", 9)
    a.store.put("dm/MonitoringCtrlr/OfflineQueuingSeverity", "5")
    a.rpc.online = False
    a.setv("Name", "y")
    M.check(a)
    assert _events(a) == []  # offline, above OfflineQueuingSeverity: dropped
    a.rpc.online = True
    a.store.put("dm/MonitoringCtrlr/Enabled", "false")
    a.setv("Name", "w")
    M.check(a)
    assert _events(a) == []  # MonitoringCtrlr.Enabled false: no monitor reports
    a.store.put("dm/MonitoringCtrlr/Enabled", "true")
    a.rpc.version = "2.0.1"
    a.setv("Name", "z")
    M.check(a)
    (e,) = _events(a)
    assert "severity" not in e and e["actualValue"] == "z"


def test_event_ids_unique_across_restarts():
    a = _Agent()
    _mon(a, "Name", "Delta", 1)
    a.setv("Name", "1")
    M.check(a)
    first = _events(a)[0]["eventId"]
    # A restarted agent starts from the bound kept in the store (agent.py).
    assert Store(_DIR).get("evSeq") > first


def test_damaged_store_entries_are_dropped():
    a = _Agent()
    good = [1000, "TestCtrlr", "été", None, None, "Name", None, "Delta", 1, 3, "old", "C"]
    a.store.put("mon/c", [good, [1, 2], 7, "x", good[:7] + ["Periodic"] + good[8:],
                          good[:9] + ["9"] + good[10:], None])
    a.monitors = None
    assert M.custom(a) == [good[:10] + [None, "C"]]  # a Delta restarts from the value now
    a.store.put("mon/c", {"not": "a list"})
    a.monitors = None
    assert M.custom(a) == []


def test_log_file_name():
    from diag.ops.get_log import filename
    n = filename(_Agent())
    assert n.startswith("diagnostics-Borne_____1-") and n.endswith("Z.ndjson"), n
    stamp = n[len("diagnostics-Borne_____1-"):-len("Z.ndjson")]
    assert len(stamp) == 15 and stamp[8] == "T" and (stamp[:8] + stamp[9:]).isdigit(), n


run(globals())
