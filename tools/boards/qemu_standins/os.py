# Stand-in for the qemu port only: its `os` has no urandom (no entropy source). The
# WebSocket mask and DNS ids only need unpredictability on a real network; here a
# xorshift seeded from the tick counter is enough.
from uos import *  # noqa: F401,F403
import utime

_s = [utime.ticks_us() | 1]


def urandom(n):
    out = bytearray(n)
    x = _s[0]
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    _s[0] = x
    return bytes(out)
