# The RS485 line as an asyncio stream, with one contract for both kinds of port:
# send(frame) returns once the frame's last bit has left the line driver, `reader`
# is an asyncio.StreamReader, nothing blocks the event loop for more than a character.
#   UartPort: a board's machine.UART, and the GPIO driving the transceiver's DE (and
#             /RE) pin: high before the first bit, low only after the last stop bit.
#   DevPort:  a serial device on the unix port (USB-RS485 adapters switch DE
#             themselves), set up with termios: raw, VMIN=0/VTIME=0 so that read()
#             returns at once with what is there; the stream polls the file.
import asyncio
import time

# Linux termios values the unix port's termios module does not export (B19200,
# B38400..., VMIN/VTIME indices, cflag bits): <asm-generic/termbits.h>.
_BAUDS = (1200, 9, 2400, 11, 4800, 12, 9600, 13, 19200, 14, 38400, 15, 57600, 4097, 115200, 4098)
_VTIME = 5
_VMIN = 6
_CSIZE = 0o60
_CS8 = 0o60
_CSTOPB = 0o100
_CREAD = 0o200
_PARENB = 0o400
_PARODD = 0o1000
_CLOCAL = 0o4000
_CRTSCTS = 0o20000000000


def bits_per_char(parity, stop):
    return 9 + (parity != "N") + stop  # start + 8 data + parity + stop


def tx_us(n, baud, parity, stop):
    return n * bits_per_char(parity, stop) * 1000000 // baud


def termios_baud(baud):
    for i in range(0, len(_BAUDS), 2):
        if _BAUDS[i] == baud:
            return _BAUDS[i + 1]
    return None


class DevPort:
    gap_ms = 20  # USB adapters deliver in bursts (FTDI latency timer 16 ms)

    def __init__(self, path, baud, parity, stop):
        import termios
        code = termios_baud(baud)
        if code is None:
            raise ValueError("baud %d not supported by termios" % baud)
        self.baud, self.parity, self.stop = baud, parity, stop
        f = open(path, "r+b", buffering=0)
        try:
            fd = f.fileno()
            termios.setraw(fd)  # raises OSError (ENOTTY) for anything but a tty
            a = termios.tcgetattr(fd)
            c = a[2] & ~(_CSIZE | _PARENB | _PARODD | _CSTOPB | _CRTSCTS)
            c |= _CS8 | _CREAD | _CLOCAL
            if parity != "N":
                c |= _PARENB | (_PARODD if parity == "O" else 0)
            if stop == 2:
                c |= _CSTOPB
            a[2] = c
            a[4] = a[5] = code
            a[6][_VMIN] = 0
            a[6][_VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, a)
        except Exception:
            f.close()
            raise
        self.f = f
        self.reader = asyncio.StreamReader(f)
        self.writer = asyncio.StreamWriter(f, {})

    def discard(self):
        """Drop whatever is waiting (VMIN=0: never blocks) -> bytes dropped."""
        n = 0
        while True:
            b = self.f.read(64)
            if not b:
                return n
            n += len(b)

    async def send(self, data):
        self.writer.write(data)
        await self.writer.drain()
        # write() returns once the kernel has the bytes; the line needs this long.
        await asyncio.sleep_ms((tx_us(len(data), self.baud, self.parity, self.stop) + 999) // 1000)

    async def close(self):
        # Stream.close() is a no-op on MicroPython: close the file itself.
        self.f.close()


class UartPort:
    gap_ms = 0

    def __init__(self, uart_id, tx, rx, de, baud, parity, stop):
        from machine import UART, Pin
        self.baud, self.parity, self.stop = baud, parity, stop
        kw = {"baudrate": baud, "bits": 8, "parity": (None, 0, 1)["NEO".index(parity)], "stop": stop,
              "timeout": 0, "timeout_char": 0}
        if tx is not None:
            kw["tx"] = tx
        if rx is not None:
            kw["rx"] = rx
        # DE low first: the transceiver listens until we talk.
        self.de = Pin(de, Pin.OUT, value=0) if de is not None else None
        self.u = UART(uart_id, **kw)
        self.reader = asyncio.StreamReader(self.u)

    def discard(self):
        b = self.u.read()
        return len(b) if b else 0

    async def send(self, data):
        u = self.u
        char = tx_us(1, self.baud, self.parity, self.stop)
        if self.de:
            self.de(1)  # a MAX485-class driver is enabled within a few hundred ns
        try:
            u.write(data)  # into the UART's FIFO / ring buffer: does not wait for the wire
            end = time.ticks_add(time.ticks_us(), len(data) * char)
            done = getattr(u, "txdone", None)
            # Yield through the frame, then watch the last 2 ms: dropping DE early cuts the
            # frame's tail; late, and the meter's answer (3.5 characters after our last
            # bit) collides with our own driver.
            while True:
                rem = time.ticks_diff(end, time.ticks_us())
                if rem > 2000:
                    await asyncio.sleep_ms(rem // 1000 - 1)
                elif done is None:
                    # No txdone(): trust the clock, plus a character for the UART's start-up.
                    rem = max(rem, 0) + char
                    if rem > 2000:
                        await asyncio.sleep_ms(rem // 1000 + 1)
                    else:
                        time.sleep_us(rem)
                    break
                elif done() or rem < -4 * char:  # (never hold the bus for a stuck UART)
                    break
        finally:
            if self.de:
                self.de(0)

    async def close(self):
        if self.de:
            self.de(0)
        self.u.deinit()


def open_port(cfg, baud, parity, stop):
    """cfg: the config's meter section. A device path (unix port) wins over a UART id."""
    if cfg.get("device"):
        return DevPort(cfg["device"], baud, parity, stop)
    return UartPort(cfg["uart"], cfg.get("tx"), cfg.get("rx"), cfg.get("de"), baud, parity, stop)
