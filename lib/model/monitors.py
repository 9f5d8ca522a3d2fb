# Variable monitors (OCPP 2.1 functional block N): what a standard CSMS installs with
# SetVariableMonitoring to be told, by NotifyEvent, when a device-model variable
# changes (Delta) or crosses a limit (UpperThreshold / LowerThreshold), or to be sent
# its value every `value` seconds (Periodic, PeriodicClockAligned).
#
# Imported only while monitors are at work (a request about them, a change to report,
# the sweep): a station nobody monitors pays no RAM for this module.
#
# A monitor is a flat list (JSON in the store as it is in RAM):
#   [id, component, comp. instance, evse, connector, variable, var. instance,
#    type, value, severity, ref, kind]
# ref: Delta -> the value last reported (None: take the current one, no event);
#      thresholds -> 1 while the limit is exceeded (kept across reboot, N07.FR.14);
#      periodic -> when it reports next, s since the epoch (None: not scheduled yet).
# kind: "C" CustomMonitor (set by the CSMS, persistent), "P" PreconfiguredMonitor
# (built in by an extension, e.g. one per diagnostic test; see diag/events.py).
import asyncio
from micropython import const

import clock
import log
from model.devmodel import monitorable  # noqa: F401 (used by the ops through this module)

ID = const(0)
CN = const(1)
CI = const(2)
EV = const(3)
CO = const(4)
VN = const(5)
VI = const(6)
TYPE = const(7)
VAL = const(8)
SEV = const(9)
REF = const(10)
KIND = const(11)

MAX_CUSTOM = const(16)  # flash and RAM bound; more are Rejected "TooManyMonitors"
FIRST_CUSTOM = const(1000)  # ids below are the preconfigured monitors'
_SWEEP_S = const(5)  # live values (status, counters) are compared this often
_NOTIFY = ("HardWiredNotification", "HardWiredMonitor", "PreconfiguredMonitor", "CustomMonitor")
PERIODIC = ("Periodic", "PeriodicClockAligned")
MIN_PERIOD = const(5)  # s: below it the events would be most of the traffic (and flash: evSeq)
MAX_PERIOD = const(86400)


def custom(agent):
    """The CSMS's monitors, loaded from the store on first use."""
    if agent.monitors is None:
        ms = []
        raw = agent.store.get("mon/c")
        for m in raw if type(raw) is list else ():
            if not _sound(m):
                log.warn("monitor %r unreadable, dropped", m)
                continue
            if m[TYPE] == "Delta" or m[TYPE] in PERIODIC:
                # A change reported before a reboot is not reported again; a period
                # starts again from the start-up.
                m[REF] = None
            ms.append(m)
        agent.monitors = ms
    return agent.monitors


def _sound(m):
    # What this module wrote: anything else in the store is damage, never trusted
    # (it would end up in NotifyEvent and NotifyMonitoringReport).
    return (type(m) is list and len(m) == 12 and type(m[ID]) is int and type(m[CN]) is str
            and type(m[VN]) is str and m[TYPE] in ("Delta", "UpperThreshold", "LowerThreshold") + PERIODIC
            and type(m[VAL]) in (int, float) and type(m[SEV]) is int and m[KIND] == "C"
            and (m[TYPE] not in PERIODIC or MIN_PERIOD <= m[VAL] <= MAX_PERIOD))


def save(agent, next_id=None, more=None):
    """The CSMS's monitors, and `more` of the monitoring state, in one flash write.
    update(): always written (put() would compare the list with itself)."""
    d = more or {}
    d["mon/c"] = agent.monitors
    if next_id:
        d["mon/next"] = next_id  # ids are never reused, across reboots too
    agent.store.update(d)


def base(agent):
    return agent.store.get("mon/base") or "All"


def off(agent):
    """Ids of preconfigured monitors the CSMS cleared or replaced."""
    ids = agent.store.get("mon/off")
    return ids if type(ids) is list else []


def preconfigured(agent, only=None):
    """Preconfigured monitors in force (only those on component instance `only`)."""
    name = agent.premon
    if not name or base(agent) == "HardWiredOnly":
        return []
    import lazy
    gone = off(agent)
    return [m for m in lazy.load(name).preconfigured(agent, only) if m[ID] not in gone]


def active(agent):
    return custom(agent) + preconfigured(agent)


def find(ms, mid):
    for m in ms:
        if m[ID] == mid:
            return m
    return None


def same_var(m, comp, v):
    return (m[CN] == comp.name and m[CI] == comp.instance and m[EV] == comp.evse
            and m[CO] == comp.connector and m[VN] == v[0] and (m[VI] or "") == v[1])


def target(agent, m):
    """(component, variable line) a monitor watches, or (None, None) when gone."""
    c = agent.dm.component(m[CN], m[CI], m[EV], m[CO])
    v = c and c.find(m[VN], m[VI])
    return (c, v) if v else (None, None)


def numeric(v, s):
    if v[2] not in "id":
        return None
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def event(agent, m, comp, v, trigger, value, cleared=False, code=None, info=None):
    """One EventData (OCPP 2.1 NotifyEventRequest), for monitor m."""
    agent.event_seq = seq = agent.event_seq + 1
    if seq >= (agent.store.get("evSeq") or 0):
        # Ids unique across reboots at one flash write per 256 events.
        agent.store.put("evSeq", seq + 256)
    e = {"eventId": seq, "timestamp": clock.iso(), "trigger": trigger,
         "actualValue": "" if v[3] == "W" else value[:2500],
         "eventNotificationType": _NOTIFY[3] if m[KIND] == "C" else _NOTIFY[2],
         "variableMonitoringId": m[ID], "component": comp.to_ocpp(),
         "variable": {"name": v[0]}}
    if v[1]:
        e["variable"]["instance"] = v[1]
    if agent.rpc.version != "2.0.1":  # EventData.severity is new in 2.1
        e["severity"] = m[SEV]
    if cleared:
        e["cleared"] = True
    if code:
        e["techCode"] = code[:50]
    if info:
        e["techInfo"] = info[:500]
    return e


def wanted(agent, m):
    """N05.FR.03 / N07.FR.04: reported at all, and kept while offline."""
    dm = agent.dm
    if dm.get("MonitoringCtrlr", "Enabled") == "false":
        return False
    level = agent.store.get("mon/level", 9)
    if m[SEV] > (level if type(level) is int else 9):
        return False
    online = agent.rpc.online and agent.station.boot_status == "Accepted"
    # A periodic value is not queued while offline: stale once the link is back (the
    # next period brings the value then), and it would push the events that matter
    # out of the bounded outbox.
    return online or (m[SEV] <= dm.get_int("MonitoringCtrlr", "OfflineQueuingSeverity", None, 9)
                      and m[TYPE] not in PERIODIC)


def notify(agent, events):
    """Everything one change triggered, in one NotifyEventRequest (N07.FR.06/.07)."""
    if events:
        agent.station.outbox.put("NotifyEvent", {"generatedAt": clock.iso(), "seqNo": 0,
                                                 "eventData": events})


def evaluate(agent, m, comp, v):
    """The EventData monitor m gives for the variable's value now, or None."""
    value = agent.dm.value(comp, v)
    t = m[TYPE]
    if t in PERIODIC:
        return _periodic(agent, m, comp, v, value)
    if t == "Delta":
        ref = m[REF]
        m[REF] = value
        if ref is None or ref == value:
            return None
        x, r = numeric(v, value), numeric(v, ref)
        if x is not None and r is not None and abs(x - r) <= m[VAL]:
            m[REF] = ref  # N07.FR.18: measured from the value last reported
            return None
        return event(agent, m, comp, v, "Delta", value)
    x = numeric(v, value)
    if x is None:
        return None
    over = x > m[VAL] if t == "UpperThreshold" else x < m[VAL]
    if bool(over) == bool(m[REF]):
        return None
    m[REF] = 1 if over else 0
    agent.monitors_dirty = True  # kept across reboot: its clearing is still owed
    return event(agent, m, comp, v, "Alerting", value, not over)


def due(m, now):
    """When periodic monitor m reports next after `now` (s): `value` s on, or for
    PeriodicClockAligned at the next multiple of `value` s since midnight UTC (900: at
    :00, :15, :30, :45), and at midnight itself."""
    iv = int(m[VAL])
    if m[TYPE] == "Periodic":
        return now + iv
    day = now - now % 86400
    return min(day + (now % 86400 // iv + 1) * iv, day + 86400)


def _periodic(agent, m, comp, v, value):
    now = clock.now()
    ref = m[REF]
    if ref is None or type(ref) is not int or ref - now > int(m[VAL]):
        # Just set, just started, or the clock was set back: scheduled from now.
        m[REF] = due(m, now)
        return None
    if now < ref:
        return None
    # Due: the next one counts from this one (Periodic) unless that is already past
    # (the station was busy or asleep): then from now, never a burst of missed ones.
    nxt = ref + int(m[VAL]) if m[TYPE] == "Periodic" else due(m, now)
    m[REF] = nxt if nxt > now else due(m, now)
    return event(agent, m, comp, v, "Periodic", value)


def nap_ms(agent):
    """How long the sweep may sleep: until the next periodic report, at most _SWEEP_S."""
    ms = _SWEEP_S * 1000
    now = clock.now_ms()
    for m in custom(agent):
        if m[TYPE] in PERIODIC and type(m[REF]) is int:
            ms = min(ms, m[REF] * 1000 - now)
    return max(ms, 20)


def check(agent, keys=None, events=None):
    """Compare the custom monitors (of the components whose key() is in `keys`, or
    all) with the values now, and notify what changed, with `events` (EventData
    already made for the same change) in the same message."""
    out = events or []
    for m in custom(agent):
        comp, v = target(agent, m)
        if comp is None or (keys is not None and comp.key() not in keys):
            continue
        try:
            e = evaluate(agent, m, comp, v)
            if e and wanted(agent, m):
                out.append(e)
        except Exception as ex:  # one odd value must not silence the other monitors
            log.warn("monitor %d: %s: %s", m[ID], type(ex).__name__, ex)
    if agent.monitors_dirty:
        agent.monitors_dirty = False
        save(agent)
    notify(agent, out)


def release(agent):
    """Forget this module when no sweep needs it (it keeps no state of its own): a
    station whose CSMS sets no monitors holds it only while an event goes out."""
    if agent.monitor_task is None:
        import lazy
        lazy.drop("model.monitors")


def start_sweep(agent):
    if agent.monitor_task is None and custom(agent):
        agent.monitor_task = agent.spawn(sweep(agent))


async def sweep(agent):
    """Values that change without telling anyone (connector status, counters, the
    clock) are compared every few seconds while the CSMS has monitors."""
    try:
        check(agent)  # a start-up reference for every Delta monitor, periods start
        while custom(agent):
            await asyncio.sleep_ms(nap_ms(agent))
            check(agent)
    finally:
        agent.monitor_task = None
