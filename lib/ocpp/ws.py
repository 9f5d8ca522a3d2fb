# RFC 6455 WebSocket client over asyncio streams.
# MicroPython's built-in `websocket` module sends unmasked client frames, which a
# conforming server must reject (RFC 6455 5.1), so the framing lives here.
import asyncio
from micropython import const

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONT = const(0)
_OP_TEXT = const(1)
_OP_BIN = const(2)
_OP_CLOSE = const(8)
_OP_PING = const(9)
_OP_PONG = const(10)
_MASK_CHUNK = const(128)
_SEND_CHUNK = const(1024)
_MAX_HEADER_BYTES = const(4096)


class WsError(Exception):
    # code: the close code we sent (or would send) to the peer, e.g. 1002, 1009.
    def __init__(self, msg, code=1002):
        super().__init__(msg)
        self.code = code


class WsClosed(Exception):
    pass


def parse_url(url):
    """ws[s]://host[:port][/path] -> (tls, host, port, path)."""
    if url.startswith("wss://"):
        tls, rest, port = True, url[6:], 443
    elif url.startswith("ws://"):
        tls, rest, port = False, url[5:], 80
    else:
        raise ValueError("URL must start with ws:// or wss://")
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if hostport.startswith("["):  # IPv6 literal
        j = hostport.find("]")
        host, tail = hostport[1:j], hostport[j + 1:]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    if not host:
        raise ValueError("URL has no host")
    return tls, host, port, path


def accept_key(key):
    import hashlib
    import binascii
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest())[:-1].decode()


def mask_into(out, pos, data, key):
    """XOR `data` with the 4-byte `key` into `out[pos:]`.
    Done in chunks through big integers: a per-byte Python loop costs ~20 us a byte
    on an ESP32, the integer XOR runs in C."""
    n = len(data)
    mv = memoryview(data)
    i = 0
    while i < n:
        m = min(_MASK_CHUNK, n - i)
        k = (key * ((m >> 2) + 1))[:m]
        x = int.from_bytes(bytes(mv[i:i + m]), "big") ^ int.from_bytes(k, "big")
        out[pos + i:pos + i + m] = x.to_bytes(m, "big")
        i += m


def header(op, n, key, fin=True):
    """Frame header with the masking key (RFC 6455 5.2), for a payload of n bytes;
    fin=False for every fragment of a message but its last (5.4)."""
    op |= 0x80 if fin else 0
    if n < 126:
        hdr = bytes((op, 0x80 | n))
    elif n < 65536:
        hdr = bytes((op, 0x80 | 126, n >> 8, n & 255))
    else:
        hdr = bytes((op, 0x80 | 127)) + n.to_bytes(8, "big")
    return hdr + key


def frame(op, data, key):
    """One complete, masked client frame (small frames, tests)."""
    h = header(op, len(data), key)
    out = bytearray(len(h) + len(data))
    out[0:len(h)] = h
    mask_into(out, len(h), data, key)
    return out


class FrameReader:
    """Reads server frame headers. Kept apart from the socket so the pure parsing
    can be unit-tested inside MicroPython with an in-memory stream."""

    def __init__(self, reader, max_size):
        self.r = reader
        self.max_size = max_size

    async def header(self):
        """-> (fin, opcode, length). Refuses a frame before its payload is read."""
        r = self.r
        b0, b1 = await r.readexactly(2)
        if b0 & 0x70:
            raise WsError("RSV bits set without an extension")
        if b1 & 0x80:
            raise WsError("server frame is masked")  # RFC 6455 5.1
        op = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await r.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await r.readexactly(8), "big")
        fin = b0 & 0x80
        if op >= 8:
            if not fin or n > 125:
                raise WsError("bad control frame")
            if op not in (_OP_CLOSE, _OP_PING, _OP_PONG):
                raise WsError("reserved opcode %d" % op)
        elif op not in (_OP_CONT, _OP_TEXT, _OP_BIN):
            raise WsError("reserved opcode %d" % op)
        if n > self.max_size:
            raise WsError("frame of %d bytes over limit" % n, 1009)
        return fin, op, n

    async def into(self, mv):
        """Fill memoryview `mv` from the stream (no intermediate copies: asyncio's
        readexactly grows a bytes object chunk by chunk)."""
        r = self.r
        off = 0
        end = len(mv)
        while off < end:
            k = await r.readinto(mv[off:end])
            if k is None:  # TLS record not complete yet
                continue
            if not k:
                raise EOFError()
            off += k


class WebSocket:
    """`buf`: the receive buffer, maxMessageSize bytes, reserved when the heap is
    still whole (a fresh agent's largest free block is far smaller than its free
    heap). A received message lives in it until the next recv()."""

    def __init__(self, reader, writer, protocol, max_size, buf=None):
        self._fr = FrameReader(reader, max_size)
        self._w = writer
        self.protocol = protocol
        self.max_size = max_size
        self._buf = buf if buf is not None else bytearray(max_size)
        self._out = bytearray(_SEND_CHUNK + 14)  # one frame chunk, header included
        self.binary = False  # the last message received was binary
        self.closed = False
        self.close_code = None
        self._wlock = asyncio.Lock()
        self.last_rx = None  # ticks_ms of the last frame from the peer
        self.reading = False  # a task is inside recv(): only it may read the socket
        self._peer_closed = asyncio.Event()
        self._pong = None  # (Event, ping data) while ping_rtt() waits for its pong

    async def _send(self, op, data):
        if self.closed and op != _OP_CLOSE:
            raise WsClosed("closed")
        import os
        key = os.urandom(4)
        mv = memoryview(data)  # of a str: its UTF-8 bytes, so n counts bytes
        n = len(mv)
        async with self._wlock:  # frames of concurrent senders must not interleave
            w = self._w
            out = memoryview(self._out)
            h = header(op, n, key)
            hl = len(h)
            out[0:hl] = h
            i = 0
            started = False
            cancelled = None
            try:
                # Header and the first chunk in one write: a header written alone
                # would hold the payload back behind Nagle and delayed ACKs (~40 ms a
                # message). Then a chunk at a time: the message is never copied whole.
                while True:
                    m = min(_SEND_CHUNK, n - i)  # multiples of 4: the mask stays aligned
                    mask_into(out, hl, mv[i:i + m], key)
                    started = True
                    w.write(out[0:hl + m])
                    i += m
                    hl = 0
                    try:
                        await w.drain()
                    except asyncio.CancelledError as e:
                        # Finish the frame first: half a frame desynchronises the
                        # stream for every message after it.
                        cancelled = e
                    if i >= n:
                        break
            except Exception:
                # Out of memory or a socket error part-way: the frame cannot be
                # completed, so the connection must go (never a partial frame
                # followed by another one).
                if started:
                    self._abort()
                raise
            if cancelled:
                raise cancelled

    async def send(self, text):
        await self._send(_OP_TEXT, text)

    async def send_stream(self, pieces):
        """One text message made of `pieces` (an iterable of str, produced while the
        message goes out), sent as fragments of up to _SEND_CHUNK bytes (RFC 6455
        5.4): a big message (a report part) is never whole in RAM, only a piece and
        one fragment are. The pieces' text is staged unmasked after the room for the
        header in the chunk buffer, then masked in place."""
        if self.closed:
            raise WsClosed("closed")
        async with self._wlock:  # no other message may come between the fragments
            out = memoryview(self._out)
            st = [_OP_TEXT, 14, False, None]  # opcode, fill end, started, cancelled
            try:
                for p in pieces:
                    mv = memoryview(p)
                    i = 0
                    n = len(mv)
                    while i < n:
                        m = min(n - i, _SEND_CHUNK + 14 - st[1])
                        out[st[1]:st[1] + m] = mv[i:i + m]
                        st[1] += m
                        i += m
                        if st[1] == _SEND_CHUNK + 14:
                            await self._fragment(out, st, False)
                    mv = p = None
                await self._fragment(out, st, True)
            except Exception:
                if st[2]:  # half a message cannot be finished: the connection goes
                    self._abort()
                raise
            if st[3]:
                raise st[3]

    async def _fragment(self, out, st, fin):
        import os
        key = os.urandom(4)
        m = st[1] - 14
        h = header(st[0], m, key, fin)
        hl = len(h)
        out[14 - hl:14] = h
        mask_into(out, 14, out[14:14 + m], key)
        st[0] = _OP_CONT
        st[1] = 14
        st[2] = True
        self._w.write(out[14 - hl:14 + m])
        try:
            await self._w.drain()
        except asyncio.CancelledError as e:
            st[3] = e  # finish the message first, as _send finishes its frame

    async def ping(self, data=b""):
        await self._send(_OP_PING, data)

    async def ping_rtt(self, timeout_ms):
        """Round trip of one ping to its pong, in ms (the receive task sees the pong;
        nobody else reads the socket). Raises asyncio.TimeoutError."""
        import os
        import time
        ev = asyncio.Event()
        self._pong = (ev, os.urandom(4))
        try:
            t0 = time.ticks_ms()
            await self._send(_OP_PING, self._pong[1])
            await asyncio.wait_for_ms(ev.wait(), timeout_ms)
            return time.ticks_diff(time.ticks_ms(), t0)
        finally:
            self._pong = None

    async def recv(self):
        """The next message as a memoryview of the receive buffer (valid until the
        next recv; `binary` tells the kind); None once closed."""
        self.reading = True
        try:
            return await self._recv()
        finally:
            self.reading = False

    async def _recv(self):
        import time
        from ocpp import text
        fr = self._fr
        buf = memoryview(self._buf)
        size = -1  # bytes of the message being assembled; -1: none under way
        first_op = 0
        while True:
            try:
                fin, op, n = await fr.header()
                if op >= 8:
                    data = await fr.r.readexactly(n) if n else b""
                elif op == _OP_CONT and size < 0:
                    raise WsError("continuation without a start frame")
                elif op != _OP_CONT and size >= 0:
                    raise WsError("new message inside a fragmented one")
                else:
                    if size < 0:
                        size = 0
                        first_op = op
                    if size + n > self.max_size:
                        raise WsError("message over %d bytes" % self.max_size, 1009)
                    await fr.into(buf[size:size + n])
                    size += n
            except WsError as e:
                await self._fail(e.code)
                raise
            except EOFError:
                self._abort()
                return None
            self.last_rx = time.ticks_ms()
            if op == _OP_PING:
                await self._send(_OP_PONG, data)
                continue
            if op == _OP_PONG:
                # RFC 6455 5.5.3: a pong echoes the ping's data; others are unsolicited.
                if self._pong is not None and data == self._pong[1]:
                    self._pong[0].set()
                continue
            if op == _OP_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self._peer_closed.set()
                if not self.closed:  # the peer's close: answer it (ours needs no answer)
                    self.close_code = code
                    self.closed = True
                    try:
                        await self._send(_OP_CLOSE, data[:2])
                    except Exception:
                        pass
                self._abort()
                return None
            if not fin:
                continue
            self.binary = first_op == _OP_BIN
            try:
                ok = self.binary or text.valid(self._buf, size)
            except MemoryError:  # its small pieces did not fit: make room, once
                import gc
                gc.collect()
                ok = text.valid(self._buf, size)
            if not ok:
                await self._fail(1007)  # RFC 6455 8.1: fail the connection
                raise WsError("invalid UTF-8 in text message", 1007)
            return buf[:size]

    async def _fail(self, code):
        # Fail the connection (RFC 6455 7.1.7): send our close code, then drop TCP.
        if not self.closed:
            self.closed = True
            self.close_code = code
            try:
                await asyncio.wait_for_ms(self._send(_OP_CLOSE, code.to_bytes(2, "big")), 500)
                # Read what is still coming (briefly): closing a socket with unread
                # data makes the kernel send a reset, and the peer would lose our
                # close frame and its reason.
                await asyncio.wait_for_ms(self._discard(), 500)
            except Exception:
                pass
        self._abort()

    async def _discard(self):
        r = self._fr.r
        buf = memoryview(self._buf)[:256]
        while await r.readinto(buf):
            pass

    def _abort(self):
        self.closed = True
        from ocpp import tcp
        tcp.close(self._w)

    def close_now(self, code=1000, wait_ms=1000):
        """Close without an event loop (after Ctrl-C, when no task of the old loop can
        be trusted): our close frame out, then read until the peer closes, at most
        wait_ms. Not in the middle of a frame: that one could never be finished."""
        import os
        import select
        import time
        s = getattr(self._w, "s", None)
        if s is None or self.closed or self._wlock.locked():
            self._abort()
            return
        self.closed = True
        self.close_code = code
        p = select.poll()
        p.register(s, select.POLLIN | select.POLLOUT)
        out = frame(_OP_CLOSE, code.to_bytes(2, "big"), os.urandom(4))
        end = time.ticks_add(time.ticks_ms(), wait_ms)
        try:
            while time.ticks_diff(end, time.ticks_ms()) > 0:
                left = time.ticks_diff(end, time.ticks_ms())
                ev = p.poll(left)
                if not ev:
                    break
                if out and ev[0][1] & select.POLLOUT:
                    n = s.write(out)
                    out = out[n or 0:]
                    if not out:
                        p.modify(s, select.POLLIN)
                elif ev[0][1] & select.POLLIN:
                    if not s.read(256) and not out:  # EOF: the peer has closed
                        break
                elif ev[0][1] & (select.POLLHUP | select.POLLERR):
                    break
        except OSError:
            pass
        self._abort()

    async def close(self, code=1000, wait_ms=1000):
        """Close handshake: send our close frame, wait briefly for the peer's."""
        if self.closed:
            self._abort()
            return
        self.closed = True
        self.close_code = code
        try:
            await asyncio.wait_for_ms(self._send(_OP_CLOSE, code.to_bytes(2, "big")), wait_ms)
            # Wait for the peer's close frame, bounded by wait_ms. A socket has one
            # reader at a time: if recv() is running, it sees the frame for us.
            # It may already be in (the reader answers at once).
            if self._peer_closed.is_set():
                pass
            elif self.reading:
                await asyncio.wait_for_ms(self._peer_closed.wait(), wait_ms)
            else:
                await asyncio.wait_for_ms(self._drain_to_close(), wait_ms)
        except Exception:
            pass
        self._abort()

    async def _drain_to_close(self):
        fr = self._fr
        while True:
            fin, op, n = await fr.header()
            if op == _OP_CLOSE:
                return
            # Whatever else arrives is read and dropped.
            await fr.into(memoryview(self._buf)[:n])


async def _read_head(reader):
    """Read an HTTP response head, bounded in size."""
    lines = []
    total = 0
    while True:
        line = await reader.readline()
        if not line:
            raise WsError("connection closed during handshake")
        total += len(line)
        if total > _MAX_HEADER_BYTES:
            raise WsError("handshake response too large")
        line = line.rstrip(b"\r\n")
        if not line:
            return lines
        lines.append(line.decode())


async def connect(url, protocols, auth=None, ssl_ctx=None, max_size=16384, timeout_ms=10000,
                  buf=None):
    """Open a WebSocket. `protocols` is the ordered subprotocol offer; the server's
    choice is checked against it. `auth` is a (user, password) pair for HTTP Basic.
    `buf`: the receive buffer to use (see WebSocket)."""
    import binascii
    import os
    from ocpp import tcp
    tls, host, port, path = parse_url(url)
    if tls and ssl_ctx is None:
        raise ValueError("wss:// needs a CA certificate (caFile) to verify the CSMS")
    st = await tcp.open(host, port, ssl_ctx if tls else None, host, timeout_ms)
    try:
        key = binascii.b2a_base64(os.urandom(16))[:-1].decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
               % (path, host, port, key, ", ".join(protocols)))
        if auth:
            cred = binascii.b2a_base64(("%s:%s" % auth).encode())[:-1].decode()
            req += "Authorization: Basic %s\r\n" % cred
        st.write((req + "\r\n").encode())
        await asyncio.wait_for_ms(st.drain(), timeout_ms)
        head = await asyncio.wait_for_ms(_read_head(st), timeout_ms)
        status = head[0].split(" ", 2) if head else ()
        if len(status) < 2 or status[1] != "101":
            raise WsError("handshake refused: %s" % (head[0] if head else "no status line"))
        accept = proto = None
        for line in head[1:]:
            i = line.find(":")
            name = line[:i].strip().lower()
            if name == "sec-websocket-accept":
                accept = line[i + 1:].strip()
            elif name == "sec-websocket-protocol":
                proto = line[i + 1:].strip()
        if accept != accept_key(key):
            raise WsError("bad Sec-WebSocket-Accept")
        if proto not in protocols:
            raise WsError("server chose no offered subprotocol (%s)" % proto)
        return WebSocket(st, st, proto, max_size, buf)
    except BaseException:
        tcp.close(st)
        raise
