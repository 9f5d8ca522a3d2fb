# Text at the wire boundary: OCPP-J is UTF-8 JSON, and what MicroPython's decoder and
# json module let through must not reach the rest of the agent.
# - valid(): strict UTF-8. MicroPython checks the structure of multi-byte sequences
#   but accepts overlong forms, UTF-16 surrogates (ED A0 80) and code points above
#   U+10FFFF; RFC 6455 8.1 says fail the connection on any of them (1007).
# - fix_surrogates(): JSON lets a string escape UTF-16 halves ("\ud83d\ude00").
#   MicroPython's json turns each half into a 3-byte sequence that is not UTF-8, and
#   would echo it raw. A pair is rewritten as the real character, a lone half as
#   U+FFFD (as the WHATWG decoder and Go's encoding/json do), in the buffer itself.
from micropython import const

_CHUNK = const(256)


def valid(buf, n):
    """True when buf[:n] is strict UTF-8. Works in small chunks: no copy of the
    message is made."""
    mv = memoryview(buf)
    i = 0
    while i < n:
        j = i + _CHUNK
        if j < n:
            # Never split a sequence: end the chunk before the next lead byte.
            k = j
            while k > i and (buf[k] & 0xC0) == 0x80:
                k -= 1
            if k > i:
                j = k
        else:
            j = n
        try:
            str(mv[i:j], "utf-8")
        except UnicodeError:
            return False
        i = j
    # Lead bytes never valid anywhere: C0/C1 (overlong) and F5..F7 (> U+10FFFF).
    for b in (b"\xc0", b"\xc1", b"\xf5", b"\xf6", b"\xf7"):
        if buf.find(b, 0, n) >= 0:
            return False
    # Lead bytes whose second byte is restricted (RFC 3629 section 4). These bytes
    # never occur as continuation bytes, so every hit is a lead byte.
    for lead, lo, hi in ((b"\xe0", 0xA0, 0xBF), (b"\xed", 0x80, 0x9F),
                         (b"\xf0", 0x90, 0xBF), (b"\xf4", 0x80, 0x8F)):
        k = buf.find(lead, 0, n)
        while k >= 0:
            if k + 1 >= n or not lo <= buf[k + 1] <= hi:
                return False
            k = buf.find(lead, k + 1, n)
    return True


def _escape_at(buf, k, n):
    """The surrogate code unit escaped at buf[k] ("\\uDxxx"), or 0."""
    if k + 6 > n or buf[k] != 0x5C or buf[k + 1] != 0x75:
        return 0
    c = 0
    while k - 1 - c >= 0 and buf[k - 1 - c] == 0x5C:
        c += 1
    if c & 1:  # "\\ud800" is an escaped backslash followed by text
        return 0
    try:
        u = int(bytes(buf[k + 2:k + 6]), 16)
    except ValueError:
        return 0
    return u if 0xD800 <= u <= 0xDFFF else 0


def fix_surrogates(buf, n):
    """Rewrite escaped UTF-16 surrogates in the JSON text buf[:n] (a bytearray) in
    place; -> the new length. Costs two searches when there are none."""
    k = buf.find(b"\\ud", 0, n)
    k2 = buf.find(b"\\uD", 0, n)
    if k < 0 or (0 <= k2 < k):
        k = k2
    if k < 0:
        return n
    mv = memoryview(buf)
    while 0 <= k < n:
        u = _escape_at(buf, k, n)
        if not u:
            k += 1
        elif u < 0xDC00 and 0xDC00 <= _escape_at(buf, k + 6, n) <= 0xDFFF:
            lo = _escape_at(buf, k + 6, n)
            ch = chr(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)).encode()
            mv[k:k + 4] = ch
            mv[k + 4:n - 8] = mv[k + 12:n]  # overlapping move, no copy
            n -= 8
            k += 4
        else:
            mv[k:k + 6] = b"\\ufffd"
            k += 6
        k = buf.find(b"\\u", k, n)
    return n
