# Station wall clock. A controller has no battery-backed RTC worth trusting, so the
# time the CSMS gives (BootNotification / Heartbeat `currentTime`) sets an offset
# over the local clock; the offset and the last adoption are what the clock test
# (diag/tests/clock.py) looks at. Kept in ms: a drift of 50 ppm is 15 ms per
# 5-minute heartbeat, invisible at whole seconds.
import time

_ns = getattr(time, "time_ns", None)  # sub-second local time where the port has it
_offset = 0  # ms to add to the local clock
synced = False
# The last adoption: (local clock, correction applied, time since the adoption
# before it or None), all in ms. Three ints: enough to measure drift, no history.
adopted = None


def local_ms():
    """The local clock, uncorrected, in ms since the epoch."""
    return _ns() // 1000000 if _ns else int(time.time()) * 1000


def now_ms():
    return local_ms() + _offset


def now():
    return now_ms() // 1000


def iso(t=None):
    """UTC as OCPP dateTime, e.g. 2026-11-25T03:04:05Z."""
    g = time.gmtime(int(now() if t is None else t))
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % g[:6]


def parse(s):
    """OCPP dateTime (UTC 'Z' or +hh:mm offset, fraction ignored) -> epoch seconds."""
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    t = time.mktime((y, mo, d, h, mi, se, 0, 0))
    tail = s[19:]
    i = 0
    while i < len(tail) and tail[i] not in "Z+-":
        i += 1  # skip fractional seconds
    tz = tail[i:]
    if tz and tz[0] in "+-":
        off = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
        t -= off if tz[0] == "+" else -off
    return t


def parse_ms(s):
    """parse() in ms, keeping up to 3 digits of the fraction."""
    f = ""
    if s[19:20] == ".":
        for c in s[20:23]:
            if c not in "0123456789":
                break
            f += c
    return parse(s) * 1000 + (int((f + "00")[:3]) if f else 0)


def set_iso(s):
    """Adopt the CSMS time; returns the correction applied, in seconds."""
    global _offset, synced, adopted
    try:
        t = parse_ms(s)
    except (ValueError, IndexError):
        return None
    local = local_ms()
    delta = t - (local + _offset)
    _offset += delta
    adopted = (local, delta, local - adopted[0] if adopted else None)
    synced = True
    return delta / 1000
