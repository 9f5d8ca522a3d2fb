"""What a station reports outside the diagnostics messages, as console events:
NotifyEvent (one "notify-event" per eventData item), SecurityEventNotification
("security-event") and LogStatusNotification ("log.status").  They are stored and
streamed like every other event, so `mcpserver watch` can run a playbook on them.

The payloads were validated against the OCPP schemas by the endpoint before they get
here; what is kept is bounded (a station may send 10,000 items in one NotifyEvent:
the first _MAX_ITEMS become events, the rest one "dropped" count; and a station that
sends without pause gets at most _PER_WINDOW events a _WINDOW_S, then one
"station-events.limited" event for the window), and nothing here raises on a field
that is missing.
"""
import time

_MAX_ITEMS = 50
_WINDOW_S, _PER_WINDOW = 60.0, 300


class Limiter:
    """Per station: how many of its events are still stored in this window."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._w = {}  # station -> [window start, events stored, told]

    def take(self, bus, sid):
        now = self._clock()
        w = self._w.get(sid)
        if w is None or now - w[0] >= _WINDOW_S:
            if len(self._w) > 10000:  # bounded: a new window for everyone
                self._w.clear()
            w = self._w[sid] = [now, 0, False]
        if w[1] < _PER_WINDOW:
            w[1] += 1
            return True
        if not w[2]:
            w[2] = True
            bus.publish("station-events.limited", sid, limit=_PER_WINDOW, windowS=_WINDOW_S)
        return False


def _evse(comp):
    e = comp.get("evse")
    if not isinstance(e, dict):
        return None
    return {k: e[k] for k in ("id", "connectorId") if isinstance(e.get(k), int)}


def notify_event(bus, limiter, sid, p):
    items = p.get("eventData") or []
    for item in items[:_MAX_ITEMS]:
        if not limiter.take(bus, sid):
            return
        comp, var = item.get("component") or {}, item.get("variable") or {}
        data = {"component": comp.get("name"), "variable": var.get("name"),
                "trigger": item.get("trigger"), "actualValue": item.get("actualValue"),
                "eventId": item.get("eventId"), "timestamp": item.get("timestamp"),
                "eventNotificationType": item.get("eventNotificationType")}
        for key, value in (("componentInstance", comp.get("instance")), ("evse", _evse(comp)),
                           ("variableInstance", var.get("instance")),
                           ("techCode", item.get("techCode")), ("techInfo", item.get("techInfo")),
                           ("severity", item.get("severity")), ("cleared", item.get("cleared"))):
            if value is not None:
                data[key] = value
        bus.publish("notify-event", sid, **data)
    if len(items) > _MAX_ITEMS and limiter.take(bus, sid):
        bus.publish("notify-event.dropped", sid, items=len(items) - _MAX_ITEMS,
                    seqNo=p.get("seqNo"))


def security_event(bus, limiter, sid, p):
    if not limiter.take(bus, sid):
        return
    data = {"type": p.get("type"), "timestamp": p.get("timestamp")}
    if p.get("techInfo") is not None:
        data["techInfo"] = p["techInfo"]
    bus.publish("security-event", sid, **data)


def log_status(bus, limiter, uploads, sid, p):
    data = {"requestId": p.get("requestId"), "status": p.get("status")}
    if isinstance(p.get("statusInfo"), dict):
        data["statusInfo"] = p["statusInfo"]
    uploads.status(sid, data["requestId"], data["status"], data.get("statusInfo"))
    if limiter.take(bus, sid):
        bus.publish("log.status", sid, **data)
