# WebSocket framing (RFC 6455), run inside MicroPython.
import asyncio

from unit import MemReader, MemWriter, raises, run

from ocpp.ws import FrameReader, WebSocket, WsError, accept_key, frame, mask_into, parse_url


def srv(op, payload, fin=True, rsv=0, masked=False, length=None):
    """A server frame (unmasked unless asked)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | op
    if n < 126:
        h = bytes((b0, n | (0x80 if masked else 0)))
    elif n < 65536:
        h = bytes((b0, 126 | (0x80 if masked else 0))) + n.to_bytes(2, "big")
    else:
        h = bytes((b0, 127 | (0x80 if masked else 0))) + n.to_bytes(8, "big")
    return h + (b"\0\0\0\0" if masked else b"") + payload


def ws_over(data, max_size=1 << 17):
    w = MemWriter()
    return WebSocket(MemReader(data), w, "ocpp2.1", max_size), w


def test_accept_key_rfc_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_parse_url():
    assert parse_url("ws://10.0.0.1:9000/ocpp") == (False, "10.0.0.1", 9000, "/ocpp")
    assert parse_url("wss://csms.example/a/b") == (True, "csms.example", 443, "/a/b")
    assert parse_url("ws://h") == (False, "h", 80, "/")
    assert parse_url("ws://[::1]:81/x") == (False, "::1", 81, "/x")
    raises(ValueError, parse_url, "http://h/")


def test_client_frames_are_masked_and_sized():
    key = b"\x01\x02\x03\x04"
    for n in (0, 5, 125, 126, 65535, 65536, 70000):
        data = bytes(i & 255 for i in range(n))
        f = frame(1, data, key)
        assert f[0] == 0x81 and f[1] & 0x80  # FIN + text, MASK bit
        ln = f[1] & 0x7F
        if n < 126:
            h = 2
            assert ln == n
        elif n < 65536:
            h = 4
            assert ln == 126 and int.from_bytes(f[2:4], "big") == n
        else:
            h = 10
            assert ln == 127 and int.from_bytes(f[2:10], "big") == n
        assert f[h:h + 4] == key
        back = bytearray(n)
        mask_into(back, 0, bytes(f[h + 4:]), key)
        assert bytes(back) == data


async def test_send_in_chunks_is_one_correct_frame():
    for n in (0, 5, 1023, 1024, 1025, 3000, 70001):
        ws, w = ws_over(b"", 1024)
        text = ("abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]
        await ws.send(text)
        out = bytes(w.out)
        ln = out[1] & 0x7F
        h = 2 if ln < 126 else (4 if ln == 126 else 10)
        size = ln if ln < 126 else int.from_bytes(out[2:h], "big")
        assert out[0] == 0x81 and out[1] & 0x80 and size == n and len(out) == h + 4 + n
        back = bytearray(n)
        mask_into(back, 0, out[h + 4:], out[h:h + 4])
        assert back.decode() == text


async def test_text_frames_of_each_length_form():
    for n in (3, 300, 70000):
        payload = b"a" * n
        ws, _ = ws_over(srv(1, payload))
        assert bytes(await ws.recv()) == payload and not ws.binary


async def test_fragments_with_ping_in_between():
    data = srv(1, b'[2,"1",', fin=False) + srv(9, b"hi") + srv(0, b'"Hb",', fin=False) + srv(0, b"{}]")
    ws, w = ws_over(data)
    assert bytes(await ws.recv()) == b'[2,"1","Hb",{}]'
    # The ping got a masked pong with the same payload.
    assert w.out[0] == 0x8A and w.out[1] == 0x82
    back = bytearray(2)
    mask_into(back, 0, bytes(w.out[6:8]), bytes(w.out[2:6]))
    assert back == b"hi"


async def test_binary_and_close():
    ws, w = ws_over(srv(2, b"\x00\x01") + srv(8, (1001).to_bytes(2, "big")))
    assert bytes(await ws.recv()) == b"\x00\x01" and ws.binary
    assert await ws.recv() is None
    assert ws.close_code == 1001 and ws.closed
    assert w.out[0] == 0x88  # our close reply


async def _expect(data, code, max_size=1 << 17):
    ws, w = ws_over(data, max_size)
    e = None
    try:
        await ws.recv()
    except WsError as x:
        e = x
    assert e is not None, "no error"
    assert e.code == code, (e.code, code)
    # We told the peer why (close frame with that code) and dropped the link.
    assert w.out[0] == 0x88 and w.closed
    key = bytes(w.out[2:6])
    back = bytearray(2)
    mask_into(back, 0, bytes(w.out[6:8]), key)
    assert int.from_bytes(back, "big") == code


async def test_protocol_errors():
    await _expect(srv(1, b"x", masked=True), 1002)          # masked server frame
    await _expect(srv(1, b"x", rsv=0x40), 1002)             # RSV1 without extension
    await _expect(srv(3, b"x"), 1002)                       # reserved data opcode
    await _expect(srv(11, b"x"), 1002)                      # reserved control opcode
    await _expect(srv(9, b"x" * 126), 1002)                 # control frame > 125
    await _expect(srv(9, b"x", fin=False), 1002)            # fragmented ping
    await _expect(srv(0, b"x"), 1002)                       # continuation first
    await _expect(srv(1, b"a", fin=False) + srv(1, b"b"), 1002)  # new message mid-way
    await _expect(srv(1, b"\xff\xfe"), 1007)                # invalid UTF-8
    # What MicroPython's own decoder lets through is refused too: overlong forms,
    # UTF-16 surrogates, code points above U+10FFFF, truncated sequences.
    for bad in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\xf5\x80\x80\x80", b"a\xc3", b"\xe2\x82"):
        await _expect(srv(1, b'["' + bad + b'"]'), 1007)
    # ... also split across fragments.
    await _expect(srv(1, b"\xe2\x82", fin=False) + srv(0, b"(\xa1"), 1007)


async def test_oversize_refused_before_reading_payload():
    # Only the header is there: a reader that tried to read the payload would hit
    # EOF instead of the 1009 refusal.
    await _expect(srv(1, b"", length=1 << 40)[:10], 1009, max_size=4096)
    await _expect(srv(1, b"", length=5000)[:4], 1009, max_size=4096)
    # Fragments adding up over the limit.
    await _expect(srv(1, b"a" * 3000, fin=False) + srv(0, b"b" * 3000), 1009, max_size=4096)


async def test_valid_utf8_across_fragments_and_chunks():
    # Multi-byte characters straddling fragment and 256-byte validation chunks.
    text = ("Caf\u00e9 \u20ac \U0001F600 " * 200).encode()
    data = srv(1, text[:101], fin=False) + srv(0, text[101:3001], fin=False) + srv(0, text[3001:])
    ws, _ = ws_over(data)
    assert bytes(await ws.recv()) == text


async def test_non_ascii_length_counts_bytes():
    # A str's frame length is its UTF-8 byte count, not its character count.
    for text in ("Caf\u00e9", "\u00e9" * 700, "\U0001F600" * 300):
        ws, w = ws_over(b"", 1024)
        await ws.send(text)
        out = bytes(w.out)
        ln = out[1] & 0x7F
        h = 2 if ln < 126 else 4
        size = ln if ln < 126 else int.from_bytes(out[2:4], "big")
        raw = text.encode()
        assert size == len(raw) and len(out) == h + 4 + size
        back = bytearray(size)
        mask_into(back, 0, out[h + 4:], out[h:h + 4])
        assert bytes(back) == raw


class _SlowWriter(MemWriter):
    """Each drain takes a while, so a task can be cancelled in mid-frame."""

    async def drain(self):
        await asyncio.sleep_ms(5)


async def _cancelled_send(send, what):
    """What a slow writer got from send(ws, what), cancelled after 7 ms."""
    w = _SlowWriter()
    ws = WebSocket(MemReader(b""), w, "ocpp2.1", 4096)
    t = asyncio.create_task(send(ws, what))
    await asyncio.sleep_ms(7)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        pass
    return w


async def test_cancel_in_mid_frame_still_completes_the_frame():
    w = await _cancelled_send(WebSocket.send, "x" * 5000)
    out = bytes(w.out)
    assert int.from_bytes(out[2:4], "big") == 5000 and len(out) == 4 + 4 + 5000
    assert not w.closed


class _FailingWriter(MemWriter):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, b):
        self.writes += 1
        if self.writes == 2:
            raise MemoryError()
        super().write(b)


async def test_error_in_mid_frame_drops_the_connection():
    w = _FailingWriter()
    ws = WebSocket(MemReader(b""), w, "ocpp2.1", 4096)
    raises(MemoryError, ws.send, "x" * 3000)
    assert w.closed and ws.closed  # nothing else may follow half a frame


async def test_eof_is_a_lost_connection():
    ws, _ = ws_over(b"\x81")
    assert await ws.recv() is None




def client_frames(out):
    """The client frames in `out`, unmasked: [(fin, opcode, payload)]."""
    frames = []
    i = 0
    while i < len(out):
        fin, op, ln = out[i] >> 7, out[i] & 15, out[i + 1] & 0x7F
        assert out[i + 1] & 0x80  # masked
        h = 2 if ln < 126 else (4 if ln == 126 else 10)
        if ln >= 126:
            ln = int.from_bytes(out[i + 2:i + h], "big")
        key = out[i + h:i + h + 4]
        p = bytearray(ln)
        mask_into(p, 0, out[i + h + 4:i + h + 4 + ln], key)
        frames.append((fin, op, bytes(p)))
        i += h + 4 + ln
    return frames


async def test_stream_is_one_message_in_fragments():
    # Pieces of every size, non-ASCII ones cut across fragment boundaries: the
    # fragments join to exactly the text, text opcode first, continuations after,
    # FIN on the last only (RFC 6455 5.4).
    for sizes in ((), (0,), (5,), (1024,), (1023, 1, 1), (3000, 7, 2049), (1, 1, 1, 5000)):
        ws, w = ws_over(b"")
        pieces = [("\u00e9t\u00e9-\u20ac" * (n // 3 + 1))[:n] for n in sizes]
        await ws.send_stream(iter(pieces))
        frames = client_frames(bytes(w.out))
        assert frames[0][1] == 1 and all(f[1] == 0 for f in frames[1:])
        assert [f[0] for f in frames] == [0] * (len(frames) - 1) + [1]
        assert all(len(f[2]) <= 1024 for f in frames)
        assert b"".join(f[2] for f in frames).decode() == "".join(pieces)
        assert not ws.closed


async def test_stream_cancelled_in_mid_message_still_completes_it():
    w = await _cancelled_send(WebSocket.send_stream, iter(["y" * 700] * 6))
    frames = client_frames(bytes(w.out))
    assert b"".join(f[2] for f in frames) == b"y" * 4200 and frames[-1][0] == 1
    assert not w.closed


def _failing_pieces(after):
    yield "z" * after
    raise MemoryError()


async def test_stream_error_drops_the_connection_once_a_fragment_left():
    ws, w = ws_over(b"")
    raises(MemoryError, ws.send_stream, _failing_pieces(3000))
    assert ws.closed and w.closed  # half a message can never be finished
    ws, w = ws_over(b"")
    raises(MemoryError, ws.send_stream, _failing_pieces(10))
    assert not ws.closed and not w.out  # nothing left yet: the connection stays


run(globals())
