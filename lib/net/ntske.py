# NTS Key Establishment records (RFC 8915 section 4): the request a client sends
# and the reading of the server's response: next protocol, AEAD algorithm,
# cookies, NTP server and port, errors and warnings. Only used where the TLS
# module can do TLS 1.3 with ALPN "ntske/1" (diag/tests/nts.py asks at run time).
from micropython import const

_END = const(0)
_NEXT_PROTO = const(1)
_ERROR = const(2)
_WARNING = const(3)
_AEAD = const(4)
_COOKIE = const(5)
_SERVER = const(6)
_PORT = const(7)
_CRITICAL = const(0x8000)
NTPV4 = const(0)
AES_SIV_CMAC_256 = const(15)

# Next Protocol NTPv4, AEAD AES-SIV-CMAC-256, End of Message; all critical.
REQUEST = b"\x80\x01\x00\x02\x00\x00\x80\x04\x00\x02\x00\x0f\x80\x00\x00\x00"


class KeError(ValueError):
    pass


class KeResponse:
    def __init__(self):
        self.protocols = []  # next protocols the server accepted (0 = NTPv4)
        self.aead = []  # AEAD algorithm ids (15 = AES-SIV-CMAC-256)
        self.cookies = []  # opaque cookies for NTS-protected NTP requests
        self.server = None  # NTP server to use, when not the NTS-KE host
        self.port = None  # NTP port, when not 123
        self.error = None
        self.warning = None

    def problem(self):
        """What makes this response unusable for NTPv4 with AES-SIV, or None."""
        if self.error is not None:
            return "server error %d" % self.error
        if NTPV4 not in self.protocols:
            return "NTPv4 not accepted as next protocol"
        if AES_SIV_CMAC_256 not in self.aead:
            return "no AEAD algorithm in common"
        if not self.cookies:
            return "no cookies"
        return None


def _u16s(body):
    return [int.from_bytes(body[i:i + 2], "big") for i in range(0, len(body) - 1, 2)]


def parse(data):
    """The server's records, up to End of Message -> KeResponse. Raises KeError
    on a record cut short, a missing End of Message or an unknown critical record."""
    r = KeResponse()
    i = 0
    n = len(data)
    while True:
        if i + 4 > n:
            raise KeError("response ends before End of Message")
        head = int.from_bytes(data[i:i + 2], "big")
        ln = int.from_bytes(data[i + 2:i + 4], "big")
        body = data[i + 4:i + 4 + ln]
        if len(body) != ln:
            raise KeError("record cut short")
        i += 4 + ln
        t = head & 0x7FFF
        if t == _END:
            return r
        if t == _NEXT_PROTO:
            r.protocols = _u16s(body)
        elif t == _ERROR:
            r.error = _u16s(body)[0] if ln >= 2 else -1
        elif t == _WARNING:
            r.warning = _u16s(body)[0] if ln >= 2 else -1
        elif t == _AEAD:
            r.aead = _u16s(body)
        elif t == _COOKIE:
            r.cookies.append(bytes(body))
        elif t == _SERVER:
            r.server = bytes(body).decode()
        elif t == _PORT:
            r.port = _u16s(body)[0] if ln >= 2 else None
        elif head & _CRITICAL:
            raise KeError("unknown critical record type %d" % t)


def record_len(head4):
    """Bytes of body that follow a 4-byte record header (for stream reading)."""
    return int.from_bytes(head4[2:4], "big")


def is_end(head4):
    return int.from_bytes(head4[0:2], "big") & 0x7FFF == _END
