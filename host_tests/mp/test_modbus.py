# Modbus frames, RTU checks and the board's RS485 driver-enable timing (lib/modbus/),
# run inside MicroPython. The board's UART and DE pin are stand-ins (no hardware here).
import sys

sys.path.append(__file__.rsplit("/", 3)[0] + "/.deps")  # umodbus, as main.py does

import asyncio
import time

from unit import run, raises

from modbus import frame
from modbus.rtu import Rtu, silence_us

# Captured from pymodbus: read 2 input registers at 0 from unit 1, and its answer (230.1).
_REQ = b"\x01\x04\x00\x00\x00\x02\x71\xcb"
_ANS = b"\x01\x04\x04\x43\x66\x19\x9a\x85\xe4"


def test_request_frame_and_crc():
    f = frame.adu(1, frame.read_request(frame.INPUT, 0, 2))
    assert bytes(f) == _REQ, f
    assert frame.crc_ok(_ANS) and not frame.crc_ok(_ANS[:-1] + b"\x00")
    assert bytes(frame.read_request(frame.HOLDING, 0x10, 1)) == b"\x03\x00\x10\x00\x01"


def test_answer_checks():
    assert frame.check(_ANS[1:-2], frame.INPUT, 2) == 0
    assert frame.check(b"\x84\x02", frame.INPUT, 2) == 2
    assert frame.exc_name(2) == "illegal data address" and frame.exc_name(99) == "unknown"
    raises(frame.BadFrame, frame.check, b"\x04\x02\x00\x01", frame.INPUT, 2)  # short byte count
    raises(frame.BadFrame, frame.check, b"\x03\x04\x00\x01\x00\x02", frame.INPUT, 2)  # other function


def test_silence_from_baud_rate():
    # 3.5 characters of 11 bits; fixed 1.75 ms above 19200 baud.
    assert silence_us(9600) == 4010 and silence_us(19200) == 2005
    assert silence_us(38400) == 1750 and silence_us(115200) == 1750


def test_decoding_and_word_order():
    from diag.tests.meter import decode
    assert decode(b"\x43\x66\x19\x9a", "float32", "big", 2)[0] == decode(
        b"\x19\x9a\x43\x66", "float32", "little", 2)[0]
    assert abs(decode(b"\x43\x66\x19\x9a", "float32", "big", 2)[0] - 230.1) < 1e-4
    assert decode(b"\xff\xff\xff\xfe", "int32", "big", 2) == (-2,)
    assert decode(b"\x00\x01\x00\x00", "uint32", "little", 2) == (1,)
    assert decode(b"\x00\x01\xff\xff", "int16", "big", 2) == (1, -1)


def test_values_judged_and_nan_refused():
    import struct
    from diag.result import Ctx
    from diag.tests import meter
    p = {"minValue": 180, "maxValue": 260, "unit": "V", "decoding": "float32", "wordOrder": "big",
         "scale": 1}
    ctx = Ctx(None, p)
    nan = struct.pack(">f", float("nan"))
    assert meter._judge(ctx, b"\x04\x08\x43\x66\x19\x9a" + nan, 4, "unit 1", 5) == "Failed"
    assert ctx.ev == ["value nan is not a number"] and ctx.reason[0] == "OutOfRange"
    assert [m["value"] for m in ctx.meas] == [230.1]  # JSON has no NaN: not measured
    ctx = Ctx(None, dict(p, decoding="int16", scale=0.1, unit="A", minValue=0, maxValue=32))
    assert meter._judge(ctx, b"\x04\x04\x00\x7b\xff\xff", 2, "unit 1", 5) == "Failed"
    assert ctx.ev == ["value -0.1 A outside 0..32 A"], ctx.ev
    assert [(m["value"], m["withinLimit"]) for m in ctx.meas] == [(12.3, True), (-0.1, False)]


class _Reader:
    def __init__(self, data):
        self.data = bytearray(data)

    async def readexactly(self, n):
        while len(self.data) < n:
            await asyncio.sleep_ms(1000)  # a silent line: the caller's timeout ends it
        b = bytes(self.data[:n])
        self.data = self.data[n:]
        return b

    async def read(self, n):
        return await self.readexactly(min(n, len(self.data)) or 1)


class _Port:
    baud = 9600
    gap_ms = 0

    def __init__(self, answers):
        self.answers = answers
        self.reader = _Reader(b"")
        self.sent = []

    def discard(self):
        return 0

    async def send(self, f):
        self.sent.append(bytes(f))
        self.reader.data += self.answers.pop(0) if self.answers else b""


async def test_rtu_rejects_bad_crc_wrong_unit_and_silence():
    bad = _ANS[:-1] + bytes([_ANS[-1] ^ 0xFF])
    other = bytes(frame.adu(2, _ANS[1:-2]))
    port = _Port([bad, other, b"", _ANS[:5], _ANS])
    c = Rtu(port)
    pdu = frame.read_request(frame.INPUT, 0, 2)
    e = await _raises(c.request(1, pdu, frame.response_len(2), 100), frame.BadFrame)
    assert "CRC" in e.args[0] and c.crc_errors == 1 and c.bad_frames == 0
    e = await _raises(c.request(1, pdu, frame.response_len(2), 100), frame.BadFrame)
    assert "unit 2" in e.args[0] and c.bad_frames == 1
    await _raises(c.request(1, pdu, frame.response_len(2), 50), asyncio.TimeoutError)
    e = await _raises(c.request(1, pdu, frame.response_len(2), 50), frame.BadFrame)
    assert "incomplete" in e.args[0] and c.bad_frames == 2
    assert bytes(await c.request(1, pdu, frame.response_len(2), 100)) == _ANS[1:-2]
    assert port.sent == [_REQ] * 5 and c.tx == 40 and c.rx == 9 + 9 + 5 + 9


async def _raises(coro, exc):
    try:
        await coro
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


async def test_tcp_skips_a_late_answer_and_checks_the_unit():
    import struct
    from modbus.tcp import Tcp
    pdu_ok = b"\x04\x04\x43\x66\x19\x9a"

    async def serve(r, w):
        req = await r.readexactly(12)
        tid = struct.unpack(">H", req)[0]
        # A late answer to an earlier request first, then the answer, then one from unit 9.
        w.write(struct.pack(">HHHB", tid - 1, 0, 7, 1) + b"\x04\x04\x00\x00\x00\x00")
        w.write(struct.pack(">HHHB", tid, 0, 7, 1) + pdu_ok)
        await w.drain()
        req = await r.readexactly(12)
        w.write(struct.pack(">HHHB", tid + 1, 0, 7, 9) + pdu_ok)
        await w.drain()
        await r.read(1)
        await w.wait_closed()

    import random
    port = 20000 + random.getrandbits(13)  # tests of other worktrees run alongside
    srv = await asyncio.start_server(serve, "127.0.0.1", port)
    c = Tcp("127.0.0.1", port)
    pdu = frame.read_request(frame.INPUT, 0, 2)
    assert bytes(await c.request(1, pdu, 6, 1000)) == pdu_ok
    assert c.bad_frames == 1 and c.tx == 12 and c.rx == 26
    e = await _raises(c.request(1, pdu, 6, 1000), frame.BadFrame)
    assert "unit 9" in e.args[0] and c.bad_frames == 2
    await c.close()
    srv.close()
    await srv.wait_closed()
    # Nobody listening: the error says so.
    c = Tcp("127.0.0.1", port)
    e = await _raises(c.request(1, pdu, 6, 1000), OSError)
    assert "cannot connect to 127.0.0.1:%d" % port in str(e), e
    await c.close()


class _Pin:
    OUT = 1
    log = []

    def __init__(self, n, mode=None, value=0):
        _Pin.log.append(("de", value, time.ticks_us()))

    def __call__(self, v):
        _Pin.log.append(("de", v, time.ticks_us()))


class _Uart:
    """Shifts out one character per 11 bits at the baud rate after write()."""

    def __init__(self, uid, baudrate=9600, **kw):
        self.char = 11 * 1000000 // baudrate
        self.done_at = time.ticks_us()

    def write(self, b):
        _Pin.log.append(("write", len(b), time.ticks_us()))
        self.done_at = time.ticks_add(time.ticks_us(), len(b) * self.char)

    def txdone(self):
        return time.ticks_diff(time.ticks_us(), self.done_at) >= 0

    def read(self):
        return None

    def ioctl(self, *a):
        return 0

    def deinit(self):
        pass


_txdone = _Uart.txdone


async def test_board_port_holds_de_exactly_while_sending():
    class _Machine:  # the unix port's machine module has no UART/Pin: stand in for it
        UART = _Uart
        Pin = _Pin

    saved = sys.modules.get("machine")
    sys.modules["machine"] = _Machine
    from modbus.serialport import UartPort
    p = UartPort(1, 17, 16, 4, 9600, "E", 1)
    gaps = []

    async def ticker():  # the event loop must stay responsive while a frame goes out
        last = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(0)
            now = time.ticks_ms()
            gaps.append(time.ticks_diff(now, last))
            last = now

    t = asyncio.create_task(ticker())
    await asyncio.sleep_ms(0)
    del _Pin.log[:]
    await p.send(_REQ)
    t.cancel()
    (_, v1, t_on), (_, n, t_write), (_, v0, t_off) = _Pin.log
    assert (v1, n, v0) == (1, 8, 0)
    assert t_on <= t_write
    wire = 8 * 11 * 1000000 // 9600  # 9166 us at 9600 8E1
    # Low only once the last stop bit is out, and before the meter may answer (3.5
    # characters later, 4 ms at 9600 baud).
    # DE is held at least the frame's wire time (less 50 us of tick rounding); the upper
    # bound is loose on purpose:
    # a loaded CI machine may schedule this process late (the bench measures timing).
    assert wire - 50 <= time.ticks_diff(t_off, t_write) <= wire + 40000, time.ticks_diff(t_off, t_write)
    # The busy wait is the frame's last 2 ms, not the whole frame (~9 ms at 9600 baud
    # for 8 bytes); loose for a loaded machine.
    assert max(gaps) <= 30, gaps
    # Without txdone(): the computed end plus one character.
    del _Uart.txdone
    try:
        del _Pin.log[:]
        await p.send(_REQ)
        (_, _, t_on), (_, _, t_write), (_, _, t_off) = _Pin.log
        # Never before the computed end plus one character; the upper bound is loose for
        # the same reason as above (seen: a loaded machine scheduled it 5 ms late).
        assert wire + 1000 <= time.ticks_diff(t_off, t_write) <= wire + 40000, time.ticks_diff(t_off, t_write)
    finally:
        _Uart.txdone = _txdone
    await p.close()
    sys.modules.pop("machine")
    if saved:
        sys.modules["machine"] = saved


run(globals())
