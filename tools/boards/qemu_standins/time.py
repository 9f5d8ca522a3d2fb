# Stand-in for the qemu port only (never on a board): its `time` has no RTC, so no
# time(), gmtime() or mktime(). Wall time starts at 2026-01-01 at power-on, as a board
# without a battery-backed clock would start at some fixed date until the CSMS sets it.
from utime import *  # noqa: F401,F403  (u-prefix: the built-in, not this file)
from utime import ticks_ms as _ticks_ms

_EPOCH0 = 1767225600  # 2026-01-01T00:00:00Z


def time():
    return _EPOCH0 + _ticks_ms() // 1000


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def gmtime(t=None):
    # Epoch 1970 (the unix and qemu ports' epoch); (y, m, d, H, M, S, wday, yday).
    t = int(time() if t is None else t)
    days, s = divmod(t, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    yday = days - _days_from_civil(y, 1, 1) + 1
    return (y, m, d, s // 3600, s // 60 % 60, s % 60, (days + 3) % 7, yday)


localtime = gmtime


def mktime(tup):
    return _days_from_civil(tup[0], tup[1], tup[2]) * 86400 + tup[3] * 3600 + tup[4] * 60 + tup[5]
