# Modbus TCP requests (Modbus Messaging on TCP/IP 1.0b): the MBAP header (transaction
# id, protocol 0, length, unit id) before the PDU, over asyncio.open_connection. An
# answer whose transaction id is not the request's (a late answer to an earlier,
# timed-out request) is counted and skipped. The host should be an IP address: a name
# is resolved with socket.getaddrinfo, which blocks.
import asyncio
import struct

from modbus import frame


class Tcp:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = None
        self.tx = 0
        self.rx = 0
        self.crc_errors = 0  # TCP has no CRC: stays 0
        self.bad_frames = 0
        self.tid = 0

    async def open(self, timeout_ms):
        # Raises OSError (refused, unreachable) or asyncio.TimeoutError.
        self.r, _ = await asyncio.wait_for_ms(asyncio.open_connection(self.host, self.port), timeout_ms)

    async def _answer(self, unit):
        while True:
            h = await self.r.readexactly(7)
            self.rx += 7
            tid, proto, n, u = struct.unpack(">HHHB", h)
            if proto != 0 or not 2 <= n <= 254:
                self.bad_frames += 1
                # The stream is out of step: nothing after this can be trusted.
                raise OSError("bad MBAP header (protocol %d, length %d)" % (proto, n))
            pdu = await self.r.readexactly(n - 1)
            self.rx += n - 1
            if tid != self.tid:
                self.bad_frames += 1
                continue
            if u != unit:
                self.bad_frames += 1
                raise frame.BadFrame("unit %d" % u)
            return pdu

    async def request(self, unit, pdu, want, timeout_ms):
        """-> the answer's PDU. Raises asyncio.TimeoutError, frame.BadFrame, or OSError
        saying "cannot connect" or "connection lost"."""
        fresh = self.r is None
        sent = False
        try:
            if fresh:
                await self.open(timeout_ms)
            self.tid = (self.tid + 1) & 0xFFFF
            # MBAP header as umodbus.tcp builds it (its builder is a method of a blocking class)
            adu = struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, unit) + pdu
            # A refused non-blocking connect shows only at the first write.
            self.r.write(adu)
            await self.r.drain()
            self.tx += len(adu)
            sent = True
            return await asyncio.wait_for_ms(self._answer(unit), timeout_ms)
        except (OSError, EOFError) as e:
            raise OSError("%s %s:%s: %s" % ("cannot connect to" if fresh and not sent else
                                            "connection lost to", self.host, self.port, e))

    async def close(self):
        # Stream.close() does nothing on MicroPython; wait_closed() closes the socket.
        r, self.r = self.r, None
        if r is not None:
            await r.wait_closed()
