# SNTP client (RFC 4330; NTPv4 packet of RFC 5905): one mode-3 query over a
# non-blocking UDP socket, the reply checked (mode 4, our transmit time echoed as
# its origin, non-zero transmit time) and turned into offset and round-trip delay.
# It only reads the station clock (clock.now()); it never sets it.
# Times are integer microseconds: a board's float is 32-bit, far too coarse for
# epoch timestamps.
import asyncio
import os
import socket
import time
from micropython import const

_MODE_CLIENT = const(3)
_MODE_SERVER = const(4)
_VERSION = const(4)
KISS = ("DENY", "RSTR", "RATE")  # RFC 5905 7.4: stop asking (DENY, RSTR) or slow down (RATE)


class SntpError(Exception):
    """kind: timeout, refused, kod (kiss-of-death), bad (malformed reply)."""

    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


class Reply:
    leap = 0  # 0 none, 1/2 a leap second pending, 3 server clock not synchronised
    stratum = 0
    refid = b""
    root_delay_us = 0
    root_disp_us = 0
    offset_us = 0  # server clock - station clock
    delay_us = 0  # round trip, less the server's own processing time
    tries = 0


def _epoch_delta():
    # Seconds from 1900 (NTP era 0) to this port's time epoch: 1970 on the unix
    # port and most boards, 2000 on some.
    return 2208988800 if time.gmtime(0)[0] == 1970 else 3155673600


def now_us():
    """The station clock (clock.now()) in microseconds since 1900."""
    import clock
    # clock.now() is time.time() plus the offset the CSMS time gave; time_ns
    # adds the sub-second part time.time() lacks on boards.
    off = int(clock.now() - time.time())
    if hasattr(time, "time_ns"):
        local = time.time_ns() // 1000
    else:
        local = int(time.time()) * 1000000
    return local + (off + _epoch_delta()) * 1000000


def _ts_us(b, i):
    sec = int.from_bytes(b[i:i + 4], "big")
    frac = int.from_bytes(b[i + 4:i + 8], "big")
    return sec * 1000000 + ((frac * 1000000) >> 32)


def _to_ts(us):
    sec, rest = divmod(us, 1000000)
    return (sec & 0xFFFFFFFF).to_bytes(4, "big") + ((rest << 32) // 1000000).to_bytes(4, "big")


def _short_us(b, i):
    # NTP short format: 16.16 fixed point seconds.
    return (int.from_bytes(b[i:i + 4], "big") * 1000000) >> 16


def parse(msg, sent_ts, t1, t4):
    """-> Reply, or None when `msg` is not the answer to our query."""
    if len(msg) < 48:
        return None
    mode = msg[0] & 7
    if mode != _MODE_SERVER or msg[24:32] != sent_ts:
        return None  # not a server reply to this query (stray, spoofed or late)
    r = Reply()
    r.leap = msg[0] >> 6
    r.stratum = msg[1]
    r.refid = bytes(msg[12:16])
    if r.stratum == 0:
        code = r.refid.decode() if all(32 <= c < 127 for c in r.refid) else "0x%08x" % int.from_bytes(r.refid, "big")
        raise SntpError("kod", "kiss-of-death %s (stratum 0)" % code)
    r.root_delay_us = _short_us(msg, 4)
    r.root_disp_us = _short_us(msg, 8)
    t2 = _ts_us(msg, 32)
    t3 = _ts_us(msg, 40)
    if not int.from_bytes(msg[40:48], "big"):
        raise SntpError("bad", "reply without a transmit time")
    r.offset_us = ((t2 - t1) + (t3 - t4)) // 2
    r.delay_us = (t4 - t1) - (t3 - t2)
    return r


async def query(ip, port, timeout_ms=1000, tries=3):
    """Ask the server at (ip, port) once per try until one valid reply -> Reply.
    Raises SntpError."""
    from net import sock
    fam, addr = sock.sockaddr(ip, port, socket.SOCK_DGRAM)
    for n in range(tries):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.setblocking(False)
            s.connect(addr)
            pkt = bytearray(48)
            pkt[0] = (_VERSION << 3) | _MODE_CLIENT
            t1 = now_us()
            # Our transmit time goes out with random low bits: the reply must
            # echo it exactly, which a blind spoofer cannot guess (RFC 5905 9.2).
            sent = _to_ts(t1)[:6] + os.urandom(2)
            pkt[40:48] = sent
            c0 = time.ticks_us()
            s.send(pkt)
            deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
            while True:
                left = time.ticks_diff(deadline, time.ticks_ms())
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for_ms(sock.readable(s), left)
                except asyncio.TimeoutError:
                    break
                try:
                    msg = s.recv(128)
                except OSError as e:
                    if e.errno == 111:
                        raise SntpError("refused", "port closed (ICMP port unreachable)")
                    continue
                t4 = t1 + time.ticks_diff(time.ticks_us(), c0)
                r = parse(msg, sent, t1, t4)
                if r is not None:
                    r.tries = n + 1
                    return r
        finally:
            s.close()
    raise SntpError("timeout", "no reply after %d tries of %d ms" % (tries, timeout_ms))
