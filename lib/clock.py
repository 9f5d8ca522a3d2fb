# Station wall clock. A controller has no battery-backed RTC worth trusting, so the
# time the CSMS gives (BootNotification / Heartbeat `currentTime`) sets an offset
# over the local clock; the offset is what a clock-drift test will look at.
import time

_offset = 0  # seconds to add to time.time()
synced = False


def now():
    return time.time() + _offset


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


def set_iso(s):
    """Adopt the CSMS time; returns the correction applied, in seconds."""
    global _offset, synced
    try:
        t = parse(s)
    except (ValueError, IndexError):
        return None
    delta = t - now()
    _offset += delta
    synced = True
    return delta
