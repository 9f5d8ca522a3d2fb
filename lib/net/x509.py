# Just enough X.509 (RFC 5280) DER reading to judge a trust anchor: validity
# (notBefore / notAfter), basicConstraints cA, keyUsage keyCertSign and the
# subject's common name. No signature checking: that is the TLS module's job.
from micropython import const

_SEQ = const(0x30)
_UTCTIME = const(0x17)
_GENTIME = const(0x18)
_OID_CN = b"\x55\x04\x03"
_OID_BC = b"\x55\x1d\x13"
_OID_KU = b"\x55\x1d\x0f"


class X509Error(ValueError):
    pass


def _tlv(b, i, end):
    """-> (tag, start of value, end of value) of the element at i."""
    if i + 2 > end:
        raise X509Error("truncated DER")
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4 or i + k > end:
            raise X509Error("bad DER length")
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    if i + n > end:
        raise X509Error("DER element runs past its parent")
    return tag, i, i + n


def _children(b, start, end):
    i = start
    while i < end:
        t, s, e = _tlv(b, i, end)
        yield t, s, e
        i = e


def days_from_civil(y, m, d):
    # Days since 1970-01-01 (H. Hinnant's algorithm): independent of the port's
    # time epoch and of mktime's range (a notAfter of 9999 is common).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _time(b, tag, s, e):
    t = bytes(b[s:e]).decode()
    if tag == _UTCTIME:  # YYMMDDHHMMSSZ; RFC 5280 4.1.2.5.1: 50..99 are 19xx
        yy = int(t[0:2])
        t = ("19" if yy >= 50 else "20") + t
    elif tag != _GENTIME:
        raise X509Error("validity is not a time")
    y, mo, d = int(t[0:4]), int(t[4:6]), int(t[6:8])
    h, mi, se = int(t[8:10]), int(t[10:12]), int(t[12:14])
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se


class Cert:
    def __init__(self):
        self.not_before = 0  # seconds since 1970-01-01 UTC
        self.not_after = 0
        self.ca = False  # basicConstraints cA
        self.has_bc = False
        self.key_usage = None  # None: no keyUsage extension (any use allowed)
        self.cn = ""

    def cert_sign(self):
        # keyUsage bit 5 keyCertSign: 0x04 in the first octet of the bit string.
        return self.key_usage is None or bool(self.key_usage[0] & 0x04 if self.key_usage else 0)


def _cn(b, s, e):
    for _, rs, re in _children(b, s, e):  # RDN sets
        for _, as_, ae in _children(b, rs, re):  # AttributeTypeAndValue
            kids = list(_children(b, as_, ae))
            if len(kids) == 2 and b[kids[0][1]:kids[0][2]] == _OID_CN:
                try:
                    return bytes(b[kids[1][1]:kids[1][2]]).decode()
                except UnicodeError:
                    return "?"
    return ""


def _extensions(b, s, e, c):
    _, s, e = _tlv(b, s, e)  # [3] EXPLICIT holds SEQUENCE OF Extension
    for _, xs, xe in _children(b, s, e):
        kids = list(_children(b, xs, xe))
        oid = bytes(b[kids[0][1]:kids[0][2]])
        _, vs, ve = kids[-1]  # extnValue OCTET STRING (after the optional critical)
        if oid == _OID_BC:
            c.has_bc = True
            _, ss, se = _tlv(b, vs, ve)
            for t, bs, be in _children(b, ss, se):
                if t == 0x01:  # BOOLEAN cA
                    c.ca = b[bs] != 0
        elif oid == _OID_KU:
            _, bs, be = _tlv(b, vs, ve)  # BIT STRING: unused-bits octet, then bits
            c.key_usage = bytes(b[bs + 1:be]) or b"\x00"


def parse(der):
    """DER certificate -> Cert. Raises X509Error on anything it cannot read."""
    b = memoryview(der)
    try:
        t, s, e = _tlv(b, 0, len(b))
        if t != _SEQ:
            raise X509Error("not a DER certificate")
        t, s, e = _tlv(b, s, e)  # tbsCertificate
        fields = list(_children(b, s, e))
        k = 1 if fields[0][0] == 0xA0 else 0  # optional [0] version
        # serial, signature, issuer, validity, subject, spki, then [1] [2] [3]
        c = Cert()
        _, vs, ve = fields[k + 3]
        times = list(_children(b, vs, ve))
        c.not_before = _time(b, *times[0])
        c.not_after = _time(b, *times[1])
        c.cn = _cn(b, fields[k + 4][1], fields[k + 4][2])
        for t, fs, fe in fields[k + 6:]:
            if t == 0xA3:
                _extensions(b, fs, fe, c)
        return c
    except (IndexError, ValueError) as ex:
        if isinstance(ex, X509Error):
            raise
        raise X509Error("malformed certificate (%s)" % ex)


def now_s():
    """The station clock in seconds since 1970-01-01 UTC."""
    import clock
    import time
    g = time.gmtime(int(clock.now()))
    return days_from_civil(g[0], g[1], g[2]) * 86400 + g[3] * 3600 + g[4] * 60 + g[5]
