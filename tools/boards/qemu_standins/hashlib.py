# Stand-in for the qemu port only: its `hashlib` has sha256 but no sha1, which the
# WebSocket handshake (Sec-WebSocket-Accept) uses. A plain FIPS 180-4 SHA-1.
from uhashlib import *  # noqa: F401,F403
import struct


class sha1:
    def __init__(self, data=b""):
        self._h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        self._buf = b""
        self._n = 0
        self.update(data)

    def update(self, data):
        self._buf += data.encode() if isinstance(data, str) else bytes(data)
        self._n += len(data)
        while len(self._buf) >= 64:
            self._block(self._buf[:64])
            self._buf = self._buf[64:]

    def _block(self, b):
        w = list(struct.unpack(">16I", b))
        for i in range(16, 80):
            x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w.append(((x << 1) | (x >> 31)) & 0xFFFFFFFF)
        a, b_, c, d, e = self._h
        for i in range(80):
            if i < 20:
                f, k = (b_ & c) | (~b_ & d), 0x5A827999
            elif i < 40:
                f, k = b_ ^ c ^ d, 0x6ED9EBA1
            elif i < 60:
                f, k = (b_ & c) | (b_ & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b_ ^ c ^ d, 0xCA62C1D6
            t = (((a << 5) | (a >> 27)) + (f & 0xFFFFFFFF) + e + k + w[i]) & 0xFFFFFFFF
            a, b_, c, d, e = t, a, ((b_ << 30) | (b_ >> 2)) & 0xFFFFFFFF, c, d
        self._h = [(x + y) & 0xFFFFFFFF for x, y in zip(self._h, (a, b_, c, d, e))]

    def digest(self):
        n = self._n
        pad = b"\x80" + b"\x00" * ((55 - n) % 64) + struct.pack(">Q", n * 8)
        h = sha1()
        h._h, h._buf, h._n = list(self._h), self._buf, n
        h.update(pad)
        return struct.pack(">5I", *h._h)
