# Modbus RTU requests over a serial port (serialport.py): the 3.5-character silence
# before each frame, the answer read by its expected length under a timeout, then
# CRC, unit id and function checked. A frame that fails is counted and rejected; the
# caller decides whether to retry. Counters cover the whole exchange (bytes both ways,
# CRC errors, malformed frames) for the test's measurements.
import asyncio
import time

from modbus import frame


def silence_us(baud):
    # Modbus over serial line 1.02, 2.5.1.1: 3.5 characters of 11 bits; above 19200
    # baud a fixed 1.75 ms.
    return 38500000 // baud if baud <= 19200 else 1750


class Rtu:
    def __init__(self, port):
        self.port = port
        self.t35 = silence_us(port.baud)
        self.tx = 0
        self.rx = 0
        self.crc_errors = 0
        self.bad_frames = 0
        self.quiet_at = time.ticks_us()  # when the line will have been idle for 3.5 chars
        self._got = 0  # bytes of the current answer

    async def _silence(self):
        wait = time.ticks_diff(self.quiet_at, time.ticks_us())
        if wait > 0:
            await asyncio.sleep_ms((wait + 999) // 1000)

    def _heard(self, n):
        self.rx += n
        self._got += n
        self.quiet_at = time.ticks_add(time.ticks_us(), self.t35)

    async def _read(self, n):
        b = await self.port.reader.readexactly(n)
        self._heard(n)
        return b

    async def _answer(self, unit, fc, want):
        head = await self._read(2)
        if head[1] == fc | 0x80:
            n = 3  # exception code + CRC
        elif head[1] == fc:
            n = want + 1  # rest of the PDU + CRC
        else:
            raise frame.BadFrame("function %d" % head[1])
        f = head + await self._read(n)
        if not frame.crc_ok(f):
            self.crc_errors += 1
            raise frame.BadFrame("bad CRC")
        if f[0] != unit:
            raise frame.BadFrame("unit %d" % f[0])
        return f[1:-2]

    async def _resync(self):
        # After a bad or partial frame: read until the line has been quiet long enough
        # that the next answer cannot start with this one's tail.
        gap = max(self.t35 // 1000 + 1, self.port.gap_ms)
        r = self.port.reader
        for _ in range(64):  # bounded: a babbling device must not hold the test
            try:
                b = await asyncio.wait_for_ms(r.read(64), gap)
            except asyncio.TimeoutError:
                return
            if not b:
                return
            self._heard(len(b))

    async def request(self, unit, pdu, want, timeout_ms):
        """Send `pdu` to `unit`; -> the answer's PDU (a read answer of `want` bytes or
        an exception answer). Raises asyncio.TimeoutError (nothing heard),
        frame.BadFrame (counted), OSError (the port)."""
        await self._silence()
        n = self.port.discard()
        if n:
            self._heard(n)
            self.bad_frames += 1  # stray bytes: somebody else talking, or a late answer
            await self._silence()
        f = frame.adu(unit, pdu)
        await self.port.send(f)
        self.tx += len(f)
        self.quiet_at = time.ticks_add(time.ticks_us(), self.t35)
        self._got = 0
        try:
            return await asyncio.wait_for_ms(self._answer(unit, pdu[0], want), timeout_ms)
        except asyncio.TimeoutError:
            if not self._got:
                raise
            self.bad_frames += 1
            await self._resync()
            raise frame.BadFrame("incomplete frame (%d bytes)" % self._got)
        except frame.BadFrame as e:
            if "CRC" not in e.args[0]:
                self.bad_frames += 1
            await self._resync()
            raise

    async def close(self):
        await self.port.close()
