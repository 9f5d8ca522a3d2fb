"""A hostile CSMS for robustness tests: a WebSocket server written on raw asyncio
streams, so that a test can send anything at all (invalid UTF-8, fragments, binary
frames, ping floods, CALLRESULTs of any shape) and see every byte the agent sends.

It checks each frame the agent sends as a strict peer would (masked, valid UTF-8,
valid JSON, an OCPP-J array) and records a problem for each one that is not; the
schema check of the content is the test's business (fuzz_oracle.py).

Runs on its own event loop in a thread; the test drives it with blocking calls.
"""
import asyncio
import base64
import hashlib
import json
import os
import queue
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, payload, fin=True, rsv=0):
    """A server frame (unmasked, RFC 6455 5.1)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | op
    if n < 126:
        h = bytes((b0, n))
    elif n < 65536:
        h = bytes((b0, 126)) + n.to_bytes(2, "big")
    else:
        h = bytes((b0, 127)) + n.to_bytes(8, "big")
    return h + payload


class Conn:
    def __init__(self, reader, writer, path):
        self.r, self.w, self.path = reader, writer, path
        self.inbox = queue.Queue()  # (kind, data) from the agent: ("text", str) / ("close", code)
        self.closed = False
        self.close_code = None


class WsPeer:
    """answer(conn, msg) -> reply text, None (no reply) for each CALL the agent sends;
    by default every CALL gets `default_reply(action)`."""

    def __init__(self, default_reply=None):
        self.default_reply = default_reply or (lambda action: {})
        self.answer = None  # optional override: fn(action, msg) -> str | None | ...
        self.problems = []  # frames a strict peer would refuse
        self.sent_by_agent = []  # every decoded message (list) the agent sent
        self.conns = []
        self.connected = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = None

    # -- life cycle --
    def start(self):
        self._thread.start()
        self.port = self._run(self._start(), 10)
        return self

    async def _start(self):
        self._srv = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self._srv.sockets[0].getsockname()[1]

    def stop(self):
        async def _stop():
            self._srv.close()
            for c in self.conns:
                c.w.close()
        self._run(_stop(), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def url(self):
        return "ws://127.0.0.1:%d" % self.port

    @property
    def conn(self):
        return self.conns[-1]

    # -- the handshake and the read loop --
    async def _client(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except Exception:
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        hdr = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdr[k.strip().lower()] = v.strip()
        key = hdr.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ocpp2.1\r\n\r\n" % accept).encode())
        await writer.drain()
        c = Conn(reader, writer, lines[0].split(" ")[1])
        self.conns.append(c)
        self.connected.set()
        try:
            await self._read(c)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            c.closed = True
            c.inbox.put(("close", c.close_code))
            writer.close()

    async def _read(self, c):
        parts, first = [], None
        while True:
            b0, b1 = await c.r.readexactly(2)
            op, n = b0 & 15, b1 & 127
            if not b1 & 0x80:
                self.problems.append("unmasked client frame")
            if n == 126:
                n = int.from_bytes(await c.r.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await c.r.readexactly(8), "big")
            key = await c.r.readexactly(4)
            data = bytearray(await c.r.readexactly(n))
            for i in range(n):
                data[i] ^= key[i & 3]
            if op == 8:
                c.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                try:
                    c.w.write(frame(8, bytes(data[:2])))
                    await c.w.drain()
                except ConnectionError:
                    pass
                return
            if op in (9, 10):
                if op == 9:
                    c.w.write(frame(10, bytes(data)))
                continue
            if op != 0:
                first, parts = op, []
            parts.append(bytes(data))
            if not b0 & 0x80:
                continue
            raw = b"".join(parts)
            if first != 1:
                self.problems.append("non-text message from the agent")
                continue
            self._on_text(c, raw)

    def _on_text(self, c, raw):
        try:
            text = raw.decode("utf-8")  # strict: surrogates and overlong forms fail
        except UnicodeDecodeError as e:
            self.problems.append("invalid UTF-8 (%s): %r" % (e, raw[:200]))
            return
        try:
            msg = json.loads(text, parse_constant=_no_constants)
        except ValueError as e:
            self.problems.append("invalid JSON (%s): %r" % (e, text[:200]))
            return
        if not isinstance(msg, list) or len(msg) < 3 or msg[0] not in (2, 3, 4, 5, 6):
            self.problems.append("not an OCPP-J message: %r" % (text[:200],))
            return
        self.sent_by_agent.append(msg)
        c.inbox.put(("text", msg))
        if msg[0] == 2:
            reply = self.answer(msg[2], msg) if self.answer else None
            if reply is None:
                reply = json.dumps([3, msg[1], self.default_reply(msg[2])])
            if reply is not False:  # False: no answer at all
                self._send_now(c, reply)

    def _send_now(self, c, text_or_frames):
        data = text_or_frames
        if isinstance(data, str):
            data = frame(1, data.encode("utf-8", "surrogatepass"))
        try:
            c.w.write(data)
        except Exception:
            pass

    # -- blocking API for tests --
    def send(self, data, conn=None):
        """Send a str (one text frame) or raw frame bytes."""
        c = conn or self.conn

        async def _send():
            self._send_now(c, data)
            await c.w.drain()
        self._run(_send(), 5)

    def next_message(self, timeout=5, conn=None, pred=None):
        """The next message the agent sends on `conn` (a list), or ("close", code)."""
        c = conn or self.conn
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                kind, data = c.inbox.get(timeout=left)
            except queue.Empty:
                return None
            if kind == "close":
                c.inbox.put((kind, data))  # stays visible
                return ("close", data)
            if pred is None or pred(data):
                return data

    def reply_to(self, msg_id, timeout=5, conn=None):
        """The agent's CALLRESULT/CALLERROR for our CALL msg_id, or None."""
        return self.next_message(timeout, conn, lambda m: m[0] in (3, 4) and m[1] == msg_id)

    def drain(self, conn=None):
        c = conn or self.conn
        while True:
            try:
                c.inbox.get_nowait()
            except queue.Empty:
                return


def _no_constants(name):
    raise ValueError("%s is not JSON" % name)



def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(pid, looks=20):
    """Descriptors the process holds for good: the fewest of several looks over
    ~0.5 s, so a journal or state file open for a moment does not count (a leak
    still shows: it is open in every look)."""
    import time
    out = open_fds(pid)
    for _ in range(looks - 1):
        time.sleep(0.025)
        out = min(out, open_fds(pid))
    return out
